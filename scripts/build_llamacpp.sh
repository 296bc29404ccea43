#!/usr/bin/env bash
# Build the llama.cpp tools mwanda's tests compare against, from the pinned
# llama-cpp-python source package (it vendors a matching llama.cpp tree).
#
#   scripts/build_llamacpp.sh      -> prints the folder of the binaries on stdout
#
# Layout under $MWANDA_CACHE (default $HOME/.cache/mwanda):
#   llamacpp-src/llama_cpp_python-<ver>.tar.gz          the source package
#   llamacpp-src/llama_cpp_python-<ver>/vendor/llama.cpp/build/bin   the tools
#   .../build/.mwanda-stamp                              what was built, for which CPU
#
# CPU: the tools are built with GGML_NATIVE=ON (-march=native) less AMX and
# AVX512-FP16 (below), the fastest choice for the perplexity and imatrix runs
# the tests make. A machine can come back with another CPU, so the stamp
# records a hash of the CPU's feature flags; when they differ, only ggml's CPU
# backend (the one target built with -march=native) is compiled again, which
# takes a couple of minutes instead of the 10-15 of a full build on 2 cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'build_llamacpp: %s\n' "$*" >&2; }
die() { printf 'build_llamacpp: error: %s\n' "$*" >&2; exit 1; }

version=0.3.36
targets=(llama-perplexity llama-imatrix llama-tokenize llama-quantize llama-bench llama-gguf-split)
# Two features -march=native can bring are left out: AMX (its tile kernels
# died of SIGILL in a virtual machine that reports AMX but does not grant its
# registers) and AVX512-FP16 (ggml's F16 vector arithmetic, the F16 KV
# cache's, would run in half precision instead of f32 as on the CPUs the
# golden files came from). GCC keeps an explicit -mno-X however
# -march=native comes after it.
no_isa="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16 -mno-avx512fp16"
cmake_opts=(-DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF
            -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF
            "-DCMAKE_C_FLAGS=$no_isa" "-DCMAKE_CXX_FLAGS=$no_isa")
jobs="${MWANDA_JOBS:-2}"
# One change to the source, to its logger only: in this version the log is a
# worker thread that is never stopped (llama.cpp leaks it on purpose, issue
# 22142) and the tools return without flushing it, so on a busy machine
# their last lines -- perplexity's chunk values and final estimate -- were
# lost at random while the exit code said 0. The patch stops the worker,
# which writes out what is queued, when the process exits.
log_patch="mwanda-log-flush-1"

cache="${MWANDA_CACHE:-$HOME/.cache/mwanda}"
src="$cache/llamacpp-src"
top="$src/llama_cpp_python-$version"
lcpp="$top/vendor/llama.cpp"
build="$lcpp/build"
bin="$build/bin"
stamp="$build/.mwanda-stamp"
mkdir -p "$src" || die "cannot create $src"

# One build at a time per cache folder.
exec 9>"$src/.lock"
if ! flock -n 9; then
  say "another build is running in $src: waiting for it"
  flock 9
fi

cpu_hash="$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2 | tr ' ' '\n' | sed '/^$/d' | sort |
            sha256sum | cut -c1-16)"
want_stamp="version=$version cpu=$cpu_hash patch=$log_patch options=${cmake_opts[*]}"

have_all_bins() {
  local t
  for t in "${targets[@]}"; do [[ -x "$bin/$t" ]] || return 1; done
}

if have_all_bins; then
  if [[ -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$want_stamp" ]]; then
    say "up to date ($bin)"
    printf '%s\n' "$bin"
    exit 0
  fi
  if [[ ! -f "$stamp" ]] && grep -q '^GGML_NATIVE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
    # A finished build from before stamps existed: take it as built here.
    say "adopting the existing build in $build"
    printf '%s' "$want_stamp" >"$stamp"
    printf '%s\n' "$bin"
    exit 0
  fi
fi

if [[ -f "$stamp" ]] && [[ "$(cat "$stamp")" != *"cpu=$cpu_hash"* ]]; then
  cpu_dir="$build/ggml/src/CMakeFiles/ggml-cpu.dir"
  if [[ -d "$cpu_dir" ]]; then
    say "the CPU changed since the last build: recompiling ggml's CPU backend"
    rm -rf "$cpu_dir"
  else
    say "the CPU changed since the last build: rebuilding from scratch"
    rm -rf "$build"
  fi
fi

if [[ ! -f "$lcpp/CMakeLists.txt" ]]; then
  tarball="$src/llama_cpp_python-$version.tar.gz"
  if [[ ! -f "$tarball" ]]; then
    say "downloading the llama-cpp-python $version source package"
    py="$cache/venv/bin/python"
    [[ -x "$py" ]] || py=python3
    "$py" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
      -d "$src" "llama-cpp-python==$version" >&2 ||
      die "pip could not download llama-cpp-python==$version"
    [[ -f "$tarball" ]] || die "pip download gave no $tarball"
  fi
  say "unpacking $(basename "$tarball")"
  tmp="$(mktemp -d "$src/unpack.XXXXXX")"
  tar -xzf "$tarball" -C "$tmp" || { rm -rf "$tmp"; die "cannot unpack $tarball"; }
  rm -rf "$top"
  mv "$tmp/llama_cpp_python-$version" "$top" || { rm -rf "$tmp"; die "unexpected layout in $tarball"; }
  rmdir "$tmp"
  [[ -f "$lcpp/CMakeLists.txt" ]] || die "no vendor/llama.cpp in $tarball"
fi

# Idempotent: the marker says the tree already has it.
log_cpp="$lcpp/common/log.cpp"
if ! grep -q "$log_patch" "$log_cpp"; then
  anchor='        log = new common_log;'
  [[ "$(grep -cxF "$anchor" "$log_cpp")" == 1 ]] ||
    die "cannot patch $log_cpp: the logger's creation is not where expected"
  say "patching the logger to flush at exit ($log_patch)"
  sed -i "/^$anchor\$/a\\        std::atexit([] { log->pause(); }); // $log_patch" "$log_cpp"
  grep -q "$log_patch" "$log_cpp" || die "patching $log_cpp failed"
fi

mkdir -p "$build"
log="$build/mwanda-build.log"
say "configuring llama.cpp (log: $log)"
if ! cmake -S "$lcpp" -B "$build" "${cmake_opts[@]}" >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  die "cmake configure failed (see $log)"
fi
say "building ${targets[*]} with -j$jobs (10-15 minutes on 2 cores when nothing is built yet)"
start=$SECONDS
if ! cmake --build "$build" -j"$jobs" --target "${targets[@]}" >>"$log" 2>&1; then
  tail -n 30 "$log" >&2
  die "build failed (see $log)"
fi
have_all_bins || die "build finished but some tools are missing in $bin"
printf '%s' "$want_stamp" >"$stamp"
say "built in $((SECONDS - start)) s: $bin"
printf '%s\n' "$bin"
