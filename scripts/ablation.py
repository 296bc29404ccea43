#!/usr/bin/env python3
"""The ablation that chooses M-Wanda's defaults (issue 6, docs/ablation.md).

Runs M-Wanda's parts one at a time and together (language balancing, the
cross-lingual spread with several lambda, the activation-probability term
with several gamma and both aggregates, CWL in both directions with several
Lambda) at 50% and 60% unstructured and at 2:4, on the default model,
scoring on the validation split only (data/corpus/valid, and the validation
tasks when data/tasks/valid.jsonl exists). Never reads test/.

    scripts/ablation.py OUT_DIR [--model gemma3-270m] [--samples 8]
                        [--eval-windows 1] [--only NAME,...] [--jobs-threads N]

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
            ("balance", [o for o in mw if o != "--no-balance"])]
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
    bal = [o for o in mw if o != "--no-balance"]
    for lam in ("0.5", "1"):
        b = list(bal)
        b[b.index("--lambda") + 1] = lam
        grid.append((f"bal+sigma-l{lam}", b))
        for d in ("1-r", "r"):
            grid.append((f"bal+sigma-l{lam}+cwl-{d}",
                         b[:2] + b[4:] + ["--cwl", "on", "--cwl-dir", d, "--cwl-lambda", "0.04"]))
    at_60 = {"wanda", "balance", "sigma-l0.5", "prob-mean-g0.5", "cwl-1-r-L0.04", "cwl-r-L0.04",
             "owl", "bal+sigma-l0.5", "bal+sigma-l0.5+cwl-1-r"}
    at_nm = {"wanda", "balance", "sigma-l0.5", "prob-mean-g0.5", "bal+sigma-l0.5"}
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
    ap.add_argument("--eval-windows", default="1")
    ap.add_argument("--only", default="")
    ap.add_argument("--task-items", default="2",
                    help="items per task and language in the task scores")
    ap.add_argument("--task-configs", default="0.5/wanda,0.5/bal+sigma-l0.5+cwl-1-r,"
                    "0.6/wanda,0.6/bal+sigma-l0.5+cwl-1-r",
                    help="configurations also scored on the tasks (the dense model always is)")
    ap.add_argument("--mwanda", default=str(ROOT / "build" / "release" / "mwanda"))
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

    stats = a.out / "stats.gguf"
    if not stats.exists():
        say(f"calibrating {a.model} on {len(calib)} languages")
        run([mw, "calibrate", a.model, "--samples", a.samples, "--ctx", a.ctx, "-o", stats])

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
        results["dense"] = evaluate(a.model, "dense", True)
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


def write_table(out, results, calib, unseen):
    dense = results["dense"]["eval"]
    rows = []
    for name, r in results.items():
        if name == "dense":
            continue
        ev = r["eval"]
        row = {"name": name,
               "calib": mean_log_ratio(ev, dense, calib),
               "unseen": mean_log_ratio(ev, dense, unseen)}
        if "tasks" in r:
            accs = [v["acc"] for t in r["tasks"].values() for v in
                    (t.values() if isinstance(next(iter(t.values())), dict) else [t])]
            row["acc"] = sum(accs) / len(accs)
        rows.append(row)
    lines = ["| configuration | ppl ratio, calibration languages | ppl ratio, unseen | task acc |",
             "|---|---:|---:|---:|"]
    for r in rows:
        acc = f"{r['acc']:.3f}" if "acc" in r else "-"
        lines.append(f"| {r['name']} | {r['calib']:.4f} | {r['unseen']:.4f} | {acc} |")
    (out / "ablation.md").write_text("\n".join(lines) + "\n")
    write_plot(out / "ablation.svg", rows)
    print("\n".join(lines))


def write_plot(path, rows):
    """Horizontal bars: geometric-mean perplexity ratio (pruned / dense) per
    configuration, calibration and unseen languages side by side."""
    h = 18 * len(rows) + 80
    vmax = max([r["calib"] for r in rows] + [r["unseen"] for r in rows] + [1.0])
    x0, w = 230, 520
    sx = lambda v: x0 + (v - 1.0) / (vmax - 1.0 + 1e-12) * w  # noqa: E731
    el = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{x0 + w + 60}" height="{h}" '
          'font-family="sans-serif" font-size="11">',
          f'<text x="{x0}" y="16" font-size="13">perplexity ratio to dense (geometric mean), '
          'valid split</text>',
          f'<rect x="{x0 + 10}" y="26" width="10" height="10" fill="#0072B2"/>'
          f'<text x="{x0 + 24}" y="35">calibration languages</text>',
          f'<rect x="{x0 + 170}" y="26" width="10" height="10" fill="#E69F00"/>'
          f'<text x="{x0 + 184}" y="35">unseen languages</text>']
    for i, r in enumerate(rows):
        y = 50 + 18 * i
        el.append(f'<text x="{x0 - 6}" y="{y + 11}" text-anchor="end">{r["name"]}</text>')
        for j, (k, col) in enumerate((("calib", "#0072B2"), ("unseen", "#E69F00"))):
            v = r[k]
            if not math.isfinite(v):
                continue
            el.append(f'<rect x="{x0}" y="{y + 7 * j}" width="{max(sx(v) - x0, 0.5):.1f}" '
                      f'height="7" fill="{col}"><title>{r["name"]} {k}: {v:.4f}</title></rect>')
        el.append(f'<text x="{sx(max(r["calib"], r["unseen"])) + 4:.1f}" y="{y + 11}">'
                  f'{r["calib"]:.3f} / {r["unseen"]:.3f}</text>')
    el.append("</svg>")
    path.write_text("\n".join(el) + "\n")


if __name__ == "__main__":
    main()
