"""The mwanda command line on bad input. Help and version succeed; a wrong
command line exits 2 and a failure exits 1, each with exactly one stderr
line starting 'mwanda: error: ', never a traceback or a sanitizer report;
a failed convert leaves neither its output nor a temporary file behind.

With MWANDA_MODELS set, truncated copies of the real models are tried too."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from test_gguf_compat import write_tiny_llama

BIN = os.environ.get("MWANDA_BIN")
pytestmark = pytest.mark.skipif(not BIN, reason="MWANDA_BIN is not set")
SUBCOMMANDS = ["tokenize", "eval", "calibrate", "prune", "report"]
NOISE = ("Traceback", "Sanitizer", "runtime error", "Segmentation", "Aborted", "core dumped")


def run(*args, env=None):
    e = dict(os.environ, **(env or {}))
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, env=e,
                          timeout=120)


def expect_error(args, code, part=None, env=None, stdout_empty=True):
    p = run(*args, env=env)
    lines = p.stderr.splitlines()
    assert p.returncode == code, f"{args}: exit {p.returncode}, stderr {p.stderr!r}"
    assert len(lines) == 1 and lines[0].startswith("mwanda: error: "), \
        f"{args}: stderr {p.stderr!r}"
    assert not any(n in p.stderr for n in NOISE), p.stderr
    if part:
        assert part in lines[0], f"{args}: {lines[0]!r} lacks {part!r}"
    if stdout_empty:
        assert p.stdout == "", f"{args}: stdout {p.stdout!r}"
    return lines[0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "tiny.gguf"
    write_tiny_llama(path, extra=False)
    return path


def test_help_and_version():
    cases = [["--help"], ["-h"], ["help"], ["--version"], ["-V"], ["inspect", "--help"],
             ["inspect", "-h"], ["convert", "--help"], ["convert", "x", "-h"]]
    cases += [[cmd, "--help"] for cmd in SUBCOMMANDS]
    for args in cases:
        p = run(*args)
        assert p.returncode == 0 and p.stderr == "" and p.stdout.strip(), args
    assert run("--version").stdout.startswith("mwanda ")
    print(f"help/version: {len(cases)} invocations exit 0 with output on stdout")


USAGE_ERRORS = [
    ([], "no command"),
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["--frob"], "unknown command '--frob'"),
    (["inspect"], "expected one MODEL"),
    (["inspect", "a", "b"], "expected one MODEL"),
    (["inspect", "--bogus", "m"], "unknown option '--bogus'"),
    (["inspect", "-x", "m"], "unknown option '-x'"),
    (["inspect", "m", "--json=yes"], "--json"),
    (["convert"], "expected IN and OUT"),
    (["convert", "a"], "expected IN and OUT"),
    (["convert", "a", "b", "c"], "expected IN and OUT"),
    (["convert", "a", "b", "--type", "q4_0"], "--type must be f32, f16 or bf16, not 'q4_0'"),
    (["convert", "a", "b", "--type", "f64"], "not 'f64'"),
    (["convert", "a", "b", "--type", ""], "--type must be"),
    (["convert", "a", "b", "--type"], "--type needs a value"),
    (["convert", "a", "b", "-t"], "--type needs a value"),
    (["convert", "a", "b", "--shard-size"], "--shard-size needs a value"),
    (["convert", "a", "b", "--shard-size", "abc"], "--shard-size 'abc' is not a size"),
    (["convert", "a", "b", "--shard-size", "-1"], "is not a size"),
    (["convert", "a", "b", "--shard-size", "5X"], "is not a size"),
    (["convert", "a", "b", "--shard-size", "1e30"], "is not a size"),
    (["convert", "a", "b", "--shard-size", "nan"], "is not a size"),
    (["convert", "a", "b", "--shard-size", "2GBB"], "is not a size"),
    (["convert", "a", "b", "--bogus"], "unknown option '--bogus'"),
    (["convert", "-x", "a", "b"], "unknown option '-x'"),
]


@pytest.mark.parametrize("args,part", USAGE_ERRORS, ids=[" ".join(a) or "-" for a, _ in
                                                         USAGE_ERRORS])
def test_usage_errors_exit_2(args, part):
    expect_error(args, 2, part)


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def expect_failure_everywhere(model: Path, part: str | None, tmp: Path):
    """inspect, inspect --json and convert (to GGUF and to a folder) all fail
    with one line; convert leaves nothing behind."""
    keep = {p.name for p in tmp.iterdir()}
    for args in (["inspect", model], ["inspect", model, "--json", "--metadata"]):
        expect_error(args, 1, part)
    for out in (tmp / "out.gguf", tmp / "out-folder"):
        expect_error(["convert", model, out], 1, part)
        assert leftovers(tmp, keep) == [], f"convert {model} left files"


def test_missing_and_empty_inputs(tmp_path):
    expect_failure_everywhere(tmp_path / "absent.gguf", "absent.gguf", tmp_path)
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    expect_failure_everywhere(empty, "not a GGUF file", tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    expect_failure_everywhere(text, "bad magic", tmp_path)
    folder = tmp_path / "folder"
    folder.mkdir()
    expect_failure_everywhere(folder, "config.json", tmp_path)
    (folder / "config.json").mkdir()  # a folder where the file should be
    expect_failure_everywhere(folder, "config.json", tmp_path)
    expect_error(["inspect", "gemma3-270m"], 1, "not installed",
                 env={"MWANDA_MODELS": str(tmp_path / "none")})


def test_truncated_tiny_model(tiny, tmp_path):
    data = tiny.read_bytes()
    assert run("inspect", tiny).returncode == 0
    offsets = sorted({int(len(data) * k / 50) for k in range(50)} | {1, 4, 8, 23, 24, 25})
    cut = tmp_path / "cut.gguf"
    messages = set()
    for n in offsets:
        cut.write_bytes(data[:n])
        messages.add(expect_error(["inspect", cut], 1, "cut.gguf"))
    # convert on a few of them, checking nothing is left behind
    for n in offsets[::10]:
        cut.write_bytes(data[:n])
        expect_error(["convert", cut, tmp_path / "o.gguf"], 1, "cut.gguf")
        expect_error(["convert", cut, tmp_path / "o-dir"], 1, "cut.gguf")
        assert leftovers(tmp_path, {"cut.gguf"}) == []
    print(f"truncation: {len(offsets)} cuts of a {len(data)}-byte model refused "
          f"({len(messages)} distinct messages)")


def test_models_that_are_not_usable(tmp_path):
    cases = [
        ({"arch": "mamba"}, "architecture 'mamba' is not supported"),
        ({"skip": "blk.1.ffn_down.weight"}, "missing tensor blk.1.ffn_down.weight"),
        ({"skip": "output_norm.weight"}, "missing tensor output_norm.weight"),
        ({"reshape": {"blk.0.attn_k.weight": (32, 32)}}, "tensor blk.0.attn_k.weight has shape"),
        ({"reshape": {"token_embd.weight": (16, 64)}}, "tensor token_embd.weight has shape"),
    ]
    for i, (kw, part) in enumerate(cases):
        path = tmp_path / f"bad{i}.gguf"
        write_tiny_llama(path, extra=False, **kw)
        expect_failure_everywhere(path, part, tmp_path)
    print(f"unusable models: {len(cases)} refused by inspect and convert")


LLAMA_CONFIG = {"model_type": "llama", "vocab_size": 16, "hidden_size": 32,
                "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                "num_key_value_heads": 2}


def test_bad_folders(tmp_path):
    def folder(name, config_text, st_bytes=None):
        d = tmp_path / name
        d.mkdir()
        (d / "config.json").write_text(config_text)
        if st_bytes is not None:
            (d / "model.safetensors").write_bytes(st_bytes)
        return d

    header = json.dumps({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    good_st = struct.pack("<Q", len(header)) + header + bytes(8)
    long_header = struct.pack("<Q", 4096) + header + bytes(8)
    cases = [
        (folder("notjson", "{not json", good_st), "not valid JSON"),
        (folder("array", "[1, 2]", good_st), "not an object"),
        (folder("mistral", json.dumps(dict(LLAMA_CONFIG, model_type="mistral")), good_st),
         "not supported"),
        (folder("nokeys", json.dumps({"model_type": "llama"}), good_st), "vocab_size"),
        (folder("noweights", json.dumps(LLAMA_CONFIG)), None),
        (folder("longheader", json.dumps(LLAMA_CONFIG), long_header), None),
        (folder("empty_st", json.dumps(LLAMA_CONFIG), b""), None),
        (folder("foreign", json.dumps(LLAMA_CONFIG), good_st), "'x'"),
    ]
    for d, part in cases:
        expect_failure_everywhere(d, part, tmp_path)
    print(f"bad folders: {len(cases)} refused by inspect and convert")


def test_convert_into_existing_output(tiny, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    expect_error(["convert", tiny, full], 1, "not empty")
    assert leftovers(full, set()) == ["keep.txt"] and (full / "keep.txt").read_text() == "mine"
    assert leftovers(tmp_path, {"full"}) == []
    plain = tmp_path / "file"
    plain.write_text("x")
    expect_error(["convert", tiny, plain], 1, "not a folder")
    expect_error(["convert", tiny, tmp_path / "missing" / "out.gguf"], 1, "cannot create")
    assert leftovers(tmp_path, {"full", "file"}) == []
    # an empty folder is fine, and so is replacing a GGUF file
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("convert", tiny, empty).returncode == 0
    out = tmp_path / "out.gguf"
    out.write_text("old")
    assert run("convert", tiny, out).returncode == 0
    assert out.read_bytes()[:4] == b"GGUF"
    assert leftovers(tmp_path, {"full", "file", "empty", "out.gguf"}) == []


REAL = ["gemma3-270m", "smollm2-135m"]


def data_end(path: Path) -> int:
    """Where the last byte of tensor data ends (gguf-py's reader takes half a
    minute on a 262k-token vocabulary; walking the header takes no time)."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType
    fixed = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    with open(path, "rb") as f:
        def u(fmt):
            return struct.unpack("<" + fmt, f.read(struct.calcsize(fmt)))[0]

        def skip(vtype, n=1):
            for _ in range(n):
                if vtype == 8:
                    f.seek(u("Q"), 1)
                elif vtype == 9:
                    et, count = u("I"), u("Q")
                    if et == 8:
                        skip(8, count)
                    else:
                        f.seek(fixed[et] * count, 1)
                else:
                    f.seek(fixed[vtype], 1)
        align = 32
        f.seek(8)
        n_t, n_kv = u("Q"), u("Q")
        for _ in range(n_kv):
            key = f.read(u("Q"))
            vtype = u("I")
            if key == b"general.alignment":
                align = u("I")
            else:
                skip(vtype)
        end = 0
        for _ in range(n_t):
            f.seek(u("Q"), 1)
            ne = [u("Q") for _ in range(u("I"))]
            block, size = GGML_QUANT_SIZES[GGMLQuantizationType(u("I"))]
            n = 1
            for d in ne:
                n *= d
            end = max(end, u("Q") + n // block * size)
        return -(-f.tell() // align) * align + end


@pytest.mark.skipif(not os.environ.get("MWANDA_MODELS"), reason="MWANDA_MODELS is not set")
@pytest.mark.parametrize("name", REAL)
def test_truncated_real_model(name, tmp_path):
    src = Path(os.environ["MWANDA_MODELS"]) / f"{name}.gguf"
    if not src.exists():
        pytest.skip(f"{src} is not installed")
    size = src.stat().st_size
    cut = tmp_path / "cut.gguf"
    n_cuts = 0
    with open(src, "rb") as f:
        head = f.read(1 << 20)
    for n in (0, 7, 24, 1000, 100_000, (1 << 20) - 3):
        cut.write_bytes(head[:n])
        expect_error(["inspect", cut], 1, "cut.gguf")
        n_cuts += 1
    for n in (size // 2, data_end(src) - 1):
        shutil.copyfile(src, cut)
        os.truncate(cut, n)
        expect_error(["inspect", cut], 1, "past the end")
        expect_error(["convert", cut, tmp_path / "o.gguf"], 1, "cut.gguf")
        n_cuts += 1
    assert leftovers(tmp_path, {"cut.gguf"}) == []
    shutil.copyfile(src, cut)
    os.truncate(cut, data_end(src))  # all data there: fine without the final padding
    assert run("inspect", cut).returncode == 0
    print(f"{name}: {n_cuts} truncated copies refused")
