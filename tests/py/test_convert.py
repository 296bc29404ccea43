"""mwanda convert against independent references.

Tiny models: make_tiny_models.py writes each family twice from the same
weights -- a GGUF with gguf-py's writer and a Hugging Face folder with the
safetensors package, applying llama.cpp's two layout conventions itself in
numpy -- so converting one into the other must reproduce the other exactly.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader
from gguf.quants import dequantize
from safetensors.numpy import load_file


def run(mwanda_bin, *args, ok=True):
    r = subprocess.run([str(mwanda_bin), *map(str, args)], capture_output=True, text=True)
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def gguf_tensors(path: Path) -> dict[str, np.ndarray]:
    """name -> f32 values in numpy (row-major, GGUF dims reversed)."""
    out = {}
    for t in GGUFReader(path).tensors:
        out[t.name] = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(
            [int(d) for d in reversed(t.shape)])
    return out


def gguf_fields(path: Path) -> dict[str, object]:
    r = GGUFReader(path)
    out = {}
    for name, f in r.fields.items():
        if name.startswith("GGUF."):
            continue
        out[name] = f.contents()
    return out


def hf_tensors(folder: Path) -> dict[str, np.ndarray]:
    index = folder / "model.safetensors.index.json"
    files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() \
        else ["model.safetensors"]
    out = {}
    for f in files:
        for k, v in load_file(str(folder / f)).items():
            out[k] = v.astype(np.float32) if v.dtype != np.uint16 else v
    return out


def assert_same_tensors(a: dict, b: dict, what: str):
    assert sorted(a) == sorted(b), f"{what}: tensor names differ"
    worst = 0.0
    for name in a:
        assert a[name].shape == b[name].shape, f"{what}: {name} shape {a[name].shape} vs {b[name].shape}"
        if not np.array_equal(a[name], b[name]):
            worst = max(worst, float(np.max(np.abs(a[name] - b[name]))))
            pytest.fail(f"{what}: {name} differs, maxdiff = {worst}")
    print(f"{what}: {len(a)} tensors, maxdiff = {worst}")


FAMILIES = ["llama", "qwen2", "qwen3", "gemma3"]


@pytest.mark.parametrize("family", FAMILIES)
def test_gguf_to_hf_matches_reference(mwanda_bin, tiny_models, tmp_path, family):
    out = tmp_path / "hf"
    run(mwanda_bin, "convert", tiny_models.gguf(family), out)
    ref = hf_tensors(tiny_models.hf(family))
    assert_same_tensors(hf_tensors(out), ref, f"{family} GGUF->HF")
    ours = json.loads((out / "config.json").read_text())
    theirs = json.loads((tiny_models.hf(family) / "config.json").read_text())
    for key in ("model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
                "num_attention_heads", "num_key_value_heads", "vocab_size",
                "tie_word_embeddings"):
        assert ours.get(key) == theirs.get(key), key
    assert ours["architectures"] == theirs["architectures"]


@pytest.mark.parametrize("family", FAMILIES)
def test_hf_to_gguf_matches_reference(mwanda_bin, tiny_models, tmp_path, family):
    out = tmp_path / "m.gguf"
    run(mwanda_bin, "convert", tiny_models.hf(family), out)
    assert_same_tensors(gguf_tensors(out), gguf_tensors(tiny_models.gguf(family)),
                        f"{family} HF->GGUF")
    ours, ref = gguf_fields(out), gguf_fields(tiny_models.gguf(family))
    arch = ref["general.architecture"]
    for key, value in ref.items():
        if key.startswith(arch + ".") and key in ours:
            assert ours[key] == pytest.approx(value), key
    for key in ("block_count", "embedding_length", "feed_forward_length",
                "attention.head_count", "attention.head_count_kv", "context_length"):
        assert ours[f"{arch}.{key}"] == ref[f"{arch}.{key}"], key


@pytest.mark.parametrize("family", FAMILIES)
def test_round_trip_keeps_values_and_metadata(mwanda_bin, tiny_models, tmp_path, family):
    src = tiny_models.gguf(family)
    run(mwanda_bin, "convert", src, tmp_path / "hf", "--shard-size", "20K")
    shards = list((tmp_path / "hf").glob("model-*-of-*.safetensors"))
    assert len(shards) > 1 and (tmp_path / "hf" / "model.safetensors.index.json").exists()
    run(mwanda_bin, "convert", tmp_path / "hf", tmp_path / "back.gguf")
    assert_same_tensors(gguf_tensors(tmp_path / "back.gguf"), gguf_tensors(src),
                        f"{family} round trip")
    a, b = gguf_fields(src), gguf_fields(tmp_path / "back.gguf")
    for key, value in a.items():
        if key in ("general.file_type", "general.quantization_version"):
            continue
        assert key in b, f"{key} lost in the round trip"
        assert b[key] == value, key


@pytest.mark.parametrize("dtype", ["f16", "bf16"])
def test_half_types_round_to_nearest_even(mwanda_bin, tiny_models, tmp_path, dtype):
    src = tiny_models.gguf("llama")
    run(mwanda_bin, "convert", src, tmp_path / "h.gguf", "--type", dtype)
    want = gguf_tensors(src)
    reader = GGUFReader(tmp_path / "h.gguf")
    assert gguf_fields(tmp_path / "h.gguf")["general.file_type"] == (1 if dtype == "f16" else 32)
    for t in reader.tensors:
        x = want[t.name]
        if x.ndim == 1:
            assert t.tensor_type.name == "F32", t.name
            continue
        assert t.tensor_type.name == dtype.upper(), t.name
        got = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(x.shape)
        if dtype == "f16":
            ref = x.astype(np.float16).astype(np.float32)
        else:
            u = x.view(np.uint32).astype(np.uint64)
            u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
            ref = (u.astype(np.uint32) << 16).view(np.float32)
        assert np.array_equal(got, ref), t.name


def test_real_models_dequantize_exactly(mwanda_bin, real_models, tmp_path):
    """Our F32 conversion of each default model equals gguf-py's dequantizer,
    every element of every tensor."""
    for alias, path in real_models.items():
        out = tmp_path / f"{alias}-f32.gguf"
        run(mwanda_bin, "convert", alias, out)
        ref = GGUFReader(path)
        got = {t.name: t for t in GGUFReader(out).tensors}
        worst = 0.0
        for t in ref.tensors:
            x = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
            y = np.asarray(got[t.name].data, dtype=np.float32).reshape(-1)
            assert got[t.name].tensor_type.name == "F32"
            if not np.array_equal(x, y):
                worst = float(np.max(np.abs(x - y)))
                pytest.fail(f"{alias}: {t.name} ({t.tensor_type.name}) maxdiff = {worst}")
        print(f"{alias}: {len(ref.tensors)} tensors, maxdiff = {worst}")
        out.unlink()


def test_real_model_round_trip_through_hf(mwanda_bin, real_models, tmp_path):
    run(mwanda_bin, "convert", "smollm2-135m", tmp_path / "a.gguf")
    run(mwanda_bin, "convert", tmp_path / "a.gguf", tmp_path / "hf", "--shard-size", "100M")
    run(mwanda_bin, "convert", tmp_path / "hf", tmp_path / "b.gguf")
    assert_same_tensors(gguf_tensors(tmp_path / "b.gguf"), gguf_tensors(tmp_path / "a.gguf"),
                        "smollm2 GGUF->HF->GGUF")
    a, b = gguf_fields(tmp_path / "a.gguf"), gguf_fields(tmp_path / "b.gguf")
    lost = sorted(k for k in a if k not in b)
    assert not lost, f"metadata lost in the round trip: {lost}"
    changed = sorted(k for k in a if k != "general.file_type" and a[k] != b[k])
    assert not changed, f"metadata changed in the round trip: {changed}"


@pytest.mark.parametrize("out", ["hf", "m.gguf"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_signal_mid_write_leaves_nothing(mwanda_bin, real_models, tmp_path, out, sig):
    """Ctrl-C or SIGTERM while a real model's tensors are being written: the
    process dies of the signal, and neither the output nor its temporary name
    is left (a folder output once its first shard is under way)."""
    p = subprocess.Popen([str(mwanda_bin), "convert", "gemma3-270m", tmp_path / out,
                          "--shard-size", "100M"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)

    def mid_write():
        for t in tmp_path.glob(f"{out}.tmp-*"):
            if t.is_dir():
                return any(t.glob("*.safetensors"))
            return t.stat().st_size > 0
        return False

    while p.poll() is None and not mid_write():
        time.sleep(0.005)
    assert p.poll() is None, "the conversion ended before it could be interrupted"
    p.send_signal(sig)
    assert p.wait() == -sig, p.stderr.read()
    assert sorted(x.name for x in tmp_path.iterdir()) == []
