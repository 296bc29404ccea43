#!/usr/bin/env bash
# The main job: prune the default model with Wanda and M-Wanda at 50% and show
# what each language lost.
#
#   scripts/demo.sh [OUT_DIR]          (default: demo-out)
#
# 1. scripts/setup.sh --models: Debian packages, Python venv, default models.
# 2. Builds mwanda in build/release.
# 3. mwanda calibrate gemma3-270m on the shipped corpus (data/corpus/calib),
#    8 calibration languages, 8 windows of 256 tokens each.
# 4. mwanda prune --method wanda and --method mwanda, 50% unstructured, from
#    those statistics (one pass over the weights; `mwanda prune --text ...`
#    runs Wanda's sequential procedure instead, at about 2-3 times the cost).
# 5. mwanda eval of the dense and both pruned models on the held-out test
#    split (data/corpus/test): the 8 calibration languages and 4 languages
#    never calibrated on, 2 windows of 256 tokens each.
#    With MWANDA_DEMO_TASK_ITEMS=N (default 0: off, to keep the demo within
#    15 minutes on 2 cores), also the shipped multiple-choice tasks
#    (data/tasks/test.jsonl: continuation and translation), the first N
#    items of each task and language.
# 6. mwanda report: OUT_DIR/report/report.md with SVG charts; the table is
#    printed at the end.
# Environment: MWANDA_DEMO_CALIB, MWANDA_DEMO_UNSEEN (comma lists),
# MWANDA_DEMO_SAMPLES, MWANDA_DEMO_EVAL_WINDOWS, MWANDA_DEMO_TASK_ITEMS (0:
# no tasks), MWANDA_DEMO_MODEL, MWANDA_JOBS. Pruned models are written as
# F16 GGUF files in OUT_DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'demo: %s\n' "$*" >&2; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

out="${1:-demo-out}"
model="${MWANDA_DEMO_MODEL:-gemma3-270m}"
calib_langs="${MWANDA_DEMO_CALIB:-ar,de,es,fr,hi,ja,ru,zh}"
unseen_langs="${MWANDA_DEMO_UNSEEN:-he,sw,ta,uk}"
samples="${MWANDA_DEMO_SAMPLES:-8}"
eval_windows="${MWANDA_DEMO_EVAL_WINDOWS:-2}"
task_items="${MWANDA_DEMO_TASK_ITEMS:-0}"
start=$SECONDS

env_lines="$(scripts/setup.sh --models)" || die "set-up failed"
eval "$env_lines"   # MWANDA_CACHE, MWANDA_PYTHON, MWANDA_MODELS
export MWANDA_CACHE MWANDA_MODELS

mkdir -p build
log=build/release-build.log
say "building mwanda in build/release (log: $log)"
if ! { cmake -S . -B build/release -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release \
         -DMW_PYTHON="$MWANDA_PYTHON" &&
       cmake --build build/release -j"${MWANDA_JOBS:-2}" --target mwanda-cli; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  die "the build failed (see $log)"
fi
mw=build/release/mwanda
# OpenMP threads that spin while waiting slow everything down on a shared machine
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

mkdir -p "$out"
step() { say "[$(( (SECONDS - start) / 60 ))m$(( (SECONDS - start) % 60 ))s] $*"; }

step "calibrating $model on $calib_langs ($samples windows of 256 tokens each)"
"$mw" calibrate "$model" --langs "$calib_langs" --samples "$samples" --ctx 256 \
  -o "$out/stats.gguf" >/dev/null

unseen_json="[\"${unseen_langs//,/\",\"}\"]"
for method in wanda mwanda; do
  run="$out/$method-50"
  mkdir -p "$run"
  step "pruning with $method at 50%"
  "$mw" prune "$model" --method "$method" --sparsity 0.5 --stats "$out/stats.gguf" \
    --type f16 -o "$run/model.gguf" --json "$run/prune.json" >/dev/null
  printf '{"name": "%s 50%%", "unseen": %s}\n' "$method" "$unseen_json" >"$run/run.json"
done
mkdir -p "$out/dense"
printf '{"name": "dense", "unseen": %s}\n' "$unseen_json" >"$out/dense/run.json"

for run in dense wanda-50 mwanda-50; do
  m="$model"
  [[ $run == dense ]] || m="$out/$run/model.gguf"
  step "evaluating $run on the test split ($eval_windows windows of 256 per language)"
  "$mw" eval "$m" --text data/corpus/test --langs "$calib_langs,$unseen_langs" --ctx 256 \
    --max-windows "$eval_windows" --json "$out/$run/eval.json" >/dev/null
  if ((task_items > 0)); then
    step "tasks on $run ($task_items items per task and language)"
    "$mw" eval "$m" --tasks data/tasks/test.jsonl --langs "$calib_langs,$unseen_langs" \
      --limit "$task_items" --json "$out/$run/tasks.json" >/dev/null
  fi
done

step "writing the report"
"$mw" report "$out/dense" "$out/wanda-50" "$out/mwanda-50" -o "$out/report" >/dev/null
step "done: $out/report/report.md"
cat "$out/report/report.md"
