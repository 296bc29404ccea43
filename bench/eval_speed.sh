#!/usr/bin/env bash
# mwanda eval against llama-perplexity on the same text, window and threads,
# side by side in one invocation (the machine is shared: compare the ratio).
#   bench/eval_speed.sh [MODEL] [TEXT_FILE] [CTX] [THREADS]
# MODEL defaults to gemma3-270m; llama.cpp runs on its F32 copy (the same
# arithmetic) and on the quantized file itself.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/setup.sh --all 2>/dev/null)"
model=${1:-gemma3-270m}
text=${2:-tests/data/forward/udhr/deu.txt}
ctx=${3:-512}
threads=${4:-2}
bin=${MWANDA_BIN:-build/release/mwanda}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=$model
[[ -f $src ]] || src=$MWANDA_MODELS/$model.gguf
# llama-perplexity needs 2 * ctx tokens: repeat the text until it has them
for _ in 1 2 3 4 5 6 7 8; do cat "$text"; done >"$work/text.txt"
mkdir -p "$work/dir" && cp "$work/text.txt" "$work/dir/xx.txt"
"$bin" convert "$src" "$work/f32.gguf" >/dev/null 2>&1

timed() { /usr/bin/time -f '%e' -o "$work/t" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }; cat "$work/t"; }
t_mw=$(timed "$bin" eval "$src" --text "$work/dir" --ctx "$ctx" --threads "$threads" --llamacpp-windows --json "$work/mw.json")
ppl_mw=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["languages"]["xx"]["ppl"])' "$work/mw.json")
tokens=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["languages"]["xx"]["text_tokens"])' "$work/mw.json")
lp() { "$MWANDA_LLAMACPP_BIN/llama-perplexity" -m "$1" -f "$work/text.txt" -c "$ctx" -t "$threads" --no-escape; }
t_f32=$(timed lp "$work/f32.gguf")
ppl_f32=$(grep -o 'Final estimate: PPL = [0-9.]*' "$work/err" "$work/out" | grep -o '[0-9.]*$' | head -1)
t_q=$(timed lp "$src")
ppl_q=$(grep -o 'Final estimate: PPL = [0-9.]*' "$work/err" "$work/out" | grep -o '[0-9.]*$' | head -1)
printf '%-34s %8s %10s %9s\n' "run ($tokens tokens, ctx $ctx, $threads threads)" seconds perplexity "speed"
printf '%-34s %8.2f %10.4f %8.2fx\n' "mwanda eval ($model)" "$t_mw" "$ppl_mw" 1
printf '%-34s %8.2f %10.4f %8.2fx\n' "llama-perplexity (F32 copy)" "$t_f32" "$ppl_f32" "$(echo "$t_mw / $t_f32" | bc -l)"
printf '%-34s %8.2f %10.4f %8.2fx\n' "llama-perplexity ($model as shipped)" "$t_q" "$ppl_q" "$(echo "$t_mw / $t_q" | bc -l)"
echo "mwanda relative to llama.cpp F32: $(echo "$t_f32 / $t_mw" | bc -l | cut -c1-5)x as fast"
