"""The GGUF reader and writer against the reference implementation (the `gguf`
package, llama.cpp's gguf-py).

(a) a tiny llama-shaped model written by gguf-py's GGUFWriter, with extra
    keys of every value type, is read by `mwanda inspect --json --metadata`
    with the same keys, values, tensor names, types and shapes;
(b) `mwanda convert tiny.gguf out.gguf [--type f16|bf16]` gives a file
    gguf-py opens, with the same keys (general.quantization_version dropped,
    general.file_type set) and the values of gguf-py's dequantized
    originals, rounded to nearest even for f16/bf16; vectors stay F32;
(c) every output tensor is aligned and the tensors are contiguous in info
    order, as llama.cpp demands.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from gguf import GGUFReader, GGUFValueType, GGUFWriter
from gguf.quants import dequantize, quantize

BIN = os.environ.get("MWANDA_BIN")
pytestmark = pytest.mark.skipif(not BIN, reason="MWANDA_BIN is not set")
V = GGUFValueType

# hidden 32, 2 blocks, 4 query heads of 8, 2 kv heads, ffn 64, vocab 16
E, NL, NH, NKV, FF, VOCAB = 32, 2, 4, 2, 64, 16
HD = E // NH

# extra keys: every scalar type, and arrays of every type
SCALARS = {
    "test.uint8": (V.UINT8, 200), "test.int8": (V.INT8, -100),
    "test.uint16": (V.UINT16, 60000), "test.int16": (V.INT16, -30000),
    "test.uint32": (V.UINT32, 4000000000), "test.int32": (V.INT32, -2000000000),
    "test.float32": (V.FLOAT32, 3.14159), "test.bool": (V.BOOL, True),
    "test.bool_false": (V.BOOL, False), "test.string": (V.STRING, "h\u00e9llo w\u00f6rld"),
    "test.string_nul": (V.STRING, "a\0b"), "test.string_empty": (V.STRING, ""),
    "test.uint64": (V.UINT64, 2**64 - 1), "test.uint64_small": (V.UINT64, 12345),
    "test.int64": (V.INT64, -2**63), "test.float64": (V.FLOAT64, 1e300),
}
ARRAYS = {
    "test.arr.uint8": (V.UINT8, [0, 255]), "test.arr.int8": (V.INT8, [-128, 127]),
    "test.arr.uint16": (V.UINT16, [65535]), "test.arr.int16": (V.INT16, [-1, 2, -3]),
    "test.arr.uint32": (V.UINT32, [1, 2, 3, 4]), "test.arr.int32": (V.INT32, [-5]),
    "test.arr.float32": (V.FLOAT32, [0.1, -2.5]), "test.arr.bool": (V.BOOL, [True, False]),
    "test.arr.string": (V.STRING, ["", "x", "\u00fcn\u00ef", "a\0b"]),
    "test.arr.uint64": (V.UINT64, [2**64 - 1, 0]), "test.arr.int64": (V.INT64, [-2**63]),
    "test.arr.float64": (V.FLOAT64, [1e-300, 2.0]),
}

# block tensors: numpy shape (rows, cols) -- GGUF ne is reversed -- and type
BLOCK = {
    "attn_norm": ((E,), Q.F32), "attn_q": ((NH * HD, E), Q.Q8_0),
    "attn_k": ((NKV * HD, E), Q.F16), "attn_v": ((NKV * HD, E), Q.BF16),
    "attn_output": ((E, NH * HD), Q.F32), "ffn_norm": ((E,), Q.F32),
    "ffn_gate": ((FF, E), Q.Q4_0), "ffn_up": ((FF, E), Q.F32), "ffn_down": ((E, FF), Q.Q8_0),
}


def tensors_spec():
    yield "token_embd.weight", (VOCAB, E), Q.F16
    for b in range(NL):
        for name, (shape, qtype) in BLOCK.items():
            yield f"blk.{b}.{name}.weight", shape, qtype
    yield "output_norm.weight", (E,), Q.F32


def write_tiny_llama(path: Path, alignment: int | None = None, extra: bool = True,
                     arch: str = "llama", skip: str | None = None,
                     reshape: dict | None = None) -> None:
    """A complete llama-shaped model. Values are random, including a few
    exact f16/bf16 ties and values that overflow f16."""
    rng = np.random.default_rng(5)
    w = GGUFWriter(path, arch)
    for key, val in [("block_count", NL), ("embedding_length", E), ("feed_forward_length", FF),
                     ("attention.head_count", NH), ("attention.head_count_kv", NKV),
                     ("context_length", 256)]:
        w.add_uint32(f"{arch}.{key}", val)
    w.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5)
    w.add_float32(f"{arch}.rope.freq_base", 10000.0)
    w.add_string("general.name", "tiny")
    w.add_uint32("general.file_type", 7)
    w.add_uint32("general.quantization_version", 2)
    if alignment:
        w.add_custom_alignment(alignment)
    if extra:
        for key, (t, v) in SCALARS.items():
            w.add_key_value(key, v, t)
        for key, (t, v) in ARRAYS.items():
            w.add_key_value(key, v, V.ARRAY, sub_type=t)
    for name, shape, qtype in tensors_spec():
        if name == skip:
            continue
        shape = (reshape or {}).get(name, shape)
        x = (rng.standard_normal(shape) * 0.5).astype(np.float32)
        if name == "blk.0.ffn_up.weight":  # halfway cases and f16 overflow
            flat = x.reshape(-1)
            flat[:4] = [1 + 2**-11, 1 + 3 * 2**-11, 70000.0, -1e-8]
            flat[4:8] = np.array([0x3F808000, 0x3F818000, 0x3F80C000, 0x7F7FFFFF],
                                 dtype=np.uint32).view(np.float32)
        if qtype == Q.F32:
            w.add_tensor(name, x)
        elif qtype == Q.F16:
            w.add_tensor(name, x.astype(np.float16))
        else:
            q = quantize(x, qtype)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def mwanda(*args, check=True):
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"mwanda {args} exited {p.returncode}: {p.stderr}")
    return p


def fields(path: Path) -> dict[str, tuple]:
    """key -> (value type, element type or None, contents) as gguf-py reads them."""
    out = {}
    for name, f in GGUFReader(path).fields.items():
        if name.startswith("GGUF."):
            continue
        elem = f.types[-1] if f.types[0] == V.ARRAY else None
        out[name] = (f.types[0], elem, f.contents())
    return out


def f32_of(t) -> np.ndarray:
    return dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)


def bf16_rne(x: np.ndarray) -> np.ndarray:
    """f32 -> bf16 bits, round to nearest even (no NaNs here)."""
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    write_tiny_llama(path)
    return path


def test_inspect_reads_what_gguf_py_wrote(tiny):
    got = json.loads(mwanda("inspect", tiny, "--json", "--metadata").stdout)
    ref = fields(tiny)
    meta = got["metadata"]
    assert list(meta) == list(ref), "keys or their order differ"
    kinds = {V.UINT8: int, V.INT8: int, V.UINT16: int, V.INT16: int, V.UINT32: int,
             V.INT32: int, V.UINT64: int, V.INT64: int, V.FLOAT32: float, V.FLOAT64: float,
             V.BOOL: bool, V.STRING: str}
    for key, (vtype, elem, value) in ref.items():
        ours = meta[key]
        if vtype == V.ARRAY:
            assert ours == {"type": "array", "elem_type": elem.name.lower(), "n": len(value)}, key
            continue
        if vtype == V.UINT64 and value > 2**63 - 1:
            # beyond a JSON (signed 64-bit) integer: given as its decimal text
            assert ours == str(value), key
            continue
        assert type(ours) is kinds[vtype], f"{key}: {type(ours).__name__} for {vtype.name}"
        if vtype == V.FLOAT32:
            value = float(np.float32(value))
        assert ours == value, key
    n_arrays = sum(1 for v in ref.values() if v[0] == V.ARRAY)
    print(f"inspect: {len(ref)} keys ({n_arrays} arrays) equal to gguf-py's")

    tensors = GGUFReader(tiny).tensors
    assert [t["name"] for t in got["tensors"]] == [t.name for t in tensors]
    for ours, ref_t in zip(got["tensors"], tensors):
        assert ours["type"] == ref_t.tensor_type.name, ours["name"]
        assert ours["shape"] == [int(d) for d in ref_t.shape], ours["name"]
        assert ours["bytes"] == int(ref_t.n_bytes), ours["name"]
    hp = got["hparams"]
    assert (hp["n_embd"], hp["n_layer"], hp["n_head"], hp["n_head_kv"], hp["head_dim"],
            hp["n_ff"], hp["n_vocab"], hp["n_ctx_train"]) == (E, NL, NH, NKV, HD, FF, VOCAB, 256)
    assert got["architecture"] == "llama" and got["gguf_version"] == 3
    print(f"inspect: {len(tensors)} tensors with gguf-py's names, types, shapes and sizes")

    text = mwanda("inspect", tiny, "--metadata").stdout
    for key in ref:
        assert f"  {key} " in text, key
    assert "18446744073709551615" in text and "-9223372036854775808" in text
    assert "[string x 4]" in text and '"a"' in text  # a NUL ends a string in the listing


def check_layout(path: Path) -> int:
    """Offsets aligned and contiguous in info order; returns the alignment."""
    r = GGUFReader(path)
    align = int(r.alignment)
    spans = [(t.name, int(t.data_offset), int(t.n_bytes)) for t in r.tensors]

    def padded(n):
        return -(-n // align) * align
    assert spans[0][1] % align == 0
    for (_, a_off, a_len), (name, b_off, _) in zip(spans, spans[1:]):
        assert b_off % align == 0, name
        assert b_off == a_off + padded(a_len), name
    assert path.stat().st_size == spans[-1][1] + padded(spans[-1][2])
    return align


@pytest.mark.parametrize("out_type", ["f32", "f16", "bf16"])
def test_convert_gives_what_gguf_py_expects(tiny, tmp_path, out_type):
    out = tmp_path / f"out-{out_type}.gguf"
    args = ["convert", tiny, out] + ([] if out_type == "f32" else ["--type", out_type])
    mwanda(*args)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name], "leftover files"

    src, dst = fields(tiny), fields(out)
    want = {k: v for k, v in src.items() if k != "general.quantization_version"}
    want["general.file_type"] = (V.UINT32, None, {"f32": 0, "f16": 1, "bf16": 32}[out_type])
    assert list(dst) == list(want)
    for key, value in want.items():
        assert dst[key] == value, key
    print(f"convert --type {out_type}: {len(dst)} keys with gguf-py's types and values")

    target = {"f32": Q.F32, "f16": Q.F16, "bf16": Q.BF16}[out_type]
    ref = {t.name: t for t in GGUFReader(tiny).tensors}
    got = GGUFReader(out).tensors
    assert [t.name for t in got] == list(ref)
    for t in got:
        r = ref[t.name]
        assert list(t.shape) == list(r.shape), t.name
        values = f32_of(r)
        vector = len(r.shape) == 1 or int(r.shape[1]) == 1
        want_type = Q.F32 if vector else target
        assert t.tensor_type == want_type, f"{t.name}: {t.tensor_type.name}"
        raw = t.data.tobytes()
        if want_type == Q.F32:
            assert raw == values.tobytes(), t.name
        elif want_type == Q.F16:
            with np.errstate(over="ignore"):
                exp = values.astype(np.float16).view(np.uint16)
            assert np.array_equal(np.frombuffer(raw, np.uint16), exp), t.name
        else:
            assert np.array_equal(np.frombuffer(raw, np.uint16), bf16_rne(values)), t.name
    align = check_layout(out)
    print(f"convert --type {out_type}: {len(got)} tensors equal, layout contiguous "
          f"at alignment {align}")


def test_layout_keeps_a_custom_alignment(tmp_path):
    src = tmp_path / "a64.gguf"
    write_tiny_llama(src, alignment=64, extra=False)
    out = tmp_path / "out.gguf"
    mwanda("convert", src, out, "--type", "f16")
    assert check_layout(out) == 64
    assert fields(out)["general.alignment"] == (V.UINT32, None, 64)
    # and our output converts again to the same bytes
    again = tmp_path / "again.gguf"
    mwanda("convert", out, again, "--type", "f16")
    assert again.read_bytes() == out.read_bytes()
    print("alignment 64 kept; converting the output again gives the same bytes")
