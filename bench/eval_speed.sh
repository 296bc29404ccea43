#!/usr/bin/env bash
# mwanda eval against llama-perplexity on the same text, window and threads,
# side by side in one invocation (the machine is shared: compare the ratios).
#   bench/eval_speed.sh [MODEL] [CHUNKS] [CTX] [THREADS] [ROUNDS]
# MODEL defaults to gemma3-270m (a name under $MWANDA_MODELS or a path).
# mwanda runs on the model as shipped and on its F32 copy; llama.cpp on the
# F32 copy (the same arithmetic) and on the shipped file (its quantized dot
# products). The text is the UDHR excerpts of tests/data/forward/udhr,
# repeated until it holds CHUNKS windows of CTX tokens (default 16).
# Every round runs the four programs once, in a rotating order; the table
# gives each one's best time (moments when others held the cores count
# least) and the ratios of those.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/setup.sh --all 2>/dev/null)"
model=${1:-gemma3-270m}
chunks=${2:-16}
ctx=${3:-512}
threads=${4:-2}
rounds=${5:-3}
bin=${MWANDA_BIN:-build/release/mwanda}
lp_bin=$MWANDA_LLAMACPP_BIN/llama-perplexity
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=$model
[[ -f $src ]] || src=$MWANDA_MODELS/$model.gguf
name=$(basename "$src" .gguf)

# Enough text for CHUNKS windows (llama-perplexity needs 2 * ctx tokens at
# least and ignores what does not fill a window): UDHR in six scripts averages under 8 bytes a token.
need=$((chunks * ctx * 8))
: >"$work/text.txt"
while (($(wc -c <"$work/text.txt") < need)); do
    cat tests/data/forward/udhr/*.txt >>"$work/text.txt"
done
# Cut it to CHUNKS windows and a half, so that both programs see CHUNKS
# windows (llama-perplexity would read every full window of the text).
"$bin" tokenize "$src" <"$work/text.txt" |
    python3 -c "import json,sys; print(json.dumps(json.load(sys.stdin)[:$((chunks * ctx + ctx / 2))]))" |
    "$bin" tokenize "$src" --decode >"$work/cut.txt"
mv "$work/cut.txt" "$work/text.txt"
mkdir -p "$work/dir" && cp "$work/text.txt" "$work/dir/xx.txt"
"$bin" convert "$src" "$work/f32.gguf" --type f32 >/dev/null

now() { echo "${EPOCHREALTIME/,/.}"; }
# run NAME CMD...: runs CMD, keeps its output, prints the seconds it took
run() {
    local name=$1 t0 t1
    shift
    t0=$(now)
    "$@" >"$work/$name.out" 2>"$work/$name.err" || {
        cat "$work/$name.err" >&2
        exit 1
    }
    t1=$(now)
    echo "$t1 - $t0" | bc -l
}
mw() { "$bin" eval "$1" --text "$work/dir" --ctx "$ctx" --threads "$threads" --llamacpp-windows \
    --json "$work/$2.json"; }
lp() { "$lp_bin" -m "$1" -f "$work/text.txt" -c "$ctx" -t "$threads" --no-escape \
    --chunks "$chunks"; }

names=(mw_q mw_f32 lp_f32 lp_q)
declare -A best
for ((r = 0; r < rounds; r++)); do
    for ((i = 0; i < 4; i++)); do
        n=${names[(i + r) % 4]}
        case $n in
        mw_q) t=$(run "$n" mw "$src" "$n") ;;
        mw_f32) t=$(run "$n" mw "$work/f32.gguf" "$n") ;;
        lp_f32) t=$(run "$n" lp "$work/f32.gguf") ;;
        lp_q) t=$(run "$n" lp "$src") ;;
        esac
        if [[ -z ${best[$n]:-} ]] || (($(echo "$t < ${best[$n]}" | bc -l))); then best[$n]=$t; fi
        echo "round $((r + 1)) $n ${t}s" >&2
    done
done

jq_py() { python3 -c "import json,sys; d=json.load(open(sys.argv[1]))['languages']['xx']; print($2)" "$1"; }
tokens=$(jq_py "$work/mw_q.json" "d['text_tokens']")
used=$((tokens / ctx * ctx))
((used / ctx != chunks)) && echo "warning: mwanda saw $((used / ctx)) windows, llama.cpp $chunks" >&2
lp_ppl() { grep -o 'Final estimate: PPL = [0-9.]*' "$work/$1.err" "$work/$1.out" | grep -o '[0-9.]*$' | head -1; }
# FLOPs: 2 per weight per token in the blocks (all positions), attention
# (QK^T and PV over the causal window), the head for the scored half.
flop=$("$MWANDA_PYTHON" - "$src" "$ctx" "$used" <<'EOF'
import sys
import gguf
r = gguf.GGUFReader(sys.argv[1])
ctx, used = int(sys.argv[2]), int(sys.argv[3])
arch = bytes(r.fields['general.architecture'].parts[-1]).decode()
def kv(k, d=None):
    f = r.fields.get(f'{arch}.{k}')
    return d if f is None else int(f.parts[-1][0])
blk = sum(int(t.n_elements) for t in r.tensors if t.name.startswith('blk.') and t.name.endswith('.weight') and len(t.shape) == 2 and 'norm' not in t.name)
embd = next(t for t in r.tensors if t.name == 'token_embd.weight')
head = int(embd.n_elements)
n_layer, n_head = kv('block_count'), kv('attention.head_count')
hd = kv('attention.key_length', kv('embedding_length') // n_head)
win = kv('attention.sliding_window', 0)
att = 0
for l in range(n_layer):
    glob = not win or arch != 'gemma3' or (l + 1) % 6 == 0
    keys = sum(min(t + 1, ctx if glob else win) for t in range(ctx))
    att += 4 * n_head * hd * keys
per_window = 2 * blk * ctx + att + 2 * head * (ctx // 2 - 1)
print(per_window * (used // ctx))
EOF
)
printf '%-40s %8s %10s %9s %8s\n' "$name: $used tokens, ctx $ctx, $threads threads" seconds perplexity tokens/s GFLOP/s
row() { printf '%-40s %8.2f %10.4f %9.1f %8.1f\n' "$1" "$2" "$3" "$(echo "$used / $2" | bc -l)" \
    "$(echo "$flop / $2 / 1000000000" | bc -l)"; }
row "mwanda eval (as shipped)" "${best[mw_q]}" "$(jq_py "$work/mw_q.json" "d['ppl']")"
row "mwanda eval (F32 copy)" "${best[mw_f32]}" "$(jq_py "$work/mw_f32.json" "d['ppl']")"
row "llama-perplexity (F32 copy)" "${best[lp_f32]}" "$(lp_ppl lp_f32)"
row "llama-perplexity (as shipped)" "${best[lp_q]}" "$(lp_ppl lp_q)"
ratio() { echo "$1 / $2" | bc -l | cut -c1-5; }
echo "mwanda (as shipped) vs llama.cpp F32:      $(ratio "${best[lp_f32]}" "${best[mw_q]}")x as fast (floor 0.8, goal 1.2)"
echo "mwanda (F32 copy) vs llama.cpp F32:        $(ratio "${best[lp_f32]}" "${best[mw_f32]}")x"
echo "mwanda (as shipped) vs llama.cpp shipped:  $(ratio "${best[lp_q]}" "${best[mw_q]}")x"
