#!/usr/bin/env python3
"""Writes the sample run folders that tests/py/test_report.py reports on.

Hand-made but shaped like real runs of Gemma 3 270M (18 blocks, hidden 640,
FFN 2048): a dense run, Wanda, OWL and M-Wanda at 50% unstructured, each with
eval.json (perplexity for 15 calibration and 4 held-out languages) and
tasks.json (two four-choice tasks). The numbers come from a seeded generator,
so the same command always writes the same bytes:

    python3 tests/data/report/make_samples.py tests/data/report
"""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

CALIB = ["ar", "de", "en", "es", "fa", "fr", "hi", "id", "it", "ja", "ko", "pt", "ru", "tr", "zh"]
UNSEEN = ["eu", "is", "sw", "yo"]
N_BLOCKS = 18
HIDDEN, Q_DIM, KV_DIM, FFN = 640, 1024, 256, 2048
# (name, rows, inputs) of every pruned matrix of a block
LINEARS = [("attn_q", Q_DIM, HIDDEN), ("attn_k", KV_DIM, HIDDEN), ("attn_v", KV_DIM, HIDDEN),
           ("attn_output", HIDDEN, Q_DIM), ("ffn_gate", FFN, HIDDEN), ("ffn_up", FFN, HIDDEN),
           ("ffn_down", HIDDEN, FFN)]
CALIBRATION = {"languages": CALIB, "samples": 64, "ctx": 512, "seed": 0}
MODEL = "gemma3-270m"


def block_targets(method: str, s: float, rng: random.Random) -> list[float]:
    """Flat for Wanda; OWL/CWL: scores min-max scaled to [0, 2*lam], centred."""
    if method == "wanda":
        return [s] * N_BLOCKS
    lam = 0.08
    if method == "owl":  # outlier share: higher in early and last blocks
        d = [0.9 * math.exp(-b / 4) + 0.3 * (b / N_BLOCKS) ** 3 + rng.uniform(0, 0.08)
             for b in range(N_BLOCKS)]
    else:  # CWL: cross-lingual importance 1 - r_b, rising through the middle
        d = [math.sin(math.pi * (b + 0.5) / N_BLOCKS) ** 2 + rng.uniform(0, 0.1)
             for b in range(N_BLOCKS)]
    lo, hi = min(d), max(d)
    dp = [(x - lo) / (hi - lo) * 2 * lam for x in d]
    mean = sum(dp) / len(dp)
    return [s - (x - mean) for x in dp]


def prune_json(method: str, s: float, targets: list[float]) -> dict:
    blocks, tensors = [], {}
    zeros_all = total_all = 0
    for b, t in enumerate(targets):
        zb = nb = 0
        for name, rows, cols in LINEARS:
            z = math.floor(cols * t) * rows
            tensors[f"blk.{b}.{name}.weight"] = {"zeros": z, "total": rows * cols}
            zb += z
            nb += rows * cols
        blocks.append({"index": b, "target": round(t, 6), "achieved": round(zb / nb, 6),
                       "score": None if method == "wanda" else round(0.5 + (s - t) * 3, 6)})
        zeros_all += zb
        total_all += nb
    return {"method": method, "target": s, "achieved": round(zeros_all / total_all, 6),
            "pattern": "unstructured", "options": {"threads": 2},
            "calibration": CALIBRATION, "blocks": blocks, "tensors": tensors,
            "model": MODEL, "output": f"{method}-50.gguf"}


def eval_json(ppl: dict[str, float], sizes: dict[str, tuple[int, int]]) -> dict:
    langs = {}
    for lang, p in ppl.items():
        tokens, nbytes = sizes[lang]
        nll = tokens * math.log(p)
        langs[lang] = {"ppl": round(p, 4), "bpb": round(nll / math.log(2) / nbytes, 5),
                       "nll": round(nll, 3), "tokens": tokens, "text_tokens": tokens + 1,
                       "bytes": nbytes}
    return {"model": MODEL, "ctx": 512, "windows": "plain", "languages": langs}


def wilson(acc: float, n: int) -> list[float]:
    z = 1.959964
    centre = (acc + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(acc * (1 - acc) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(centre - half, 4), round(centre + half, 4)]


def tasks_json(acc: dict[str, dict[str, float]], n: int) -> dict:
    tasks = {}
    for task, per_lang in acc.items():
        tasks[task] = {}
        for lang, a in per_lang.items():
            k = round(a * n)
            norm = min(n, max(0, k + (3 if lang < "m" else -4)))
            tasks[task][lang] = {"acc": round(k / n, 4), "acc_norm": round(norm / n, 4), "n": n,
                                 "ci95": wilson(k / n, n)}
    return {"model": MODEL, "tasks": tasks}


def main() -> None:
    out = Path(sys.argv[1])
    rng = random.Random(20250521)
    langs = CALIB + UNSEEN
    sizes = {l: (rng.randint(30000, 60000), rng.randint(120000, 200000)) for l in langs}
    dense_ppl = {l: rng.uniform(8, 25) if l in CALIB else rng.uniform(30, 90) for l in langs}
    # perplexity increase at 50%: larger for held-out languages; OWL and
    # M-Wanda a little below Wanda on average
    base_inc = {l: rng.uniform(0.12, 0.35) if l in CALIB else rng.uniform(0.3, 0.7)
                for l in langs}
    factor = {"wanda": 1.0, "owl": 0.9, "mwanda": 0.84}
    dense_acc = {"continuation": {l: rng.uniform(0.55, 0.8) if l in CALIB else
                                  rng.uniform(0.35, 0.55) for l in langs},
                 "crosslingual": {l: rng.uniform(0.6, 0.9) if l in CALIB else
                                  rng.uniform(0.3, 0.5) for l in langs}}
    n_items = 300

    def write(name: str, files: dict[str, dict]) -> None:
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        for fname, doc in files.items():
            (d / fname).write_text(json.dumps(doc, indent=2) + "\n")

    write("dense", {"eval.json": eval_json(dense_ppl, sizes),
                    "tasks.json": tasks_json(dense_acc, n_items)})
    for method in ("wanda", "owl", "mwanda"):
        targets = block_targets(method, 0.5, rng)
        ppl = {l: p * (1 + base_inc[l] * factor[method] * rng.uniform(0.9, 1.1))
               for l, p in dense_ppl.items()}
        acc = {t: {l: a - rng.uniform(0.03, 0.12) * factor[method] for l, a in v.items()}
               for t, v in dense_acc.items()}
        files = {"prune.json": prune_json(method, 0.5, targets), "eval.json": eval_json(ppl, sizes),
                 "tasks.json": tasks_json(acc, n_items)}
        if method == "mwanda":
            files["run.json"] = {"name": "M-Wanda 50%", "unseen": UNSEEN}
        write(f"{method}-50", files)


if __name__ == "__main__":
    main()
