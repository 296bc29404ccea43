"""Every tokenizer.json piece mwanda reads, against Hugging Face tokenizers itself.

Small BPE tokenizers are trained with the `tokenizers` package on a few texts, each with
other normalizers, pre-tokenizers, decoders and added tokens (normalized or not, lstrip,
rstrip, single_word, special), saved, and both sides encode and decode the texts of
tests/data/tok/texts.jsonl plus cases aimed at each piece. Byte tokens are added to each
vocabulary (with byte_fallback) where the model is not byte-level, as mwanda reads BPE
vocabularies that cover every byte either way.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tokenizers import AddedToken, Regex, Tokenizer, decoders as D, models, normalizers as N, \
    pre_tokenizers as P, trainers

from conftest import SOURCE_DIR

TEXTS = [json.loads(line)["text"] for line in
         (SOURCE_DIR / "tests" / "data" / "tok" / "texts.jsonl").read_text(encoding="utf-8")
         .split("\n") if line]
EXTRA = ["xab ab x ab", "a <tool>  b <tool>", "cat concat cat.", "<sep>x<sep>", "AB Ab",
         "  lead", "trail  ", "a1b22c333", "Hello, World. Again!", "a\u00b2b \u2167x a_b",
         "a\u200db a\u0301b a\u0903b a\u20ddb"]

CONFIGS = {
    "metaspace-always": (N.NFKC(), P.Metaspace(prepend_scheme="always", split=True),
                         D.Metaspace(prepend_scheme="always")),
    "metaspace-first": (N.Sequence([N.NFD(), N.StripAccents(), N.Lowercase()]),
                        P.Metaspace(prepend_scheme="first", split=False),
                        D.Metaspace(prepend_scheme="first")),
    "metaspace-never": (None, P.Metaspace(prepend_scheme="never"),
                        D.Metaspace(prepend_scheme="never")),
    "whitespace": (N.NFKD(), P.Whitespace(), None),
    "split-digits-punctuation": (N.Sequence([N.Replace(Regex("\\s+"), " "), N.Strip()]),
                                 P.Sequence([P.WhitespaceSplit(),
                                             P.Digits(individual_digits=False),
                                             P.Punctuation()]), None),
    "split-behaviors": (None, P.Sequence([P.Split(Regex("[aeiou]"), "merged_with_previous"),
                                          P.Split(" ", "merged_with_next"),
                                          P.Split(Regex("\\d"), "contiguous"),
                                          P.Split(Regex("[,.]"), "removed"),
                                          P.Split(Regex("[A-Z]+"), "isolated", invert=True)]),
                        None),
    "byte-level": (None, P.ByteLevel(add_prefix_space=True, use_regex=True), D.ByteLevel()),
    "byte-level-digits": (N.NFC(), P.Sequence([P.Digits(individual_digits=True),
                                               P.ByteLevel(add_prefix_space=False)]),
                          D.ByteLevel()),
    "prepend-replace-strip": (N.Sequence([N.Prepend("\u2581"), N.Replace(" ", "\u2581")]), None,
                              D.Sequence([D.Replace("\u2581", " "), D.ByteFallback(), D.Fuse(),
                                          D.Strip(" ", 1, 0)])),
}


def train(name: str, tmp: Path) -> Path:
    norm, pre, dec = CONFIGS[name]
    byte_level = name.startswith("byte-level")
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=name.startswith("prepend")))
    if norm is not None:
        tok.normalizer = norm
    if pre is not None:
        tok.pre_tokenizer = pre
    if dec is not None:
        tok.decoder = dec
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=P.ByteLevel.alphabet() if byte_level else [],
                                  show_progress=False)
    tok.train_from_iterator(TEXTS[:20], trainer)
    tok.add_tokens([AddedToken("ab", normalized=True),
                    AddedToken("<tool>", normalized=False, lstrip=True, rstrip=True),
                    AddedToken("cat", single_word=True)])
    tok.add_special_tokens([AddedToken("<sep>", normalized=False)])
    path = tmp / f"{name}.json"
    tok.save(str(path))
    if not byte_level:  # byte tokens after the vocabulary, the added tokens after them
        spec = json.loads(path.read_text(encoding="utf-8"))
        top = max(spec["model"]["vocab"].values())
        for b in range(256):
            spec["model"]["vocab"].setdefault(f"<0x{b:02X}>", top + 1 + b)
        for a in spec["added_tokens"]:
            a["id"] += 256 if a["id"] > top else 0
        spec["model"]["byte_fallback"] = True
        path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    return path


def jsonl(mwanda_bin, path: Path, items: list, *flags: str) -> list:
    data = "".join(json.dumps(i) + "\n" for i in items).encode()
    r = subprocess.run([str(mwanda_bin), "tokenize", str(path), "--jsonl", *flags], input=data,
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return [json.loads(line) for line in r.stdout.decode("utf-8").split("\n") if line]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_piece_as_tokenizers(mwanda_bin, tmp_path, name):
    path = train(name, tmp_path)
    tok = Tokenizer.from_file(str(path))
    texts = TEXTS + EXTRA
    for special in (False, True):
        tok.encode_special_tokens = not special
        flags = ["--special"] if special else []
        want = [tok.encode(t, add_special_tokens=special).ids for t in texts]
        got = jsonl(mwanda_bin, path, texts, *flags)
        bad = [t[:30] for t, g, w in zip(texts, got, want) if g != w]
        assert not bad, (special, bad)
        decoded = jsonl(mwanda_bin, path, want, "--decode", *flags)
        bad = [t[:30] for t, d, w in zip(texts, decoded, want)
               if d != tok.decode(w, skip_special_tokens=not special)]
        assert not bad, (special, bad)
    print(f"{name}: {len(texts)} texts x 2 modes, ids and decoding as tokenizers")
