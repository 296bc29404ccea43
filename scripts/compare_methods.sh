#!/usr/bin/env bash
# The comparison on the test split (issue 6, docs/ablation.md): magnitude,
# Wanda, OWL and M-Wanda with its defaults at one sparsity (or N:M pattern),
# every corpus language, calibration and held-out languages reported apart.
#
#   scripts/compare_methods.sh OUT_DIR [SETTING]      SETTING: 0.5 (default), 0.6, 2:4 ...
#
# Environment: MWANDA_CMP_MODEL (gemma3-270m), MWANDA_CMP_STATS (a statistics
# file to reuse; else the dense model is calibrated on every calibration
# language, 8 windows of 256 each, as scripts/ablation.py does),
# MWANDA_CMP_EVAL_WINDOWS (2 windows of 256 tokens per language),
# MWANDA_CMP_TASK_ITEMS (3 items per task and language; 0: no tasks),
# MWANDA_CMP_METHODS (magnitude,wanda,owl,mwanda). Expects a release build in
# build/release (scripts/demo.sh or scripts/test.sh make one). Progress on
# stderr; OUT_DIR/report/report.md at the end. A run folder that already has
# its results is not run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'compare: %s\n' "$*" >&2; }
die() { printf 'compare: error: %s\n' "$*" >&2; exit 1; }

(($# >= 1)) || die "usage: scripts/compare_methods.sh OUT_DIR [SETTING]"
out="$1"
setting="${2:-0.5}"
model="${MWANDA_CMP_MODEL:-gemma3-270m}"
eval_windows="${MWANDA_CMP_EVAL_WINDOWS:-2}"
task_items="${MWANDA_CMP_TASK_ITEMS:-3}"
methods="${MWANDA_CMP_METHODS:-magnitude,wanda,owl,mwanda}"
mw=build/release/mwanda
[[ -x $mw ]] || die "no $mw: build it first (scripts/demo.sh builds it)"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
start=$SECONDS
step() { say "[$(((SECONDS - start) / 60))m$(((SECONDS - start) % 60))s] $*"; }

if [[ $setting == *:* ]]; then
  shape=(--pattern "$setting")
  tag="${setting/:/-}"
else
  shape=(--sparsity "$setting")
  tag="$(awk -v s="$setting" 'BEGIN { printf "%d", s * 100 + 0.5 }')"
fi

unseen="$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["unseen"]))' \
  data/corpus/manifest.json)"
mkdir -p "$out"
stats="${MWANDA_CMP_STATS:-$out/stats.gguf}"
if [[ ! -f $stats ]]; then
  step "calibrating $model on every calibration language (8 windows of 256 each)"
  "$mw" calibrate "$model" --samples 8 --ctx 256 -o "$stats" >/dev/null
fi

evaluate() { # MODEL RUN_DIR
  if [[ ! -f $2/eval.json ]]; then
    step "$(basename "$2"): perplexity on test/ ($eval_windows windows of 256 per language)"
    "$mw" eval "$1" --text data/corpus/test --ctx 256 --max-windows "$eval_windows" \
      --json "$2/eval.json.part" >/dev/null
    mv "$2/eval.json.part" "$2/eval.json"
  fi
  if ((task_items > 0)) && [[ ! -f $2/tasks.json ]]; then
    step "$(basename "$2"): tasks on test.jsonl ($task_items items per task and language)"
    "$mw" eval "$1" --tasks data/tasks/test.jsonl --limit "$task_items" \
      --json "$2/tasks.json.part" >/dev/null
    mv "$2/tasks.json.part" "$2/tasks.json"
  fi
}

mkdir -p "$out/dense"
printf '{"name": "dense", "unseen": %s}\n' "$unseen" >"$out/dense/run.json"
evaluate "$model" "$out/dense"
runs=("$out/dense")
IFS=, read -ra list <<<"$methods"
for method in "${list[@]}"; do
  run="$out/$method-$tag"
  runs+=("$run")
  mkdir -p "$run"
  printf '{"name": "%s %s", "unseen": %s}\n' "$method" "$setting" "$unseen" >"$run/run.json"
  [[ -f $run/eval.json && ( $task_items == 0 || -f $run/tasks.json ) ]] && continue
  extra=()
  [[ $method == magnitude ]] || extra=(--stats "$stats")
  # N:M has one sparsity for every block: OWL and CWL do not apply
  [[ $setting == *:* && $method == mwanda ]] && extra+=(--cwl off)
  [[ $setting == *:* && $method == owl ]] && continue
  step "pruning with $method at $setting"
  "$mw" prune "$model" --method "$method" "${shape[@]}" "${extra[@]}" --type f16 \
    -o "$run/model.gguf" --json "$run/prune.json" >/dev/null
  evaluate "$run/model.gguf" "$run"
  rm -f "$run/model.gguf"
done
existing=()
for r in "${runs[@]}"; do [[ -f $r/eval.json ]] && existing+=("$r"); done
step "writing the report"
"$mw" report "${existing[@]}" -o "$out/report" >/dev/null
step "done: $out/report/report.md"
