#!/usr/bin/env bash
# Set up a Debian machine for building and testing mwanda.
#
#   scripts/setup.sh [--models] [--llamacpp] [--all]
#
# Always: the Debian packages the build needs, and a Python virtual
# environment with pinned packages at $MWANDA_CACHE/venv.
#   --models    also install the two default models (scripts/models.py)
#   --llamacpp  also build the llama.cpp reference tools (scripts/build_llamacpp.sh)
#   --all       both
#
# MWANDA_CACHE defaults to $HOME/.cache/mwanda. Every step is skipped when its
# result is already there, so a second run takes seconds.
# Progress goes to stderr, one line per step. On stdout it prints shell
# `export` lines for what it set up, so `eval "$(scripts/setup.sh --all)"`
# prepares a shell for running the tests by hand.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

want_models=0
want_llamacpp=0
for arg in "$@"; do
  case "$arg" in
    --models) want_models=1 ;;
    --llamacpp) want_llamacpp=1 ;;
    --all) want_models=1; want_llamacpp=1 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$arg' (try --help)" ;;
  esac
done

export MWANDA_CACHE="${MWANDA_CACHE:-$HOME/.cache/mwanda}"
mkdir -p "$MWANDA_CACHE" || die "cannot create the cache folder $MWANDA_CACHE"
venv="$MWANDA_CACHE/venv"

# Python packages of the test environment, pinned. Changing this list makes
# the next run install it again.
pins=(
  numpy==2.4.6
  gguf==0.19.0
  safetensors==0.8.0
  tokenizers==0.23.3
  pytest==9.2.0
  transformers==5.23.0  # its config reader checks pruned folders (no PyTorch needed)
)

# ---- Debian packages --------------------------------------------------------
# clang's sanitizer and libFuzzer runtimes and its OpenMP come in separate
# packages (libclang-rt-dev, libomp-dev: Debian's default-version names).
debs=(build-essential cmake pkg-config libjansson-dev libpcre2-dev libutf8proc-dev clang
      libclang-rt-dev libomp-dev xz-utils ca-certificates librsvg2-bin libopenmpi-dev openmpi-bin
      gdb)
if ! command -v python3 >/dev/null 2>&1 ||
   ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  debs+=(python3 python3-venv)
fi
missing=()
for p in "${debs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install: ${missing[*]}"
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt_log="$(mktemp)"
  if ! { "${sudo[@]}" apt-get update -q &&
         "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
       >"$apt_log" 2>&1; then
    tail -n 20 "$apt_log" >&2
    rm -f "$apt_log"
    die "apt-get could not install: ${missing[*]}"
  fi
  rm -f "$apt_log"
else
  say "Debian packages: all ${#debs[@]} present"
fi

# ---- Python virtual environment ---------------------------------------------
if [[ -x "$venv/bin/python" ]] && ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
  say "venv at $venv is broken (its base Python went away): recreating it"
  rm -rf "$venv"
fi
if [[ ! -x "$venv/bin/python" ]]; then
  say "creating the Python venv at $venv"
  python3 -m venv "$venv" >&2 || die "python3 -m venv $venv failed"
fi
stamp="$venv/.mwanda-pins"
if [[ -f "$stamp" ]] && [[ "$(cat "$stamp")" == "${pins[*]}" ]]; then
  say "Python venv: pinned packages present ($venv)"
else
  say "installing pinned Python packages: ${pins[*]}"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${pins[@]}" >&2 ||
    die "pip install into $venv failed"
  printf '%s' "${pins[*]}" >"$stamp"
fi

# ---- optional parts ---------------------------------------------------------
models_dir="$MWANDA_CACHE/models"
if ((want_models)); then
  say "default models"
  "$venv/bin/python" scripts/models.py >&2 || die "installing the default models failed"
fi
llama_bin=""
if ((want_llamacpp)); then
  say "llama.cpp reference tools"
  llama_bin="$(scripts/build_llamacpp.sh)" || die "building llama.cpp failed"
fi

say "done"
printf 'export MWANDA_CACHE=%q\n' "$MWANDA_CACHE"
printf 'export MWANDA_PYTHON=%q\n' "$venv/bin/python"
if ((want_models)); then
  printf 'export MWANDA_MODELS=%q\n' "$models_dir"
fi
if [[ -n "$llama_bin" ]]; then
  printf 'export MWANDA_LLAMACPP_BIN=%q\n' "$llama_bin"
fi
