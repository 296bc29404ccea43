"""The tiny synthetic models of scripts/make_tiny_models.py are what they claim.

They are the independent reference of the conversion tests, so they are
checked here against the `gguf` package (reader and its llama.cpp tensor-name
table), `safetensors`, `tokenizers`, and relations written out anew below.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import subprocess
from pathlib import Path

import gguf
import numpy as np
import pytest
from safetensors.numpy import load_file

from conftest import TinyModels, make_tiny

FAMILIES = ["llama", "qwen2", "qwen3", "gemma3"]


# ---------------------------------------------------------------- helpers

def field(reader: gguf.GGUFReader, key: str):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def gguf_tensors(path: Path) -> dict[str, tuple[str, list[int], np.ndarray]]:
    """name -> (type name, ne (innermost first), values as float32 rows x cols)."""
    out = {}
    for t in gguf.GGUFReader(path).tensors:
        ne = [int(x) for x in t.shape]
        shape = tuple(reversed(ne))
        if t.tensor_type == gguf.GGMLQuantizationType.BF16:
            bits = np.frombuffer(t.data.tobytes(), dtype=np.uint16)
            vals = (bits.astype(np.uint32) << 16).view(np.float32)
        else:
            vals = np.asarray(t.data).astype(np.float32)
        out[t.name] = (t.tensor_type.name, ne, vals.reshape(shape))
    return out


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """All tensors as float32; bfloat16 read by hand (numpy has no bfloat16)."""
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    if all(h["dtype"] != "BF16" for h in header.values()):
        return {k: v.astype(np.float32) for k, v in load_file(path).items()}
    out = {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        buf = raw[8 + n + a:8 + n + b]
        assert h["dtype"] == "BF16"
        bits = np.frombuffer(buf, dtype=np.uint16).astype(np.uint32) << 16
        out[name] = bits.view(np.float32).reshape(h["shape"])
    return out


def expected_gguf_shapes(info: dict) -> dict[str, list[int]]:
    """GGUF tensor names and ne ([columns, rows]) from the hyper-parameters."""
    d, f, hd, v = info["n_embd"], info["n_ff"], info["head_dim"], info["n_vocab"]
    q, kv = info["n_head"] * hd, info["n_head_kv"] * hd
    s = {"token_embd.weight": [d, v], "output_norm.weight": [d]}
    if not info["tied"]:
        s["output.weight"] = [d, v]
    for i in range(info["n_layer"]):
        b = f"blk.{i}."
        s.update({b + "attn_norm.weight": [d], b + "attn_q.weight": [d, q],
                  b + "attn_k.weight": [d, kv], b + "attn_v.weight": [d, kv],
                  b + "attn_output.weight": [q, d], b + "ffn_norm.weight": [d],
                  b + "ffn_gate.weight": [d, f], b + "ffn_up.weight": [d, f],
                  b + "ffn_down.weight": [f, d]})
        if info["qkv_bias"]:
            s.update({b + "attn_q.bias": [q], b + "attn_k.bias": [kv], b + "attn_v.bias": [kv]})
        if info["qk_norm"]:
            s.update({b + "attn_q_norm.weight": [hd], b + "attn_k_norm.weight": [hd]})
        if info["sandwich_norms"]:
            s.update({b + "post_attention_norm.weight": [d], b + "post_ffw_norm.weight": [d]})
    return s


def interleave_index(n_head: int, head_dim: int) -> np.ndarray:
    """Row i of a GGUF Q/K matrix is row idx[i] of the Hugging Face one: the
    rotation pairs (j, j + head_dim/2) of each head become (2j, 2j + 1)."""
    half = head_dim // 2
    idx = [h * head_dim + k * half + j for h in range(n_head) for j in range(half) for k in (0, 1)]
    return np.array(idx)


@pytest.fixture(scope="module", params=["f16", "bf16"])
def tiny_16bit(request, tmp_path_factory) -> TinyModels:
    root = tmp_path_factory.mktemp(f"tiny-{request.param}")
    return TinyModels(root, make_tiny(root, "--seed", "7", "--type", request.param))


# ---------------------------------------------------------------- GGUF side

def test_all_families_written(tiny_models):
    assert tiny_models.families == FAMILIES
    for fam in FAMILIES:
        assert tiny_models.gguf(fam).is_file()
        assert (tiny_models.hf(fam) / "model.safetensors").is_file()
        assert (tiny_models.hf(fam) / "config.json").is_file()


@pytest.mark.parametrize("fam", FAMILIES)
def test_gguf_metadata(tiny_models, fam):
    info = tiny_models.info(fam)
    r = gguf.GGUFReader(tiny_models.gguf(fam))
    a = fam
    assert field(r, "general.architecture") == a
    assert field(r, "general.file_type") == 0
    assert field(r, f"{a}.block_count") == info["n_layer"]
    assert field(r, f"{a}.context_length") == info["n_ctx"]
    assert field(r, f"{a}.embedding_length") == 64
    assert field(r, f"{a}.feed_forward_length") == 128
    assert field(r, f"{a}.attention.head_count") == 4
    assert field(r, f"{a}.attention.head_count_kv") == (1 if fam == "gemma3" else 2)
    assert field(r, f"{a}.rope.freq_base") == pytest.approx(info["rope_theta"])
    assert field(r, f"{a}.attention.layer_norm_rms_epsilon") == pytest.approx(info["rms_eps"])
    if fam == "qwen2":  # no head_dim in its config: readers fall back to 64/4
        assert field(r, f"{a}.attention.key_length") is None
    else:
        hd = 32 if fam == "gemma3" else 16
        assert field(r, f"{a}.attention.key_length") == hd
        assert field(r, f"{a}.attention.value_length") == hd
    if fam == "gemma3":
        assert field(r, "gemma3.attention.sliding_window") == 32
        assert info["n_layer"] == 6
    if fam == "llama":
        assert field(r, "llama.vocab_size") == 300
        assert field(r, "llama.rope.dimension_count") == 16


@pytest.mark.parametrize("fam", FAMILIES)
def test_gguf_tensor_names_and_shapes(tiny_models, fam):
    info = tiny_models.info(fam)
    got = {name: ne for name, (_, ne, _) in gguf_tensors(tiny_models.gguf(fam)).items()}
    assert got == expected_gguf_shapes(info)
    types = {t for t, _, _ in gguf_tensors(tiny_models.gguf(fam)).values()}
    assert types == {"F32"}
    assert ("output.weight" in got) == (fam in ("llama", "qwen3"))


@pytest.mark.parametrize("fam", FAMILIES)
def test_names_agree_with_gguf_package_table(tiny_models, fam):
    """Each HF -> GGUF name pair is what the gguf package's llama.cpp table says."""
    info = tiny_models.info(fam)
    arch = {"llama": gguf.MODEL_ARCH.LLAMA, "qwen2": gguf.MODEL_ARCH.QWEN2,
            "qwen3": gguf.MODEL_ARCH.QWEN3, "gemma3": gguf.MODEL_ARCH.GEMMA3}[fam]
    table = gguf.get_tensor_name_map(arch, info["n_layer"])
    for gname, hfname in info["tensors"].items():
        assert table.get_name(hfname, try_suffixes=(".weight", ".bias")) == gname, hfname


@pytest.mark.parametrize("fam", FAMILIES)
def test_gguf_vocabulary(tiny_models, fam):
    r = gguf.GGUFReader(tiny_models.gguf(fam))
    tokens = field(r, "tokenizer.ggml.tokens")
    types = field(r, "tokenizer.ggml.token_type")
    assert len(tokens) == len(types) == 300
    bos, eos = field(r, "tokenizer.ggml.bos_token_id"), field(r, "tokenizer.ggml.eos_token_id")
    if fam in ("llama", "gemma3"):
        assert field(r, "tokenizer.ggml.model") == "llama"
        assert len(field(r, "tokenizer.ggml.scores")) == 300
        byte_ids = [tokens.index(f"<0x{b:02X}>") for b in range(256)]
        assert byte_ids == list(range(byte_ids[0], byte_ids[0] + 256))
        assert all(types[i] == gguf.TokenType.BYTE for i in byte_ids)
        assert any(t.startswith("\u2581") and len(t) > 1 for t in tokens)
        if fam == "llama":
            assert (tokens[0], tokens[1], tokens[2]) == ("<unk>", "<s>", "</s>")
            assert (bos, eos) == (1, 2)
        else:
            assert tokens[:4] == ["<pad>", "<eos>", "<bos>", "<unk>"]
            assert (bos, eos) == (2, 1)
            assert field(r, "tokenizer.ggml.add_space_prefix") is False
        assert field(r, "tokenizer.ggml.add_bos_token") is True
    else:
        assert field(r, "tokenizer.ggml.model") == "gpt2"
        assert field(r, "tokenizer.ggml.pre") == "qwen2"
        assert field(r, "tokenizer.ggml.scores") is None
        # the 256 byte-level characters come first, one per byte
        assert len(set(tokens[:256])) == 256 and all(len(t) == 1 for t in tokens[:256])
        assert "Ġ" in tokens[:256]  # the space
        merges = field(r, "tokenizer.ggml.merges")
        assert merges
        for m in merges:
            a, b = m.split(" ")
            assert a in tokens and b in tokens and a + b in tokens
        assert tokens[bos] == "<|endoftext|>" and tokens[eos] == "<|im_end|>"
        assert types[eos] == gguf.TokenType.CONTROL
        assert field(r, "tokenizer.ggml.add_bos_token") is False


# ---------------------------------------------------------------- HF side

@pytest.mark.parametrize("fam", FAMILIES)
def test_hf_config(tiny_models, fam):
    info = tiny_models.info(fam)
    cfg = json.loads((tiny_models.hf(fam) / "config.json").read_text())
    assert cfg["architectures"] == [{"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM",
                                     "qwen3": "Qwen3ForCausalLM",
                                     "gemma3": "Gemma3ForCausalLM"}[fam]]
    assert cfg["model_type"] == ("gemma3_text" if fam == "gemma3" else fam)
    assert cfg["hidden_size"] == info["n_embd"]
    assert cfg["num_hidden_layers"] == info["n_layer"]
    assert cfg["num_key_value_heads"] == info["n_head_kv"]
    assert cfg["vocab_size"] == 300
    assert cfg["tie_word_embeddings"] == info["tied"]
    assert ("head_dim" in cfg) == (fam != "qwen2")
    if fam == "gemma3":
        assert cfg["layer_types"].count("full_attention") == 1
        assert cfg["layer_types"][5] == "full_attention"


def check_relations(models: TinyModels, fam: str) -> None:
    info = models.info(fam)
    hf = read_safetensors(models.hf(fam) / "model.safetensors")
    gg = gguf_tensors(models.gguf(fam))
    assert len(hf) == len(gg)
    assert ("lm_head.weight" in hf) == (not info["tied"])
    for gname, hfname in info["tensors"].items():
        g = gg[gname][2]
        h = hf[hfname]
        if fam == "llama" and hfname.endswith(("q_proj.weight", "k_proj.weight")):
            heads = info["n_head"] if "q_proj" in hfname else info["n_head_kv"]
            expect = h[interleave_index(heads, info["head_dim"])]
            assert not np.array_equal(g, h), "permutation missing"
        elif fam == "gemma3" and hfname.endswith("norm.weight"):
            expect = h + np.float32(1.0)
            assert abs(float(h.mean())) < 0.5 and abs(float(g.mean()) - 1) < 0.5
        else:
            expect = h
        assert g.shape == expect.shape, gname
        assert np.array_equal(g, expect), gname


@pytest.mark.parametrize("fam", FAMILIES)
def test_hf_and_gguf_hold_the_same_weights(tiny_models, fam):
    check_relations(tiny_models, fam)


@pytest.mark.parametrize("fam", FAMILIES)
def test_16bit_types(tiny_16bit, fam):
    ttype = tiny_16bit.manifest["type"]
    gg = gguf_tensors(tiny_16bit.gguf(fam))
    for name, (t, ne, _) in gg.items():
        assert t == ("F32" if len(ne) == 1 else ttype.upper()), name
    r = gguf.GGUFReader(tiny_16bit.gguf(fam))
    assert field(r, "general.file_type") == {"f16": 1, "bf16": 32}[ttype]
    check_relations(tiny_16bit, fam)


@pytest.mark.parametrize("fam", ["qwen2", "qwen3"])
def test_hf_tokenizer_matches_gguf_vocabulary(tiny_models, fam):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(tiny_models.hf(fam) / "tokenizer.json"))
    tokens = field(gguf.GGUFReader(tiny_models.gguf(fam)), "tokenizer.ggml.tokens")
    vocab = tok.get_vocab(with_added_tokens=True)
    assert {i: t for t, i in vocab.items()} == dict(enumerate(tokens))
    enc = tok.encode(" the and of<|im_end|>")
    assert enc.tokens == ["Ġthe", "Ġand", "Ġof", "<|im_end|>"]
    assert tok.decode(enc.ids, skip_special_tokens=False) == " the and of<|im_end|>"


def test_no_tokenizer_for_sentencepiece_families(tiny_models):
    for fam in ("llama", "gemma3"):
        assert not (tiny_models.hf(fam) / "tokenizer.json").exists()


# ---------------------------------------------------------------- determinism

def test_same_seed_same_bytes(tiny_models, tmp_path):
    make_tiny(tmp_path, "--seed", "1234", "--family", "qwen3")
    a = hashlib.sha256((tmp_path / "qwen3.gguf").read_bytes()).hexdigest()
    b = hashlib.sha256(tiny_models.gguf("qwen3").read_bytes()).hexdigest()
    assert a == b
    other = tmp_path / "other"
    make_tiny(other, "--seed", "1235", "--family", "qwen3")
    assert (other / "qwen3.gguf").read_bytes() != tiny_models.gguf("qwen3").read_bytes()


# ---------------------------------------------------------------- llama.cpp

def run_tool(llamacpp_bin: Path, tool: str, *args: str) -> str:
    r = subprocess.run([str(llamacpp_bin / tool), *args], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, f"{tool} failed ({r.returncode}):\n{r.stderr[-3000:]}"
    return r.stdout + r.stderr


@pytest.mark.parametrize("fam", FAMILIES)
def test_llamacpp_runs_the_tiny_model(tiny_models, llamacpp_bin, fam, tmp_path):
    """llama.cpp loads every tensor and evaluates the model: names, shapes and
    metadata are what it expects for the architecture."""
    rng = np.random.default_rng(5)
    words = ["the", "and", "of", "na", "ya", "wa", "ku", "der", "la", "é", "mu",
             "cat", "house", "river", "ni", "ha", "le", "un", "ção"]
    text = tmp_path / "text.txt"
    text.write_text(" ".join(rng.choice(words, size=400)) + "\n")
    out = run_tool(llamacpp_bin, "llama-perplexity", "-m", str(tiny_models.gguf(fam)),
                   "-f", str(text), "-c", "32", "-b", "32", "-t", "2", "--chunks", "4")
    chunks = re.findall(r"\[(\d+)\](\d+\.\d+)", out)
    assert chunks, out[-2000:]
    assert all(np.isfinite(float(p)) and float(p) > 1 for _, p in chunks)


@pytest.mark.parametrize("fam", ["qwen2", "qwen3"])
def test_llamacpp_tokenizes_like_the_hf_tokenizer(tiny_models, llamacpp_bin, fam):
    from tokenizers import Tokenizer
    text = " the and of na ya é ku wa"
    tok = Tokenizer.from_file(str(tiny_models.hf(fam) / "tokenizer.json"))
    out = run_tool(llamacpp_bin, "llama-tokenize", "-m", str(tiny_models.gguf(fam)),
                   "-p", text, "--ids", "--log-disable")
    ids = json.loads(out.strip().splitlines()[-1])
    assert ids == tok.encode(text).ids
