#!/usr/bin/env python3
"""Build mwanda's multiple-choice tasks (data/tasks/) from the parallel corpus.

    scripts/build_tasks.py [--corpus data/corpus] [--out data/tasks] [--table]

Two tasks per language, four choices each, in the JSONL format that
`mwanda eval MODEL --tasks FILE` reads (docs/tasks.md):

- continuation: the first part of a paragraph; pick its true second half.
  Distractors are second halves of other paragraphs of the same language and
  split, of the closest byte length, from other documents.
- translation: "English: <paragraph>\\n<Language>:"; pick the paragraph's
  translation among four paragraphs of that language of the closest byte
  length (English itself has no such task).

test.jsonl is made from data/corpus/test/ only and valid.jsonl from
data/corpus/valid/ only. A piece of text (context or choice) that also occurs
in another split of the same language is never used, so a score on test/
never rests on text that calibration or the ablation saw.

Deterministic: no random module, no clock; every choice is an order by
SHA-256 of a seeded key, so the same corpus gives the same bytes on any
Python 3.9+. Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
import unicodedata
from itertools import permutations
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GENERATOR_VERSION = 1
SEED = "mwanda-tasks-v1"
SPLITS = ("calib", "valid", "test")
OUT_SPLITS = ("valid", "test")
TASKS = ("continuation", "translation")
N_CHOICES = 4

# Items per task and language (fewer where the text does not allow as many).
ITEMS = {"valid": 100, "test": 120}  # test.jsonl stays under 5 MiB
# Lengths of the pieces in units (a character; a Han, Kana or Hangul
# character 3, as the corpus's filter counts them): short enough that a file
# can be scored on 2 cores and stays a few MB, long enough to carry meaning.
# Units, not bytes, so that scripts of 2- and 3-byte letters are not cut shorter.
HALF_UNITS = (30, 160)  # each half of a continuation paragraph
TEXT_UNITS = (40, 200)  # a translation choice, and its English paragraph
# Paragraphs with a doc id are "other documents" when the ids differ; without
# one (no aligned file), paragraphs this many lines apart or more.
NEAR_LINES = 10

# English names for the translation prompt; every corpus language needs one.
NAMES = {
    "am": "Amharic", "ar": "Arabic", "bn": "Bengali", "ca": "Catalan", "cs": "Czech",
    "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "ha": "Hausa", "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "hy": "Armenian",
    "id": "Indonesian", "it": "Italian", "ja": "Japanese", "ka": "Georgian", "km": "Khmer",
    "ko": "Korean", "nb": "Norwegian Bokmål", "nl": "Dutch", "pl": "Polish",
    "pt": "Portuguese", "qu": "Quechua", "ru": "Russian", "sv": "Swedish", "sw": "Swahili",
    "ta": "Tamil", "th": "Thai", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu",
    "vi": "Vietnamese", "yo": "Yoruba", "zh": "Chinese", "zu": "Zulu",
}

# Scripts written without spaces between words: split after punctuation, or
# between two characters, never inside a word of another script.
NO_SPACE = {"zh", "ja", "th", "km"}
# Word separators: the choice starts with the one the text had there.
SEPARATORS = {" ", "\u1361"}  # space, Ethiopic wordspace
# Punctuation after which a no-space text may be split (clause and sentence ends).
BREAK_AFTER = set("。！？；：，、.!?;:,)）」』\u17d4\u17d5\u17d6")
# A split between two characters must not follow these (Thai leading vowels,
# Khmer coeng, viramas, joiners): they bind to the next character.
BIND_NEXT = set("\u0e40\u0e41\u0e42\u0e43\u0e44\u17d2\u200c\u200d")


def die(msg: str) -> None:
    print(f"build_tasks.py: {msg}", file=sys.stderr)
    sys.exit(1)


def key(*parts) -> bytes:
    """The seeded sort key of an object: every ordering choice goes through it."""
    return hashlib.sha256("\x1f".join([SEED, *map(str, parts)]).encode("utf-8")).digest()


def nbytes(s: str) -> int:
    return len(s.encode("utf-8"))


# Han, Kana and Hangul: one character says about as much as a short word.
WIDE = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f"
WIDE_RE = re.compile(f"[{WIDE}]")


def units(s: str) -> int:
    return len(s) + 2 * len(WIDE_RE.findall(s))


def read_lines(path: Path) -> list[str]:
    data = path.read_bytes().decode("utf-8")
    if data and not data.endswith("\n"):
        die(f"{path}: last line does not end in LF")
    return data.split("\n")[:-1]


def read_aligned(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(read_lines(path), 1):
        row = json.loads(line)
        if not all(isinstance(row.get(k), str) for k in ("doc", "para", "en", "text")):
            die(f"{path}:{n}: needs string fields doc, para, en, text")
        rows.append(row)
    return rows


class Corpus:
    """The corpus files one split's tasks need, and the other splits' text to avoid."""

    def __init__(self, root: Path, split: str, langs: list[str]):
        self.root, self.split = root, split
        self.paras, self.aligned, self.other = {}, {}, {}
        for lang in langs:
            f = root / split / f"{lang}.txt"
            self.paras[lang] = read_lines(f) if f.is_file() else []
            a = root / split / "aligned" / f"{lang}.jsonl"
            self.aligned[lang] = read_aligned(a) if a.is_file() else None
            # one string per other split: a piece of text must not occur in it
            self.other[lang] = "\n".join(
                "\n".join(read_lines(root / s / f"{lang}.txt"))
                for s in SPLITS if s != split and (root / s / f"{lang}.txt").is_file())
        # doc id of each paragraph, where an aligned file says it
        self.doc = {lang: {} for lang in langs}
        for lang, rows in self.aligned.items():
            for r in rows or []:
                self.doc[lang].setdefault(r["text"], r["doc"])
                self.doc.setdefault("en", {}).setdefault(r["en"], r["doc"])

    def unseen_elsewhere(self, lang: str, *pieces: str) -> bool:
        return not any(p in self.other[lang] for p in pieces)


# --- splitting a paragraph ------------------------------------------------------------


def char_break_ok(text: str, i: int) -> bool:
    """May a no-space text be cut between text[i-1] and text[i]?"""
    a, b = text[i - 1], text[i]
    if a.isspace() or b.isspace() or a in BIND_NEXT:
        return False
    cb = unicodedata.category(b)
    if cb[0] in "MP" or cb == "Lm":  # a mark, punctuation or iteration sign ends the head
        return False
    # not inside a run of Latin letters or digits (an English word in Chinese)
    return not (a.isascii() and a.isalnum() and b.isascii() and b.isalnum())


def split_points(lang: str, text: str) -> list[tuple[int, int, int]]:
    """Candidate cuts (rank, head_end, tail_start), rank 0 preferred: a word
    separator (spaced scripts; also Thai and Khmer phrase spaces), or after
    punctuation (no-space scripts), or between two characters (no-space)."""
    out = []
    for i in range(1, len(text) - 1):
        c = text[i]
        if c in SEPARATORS and not text[i - 1].isspace() and not text[i + 1].isspace():
            if lang in ("zh", "ja"):
                continue  # spaces only around Latin words there
            out.append((0, i, i + 1))
        elif lang in NO_SPACE:
            if text[i - 1] in BREAK_AFTER and char_break_ok(text, i):
                out.append((0, i, i))
            elif char_break_ok(text, i):
                out.append((1, i, i))
    return out


def split_paragraph(lang: str, text: str):
    """(head, separator, tail) cut near the middle, or None when no cut
    leaves both halves within HALF_UNITS."""
    lo, hi = HALF_UNITS
    total = units(text)
    if total < 2 * lo or total > 2 * hi + 1:
        return None
    offs = [0]
    for ch in text:  # offset in units of every character
        offs.append(offs[-1] + (3 if WIDE_RE.match(ch) else 1))
    best = None
    for rank, h, t in split_points(lang, text):
        head_b, tail_b = offs[h], total - offs[t]
        if not (lo <= head_b <= hi and lo <= tail_b <= hi):
            continue
        # a preferred cut within the middle half beats any character cut
        far = abs(offs[h] - total / 2) > total / 4
        score = (rank if not far else 2, abs(head_b - tail_b), h)
        if best is None or score < best[0]:
            best = (score, h, t)
    if best is None:
        return None
    _, h, t = best
    return text[:h], text[h:t], text[t:]


# --- choosing distractors -------------------------------------------------------------


def nearest(i: int, pool: list[dict], size: str):
    """The other pool indices by closeness of pool[j][size] to pool[i][size],
    ties by the seeded hash: a merge outward from i in the pool's size order."""
    by_size = pool[0]["by_size"]  # pool indices sorted by size
    me, lo, hi = pool[i][size], pool[i]["rank"] - 1, pool[i]["rank"] + 1

    def dist(k: int) -> int | None:
        return abs(pool[by_size[k]][size] - me) if 0 <= k < len(by_size) else None

    while lo >= 0 or hi < len(by_size):
        d = min(x for x in (dist(lo), dist(hi)) if x is not None)
        same = []  # every index at distance d, then in hash order
        while dist(lo) == d:
            same.append(by_size[lo])
            lo -= 1
        while dist(hi) == d:
            same.append(by_size[hi])
            hi += 1
        yield from sorted(same, key=lambda j: pool[j]["hash"])


def pick_distractors(i: int, pool: list[dict], size: str, avoid) -> list[int] | None:
    """Indices of the N_CHOICES-1 pool entries of the closest byte length to
    pool[i][size] whose text differs; other documents first (avoid(i, j) True
    means same document), then the same document, when there are not enough."""
    me = pool[i]
    chosen, seen, near = [], {me["answer"]}, []

    def take(j: int) -> None:
        if pool[j]["answer"] in seen:
            return
        if me.get("en") is not None and pool[j].get("en") == me["en"]:
            return  # another translation of the same English text
        chosen.append(j)
        seen.add(pool[j]["answer"])

    for j in nearest(i, pool, size):  # lazily: usually the first few do
        if len(chosen) == N_CHOICES - 1:
            break
        if avoid(i, j):
            near.append(j)
        else:
            take(j)
    for j in near:
        if len(chosen) == N_CHOICES - 1:
            break
        take(j)
    return chosen if len(chosen) == N_CHOICES - 1 else None


def same_doc(pool: list[dict]):
    def avoid(i: int, j: int) -> bool:
        a, b = pool[i], pool[j]
        if a["doc"] is not None and b["doc"] is not None:
            return a["doc"] == b["doc"]
        return abs(a["line"] - b["line"]) < NEAR_LINES
    return avoid


def label_order(split: str, task: str, lang: str, n: int) -> list[int]:
    """Right-answer positions: every run of N_CHOICES items holds each position
    once (a seeded permutation), so any prefix (eval --limit) is balanced too."""
    perms = list(permutations(range(N_CHOICES)))
    out = []
    for block in range(0, n, N_CHOICES):
        k = int.from_bytes(key("labels", split, task, lang, block)[:8], "big") % len(perms)
        out.extend(perms[k])
    return out[:n]


def make_items(split: str, task: str, lang: str, pool: list[dict], context) -> list[dict]:
    """Up to ITEMS[split] items from the pool, in seeded order (so that the
    first N of a language are a fair sample), each with three distractors."""
    for p in pool:  # ties in length go by this seeded order
        p["hash"] = key("order", split, task, lang, p["uid"])
    by_size = sorted(range(len(pool)), key=lambda i: (pool[i]["size"], pool[i]["hash"]))
    for r, i in enumerate(by_size):
        pool[i]["rank"], pool[i]["by_size"] = r, by_size
    order = sorted(range(len(pool)), key=lambda i: pool[i]["hash"])
    avoid = same_doc(pool)
    picked = []
    for i in order:
        if len(picked) == ITEMS[split]:
            break
        d = pick_distractors(i, pool, "size", avoid)
        if d is not None:
            picked.append((i, d))
    labels = label_order(split, task, lang, len(picked))
    items = []
    for (i, d), label in zip(picked, labels):
        me = pool[i]
        others = sorted(d, key=lambda j: key("pos", split, task, lang, me["uid"], pool[j]["uid"]))
        answers = [pool[j]["answer"] for j in others]
        answers.insert(label, me["answer"])
        items.append({
            "lang": lang, "task": task, "id": f"{split}-{task[:4]}-{lang}-{me['uid']}",
            # every choice gets the right answer's separator: it must not tell them apart
            "context": context(me), "choices": [me["sep"] + a for a in answers],
            "label": label,
        })
    return items


# --- the two tasks --------------------------------------------------------------------


def continuation(corpus: Corpus, lang: str) -> list[dict]:
    pool, seen = [], set()
    for n, text in enumerate(corpus.paras[lang], 1):
        cut = split_paragraph(lang, text)
        if cut is None:
            continue
        head, sep, tail = cut
        if tail in seen or not corpus.unseen_elsewhere(lang, head, tail):
            continue
        seen.add(tail)
        pool.append({"uid": f"L{n}", "line": n, "doc": corpus.doc[lang].get(text),
                     "head": head, "sep": sep, "answer": tail, "size": nbytes(tail)})
    return make_items(corpus.split, "continuation", lang, pool, lambda me: me["head"])


def translation(corpus: Corpus, lang: str) -> list[dict] | None:
    rows = corpus.aligned[lang]
    if rows is None:
        return None
    lo, hi = TEXT_UNITS
    pool, seen = [], set()
    for n, r in enumerate(rows, 1):
        text, en = r["text"], r["en"]
        if not (lo <= units(text) <= hi and lo <= units(en) <= hi) or text in seen:
            continue
        if not corpus.unseen_elsewhere(lang, text) or not corpus.unseen_elsewhere("en", en):
            continue
        seen.add(text)
        pool.append({"uid": f"A{n}", "line": n, "doc": r["doc"], "en": en, "sep": " ",
                     "answer": text, "size": nbytes(text)})
    name = NAMES[lang]
    return make_items(corpus.split, "translation", lang, pool,
                      lambda me: f"English: {me['en']}\n{name}:")


# --- output ---------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; these are plain data files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def build(corpus_dir: Path, out: Path) -> dict:
    cm_bytes = (corpus_dir / "manifest.json").read_bytes()
    cm = json.loads(cm_bytes)
    langs = sorted(cm["calib_languages"] + cm["unseen"])
    missing = [lang for lang in langs if lang not in NAMES]
    if missing:
        die(f"no English name for language(s) {', '.join(missing)}: add them to NAMES")
    files, counts, labels, notes = {}, {}, {}, []
    for split in OUT_SPLITS:
        corpus = Corpus(corpus_dir, split, langs)
        items = []
        for task in TASKS:
            per_lang = {}
            for lang in langs:
                if task == "translation":
                    if lang == "en":
                        continue
                    got = translation(corpus, lang)
                    if got is None:
                        notes.append(f"{split}: no aligned/{lang}.jsonl, no translation items")
                        continue
                else:
                    got = continuation(corpus, lang)
                per_lang[lang] = len(got)
                items.extend(got)
                for it in got:
                    labels.setdefault(split, [0] * N_CHOICES)[it["label"]] += 1
            counts.setdefault(split, {})[task] = per_lang
        data = "".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items).encode("utf-8")
        name = f"{split}.jsonl"
        write_atomic(out / name, data)
        files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                       "items": len(items), "from": f"data/corpus/{split}/"}
    manifest = {
        "format": "mwanda-tasks-1",
        "generator": "scripts/build_tasks.py",
        "generator_version": GENERATOR_VERSION,
        "seed": SEED,
        "corpus_manifest_sha256": hashlib.sha256(cm_bytes).hexdigest(),
        "choices": N_CHOICES,
        "items_per_language": ITEMS,
        "half_units": list(HALF_UNITS),
        "translation_units": list(TEXT_UNITS),
        "languages": {lang: NAMES[lang] for lang in langs},
        "counts": counts,
        "labels": labels,
        "notes": notes,
        "files": files,
    }
    write_atomic(out / "manifest.json",
                 (json.dumps(manifest, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    return manifest


def table(manifest: dict) -> str:
    """Markdown table of the item counts, for docs/tasks.md."""
    c = manifest["counts"]
    rows = ["| lang | language | test continuation | test translation | valid continuation "
            "| valid translation |", "|---|---|--:|--:|--:|--:|"]
    for lang, name in manifest["languages"].items():
        cells = [str(c.get(s, {}).get(t, {}).get(lang, "–")) for s in ("test", "valid")
                 for t in TASKS]
        rows.append(f"| {lang} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=REPO / "data" / "corpus")
    ap.add_argument("--out", type=Path, default=REPO / "data" / "tasks")
    ap.add_argument("--table", action="store_true",
                    help="print the counts of the existing manifest as a Markdown table")
    args = ap.parse_args(argv)
    if args.table:
        print(table(json.loads((args.out / "manifest.json").read_text(encoding="utf-8"))))
        return 0
    m = build(args.corpus, args.out)
    for name, f in m["files"].items():
        print(f"{args.out / name}: {f['items']} items, {f['bytes']} bytes", file=sys.stderr)
    for note in m["notes"]:
        print(f"note: {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
