"""mwanda calibrate: the statistics against llama-imatrix and against an
independent numpy forward pass, llama.cpp's tools reading our file, merging,
and bad input.

Text: the tokenizer test texts (tests/data/tok/texts.jsonl) grouped by script
into pseudo-languages, so that each holds a few hundred tokens.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader

SOURCE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(SOURCE / "scripts"))
from ref_forward import RefModel  # noqa: E402

TEXTS = SOURCE / "tests" / "data" / "tok" / "texts.jsonl"
SCRIPTS = {"lat": "Latin", "cyr": "Cyrillic", "deva": "Devanagari", "grek": "Greek"}
INPUTS = ("attn", "attn_out", "ffn", "ffn_down")
LINEARS = {"attn_q": "attn", "attn_k": "attn", "attn_v": "attn", "attn_output": "attn_out",
           "ffn_gate": "ffn", "ffn_up": "ffn", "ffn_down": "ffn_down"}


def run(mwanda_bin, *args, **kw):
    return subprocess.run([str(mwanda_bin), *map(str, args)], capture_output=True, text=True,
                          **kw)


def one_error_line(r):
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0
    assert len(lines) == 1 and lines[0].startswith("mwanda: error: "), r.stderr


def texts_by_script() -> dict[str, str]:
    by: dict[str, list[str]] = {}
    for line in TEXTS.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        d = json.loads(line)
        by.setdefault(d["script"], []).append(d["text"])
    return {code: "\n\n".join(by[s]) + "\n" for code, s in SCRIPTS.items()}


@pytest.fixture(scope="module")
def text_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("text")
    for code, body in texts_by_script().items():
        (d / f"{code}.txt").write_text(body, encoding="utf-8")
    return d


def tensors(path: Path) -> dict[str, np.ndarray]:
    """name -> values as [ne1][ne0] (GGUF dimensions reversed, a missing
    second one taken as 1)."""
    out = {}
    for t in GGUFReader(str(path)).tensors:
        ne = [int(x) for x in t.shape] + [1]
        out[t.name] = np.array(t.data, dtype=np.float64).reshape(ne[1], ne[0])
    return out


def field(path: Path, key: str):
    f = GGUFReader(str(path)).fields[key]
    return f.contents()


def rel_l1(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).sum() / max(np.abs(b).sum(), 1e-300))


@pytest.fixture(scope="module")
def f32_copies(real_models, llamacpp_bin, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("f32")
    out = {}
    for alias, path in real_models.items():
        out[alias] = d / f"{alias}-f32.gguf"
        r = subprocess.run([str(llamacpp_bin / "llama-quantize"), "--allow-requantize", str(path),
                            str(out[alias]), "F32"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-1000:]
    return out


@pytest.mark.parametrize("alias", ["gemma3-270m", "smollm2-135m"])
def test_llamacpp_windows_match_llama_imatrix(alias, mwanda_bin, f32_copies, llamacpp_bin,
                                              text_dir, tmp_path):
    """Pooled in_sum2 and counts equal llama-imatrix's on the F32 copy. Its
    KV cache is made F32 (-ctk/-ctv f32, no flash attention): with the default
    F16 cache the attention outputs llama.cpp sees are rounded to f16, which
    alone moves attn_output's sums by up to ~1e-3 on Gemma."""
    ref = tmp_path / "ref.gguf"
    r = subprocess.run([str(llamacpp_bin / "llama-imatrix"), "-m", str(f32_copies[alias]),
                        "-f", str(text_dir / "lat.txt"), "-c", "64", "--chunks", "2", "-t", "2",
                        "--no-ppl", "-fa", "off", "-ctk", "f32", "-ctv", "f32", "-o", str(ref)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    ours = tmp_path / "ours.gguf"
    r = run(mwanda_bin, "calibrate", alias, "--text", text_dir, "--langs", "lat", "--ctx", "64",
            "--samples", "2", "--llamacpp-windows", "--threads", "2", "-o", ours)
    assert r.returncode == 0, r.stderr
    R, O = tensors(ref), tensors(ours)
    assert set(R) == {k for k in O if k.endswith((".in_sum2", ".counts"))}
    worst, worst_name = 0.0, ""
    for name, v in R.items():
        assert O[name].shape == v.shape, name
        if name.endswith(".counts"):
            assert np.array_equal(O[name], v) and v.item() == 128, name
            continue
        d = rel_l1(O[name], v)
        if d > worst:
            worst, worst_name = d, name
    print(f"{alias}: worst relative L1 difference {worst:.2e} ({worst_name})")
    assert worst < 1e-3
    assert field(ours, "imatrix.chunk_count") == 2 and field(ours, "imatrix.chunk_size") == 64


def test_llamacpp_tools_read_our_file(mwanda_bin, f32_copies, llamacpp_bin, text_dir, tmp_path):
    stats = tmp_path / "s.gguf"
    r = run(mwanda_bin, "calibrate", "smollm2-135m", "--text", text_dir, "--langs", "lat,cyr",
            "--ctx", "32", "--samples", "2", "-o", stats)
    assert r.returncode == 0, r.stderr
    # Q4_K takes the importance weights into its rounding: the file is used,
    # not just parsed, when the result differs from a quantization without it
    q, plain = tmp_path / "q.gguf", tmp_path / "plain.gguf"
    quantize = [str(llamacpp_bin / "llama-quantize")]
    r = subprocess.run(quantize + ["--imatrix", str(stats), str(f32_copies["smollm2-135m"]),
                                   str(q), "Q4_K_M", "2"], capture_output=True, text=True)
    assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]
    n_layer = 30
    assert f"loaded {7 * n_layer} importance matrix entries" in r.stdout + r.stderr
    r = subprocess.run(quantize + [str(f32_copies["smollm2-135m"]), str(plain), "Q4_K_M", "2"],
                       capture_output=True, text=True)
    assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]
    Q, P = GGUFReader(str(q)), GGUFReader(str(plain))
    name = "blk.5.ffn_gate.weight"
    tq = next(t for t in Q.tensors if t.name == name)
    tp = next(t for t in P.tensors if t.name == name)
    assert tq.tensor_type == tp.tensor_type and not np.array_equal(tq.data, tp.data)
    # llama-imatrix takes it as a previous matrix: combined with itself, sums double
    both = tmp_path / "both.gguf"
    r = subprocess.run([str(llamacpp_bin / "llama-imatrix"), "-m", str(f32_copies["smollm2-135m"]),
                        "--in-file", str(stats), "--in-file", str(stats), "-o", str(both)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    S, B = tensors(stats), tensors(both)
    for name in ("blk.3.ffn_down.weight.in_sum2", "blk.0.attn_k.weight.counts"):
        assert np.allclose(B[name], 2 * S[name], rtol=1e-6)


def lang_tensors(T: dict, n_layer: int, langs: list[str]) -> dict:
    """(block, input, quantity) -> {lang: vector}."""
    out = {}
    for b in range(n_layer):
        for i in INPUTS:
            for q in ("sum2", "sum", "pos", "tokens"):
                a = T[f"blk.{b}.mw.{i}.{q}"]
                out[(b, i, q)] = {lang: a[k] for k, lang in enumerate(langs)}
    return out


def test_merge_of_halves_equals_whole(mwanda_bin, real_models, text_dir, tmp_path):
    common = ("--ctx", "32", "--samples", "3", "--seed", "7", "--threads", "2")
    files = {}
    for name, langs in (("whole", "lat,cyr,deva"), ("a", "lat,deva"), ("b", "cyr")):
        files[name] = tmp_path / f"{name}.gguf"
        r = run(mwanda_bin, "calibrate", "gemma3-270m", "--text", text_dir, "--langs", langs,
                *common, "-o", files[name])
        assert r.returncode == 0, r.stderr
    merged = tmp_path / "merged.gguf"
    r = run(mwanda_bin, "calibrate", "--merge", files["a"], files["b"], "-o", merged)
    assert r.returncode == 0, r.stderr
    assert "| cyr | 3 | 96 |" in r.stdout
    W, M = tensors(files["whole"]), tensors(merged)
    assert set(W) == set(M)
    assert field(merged, "mwanda.calib.languages") == ["cyr", "deva", "lat"]
    assert field(merged, "imatrix.chunk_count") == 9
    worst = 0.0
    for name, v in W.items():
        if ".mw." in name:
            worst = max(worst, float(np.max(np.abs(M[name] - v) / np.maximum(np.abs(v), 1e-300))))
        else:  # pooled f32: the same double sums rounded once
            assert np.allclose(M[name], v, rtol=2e-7, atol=0), name
    print(f"merged halves vs whole: max relative difference {worst:.2e}")
    assert worst < 1e-9

    # (d) per-language sums add up to the pooled imatrix tensors
    n_layer = 18
    L = lang_tensors(W, n_layer, ["cyr", "deva", "lat"])
    for b in range(n_layer):
        for lin, inp in LINEARS.items():
            pooled = W[f"blk.{b}.{lin}.weight.in_sum2"][0]
            total = sum(L[(b, inp, "sum2")].values())
            assert np.allclose(pooled, total, rtol=1e-6, atol=0), (b, lin)
            count = W[f"blk.{b}.{lin}.weight.counts"].item()
            assert count == sum(x.item() for x in L[(b, inp, "tokens")].values()) == 9 * 32


def tokenize(mwanda_bin, model: Path, text: str) -> list[int]:
    r = subprocess.run([str(mwanda_bin), "tokenize", str(model)], input=text,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("family", ["llama", "gemma3", "qwen2"])
def test_numpy_reference(family, mwanda_bin, tiny_models, tmp_path):
    """Every window through scripts/ref_forward.py (float64, Hugging Face
    semantics): per-language sum of x^2, sum of x, count of x > 0, tokens."""
    T = 16
    texts = {k: v[:160] for k, v in texts_by_script().items() if k in ("lat", "grek")}
    d = tmp_path / "text"
    d.mkdir()
    for code, body in texts.items():
        (d / f"{code}.txt").write_text(body, encoding="utf-8")
    model = tiny_models.gguf(family)
    out = tmp_path / "s.gguf"
    r = run(mwanda_bin, "calibrate", model, "--text", d, "--ctx", T, "--samples", "all", "-o", out)
    assert r.returncode == 0, r.stderr
    g = GGUFReader(str(model))
    add_bos = "tokenizer.ggml.add_bos_token" in g.fields and \
        g.fields["tokenizer.ggml.add_bos_token"].contents()
    bos = g.fields["tokenizer.ggml.bos_token_id"].contents()
    ref = RefModel(tiny_models.hf(family))
    langs = sorted(texts)
    n_layer = ref.n_layer
    got = lang_tensors(tensors(out), n_layer, langs)
    for lang in langs:
        ids = tokenize(mwanda_bin, model, texts[lang])
        per = T - 1 if add_bos else T
        windows = [([bos] if add_bos else []) + ids[k * per:(k + 1) * per]
                   for k in range(len(ids) // per)]
        assert field(out, "mwanda.calib.windows")[langs.index(lang)] == len(windows)
        acc: dict = {}
        for w in windows:
            taps: dict = {}
            ref.forward(w, taps)
            for (b, name), x in taps.items():
                a = acc.setdefault((b, name), {"sum2": 0, "sum": 0, "abs": 0, "pos": 0, "amb": 0,
                                               "tokens": 0})
                a["sum2"] = a["sum2"] + (x * x).sum(0)
                a["sum"] = a["sum"] + x.sum(0)
                a["abs"] = a["abs"] + np.abs(x).sum(0)
                a["pos"] = a["pos"] + (x > 0).sum(0)
                a["amb"] = a["amb"] + (np.abs(x) < 1e-4 * np.abs(x).max()).sum(0)
                a["tokens"] += x.shape[0]
        worst = 0.0
        for (b, name), a in acc.items():
            g2, g1 = got[(b, name, "sum2")][lang], got[(b, name, "sum")][lang]
            gp, gt = got[(b, name, "pos")][lang], got[(b, name, "tokens")][lang]
            worst = max(worst, float(np.max(np.abs(g2 - a["sum2"]) / a["sum2"])))
            assert np.all(np.abs(g1 - a["sum"]) <= 1e-4 * a["abs"]), (b, name)
            # a count may differ only where x is within rounding of zero
            assert np.all(np.abs(gp - a["pos"]) <= a["amb"]), (b, name)
            assert gt.item() == a["tokens"] == len(windows) * T
        print(f"{family} {lang}: sum of x^2 within {worst:.1e} of numpy")
        assert worst < 1e-4


def test_bad_input(mwanda_bin, real_models, text_dir, tmp_path):
    out = tmp_path / "o.gguf"
    base = ("calibrate", "smollm2-135m")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "xx.txt").write_bytes(b"")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "xx.txt").write_bytes(b"Alle Menschen \xc3\x28 sind frei und gleich " * 50)
    short = tmp_path / "short"
    short.mkdir()
    (short / "xx.txt").write_text("Hallo Welt", encoding="utf-8")
    cases = [
        (*base, "--text", tmp_path / "missing", "-o", out),
        (*base, "--text", tmp_path, "-o", out),  # no <lang>.txt
        (*base, "--text", empty, "-o", out),
        (*base, "--text", bad, "-o", out),
        (*base, "--text", short, "-o", out),
        (*base, "--text", text_dir, "--langs", "lat,zz", "-o", out),
        (*base, "--text", text_dir, "--langs", "lat", "-o", tmp_path / "no" / "dir" / "o.gguf"),
        (*base, "--text", text_dir, "--langs", "lat", "-o", tmp_path),
        ("calibrate", "--merge", tmp_path / "missing.gguf", "-o", out),
        ("calibrate", "--merge", text_dir / "lat.txt", "-o", out),
    ]
    for args in cases:
        r = run(mwanda_bin, *args)
        one_error_line(r)
        assert r.returncode == 1, args
    usage = [
        (*base, "--text", text_dir, "--ctx", "1", "-o", out),
        (*base, "--text", text_dir, "--samples", "0", "-o", out),
        (*base, "--text", text_dir, "--samples", "many", "-o", out),
        (*base, "--text", text_dir, "--seed", "-3", "-o", out),
        (*base, "--text", text_dir, "--threads", "0", "-o", out),
        (*base, "--text", text_dir),  # no -o
        ("calibrate", "--merge", "-o", out),
        ("calibrate", "-o", out),
    ]
    for args in usage:
        r = run(mwanda_bin, *args)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not out.exists() and not list(tmp_path.glob("*.tmp-*"))
    # statistics of another model are refused when merging
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    for model, f in (("smollm2-135m", a), ("gemma3-270m", b)):
        r = run(mwanda_bin, "calibrate", model, "--text", text_dir, "--langs", "lat", "--ctx",
                "16", "--samples", "1", "-o", f)
        assert r.returncode == 0, r.stderr
    r = run(mwanda_bin, "calibrate", "--merge", a, b, "-o", out)
    one_error_line(r)
    assert not out.exists()
    assert run(mwanda_bin, "calibrate", "--help").returncode == 0


def test_default_text_from_mwanda_data(mwanda_bin, real_models, text_dir, tmp_path):
    data = tmp_path / "data"
    (data / "corpus").mkdir(parents=True)
    (data / "corpus" / "calib").symlink_to(text_dir)
    out = tmp_path / "s.gguf"
    r = run(mwanda_bin, "calibrate", "smollm2-135m", "--langs", "grek", "--ctx", "16",
            "--samples", "2", "-o", out, env={**os.environ, "MWANDA_DATA": str(data)})
    assert r.returncode == 0, r.stderr
    assert field(out, "mwanda.calib.languages") == ["grek"]
    assert math.isclose(tensors(out)["blk.0.mw.attn.tokens"].item(), 32)
