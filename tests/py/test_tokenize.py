"""`mwanda tokenize` on tokenizer.json files against Hugging Face tokenizers, and the
command's behaviour on every kind of input.

- golden-udhr.jsonl.xz (tests/data/tokenizers): the ids of the `tokenizers` package for
  UDHR text in 15 languages, for the tokenizer.json of Gemma 3, Qwen 3 and Llama 3 (Gemma's
  is stored without its vocabulary and merges: they are rebuilt from the Gemma 3 GGUF and
  checked against the SHA-256 sums of the original, as test_hf_tokenizer.py does);
- the `tokenizers` package itself on the texts of tests/data/tok/texts.jsonl, with and
  without special tokens, encoding and decoding;
- bad input: invalid UTF-8, NUL bytes, a megabyte without a space, ids out of range.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import subprocess
import time
import unicodedata
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from conftest import SOURCE_DIR

TOKENIZERS = SOURCE_DIR / "tests" / "data" / "tokenizers"
TEXTS_FILE = SOURCE_DIR / "tests" / "data" / "tok" / "texts.jsonl"
NAMES = ("gemma3", "qwen3", "llama3")
NOISE = ("Traceback", "Sanitizer", "runtime error", "Segmentation", "Aborted", "core dumped")


def read_jsonl(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode("utf-8").split("\n") if line]


TEXTS = read_jsonl(TEXTS_FILE.read_bytes())
GOLDEN = read_jsonl(lzma.decompress((TOKENIZERS / "golden-udhr.jsonl.xz").read_bytes()))


def mwanda(mwanda_bin, *args, data: bytes = b"", timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([str(mwanda_bin), "tokenize", *map(str, args)], input=data,
                          capture_output=True, timeout=timeout)


def ok(r: subprocess.CompletedProcess) -> bytes:
    assert r.returncode == 0 and r.stderr == b"", r.stderr.decode(errors="replace")
    return r.stdout


def tokenize_all(mwanda_bin, path, texts: list[str], special=False) -> list[list[int]]:
    data = "".join(json.dumps(t) + "\n" for t in texts).encode()
    out = ok(mwanda(mwanda_bin, path, "--jsonl", *(["--special"] if special else []), data=data))
    return [json.loads(line) for line in out.decode().split("\n") if line]


def decode_all(mwanda_bin, path, ids: list[list[int]], special=False) -> list[str]:
    data = "".join(json.dumps(i) + "\n" for i in ids).encode()
    out = ok(mwanda(mwanda_bin, path, "--jsonl", "--decode", *(["--special"] if special else []),
                    data=data))
    return [json.loads(line) for line in out.decode("utf-8").split("\n") if line]


def canonical_sha256(obj) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def gemma3_vocab_and_merges(mwanda_bin: Path, gguf: Path, tmp: Path) -> dict:
    """model.vocab and model.merges of our tokenizer.json for the Gemma 3 GGUF: from the
    tokenizer test driver when it was built next to mwanda, else from a conversion."""
    tool = os.environ.get("MWANDA_TOK_TOOL") or str(mwanda_bin.parent / "tests" / "mw-tok-tool")
    out = tmp / "gemma3-hf"
    if os.access(tool, os.X_OK):
        r = subprocess.run([tool, "to-hf", str(gguf), str(out)], capture_output=True, text=True)
    else:
        r = subprocess.run([str(mwanda_bin), "convert", str(gguf), str(out), "--type", "bf16"],
                           capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))["model"]


@pytest.fixture(scope="module")
def tokenizer_files(mwanda_bin, real_models, tmp_path_factory) -> dict[str, Path]:
    """name -> a folder holding the real tokenizer.json (and tokenizer_config.json)."""
    root = tmp_path_factory.mktemp("tokenizers")
    out = {}
    for name in NAMES:
        d = root / name
        d.mkdir()
        if name == "gemma3":
            spec = json.loads(lzma.decompress(
                (TOKENIZERS / name / "tokenizer-skeleton.json.xz").read_bytes()))
            sums = spec.pop("mwanda_test")
            model = gemma3_vocab_and_merges(mwanda_bin, real_models["gemma3-270m"], root)
            assert canonical_sha256(model["vocab"]) == sums["vocab_sha256"]
            assert canonical_sha256(model["merges"]) == sums["merges_sha256"]
            spec["model"]["vocab"], spec["model"]["merges"] = model["vocab"], model["merges"]
            text = json.dumps(spec, ensure_ascii=False)
        else:
            text = lzma.decompress((TOKENIZERS / name / "tokenizer.json.xz").read_bytes()).decode()
        (d / "tokenizer.json").write_text(text, encoding="utf-8")
        (d / "tokenizer_config.json").write_bytes(
            lzma.decompress((TOKENIZERS / name / "tokenizer_config.json.xz").read_bytes()))
        out[name] = d / "tokenizer.json"
    return out


# ---- Hugging Face tokenizers ---------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_golden_udhr_ids(mwanda_bin, tokenizer_files, name):
    rows = [r for r in GOLDEN if r["tokenizer"] == name]
    got = tokenize_all(mwanda_bin, tokenizer_files[name], [r["text"] for r in rows])
    langs = sorted({r["lang"] for r in rows})
    good = sum(g == r["ids"] for g, r in zip(got, rows))
    print(f"{name}: {good}/{len(rows)} golden rows exact, {len(langs)} languages")
    assert len(langs) == 15 and len(rows) == 30
    assert good == len(rows), [r["lang"] for g, r in zip(got, rows) if g != r["ids"]]


@pytest.mark.parametrize("special", [False, True], ids=["plain", "special"])
@pytest.mark.parametrize("name", NAMES)
def test_same_ids_as_tokenizers(mwanda_bin, tokenizer_files, name, special):
    """Without --special, special-token text is text: tokenizers' encode_special_tokens."""
    tok = Tokenizer.from_file(str(tokenizer_files[name]))
    tok.encode_special_tokens = not special
    texts = [t["text"] for t in TEXTS] + [r["text"] for r in GOLDEN if r["tokenizer"] == name]
    got = tokenize_all(mwanda_bin, tokenizer_files[name], texts, special)
    want = [tok.encode(t, add_special_tokens=special).ids for t in texts]
    bad = [t[:40] for t, g, w in zip(texts, got, want) if g != w]
    print(f"{name} ({'special' if special else 'plain'}): {len(texts) - len(bad)}/{len(texts)}")
    assert not bad, bad


@pytest.mark.parametrize("special", [False, True], ids=["plain", "special"])
@pytest.mark.parametrize("name", NAMES)
def test_decode_as_tokenizers(mwanda_bin, tokenizer_files, name, special):
    """Decoding is tokenizers' decode; it gives the text back (Qwen's in NFC)."""
    tok = Tokenizer.from_file(str(tokenizer_files[name]))
    tok.encode_special_tokens = not special
    texts = [t["text"] for t in TEXTS]
    ids = [tok.encode(t, add_special_tokens=special).ids for t in texts]
    got = decode_all(mwanda_bin, tokenizer_files[name], ids, special)
    assert got == [tok.decode(i, skip_special_tokens=not special) for i in ids]
    if not special:
        norm = (lambda t: unicodedata.normalize("NFC", t)) if name == "qwen3" else (lambda t: t)
        assert [g for g, t in zip(got, texts) if g != norm(t)] == []


def test_folder_model_uses_its_tokenizer_json(mwanda_bin, tiny_models):
    """A safetensors folder is tokenized with its tokenizer.json, as tokenizers does."""
    folder = tiny_models.hf("qwen2")
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    texts = ["Hello world", "12345 abc", "  spaced  out\n\n", "\u00e9t\u00e9 \u4f60\u597d"]
    assert tokenize_all(mwanda_bin, folder, texts) == \
        [tok.encode(t, add_special_tokens=False).ids for t in texts]


# ---- the command ----------------------------------------------------------


def expect_error(r: subprocess.CompletedProcess, code: int, part: str) -> str:
    err = r.stderr.decode("utf-8", errors="replace")
    lines = err.splitlines()
    assert r.returncode == code, (r.returncode, err)
    assert len(lines) == 1 and lines[0].startswith("mwanda: error: "), err
    assert part in lines[0], (part, lines[0])
    assert not any(n in err for n in NOISE) and r.stdout == b""
    return lines[0]


def test_help_and_usage_errors(mwanda_bin, tmp_path):
    r = mwanda(mwanda_bin, "--help")
    assert r.returncode == 0 and b"example" in r.stdout
    expect_error(mwanda(mwanda_bin), 2, "expected one MODEL")
    expect_error(mwanda(mwanda_bin, "a", "b"), 2, "expected one MODEL")
    expect_error(mwanda(mwanda_bin, "gemma3-270m", "--frob"), 2, "unknown option '--frob'")
    expect_error(mwanda(mwanda_bin, tmp_path / "missing.json"), 1, "missing.json")
    (tmp_path / "not.json").write_text("{\"model\": {\"type\": \"WordPiece\"}}")
    expect_error(mwanda(mwanda_bin, tmp_path / "not.json"), 1, "WordPiece")
    (tmp_path / "empty").mkdir()
    expect_error(mwanda(mwanda_bin, tmp_path / "empty"), 1, "no tokenizer.json")


ALL = ("gemma3-270m", "smollm2-135m", "qwen3")


def model_arg(tokenizer_files, which):
    return tokenizer_files[which] if which in tokenizer_files else which


@pytest.mark.parametrize("which", ALL)
def test_empty_input(mwanda_bin, tokenizer_files, which):
    m = model_arg(tokenizer_files, which)
    assert ok(mwanda(mwanda_bin, m)) == b"[]\n"
    assert ok(mwanda(mwanda_bin, m, "--decode", data=b"[]")) == b""
    bos = {"gemma3-270m": b"[2]\n", "smollm2-135m": b"[]\n", "qwen3": b"[]\n"}[which]
    assert ok(mwanda(mwanda_bin, m, "--special")) == bos


BAD_UTF8 = {  # text, offset of the first bad byte
    "overlong": (b"ab\xc0\xafcd", 2),
    "overlong-3": (b"\xe0\x80\xaf", 0),
    "surrogate": (b"x\xed\xa0\x80y", 1),
    "past-10ffff": (b"\xf4\x90\x80\x80", 0),
    "truncated": (b"abc\xe2\x82", 3),
    "truncated-mid": (b"a\xf0\x9f\x98b", 1),
    "lone-continuation": (b"\x80", 0),
    "invalid-byte": (b"ok \xff", 3),
}


@pytest.mark.parametrize("which", ALL)
def test_invalid_utf8_is_one_line(mwanda_bin, tokenizer_files, which):
    m = model_arg(tokenizer_files, which)
    for name, (data, at) in BAD_UTF8.items():
        expect_error(mwanda(mwanda_bin, m, data=data), 1, f"not valid UTF-8 (at byte {at})")
    # --jsonl: a lone surrogate escape is no text either; the lines before it are done
    r = mwanda(mwanda_bin, m, "--jsonl", data=b'"fine"\n"\\ud800"\n')
    assert r.returncode == 1 and r.stdout.count(b"\n") == 1
    assert r.stderr.decode().startswith("mwanda: error: line 2: ")


@pytest.mark.parametrize("which", ALL)
def test_nul_bytes_are_text(mwanda_bin, tokenizer_files, which):
    m = model_arg(tokenizer_files, which)
    text = b"a\x00b\x00\x00 c\x00"
    ids = json.loads(ok(mwanda(mwanda_bin, m, data=text)))
    assert len(ids) >= 4
    assert ok(mwanda(mwanda_bin, m, "--decode", data=json.dumps(ids).encode())) == text


@pytest.mark.parametrize("which", ALL)
def test_decode_bad_ids(mwanda_bin, tokenizer_files, which):
    m = model_arg(tokenizer_files, which)
    expect_error(mwanda(mwanda_bin, m, "--decode", data=b"[1, 99999999]"), 1, "out of range")
    expect_error(mwanda(mwanda_bin, m, "--decode", data=b"[-1]"), 1, "out of range")
    expect_error(mwanda(mwanda_bin, m, "--decode", data=b"[1, \"x\"]"), 1, "not an integer")
    expect_error(mwanda(mwanda_bin, m, "--decode", data=b"[1.5]"), 1, "not an integer")
    expect_error(mwanda(mwanda_bin, m, "--decode", data=b"{}"), 1, "not a JSON array")
    expect_error(mwanda(mwanda_bin, m, "--decode", data=b"[1, 2"), 1, "not a JSON array")


HUGE = {
    "letters": b"a" * (1 << 20),
    "spaces": b" " * (1 << 20),
    "newlines": b"\n" * (1 << 20),
    "digits": b"1234567890" * (1 << 17),
    "punctuation": b"!?" * (1 << 19),
    "cjk": "\u4eba\u6a29".encode() * (1 << 17),
}


@pytest.mark.parametrize("which", ALL)
def test_huge_word_is_fast(mwanda_bin, tokenizer_files, which):
    """A megabyte without a space is no quadratic case (the limit allows sanitizer builds)."""
    m = model_arg(tokenizer_files, which)
    for name, text in HUGE.items():
        start = time.monotonic()
        ids = json.loads(ok(mwanda(mwanda_bin, m, data=text, timeout=120)))
        took = time.monotonic() - start
        print(f"{which} {name}: {len(text)} bytes -> {len(ids)} ids in {took:.2f}s")
        assert took < 60, (name, took)
        assert ok(mwanda(mwanda_bin, m, "--decode", data=json.dumps(ids).encode())) == text
