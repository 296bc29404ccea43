"""mwanda calibrate and prune across processes (mpirun, Open MPI): the same
statistics file and the same pruned model, byte for byte, as one process, on
tiny models and on the default model; a rank that fails or dies makes the run
fail with one error line and leaves no output; --resume continues a killed
run to the same bytes.

Skipped when mwanda was built without MPI (its --version then lacks "(MPI)")
or mpirun is missing; scripts/setup.sh installs Open MPI, so CI runs them.
Ranks run one OpenMP thread each and share the cores (--oversubscribe); the
one-process runs use two threads, so the comparison also crosses thread
counts. The failure cases use the test hook MWANDA_MPI_TEST_FAIL=R:B[:kill]
(src/calib/mpi.h, docs/scaling.md).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

MPIRUN = shutil.which("mpirun")

# Article 1 of the UDHR in three scripts; the tiny models' byte-level
# vocabularies make about one token per byte.
TEXTS = {
    "en": "All human beings are born free and equal in dignity and rights. They are "
          "endowed with reason and conscience and should act towards one another in a "
          "spirit of brotherhood. ",
    "el": "Όλοι οι άνθρωποι γεννιούνται ελεύθεροι και ίσοι στην αξιοπρέπεια και τα "
          "δικαιώματα. Είναι προικισμένοι με λογική και συνείδηση. ",
    "ru": "Все люди рождаются свободными и равными в своем достоинстве и правах. Они "
          "наделены разумом и совестью. ",
}


@pytest.fixture(scope="module")
def mpi(mwanda_bin):
    if not MPIRUN:
        pytest.skip("mpirun is not installed (Debian: openmpi-bin)")
    v = subprocess.run([str(mwanda_bin), "--version"], capture_output=True, text=True).stdout
    if "(MPI)" not in v:
        pytest.skip(f"mwanda was built without MPI ({v.strip()})")
    return Path(mwanda_bin).resolve()  # the runs change folders


@pytest.fixture(scope="module")
def text_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("text")
    for lang, t in TEXTS.items():
        (d / f"{lang}.txt").write_text(t * 8, encoding="utf-8")
    return d


# In sanitizer builds, LeakSanitizer's own thread-stopping tracer now and then
# dies with SIGSEGV at exit in a process that holds Open MPI's threads: not a
# leak report and not mwanda's error (a known LSan flake; it failed one CI
# run, and 15 runs of that command in a row did not repeat it). Such a run is
# repeated; a leak report, an error or a crash of mwanda itself is not.
LSAN_TRIES = 3


def lsan_tracer_crashed(r):
    out = r.stdout + r.stderr
    return (r.returncode != 0 and "Tracer caught signal" in out and
            "LeakSanitizer has encountered a fatal error" in out)


def mpirun(n, bin_, args, cwd, fail=None, extra=None, env_add=None):
    """mpirun -np n mwanda args (then ':' and the extra ranks' own args);
    env_add: more environment for every rank."""
    env = dict(os.environ, OMP_NUM_THREADS="1", **(env_add or {}))
    cmd = [MPIRUN, "--oversubscribe", "--bind-to", "none"]
    if os.geteuid() == 0:  # Open MPI refuses root without both of these
        cmd.append("--allow-run-as-root")
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    # sanitizer builds: Open MPI's own leaks are suppressed by library name,
    # which needs full stacks (its libraries have no frame pointers)
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":fast_unwind_on_malloc=0"
    env["LSAN_OPTIONS"] = (env.get("LSAN_OPTIONS", "") +
                           f":suppressions={Path(__file__).with_name('lsan_mpi.supp')}")
    env.pop("MWANDA_MPI_TEST_FAIL", None)
    if fail:
        env["MWANDA_MPI_TEST_FAIL"] = fail
    for k in ("OMP_NUM_THREADS", "MWANDA_MPI_TEST_FAIL", "ASAN_OPTIONS", "LSAN_OPTIONS",
              *(env_add or {})):
        if k in env:
            cmd += ["-x", k]
    cmd += ["-np", str(n), str(bin_), *map(str, args)]
    if extra:
        cmd += [":", "-np", "1", str(bin_), *map(str, extra)]
    for _ in range(LSAN_TRIES):
        r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        if not lsan_tracer_crashed(r):
            break
        print(f"LeakSanitizer's tracer crashed at exit; running again: {' '.join(cmd[-3:])}")
    return r


def one_process(bin_, args, cwd):
    return subprocess.run([str(bin_), *map(str, args), "--threads", "2"], cwd=cwd,
                          capture_output=True, text=True)


def same_outputs(bin_, args, files, tmp_path, nps):
    """Runs args in one process and under mpirun -np n for n in nps, each in
    its own folder (relative output names, so the JSON reports match too);
    asserts every file is byte-identical. Returns the one-process stdout."""
    ref = tmp_path / "one"
    ref.mkdir(parents=True)
    r = one_process(bin_, args, ref)
    assert r.returncode == 0, r.stderr[-2000:]
    for n in nps:
        d = tmp_path / f"np{n}"
        d.mkdir()
        m = mpirun(n, bin_, args, d)
        assert m.returncode == 0, (m.stdout + m.stderr)[-3000:]
        assert m.stdout == r.stdout  # rank 0 prints what one process prints
        for f in files:
            a, b = (ref / f).read_bytes(), (d / f).read_bytes()
            assert a == b, f"{f}: {n} processes differ from one ({len(a)} vs {len(b)} bytes)"
        print(f"np {n}: {', '.join(files)} identical to one process")
    return r.stdout


def error_lines(r):
    return [l for l in r.stderr.splitlines() if l.startswith("mwanda: error:")]


@pytest.mark.parametrize("family", ["llama", "gemma3"])
def test_tiny_same_as_one_process(mpi, tiny_models, text_dir, tmp_path, family):
    """9 windows (3 languages x 3): 2 ranks split a language, 3 ranks hold
    3 each; with 1 window per language, 4 ranks leave one without windows."""
    model = tiny_models.gguf(family)
    win = ("--text", text_dir, "--ctx", "32", "--seed", "5")
    same_outputs(mpi, ("calibrate", model, *win, "--samples", "3", "-o", "s.gguf"), ["s.gguf"],
                 tmp_path / "cal", [2, 3])
    # M-Wanda with CWL: a dense pass, then the sequential one
    same_outputs(mpi, ("prune", model, "--method", "mwanda", *win, "--samples", "3", "--json",
                       "p.json", "-o", "p.gguf"), ["p.gguf", "p.json"], tmp_path / "mw", [2, 3])
    same_outputs(mpi, ("prune", model, "--method", "wanda", *win, "--samples", "1", "--json",
                       "p.json", "-o", "p.gguf"), ["p.gguf", "p.json"], tmp_path / "w", [4])
    # without windows to share, rank 0 does the work alone
    same_outputs(mpi, ("prune", model, "--method", "magnitude", "-o", "m.gguf"), ["m.gguf"],
                 tmp_path / "mag", [2])


def test_default_model_same_as_one_process(mpi, real_models, text_dir, tmp_path):
    """gemma3-270m, 2 languages x 2 windows of 64 tokens."""
    win = ("--text", text_dir, "--langs", "en,ru", "--ctx", "64", "--samples", "2")
    out = same_outputs(mpi, ("calibrate", "gemma3-270m", *win, "-o", "s.gguf"), ["s.gguf"],
                       tmp_path / "cal", [2])
    assert "| en | 2 | 128 |" in out
    same_outputs(mpi, ("prune", "gemma3-270m", "--method", "wanda", *win, "--type", "bf16",
                       "--json", "p.json", "-o", "p.gguf"), ["p.gguf", "p.json"],
                 tmp_path / "prune", [2])


def test_failing_rank(mpi, tiny_models, text_dir, tmp_path):
    """A rank that fails at a block boundary, one that fails before the run
    (its text is missing), and one that dies: the run fails, no output."""
    model = tiny_models.gguf("gemma3")  # 6 blocks
    prune = ("prune", model, "--method", "mwanda", "--text", text_dir, "--ctx", "32",
             "--samples", "3", "--json", "p.json", "-o", "p.gguf")
    calib = ("calibrate", model, "--text", text_dir, "--ctx", "32", "--samples", "3",
             "-o", "s.gguf")
    cases = {
        "rank1-block2": (prune, "1:2", "rank 1 of 2: failed at block 2"),
        "rank0-block1": (calib, "0:1", "failed at block 1"),
        "rank1-no-text": (prune[:4] + ("--text", tmp_path / "missing") + prune[6:], None,
                          "rank 1 of 2: cannot open"),
        # rank 0 stops before the run; the others learn of it at block 0
        "rank0-no-output": (calib[:-1] + (tmp_path / "missing" / "s.gguf",), None,
                            "cannot write"),
    }
    for name, (args, fail, want) in cases.items():
        d = tmp_path / name
        d.mkdir()
        if name == "rank1-no-text":  # MPMD: rank 0 gets good text, rank 1 none
            r = mpirun(1, mpi, prune, d, extra=args)
        else:
            r = mpirun(2, mpi, args, d, fail=fail)
        assert r.returncode != 0, name
        lines = error_lines(r)
        assert len(lines) == 1 and want in lines[0], (name, r.stderr[-3000:])
        assert sorted(os.listdir(d)) == [], (name, os.listdir(d))
        print(f"{name}: exit {r.returncode}, {lines[0]}")

    # a rank killed at block 2 of sequential Wanda, while rank 0 writes the
    # model: mpirun ends the job (SIGTERM, then SIGKILL, to rank 0, which
    # waits for the dead rank), and rank 0's handler removes its temporary
    # file at the SIGTERM: nothing is left
    d = tmp_path / "killed"
    d.mkdir()
    r = mpirun(2, mpi, prune[:3] + ("wanda",) + prune[4:], d, fail="1:2:kill")
    assert r.returncode != 0
    assert sorted(os.listdir(d)) == []
    print(f"killed rank: exit {r.returncode}")

    # commands that do not run across processes say so
    r = mpirun(2, mpi, ("inspect", model), tmp_path)
    assert r.returncode == 2 and len(error_lines(r)) == 1, r.stderr[-2000:]
    assert "only calibrate, prune and eval run" in error_lines(r)[0]


def test_resume_across_processes(mpi, tiny_models, text_dir, tmp_path):
    """--resume under mpirun: every rank killed (SIGKILL, the CLI's test hook
    MWANDA_TEST_KILL_AFTER_BLOCK) at known points, the run continued by the
    same command, and the output the bytes of one uninterrupted process; a
    state of 2 processes is refused by 1 or 3."""
    model = tiny_models.gguf("gemma3")  # 6 blocks
    win = ("--text", text_dir, "--ctx", "32", "--samples", "3", "--seed", "5")
    cases = {
        # M-Wanda with CWL: the dense pass (0), then the sequential one (1)
        "prune": (("prune", model, "--method", "mwanda", *win, "--json", "p.json",
                   "-o", "p.gguf"), ["p.gguf", "p.json"], (2, 5), [(0, 2), (1, 1)]),
        "calibrate": (("calibrate", model, *win, "-o", "s.gguf"), ["s.gguf"], (3,), [(0, 3)]),
    }
    for name, (args, files, points, states) in cases.items():
        ref, d = tmp_path / name / "one", tmp_path / name / "np2"
        ref.mkdir(parents=True)
        d.mkdir()
        r = one_process(mpi, args, ref)
        assert r.returncode == 0, r.stderr[-2000:]
        state = d / f"{files[0]}.mwanda-state"
        seen = []
        for k in points:
            r = mpirun(2, mpi, (*args, "--resume"), d,
                       env_add={"MWANDA_TEST_KILL_AFTER_BLOCK": str(k)})
            assert r.returncode != 0, (r.stdout + r.stderr)[-2000:]
            assert not (d / files[0]).exists()
            m = json.loads((state / "manifest.json").read_text())
            seen.append((m["pass"], m["blocks_done"]))
            assert m["options"]["processes"] == "2"
            assert {"activations-rank-0.bin", "activations-rank-1.bin"} <= set(os.listdir(state))
        assert seen == states, name
        # another number of processes cannot use the ranks' activation files
        r = one_process(mpi, (*args, "--resume"), d)
        assert r.returncode == 1 and "processes: 2 there, none here" in r.stderr, r.stderr
        r = mpirun(3, mpi, (*args, "--resume"), d)
        assert r.returncode != 0
        assert "processes: 2 there, 3 here" in error_lines(r)[0], r.stderr[-2000:]
        r = mpirun(2, mpi, (*args, "--resume"), d)
        assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
        assert sorted(os.listdir(d)) == sorted(files), "the state is removed at the end"
        for f in files:
            assert (d / f).read_bytes() == (ref / f).read_bytes(), f"{name}: {f} differs"
        print(f"{name}: killed at {seen}, resumed, identical to one process")


def test_tasks_same_as_one_process(mpi, tiny_models, tmp_path):
    """eval --tasks: the items split over the processes, rank 0 reporting the
    table, the JSON and every item's log-likelihoods as one process does,
    byte for byte; more processes than items leaves some without any."""
    tasks = Path(os.environ.get("MWANDA_SOURCE") or Path(__file__).resolve().parents[2])
    tasks = tasks / "data" / "tasks" / "valid.jsonl"
    sel = ("--tasks", tasks, "--limit", "2", "--langs", "de,en,sw")
    for family in ("gemma3", "llama"):
        same_outputs(mpi, ("eval", tiny_models.gguf(family), *sel, "--json", "t.json",
                           "--items", "i.json"), ["t.json", "i.json"], tmp_path / family, [2, 3])
    three = tmp_path / "three.jsonl"
    three.write_text("".join(tasks.read_text(encoding="utf-8").splitlines(True)[:3]),
                     encoding="utf-8")
    same_outputs(mpi, ("eval", tiny_models.gguf("gemma3"), "--tasks", three, "--items", "i.json"),
                 ["i.json"], tmp_path / "few", [4])


def test_eval_failures_across_processes(mpi, tiny_models, tmp_path):
    tasks = tmp_path / "t.jsonl"
    tasks.write_text('{"lang": "en", "context": "a", "choices": [" b", " c"], "label": 0}\n' * 4)
    model = tiny_models.gguf("gemma3")
    r = mpirun(2, mpi, ("eval", model, "--tasks", tasks, "--json", "t.json"), tmp_path,
               fail="1:0")
    assert r.returncode != 0
    lines = error_lines(r)
    assert len(lines) == 1 and "rank 1 of 2: failed at block 0" in lines[0], r.stderr[-2000:]
    assert not (tmp_path / "t.json").exists()


def test_perplexity_same_as_one_process(mpi, tiny_models, tmp_path):
    """eval --text: ranks run contiguous parts of one process's batches of
    windows (8192 tokens each: about 12k tokens of text make 2), rank 0 adds
    every position in order; the table and JSON are one process's bytes."""
    text = tmp_path / "text"
    text.mkdir()
    for lang, t in TEXTS.items():
        (text / f"{lang}.txt").write_text(t * (60 if lang == "en" else 8), encoding="utf-8")
    for family in ("gemma3", "llama"):
        same_outputs(mpi, ("eval", tiny_models.gguf(family), "--text", text, "--ctx", "32",
                           "--json", "p.json"), ["p.json"], tmp_path / family, [2, 3])
    same_outputs(mpi, ("eval", tiny_models.gguf("llama"), "--text", text, "--ctx", "64",
                       "--llamacpp-windows", "--json", "p.json"), ["p.json"],
                 tmp_path / "llamacpp", [2])
