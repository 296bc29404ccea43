#!/usr/bin/env bash
# Peak resident memory of `mwanda prune` on a synthetic model of a real size
# (Llama 3.2 3B shape, scripts/make_synthetic_model.py), next to the model's
# size in f32. Prunes at 50% with Wanda and with M-Wanda (2 languages, a few
# short windows) under --mem 4G. Floor: peak RSS below 40% of the f32 size
# and below 6 GB; the script exits 1 when a run misses it.
#
#   bench/prune_memory.sh [--model DIR] [--keep] [--samples N] [--ctx T]
#                         [--mem SIZE] [--build DIR]
#
#   --model DIR   the synthetic model folder (default: $MWANDA_CACHE/
#                 synthetic-llama-3b, made when missing: 6.4 GB of disk, about
#                 2 minutes)
#   --keep        keep the model afterwards (default: removed when this
#                 script made it)
#   --samples N   windows per language (default 2), --ctx T tokens (64)
#   --mem SIZE    the budget for activations (default 4G)
#
# Peak RSS is the kernel's accounting of the child (ru_maxrss from wait4):
# anonymous memory and the mapped model pages it held at once. The pruned
# models (BF16, 6.4 GB each) are written to a temporary folder in $TMPDIR and
# removed. On 2 cores each prune takes a few minutes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cache=${MWANDA_CACHE:-$HOME/.cache/mwanda}
model="" keep=0 samples=2 ctx=64 mem=4G build=build/release
while (($#)); do
  case $1 in
    --model) model=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --samples) samples=$2; shift 2 ;;
    --ctx) ctx=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    *) echo "usage: bench/prune_memory.sh [--model DIR] [--keep] [--samples N] [--ctx T] [--mem SIZE] [--build DIR]" >&2; exit 2 ;;
  esac
done
bin=$build/mwanda
py=${MWANDA_PYTHON:-$cache/venv/bin/python}
[[ -x $bin ]] || { echo "prune_memory: build mwanda first ($bin)" >&2; exit 1; }
[[ -x $py ]] || { echo "prune_memory: no Python with numpy ($py): run scripts/setup.sh" >&2; exit 1; }

made=0
if [[ -z $model ]]; then
  model=$cache/synthetic-llama-3b
  if [[ ! -f $model/model.safetensors.index.json ]]; then
    echo "prune_memory: writing the synthetic 3B model to $model" >&2
    "$py" scripts/make_synthetic_model.py "$model" --shape 3b --seed 0 >/dev/null
    made=1
  fi
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/mwanda-prune-memory-XXXXXX")
cleanup() {
  rm -rf "$work"
  if ((made && !keep)); then rm -rf "$model"; fi
}
trap cleanup EXIT

# two languages of calibration text, enough for the windows asked
"$py" - "$work/text" <<'EOF'
import pathlib, sys
d = pathlib.Path(sys.argv[1]); d.mkdir()
de = ("Alle Menschen sind frei und gleich an Würde und Rechten geboren. Sie sind mit Vernunft "
      "und Gewissen begabt und sollen einander im Geist der Brüderlichkeit begegnen. ")
fr = ("Tous les êtres humains naissent libres et égaux en dignité et en droits. Ils sont doués "
      "de raison et de conscience et doivent agir les uns envers les autres dans un esprit de "
      "fraternité. ")
(d / "de.txt").write_text(de * 400, encoding="utf-8")
(d / "fr.txt").write_text(fr * 400, encoding="utf-8")
EOF

params=$("$bin" inspect "$model" --json | "$py" -c 'import json,sys; print(json.load(sys.stdin)["parameters"]["total"])')
f32=$((params * 4))
echo "model: $model ($params weights, $((f32 / 1000000)) MB in f32); $samples windows x $ctx tokens per language, --mem $mem"
status=0
for method in wanda mwanda; do
  # the child's peak RSS from the kernel (wait4), and its wall time
  read -r rss secs rc < <("$py" - "$bin" prune "$model" --method "$method" --sparsity 0.5 \
      --text "$work/text" --samples "$samples" --ctx "$ctx" --mem "$mem" --type bf16 \
      -o "$work/$method.gguf" <<'EOF'
import os, subprocess, sys, time
t = time.time()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=open(os.devnull, "w"))
_, st, ru = os.wait4(p.pid, 0)
print(ru.ru_maxrss * 1024, f"{time.time() - t:.0f}", os.waitstatus_to_exitcode(st))
EOF
  )
  rm -rf "$work/$method.gguf"
  pct=$("$py" -c "print(f'{100 * $rss / $f32:.1f}')")
  ok=yes
  if ((rc != 0)); then ok="no (exit $rc)"; status=1
  elif ((rss * 10 >= f32 * 4 || rss >= 6000000000)); then ok=no; status=1; fi
  printf '%-7s peak RSS %6d MB = %5s%% of f32 (%d MB)  %5ss  floor (<40%%, <6 GB): %s\n' \
    "$method" $((rss / 1000000)) "$pct" $((f32 / 1000000)) "$secs" "$ok"
done
exit $status
