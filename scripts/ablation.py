#!/usr/bin/env python3
"""The ablation that chooses M-Wanda's defaults (issue 6, docs/ablation.md).

Runs M-Wanda's parts one at a time and together (language balancing, the
cross-lingual spread with several lambda, the activation-probability term
with several gamma and both aggregates, CWL in both directions with several
Lambda) at 50% and 60% unstructured and at 2:4, on the default model,
scoring on the validation split only (data/corpus/valid, and the validation
tasks when data/tasks/valid.jsonl exists). Never reads test/.

    scripts/ablation.py OUT_DIR [--model gemma3-270m] [--samples 8] [--seed S]
                        [--eval-windows 1] [--only NAME,...] [--task-items 2]
                        [--task-configs NAME,...] [--table-only]

One calibration of the dense model (every calibration language) serves every
configuration: each is pruned in one pass from those statistics (`mwanda
prune --stats`), so the configurations differ only in what the ablation
varies. Results accumulate in OUT_DIR/results.json (a configuration already
there is not run again, so an interrupted sweep resumes); at the end
OUT_DIR/ablation.md holds the table and OUT_DIR/ablation.svg the plot.
Progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def configs():
    """(name, setting, prune options): Wanda, each part of M-Wanda alone,
    the parts together. The full grid at 50%; at 60% and 2:4 one or two
    values of each part, which keeps the sweep under an hour on 2 cores.
    (The defaults before this sweep, balance + lambda 0.5 + CWL 1-r 0.04,
    are bal+sigma-l0.5+cwl-1-r.)"""
    mw = ["--method", "mwanda", "--cwl", "off", "--no-balance", "--lambda", "0", "--gamma", "0"]

    def with_(**kv):
        o = list(mw)
        for k, v in kv.items():
            flag = "--" + k.replace("_", "-")
            if flag in o:
                o[o.index(flag) + 1] = v
            else:
                o += [flag, v]
        return o

    grid = [("wanda", ["--method", "wanda"]),
            ("mw-off", mw),  # must equal wanda: a check of the sweep itself
            ("balance", [o if o != "--no-balance" else "--balance" for o in mw])]
    for lam in ("0.25", "0.5", "1", "2"):
        grid.append((f"sigma-l{lam}", with_(**{"lambda": lam})))
    for agg in ("mean", "max"):
        for g in ("0.25", "0.5", "1"):
            grid.append((f"prob-{agg}-g{g}", with_(gamma=g, prob=agg)))
    for d in ("1-r", "r"):
        for big in ("0.02", "0.04", "0.08"):
            grid.append((f"cwl-{d}-L{big}", with_(cwl="on", cwl_dir=d, cwl_lambda=big)))
    grid.append(("owl", ["--method", "owl"]))
    # together: balance + sigma, with and without CWL
    bal = [o if o != "--no-balance" else "--balance" for o in mw]
    for lam in ("0.5", "1"):
        b = list(bal)
        b[b.index("--lambda") + 1] = lam
        grid.append((f"bal+sigma-l{lam}", b))
        for d in ("1-r", "r"):
            grid.append((f"bal+sigma-l{lam}+cwl-{d}",
                         b[:2] + b[4:] + ["--cwl", "on", "--cwl-dir", d, "--cwl-lambda", "0.04"]))
    # together without balancing (which the 50% grid shows costs held-out languages)
    for lam in ("0.25", "0.5"):
        for big in ("0.02", "0.04"):
            grid.append((f"sigma-l{lam}+cwl-1-r-L{big}",
                         with_(**{"lambda": lam, "cwl": "on", "cwl_dir": "1-r",
                                  "cwl_lambda": big})))
    at_60 = {"wanda", "balance", "sigma-l0.5", "prob-mean-g0.5", "cwl-1-r-L0.04", "cwl-r-L0.04",
             "owl", "bal+sigma-l0.5", "bal+sigma-l0.5+cwl-1-r", "cwl-1-r-L0.02",
             "sigma-l0.25+cwl-1-r-L0.02", "sigma-l0.25+cwl-1-r-L0.04"}
    at_nm = {"wanda", "balance", "sigma-l0.25", "sigma-l0.5", "prob-mean-g0.5", "bal+sigma-l0.5"}
    out = []
    for setting in ("0.5", "0.6", "2:4"):
        for name, opts in grid:
            # a sparsity per block (OWL, CWL) has no meaning for N:M
            if (setting == "0.6" and name not in at_60) or (setting == "2:4" and name not in at_nm):
                continue
            extra = ["--pattern", "2:4"] if setting == "2:4" else ["--sparsity", setting]
            out.append((f"{setting}/{name}", setting, opts + extra))
    return out


def say(msg):
    print(f"ablation: {msg}", file=sys.stderr, flush=True)


def run(cmd):
    r = subprocess.run([str(c) for c in cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        sys.exit(f"ablation: error: {' '.join(map(str, cmd))}: {r.stderr.strip()[-500:]}")


def mean_log_ratio(ev, dense, langs):
    vals = [math.log(ev[l]["ppl"] / dense[l]["ppl"]) for l in langs if l in ev and l in dense]
    return math.exp(sum(vals) / len(vals)) if vals else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--samples", default="8")
    ap.add_argument("--ctx", default="256")
    ap.add_argument("--seed", default=None, help="calibration windows' seed (calibrate's default)")
    ap.add_argument("--eval-windows", default="1")
    ap.add_argument("--only", default="")
    ap.add_argument("--task-items", default="2",
                    help="items per task and language in the task scores")
    ap.add_argument("--task-configs", default="0.5/wanda,0.5/bal+sigma-l0.5+cwl-1-r,"
                    "0.6/wanda,0.6/bal+sigma-l0.5+cwl-1-r",
                    help="configurations also scored on the tasks (the dense model always is)")
    ap.add_argument("--mwanda", default=str(ROOT / "build" / "release" / "mwanda"))
    ap.add_argument("--table-only", action="store_true",
                    help="only write the table and the plot from OUT_DIR/results.json")
    a = ap.parse_args()
    mw = a.mwanda
    a.out.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((ROOT / "data" / "corpus" / "manifest.json").read_text())
    calib = manifest["calib_languages"]
    unseen = manifest["unseen"]
    valid_dir = ROOT / "data" / "corpus" / "valid"
    langs = sorted(p.stem for p in valid_dir.glob("*.txt"))
    tasks = ROOT / "data" / "tasks" / "valid.jsonl"
    res_path = a.out / "results.json"
    results = json.loads(res_path.read_text()) if res_path.exists() else {}
    if a.table_only:
        write_table(a.out, results, calib, unseen)
        return

    stats = a.out / "stats.gguf"
    if not stats.exists():
        say(f"calibrating {a.model} on {len(calib)} languages")
        run([mw, "calibrate", a.model, "--samples", a.samples, "--ctx", a.ctx, "-o", stats,
             *(["--seed", a.seed] if a.seed else [])])

    task_configs = set(a.task_configs.split(",")) if a.task_configs else set()

    def evaluate(model, key, with_tasks):
        ev = a.out / f"{key}.eval.json"
        run([mw, "eval", model, "--text", valid_dir, "--ctx", a.ctx, "--max-windows",
             a.eval_windows, "--json", ev])
        r = {"eval": json.loads(ev.read_text())["languages"]}
        if with_tasks and tasks.exists():
            tj = a.out / f"{key}.tasks.json"
            run([mw, "eval", model, "--tasks", tasks, "--limit", a.task_items, "--json", tj])
            r["tasks"] = json.loads(tj.read_text())["tasks"]
        return r

    if "dense" not in results:
        say("evaluating the dense model")
        results["dense"] = evaluate(a.model, "dense", bool(task_configs))
        res_path.write_text(json.dumps(results, indent=1))
    only = set(a.only.split(",")) if a.only else None
    todo = [c for c in configs() if c[0] not in results and (not only or c[0] in only)]
    t0 = time.time()
    for i, (name, setting, opts) in enumerate(todo):
        left = (time.time() - t0) / i * (len(todo) - i) if i else float("nan")
        say(f"[{i + 1}/{len(todo)}] {name} (about {left / 60:.0f} min left)" if i else
            f"[1/{len(todo)}] {name}")
        key = name.replace("/", "_")
        model = a.out / f"{key}.gguf"
        pj = a.out / f"{key}.prune.json"
        run([mw, "prune", a.model, *opts, "--stats", stats, "--type", "f16", "-o", model,
             "--json", pj])
        r = evaluate(model, key, name in task_configs)
        r["prune"] = {k: v for k, v in json.loads(pj.read_text()).items() if k != "tensors"}
        r["options"] = opts
        model.unlink()
        results[name] = r
        res_path.write_text(json.dumps(results, indent=1))
    write_table(a.out, results, calib, unseen)


def task_acc(r):
    """Mean accuracy over every (task, language) group of a tasks JSON."""
    accs = [v["acc"] for t in r["tasks"].values() for v in
            (t.values() if isinstance(next(iter(t.values())), dict) else [t])]
    return sum(accs) / len(accs)


def write_table(out, results, calib, unseen):
    dense = results["dense"]["eval"]
    rows = []
    for name, r in results.items():
        ev = r["eval"]
        row = {"name": name,
               "calib": mean_log_ratio(ev, dense, calib),
               "unseen": mean_log_ratio(ev, dense, unseen)}
        if "tasks" in r:
            row["acc"] = task_acc(r)
        rows.append(row)
    by_name = {r["name"]: r for r in rows}
    lines = ["| configuration | ppl ratio, calibration languages | ppl ratio, held-out languages "
             "| vs Wanda, calibration | vs Wanda, held-out | task acc |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        acc = f"{r['acc']:.3f}" if "acc" in r else "-"
        base = by_name.get(r["name"].split("/")[0] + "/wanda")
        rel = ["-", "-"]
        if base and r["name"] != "dense":
            rel = [f"{100 * (r[k] / base[k] - 1):+.1f}%" for k in ("calib", "unseen")]
        lines.append(f"| {r['name']} | {r['calib']:.4f} | {r['unseen']:.4f} | {rel[0]} | {rel[1]} "
                     f"| {acc} |")
    (out / "ablation.md").write_text("\n".join(lines) + "\n")
    write_plot(out / "ablation.svg", [r for r in rows if r["name"] != "dense"])
    print("\n".join(lines))


def write_plot(path, rows):
    """Horizontal bars: each configuration's change in perplexity against
    Wanda at the same setting (geometric mean over languages, in percent),
    calibration and held-out languages side by side; changes beyond the
    axis are cut and labelled with their value."""
    x0, w = 240, 460
    wanda = {r["name"].split("/")[0]: r for r in rows if r["name"].endswith("/wanda")}
    rows = [r for r in rows if not r["name"].endswith("/wanda")
            and r["name"].split("/")[0] in wanda]

    def rel_of(r):
        base = wanda[r["name"].split("/")[0]]
        return [100 * (r[k] / base[k] - 1) for k in ("calib", "unseen")]

    # gains are a few percent and shown whole (to -30%); losses are cut at
    # +10%, where the probability term's collapses would flatten the rest
    least = min([v for r in rows for v in rel_of(r) if math.isfinite(v)] + [-6.0])
    lim_lo, lim_hi = -2.0 * math.ceil(min(-least, 30.0) / 2), 10.0
    h = 18 * len(rows) + 100

    def sx(v):
        return x0 + (min(max(v, lim_lo), lim_hi) - lim_lo) / (lim_hi - lim_lo) * w

    el = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{x0 + w + 190}" height="{h}" '
          'font-family="sans-serif" font-size="11">',
          f'<rect width="{x0 + w + 190}" height="{h}" fill="white"/>',
          f'<text x="{x0}" y="16" font-size="13">perplexity change against Wanda at the same '
          'setting (valid split, lower is better)</text>',
          f'<rect x="{x0 + 10}" y="26" width="10" height="10" fill="#0072B2"/>'
          f'<text x="{x0 + 24}" y="35">calibration languages (23)</text>',
          f'<rect x="{x0 + 200}" y="26" width="10" height="10" fill="#E69F00"/>'
          f'<text x="{x0 + 214}" y="35">held-out languages (20)</text>']
    step = 2 if lim_hi - lim_lo <= 20 else 4
    for t in range(int(lim_lo) // step * step + (step if int(lim_lo) % step else 0),
                   int(lim_hi) + 1, step):
        col = "#888" if t == 0 else "#ddd"
        el.append(f'<line x1="{sx(t):.1f}" y1="44" x2="{sx(t):.1f}" y2="{h - 24}" '
                  f'stroke="{col}"/>')
        el.append(f'<text x="{sx(t):.1f}" y="{h - 10}" text-anchor="middle">{t:+d}%</text>')
    for i, r in enumerate(rows):
        y = 50 + 18 * i
        base = wanda[r["name"].split("/")[0]]
        rel = rel_of(r)
        el.append(f'<text x="{x0 - 6}" y="{y + 11}" text-anchor="end">{r["name"]}</text>')
        for j, (v, col) in enumerate(zip(rel, ("#0072B2", "#E69F00"))):
            if not math.isfinite(v):
                continue
            a, b = sorted((sx(0), sx(v)))
            el.append(f'<rect x="{a:.1f}" y="{y + 7 * j}" width="{max(b - a, 0.5):.1f}" '
                      f'height="7" fill="{col}"><title>{r["name"]}: {v:+.1f}%</title></rect>')
        label = f"{rel[0]:+.1f}% / {rel[1]:+.1f}%"
        if any(v > lim_hi for v in rel):
            ratios = [r[k] / base[k] for k in ("calib", "unseen")]
            label = " / ".join(f"{x:.1f}x" if x < 10 else f"{x:.0f}x" for x in ratios) + " (cut)"
        elif any(v < lim_lo for v in rel):
            label += " (cut)"
        el.append(f'<text x="{max(sx(max(rel)), sx(0)) + 4:.1f}" y="{y + 11}">{label}</text>')
    el.append("</svg>")
    path.write_text("\n".join(el) + "\n")


if __name__ == "__main__":
    main()
