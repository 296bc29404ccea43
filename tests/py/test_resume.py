"""--resume and Ctrl-C: a prune or calibration killed (SIGKILL) at several
points continues with --resume and ends with the bytes of an uninterrupted
run; a state from other options is refused, as is an existing state without
--resume; SIGINT stops a run with exit code 130, one line, and no output.

Runs are stopped at known points with the CLI's test hook
MWANDA_TEST_KILL_AFTER_BLOCK=N (the process sends itself SIGKILL, or the
signal MWANDA_TEST_KILL_SIGNAL names, once N blocks' state is saved), and
once from outside at whatever point the run has reached.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

TEXTS = {
    "de": "Alle Menschen sind frei und gleich an Würde und Rechten geboren. Sie sind mit "
          "Vernunft und Gewissen begabt und sollen einander im Geist der Brüderlichkeit "
          "begegnen. ",
    "ru": "Все люди рождаются свободными и равными в своем достоинстве и правах. Они "
          "наделены разумом и совестью и должны поступать в отношении друг друга в духе "
          "братства. ",
}
CALIB = ("--samples", "6", "--ctx", "256")


def run(bin_, *args, ok=True, env=None, cwd=None):
    r = subprocess.run([str(bin_.resolve()), *map(str, args)], capture_output=True, text=True,
                       env=env, cwd=cwd)
    if ok and r.returncode != 0:
        pytest.fail(f"mwanda {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stderr}")
    return r


def env_with(**kv):
    e = dict(os.environ)
    e.update({k: str(v) for k, v in kv.items()})
    return e


@pytest.fixture(scope="module")
def text_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("text")
    for lang, t in TEXTS.items():
        (d / f"{lang}.txt").write_text(t * 40, encoding="utf-8")
    return d


def files_of(path):
    """name -> bytes of a file or of every file of a folder."""
    if path.is_dir():
        return {p.name: p.read_bytes() for p in sorted(path.iterdir())}
    return {path.name: path.read_bytes()}


def manifest(state):
    return json.loads((state / "manifest.json").read_text())


def kill_and_resume(bin_, args, cwd, points, out="out.gguf"):
    """Kills `mwanda args --resume` after each number of saved blocks in
    points (each run continuing the last), then lets it finish; returns the
    passes and blocks the state held at each kill."""
    seen = []
    state = cwd / f"{out}.mwanda-state"
    for k in points:
        r = run(bin_, *args, "--resume", ok=False, cwd=cwd,
                env=env_with(MWANDA_TEST_KILL_AFTER_BLOCK=k))
        assert r.returncode == -signal.SIGKILL, r.stderr
        assert not (cwd / out).exists()
        m = manifest(state)
        seen.append((m["pass"], m["blocks_done"]))
    run(bin_, *args, "--resume", cwd=cwd)
    assert not state.exists(), "the state is removed once the output is complete"
    assert not [p for p in cwd.iterdir() if ".tmp-" in p.name]
    return seen


# (family, method, extra options, kill points, states seen): the points
# count the blocks this process saved, every pass included; M-Wanda (with
# CWL) and OWL have a dense pass (0) before the pruning pass (1). The tiny
# llama has 2 blocks, gemma3 6.
CASES = [
    ("llama", "wanda", (), (1,), [(1, 1)]),
    ("gemma3", "wanda", (), (1, 3), [(1, 1), (1, 4)]),
    ("llama", "mwanda", (), (1, 2, 1), [(0, 1), (1, 1), (1, 2)]),
    ("gemma3", "mwanda", (), (1, 4, 3), [(0, 1), (0, 5), (1, 2)]),
    ("gemma3", "owl", (), (6, 2), [(0, 6), (1, 2)]),
    ("gemma3", "magnitude", (), (1, 4), [(1, 1), (1, 5)]),
    ("llama", "wanda", ("--pattern", "2:4", "--type", "bf16"), (1,), [(1, 1)]),
]


@pytest.mark.parametrize("family,method,extra,points,states", CASES)
def test_prune_killed_and_resumed(mwanda_bin, tiny_models, text_dir, tmp_path, family, method,
                                  extra, points, states):
    model = tiny_models.gguf(family)
    args = ["prune", model, "--method", method, *extra, "-o", "out.gguf", "--json", "rep.json"]
    if method != "magnitude":
        args[4:4] = ["--text", text_dir, *CALIB]
    ref_dir, dir_ = tmp_path / "ref", tmp_path / "resumed"
    ref_dir.mkdir()
    dir_.mkdir()
    run(mwanda_bin, *args, cwd=ref_dir)
    assert kill_and_resume(mwanda_bin, args, dir_, points) == states
    assert files_of(dir_ / "out.gguf") == files_of(ref_dir / "out.gguf")
    assert (dir_ / "rep.json").read_bytes() == (ref_dir / "rep.json").read_bytes()


def test_prune_folder_output(mwanda_bin, tiny_models, text_dir, tmp_path):
    """A safetensors folder (in several shards) resumed after each block."""
    args = ["prune", tiny_models.hf("qwen3"), "--method", "mwanda", "--text", text_dir, *CALIB,
            "--shard-size", "60K", "-o", "out"]
    ref_dir, dir_ = tmp_path / "ref", tmp_path / "resumed"
    ref_dir.mkdir()
    dir_.mkdir()
    run(mwanda_bin, *args, cwd=ref_dir)
    seen = kill_and_resume(mwanda_bin, args, dir_, (1, 1, 1, 1), out="out")
    # dense pass blocks 1, 2, then the pruning pass's
    assert seen == [(0, 1), (0, 2), (1, 1), (1, 2)]
    ref = files_of(ref_dir / "out")
    assert len([n for n in ref if n.endswith(".safetensors")]) > 1
    assert files_of(dir_ / "out") == ref


def test_calibrate_killed_and_resumed(mwanda_bin, tiny_models, text_dir, tmp_path):
    args = ["calibrate", tiny_models.gguf("gemma3"), "--text", text_dir, *CALIB, "-o", "out.gguf"]
    ref_dir, dir_ = tmp_path / "ref", tmp_path / "resumed"
    ref_dir.mkdir()
    dir_.mkdir()
    run(mwanda_bin, *args, cwd=ref_dir)
    seen = kill_and_resume(mwanda_bin, args, dir_, (1, 2, 2))  # gemma3: 6 blocks
    assert seen == [(0, 1), (0, 3), (0, 5)]
    assert files_of(dir_ / "out.gguf") == files_of(ref_dir / "out.gguf")


def test_refusals(mwanda_bin, tiny_models, text_dir, tmp_path):
    model = tiny_models.gguf("llama")
    args = ["prune", model, "--method", "wanda", "--text", text_dir, *CALIB, "-o", "out.gguf"]
    r = run(mwanda_bin, *args, "--resume", ok=False, cwd=tmp_path,
            env=env_with(MWANDA_TEST_KILL_AFTER_BLOCK=1))
    assert r.returncode == -signal.SIGKILL
    state = tmp_path / "out.gguf.mwanda-state"
    # without --resume: refused before any work, the state untouched
    before = files_of(state)
    r = run(mwanda_bin, *args, ok=False, cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == (
        "mwanda: error: out.gguf.mwanda-state holds the state of an interrupted run: add "
        "--resume to continue it, or remove the folder")
    # other options, other inputs: refused, naming what differs
    r = run(mwanda_bin, *args[:-2], "--sparsity", "0.6", "-o", "out.gguf", "--resume", ok=False,
            cwd=tmp_path)
    assert r.returncode == 1
    assert "other options (sparsity: 0.5 there, 0.59999999999999998 here)" in r.stderr
    r = run(mwanda_bin, *args[:6], "--samples", "5", *args[8:], "--resume", ok=False, cwd=tmp_path)
    assert r.returncode == 1 and "other inputs" in r.stderr
    r = run(mwanda_bin, "calibrate", model, "--text", text_dir, *CALIB, "-o", "out.gguf",
            "--resume", ok=False, cwd=tmp_path)
    assert r.returncode == 1 and "not of `mwanda calibrate`" in r.stderr
    assert files_of(state) == before
    assert not (tmp_path / "out.gguf").exists()
    # a damaged manifest is an error, not a silent restart
    (state / "manifest.json").write_text("{")
    r = run(mwanda_bin, *args, "--resume", ok=False, cwd=tmp_path)
    assert r.returncode == 1 and "manifest.json" in r.stderr


def test_signal_keeps_state(mwanda_bin, tiny_models, text_dir, tmp_path):
    """SIGINT and SIGTERM at a known point: 130 / 143, one line, the state kept
    for --resume, which then completes the same bytes."""
    args = ["prune", tiny_models.gguf("gemma3"), "--method", "wanda", "--text", text_dir, *CALIB,
            "-o", "out.gguf"]
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    run(mwanda_bin, *args, cwd=ref_dir)
    for sig, code in (("INT", 130), ("TERM", 143)):
        r = run(mwanda_bin, *args, "--resume", ok=False, cwd=tmp_path,
                env=env_with(MWANDA_TEST_KILL_AFTER_BLOCK=2, MWANDA_TEST_KILL_SIGNAL=sig))
        assert r.returncode == code, r.stderr
        assert r.stderr.strip().splitlines()[-1] == (
            "mwanda: interrupted; out.gguf.mwanda-state is kept: the same command continues it")
        assert manifest(tmp_path / "out.gguf.mwanda-state")["blocks_done"] >= 2
        assert not (tmp_path / "out.gguf").exists()
    run(mwanda_bin, *args, "--resume", cwd=tmp_path)
    assert files_of(tmp_path / "out.gguf") == files_of(ref_dir / "out.gguf")


def wait_for_stderr(proc, needle, timeout_lines=10000):
    """Reads the child's stderr lines until one holds needle."""
    for _ in range(timeout_lines):
        line = proc.stderr.readline()
        if not line or needle in line:
            return line
    return ""


@pytest.mark.parametrize("command", ["prune", "calibrate"])
def test_ctrl_c_without_resume(mwanda_bin, real_models, text_dir, tmp_path, command):
    """Ctrl-C during a real run: exit 130, 'mwanda: interrupted', no output,
    no temporary file."""
    args = [command, real_models["gemma3-270m"], "--text", text_dir, "--samples", "4",
            "--ctx", "256", "-o", "out.gguf"]
    if command == "prune":
        args[2:2] = ["--method", "wanda", "--type", "bf16"]
    p = subprocess.Popen([str(mwanda_bin.resolve()), *map(str, args)], cwd=tmp_path, text=True,
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    # the first progress line: the run is under way, the handler installed
    assert wait_for_stderr(p, "block 0"), "no progress line"
    p.send_signal(signal.SIGINT)
    rest = p.stderr.read()
    assert p.wait() == 130
    assert rest.strip().splitlines()[-1] == "mwanda: interrupted"
    assert sorted(x.name for x in tmp_path.iterdir()) == []


def test_killed_from_outside_mid_block(mwanda_bin, real_models, text_dir, tmp_path):
    """SIGKILL from outside wherever the run is (likely inside a block), on a
    real model: resumed, the same bytes as a run without --resume."""
    args = ["prune", real_models["smollm2-135m"], "--method", "wanda", "--text", text_dir,
            "--samples", "1", "--ctx", "128", "--type", "f16", "-o", "out.gguf"]
    ref_dir, dir_ = tmp_path / "ref", tmp_path / "resumed"
    ref_dir.mkdir()
    dir_.mkdir()
    run(mwanda_bin, *args, cwd=ref_dir)
    state = dir_ / "out.gguf.mwanda-state"
    p = subprocess.Popen([str(mwanda_bin.resolve()), *map(str, args), "--resume"], cwd=dir_,
                         stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    while p.poll() is None:
        try:
            if manifest(state)["blocks_done"] >= 3:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    p.kill()
    assert p.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    run(mwanda_bin, *args, "--resume", cwd=dir_)
    assert files_of(dir_ / "out.gguf") == files_of(ref_dir / "out.gguf")
