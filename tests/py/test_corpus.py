"""The shipped corpus (data/corpus/) is what its manifest and docs/corpus.md say.

Cheap and offline: reads the committed files only. The extraction helpers of
scripts/build_corpus.py (in scripts/corpus_text.py) are checked on small
hand-written pages.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import sys
import unicodedata
from pathlib import Path

import pytest

from conftest import SOURCE_DIR

CORPUS = SOURCE_DIR / "data" / "corpus"
UDHR = SOURCE_DIR / "data" / "udhr"
SPLITS = ("calib", "valid", "test")
MAX_BYTES = 24_000_000


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def lines() -> dict[tuple[str, str], list[str]]:
    """(split, lang) -> the paragraphs of <split>/<lang>.txt."""
    out = {}
    for split in SPLITS:
        for f in sorted((CORPUS / split).glob("*.txt")):
            out[(split, f.stem)] = f.read_bytes().decode("utf-8").split("\n")[:-1]
    return out


def _script_module(name: str):
    """A module of scripts/ (build_corpus imports corpus_text from there)."""
    sys.path.insert(0, str(SOURCE_DIR / "scripts"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)


@pytest.fixture(scope="module")
def build_corpus():
    return _script_module("build_corpus")


@pytest.fixture(scope="module")
def corpus_text():
    return _script_module("corpus_text")


def corpus_files() -> list[str]:
    return sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*")
                  if p.is_file() and p.name != "manifest.json")


# ---------------------------------------------------------------- manifest

def test_manifest_lists_every_file_with_its_checksum(manifest):
    assert sorted(manifest["files"]) == corpus_files()
    for rel, meta in manifest["files"].items():
        data = (CORPUS / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == meta["sha256"], rel
        assert len(data) == meta["bytes"], rel
        assert data.count(b"\n") == meta["paragraphs"], rel
    assert manifest["total_bytes"] == sum(m["bytes"] for m in manifest["files"].values())


def test_manifest_records_sources(manifest):
    pkgs = manifest["sources"]["debian"]["packages"]
    names = [p["package"] for p in pkgs]
    assert "debian-handbook" in names and "libreoffice-help-en-us" in names
    assert names == sorted(names) and all(p["version"] for p in pkgs)
    udhr = manifest["sources"]["udhr"]
    assert len(udhr["sha256"]) == 64
    # data/udhr holds the used declarations, checked against the tarball's sums
    sums = {}
    for line in (UDHR / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        h, name = line.split("  ", 1)
        sums[name] = h
    assert sums.pop(udhr["tarball"]) == udhr["sha256"]
    for name, h in sums.items():
        assert hashlib.sha256((UDHR / name).read_bytes()).hexdigest() == h, name
    for code, variant in udhr["variants"].items():
        assert f"declaration/{variant}.html" in sums, code


def test_total_size_within_limit():
    total = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    total += sum(p.stat().st_size for p in UDHR.rglob("*") if p.is_file())
    assert total <= MAX_BYTES


# ---------------------------------------------------------------- languages

def test_calibration_and_unseen_languages(manifest, lines):
    calib = set(manifest["calib_languages"])
    unseen = set(manifest["unseen"])
    assert len(calib) >= 15 and unseen and not calib & unseen
    assert calib | unseen == set(manifest["languages"])
    assert {lang for split, lang in lines if split == "calib"} == calib
    for lang in calib | unseen:
        assert ("valid", lang) in lines and ("test", lang) in lines, lang
    for lang in unseen:
        assert not (CORPUS / "calib" / f"{lang}.txt").exists(), lang
    scripts = {manifest["languages"][lang]["script"] for lang in calib}
    assert {"Latn", "Cyrl", "Grek", "Arab", "Deva", "Hans", "Jpan", "Kore"} <= scripts
    assert {manifest["languages"][lang]["script"] for lang in unseen} - scripts
    assert "en" in calib


def test_calibration_text_is_large_enough(manifest, lines):
    for lang in manifest["calib_languages"]:
        n = sum(len(s.encode("utf-8")) + 1 for s in lines[("calib", lang)])
        assert n >= 100_000, lang


# ---------------------------------------------------------------- text files

def test_text_files_are_normalized_paragraph_lines():
    for split in SPLITS:
        for f in sorted((CORPUS / split).glob("*.txt")):
            data = f.read_bytes()
            text = data.decode("utf-8")  # raises on invalid UTF-8
            assert text.endswith("\n") and "\r" not in text, f
            assert unicodedata.is_normalized("NFC", text), f
            for line in text.split("\n")[:-1]:
                assert line, f"{f}: empty line"
                assert line == " ".join(line.split()), f"{f}: whitespace not collapsed: {line!r}"
                assert not any(unicodedata.category(c) == "Cc" for c in line), f


def test_no_paragraph_in_two_splits(lines):
    langs = {lang for _, lang in lines}
    for lang in sorted(langs):
        seen: dict[str, str] = {}
        for split in SPLITS:
            own = lines.get((split, lang), [])
            assert len(set(own)) == len(own), f"{split}/{lang}.txt repeats a paragraph"
            for s in own:
                assert seen.setdefault(s, split) == split, f"{lang}: {s!r} in {seen[s]} and {split}"


def test_no_package_archive_host_names():
    # independent of the build script's list: the hosts a package client talks to
    hosts = re.compile(r"\b(deb|ftp|security|httpredir)\.debian\.org\b|\bpypi\.org\b|"
                       r"files\.pythonhosted\.org|registry\.npmjs\.org", re.IGNORECASE)
    for f in sorted(CORPUS.rglob("*")) + sorted(UDHR.rglob("*")):
        if f.is_file():
            m = hosts.search(f.read_text(encoding="utf-8"))
            assert m is None, f"{f}: {m.group(0)}"


def test_translations_are_not_english(manifest, lines):
    en = set()
    for split in SPLITS:
        en |= set(lines[(split, "en")])
    for (split, lang), own in lines.items():
        if lang != "en":
            assert not en & set(own), f"{split}/{lang}.txt has English paragraphs"


# ---------------------------------------------------------------- alignment

def split_of(rule: dict, doc: str) -> str:
    h = hashlib.sha256((rule["salt"] + doc).encode("utf-8")).hexdigest()[: rule["digits"]]
    x = int(h, 16) / 16 ** rule["digits"]
    bounds = rule["udhr_bounds"] if doc.startswith("udhr:") else rule["bounds"]
    for name, bound in sorted(bounds.items(), key=lambda kv: kv[1]):
        if x < bound:
            return name
    raise AssertionError(doc)


@pytest.mark.parametrize("split", ["valid", "test"])
def test_aligned_items(manifest, lines, split):
    rule = manifest["split_rule"]
    earlier = SPLITS[:SPLITS.index(split)]
    en_elsewhere = set().union(*(lines[(s, "en")] for s in earlier))
    en_of: dict[tuple[str, str], str] = {}
    files = sorted((CORPUS / split / "aligned").glob("*.jsonl"))
    assert {f.stem for f in files} == set(manifest["languages"]) - {"en"}
    for f in files:
        own = set(lines[(split, f.stem)])
        keys = set()
        for raw in f.read_text(encoding="utf-8").splitlines():
            it = json.loads(raw)
            assert sorted(it) == ["doc", "en", "para", "text"], f
            assert it["text"] in own, f"{f.name}: text not in {split}/{f.stem}.txt"
            assert it["en"] != it["text"] and it["en"] not in en_elsewhere, f
            assert split_of(rule, it["doc"]) == split, \
                f"{f.name}: {it['doc']} is not a {split} document"
            key = (it["doc"], it["para"])
            assert key not in keys, f"{f.name}: {key} twice"
            keys.add(key)
            # the English side of a paragraph is the same for every language
            assert en_of.setdefault(key, it["en"]) == it["en"], key
        assert len(keys) >= (20 if split == "test" else 10), f.name


def test_every_test_language_has_udhr_items(manifest):
    for lang in set(manifest["languages"]) - {"en"}:
        items = [json.loads(s) for s in
                 (CORPUS / "test" / "aligned" / f"{lang}.jsonl").read_text(encoding="utf-8")
                 .splitlines()]
        assert sum(it["doc"].startswith("udhr:") for it in items) >= 20, lang


# ---------------------------------------------------------------- build script helpers

def test_normalize(corpus_text):
    n = corpus_text.normalize
    assert n("  a\u00a0 b\n\tc\u200b \ufeff") == "a b c"
    assert n("e\u0301t\u00e9") == "\u00e9t\u00e9"
    assert n("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645") == \
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # ZWNJ kept
    assert n("x\x07y") == "xy"


def test_lo_paragraphs_take_the_default_case(corpus_text):
    page = ('<html><head><title>T</title></head><body><div id="DisplayArea">'
            '<h1 id="hd_id1">Title here</h1>'
            '<p id="par_id2" class="paragraph">Hold down the <span class="switchinline">'
            '<span hidden="true" id="MACx" class="MAC">Command</span>'
            '<span hidden="true" id="defaultx">Ctrl</span></span> key.<br>Next</p>'
            '<p class="embedded">no id</p>'
            '<p id="par_id3" class="code">x = 1</p>'
            '<p id="par_id2">again</p>'
            '<p id="par_id4">See [text/a.xhp#b not found] too</p>'
            '</div></body></html>')
    assert corpus_text.lo_paragraphs(page) == [
        ("hd_id1", "Title here"), ("par_id2", "Hold down the Ctrl key. Next"),
        ("par_id4", "See too")]


def test_hb_paragraphs_nested_and_code(corpus_text):
    page = ('<div class="para">Outer <code>apt</code> text<pre class="screen">$ ls</pre>'
            '<div class="para">Inner</div> tail<div class="url">→ <a href="https://example.org/">'
            'https://example.org/</a></div></div><div class="para">Last</div>')
    assert corpus_text.hb_paragraphs(page) == ["Outer apt text tail", "Inner", "Last"]


def test_udhr_units(corpus_text):
    page = ('<body><h1>T</h1><header><h2>Preamble</h2><p>One</p><p>Two</p></header>'
            '<article data-number="3"><h2>Article 3</h2><ol><li>A</li><li>B</li></ol>'
            '</article></body>')
    assert corpus_text.udhr_paragraphs(page) == [("preamble", ["One", "Two"]),
                                                 ("art03", ["A", "B"])]


def test_filters(corpus_text):
    assert corpus_text.english_like("If you want to generate the certificates, follow Sekcja 10")
    assert not corpus_text.english_like("Állítsa be a kijelölt stílus tulajdonságait.")
    assert not corpus_text.english_like("Dzięki temu to jest to, co robi.")
    assert corpus_text.substantial("Datenquelle als Tabelle")
    assert not corpus_text.substantial("=SUM(A1:B2)")
    assert corpus_text.substantial("选择范围并删除")  # 7 Han characters count as 21 units
    assert corpus_text.script_share("LibreOffice には", "Jpan") == pytest.approx(2 / 13)


def test_split_rule_matches_the_manifest(build_corpus, manifest):
    rule = manifest["split_rule"]
    for doc in ("lo:text/shared/01/06040000.html", "hb:sect.apt-get", "udhr:art01", "udhr:preamble"):
        assert build_corpus.split_of(doc) == split_of(rule, doc)


def test_waterfill(build_corpus):
    waterfill = build_corpus.waterfill
    assert waterfill(100, {"lo": 1000, "hb": 1000}) == {"lo": 50, "hb": 50}
    assert waterfill(100, {"lo": 1000, "hb": 20}) == {"lo": 80, "hb": 20}
    assert waterfill(100, {"lo": 30}) == {"lo": 30}


def test_select_dedups_across_and_within_splits(build_corpus):
    docs = {}
    i = 0
    while len(docs) < 3:  # one help page per split
        docs.setdefault(build_corpus.split_of(f"lo:p{i}.html"), f"lo:p{i}.html")
        i += 1
    c, v, t = docs["calib"], docs["valid"], docs["test"]
    paras = [("lo", c, "a", "shared text"), ("lo", c, "b", "calib only"),
             ("lo", v, "a", "shared text"), ("lo", v, "b", "valid only"),
             ("lo", t, "a", "test one"), ("lo", t, "b", "test one"), ("lo", t, "c", "test two"),
             ("udhr", "udhr:art01", "p00", "article one")]
    got = build_corpus.select(paras, {"calib": 100, "valid": 100, "test": 100})
    texts = {s: [r[3] for r in rows] for s, rows in got.items()}
    assert texts["calib"] == ["shared text", "calib only"]
    assert texts["valid"] == ["valid only"] + (["article one"] if
                                               build_corpus.split_of("udhr:art01") == "valid" else [])
    assert texts["test"][:2] == ["test one", "test two"]
    # the cap stops a source at its first paragraph that does not fit
    got = build_corpus.select(paras, {"calib": 12, "valid": 100, "test": 100})
    assert [r[3] for r in got["calib"]] == ["shared text"]


def test_clean_reasons(build_corpus):
    rows = [("lo", "d", "1", "Ein ganz normaler deutscher Satz."),
            ("lo", "d", "2", "=A1+B2"),
            ("lo", "d", "3", "An English sentence."),
            ("hb", "d", "4", "If you want this, see the section Abschnitt 4 for it."),
            ("lo", "d", "5", "Ein ganz normaler deutscher Satz auf Englisch")]
    keep, why = build_corpus.clean(rows, "Latn", False, {"An English sentence."})
    assert [r[2] for r in keep] == ["1", "5"]
    assert why == {"short": 1, "untranslated": 1, "english": 1, "script": 0, "host": 0}
    keep, why = build_corpus.clean([("lo", "d", "1", "Выберите Формат - Ячейки"),
                                    ("lo", "d", "2", "Choose Format - Cells here")],
                                   "Cyrl", False, set())
    assert [r[2] for r in keep] == ["1"] and why["script"] == 1
