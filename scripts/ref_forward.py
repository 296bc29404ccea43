#!/usr/bin/env python3
"""A reference forward pass in numpy, float64, for mwanda's tests.

    python scripts/ref_forward.py HF_FOLDER --ids "2 17 45 ..." [--top K]

It reads a Hugging Face checkpoint folder (config.json and model.safetensors,
or shards listed in model.safetensors.index.json) and computes what the
transformers implementations of Llama, Qwen 2, Qwen 3 and Gemma 3 (text)
compute, written from their semantics rather than from mwanda's GGUF-side
code: it shares no file and no layout convention with mwanda.

  * weights in Hugging Face layout: [out][in] matrices, q/k rows of every
    family in rotate-half order, so RoPE rotates the pair (i, i + d/2);
  * RMSNorm x / sqrt(mean(x^2) + eps) times w, or times (1 + w) for Gemma
    (whose checkpoints store the offset from 1);
  * Gemma: embeddings times sqrt(hidden_size), per-head RMSNorm of q and k
    before RoPE (Qwen 3 too), norms after attention and after the MLP,
    GELU with the tanh approximation, attention scale
    query_pre_attn_scalar^-1/2, sliding-window attention on the local
    layers (a query at position t sees keys t - window + 1 .. t) whose RoPE
    base is rope_local_base_freq, the global ones using rope_theta and
    rope_scaling (linear: positions divided by its factor; also
    transformers 5's rope_parameters, per layer type);
  * Qwen 2: biases on q, k and v;
  * grouped-query attention: query head h uses key/value head
    h // (heads / kv_heads);
  * output head: lm_head, or the embedding when tie_word_embeddings.

Everything is computed in float64 from the stored values (f32, f16 or bf16
widened exactly), so this side is the more exact one. The output is the log
of the softmax over the vocabulary at every position.
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np

# ---------------------------------------------------------------- safetensors

_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16}


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of one .safetensors file as float64 (header: u64 length,
    JSON of name -> dtype, shape, data_offsets into the bytes after it)."""
    raw = path.read_bytes()
    (n,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        buf = raw[base + a:base + b]
        if h["dtype"] == "BF16":
            bits = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            vals = bits.view(np.float32)
        elif h["dtype"] in _DTYPES:
            vals = np.frombuffer(buf, dtype=np.dtype(_DTYPES[h["dtype"]]).newbyteorder("<"))
        else:
            raise ValueError(f"{path.name}: tensor {name} has dtype {h['dtype']}")
        out[name] = vals.astype(np.float64).reshape(h["shape"])
    return out


def load_weights(folder: Path) -> dict[str, np.ndarray]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    w: dict[str, np.ndarray] = {}
    for f in files:
        w.update(_read_safetensors(folder / f))
    return w

# ---------------------------------------------------------------- pieces


def rms_norm(x: np.ndarray, w: np.ndarray, eps: float, plus_one: bool) -> np.ndarray:
    scale = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return x * scale * ((1.0 + w) if plus_one else w)


def rotate_half(x: np.ndarray) -> np.ndarray:
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def rope(x: np.ndarray, positions: np.ndarray, base: float, factor: float = 1.0) -> np.ndarray:
    """x: [T, heads, d]; rotate-half RoPE with angle pos / factor * base^(-2i/d)."""
    d = x.shape[-1]
    inv_freq = base ** (-np.arange(0, d, 2, dtype=np.float64) / d) / factor
    ang = positions[:, None].astype(np.float64) * inv_freq[None, :]
    ang = np.concatenate([ang, ang], axis=-1)[:, None, :]
    return x * np.cos(ang) + rotate_half(x) * np.sin(ang)


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def log_softmax(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))

# ---------------------------------------------------------------- the model


class RefModel:
    """One Hugging Face causal LM of a supported family, in float64."""

    FAMILIES = ("llama", "qwen2", "qwen3", "gemma3_text")

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        self.cfg = c = json.loads((folder / "config.json").read_text())
        self.kind = c["model_type"]
        if self.kind not in self.FAMILIES:
            raise ValueError(f"model_type {self.kind!r} is not one of {self.FAMILIES}")
        self.w = load_weights(folder)
        self.gemma = self.kind == "gemma3_text"
        self.n_layer = c["num_hidden_layers"]
        self.n_head = c["num_attention_heads"]
        self.n_kv = c.get("num_key_value_heads") or self.n_head
        self.hidden = c["hidden_size"]
        self.head_dim = c.get("head_dim") or self.hidden // self.n_head
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.theta = c.get("rope_theta", 10000.0)
        self.tied = c.get("tie_word_embeddings", True)
        self.act = gelu_tanh if self.gemma else silu
        act_name = c.get("hidden_activation" if self.gemma else "hidden_act")
        if act_name not in ("gelu_pytorch_tanh", "silu", None):
            raise ValueError(f"activation {act_name!r} is not handled")
        self.qk_norm = self.kind in ("qwen3", "gemma3_text")
        self.scale = (c.get("query_pre_attn_scalar") or self.head_dim) ** -0.5 if self.gemma \
            else self.head_dim ** -0.5
        self.attn_softcap = c.get("attn_logit_softcapping") if self.gemma else None
        self.final_softcap = c.get("final_logit_softcapping") if self.gemma else None
        self.rope_factor = self._rope_factor(c.get("rope_scaling"))
        self.local_theta = c.get("rope_local_base_freq", 10000.0)
        self._rope_parameters(c.get("rope_parameters"))
        self.layer_types = self._layer_types(c)
        self._taps: dict | None = None

    @staticmethod
    def _rope_factor(rs: dict | None) -> float:
        if not rs:
            return 1.0
        kind = rs.get("rope_type", rs.get("type"))
        if kind == "default":
            return 1.0
        if kind == "linear":
            return float(rs["factor"])
        raise NotImplementedError(f"rope_scaling {kind!r}")

    def _rope_parameters(self, rp: dict | None) -> None:
        """transformers 5's form: one set, or one per layer type."""
        if not rp:
            return
        full = rp.get("full_attention", rp if "sliding_attention" not in rp else {})
        self.theta = full.get("rope_theta", self.theta)
        self.rope_factor = self._rope_factor(full)
        slide = rp.get("sliding_attention", {})
        self.local_theta = slide.get("rope_theta", self.local_theta)
        if self._rope_factor(slide) != 1.0:
            raise NotImplementedError("RoPE scaling of the sliding-window layers")

    def _layer_types(self, c: dict) -> list[str]:
        if not self.gemma:
            return ["full_attention"] * self.n_layer
        if c.get("layer_types"):
            return list(c["layer_types"])
        pattern = c.get("sliding_window_pattern", 6)
        return ["full_attention" if (i + 1) % pattern == 0 else "sliding_attention"
                for i in range(self.n_layer)]

    def _p(self, name: str) -> np.ndarray:
        return self.w[name]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return rms_norm(x, self._p(name), self.eps, self.gemma)

    def _linear(self, x: np.ndarray, prefix: str) -> np.ndarray:
        y = x @ self._p(prefix + ".weight").T
        bias = self.w.get(prefix + ".bias")
        return y if bias is None else y + bias

    def _attention(self, i: int, x: np.ndarray) -> np.ndarray:
        T, hd = x.shape[0], self.head_dim
        p = f"model.layers.{i}.self_attn."
        q = self._linear(x, p + "q_proj").reshape(T, self.n_head, hd)
        k = self._linear(x, p + "k_proj").reshape(T, self.n_kv, hd)
        v = self._linear(x, p + "v_proj").reshape(T, self.n_kv, hd)
        if self.qk_norm:
            q = self._norm(q, p + "q_norm.weight")
            k = self._norm(k, p + "k_norm.weight")
        sliding = self.layer_types[i] == "sliding_attention"
        pos = np.arange(T)
        if sliding:
            base, factor = self.local_theta, 1.0
        else:
            base, factor = self.theta, self.rope_factor
        q, k = rope(q, pos, base, factor), rope(k, pos, base, factor)
        allowed = pos[None, :] <= pos[:, None]  # [query, key]
        if sliding:
            allowed &= pos[None, :] > pos[:, None] - self.cfg["sliding_window"]
        group = self.n_head // self.n_kv
        out = np.empty((T, self.n_head, hd))
        for h in range(self.n_head):
            s = q[:, h, :] @ k[:, h // group, :].T * self.scale
            if self.attn_softcap:
                s = np.tanh(s / self.attn_softcap) * self.attn_softcap
            s = np.where(allowed, s, -np.inf)
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            out[:, h, :] = (s / s.sum(axis=-1, keepdims=True)) @ v[:, h // group, :]
        out = self._tap(i, "attn_out", out.reshape(T, self.n_head * hd))
        return self._linear(out, p + "o_proj")

    def _mlp(self, i: int, x: np.ndarray) -> np.ndarray:
        p = f"model.layers.{i}.mlp."
        h = self.act(self._linear(x, p + "gate_proj")) * self._linear(x, p + "up_proj")
        return self._linear(self._tap(i, "ffn_down", h), p + "down_proj")

    def _tap(self, i: int, name: str, x: np.ndarray) -> np.ndarray:
        """Keeps a linear layer's input when forward() was asked for them."""
        if self._taps is not None:
            self._taps[(i, name)] = x
        return x

    def _layer(self, i: int, x: np.ndarray) -> np.ndarray:
        p = f"model.layers.{i}."
        a = self._attention(i, self._tap(i, "attn", self._norm(x, p + "input_layernorm.weight")))
        if self.gemma:
            x = x + self._norm(a, p + "post_attention_layernorm.weight")
            h = self._tap(i, "ffn", self._norm(x, p + "pre_feedforward_layernorm.weight"))
            m = self._mlp(i, h)
            return x + self._norm(m, p + "post_feedforward_layernorm.weight")
        x = x + a
        h = self._tap(i, "ffn", self._norm(x, p + "post_attention_layernorm.weight"))
        return x + self._mlp(i, h)

    def forward(self, ids, taps: dict | None = None) -> dict[str, np.ndarray]:
        """One sequence (positions 0 .. T-1). Returns "logprobs" [T][vocab]
        (log-softmax of the logits at each position) and "hidden"
        [n_layer + 1][T][hidden]: the residual stream after the (scaled)
        embedding and after every layer, before the final norm. With a dict
        as taps, it also gets the input of every linear layer, [T][in] under
        (layer, name): "attn" (of q, k, v), "attn_out" (of o), "ffn" (of
        gate and up), "ffn_down"."""
        self._taps = taps
        ids = np.asarray(ids, dtype=np.int64)
        emb = self._p("model.embed_tokens.weight")
        if ids.min() < 0 or ids.max() >= emb.shape[0]:
            raise ValueError("token id outside the vocabulary")
        x = emb[ids].copy()
        if self.gemma:
            x *= math.sqrt(self.hidden)
        hidden = [x]
        for i in range(self.n_layer):
            x = self._layer(i, x)
            hidden.append(x)
        head = emb if self.tied else self._p("lm_head.weight")
        logits = self._norm(x, "model.norm.weight") @ head.T
        if self.final_softcap:
            logits = np.tanh(logits / self.final_softcap) * self.final_softcap
        return {"logprobs": log_softmax(logits), "hidden": np.stack(hidden)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="Hugging Face folder (config.json, safetensors)")
    ap.add_argument("--ids", required=True, help="token ids, separated by spaces or commas")
    ap.add_argument("--top", type=int, default=5, help="most likely tokens shown per position")
    a = ap.parse_args(argv)
    ids = [int(t) for t in a.ids.replace(",", " ").split()]
    r = RefModel(a.folder).forward(ids)
    lp = r["logprobs"]
    out = []
    for t in range(len(ids)):
        top = np.argsort(-lp[t])[:a.top]
        row = {"pos": t, "top": [[int(j), float(lp[t, j])] for j in top]}
        if t + 1 < len(ids):
            row["next"] = ids[t + 1]
            row["nll"] = float(-lp[t, ids[t + 1]])
        out.append(row)
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
