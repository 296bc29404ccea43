#!/usr/bin/env python3
"""Writes the seed corpora of the GGUF and config.json fuzzers.

    python scripts/gen_gguf_seeds.py [REPO_ROOT]

GGUF seeds are small valid files: most written by gguf-py's GGUFWriter (the
reference implementation), a few built byte by byte for what it cannot write
(version 2, empty arrays and strings, an empty tensor). config.json seeds
are trimmed configs of the four families. Output is deterministic.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFValueType, GGUFWriter
from gguf.quants import quantize

V = GGUFValueType


def write_with_gguf_py(path: Path, fill) -> None:
    w = GGUFWriter(path, "llama")
    fill(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def every_value_type(w: GGUFWriter) -> None:
    scalars = [(V.UINT8, 200), (V.INT8, -100), (V.UINT16, 60000), (V.INT16, -30000),
               (V.UINT32, 4000000000), (V.INT32, -2000000000), (V.FLOAT32, 1.5),
               (V.BOOL, True), (V.STRING, "h\u00e9llo"), (V.UINT64, 2**64 - 1),
               (V.INT64, -2**63), (V.FLOAT64, 1e300)]
    for t, v in scalars:
        w.add_key_value(f"s.{t.name.lower()}", v, t)
    arrays = [(V.UINT8, [1, 2]), (V.INT8, [-1]), (V.UINT16, [7]), (V.INT16, [-7, 7]),
              (V.UINT32, [1, 2, 3]), (V.INT32, [-3]), (V.FLOAT32, [0.5, -0.25]),
              (V.BOOL, [True, False]), (V.STRING, ["a", "bc"]), (V.UINT64, [5]),
              (V.INT64, [-5]), (V.FLOAT64, [2.5])]
    for t, v in arrays:
        w.add_key_value(f"a.{t.name.lower()}", v, V.ARRAY, sub_type=t)


def small_tensors(w: GGUFWriter) -> None:
    rng = np.random.default_rng(1)
    w.add_uint32("llama.block_count", 1)
    w.add_tensor("vec.f32", np.arange(4, dtype=np.float32))
    w.add_tensor("mat.f16", rng.standard_normal((2, 8)).astype(np.float16))
    q = quantize(rng.standard_normal((2, 32)).astype(np.float32), GGMLQuantizationType.Q8_0)
    w.add_tensor("mat.q8_0", q, raw_shape=q.shape, raw_dtype=GGMLQuantizationType.Q8_0)
    w.add_tensor("ints.i32", np.array([1, -2, 3], dtype=np.int32))


def aligned_64(w: GGUFWriter) -> None:
    w.add_custom_alignment(64)
    w.add_tensor("a", np.ones(3, dtype=np.float32))
    w.add_tensor("b", np.zeros((2, 2), dtype=np.float32))


def tiny_llama(w: GGUFWriter) -> None:
    e, ff, v, heads, kv = 8, 16, 4, 2, 1
    hd = e // heads
    for key, val in [("block_count", 1), ("embedding_length", e), ("feed_forward_length", ff),
                     ("attention.head_count", heads), ("attention.head_count_kv", kv),
                     ("context_length", 64)]:
        w.add_uint32(f"llama.{key}", val)
    w.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5)
    w.add_tensor("token_embd.weight", np.zeros((v, e), dtype=np.float32))
    w.add_tensor("output_norm.weight", np.ones(e, dtype=np.float32))
    shapes = {"attn_norm": (e,), "attn_q": (e, e), "attn_k": (kv * hd, e),
              "attn_v": (kv * hd, e), "attn_output": (e, e), "ffn_norm": (e,),
              "ffn_gate": (ff, e), "ffn_up": (ff, e), "ffn_down": (e, ff)}
    for name, shape in shapes.items():
        w.add_tensor(f"blk.0.{name}.weight", np.full(shape, 0.5, dtype=np.float32))


def by_hand(version: int, kvs: list[bytes], infos: list[bytes], data: bytes) -> bytes:
    out = b"GGUF" + struct.pack("<IQQ", version, len(infos), len(kvs)) + b"".join(kvs)
    out += b"".join(infos)
    out += b"\0" * (-len(out) % 32)
    return out + data


def s(text: bytes) -> bytes:
    return struct.pack("<Q", len(text)) + text


def kv(key: bytes, vtype: int, payload: bytes) -> bytes:
    return s(key) + struct.pack("<I", vtype) + payload


def info(name: bytes, ne: list[int], ttype: int, offset: int) -> bytes:
    return s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne) \
        + struct.pack("<IQ", ttype, offset)


def hand_made() -> dict[str, bytes]:
    empty_arrays = [kv(b"empty.u8", V.ARRAY, struct.pack("<IQ", V.UINT8, 0)),
                    kv(b"empty.str", V.ARRAY, struct.pack("<IQ", V.STRING, 0)),
                    kv(b"empty.string", V.STRING, s(b"")),
                    kv(b"nul.string", V.STRING, s(b"a\0b"))]
    return {
        "v2_one_key.gguf": by_hand(2, [kv(b"general.name", V.STRING, s(b"v2"))], [], b""),
        "empty_values.gguf": by_hand(3, empty_arrays, [], b""),
        "empty_tensor.gguf": by_hand(3, [], [info(b"e", [0, 4], 0, 0),
                                             info(b"x", [2], 0, 0)], b"\0" * 8),
        "q4_k.gguf": by_hand(3, [], [info(b"k", [256], 12, 0)], bytes(range(144))),
    }


CONFIGS = {
    "llama.json": {"model_type": "llama", "vocab_size": 32, "hidden_size": 16,
                   "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                   "num_key_value_heads": 2, "max_position_embeddings": 128,
                   "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": True},
    "qwen2.json": {"model_type": "qwen2", "vocab_size": 64, "hidden_size": 8,
                   "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                   "num_key_value_heads": 1, "rope_theta": 1000000.0,
                   "tie_word_embeddings": False, "use_sliding_window": False},
    "qwen3.json": {"model_type": "qwen3", "vocab_size": 64, "hidden_size": 8,
                   "intermediate_size": 16, "num_hidden_layers": 3, "num_attention_heads": 4,
                   "num_key_value_heads": 2, "head_dim": 4, "rms_norm_eps": 1e-6},
    "gemma3_text.json": {"model_type": "gemma3_text", "vocab_size": 64, "hidden_size": 8,
                         "intermediate_size": 16, "num_hidden_layers": 6,
                         "num_attention_heads": 1, "num_key_value_heads": 1, "head_dim": 16,
                         "sliding_window": 32, "sliding_window_pattern": 6,
                         "rope_local_base_freq": 10000.0, "rope_theta": 1000000.0},
    "minimal.json": {"model_type": "llama", "vocab_size": 1, "hidden_size": 1,
                     "intermediate_size": 1, "num_hidden_layers": 1, "num_attention_heads": 1},
}


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    gguf_dir = root / "tests/fuzz/seeds/fuzz_gguf"
    config_dir = root / "tests/fuzz/seeds/fuzz_config"
    gguf_dir.mkdir(parents=True, exist_ok=True)
    config_dir.mkdir(parents=True, exist_ok=True)
    for name, fill in [("every_value_type.gguf", every_value_type),
                       ("small_tensors.gguf", small_tensors), ("aligned_64.gguf", aligned_64),
                       ("tiny_llama.gguf", tiny_llama)]:
        write_with_gguf_py(gguf_dir / name, fill)
    for name, data in hand_made().items():
        (gguf_dir / name).write_bytes(data)
    for name, config in CONFIGS.items():
        (config_dir / name).write_text(json.dumps(config, indent=1) + "\n")
    (config_dir / "not_an_object.json").write_text("[1, 2, 3]\n")
    for d in (gguf_dir, config_dir):
        for f in sorted(d.iterdir()):
            print(f"{f.relative_to(root)}: {f.stat().st_size} bytes")


if __name__ == "__main__":
    main()
