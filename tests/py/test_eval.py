"""mwanda eval --text DIR: per-language table and JSON, llama-perplexity's
windows, and bad input."""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "forward" / "udhr"


def run(mwanda_bin, *args, input=None):
    return subprocess.run([str(mwanda_bin), *map(str, args)], capture_output=True, text=True,
                          input=input)


def one_error_line(r):
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0
    assert len(lines) == 1 and lines[0].startswith("mwanda: error: "), r.stderr


def test_table_and_json(mwanda_bin, real_models, tmp_path):
    text = tmp_path / "text"
    text.mkdir()
    for lang in ("deu", "rus"):
        (text / f"{lang}.txt").write_text((DATA / f"{lang}.txt").read_text(encoding="utf-8"),
                                          encoding="utf-8")
    out = tmp_path / "r.json"
    r = run(mwanda_bin, "eval", "smollm2-135m", "--text", text, "--ctx", "64", "--json", out)
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if line.startswith("| deu") or
            line.startswith("| rus")]
    assert len(rows) == 2
    res = json.loads(out.read_text())
    assert res["ctx"] == 64 and set(res["languages"]) == {"deu", "rus"}
    for lang, v in res["languages"].items():
        size = len((text / f"{lang}.txt").read_bytes())
        # plain windows score every token once; SmolLM2 adds no BOS, so the
        # first token of each window has nothing to be predicted from
        assert v["tokens"] == v["text_tokens"] - math.ceil(v["text_tokens"] / 64)
        assert 0.9 * size < v["bytes"] < size
        assert math.isclose(v["ppl"], math.exp(v["nll"] / v["tokens"]), rel_tol=1e-9)
        assert math.isclose(v["bpb"], v["nll"] / math.log(2) / v["bytes"], rel_tol=1e-9)
        assert 1.0 < v["ppl"] < 1000.0
    # --langs picks a subset
    r = run(mwanda_bin, "eval", "smollm2-135m", "--text", text, "--ctx", "64", "--langs", "rus")
    assert r.returncode == 0 and "| rus" in r.stdout and "| deu" not in r.stdout
    # --max-windows scores the first windows only: the same sum as the
    # pre-tokenized first window alone
    out1 = tmp_path / "one.json"
    r = run(mwanda_bin, "eval", "smollm2-135m", "--text", text, "--ctx", "64", "--langs", "rus",
            "--max-windows", "1", "--json", out1)
    assert r.returncode == 0, r.stderr
    one = json.loads(out1.read_text())
    assert one["max_windows"] == 1 and one["languages"]["rus"]["tokens"] == 63
    ids = run(mwanda_bin, "tokenize", "smollm2-135m", input=(text / "rus.txt").read_text("utf-8"))
    first = tmp_path / "first.txt"
    first.write_text(json.dumps(json.loads(ids.stdout)[:64]))
    out2 = tmp_path / "ids.json"
    r = run(mwanda_bin, "eval", "smollm2-135m", "--tokens", first, "--ctx", "64", "--json", out2)
    assert r.returncode == 0, r.stderr
    nll_ids = next(iter(json.loads(out2.read_text())["languages"].values()))["nll"]
    assert math.isclose(one["languages"]["rus"]["nll"], nll_ids, rel_tol=1e-9)


def test_llamacpp_windows_match_llama_perplexity(mwanda_bin, real_models, llamacpp_bin,
                                                 tmp_path):
    """On the shipped quantized model, within 0.2% of llama-perplexity on the
    F32 copy (the issue's bar); the F32 copy is our own conversion, which is
    byte-identical to llama-quantize's (test_llamacpp_load)."""
    text = tmp_path / "text"
    text.mkdir()
    body = (DATA / "rus.txt").read_text(encoding="utf-8")
    (text / "rus.txt").write_text(body, encoding="utf-8")
    f32 = tmp_path / "f32.gguf"
    assert run(mwanda_bin, "convert", "smollm2-135m", f32).returncode == 0
    r = subprocess.run([str(llamacpp_bin / "llama-perplexity"), "-m", str(f32), "-f",
                        str(text / "rus.txt"), "-c", "32", "-t", "2", "--no-escape"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-1000:]
    ref = float(re.search(r"Final estimate: PPL = ([0-9.]+)", r.stdout + r.stderr).group(1))
    out = tmp_path / "r.json"
    r = run(mwanda_bin, "eval", "smollm2-135m", "--text", text, "--ctx", "32",
            "--llamacpp-windows", "--json", out)
    assert r.returncode == 0, r.stderr
    ours = json.loads(out.read_text())["languages"]["rus"]["ppl"]
    print(f"smollm2-135m rus ctx 32: mwanda {ours:.4f} vs llama-perplexity (F32) {ref:.4f}")
    assert abs(ours - ref) / ref < 0.002


def test_bad_text(mwanda_bin, real_models, tmp_path):
    for name, data in [("empty", b""), ("bad", b"Alle Menschen \xc3\x28 sind"),
                       ("nul", b"\x00")]:
        d = tmp_path / name
        d.mkdir()
        (d / "xx.txt").write_bytes(data)
        out = tmp_path / f"{name}.json"
        r = run(mwanda_bin, "eval", "smollm2-135m", "--text", d, "--json", out)
        one_error_line(r)
        assert not out.exists() and not list(tmp_path.glob("*.tmp-*"))
    r = run(mwanda_bin, "eval", "smollm2-135m", "--text", tmp_path / "missing")
    one_error_line(r)
    r = run(mwanda_bin, "eval", "smollm2-135m", "--text", tmp_path / "empty", "--ctx", "1")
    assert r.returncode == 2
    r = run(mwanda_bin, "eval", "smollm2-135m")
    assert r.returncode == 2
    r = run(mwanda_bin, "eval", "smollm2-135m", "--text", tmp_path / "empty", "--langs", "zz")
    one_error_line(r)
