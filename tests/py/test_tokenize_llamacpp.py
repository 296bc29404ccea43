"""`mwanda tokenize` on the default GGUF models against llama.cpp's tokenizer.

The ids llama-tokenize gives the texts of tests/data/tok/texts.jsonl (UDHR excerpts in 47
languages, 30 scripts, and hand-written edge cases) are committed in
golden-llamacpp.jsonl.xz (scripts/gen_tok_golden.py), so that the comparison runs without
llama.cpp; with MWANDA_LLAMACPP_BIN set, llama-tokenize itself is run on part of them too.
"""

from __future__ import annotations

import json
import lzma
import os
import subprocess
from pathlib import Path

import pytest

from conftest import SOURCE_DIR

DATA = SOURCE_DIR / "tests" / "data" / "tok"
MODELS = ("gemma3-270m", "smollm2-135m")
# what the live comparison runs (llama-tokenize loads Gemma's vocabulary in about a second)
LIVE = ["udhr-eng", "udhr-rus", "udhr-arb", "udhr-hin", "udhr-tam", "udhr-tha", "udhr-cmn_hans",
        "udhr-kor", "udhr-kat", "udhr-amh", "empty", "digits", "pi", "spaces-runs", "tabs",
        "newlines", "leading-trailing", "zwj-family", "combining", "nul",
        "special-text-gemma", "special-text-chatml"]


def read_jsonl(data: bytes) -> list[dict]:
    # texts hold U+2028 and U+0085, which splitlines() would cut at
    return [json.loads(line) for line in data.decode("utf-8").split("\n") if line]


TEXTS = read_jsonl((DATA / "texts.jsonl").read_bytes())
GOLDEN = read_jsonl(lzma.decompress((DATA / "golden-llamacpp.jsonl.xz").read_bytes()))


def golden(model: str) -> dict[str, dict]:
    return {r["name"]: r for r in GOLDEN if r["model"] == model}


def run(mwanda_bin: Path, args: list, data: bytes) -> bytes:
    r = subprocess.run([str(mwanda_bin), "tokenize", *map(str, args)], input=data,
                       capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert r.stderr == b""
    return r.stdout


def tokenize_all(mwanda_bin: Path, model, texts: list[str], special: bool) -> list[list[int]]:
    """All texts in one run (--jsonl: a JSON string a line in, an array of ids a line out)."""
    data = "".join(json.dumps(t) + "\n" for t in texts).encode()
    out = run(mwanda_bin, [model, "--jsonl"] + (["--special"] if special else []), data)
    return [json.loads(line) for line in out.decode().split("\n") if line]


def decode_all(mwanda_bin: Path, model, ids: list[list[int]]) -> list[str]:
    data = "".join(json.dumps(i) + "\n" for i in ids).encode()
    out = run(mwanda_bin, [model, "--jsonl", "--decode"], data)
    return [json.loads(line) for line in out.decode("utf-8").split("\n") if line]


def first_difference(a: list[int], b: list[int]) -> str:
    i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
    return f"first difference at {i}: llama.cpp {b[max(0, i - 2):i + 6]} mwanda {a[max(0, i - 2):i + 6]}"


def test_texts_cover_the_languages_and_cases():
    udhr = [t for t in TEXTS if t["name"].startswith("udhr-")]
    scripts = {t["script"] for t in udhr}
    assert len(udhr) >= 20 and len(scripts) >= 20
    for s in ("Latin", "Cyrillic", "Greek", "Arabic", "Hebrew", "Devanagari", "Bengali", "Tamil",
              "Thai", "Han", "Hangul", "Georgian", "Armenian", "Ethiopic"):
        assert s in scripts, s
    names = {t["name"] for t in TEXTS}
    for case in ("empty", "digits", "pi", "spaces-runs", "tabs", "newlines", "leading-trailing",
                 "zwj-family", "emoji", "combining", "nul"):
        assert case in names, case
    assert {r["name"] for r in GOLDEN if r["model"] == "smollm2-135m"} == names
    assert {r["name"] for r in GOLDEN if r["model"] == "gemma3-270m"} == names
    print(f"{len(TEXTS)} texts: {len(udhr)} UDHR excerpts in {len(scripts)} scripts, "
          f"{len(TEXTS) - len(udhr)} edge cases")


@pytest.mark.parametrize("special", [False, True], ids=["plain", "special"])
@pytest.mark.parametrize("model", MODELS)
def test_same_ids_as_llamacpp(mwanda_bin, real_models, model, special):
    want = golden(model)
    got = tokenize_all(mwanda_bin, model, [t["text"] for t in TEXTS], special)
    key = "ids_special" if special else "ids"
    bad = [(t["name"], first_difference(g, want[t["name"]][key]))
           for t, g in zip(TEXTS, got) if g != want[t["name"]][key]]
    langs = sorted(t["lang"] for t in TEXTS if t["lang"])
    print(f"{model} ({key}): {len(TEXTS) - len(bad)}/{len(TEXTS)} texts give llama.cpp's ids, "
          f"{len(langs)} languages")
    assert not bad, bad


@pytest.mark.parametrize("model", MODELS)
def test_decode_gives_the_text_back(mwanda_bin, real_models, model):
    texts = [t["text"] for t in TEXTS]
    ids = [golden(model)[t["name"]]["ids"] for t in TEXTS]
    back = decode_all(mwanda_bin, model, ids)
    bad = [t["name"] for t, b in zip(TEXTS, back) if b != t["text"]]
    print(f"{model}: {len(texts) - len(bad)}/{len(texts)} round trips exact")
    assert not bad, bad


@pytest.mark.parametrize("model", MODELS)
def test_special_decoding_writes_bos(mwanda_bin, real_models, model):
    text = "<|im_start|>user\nhi<|im_end|>" if model.startswith("smollm") else \
        "<start_of_turn>user\nhi<end_of_turn>"
    ids = tokenize_all(mwanda_bin, model, [text], special=True)[0]
    out = run(mwanda_bin, [model, "--decode", "--special"], json.dumps(ids).encode())
    bos = "<bos>" if model.startswith("gemma") else ""  # SmolLM2 adds no BOS
    assert out.decode() == bos + text


def llama_tokenize(exe: Path, model: Path, text: str, special: bool, tmp: Path) -> list[int]:
    f = tmp / "text.txt"
    f.write_bytes(text.encode("utf-8"))
    args = [str(exe), "-m", str(model), "-f", str(f), "--ids", "--log-disable", "--no-escape"]
    if not special:
        args += ["--no-bos", "--no-parse-special"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("model", MODELS)
def test_live_llama_tokenize(mwanda_bin, real_models, model, tmp_path):
    """llama-tokenize now: the same ids as mwanda and as the committed golden file."""
    bin_dir = os.environ.get("MWANDA_LLAMACPP_BIN")
    exe = Path(bin_dir or "/nonexistent") / "llama-tokenize"
    if not exe.is_file():
        pytest.skip("MWANDA_LLAMACPP_BIN has no llama-tokenize")
    texts = [t for t in TEXTS if t["name"] in LIVE]
    want = golden(model)
    for special in (False, True):
        ours = tokenize_all(mwanda_bin, model, [t["text"] for t in texts], special)
        for t, o in zip(texts, ours):
            ref = llama_tokenize(exe, real_models[model], t["text"], special, tmp_path)
            assert o == ref, (t["name"], special, first_difference(o, ref))
            assert ref == want[t["name"]]["ids_special" if special else "ids"], \
                f"{t['name']}: llama.cpp changed; regenerate with scripts/gen_tok_golden.py"
    print(f"{model}: {len(texts)} texts x 2 modes agree with llama-tokenize")


def llamacpp_vocab_dir() -> Path | None:
    """llama.cpp's test vocabularies (models/ggml-vocab-*.gguf, with .inp texts and the .out
    ids of the Hugging Face tokenizers that llama.cpp's own tests compare with), in the
    source tree whose build/bin MWANDA_LLAMACPP_BIN is."""
    bin_dir = os.environ.get("MWANDA_LLAMACPP_BIN")
    d = Path(bin_dir).resolve().parents[1] / "models" if bin_dir else None
    return d if d and any(d.glob("ggml-vocab-*.gguf.inp")) else None


def test_llamacpp_vocab_files(mwanda_bin, tmp_path):
    """Every supported vocabulary of llama.cpp's tokenizer tests gives their expected ids."""
    d = llamacpp_vocab_dir()
    if not d:
        pytest.skip("llama.cpp's models/ggml-vocab-*.gguf not found next to MWANDA_LLAMACPP_BIN")
    supported, unsupported = [], []
    for inp in sorted(d.glob("ggml-vocab-*.gguf.inp")):
        gguf = inp.with_suffix("")
        texts = inp.read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")
        want = [[int(x) for x in line.split()] for line in
                inp.with_suffix(".out").read_text(encoding="utf-8").split("\n")[:len(texts)]]
        data = "".join(json.dumps(t) + "\n" for t in texts).encode()
        r = subprocess.run([str(mwanda_bin), "tokenize", str(gguf), "--jsonl"], input=data,
                           capture_output=True, timeout=300)
        if r.returncode != 0:
            assert b"not supported" in r.stderr, r.stderr
            unsupported.append(gguf.name)
            continue
        got = [json.loads(line) for line in r.stdout.decode().split("\n") if line]
        bad = [t[:30] for t, g, w in zip(texts, got, want) if g != w]
        assert not bad, (gguf.name, bad)
        supported.append(gguf.name)
    print(f"{len(supported)} vocabularies give the expected ids: {', '.join(supported)}; "
          f"not supported: {', '.join(unsupported)}")
    for name in ("llama-spm", "llama-bpe", "qwen2", "gpt-2", "starcoder", "phi-3"):
        assert f"ggml-vocab-{name}.gguf" in supported, name
    # Phi-3's special tokens take the spaces after them (llama.cpp sets rstrip by model name)
    exe = Path(os.environ["MWANDA_LLAMACPP_BIN"]) / "llama-tokenize"
    text = "<|user|>  hi<|end|>  \n x </s> y"
    phi3 = d / "ggml-vocab-phi-3.gguf"
    ours = tokenize_all(mwanda_bin, phi3, [text], special=True)[0]
    assert ours == llama_tokenize(exe, phi3, text, True, tmp_path)
