"""mwanda report: the Markdown's numbers against the runs' JSON, each SVG
well-formed and drawn from the data (bar heights, markers), each SVG rendered
to PNG by rsvg-convert and not blank, determinism, atomic output, and one-line
errors naming the file and field for bad inputs.

The runs are tests/data/report/ (written by its make_samples.py); variants are
made from them in temporary folders."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest

BIN = os.environ.get("MWANDA_BIN")
pytestmark = pytest.mark.skipif(not BIN, reason="MWANDA_BIN is not set")
SOURCE = Path(os.environ.get("MWANDA_SOURCE") or Path(__file__).resolve().parents[2])
DATA = SOURCE / "tests" / "data" / "report"
RUNS = ["dense", "wanda-50", "owl-50", "mwanda-50"]
NAMES = {"dense": "dense", "wanda-50": "wanda-50", "owl-50": "owl-50", "mwanda-50": "M-Wanda 50%"}
UNSEEN = ["eu", "is", "sw", "yo"]
SVG_NS = "{http://www.w3.org/2000/svg}"
# Okabe-Ito colours of the runs after the dense one, and the dense grey
RUN_COLOURS = {"dense": (0x8A, 0x8A, 0x8A), "wanda-50": (0x00, 0x72, 0xB2),
               "owl-50": (0xE6, 0x9F, 0x00), "mwanda-50": (0x00, 0x9E, 0x73)}
NOISE = ("Traceback", "Sanitizer", "runtime error", "Segmentation", "Aborted", "core dumped")


def run(*args, cwd=None):
    return subprocess.run([BIN, "report", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def load(run_name: str, file: str) -> dict:
    return json.loads((DATA / run_name / file).read_text())


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "out"
    p = run(*[DATA / r for r in RUNS], "-o", out)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    listed = p.stdout.split()
    assert listed == [f"{out}/{n}" for n in ("report.md", "perplexity.svg", "sparsity.svg",
                                              "tasks-continuation.svg",
                                              "tasks-crosslingual.svg")]
    return out


# ---- Markdown -------------------------------------------------------------


def tables(md: str) -> list[list[list[str]]]:
    """Every Markdown table as rows of cells (header first, rule dropped)."""
    out, cur = [], None
    for line in md.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if cur is None:
                cur = []
                out.append(cur)
            if not all(re.fullmatch(r"-+:?", c) for c in cells):
                cur.append(cells)
        else:
            cur = None
    return out


def find_table(md: str, header_start: list[str]) -> list[list[str]]:
    for t in tables(md):
        if t[0][:len(header_start)] == header_start:
            return t
    raise AssertionError(f"no table starting {header_start}")


def num(cell: str) -> float:
    return float(cell.replace("%", "").replace("+", ""))


def close(cell: str, expected: float, decimals: int) -> None:
    """The cell holds expected rounded to `decimals` (half a unit of slack)."""
    got = num(cell)
    assert abs(got - expected) <= 0.5 * 10 ** -decimals + 1e-9, (cell, expected)
    assert re.fullmatch(r"[+-]?\d+" + (r"\.\d{%d}" % decimals if decimals else "") + "%?", cell), \
        cell


def gmean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def test_tables_are_rectangular(report):
    md = (report / "report.md").read_text()
    ts = tables(md)
    assert len(ts) >= 7, len(ts)
    for t in ts:
        assert len({len(r) for r in t}) == 1, t[0]


def test_runs_table(report):
    md = (report / "report.md").read_text()
    t = find_table(md, ["run", "method"])
    assert [r[0].strip("*") for r in t[1:]] == [NAMES[r] for r in RUNS]
    for row, name in zip(t[1:], RUNS):
        if name == "dense":
            assert row[1] == "dense" and row[2] == "–"
            continue
        p = load(name, "prune.json")
        assert row[1] == p["method"]
        close(row[2], p["target"] * 100, 2)
        close(row[3], p["achieved"] * 100, 2)
        assert row[4] == p["pattern"]
        assert row[5].startswith(f"{len(p['calibration']['languages'])} languages, 64 × 512")


def test_perplexity_table(report):
    md = (report / "report.md").read_text()
    t = find_table(md, ["language", "set", "dense"])
    header = t[0]
    assert header[2:] == ["dense", "wanda-50", "change", "owl-50", "change", "M\\-Wanda 50%",
                          "change"] or header[2:] == ["dense", "wanda-50", "change", "owl-50",
                                                      "change", "M-Wanda 50%", "change"]
    evals = {r: load(r, "eval.json")["languages"] for r in RUNS}
    langs = sorted(l for l in evals["dense"] if l not in UNSEEN) + sorted(UNSEEN)
    rows = t[1:]
    assert [r[0] for r in rows[:len(langs)]] == langs
    for row in rows[:len(langs)]:
        lang = row[0]
        assert row[1] == ("held out" if lang in UNSEEN else "calibration")
        d = evals["dense"][lang]["ppl"]
        close(row[2], d, 2)
        for k, r in enumerate(RUNS[1:]):
            p = evals[r][lang]["ppl"]
            close(row[3 + 2 * k], p, 2)
            close(row[4 + 2 * k], (p / d - 1) * 100, 1)
            assert row[4 + 2 * k][0] in "+-"
    means = rows[len(langs):]
    assert [m[0] for m in means] == ["**mean, calibration (15)**", "**mean, held out (4)**"]
    for m, subset in zip(means, [langs[:15], UNSEEN]):
        d = gmean([evals["dense"][l]["ppl"] for l in subset])
        close(m[2], d, 2)
        for k, r in enumerate(RUNS[1:]):
            g = gmean([evals[r][l]["ppl"] for l in subset])
            close(m[3 + 2 * k], g, 2)
            close(m[4 + 2 * k], (g / d - 1) * 100, 1)
    assert "Held-out languages (not used for calibration; shaded in the charts): eu, is, sw, yo." \
        in md


def test_bits_per_byte_and_summary(report):
    md = (report / "report.md").read_text()
    evals = {r: load(r, "eval.json")["languages"] for r in RUNS}
    t = [tb for tb in tables(md) if tb[0][:2] == ["language", "set"] and len(tb[0]) == 6][0]
    for row in t[1:20]:
        for k, r in enumerate(RUNS):
            close(row[2 + k], evals[r][row[0]]["bpb"], 4)
    calib_mean = t[20]
    for k, r in enumerate(RUNS):
        vals = [v["bpb"] for l, v in evals[r].items() if l not in UNSEEN]
        close(calib_mean[2 + k], sum(vals) / len(vals), 4)
    s = find_table(md, ["run", "setting"])
    assert s[0][3:5] == ["perplexity change, calibration languages (15)",
                         "perplexity change, held-out languages (4)"]
    for row, r in zip(s[2:], RUNS[1:]):
        for col, subset in ((3, [l for l in evals[r] if l not in UNSEEN]), (4, UNSEEN)):
            change = gmean([evals[r][l]["ppl"] for l in subset]) / \
                gmean([evals["dense"][l]["ppl"] for l in subset]) - 1
            close(row[col], change * 100, 1)
        acc = load(r, "tasks.json")["tasks"]["continuation"]
        close(row[5], 100 * sum(v["acc"] for v in acc.values()) / len(acc), 1)


def test_blocks_table(report):
    md = (report / "report.md").read_text()
    t = find_table(md, ["block"])
    assert t[0][1:] == ["wanda-50", "owl-50", "M-Wanda 50%"]
    assert len(t) == 1 + 18
    for k, r in enumerate(RUNS[1:]):
        blocks = load(r, "prune.json")["blocks"]
        for row, b in zip(t[1:], blocks):
            assert row[0] == str(b["index"])
            cell = row[1 + k]
            target = cell.split(" (")[0]
            close(target, b["target"] * 100, 2)
            if abs(b["achieved"] - b["target"]) > 1e-4:
                close(cell.split(" (")[1].rstrip(")"), b["achieved"] * 100, 2)
            else:
                assert "(" not in cell


def test_task_tables(report):
    md = (report / "report.md").read_text()
    for task in ("continuation", "crosslingual"):
        section = md.split(f"### {task}")[1].split("###")[0]
        t = find_table(section, ["language", "set", "items"])
        accs = {r: load(r, "tasks.json")["tasks"][task] for r in RUNS}
        for row in t[1:20]:
            lang = row[0]
            assert row[2] == str(accs["dense"][lang]["n"])
            for k, r in enumerate(RUNS):
                a, n = row[3 + k].split(" / ")
                close(a, accs[r][lang]["acc"] * 100, 1)
                close(n, accs[r][lang]["acc_norm"] * 100, 1)
        held = t[21]
        assert held[0] == "**mean, held out (4)**"
        for k, r in enumerate(RUNS):
            mean = sum(accs[r][l]["acc"] for l in UNSEEN) / 4
            close(held[3 + k].split(" / ")[0], mean * 100, 1)


# ---- SVG --------------------------------------------------------------------


def svg_root(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()  # raises on malformed XML
    assert root.tag == SVG_NS + "svg"
    assert float(root.get("width")) > 300 and float(root.get("height")) > 200
    return root


def titled(root: ET.Element, tag: str) -> list[tuple[ET.Element, str]]:
    """Elements of a kind with a tooltip, with the tooltip's text."""
    out = []
    for e in root.iter(SVG_NS + tag):
        t = e.find(SVG_NS + "title")
        if t is not None:
            out.append((e, t.text))
    return out


def test_perplexity_bars_follow_the_data(report):
    root = svg_root(report / "perplexity.svg")
    bars = titled(root, "rect")
    assert len(bars) == (19 + 2) * 3
    evals = {r: load(r, "eval.json")["languages"] for r in RUNS}
    # linear axis (all changes below +150%): height proportional to the change
    ratios = []
    for rect, tip in bars:
        m = re.fullmatch(r"(\w+), (.+): perplexity ([\d.]+) -> ([\d.]+) \(([+-][\d.]+)%\)", tip)
        if not m:
            assert tip.startswith("mean"), tip
            continue
        lang, name, before, after, _ = m.groups()
        run_dir = [r for r in RUNS if NAMES[r] == name][0]
        d, p = evals["dense"][lang]["ppl"], evals[run_dir][lang]["ppl"]
        assert abs(float(before) - d) < 0.006 and abs(float(after) - p) < 0.006
        assert rect.get("fill").lower() == "#%02x%02x%02x" % RUN_COLOURS[run_dir]
        ratios.append(float(rect.get("height")) / ((p / d - 1) * 100))
    assert len(ratios) == 19 * 3
    assert max(ratios) / min(ratios) < 1.01, (min(ratios), max(ratios))
    texts = [t.text for t in root.iter(SVG_NS + "text")]
    assert "perplexity change vs dense" in texts
    for lang in UNSEEN:  # held-out languages in italics
        assert any(t.text == lang and t.get("font-style") == "italic"
                   for t in root.iter(SVG_NS + "text"))


def test_sparsity_markers_follow_the_data(report):
    root = svg_root(report / "sparsity.svg")
    marks = titled(root, "circle")
    assert len(marks) == 3 * 18
    ys = {}
    for c, tip in marks:
        m = re.fullmatch(r"block (\d+), (.+): target ([\d.]+)%, achieved ([\d.]+)%", tip)
        assert m, tip
        ys[(m.group(2), int(m.group(1)))] = float(c.get("cy"))
    owl = load("owl-50", "prune.json")["blocks"]
    # markers sit on a linear axis: cy = a + b * target for every block
    t0, t1 = owl[0]["target"], owl[8]["target"]
    y0, y1 = ys[("owl-50", 0)], ys[("owl-50", 8)]
    b = (y1 - y0) / (t1 - t0)
    assert b < 0  # higher sparsity is drawn higher up
    for blk in owl:
        assert abs(y0 + b * (blk["target"] - t0) - ys[("owl-50", blk["index"])]) < 0.02
    assert len({ys[("wanda-50", i)] for i in range(18)}) == 1  # Wanda is flat


def test_task_bars_follow_the_data(report):
    root = svg_root(report / "tasks-continuation.svg")
    bars = titled(root, "rect")
    assert len(bars) == (19 + 2) * 4
    accs = {r: load(r, "tasks.json")["tasks"]["continuation"] for r in RUNS}
    ratios = []
    for rect, tip in bars:
        m = re.fullmatch(r"(\w+), (.+): accuracy ([\d.]+)%, 95% CI ([\d.]+)-([\d.]+)%, (\d+) items",
                         tip)
        if not m:
            assert tip.startswith("mean"), tip
            continue
        name = m.group(2)
        run_dir = [r for r in RUNS if NAMES[r] == name][0]
        a = accs[run_dir][m.group(1)]
        assert abs(float(m.group(3)) - a["acc"] * 100) < 0.051
        ratios.append(float(rect.get("height")) / a["acc"])
    assert len(ratios) == 19 * 4 and max(ratios) / min(ratios) < 1.01
    # whiskers: three lines per bar with an interval, chance lines per group
    dashed = [l for l in root.iter(SVG_NS + "line") if l.get("stroke-dasharray") == "5 3"]
    assert len(dashed) >= 21
    texts = [t.text for t in root.iter(SVG_NS + "text")]
    assert "chance (1 in 4 assumed)" in texts


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Decodes an 8-bit RGB/RGBA non-interlaced PNG (what rsvg-convert writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0
            bpp = 4 if colour == 6 else 3
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    out = bytearray(h * stride)
    prev = bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
        out[y * stride:(y + 1) * stride] = line
        prev = line
    # to RGB
    if bpp == 4:
        rgb = bytearray(w * h * 3)
        rgb[0::3], rgb[1::3], rgb[2::3] = out[0::4], out[1::4], out[2::4]
        return w, h, bytes(rgb)
    return w, h, bytes(out)


@pytest.mark.parametrize("chart,runs", [("perplexity.svg", RUNS[1:]), ("sparsity.svg", RUNS[1:]),
                                        ("tasks-continuation.svg", RUNS),
                                        ("tasks-crosslingual.svg", RUNS)])
def test_rendered_png_is_not_blank(report, tmp_path, chart, runs):
    rsvg = shutil.which("rsvg-convert")
    if not rsvg:
        pytest.fail("rsvg-convert is missing: run scripts/setup.sh (Debian package librsvg2-bin)")
    png = tmp_path / "chart.png"
    r = subprocess.run([rsvg, "-o", str(png), str(report / chart)], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    w, h, rgb = png_pixels(png)
    root = svg_root(report / chart)
    assert (w, h) == (round(float(root.get("width"))), round(float(root.get("height"))))
    colours: dict[tuple[int, int, int], int] = {}
    for i in range(0, len(rgb), 3):
        c = (rgb[i], rgb[i + 1], rgb[i + 2])
        colours[c] = colours.get(c, 0) + 1
    assert len(colours) >= 8, len(colours)
    for r_name in runs:  # every run drawn in its colour
        assert colours.get(RUN_COLOURS[r_name], 0) >= 100, (r_name, colours.get(RUN_COLOURS[r_name]))
    # the plot area (middle of the image) is mostly drawn on, not white
    inked = total = 0
    for y in range(int(h * 0.3), int(h * 0.75)):
        row = rgb[y * w * 3:(y + 1) * w * 3]
        for x in range(int(w * 0.1), int(w * 0.9), 2):
            total += 1
            inked += row[3 * x:3 * x + 3] != b"\xff\xff\xff"
    share = inked / total
    print(f"{chart}: {w}x{h}, {len(colours)} colours, plot area {100 * share:.1f}% inked")
    assert share > 0.08, share


# ---- behaviour ------------------------------------------------------------


def test_deterministic_and_atomic(report, tmp_path):
    out = tmp_path / "again"
    p = run(*[DATA / r for r in RUNS], "-o", out)
    assert p.returncode == 0, p.stderr
    for f in report.iterdir():
        if f.suffix in (".md", ".svg"):
            assert (out / f.name).read_bytes() == f.read_bytes(), f.name
    assert sorted(x.name for x in tmp_path.iterdir()) == ["again"]
    # an existing folder: files replaced, others left alone, no temporary files
    (out / "notes.txt").write_text("mine")
    (out / "report.md").write_text("old")
    p = run(DATA / "dense", DATA / "wanda-50", "-o", str(out) + "/")
    assert p.returncode == 0, p.stderr
    assert (out / "report.md").read_text().startswith("# mwanda report")
    assert (out / "notes.txt").read_text() == "mine"
    assert not [x for x in out.iterdir() if ".tmp-" in x.name]


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_signal_while_filling_a_new_folder_leaves_nothing(tmp_path, sig):
    """A new folder is filled under a temporary name for milliseconds; gdb
    stops the run there, after some files are in, and delivers the signal."""
    gdb = shutil.which("gdb")
    if not gdb:
        pytest.fail("gdb is not installed (scripts/setup.sh installs it)")
    out = tmp_path / "out"
    p = subprocess.run(
        [gdb, "-q", "-nx", "--batch", "-ex", f"handle {sig} nostop noprint pass",
         "-ex", "set breakpoint pending on", "-ex", "break rename", "-ex", "run",
         "-ex", "continue 3", "-ex", f"shell ls -R {tmp_path}", "-ex", f"signal {sig}",
         "--args", BIN, "report", *[str(DATA / r) for r in RUNS], "-o", str(out)],
        capture_output=True, text=True, timeout=300)
    # stopped inside the temporary folder, with a committed file in it
    assert re.search(r"out\.tmp-\w+:\n(.*\n)*report\.md\n", p.stdout), p.stdout + p.stderr
    assert f"terminated with signal {sig}" in p.stdout, p.stdout + p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == []


def test_default_output_folder(tmp_path):
    p = run(DATA / "dense", DATA / "owl-50", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "report" / "report.md").is_file()
    assert (tmp_path / "report" / "sparsity.svg").is_file()


def copy_runs(tmp_path: Path, names=RUNS) -> list[Path]:
    dirs = []
    for n in names:
        shutil.copytree(DATA / n, tmp_path / n)
        dirs.append(tmp_path / n)
    return dirs


def test_charts_without_data_are_left_out(tmp_path):
    # no dense run: no perplexity change; no tasks anywhere
    w = copy_runs(tmp_path, ["wanda-50", "owl-50"])
    for d in w:
        (d / "tasks.json").unlink()
    p = run(*w, "-o", tmp_path / "out")
    assert p.returncode == 0, p.stderr
    md = (tmp_path / "out" / "report.md").read_text()
    assert "No chart of the perplexity change: it needs a dense run" in md
    assert "No chart of task accuracy: no run has a tasks.json." in md
    assert sorted(f.name for f in (tmp_path / "out").iterdir()) == ["report.md", "sparsity.svg"]
    assert "![Target sparsity per decoder block](sparsity.svg)" in md
    # ppl table without a baseline: one column per run, no change columns
    t = find_table(md, ["language", "set"])
    assert t[0][2:] == ["wanda-50", "owl-50"]
    # dense alone: nothing to compare, no blocks
    p = run(DATA / "dense", "-o", tmp_path / "dense-only")
    md = (tmp_path / "dense-only" / "report.md").read_text()
    assert "No chart of the sparsity per block" in md
    assert "No chart of the perplexity change: no run besides the dense one" in md


def test_log_axis_unnamed_tasks_and_computed_sparsity(tmp_path):
    dense, mag = copy_runs(tmp_path, ["dense", "wanda-50"])
    ev = json.loads((mag / "eval.json").read_text())
    dl = load("dense", "eval.json")["languages"]
    for i, (lang, v) in enumerate(ev["languages"].items()):
        v["ppl"] = dl[lang]["ppl"] * (5 + 10 * i)  # a 90%-sparse model
    (mag / "eval.json").write_text(json.dumps(ev))
    pr = json.loads((mag / "prune.json").read_text())
    pr["method"], pr["target"] = "magnitude", 0.9
    del pr["achieved"]  # then the tensors' zeros tell
    pr["tensors"] = {"a": {"zeros": 900, "total": 1000}, "b": {"zeros": 2700, "total": 3000}}
    (mag / "prune.json").write_text(json.dumps(pr))
    for d in (dense, mag):  # tasks without task names, two choices
        t = json.loads((d / "tasks.json").read_text())["tasks"]["continuation"]
        for v in t.values():
            v["choices"] = 2
        (d / "tasks.json").write_text(json.dumps({"model": "m", "tasks": t}))
    (mag / "run.json").write_text(json.dumps({"name": "mag <90%> & \"co\" | *x*"}))
    out = tmp_path / "out"
    p = run(dense, mag, "-o", out)
    assert p.returncode == 0, p.stderr
    assert sorted(f.name for f in out.iterdir()) == ["perplexity.svg", "report.md",
                                                     "sparsity.svg", "tasks.svg"]
    root = svg_root(out / "perplexity.svg")
    texts = [t.text for t in root.iter(SVG_NS + "text")]
    assert "perplexity / dense (log scale)" in texts
    assert "\u00d710" in texts and "\u00d7100" in texts
    assert "mag <90%> & \"co\" | *x*" in texts  # escaped in the file, intact when parsed
    # log axis: heights proportional to log(ratio)
    ratios = []
    for rect, tip in titled(root, "rect"):
        m = re.fullmatch(r"(\w+), .*: perplexity ([\d.]+) -> ([\d.]+) .*", tip)
        if m:
            ratios.append(float(rect.get("height")) / math.log(float(m[3]) / float(m[2])))
    assert len(ratios) == 19 and max(ratios) / min(ratios) < 1.01
    troot = svg_root(out / "tasks.svg")
    assert "chance (1 in 2)" not in [t.text for t in troot.iter(SVG_NS + "text")]
    assert "chance" in [t.text for t in troot.iter(SVG_NS + "text")]
    md = (out / "report.md").read_text()
    assert "mag \\<90%\\> \\& \"co\" \\| \\*x\\*" in md
    t = find_table(md, ["run", "method"])
    close(t[2][3], 90.0, 2)  # achieved from the tensors: 3600 / 4000
    assert "## Task accuracy\n\n![Task accuracy per language](tasks.svg)" in md
    for tb in tables(md):
        assert len({len(r) for r in tb}) == 1


BAD = [
    ("prune.json", '{"method": "wanda", "target": 1.5}', "prune.json: target: 1.5 is outside"),
    ("prune.json", '{"target": 0.5}', "prune.json: method: missing"),
    ("prune.json", '{"method": "wanda", "target": 0.5, "blocks": [{"index": 0}]}',
     "prune.json: blocks[0].target: missing"),
    ("prune.json", '{"method": "wanda", "target": 0.5, "blocks": [{"index": 1, "target": 0.5},'
     ' {"index": 1, "target": 0.5}]}', "prune.json: blocks (index 1): appears twice"),
    ("prune.json", '{"method": "wanda", "target": 0.5, "tensors": {"t": {"zeros": 5, "total": 4}}}',
     "prune.json: tensors.t.total: smaller than zeros"),
    ("prune.json", '{"method": "wanda", "target": 0.5, "calibration": {"languages": [3]}}',
     "prune.json: calibration.languages[0]: not a string"),
    ("eval.json", '{"languages": {"de": {"ppl": "x"}}}', "eval.json: languages.de.ppl: not a number"),
    ("eval.json", '{"languages": {"de": {"ppl": 0.5}}}', "eval.json: languages.de.ppl: 0.5 is outside"),
    ("eval.json", '{"languages": {}}', "eval.json: languages: empty"),
    ("eval.json", '{"model": "m"}', "eval.json: languages: missing"),
    ("eval.json", '{"languages": {"a/b": {"ppl": 2}}}', "eval.json: languages.a/b: not a language"),
    ("eval.json", '{"languages": {"de": {"ppl": 3}', "eval.json: line 1"),
    ("eval.json", '[1, 2]', "eval.json: not a JSON object"),
    ("eval.json", '{"languages": {"de": {"ppl": 3}, "de": {"ppl": 4}}}', "eval.json: line 1"),
    ("tasks.json", '{"tasks": {"de": {"acc": 0.5, "ci95": [0.6, 0.4]}}}',
     "tasks.json: tasks.de.ci95: not an interval"),
    ("tasks.json", '{"tasks": {"t1": {"de": {"acc": 0.5}}, "t2": {"de": {"ac": 0.5}}}}',
     "tasks.json: tasks.t2.de.acc: missing"),
    ("tasks.json", '{"tasks": {"de": {"acc": 0.5, "choices": 1}}}',
     "tasks.json: tasks.de.choices: fewer than 2 choices"),
    ("tasks.json", '{"tasks": {"de": {"acc": 0.5, "n": -3}}}',
     "tasks.json: tasks.de.n: not a non-negative integer"),
    ("run.json", '{"name": ""}', "run.json: name: not 1 to 200 bytes"),
    ("run.json", '{"unseen": "sw"}', "run.json: unseen: not an array"),
]


@pytest.mark.parametrize("file,text,part", BAD, ids=[b[2] for b in BAD])
def test_bad_input_is_one_line_naming_file_and_field(tmp_path, file, text, part):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / file).write_text(text)
    if file == "run.json":
        (bad / "eval.json").write_text('{"languages": {"de": {"ppl": 3}}}')
    out = tmp_path / "out"
    p = run(DATA / "dense", bad, "-o", out)
    lines = p.stderr.splitlines()
    assert p.returncode == 1, p.stderr
    assert len(lines) == 1 and lines[0].startswith("mwanda: error: "), p.stderr
    assert f"{bad}/{part}" in lines[0], lines[0]
    assert not any(n in p.stderr for n in NOISE)
    assert p.stdout == ""
    assert sorted(x.name for x in tmp_path.iterdir()) == ["bad"]  # nothing written


@pytest.mark.parametrize("args,code,part", [
    ([], 2, "expected at least one RUN_DIR"),
    (["--bogus"], 2, "unknown option '--bogus'"),
    (["-o"], 2, "needs a value"),
    (["no-such-folder"], 1, "no-such-folder: not a folder"),
    (["EMPTY"], 1, "holds none of prune.json, eval.json, tasks.json"),
    (["DENSE", "-o", "FILE"], 1, "exists and is not a folder"),
])
def test_usage_and_folder_errors(tmp_path, args, code, part):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    subst = {"EMPTY": str(tmp_path / "empty"), "DENSE": str(DATA / "dense"),
             "FILE": str(tmp_path / "file")}
    p = run(*[subst.get(a, a) for a in args], cwd=tmp_path)
    lines = p.stderr.splitlines()
    assert p.returncode == code, p.stderr
    assert len(lines) == 1 and part in lines[0], p.stderr
    assert not (tmp_path / "report").exists()


def test_help_shows_an_example():
    p = run("--help")
    assert p.returncode == 0 and p.stderr == ""
    assert "mwanda report runs/dense runs/wanda-50" in p.stdout


def test_samples_match_their_generator(tmp_path):
    """The committed sample runs are what make_samples.py writes."""
    r = subprocess.run([sys.executable, str(DATA / "make_samples.py"), str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for f in sorted(tmp_path.rglob("*.json")):
        rel = f.relative_to(tmp_path)
        assert (DATA / rel).read_bytes() == f.read_bytes(), rel


def mutate(doc, rng):
    """One random change somewhere in a JSON document: a value replaced by
    another type or an out-of-range number, a key dropped, a list emptied."""
    path, node = [], doc
    while isinstance(node, (dict, list)) and node and rng.random() < 0.8:
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        path.append((node, key))
        node = node[key]
    if not path:
        return
    parent, key = path[-1]
    choice = rng.randrange(5)
    if choice == 0 and isinstance(parent, dict):
        del parent[key]
    else:
        parent[key] = [None, -1, 1e308, -0.5, 2, "x" * 80, [], {}, [1, "a"], {"a": 1}][
            rng.randrange(10)]


def test_mutated_inputs_never_crash(tmp_path):
    """Seeded random damage to the sample files: every run either reports or
    stops with one error line; never a crash (run under the sanitizer build,
    a memory error would show here)."""
    import random
    rng = random.Random(7)
    outcomes = {0: 0, 1: 0}
    for i in range(40):
        base = tmp_path / f"m{i}"
        dirs = copy_runs(base, ["dense", "owl-50"])
        target = rng.choice([(dirs[0], "eval.json"), (dirs[0], "tasks.json"),
                             (dirs[1], "prune.json"), (dirs[1], "eval.json"),
                             (dirs[1], "tasks.json")])
        f = target[0] / target[1]
        doc = json.loads(f.read_text())
        for _ in range(rng.randrange(1, 4)):
            mutate(doc, rng)
        f.write_text(json.dumps(doc))
        p = run(*dirs, "-o", base / "out")
        assert p.returncode in (0, 1), (i, p.returncode, p.stderr)
        assert not any(n in p.stderr for n in NOISE), p.stderr
        if p.returncode:
            assert len(p.stderr.splitlines()) == 1 and str(f) in p.stderr, p.stderr
        else:
            for svg in (base / "out").glob("*.svg"):
                svg_root(svg)
        outcomes[p.returncode] += 1
        shutil.rmtree(base)
    print(f"mutated inputs: {outcomes[0]} reported, {outcomes[1]} refused")
    assert outcomes[1] > 0
