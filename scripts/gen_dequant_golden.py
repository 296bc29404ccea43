#!/usr/bin/env python3
"""Writes the golden files of the dequantization unit test (tests/unit/test_dequant.c).

README: regenerate with the project's venv (numpy + gguf), from the repository root:

    "${MWANDA_CACHE:-$HOME/.cache/mwanda}/venv/bin/python" scripts/gen_dequant_golden.py

The output is deterministic (one seeded generator per type), so rerunning it
with the same gguf and numpy versions rewrites identical files.

For every type mw_dequantize supports, tests/data/dequant/<TYPE>.bin holds a
few blocks of random bytes whose scale fields are set to finite, plausible
values, plus edge-case blocks (zero, negative, huge, subnormal and inf/NaN
scales; all-ones and all-zero quants), followed by the reference f32 values.
The reference is gguf-py's gguf.quants.dequantize; for the types gguf-py
cannot dequantize (Q8_K, F64 and the integer types) it is the same float32
numpy arithmetic written out here.

File layout, all little-endian:
    char[4]  magic "MWDQ"
    u32      format version (1)
    u32      ggml type id
    u32      number of elements n
    u32      number of source bytes m
    u8[m]    source data
    f32[n]   expected values
"""

import os
import struct
import sys

import numpy as np

try:
    from gguf import GGMLQuantizationType as QT
    from gguf.quants import dequantize
except ImportError:
    sys.exit("gen_dequant_golden.py needs the gguf package (the project's venv has it)")

MAGIC = b"MWDQ"
VERSION = 1

# type name -> (block elements, block bytes, offsets of the f16 scales)
BLOCK_TYPES = {
    "Q4_0": (32, 18, [0]),
    "Q4_1": (32, 20, [0, 2]),
    "Q5_0": (32, 22, [0]),
    "Q5_1": (32, 24, [0, 2]),
    "Q8_0": (32, 34, [0]),
    "IQ4_NL": (32, 18, [0]),
    "MXFP4": (32, 17, []),  # e8m0 exponent byte at 0, handled apart
    "Q2_K": (256, 84, [80, 82]),
    "Q3_K": (256, 110, [108]),
    "Q4_K": (256, 144, [0, 2]),
    "Q5_K": (256, 176, [0, 2]),
    "Q6_K": (256, 210, [208]),
    "Q8_K": (256, 292, []),  # f32 scale at 0, handled apart
    "IQ4_XS": (256, 136, [0]),
    "TQ1_0": (256, 54, [52]),
    "TQ2_0": (256, 66, [64]),
}
# Blocks per file: 2048 values for 32-element blocks, 8 super-blocks of 256.
N_BLOCKS = {32: 64, 256: 8}
N_SCALARS = 1024

# Edge cases given to the first blocks of every block type.
EDGES = ["zero", "neg_ones", "zeros", "huge", "subnormal", "nonfinite"]


def f16_bytes(values):
    return np.asarray(values, dtype=np.float16).view(np.uint8)


def set_scales(block, offsets, kind, rng):
    """Writes the f16 scale fields of one block for a given case."""
    for i, off in enumerate(offsets):
        if kind == "zero":
            v = 0.0
        elif kind == "neg_ones":
            v = -abs(rng.normal(0.0, 0.02)) - 1e-3
        elif kind == "huge":
            v = 65504.0 if i == 0 else -65504.0
        elif kind == "subnormal":
            v = [2.0**-24, 1023 * 2.0**-24][i % 2]
        elif kind == "nonfinite":
            v = [np.inf, np.nan][i % 2]
        else:  # plausible weights: d of either sign, dmin mostly positive
            v = rng.normal(0.0, 0.01) if i == 0 else abs(rng.normal(0.0, 0.01))
        block[off : off + 2] = f16_bytes([v])


def special_scale(name, block, kind, rng):
    """Scale fields that are not f16: MXFP4's e8m0 byte, Q8_K's f32."""
    if name == "MXFP4":
        table = {"zero": 0, "neg_ones": 1, "huge": 254, "subnormal": 2, "nonfinite": 255}
        block[0] = table.get(kind, rng.integers(110, 130))
    elif name == "Q8_K":
        table = {"zero": 0.0, "neg_ones": -0.01, "huge": 3.0e38, "subnormal": 1e-40}
        v = table.get(kind, np.nan if kind == "nonfinite" else rng.normal(0.0, 0.001))
        block[0:4] = np.array([v], dtype=np.float32).view(np.uint8)


def make_blocks(name, rng):
    be, bb, offsets = BLOCK_TYPES[name]
    nb = N_BLOCKS[be]
    data = rng.integers(0, 256, size=(nb, bb), dtype=np.uint8)
    for b in range(nb):
        kind = EDGES[b] if b < len(EDGES) else "random"
        if kind == "neg_ones":
            data[b, :] = 0xFF
        elif kind == "zeros":
            data[b, :] = 0x00
        set_scales(data[b], offsets, kind, rng)
        special_scale(name, data[b], kind, rng)
    return data.reshape(-1), nb * be


def reference_blocks(name, data):
    if name == "Q8_K":  # not in gguf-py: d * q in float32, as ggml does
        blocks = data.reshape(-1, 292)
        d = blocks[:, 0:4].copy().view(np.float32)
        q = blocks[:, 4:260].copy().view(np.int8).astype(np.float32)
        return (d * q).reshape(-1)
    return dequantize(data, QT[name]).reshape(-1)


def f16_values(rng):
    specials = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF,
                0x7C00, 0xFC00, 0x7C01, 0x7E00, 0xFE00, 0x7FFF, 0x3C00, 0xBC00]
    rand = rng.integers(0, 2**16 - 1, size=N_SCALARS - len(specials), dtype=np.uint16,
                        endpoint=True)
    return np.concatenate([np.array(specials, dtype=np.uint16), rand])


def f64_values(rng):
    n4 = N_SCALARS // 4
    raw = rng.integers(0, 2**64 - 1, size=n4, dtype=np.uint64, endpoint=True).view(np.float64)
    near = rng.normal(0.0, 1.0, size=n4) * 10.0 ** rng.integers(-45, 39, size=n4)
    # exact midpoints between neighbouring f32 values: ties to even
    f = rng.normal(0.0, 1.0, size=n4).astype(np.float32)
    mid = (f.astype(np.float64) + np.nextafter(f, np.float32(np.inf)).astype(np.float64)) / 2
    edge = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 3.4028235677973366e38,
                     3.5e38, 1e-46, 7e-46, 1.4e-45, -2e-45, 2.0**-149 * 1.5, 2.0**-150,
                     16777217.0, 16777219.0, 2.0**128 - 2.0**103])
    rest = rng.normal(0.0, 100.0, size=N_SCALARS - 3 * n4 - len(edge))
    return np.concatenate([raw, near, mid, edge, rest]).astype(np.float64)


def make_scalars(name, rng):
    """Returns (source bytes, reference f32) for the one-element types."""
    if name == "F32":
        v = rng.integers(0, 2**32 - 1, size=N_SCALARS, dtype=np.uint32, endpoint=True)
        v = v.view(np.float32)
        return v.view(np.uint8), dequantize(v.view(np.uint8), QT.F32)
    if name in ("F16", "BF16"):
        v = f16_values(rng).view(np.uint8)
        return v, dequantize(v, QT[name])
    if name == "F64":
        v = f64_values(rng)
        return v.view(np.uint8), v.astype(np.float32)
    dt = {"I8": np.int8, "I16": np.int16, "I32": np.int32, "I64": np.int64}[name]
    info = np.iinfo(dt)
    v = rng.integers(info.min, info.max, size=N_SCALARS, dtype=dt, endpoint=True)
    v[:4] = [info.min, info.max, 0, -1]
    return v.view(np.uint8), v.astype(np.float32)


SCALAR_TYPES = ["F32", "F16", "BF16", "F64", "I8", "I16", "I32", "I64"]


def write_golden(path, type_id, src, ref):
    src = np.ascontiguousarray(src, dtype=np.uint8)
    ref = np.ascontiguousarray(ref, dtype="<f4")
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<4I", VERSION, type_id, ref.size, src.size))
        f.write(src.tobytes())
        f.write(ref.tobytes())


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(root, "tests", "data", "dequant")
    os.makedirs(out, exist_ok=True)
    total = 0
    for name in SCALAR_TYPES + list(BLOCK_TYPES):
        type_id = int(QT[name])
        rng = np.random.default_rng(1000 + type_id)
        with np.errstate(all="ignore"):
            if name in SCALAR_TYPES:
                src, ref = make_scalars(name, rng)
            else:
                src, _ = make_blocks(name, rng)
                ref = reference_blocks(name, src)
        path = os.path.join(out, name + ".bin")
        write_golden(path, type_id, src, ref)
        size = os.path.getsize(path)
        total += size
        print(f"{name:7s} {ref.size:5d} values, {size:6d} bytes")
    print(f"total {total} bytes in {out}")


if __name__ == "__main__":
    main()
