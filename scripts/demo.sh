#!/usr/bin/env bash
# The main job: prune the default model with Wanda and M-Wanda at 50% and show
# what each language lost.
#
#   scripts/demo.sh [OUT_DIR]          (default: demo-out)
#
# 1. scripts/setup.sh --models: Debian packages, Python venv, default models.
# 2. Builds mwanda in build/release.
# 3.-6. scripts/compare_methods.sh with the demo's choices:
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
# F16 GGUF files in OUT_DIR. Run again with the same settings and build, it
# reuses the results it finds in OUT_DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'demo: %s\n' "$*" >&2; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

out="${1:-demo-out}"
calib_langs="${MWANDA_DEMO_CALIB:-ar,de,es,fr,hi,ja,ru,zh}"
unseen_langs="${MWANDA_DEMO_UNSEEN:-he,sw,ta,uk}"

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
# The rest is the comparison script with the demo's choices.
export MWANDA_CMP_MODEL="${MWANDA_DEMO_MODEL:-gemma3-270m}"
export MWANDA_CMP_METHODS=wanda,mwanda
export MWANDA_CMP_CALIB="$calib_langs"
export MWANDA_CMP_SAMPLES="${MWANDA_DEMO_SAMPLES:-8}"
export MWANDA_CMP_LANGS="$calib_langs,$unseen_langs"
export MWANDA_CMP_EVAL_WINDOWS="${MWANDA_DEMO_EVAL_WINDOWS:-2}"
export MWANDA_CMP_TASK_ITEMS="${MWANDA_DEMO_TASK_ITEMS:-0}"
export MWANDA_CMP_KEEP_MODELS=1
scripts/compare_methods.sh "$out" 0.5
say "done in $((SECONDS / 60))m$((SECONDS % 60))s: $out/report/report.md"
cat "$out/report/report.md"
