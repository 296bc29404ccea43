#!/usr/bin/env python3
"""Writes the seed corpora of the tokenizer.json and tasks-file fuzzers.

    python scripts/gen_text_seeds.py [REPO_ROOT]

tokenizer.json seeds are the real Qwen 3, Llama 3 and Gemma 3 files of
tests/data/tokenizers/ with everything but the vocabulary kept (normalizer,
pre-tokenizer, post-processor, decoder, model options) and the vocabulary cut
to a few hundred pieces, so that each is small and still loads in Hugging Face
tokenizers (checked here). Tasks seeds are lines of data/tasks/valid.jsonl
and hand-made variants of the optional fields. Output is deterministic.
"""

from __future__ import annotations

import json
import lzma
import sys
from pathlib import Path

from tokenizers import Tokenizer

KEEP = 600  # pieces kept of a byte-level vocabulary (its first 256 are the bytes)


def merge_parts(m) -> tuple[str, str]:
    return tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1))


def cut_byte_level(t: dict, n_added: int) -> dict:
    """The first KEEP pieces, the merges among them, the first n_added added
    tokens renumbered after them."""
    model = t["model"]
    vocab = {s: i for s, i in model["vocab"].items() if i < KEEP}
    model["vocab"] = vocab
    model["merges"] = [m for m in model["merges"]
                       if all(p in vocab for p in merge_parts(m)) and
                       "".join(merge_parts(m)) in vocab]
    added = t["added_tokens"][:n_added]
    for k, a in enumerate(added):
        a["id"] = KEEP + k
    t["added_tokens"] = added
    return t


def cut_gemma(t: dict) -> dict:
    """Gemma 3's skeleton (no vocabulary) with its first 5 special tokens,
    the 256 byte tokens, the letters of a few words and their merges."""
    added = [a for a in t["added_tokens"] if a["id"] < 5]
    vocab = {a["content"]: a["id"] for a in added}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for c in "\u2581abcdefghijklmnopqrstuvwxyz.,":
        vocab.setdefault(c, len(vocab))
    merges = [("\u2581", "t"), ("\u2581t", "h"), ("\u2581th", "e"), ("i", "n"), ("e", "r"),
              ("\u2581", "a"), ("\u2581a", "n"), ("\u2581an", "d"), ("o", "n")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    t["model"]["vocab"] = vocab
    t["model"]["merges"] = [[a, b] for a, b in merges]
    t["added_tokens"] = added
    t.pop("mwanda_test")  # the test data's own note, not part of the format
    return t


def tokenizer_seeds(root: Path) -> dict[str, str]:
    src = root / "tests/data/tokenizers"
    load = lambda p: json.loads(lzma.open(src / p).read())  # noqa: E731
    seeds = {
        "qwen3.json": cut_byte_level(load("qwen3/tokenizer.json.xz"), 3),
        "llama3.json": cut_byte_level(load("llama3/tokenizer.json.xz"), 2),
        "gemma3.json": cut_gemma(load("gemma3/tokenizer-skeleton.json.xz")),
    }
    out = {}
    for name, t in seeds.items():
        text = json.dumps(t, ensure_ascii=False, indent=1) + "\n"
        tok = Tokenizer.from_str(text)  # the reference loads it
        assert tok.encode(" the and in").ids, name
        out[name] = text
    return out


def tasks_seeds(root: Path) -> dict[str, str]:
    lines = (root / "data/tasks/valid.jsonl").read_text(encoding="utf-8").splitlines()
    by_lang = {}
    for line in lines:
        item = json.loads(line)
        by_lang.setdefault((item["lang"], item["task"]), line)
    picked = [by_lang[k] for k in sorted(by_lang)[:4]]
    minimal = {"lang": "en", "context": "", "choices": [" yes", " no"], "label": 1}
    full = {"lang": "sw", "task": "cloze", "id": "x-1", "context": "Habari ya",
            "choices": [" asubuhi", " jioni", " usiku"], "label": 0}
    return {
        "valid-4.jsonl": "\n".join(picked) + "\n",
        "minimal.jsonl": json.dumps(minimal) + "\n",
        "crlf-blank.jsonl": "\r\n" + json.dumps(full, ensure_ascii=False) + "\r\n\r\n" +
                            json.dumps(minimal) + "\r\n",
    }


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    for target, seeds in [("fuzz_tokenizer_json", tokenizer_seeds(root)),
                          ("fuzz_tasks", tasks_seeds(root))]:
        d = root / "tests/fuzz/seeds" / target
        d.mkdir(parents=True, exist_ok=True)
        for name, text in seeds.items():
            (d / name).write_text(text, encoding="utf-8", newline="")
            print(f"{(d / name).relative_to(root)}: {(d / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
