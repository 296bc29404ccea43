#!/usr/bin/env python3
"""Write tiny synthetic models for mwanda's tests.

    python scripts/make_tiny_models.py OUTDIR [--seed S] [--type f32|f16|bf16]
                                              [--family NAME ...] [--sliding-window N]
                                              [--attn-scalar X] [--rope-scaling F]
                                              [--rope-local-theta B]

For each of four families -- llama, qwen2, qwen3, gemma3 -- it writes, from
one set of seeded random weights:

  OUTDIR/<family>.gguf     written with the `gguf` package's GGUFWriter (not
                           with mwanda's own writer), tensor names and metadata
                           keys as llama.cpp's converter writes them
  OUTDIR/<family>-hf/      the same weights as a Hugging Face checkpoint:
                           config.json, model.safetensors (via the
                           `safetensors` package), and for the byte-level BPE
                           families (qwen2, qwen3) tokenizer.json and
                           tokenizer_config.json
  OUTDIR/manifest.json     the hyper-parameters of each model, for the tests

Shapes: hidden 64, FFN 128, 4 query heads of dimension 16, 2 KV heads, 2
blocks, a vocabulary of 300 tokens. gemma3 has 6 blocks (5 sliding-window
layers and one global one, the pattern llama.cpp assumes for Gemma 3), one KV
head, and a head dimension of 32, which is not hidden/heads, as in the real
Gemma 3; its sliding window is 32 tokens (--sliding-window changes it, so
that short test sequences reach past it). Tied output: qwen2 and gemma3 (no output.weight / lm_head.weight);
llama and qwen3 have their own output matrix. qwen2 has Q/K/V biases; qwen3
and gemma3 have Q/K norms; qwen2 writes no key_length (the reader must fall
back to hidden/heads); gemma3 has the four-norm "sandwich" block.

Options beyond the published 270M shapes, for the hyperparameters of larger
Gemma 3 models: --attn-scalar (query_pre_attn_scalar, which the 27B model
sets to hidden/heads; the GGUF gets attention.scale, which llama.cpp's
converter does not write but mwanda's does), --rope-scaling (linear, on the
global layers only for gemma3; rope.scaling.type/factor as llama.cpp's
converter writes them) and --rope-local-theta (rope.freq_base_swa).

The two places where a GGUF does not hold the Hugging Face numbers as they
are, as llama.cpp's convert_hf_to_gguf.py does it (applied here with numpy):
  * llama only: Q and K projection rows. Hugging Face stores each head's rows
    in "rotate-half" order (the first half of the head dimension, then the
    second); the GGUF interleaves them. GGUF = permute(HF) where permute
    views the rows as (heads, 2, head_dim/2, in), swaps axes 1 and 2 and
    flattens back; K uses the KV head count.
  * gemma3 only: every RMSNorm weight (names ending in norm.weight, Q/K norms
    and the final norm included). Gemma multiplies by (1 + w), so
    GGUF = HF + 1.
All other tensors are identical. Norm weights are multiples of 1/64, so that
both w and w + 1 are exact in f16 and bf16 too.

Tensor types: with --type f32 everything is F32; with f16 or bf16 the 2-D
matrices of both outputs are of that type while the GGUF keeps the 1-D ones
(norms, biases) in F32, as llama.cpp's converter does. bf16 is rounded to
nearest even, by this script.

Vocabularies: llama and gemma3 get a SentencePiece-style vocabulary
(tokenizer.ggml.model "llama": control tokens, the 256 byte tokens <0x00> ..
<0xFF>, and "▁"-prefixed pieces, with scores and token types; gemma3 in
Gemma's order, <pad> <eos> <bos> <unk> first). qwen2 and qwen3 get a byte-level
BPE vocabulary (tokenizer.ggml.model "gpt2", pre "qwen2": the 256 byte
characters, a few merges, then <|endoftext|> <|im_start|> <|im_end|>). The
Hugging Face folders of the SentencePiece families have no tokenizer: a
tokenizer.model is a protobuf this script does not write.

Same seed, same bytes: each family draws from its own generator seeded with
(seed, family index).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

try:
    import gguf
    from safetensors import TensorSpec, serialize_file
except ImportError as e:  # run it with the project's venv
    sys.exit(f"make_tiny_models.py: error: {e} (use $MWANDA_CACHE/venv/bin/python)")

FAMILIES = ["llama", "qwen2", "qwen3", "gemma3"]

_COMMON = dict(n_embd=64, n_ff=128, n_layer=2, n_head=4, n_head_kv=2, head_dim=16,
               qkv_bias=False, qk_norm=False, sandwich_norms=False, permute_qk=False,
               norm_shift=0.0, sliding_window=None)

CONFIGS = {
    "llama": dict(_COMMON, arch="llama", hf_arch="LlamaForCausalLM", model_type="llama",
                  tied=False, vocab="spm", n_ctx=2048, rope_theta=10000.0, rms_eps=1e-5,
                  head_dim_in_config=True, permute_qk=True, act="silu"),
    "qwen2": dict(_COMMON, arch="qwen2", hf_arch="Qwen2ForCausalLM", model_type="qwen2",
                  tied=True, vocab="bpe", n_ctx=4096, rope_theta=1000000.0, rms_eps=1e-6,
                  head_dim_in_config=False, qkv_bias=True, act="silu"),
    "qwen3": dict(_COMMON, arch="qwen3", hf_arch="Qwen3ForCausalLM", model_type="qwen3",
                  tied=False, vocab="bpe", n_ctx=4096, rope_theta=1000000.0, rms_eps=1e-6,
                  head_dim_in_config=True, qk_norm=True, act="silu"),
    "gemma3": dict(_COMMON, arch="gemma3", hf_arch="Gemma3ForCausalLM", model_type="gemma3_text",
                   tied=True, vocab="gemma", n_ctx=1024, rope_theta=1000000.0, rms_eps=1e-6,
                   head_dim_in_config=True, n_layer=6, n_head_kv=1, head_dim=32,
                   qk_norm=True, sandwich_norms=True, norm_shift=1.0, sliding_window=32,
                   rope_local_theta=10000.0, act="gelu_pytorch_tanh"),
}

N_VOCAB = 300

# token types, as in gguf.TokenType
NORMAL, UNKNOWN, CONTROL, BYTE = 1, 2, 3, 6

# ---------------------------------------------------------------- vocabularies

_SPM_PIECES = [
    "▁", "e", "a", "t", "n", "i", "o", "s", "r", "h", "u", "k", "m", "w",
    "▁t", "▁a", "he", "in", "er", "an", "on", "▁the", "▁s", "▁w", "▁o", "re",
    "▁na", "▁ya", "▁wa", "▁ku", "▁and", "▁of", "▁in", "▁to", "▁la", "▁de",
    "▁é", "▁ni", "ing", "▁mu", "▁ki", "▁ha", "▁le", "▁un", "ção", "▁der",
]


def spm_vocab(specials: list[tuple[str, int]], bos: str, eos: str, unk: str, pad: str | None):
    tokens, types = [], []
    for text, ttype in specials:
        tokens.append(text)
        types.append(ttype)
    for b in range(256):
        tokens.append(f"<0x{b:02X}>")
        types.append(BYTE)
    n_pieces = N_VOCAB - len(tokens)
    pieces = _SPM_PIECES[:n_pieces]
    assert len(pieces) == n_pieces, "not enough pieces for the vocabulary size"
    tokens += pieces
    types += [NORMAL] * n_pieces
    # SentencePiece scores are log-probabilities: bytes and the unknown token 0,
    # pieces decreasing with their rank; control tokens -1000, as llama.cpp's
    # converter writes the special tokens a tokenizer lists as added.
    scores = [-1000.0 if t == CONTROL else 0.0 for t in types[: len(tokens) - n_pieces]]
    scores += [-float(i + 1) for i in range(n_pieces)]
    ids = dict(bos=tokens.index(bos), eos=tokens.index(eos), unk=tokens.index(unk),
               pad=tokens.index(pad) if pad else None)
    return dict(model="llama", pre="default", tokens=tokens, types=types, scores=scores,
                merges=None, **ids)


def byte_chars() -> list[str]:
    """GPT-2's byte-level alphabet: printable Latin-1 bytes stand for
    themselves, the others are shifted to U+0100 and up. Listed in GPT-2's
    token order (printable ones first)."""
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars = {b: chr(b) for b in printable}
    shifted = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(0x100 + shifted)
            shifted += 1
    return [chars[b] for b in printable] + [chars[b] for b in range(256) if b not in printable]


_BPE_MERGES = [
    ("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("a", "n"), ("e", "r"),
    ("Ġ", "a"), ("o", "n"), ("r", "e"), ("Ġ", "s"), ("Ġ", "w"), ("a", "t"),
    ("e", "n"), ("Ġ", "an"), ("Ġan", "d"), ("Ġ", "o"), ("Ġo", "f"), ("i", "s"),
    ("Ġ", "i"), ("Ġi", "n"), ("o", "u"), ("Ġ", "c"), ("Ġ", "n"), ("Ġn", "a"),
    ("Ġ", "k"), ("Ġk", "u"), ("Ġ", "y"), ("Ġy", "a"), ("Ġw", "a"), ("Ġ", "l"),
    ("Ġl", "a"), ("Ġ", "d"), ("Ġd", "e"), ("in", "g"), ("Ã", "©"), ("Ġ", "Ã©"),
    ("Ġ", "m"), ("Ġm", "u"), ("Ġ", "h"), ("Ġh", "a"), ("Ġt", "o"),
]


def bpe_vocab():
    tokens = byte_chars()
    merges = []
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    for a, b in _BPE_MERGES:
        if len(tokens) + len(specials) >= N_VOCAB:
            break
        assert a in tokens and b in tokens and a + b not in tokens, (a, b)
        merges.append(f"{a} {b}")
        tokens.append(a + b)
    assert len(tokens) + len(specials) == N_VOCAB, "not enough merges for the vocabulary size"
    types = [NORMAL] * len(tokens) + [CONTROL] * len(specials)
    tokens += specials
    return dict(model="gpt2", pre="qwen2", tokens=tokens, types=types, scores=None,
                merges=merges, bos=tokens.index("<|endoftext|>"),
                eos=tokens.index("<|im_end|>"), unk=None, pad=tokens.index("<|endoftext|>"))


def make_vocab(kind: str):
    if kind == "spm":
        return spm_vocab([("<unk>", UNKNOWN), ("<s>", CONTROL), ("</s>", CONTROL)],
                         bos="<s>", eos="</s>", unk="<unk>", pad=None)
    if kind == "gemma":
        return spm_vocab([("<pad>", CONTROL), ("<eos>", CONTROL), ("<bos>", CONTROL),
                          ("<unk>", UNKNOWN), ("<start_of_turn>", CONTROL),
                          ("<end_of_turn>", CONTROL)],
                         bos="<bos>", eos="<eos>", unk="<unk>", pad="<pad>")
    return bpe_vocab()

# ---------------------------------------------------------------- weights


def hf_tensor_shapes(c: dict) -> dict[str, tuple[int, ...]]:
    """Hugging Face tensor names and shapes, in checkpoint order."""
    d, f, hd = c["n_embd"], c["n_ff"], c["head_dim"]
    q, kv = c["n_head"] * hd, c["n_head_kv"] * hd
    s: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (N_VOCAB, d)}
    for i in range(c["n_layer"]):
        p = f"model.layers.{i}."
        s[p + "input_layernorm.weight"] = (d,)
        s[p + "self_attn.q_proj.weight"] = (q, d)
        s[p + "self_attn.k_proj.weight"] = (kv, d)
        s[p + "self_attn.v_proj.weight"] = (kv, d)
        if c["qkv_bias"]:
            s[p + "self_attn.q_proj.bias"] = (q,)
            s[p + "self_attn.k_proj.bias"] = (kv,)
            s[p + "self_attn.v_proj.bias"] = (kv,)
        if c["qk_norm"]:
            s[p + "self_attn.q_norm.weight"] = (hd,)
            s[p + "self_attn.k_norm.weight"] = (hd,)
        s[p + "self_attn.o_proj.weight"] = (d, q)
        s[p + "post_attention_layernorm.weight"] = (d,)
        if c["sandwich_norms"]:
            s[p + "pre_feedforward_layernorm.weight"] = (d,)
            s[p + "post_feedforward_layernorm.weight"] = (d,)
        s[p + "mlp.gate_proj.weight"] = (f, d)
        s[p + "mlp.up_proj.weight"] = (f, d)
        s[p + "mlp.down_proj.weight"] = (d, f)
    s["model.norm.weight"] = (d,)
    if not c["tied"]:
        s["lm_head.weight"] = (N_VOCAB, d)
    return s


_BLOCK_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "pre_feedforward_layernorm.weight": "ffn_norm.weight",
    "post_feedforward_layernorm.weight": "post_ffw_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def gguf_name(hf: str, c: dict) -> str:
    top = {"model.embed_tokens.weight": "token_embd.weight",
           "model.norm.weight": "output_norm.weight",
           "lm_head.weight": "output.weight"}
    if hf in top:
        return top[hf]
    _, _, bid, rest = hf.split(".", 3)
    if rest == "post_attention_layernorm.weight":
        # the norm before the FFN in llama/qwen; the norm after attention in Gemma
        rest_g = "post_attention_norm.weight" if c["sandwich_norms"] else "ffn_norm.weight"
    else:
        rest_g = _BLOCK_NAMES[rest]
    return f"blk.{bid}.{rest_g}"


def draw_weights(c: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """float32 master weights in Hugging Face layout."""
    w = {}
    for name, shape in hf_tensor_shapes(c).items():
        if name.endswith("norm.weight"):
            k = rng.integers(-16, 17, size=shape)
            # Gemma stores the offset from 1, the others the scale itself
            base = 0 if c["norm_shift"] else 64
            w[name] = ((base + k) / 64.0).astype(np.float32)
        elif name.endswith(".bias"):
            w[name] = (rng.standard_normal(shape) * 0.05).astype(np.float32)
        else:
            std = 1.0 / np.sqrt(shape[1])
            w[name] = (rng.standard_normal(shape) * std).astype(np.float32)
    return w


def to_bf16_bits(a: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), rounded to nearest even."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def bf16_bits_to_f32(b: np.ndarray) -> np.ndarray:
    return (b.astype(np.uint32) << 16).view(np.float32)


def in_type(a: np.ndarray, ttype: str) -> np.ndarray:
    """The stored form: float32, float16, or uint16 bfloat16 bit patterns."""
    if ttype == "f16":
        return a.astype(np.float16)
    if ttype == "bf16":
        return to_bf16_bits(a)
    return a.astype(np.float32)


def widen(a: np.ndarray, ttype: str) -> np.ndarray:
    return bf16_bits_to_f32(a) if ttype == "bf16" else a.astype(np.float32)


def permute_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """HF rotate-half row order -> GGUF interleaved order (llama only)."""
    rows = w.shape[0]
    return (w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:])
             .swapaxes(1, 2).reshape(w.shape))

# ---------------------------------------------------------------- writers


FILE_TYPE = {"f32": 0, "f16": 1, "bf16": 32}  # gguf.LlamaFileType


def write_gguf(path: Path, fam: str, c: dict, hf: dict[str, np.ndarray], ttype: str, voc: dict):
    arch = c["arch"]
    w = gguf.GGUFWriter(str(path), arch)
    w.add_type("model")
    w.add_name(f"tiny-{fam}")
    w.add_block_count(c["n_layer"])
    w.add_context_length(c["n_ctx"])
    w.add_embedding_length(c["n_embd"])
    w.add_feed_forward_length(c["n_ff"])
    w.add_head_count(c["n_head"])
    w.add_head_count_kv(c["n_head_kv"])
    w.add_rope_freq_base(c["rope_theta"])
    w.add_layer_norm_rms_eps(c["rms_eps"])
    if c["head_dim_in_config"]:
        w.add_key_length(c["head_dim"])
        w.add_value_length(c["head_dim"])
    if arch == "llama":
        w.add_vocab_size(N_VOCAB)
        w.add_rope_dimension_count(c["head_dim"])
    if c["sliding_window"]:
        w.add_sliding_window(c["sliding_window"])
    if c.get("rope_local_theta_key"):
        w.add_rope_freq_base_swa(c["rope_local_theta"])
    if c.get("rope_scaling"):
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(c["rope_scaling"])
    if c.get("attn_scalar"):
        w.add_attention_scale(c["attn_scalar"] ** -0.5)
    w.add_file_type(FILE_TYPE[ttype])
    w.add_quantization_version(2)

    w.add_tokenizer_model(voc["model"])
    w.add_tokenizer_pre(voc["pre"])
    w.add_token_list(voc["tokens"])
    if voc["scores"] is not None:
        w.add_token_scores(voc["scores"])
    w.add_token_types(voc["types"])
    if voc["merges"] is not None:
        w.add_token_merges(voc["merges"])
    w.add_bos_token_id(voc["bos"])
    w.add_eos_token_id(voc["eos"])
    if voc["unk"] is not None:
        w.add_unk_token_id(voc["unk"])
    if voc["pad"] is not None:
        w.add_pad_token_id(voc["pad"])
    w.add_add_bos_token(voc["model"] == "llama")
    w.add_add_eos_token(False)
    if fam == "gemma3":
        w.add_add_space_prefix(False)

    for name, data in hf.items():
        gname = gguf_name(name, c)
        if c["permute_qk"] and name.endswith("q_proj.weight"):
            data = permute_rows(data, c["n_head"])
        elif c["permute_qk"] and name.endswith("k_proj.weight"):
            data = permute_rows(data, c["n_head_kv"])
        if data.ndim == 1:
            data = widen(data, ttype)
            if c["norm_shift"] and name.endswith("norm.weight"):
                data = data + np.float32(c["norm_shift"])
            w.add_tensor(gname, np.ascontiguousarray(data, dtype=np.float32))
        elif ttype == "bf16":
            w.add_tensor(gname, np.ascontiguousarray(data),
                         raw_dtype=gguf.GGMLQuantizationType.BF16)
        else:
            w.add_tensor(gname, np.ascontiguousarray(data))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def hf_config(c: dict, voc: dict, ttype: str) -> dict:
    cfg = {
        "architectures": [c["hf_arch"]],
        "model_type": c["model_type"],
        "hidden_size": c["n_embd"],
        "intermediate_size": c["n_ff"],
        "num_hidden_layers": c["n_layer"],
        "num_attention_heads": c["n_head"],
        "num_key_value_heads": c["n_head_kv"],
        "max_position_embeddings": c["n_ctx"],
        "rms_norm_eps": c["rms_eps"],
        "rope_theta": c["rope_theta"],
        "vocab_size": N_VOCAB,
        "bos_token_id": voc["bos"],
        "eos_token_id": voc["eos"],
        "tie_word_embeddings": c["tied"],
        "torch_dtype": {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}[ttype],
    }
    if c["head_dim_in_config"]:
        cfg["head_dim"] = c["head_dim"]
    if c.get("rope_scaling") or c["model_type"] == "gemma3_text":
        cfg["rope_scaling"] = ({"rope_type": "linear", "factor": c["rope_scaling"]}
                               if c.get("rope_scaling") else None)
    if voc["pad"] is not None:
        cfg["pad_token_id"] = voc["pad"]
    if c["model_type"] == "gemma3_text":
        cfg.update({
            "hidden_activation": c["act"],
            "query_pre_attn_scalar": c.get("attn_scalar") or c["head_dim"],
            "sliding_window": c["sliding_window"],
            "sliding_window_pattern": 6,
            "layer_types": ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention"
                            for i in range(c["n_layer"])],
            "rope_local_base_freq": c["rope_local_theta"],
            "attn_logit_softcapping": None,
            "final_logit_softcapping": None,
            "attention_bias": False,
        })
    else:
        cfg["hidden_act"] = c["act"]
        cfg["attention_bias"] = c["qkv_bias"]
        if c["model_type"] in ("qwen2", "qwen3"):
            cfg["use_sliding_window"] = False
    return cfg


def write_safetensors(path: Path, hf: dict[str, np.ndarray], ttype: str) -> None:
    dtype_name = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}[ttype]
    keep = {k: np.ascontiguousarray(v) for k, v in hf.items()}
    specs = {k: TensorSpec(dtype=dtype_name, shape=v.shape, data_ptr=v.ctypes.data,
                           data_len=v.nbytes) for k, v in keep.items()}
    serialize_file(specs, str(path), metadata={"format": "pt"})


def write_hf_tokenizer(folder: Path, voc: dict, n_ctx: int) -> None:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    vocab = {t: i for i, t in enumerate(voc["tokens"])}
    merges = [tuple(m.split(" ")) for m in voc["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    special = [t for t, ty in zip(voc["tokens"], voc["types"]) if ty == CONTROL]
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in special])
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "Qwen2Tokenizer",
        "bos_token": None,
        "eos_token": voc["tokens"][voc["eos"]],
        "pad_token": voc["tokens"][voc["pad"]],
        "add_bos_token": False,
        "model_max_length": n_ctx,
    }, indent=2) + "\n")


def make_family(out: Path, fam: str, seed: int, ttype: str, window: int | None = None,
                attn_scalar: float | None = None, rope_scaling: float | None = None,
                rope_local_theta: float | None = None) -> dict:
    c = CONFIGS[fam]
    if window and c["sliding_window"]:
        c = dict(c, sliding_window=window)
    if attn_scalar and fam == "gemma3":
        c = dict(c, attn_scalar=attn_scalar)
    if rope_local_theta and fam == "gemma3":
        c = dict(c, rope_local_theta=rope_local_theta, rope_local_theta_key=True)
    if rope_scaling:
        c = dict(c, rope_scaling=rope_scaling)
    rng = np.random.default_rng([seed, FAMILIES.index(fam)])
    master = draw_weights(c, rng)
    hf = {k: in_type(v, ttype) for k, v in master.items()}
    voc = make_vocab(c["vocab"])

    write_gguf(out / f"{fam}.gguf", fam, c, hf, ttype, voc)
    folder = out / f"{fam}-hf"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(hf_config(c, voc, ttype), indent=2) + "\n")
    write_safetensors(folder / "model.safetensors", hf, ttype)
    if voc["model"] == "gpt2":
        write_hf_tokenizer(folder, voc, c["n_ctx"])

    info = {k: c[k] for k in ("arch", "hf_arch", "model_type", "n_embd", "n_ff", "n_layer",
                              "n_head", "n_head_kv", "head_dim", "n_ctx", "rope_theta",
                              "rms_eps", "tied", "qkv_bias", "qk_norm", "sandwich_norms",
                              "permute_qk", "norm_shift", "sliding_window",
                              "head_dim_in_config")}
    info.update({k: c[k] for k in ("attn_scalar", "rope_scaling", "rope_local_theta") if k in c})
    info.update(gguf=f"{fam}.gguf", hf=f"{fam}-hf", n_vocab=N_VOCAB,
                tokenizer_model=voc["model"], bos=voc["bos"], eos=voc["eos"],
                tensors={gguf_name(k, c): k for k in hf})
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--type", choices=["f32", "f16", "bf16"], default="f32")
    ap.add_argument("--family", action="append", choices=FAMILIES,
                    help="only this family (may be repeated; default: all)")
    ap.add_argument("--sliding-window", type=int, metavar="N",
                    help="attention window of gemma3's local blocks (default 32); the "
                         "weights do not depend on it")
    ap.add_argument("--attn-scalar", type=float, metavar="X",
                    help="gemma3's query_pre_attn_scalar (default: the head dimension); the "
                         "GGUF gets attention.scale = X^-1/2")
    ap.add_argument("--rope-scaling", type=float, metavar="F",
                    help="linear RoPE scaling factor (gemma3: of the global layers), as "
                         "rope_scaling and rope.scaling.type/factor")
    ap.add_argument("--rope-local-theta", type=float, metavar="B",
                    help="RoPE base of gemma3's local layers (default 10000); the GGUF "
                         "gets rope.freq_base_swa")
    a = ap.parse_args(argv)
    if a.sliding_window is not None and a.sliding_window < 1:
        ap.error("--sliding-window must be at least 1")
    for name in ("attn_scalar", "rope_scaling", "rope_local_theta"):
        if getattr(a, name) is not None and not getattr(a, name) > 0:
            ap.error(f"--{name.replace('_', '-')} must be positive")
    a.outdir.mkdir(parents=True, exist_ok=True)
    manifest = {"seed": a.seed, "type": a.type, "families": {}}
    for fam in a.family or FAMILIES:
        manifest["families"][fam] = make_family(a.outdir, fam, a.seed, a.type,
                                                    a.sliding_window, a.attn_scalar,
                                                    a.rope_scaling, a.rope_local_theta)
        print(a.outdir / f"{fam}.gguf")
    (a.outdir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
