"""Tokenizer conversion between GGUF and Hugging Face files, checked against the
`tokenizers` package, the `gguf` package and (when built) llama.cpp's llama-tokenize.

Environment: MWANDA_TOK_TOOL (the mw-tok-tool driver), MWANDA_MODELS (a folder with
gemma3-270m.gguf and smollm2-135m.gguf), MWANDA_SOURCE (the repository), MWANDA_CACHE
(default ~/.cache/mwanda, where a llama.cpp build may be found)."""

import glob
import hashlib
import json
import lzma
import os
import struct
import subprocess
from pathlib import Path

import gguf
import numpy as np
import pytest
from tokenizers import Tokenizer

SOURCE = Path(os.environ.get("MWANDA_SOURCE", Path(__file__).resolve().parents[2]))
DATA = SOURCE / "tests" / "data" / "tokenizers"
TOOL = os.environ.get("MWANDA_TOK_TOOL")
MODELS = os.environ.get("MWANDA_MODELS")
META = "\u2581"

pytestmark = pytest.mark.skipif(not TOOL, reason="MWANDA_TOK_TOOL is not set")


def model(name):
    path = Path(MODELS or "/nonexistent") / name
    if not path.is_file():
        pytest.skip(f"{name} not found (set MWANDA_MODELS)")
    return path


def tool(*args, ok=True):
    r = subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True)
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def xz_text(path):
    return lzma.decompress(path.read_bytes()).decode("utf-8")


def golden(name):
    rows = [json.loads(line) for line in xz_text(DATA / "golden-udhr.jsonl.xz").splitlines()]
    return [r for r in rows if r["tokenizer"] == name]


def all_texts():
    return [r["text"] for r in golden("gemma3")]


GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
                10: "<Q", 11: "<q", 12: "<d"}
GGUF_NUMPY = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "<u1",
              10: "<u8", 11: "<i8", 12: "<f8"}


def tokenizer_kv(path):
    """Every tokenizer.* entry (strings as bytes, numeric arrays as numpy arrays), read
    directly: gguf.GGUFReader takes half a minute on a 262144-token vocabulary, so it is
    used on the smaller model only, to check this reader (test_reader_agrees_with_gguf)."""
    data = Path(path).read_bytes()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)[0]
        pos += struct.calcsize(fmt)
        return v

    def string():
        nonlocal pos
        n = take("<Q")
        pos += n
        return data[pos - n:pos]

    assert data[:4] == b"GGUF" and struct.unpack_from("<I", data, 4)[0] == 3
    pos = 8
    take("<Q")
    out = {}
    for _ in range(take("<Q")):
        key, vtype = string().decode(), take("<I")
        if vtype == 9:
            etype, n = take("<I"), take("<Q")
            if etype == 8:
                value = [string() for _ in range(n)]
            else:
                size = np.dtype(GGUF_NUMPY[etype]).itemsize
                value = np.frombuffer(data, GGUF_NUMPY[etype], n, pos)
                pos += n * size
        else:
            value = (vtype, string() if vtype == 8 else take(GGUF_SCALARS[vtype]))
        if key.startswith("tokenizer."):
            out[key] = value
    return out


def str_value(kv, key):
    return kv[key][1].decode("utf-8")


def assert_same_kv(a, b):
    assert sorted(a) == sorted(b)
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), key
        else:
            assert x == y, key


def golden_matches(tokenizer_json, name):
    tok = Tokenizer.from_file(str(tokenizer_json))
    rows = golden(name)
    good = sum(tok.encode(r["text"], add_special_tokens=False).ids == r["ids"] for r in rows)
    return good, len(rows)


def llama_tokenize():
    exe = os.environ.get("MWANDA_LLAMA_TOKENIZE")
    if exe:
        return exe if os.access(exe, os.X_OK) else None
    cache = Path(os.environ.get("MWANDA_CACHE", Path.home() / ".cache" / "mwanda"))
    found = glob.glob(str(cache / "llamacpp-src" / "*" / "vendor" / "llama.cpp" / "build" / "bin"
                          / "llama-tokenize"))
    return found[0] if found else None


def llama_ids(exe, gguf_path, text, tmp_path):
    f = tmp_path / "text.txt"
    f.write_text(text, encoding="utf-8")
    r = subprocess.run([exe, "-m", str(gguf_path), "-f", str(f), "--ids", "--log-disable",
                        "--no-escape", "--no-bos"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def hf_folder(tmp_path, name, tokenizer_json_text):
    d = tmp_path / f"hf-{name}"
    d.mkdir()
    (d / "tokenizer.json").write_text(tokenizer_json_text, encoding="utf-8")
    (d / "tokenizer_config.json").write_text(
        xz_text(DATA / name / "tokenizer_config.json.xz"), encoding="utf-8")
    return d


def canonical_sha256(obj):
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture(scope="module")
def gemma3_hf(tmp_path_factory):
    """Our Hugging Face files for the Gemma 3 GGUF, made once for the tests that need them."""
    out = tmp_path_factory.mktemp("gemma3") / "hf"
    tool("to-hf", model("gemma3-270m.gguf"), out)
    return out


def gemma3_tokenizer_json(ours):
    """The real Gemma 3 tokenizer.json: the stored copy lacks vocab and merges, which are
    taken from our conversion of the GGUF once their checksums prove them identical."""
    built = json.loads((ours / "tokenizer.json").read_text(encoding="utf-8"))
    real = json.loads(xz_text(DATA / "gemma3" / "tokenizer-skeleton.json.xz"))
    sums = real.pop("mwanda_test")
    assert canonical_sha256(built["model"]["vocab"]) == sums["vocab_sha256"]
    assert canonical_sha256(built["model"]["merges"]) == sums["merges_sha256"]
    real["model"]["vocab"] = built["model"]["vocab"]
    real["model"]["merges"] = built["model"]["merges"]
    return json.dumps(real, ensure_ascii=False)


# ---- GGUF -> Hugging Face ------------------------------------------------


def test_gemma3_matches_golden_ids(gemma3_hf):
    out = gemma3_hf
    assert sorted(p.name for p in out.iterdir()) == [
        "tokenizer.json", "tokenizer.model", "tokenizer_config.json"]
    assert golden_matches(out / "tokenizer.json", "gemma3") == (30, 30)
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    assert tok.encode("Hello").ids[0] == 2  # add_bos_token
    config = json.loads((out / "tokenizer_config.json").read_text())
    assert config["bos_token"] == "<bos>" and config["add_bos_token"] is True
    assert config["added_tokens_decoder"]["138"]["content"] == META * 2


def test_smollm2_tokenizer_json(tmp_path):
    path = model("smollm2-135m.gguf")
    out = tmp_path / "hf"
    tool("to-hf", path, out)
    assert not (out / "tokenizer.model").exists()
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    for text in all_texts():
        assert tok.decode(tok.encode(text, add_special_tokens=False).ids) == text
    kv = tokenizer_kv(path)
    spec = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = sorted(spec["model"]["vocab"].items(), key=lambda kv_: kv_[1])
    assert [t.encode() for t, _ in vocab] == kv["tokenizer.ggml.tokens"]
    assert [f"{a} {b}".encode() for a, b in spec["model"]["merges"]] == kv["tokenizer.ggml.merges"]
    exe = llama_tokenize()
    if exe:  # llama.cpp on the original GGUF agrees with tokenizers on our tokenizer.json
        for text in all_texts()[::10]:
            ids = tok.encode(text, add_special_tokens=False).ids
            assert llama_ids(exe, path, text, tmp_path) == ids


def test_reader_agrees_with_gguf():
    path = model("smollm2-135m.gguf")
    ours = tokenizer_kv(path)
    theirs = {}
    for key, f in gguf.GGUFReader(path).fields.items():
        if not key.startswith("tokenizer."):
            continue
        if f.types[0] == gguf.GGUFValueType.ARRAY and f.types[1] == gguf.GGUFValueType.STRING:
            theirs[key] = [bytes(f.parts[i]) for i in f.data]
        elif f.types[0] == gguf.GGUFValueType.ARRAY:
            theirs[key] = np.concatenate([f.parts[i] for i in f.data])
        elif f.types[0] == gguf.GGUFValueType.STRING:
            theirs[key] = (int(f.types[0]), f.contents().encode("utf-8"))
        else:
            theirs[key] = (int(f.types[0]), f.contents())
    assert_same_kv(ours, theirs)


@pytest.mark.parametrize("name,arch", [("gemma3-270m.gguf", "gemma3"),
                                       ("smollm2-135m.gguf", "llama")])
def test_round_trip_is_exact(tmp_path, name, arch):
    path = model(name)
    tool("to-hf", path, tmp_path / "hf")
    tool("to-gguf", tmp_path / "hf", arch, tmp_path / "back.gguf")
    assert_same_kv(tokenizer_kv(path), tokenizer_kv(tmp_path / "back.gguf"))


# ---- Hugging Face -> GGUF ------------------------------------------------


def looks_special(t):
    return (t in ("<pad>", "<mask>", "<2mass>", "[@BOS@]") or
            (t.startswith("<|") and t.endswith("|>")) or
            (t.startswith("<\uff5c") and t.endswith("\uff5c>")) or
            (t.startswith("<unused") and t.endswith(">")))


def expected_gguf(spec, config, spm):
    """What llama.cpp's converter (get_vocab_base, SpecialVocab) makes of these files;
    for SentencePiece-style files byte and unknown tokens are typed as in tokenizer.model."""
    text = {i: t for t, i in spec["model"]["vocab"].items()}
    added = {a["id"]: a for a in spec["added_tokens"]}
    text.update({i: a["content"] for i, a in added.items()})
    tokens, types = [], []
    for i in range(max(text) + 1):
        t = text.get(i)
        if t is None:
            tokens.append(f"[PAD{i}]"), types.append(5)
        elif i in added:
            control = added[i]["special"] or looks_special(t)
            tokens.append(t if control else t.replace(META, " "))
            types.append(3 if control else 4)
        else:
            tokens.append(t)
            byte = spm and len(t) == 6 and t.startswith("<0x") and t.endswith(">")
            types.append(6 if byte else 2 if spm and t == spec["model"]["unk_token"] else 1)
    merges = [m if isinstance(m, str) else " ".join(p.replace(" ", "\u0120") for p in m)
              for m in spec["model"]["merges"]]
    ids = {}
    for typ, key in [("bos", "bos_token_id"), ("eos", "eos_token_id"),
                     ("unk", "unknown_token_id"), ("pad", "padding_token_id")]:
        content = config.get(f"{typ}_token")
        content = content.get("content") if isinstance(content, dict) else content
        found = [a["id"] for a in spec["added_tokens"] if a["content"] == content]
        if content and found:
            ids["tokenizer.ggml." + key] = found[0]
    return tokens, types, merges, ids


@pytest.mark.parametrize("name,arch,pre", [("qwen3", "qwen3", "qwen2"),
                                           ("llama3", "llama", "llama-bpe")])
def test_byte_level_tokenizer_json_to_gguf(tmp_path, name, arch, pre):
    folder = hf_folder(tmp_path, name, xz_text(DATA / name / "tokenizer.json.xz"))
    tool("to-gguf", folder, arch, tmp_path / "out.gguf")
    kv = tokenizer_kv(tmp_path / "out.gguf")
    spec = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    tokens, types, merges, ids = expected_gguf(spec, config, spm=False)
    assert str_value(kv, "tokenizer.ggml.model") == "gpt2"
    assert str_value(kv, "tokenizer.ggml.pre") == pre
    assert kv["tokenizer.ggml.tokens"] == [t.encode() for t in tokens]
    assert kv["tokenizer.ggml.token_type"].tolist() == types
    assert kv["tokenizer.ggml.merges"] == [m.encode() for m in merges]
    for key, value in ids.items():
        assert kv[key][1] == value, key
    assert str_value(kv, "tokenizer.chat_template") == config["chat_template"]
    # and back: the regenerated tokenizer.json still gives the reference ids
    tool("to-hf", tmp_path / "out.gguf", tmp_path / "back")
    assert golden_matches(tmp_path / "back" / "tokenizer.json", name) == (30, 30)
    exe = llama_tokenize()
    if exe and name == "llama3":  # (llama.cpp skips Qwen's NFC normalization)
        for row in golden(name)[::10]:
            assert llama_ids(exe, tmp_path / "out.gguf", row["text"], tmp_path) == row["ids"]


def test_sentencepiece_tokenizer_json_to_gguf(tmp_path, gemma3_hf):
    folder = hf_folder(tmp_path, "gemma3", gemma3_tokenizer_json(gemma3_hf))
    tool("to-gguf", folder, "gemma3", tmp_path / "out.gguf")
    kv = tokenizer_kv(tmp_path / "out.gguf")
    spec = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    tokens, types, _, ids = expected_gguf(spec, config, spm=True)
    assert str_value(kv, "tokenizer.ggml.model") == "llama"
    assert kv["tokenizer.ggml.tokens"] == [t.encode() for t in tokens]
    assert kv["tokenizer.ggml.token_type"].tolist() == types
    for key, value in ids.items():
        assert kv[key][1] == value, key
    assert kv["tokenizer.ggml.add_space_prefix"][1] is False
    # the same texts as the model's own GGUF (which has one token fewer)
    real = tokenizer_kv(model("gemma3-270m.gguf"))["tokenizer.ggml.tokens"]
    assert kv["tokenizer.ggml.tokens"][:len(real)] == real
    # scores follow the merge ranks: back to tokenizer.json, the reference ids again
    tool("to-hf", tmp_path / "out.gguf", tmp_path / "back")
    assert golden_matches(tmp_path / "back" / "tokenizer.json", "gemma3") == (30, 30)
    exe = llama_tokenize()
    if exe:
        for row in golden("gemma3")[::10]:
            assert llama_ids(exe, tmp_path / "out.gguf", row["text"], tmp_path) == row["ids"]


def test_kind(tmp_path):
    assert tool("kind", tmp_path).stdout.strip() == "none"
    folder = hf_folder(tmp_path, "qwen3", xz_text(DATA / "qwen3" / "tokenizer.json.xz"))
    assert tool("kind", folder).stdout.strip() == "byte-level BPE (tokenizer.json)"
    (folder / "tokenizer.model").write_bytes(b"")
    assert tool("kind", folder).stdout.strip() == "SentencePiece BPE (tokenizer.model)"


def test_unsupported_model_is_one_clear_line(tmp_path):
    d = tmp_path / "unigram"
    d.mkdir()
    (d / "tokenizer.json").write_text(json.dumps({"model": {"type": "Unigram", "vocab": []}}))
    r = tool("to-gguf", d, "llama", tmp_path / "x.gguf", ok=False)
    assert r.returncode == 1 and "Unigram" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "x.gguf").exists()
