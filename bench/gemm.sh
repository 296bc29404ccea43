#!/usr/bin/env bash
# The gemm benchmark: own kernels against OpenBLAS and BLIS on the shapes
# of the forward pass (bench/gemm.c), from a Release build for this CPU.
#   bench/gemm.sh [BUILD_DIR] [mw-gemm-bench options, e.g. --quick --reps 9]
#   MW_BENCH_THREADS=1 bench/gemm.sh        (default: 2 threads)
# Prints the machine, date and load first: with other programs on the
# cores the numbers mean little (docs/gemm.md). OMP_WAIT_POLICY and other
# OpenMP settings in the environment pass through.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-bench
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    build=$1
    shift
fi
threads=${MW_BENCH_THREADS:-2}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target mw-gemm-bench >/dev/null
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
family=$(lscpu | sed -n 's/^CPU family: *//p' | head -1)
model=$(lscpu | sed -n 's/^Model: *//p' | head -1)
flags=$(grep -o -w -E 'avx2|fma|avx512f' <(lscpu) | sort -u | tr '\n' ' ')
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpu: $cpu (family $family, model $model), $(nproc) cpus, ${flags}"
echo "compiler: $(${CC:-cc} --version | head -1)"
echo "load before: $(uptime | sed 's/.*load average: //')"
echo "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-(unset)}"
OMP_NUM_THREADS=$threads "$build/bench/mw-gemm-bench" --threads "$threads" "$@"
echo "load after: $(uptime | sed 's/.*load average: //')"
