#!/usr/bin/env bash
# Build mwanda twice and run all its tests; the project's one test command.
#
#   scripts/test.sh
#
# 1. scripts/setup.sh --all: Debian packages, the Python venv, the default
#    models, the llama.cpp reference tools (all skipped when present).
# 2. build/release: gcc, Release, then ctest (unit and Python tests).
# 3. build/sanitize: clang, Debug at -O1, AddressSanitizer + UBSan + the
#    libFuzzer targets, then ctest again.
# Ends with one line "N passed, N failed" over both ctest runs (a build that
# fails counts as one failed test) and exits non-zero if anything failed.
# MWANDA_JOBS sets the parallelism (default 2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'test: %s\n' "$*" >&2; }
die() { printf 'test: error: %s\n' "$*" >&2; exit 1; }

jobs="${MWANDA_JOBS:-2}"
env_lines="$(scripts/setup.sh --all)" || die "set-up failed"
eval "$env_lines"   # MWANDA_CACHE, MWANDA_PYTHON, MWANDA_MODELS, MWANDA_LLAMACPP_BIN
export MWANDA_CACHE MWANDA_MODELS MWANDA_LLAMACPP_BIN
# ctest runs two tests at once on two cores: OpenMP threads that spin while
# waiting would then steal the core their partner needs
export OMP_WAIT_POLICY=passive

passed=0
failed=0
failures=()

# Count the results of a ctest JUnit file: prints "passed failed skipped".
count_junit() {
  "$MWANDA_PYTHON" - "$1" <<'EOF'
import sys
import xml.etree.ElementTree as ET
p = f = s = 0
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    if case.find("failure") is not None or case.find("error") is not None:
        f += 1
    elif case.find("skipped") is not None or case.get("status") in ("notrun", "disabled"):
        s += 1
    else:
        p += 1
print(p, f, s)
EOF
}

# suite NAME CMAKE-ARGS... : configure, build and test build/NAME.
suite() {
  local name="$1"; shift
  local dir="build/$name" log="build/$name-build.log"
  mkdir -p build
  say "$name: configuring and building in $dir (log: $log)"
  if ! { cmake -S . -B "$dir" -DMW_PYTHON="$MWANDA_PYTHON" "$@" &&
         cmake --build "$dir" -j"$jobs"; } >"$log" 2>&1; then
    tail -n 40 "$log"
    say "$name: BUILD FAILED (see $log)"
    failed=$((failed + 1))
    failures+=("$name: build")
    return 0
  fi
  say "$name: running ctest"
  local junit="$PWD/$dir/ctest-junit.xml" rc=0
  rm -f "$junit"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" --output-junit "$junit") || rc=$?
  if [[ ! -f "$junit" ]]; then
    say "$name: ctest wrote no results (exit $rc)"
    failed=$((failed + 1))
    failures+=("$name: ctest")
    return 0
  fi
  local p f s
  read -r p f s < <(count_junit "$junit")
  say "$name: $p passed, $f failed, $s skipped"
  passed=$((passed + p))
  failed=$((failed + f))
  if ((f)) || ((rc && !f)); then
    failures+=("$name: $f failed tests (ctest exit $rc)")
    ((f)) || failed=$((failed + 1))
  fi
}

suite release -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release

# Sanitizers: leaks are errors; UBSan prints a stack and stops the program.
export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
suite sanitize -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DMW_SANITIZE=ON -DMW_FUZZ=ON

for f in "${failures[@]}"; do say "FAILED: $f"; done
echo "$passed passed, $failed failed"
((failed == 0))
