#!/usr/bin/env bash
# Peak resident memory of `mwanda convert` next to the model's size in f32:
# conversion streams one tensor at a time, so the peak should stay near the
# largest tensor in f32, far below the whole model.
#   bench/convert_memory.sh [MODEL] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-gemma3-270m}
bin=${2:-build/release}/mwanda
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
params=$("$bin" inspect "$model" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["parameters"]["total"])')
f32_mb=$((params * 4 / 1048576))
for target in "$out/m.gguf" "$out/hf"; do
    /usr/bin/time -f '%M %e' -o "$out/time" "$bin" convert "$model" "$target" 2>/dev/null >/dev/null
    read -r rss_kb secs <"$out/time"
    printf '%-10s -> %-4s  peak RSS %6d MiB  (%.1f%% of the model in f32, %d MiB)  %ss\n' \
        "$model" "$(basename "$target")" $((rss_kb / 1024)) \
        "$(echo "100 * $rss_kb / 1024 / $f32_mb" | bc -l)" "$f32_mb" "$secs"
    rm -rf "$target"
done
