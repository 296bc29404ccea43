#!/usr/bin/env bash
# Prune one model with several methods from one calibration, evaluate the
# dense and every pruned model on the test split, and write the report. The
# demo (scripts/demo.sh: Wanda and M-Wanda, 12 languages) and the comparison
# of issue 6 (docs/ablation.md: magnitude, Wanda, OWL and M-Wanda with its
# defaults on every corpus language) are both runs of this script.
#
#   scripts/compare_methods.sh OUT_DIR [SETTING]      SETTING: 0.5 (default), 0.6, 2:4 ...
#
# Environment:
#   MWANDA_CMP_MODEL         model alias or file (gemma3-270m)
#   MWANDA_CMP_METHODS       comma list (magnitude,wanda,owl,mwanda)
#   MWANDA_CMP_CALIB         calibration languages, comma list (every calibration
#                            language of data/corpus/manifest.json)
#   MWANDA_CMP_SAMPLES       calibration windows of 256 tokens per language (8)
#   MWANDA_CMP_STATS         a statistics file to reuse instead of calibrating
#   MWANDA_CMP_LANGS         languages to evaluate, comma list (every corpus language)
#   MWANDA_CMP_EVAL_WINDOWS  test windows of 256 tokens per language (2)
#   MWANDA_CMP_TASK_ITEMS    items per task and language of data/tasks/test.jsonl
#                            (3; 0: no tasks)
#   MWANDA_CMP_KEEP_MODELS   1: keep the pruned models (F16 GGUF, RUN/model.gguf)
# The report marks as held out the evaluated languages that were not
# calibrated on. Expects a release build in build/release (scripts/demo.sh or
# scripts/test.sh make one). Progress on stderr; OUT_DIR/report/report.md at
# the end. A second run into the same OUT_DIR with the same settings and the
# same binary keeps the results it finds; otherwise it starts again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'compare: %s\n' "$*" >&2; }
die() { printf 'compare: error: %s\n' "$*" >&2; exit 1; }

(($# >= 1 && $# <= 2)) || die "usage: scripts/compare_methods.sh OUT_DIR [SETTING]"
out="$1"
setting="${2:-0.5}"
model="${MWANDA_CMP_MODEL:-gemma3-270m}"
methods="${MWANDA_CMP_METHODS:-magnitude,wanda,owl,mwanda}"
calib_langs="${MWANDA_CMP_CALIB:-}"
samples="${MWANDA_CMP_SAMPLES:-8}"
eval_langs="${MWANDA_CMP_LANGS:-}"
eval_windows="${MWANDA_CMP_EVAL_WINDOWS:-2}"
task_items="${MWANDA_CMP_TASK_ITEMS:-3}"
keep_models="${MWANDA_CMP_KEEP_MODELS:-0}"
mw=build/release/mwanda
[[ -x $mw ]] || die "no $mw: build it first (scripts/demo.sh builds it)"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
start=$SECONDS
step() { say "[$(((SECONDS - start) / 60))m$(((SECONDS - start) % 60))s] $*"; }

if [[ $setting == *:* ]]; then
  shape=(--pattern "$setting")
  tag="${setting/:/-}"
  label="$setting"
elif [[ $setting =~ ^0?\.[0-9]+$ ]]; then
  shape=(--sparsity "$setting")
  tag="$(awk -v s="$setting" 'BEGIN { printf "%d", s * 100 + 0.5 }')"
  label="$tag%"
else
  die "SETTING must be a sparsity below 1 (0.5) or an N:M pattern (2:4), not '$setting'"
fi

# The languages the report marks held out, as a JSON list: the evaluated ones
# (every corpus language by default) that were not calibrated on.
unseen="$(python3 - "$calib_langs" "$eval_langs" <<'EOF'
import json, sys
m = json.load(open("data/corpus/manifest.json"))
calib = sys.argv[1].split(",") if sys.argv[1] else m["calib_languages"]
evaluated = sys.argv[2].split(",") if sys.argv[2] else m["calib_languages"] + m["unseen"]
print(json.dumps([l for l in evaluated if l not in calib]))
EOF
)"
langs_opt=()
[[ -n $eval_langs ]] && langs_opt=(--langs "$eval_langs")

# Results are reused only when they came from these settings and this binary.
stamp="model=$model methods=$methods setting=$setting calib=$calib_langs samples=$samples"
stamp+=" stats=${MWANDA_CMP_STATS:-} langs=$eval_langs windows=$eval_windows tasks=$task_items"
stamp+=" binary=$(sha256sum "$mw" | cut -c1-16)"
mkdir -p "$out"
if [[ -f $out/settings.txt && $(cat "$out/settings.txt") != "$stamp" ]]; then
  say "$out holds results of other settings or another build: starting again"
  rm -f "$out/stats.gguf" "$out/settings.txt"
  for d in "$out"/*/; do
    [[ -f $d/run.json ]] && rm -f "$d"/{run.json,eval.json,tasks.json,prune.json,model.gguf}
  done
  rm -rf "$out/report"
fi
printf '%s\n' "$stamp" >"$out/settings.txt"

stats="${MWANDA_CMP_STATS:-$out/stats.gguf}"
if [[ ! -f $stats ]]; then
  calib_opt=()
  [[ -n $calib_langs ]] && calib_opt=(--langs "$calib_langs")
  step "calibrating $model on ${calib_langs:-every calibration language} ($samples windows of 256 tokens each)"
  "$mw" calibrate "$model" "${calib_opt[@]}" --samples "$samples" --ctx 256 \
    -o "$stats" >/dev/null
fi

evaluate() { # MODEL RUN_DIR
  if [[ ! -f $2/eval.json ]]; then
    step "$(basename "$2"): perplexity on test/ ($eval_windows windows of 256 per language)"
    "$mw" eval "$1" --text data/corpus/test "${langs_opt[@]}" --ctx 256 \
      --max-windows "$eval_windows" --json "$2/eval.json.part" >/dev/null
    mv "$2/eval.json.part" "$2/eval.json"
  fi
  if ((task_items > 0)) && [[ ! -f $2/tasks.json ]]; then
    step "$(basename "$2"): tasks on test.jsonl ($task_items items per task and language)"
    "$mw" eval "$1" --tasks data/tasks/test.jsonl "${langs_opt[@]}" --limit "$task_items" \
      --json "$2/tasks.json.part" >/dev/null
    mv "$2/tasks.json.part" "$2/tasks.json"
  fi
}

done_already() { # RUN_DIR
  [[ -f $1/eval.json ]] && { ((task_items == 0)) || [[ -f $1/tasks.json ]]; }
}

mkdir -p "$out/dense"
printf '{"name": "dense", "unseen": %s}\n' "$unseen" >"$out/dense/run.json"
evaluate "$model" "$out/dense"
runs=("$out/dense")
IFS=, read -ra list <<<"$methods"
for method in "${list[@]}"; do
  # N:M has one sparsity for every block: OWL does not apply, nor M-Wanda's CWL
  [[ $setting == *:* && $method == owl ]] && continue
  run="$out/$method-$tag"
  runs+=("$run")
  mkdir -p "$run"
  printf '{"name": "%s %s", "unseen": %s}\n' "$method" "$label" "$unseen" >"$run/run.json"
  done_already "$run" && continue
  extra=()
  [[ $method == magnitude ]] || extra=(--stats "$stats")
  [[ $setting == *:* && $method == mwanda ]] && extra+=(--cwl off)
  step "pruning with $method at $label"
  "$mw" prune "$model" --method "$method" "${shape[@]}" "${extra[@]}" --type f16 \
    -o "$run/model.gguf" --json "$run/prune.json" >/dev/null
  evaluate "$run/model.gguf" "$run"
  [[ $keep_models == 1 ]] || rm -f "$run/model.gguf"
done
step "writing the report"
"$mw" report "${runs[@]}" -o "$out/report" >/dev/null
step "done: $out/report/report.md"
