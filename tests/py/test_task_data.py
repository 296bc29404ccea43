"""The shipped multiple-choice tasks (data/tasks/) are what their manifest and
docs/tasks.md say, and are built from the right split of data/corpus/ only.

Cheap and offline: reads the committed files; the last test reruns
scripts/build_tasks.py into a temporary folder (about 10 s of CPU) and
compares the bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import SOURCE_DIR

TASKS_DIR = SOURCE_DIR / "data" / "tasks"
CORPUS = SOURCE_DIR / "data" / "corpus"
SPLITS = ("calib", "valid", "test")
OUT_SPLITS = ("valid", "test")
TASK_NAMES = ("continuation", "translation")
KEYS = ["choices", "context", "id", "label", "lang", "task"]
LANG_RE = re.compile(r"[A-Za-z0-9_.-]{1,63}\Z")
MAX_BYTES = 14_000_000  # all task files together


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((TASKS_DIR / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def corpus_manifest() -> dict:
    return json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def items() -> dict[str, list[dict]]:
    out = {}
    for split in OUT_SPLITS:
        raw = (TASKS_DIR / f"{split}.jsonl").read_bytes().decode("utf-8")
        assert raw.endswith("\n")
        out[split] = [json.loads(line) for line in raw.split("\n")[:-1]]
    return out


@pytest.fixture(scope="module")
def text() -> dict[tuple[str, str], str]:
    """(split, lang) -> the paragraphs of <split>/<lang>.txt, each followed by LF."""
    out = {}
    for split in SPLITS:
        for f in sorted((CORPUS / split).glob("*.txt")):
            out[(split, f.stem)] = f.read_bytes().decode("utf-8")
    return out


def aligned(split: str, lang: str) -> list[dict] | None:
    f = CORPUS / split / "aligned" / f"{lang}.jsonl"
    if not f.is_file():
        return None
    return [json.loads(s) for s in f.read_text(encoding="utf-8").splitlines()]


def test_manifest_matches_files(manifest, corpus_manifest, items):
    assert manifest["format"] == "mwanda-tasks-1"
    assert manifest["generator"] == "scripts/build_tasks.py"
    assert set(manifest["files"]) == {f"{s}.jsonl" for s in OUT_SPLITS}
    total = 0
    for name, meta in manifest["files"].items():
        data = (TASKS_DIR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == meta["sha256"], f"{name}: checksum"
        assert len(data) == meta["bytes"], name
        assert data.count(b"\n") == meta["items"], name
        total += len(data)
    assert total <= MAX_BYTES, f"task files are {total} bytes"
    # a rebuilt corpus needs rebuilt tasks
    corpus_sha = hashlib.sha256((CORPUS / "manifest.json").read_bytes()).hexdigest()
    assert manifest["corpus_manifest_sha256"] == corpus_sha, \
        "data/corpus changed since the tasks were built: run scripts/build_tasks.py"
    langs = set(corpus_manifest["calib_languages"]) | set(corpus_manifest["unseen"])
    assert set(manifest["languages"]) == langs
    for split in OUT_SPLITS:
        got = Counter((it["task"], it["lang"]) for it in items[split])
        want = {(t, lang): n for t, per in manifest["counts"][split].items()
                for lang, n in per.items()}
        assert got == Counter({k: n for k, n in want.items() if n}), split


def test_every_line_is_valid(items, manifest):
    names = manifest["languages"]
    for split, rows in items.items():
        ids = set()
        for it in rows:
            where = f"{split}.jsonl {it.get('id')}"
            assert sorted(it) == KEYS, where
            assert LANG_RE.match(it["lang"]) and it["lang"] in names, where
            assert it["task"] in TASK_NAMES, where
            assert isinstance(it["id"], str) and it["id"] not in ids, where
            ids.add(it["id"])
            ch = it["choices"]
            assert isinstance(ch, list) and len(ch) == manifest["choices"] == 4, where
            assert all(isinstance(c, str) and c for c in ch), where
            assert len(set(ch)) == len(ch), f"{where}: two choices are the same"
            assert type(it["label"]) is int and 0 <= it["label"] < len(ch), where
            assert isinstance(it["context"], str) and it["context"], where
            # nothing for eval to move from the context to the choice
            assert not it["context"][-1].isspace(), where
            # the separator (space or none) is the same for every choice
            seps = {c[: len(c) - len(c.lstrip(" \u1361"))] for c in ch}
            assert len(seps) == 1, f"{where}: choices start differently"
            if it["task"] == "translation":
                assert seps == {" "}, where
            elif it["lang"] in ("zh", "ja"):
                assert seps == {""}, where


def test_labels_balanced(items):
    for split, rows in items.items():
        groups: dict[tuple[str, str], list[int]] = {}
        for it in rows:
            groups.setdefault((it["task"], it["lang"]), []).append(it["label"])
        for key, labels in groups.items():
            # every run of four holds each position once: any --limit prefix is balanced
            for k in range(0, len(labels) - 3, 4):
                assert sorted(labels[k:k + 4]) == [0, 1, 2, 3], (split, key, k)
            c = Counter(labels)
            assert max(c.values()) - min(c.get(i, 0) for i in range(4)) <= 1, (split, key)


def test_length_does_not_give_the_answer(items):
    """Distractors have the closest byte lengths: picking the longest or the
    shortest choice stays under chance (0.25 + a margin), and a guess between
    the two middle lengths (the right answer is rarely an extreme: measured
    0.32, docs/tasks.md) stays well under what the dense model reaches."""
    for split, rows in items.items():
        for task in TASK_NAMES:
            sub = [it for it in rows if it["task"] == task]
            middle = 0.0
            for pick in (max, min):
                hits = sum(pick(range(4), key=lambda i: len(it["choices"][i].encode())) ==
                           it["label"] for it in sub)
                assert hits / len(sub) < 0.30, (split, task, pick.__name__, hits / len(sub))
                middle += hits / len(sub)
            assert (1 - middle) / 2 < 0.36, (split, task, (1 - middle) / 2)


def _in_other_splits(text, split, lang, piece) -> str | None:
    for other in SPLITS:
        if other != split and piece in text.get((other, lang), ""):
            return other
    return None


def test_continuation_items_come_from_their_split_only(items, text):
    for split, rows in items.items():
        for it in (r for r in rows if r["task"] == "continuation"):
            lang, where = it["lang"], f"{split}.jsonl {it['id']}"
            own = "\n" + text[(split, lang)]
            ch = it["choices"]
            sep = ch[0][: len(ch[0]) - len(ch[0].lstrip(" \u1361"))]
            # context + right answer is a whole paragraph of this split
            assert "\n" + it["context"] + ch[it["label"]] + "\n" in own, where
            assert it["context"] not in ch[it["label"]]
            for c in [it["context"]] + [c[len(sep):] for c in ch]:
                assert c in own, f"{where}: {c[:40]!r} not in {split}/{lang}.txt"
                other = _in_other_splits(text, split, lang, c)
                assert other is None, f"{where}: {c[:40]!r} occurs in {other}/{lang}.txt"
            for i, c in enumerate(ch):
                if i != it["label"]:  # a distractor is the end of another paragraph
                    assert c[len(sep):] + "\n" in own, where


def test_translation_items_come_from_their_split_only(items, text, manifest):
    for split, rows in items.items():
        by_lang: dict[str, list[dict]] = {}
        for it in rows:
            if it["task"] == "translation":
                by_lang.setdefault(it["lang"], []).append(it)
        for lang, its in by_lang.items():
            pairs = {(a["en"], a["text"]) for a in aligned(split, lang)}
            own = text[(split, lang)]
            m_re = re.compile(r"English: (.+)\n" + re.escape(manifest["languages"][lang]) + r":\Z",
                              re.S)
            for it in its:
                where = f"{split}.jsonl {it['id']}"
                m = m_re.match(it["context"])
                assert m, where
                en = m.group(1)
                assert (en, it["choices"][it["label"]][1:]) in pairs, \
                    f"{where}: not an aligned pair of {split}/aligned/{lang}.jsonl"
                assert _in_other_splits(text, split, "en", en) is None, where
                for i, c in enumerate(it["choices"]):
                    assert "\n" + c[1:] + "\n" in "\n" + own, f"{where}: {c[:40]!r}"
                    other = _in_other_splits(text, split, lang, c[1:])
                    assert other is None, f"{where}: {c[:40]!r} occurs in {other}/{lang}.txt"
                    # no distractor is another translation of the same English text
                    assert i == it["label"] or (en, c[1:]) not in pairs, where


def test_every_language_has_items(manifest, corpus_manifest):
    langs = set(manifest["languages"])
    for split in OUT_SPLITS:
        counts = manifest["counts"][split]
        assert set(counts["continuation"]) == langs, split
        # a few items of each task everywhere (the UDHR-only languages have
        # little text); the full count where the text allows
        least = 15 if split == "test" else 5
        assert min(counts["continuation"].values()) >= least, split
        full = manifest["items_per_language"][split]
        assert sum(n == full for n in counts["continuation"].values()) >= 15, split
        tr = counts.get("translation", {})
        if split == "test" or (CORPUS / split / "aligned").is_dir():
            assert set(tr) == langs - {"en"}, split
            assert min(tr.values()) >= least, split
            assert sum(n == full for n in tr.values()) >= 15, split


def test_rebuild_gives_the_same_bytes(tmp_path):
    r = subprocess.run([sys.executable, str(SOURCE_DIR / "scripts" / "build_tasks.py"),
                        "--corpus", str(CORPUS), "--out", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in ("manifest.json", "valid.jsonl", "test.jsonl"):
        assert (tmp_path / name).read_bytes() == (TASKS_DIR / name).read_bytes(), name
