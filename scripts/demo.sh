#!/usr/bin/env bash
# The main job, for now: install the default model and inspect it.
#
#   scripts/demo.sh
#
# Runs scripts/setup.sh --models (Debian packages, Python venv, the two
# default models under $MWANDA_CACHE/models), builds mwanda in build/release,
# then runs `mwanda inspect gemma3-270m`, whose output is the demo's output.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'demo: %s\n' "$*" >&2; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

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

say "build/release/mwanda inspect gemma3-270m"
exec build/release/mwanda inspect gemma3-270m
