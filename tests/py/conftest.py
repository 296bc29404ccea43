"""Fixtures shared by mwanda's Python tests.

ctest runs each tests/py/test_*.py in its own pytest process with
MWANDA_BIN (the CLI) and MWANDA_SOURCE (the repository root) set;
scripts/test.sh also exports MWANDA_CACHE, MWANDA_MODELS and
MWANDA_LLAMACPP_BIN. Run by hand after `eval "$(scripts/setup.sh --all)"`:

    MWANDA_BIN=build/release/mwanda $MWANDA_PYTHON -m pytest tests/py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ.get("MWANDA_SOURCE") or Path(__file__).resolve().parents[2])

# Aliases of the default models, as scripts/models.py installs them.
REAL_MODEL_ALIASES = ("gemma3-270m", "smollm2-135m")


def _cache_dir() -> Path:
    return Path(os.environ.get("MWANDA_CACHE") or Path.home() / ".cache" / "mwanda")


@pytest.fixture(scope="session")
def source_dir() -> Path:
    return SOURCE_DIR


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    return _cache_dir()


@pytest.fixture(scope="session")
def mwanda_bin() -> Path:
    """The mwanda CLI under test."""
    b = os.environ.get("MWANDA_BIN")
    if not b:
        pytest.fail("MWANDA_BIN is not set: run the Python tests through ctest "
                    "(scripts/test.sh), or set it to build/release/mwanda")
    p = Path(b)
    if not os.access(p, os.X_OK):
        pytest.fail(f"MWANDA_BIN={p} is not an executable file")
    return p


def make_tiny(outdir: Path, *args: str) -> dict:
    """Run scripts/make_tiny_models.py into outdir; return its manifest."""
    cmd = [sys.executable, str(SOURCE_DIR / "scripts" / "make_tiny_models.py"), str(outdir), *args]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"make_tiny_models.py failed ({r.returncode}):\n{r.stderr}")
    return json.loads((outdir / "manifest.json").read_text())


class TinyModels:
    """The output of make_tiny_models.py: <family>.gguf, <family>-hf/, manifest."""

    def __init__(self, root: Path, manifest: dict):
        self.root = root
        self.manifest = manifest
        self.families = list(manifest["families"])

    def gguf(self, family: str) -> Path:
        return self.root / self.manifest["families"][family]["gguf"]

    def hf(self, family: str) -> Path:
        return self.root / self.manifest["families"][family]["hf"]

    def info(self, family: str) -> dict:
        return self.manifest["families"][family]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> TinyModels:
    """Tiny llama/qwen2/qwen3/gemma3 models, F32, seed 1234, made once per session."""
    root = tmp_path_factory.mktemp("tiny")
    return TinyModels(root, make_tiny(root, "--seed", "1234"))


@pytest.fixture(scope="session")
def real_models() -> dict[str, Path]:
    """alias -> path of the default models scripts/setup.sh --models installs."""
    d = Path(os.environ.get("MWANDA_MODELS") or _cache_dir() / "models")
    found = {a: d / f"{a}.gguf" for a in REAL_MODEL_ALIASES}
    missing = [str(p) for p in found.values() if not p.is_file()]
    if missing:
        pytest.fail("default models missing (" + ", ".join(missing) +
                    "): run scripts/setup.sh --models")
    return found


@pytest.fixture(scope="session")
def llamacpp_bin() -> Path:
    """Folder of the llama.cpp reference tools (llama-perplexity, ...)."""
    b = os.environ.get("MWANDA_LLAMACPP_BIN")
    if not b:
        pytest.fail("MWANDA_LLAMACPP_BIN is not set: run scripts/test.sh, or "
                    "export it from scripts/setup.sh --llamacpp")
    p = Path(b)
    if not (p / "llama-perplexity").is_file():
        pytest.fail(f"MWANDA_LLAMACPP_BIN={p} has no llama-perplexity: run scripts/setup.sh --llamacpp")
    return p
