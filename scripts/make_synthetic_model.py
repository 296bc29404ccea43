#!/usr/bin/env python3
"""Write a synthetic Llama-architecture model of a real size, for memory tests.

    python scripts/make_synthetic_model.py OUT_DIR [--shape 3b|tiny] [--seed S]
                                                   [--shard-size BYTES]

OUT_DIR becomes a Hugging Face folder: config.json (model_type llama),
model-0000N-of-0000M.safetensors shards with model.safetensors.index.json,
and the Llama 3 tokenizer (tokenizer.json, tokenizer_config.json) copied from
tests/data/tokenizers/llama3.

Shapes:
  3b    Llama 3.2 3B: hidden 3072, 28 blocks, FFN 8192, 24 heads, 8 KV heads
        (head dim 128), vocabulary 128256, tied embeddings; 3.21e9 weights,
        6.4 GB in BF16, 12.9 GB in f32
  tiny  hidden 64, 2 blocks, FFN 128, 4 heads, 2 KV heads, same vocabulary

Weights: BF16 (rounded to nearest even), drawn from N(0, 0.02^2) by numpy's
PCG64 seeded with --seed; every norm weight is 1. With these scales the
residual stream stays finite through all 28 blocks. The weights are random:
the model says nothing, it only has the size and shape of a real one.

Written as a stream, one chunk of one tensor at a time (never the whole model
in memory), each file under a temporary name renamed when complete. The same
seed gives the same bytes. The 3b folder takes about 6.4 GB of disk: delete it
when done.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import shutil
import struct
import sys
from pathlib import Path

import numpy as np

SHAPES = {
    "3b": dict(hidden=3072, layers=28, ffn=8192, heads=24, kv_heads=8, vocab=128256),
    "tiny": dict(hidden=64, layers=2, ffn=128, heads=4, kv_heads=2, vocab=128256),
}
STD = 0.02
CHUNK = 1 << 24  # elements drawn at a time (64 MB of f32)
SOURCE_DIR = Path(__file__).resolve().parents[1]


def tensor_list(s: dict) -> list[tuple[str, tuple[int, ...]]]:
    """(Hugging Face name, shape) in the order the shards hold them."""
    h, f, hd = s["hidden"], s["ffn"], s["hidden"] // s["heads"]
    out = [("model.embed_tokens.weight", (s["vocab"], h))]
    for b in range(s["layers"]):
        p = f"model.layers.{b}."
        out += [
            (p + "input_layernorm.weight", (h,)),
            (p + "self_attn.q_proj.weight", (s["heads"] * hd, h)),
            (p + "self_attn.k_proj.weight", (s["kv_heads"] * hd, h)),
            (p + "self_attn.v_proj.weight", (s["kv_heads"] * hd, h)),
            (p + "self_attn.o_proj.weight", (h, s["heads"] * hd)),
            (p + "post_attention_layernorm.weight", (h,)),
            (p + "mlp.gate_proj.weight", (f, h)),
            (p + "mlp.up_proj.weight", (f, h)),
            (p + "mlp.down_proj.weight", (h, f)),
        ]
    out.append(("model.norm.weight", (h,)))
    return out


def n_elems(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits, round to nearest even (no NaN can occur)."""
    u = x.view(np.uint32)
    return ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(
        np.uint16)


def write_tensor(f, name: str, shape: tuple[int, ...], rng: np.random.Generator) -> None:
    n = n_elems(shape)
    if len(shape) == 1:  # norms
        f.write(to_bf16(np.ones(n, dtype=np.float32)).tobytes())
        return
    for start in range(0, n, CHUNK):
        k = min(CHUNK, n - start)
        x = rng.standard_normal(k, dtype=np.float32)
        x *= np.float32(STD)
        f.write(to_bf16(x).tobytes())


def shard_plan(tensors, max_bytes: int) -> list[list[tuple[str, tuple[int, ...]]]]:
    shards, cur, size = [], [], 0
    for name, shape in tensors:
        nb = 2 * n_elems(shape)
        if cur and size + nb > max_bytes:
            shards.append(cur)
            cur, size = [], 0
        cur.append((name, shape))
        size += nb
    if cur:
        shards.append(cur)
    return shards


def write_shard(path: Path, tensors, rng: np.random.Generator) -> None:
    header, off = {}, 0
    for name, shape in tensors:
        nb = 2 * n_elems(shape)
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + nb]}
        off += nb
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for name, shape in tensors:
            write_tensor(f, name, shape, rng)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def config(s: dict) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": s["hidden"],
        "intermediate_size": s["ffn"],
        "num_hidden_layers": s["layers"],
        "num_attention_heads": s["heads"],
        "num_key_value_heads": s["kv_heads"],
        "head_dim": s["hidden"] // s["heads"],
        "vocab_size": s["vocab"],
        "max_position_embeddings": 131072,
        "rms_norm_eps": 1e-5,
        "rope_theta": 500000.0,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": True,
        "bos_token_id": 128000,
        "eos_token_id": 128001,
        "torch_dtype": "bfloat16",
    }


def write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="3b")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shard-size", type=int, default=2_000_000_000,
                    help="largest shard in bytes (default 2e9)")
    a = ap.parse_args()
    s = SHAPES[a.shape]
    tensors = tensor_list(s)
    total = sum(2 * n_elems(sh) for _, sh in tensors)
    out = a.out_dir
    out.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(out).free
    if free < total * 1.05:
        print(f"make_synthetic_model: {total / 1e9:.1f} GB needed, {free / 1e9:.1f} GB free in {out}",
              file=sys.stderr)
        return 1
    rng = np.random.Generator(np.random.PCG64(a.seed))
    shards = shard_plan(tensors, a.shard_size)
    weight_map = {}
    for i, group in enumerate(shards):
        name = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        print(f"make_synthetic_model: {name} ({len(group)} tensors)", file=sys.stderr)
        write_shard(out / name, group, rng)
        weight_map.update({t: name for t, _ in group})
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    write_text(out / "model.safetensors.index.json", json.dumps(index, indent=2) + "\n")
    write_text(out / "config.json", json.dumps(config(s), indent=2) + "\n")
    tok = SOURCE_DIR / "tests" / "data" / "tokenizers" / "llama3"
    for fn in ("tokenizer.json", "tokenizer_config.json"):
        write_text(out / fn, lzma.decompress((tok / (fn + ".xz")).read_bytes()).decode("utf-8"))
    n_params = total // 2
    print(json.dumps({"shape": a.shape, "params": n_params, "bf16_bytes": total,
                      "f32_bytes": 4 * n_params, "shards": len(shards)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
