#!/usr/bin/env python3
"""Write the pruning golden files under tests/data/prune/ from scripts/ref_prune.py.

    python scripts/gen_prune_golden.py [OUTDIR]

Small random cases made to hit the rules' corners: weights on a few levels
(ties), zeros and -0.0, factors that are powers of two or zero (products
that tie across columns), odd shapes, sparsities 0 .. 1-1e-7, N:M 2:4, 4:8,
1:4, 3:5; per-language statistics for 1..5 languages; OWL blocks; CWL
inputs; allocations with ties and clamping. Each file is an .npz written
with fixed zip timestamps, so the same command gives the same bytes.
tests/py/test_prune_ref.py reads them and also imports the case makers
below for its live cases.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ref_prune as ref  # noqa: E402

SPARSITIES = [0.0, 0.5, 0.7, 0.999, 0.9999999]
PATTERNS = [(2, 4), (4, 8), (1, 4), (3, 5)]
MATRICES = [  # name, rows, cols, kind
    ("m7x13", 7, 13, "levels"),
    ("m16x64", 16, 64, "levels"),
    ("m33x40", 33, 40, "mixed"),
    ("m5x1", 5, 1, "levels"),
    ("m1x97", 1, 97, "normal"),
    ("m24x120", 24, 120, "mixed"),
    ("m9x20zeros", 9, 20, "zeros"),
]
FACTOR_OPTS = [  # balance, lambda, gamma, aggregate
    (False, 0.0, 0.0, "mean"),
    (True, 0.0, 0.0, "mean"),
    (False, 0.7, 0.0, "mean"),
    (True, 0.7, 0.0, "mean"),
    (True, 0.0, 1.0, "mean"),
    (True, 0.0, 0.5, "max"),
    (False, 0.3, 2.0, "max"),
    (True, 1.5, 0.25, "mean"),
]


def make_weights(rng: np.random.Generator, rows: int, cols: int, kind: str) -> np.ndarray:
    """float32 weights: 'levels' (few magnitudes), 'normal', 'mixed', 'zeros' (rows full of them)."""
    if kind == "normal":
        w = rng.standard_normal((rows, cols)).astype(np.float32)
    else:
        levels = rng.integers(1, 5, size=(rows, cols)).astype(np.float32) * np.float32(0.25)
        w = np.where(rng.random((rows, cols)) < 0.5, -levels, levels).astype(np.float32)
        if kind == "mixed":
            cont = rng.standard_normal((rows, cols)).astype(np.float32)
            w = np.where(rng.random((rows, cols)) < 0.5, cont, w).astype(np.float32)
    u = rng.random((rows, cols))
    zero_share = 0.6 if kind == "zeros" else 0.1
    w[u < zero_share / 2] = np.float32(0.0)
    w[(u >= zero_share / 2) & (u < zero_share)] = np.float32(-0.0)
    if kind == "zeros":
        w[0, :] = np.float32(-0.0)  # a row that is all zeros
    return w


def make_factor(rng: np.random.Generator, cols: int) -> np.ndarray:
    """Factors with ties and zeros: powers of two (so |w|*c ties across columns)."""
    c = np.ldexp(1.0, rng.integers(-3, 3, size=cols)).astype(np.float64)
    c[rng.random(cols) < 0.1] = 0.0
    cont = rng.random(cols) < 0.3
    c[cont] = rng.random(int(cont.sum())) * 4
    return c


def make_stats(rng: np.random.Generator, n_lang: int, n_in: int):
    """sum2 [L][n], pos [L][n], tokens [L]: zeros, equal channels, pos 0 and pos = T."""
    tokens = rng.integers(5, 2000, size=n_lang).astype(np.float64)
    sum2 = rng.random((n_lang, n_in)) * tokens[:, None] * rng.random(n_in)[None, :] * 3
    sum2[:, : min(2, n_in)] = 0.0
    if n_in > 4:
        sum2[:, 3] = sum2[0, 3] * tokens / tokens[0]  # the same RMS in every language
    pos = np.floor(rng.random((n_lang, n_in)) * (tokens[:, None] + 1))
    pos = np.minimum(pos, tokens[:, None])
    pos[:, 0] = 0.0
    if n_in > 2:
        pos[:, 2] = tokens
    return sum2, pos, tokens


def _packbits(mask: np.ndarray) -> np.ndarray:
    return np.packbits(mask.reshape(-1).astype(np.uint8))


def mask_cases(rng: np.random.Generator) -> dict[str, dict[str, np.ndarray]]:
    files = {}
    for name, rows, cols, kind in MATRICES:
        w = make_weights(rng, rows, cols, kind)
        c = make_factor(rng, cols)
        d = {"w": w, "c": c}
        for i, s in enumerate(SPARSITIES):
            d[f"rows_c_{i}"] = _packbits(ref.prune_rows(w, c, s) == 0)
            d[f"rows_noc_{i}"] = _packbits(ref.prune_rows(w, None, s) == 0)
            d[f"global_{i}"] = _packbits(ref.prune_global(w, s) == 0)
        for n, m in PATTERNS:
            if cols % m == 0:
                d[f"nm_c_{n}of{m}"] = _packbits(ref.prune_nm(w, c, n, m) == 0)
                d[f"nm_noc_{n}of{m}"] = _packbits(ref.prune_nm(w, None, n, m) == 0)
        d["sparsities"] = np.array(SPARSITIES)
        files[f"mask_{name}"] = d
    return files


def factor_cases(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = {"opts": np.array([[b, lam, g, 1.0 if agg == "max" else 0.0]
                           for b, lam, g, agg in FACTOR_OPTS])}
    for L in range(1, 6):
        sum2, pos, tokens = make_stats(rng, L, 37)
        d[f"L{L}_sum2"], d[f"L{L}_pos"], d[f"L{L}_tokens"] = sum2, pos, tokens
        d[f"L{L}_wanda"] = ref.wanda_factor(sum2)
        for i, (b, lam, g, agg) in enumerate(FACTOR_OPTS):
            d[f"L{L}_mwanda_{i}"] = ref.mwanda_factor(sum2, pos, tokens, balance=b, lam=lam,
                                                      gamma=g, agg=agg)
    return d


def owl_cases(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = {}
    shapes = [(16, 24), (24, 16), (8, 24)]
    for blk in range(3):
        layers = []
        for li, (r, cdim) in enumerate(shapes):
            w = make_weights(rng, r, cdim, "mixed")
            if blk == 2 and li == 0:
                w[0, :3] = np.float32(40.0)  # a few large outliers
            c = make_factor(rng, cdim) if not (blk == 1 and li == 1) else None
            d[f"b{blk}_l{li}_w"] = w
            if c is not None:
                d[f"b{blk}_l{li}_c"] = c
            layers.append((w, c))
        for m in (5.0, 2.0):
            res = ref.owl_share(layers, m)
            d[f"b{blk}_m{int(m)}"] = np.array([res["sum"], res["count"], res["threshold"],
                                               res["above"], res["share"]])
    # a score equal to the threshold (mean 2, M 2.5: 5) is not above it
    tie = np.array([[1, -1, 1, 5], [1, 5, 1, 1]], dtype=np.float32)
    c = np.array([1.0, 1.0, 1.0, 1.0])
    res = ref.owl_share([(tie, c)], 2.5)
    d["tie_w"], d["tie_c"] = tie, c
    d["tie_res"] = np.array([res["sum"], res["count"], res["threshold"], res["above"],
                             res["share"]])
    return d


def cwl_cases(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = {}
    for L in range(2, 6):
        inputs = []
        for k, n in enumerate((24, 16, 40)):
            sum2, _, tokens = make_stats(rng, L, n)
            sum2[1:] = sum2[1:] * (1 + 0.3 * rng.random((L - 1, n)))  # languages alike, not equal
            d[f"L{L}_in{k}_sum2"], d[f"L{L}_in{k}_tokens"] = sum2, tokens
            inputs.append((sum2, tokens))
        d[f"L{L}_r"] = np.array([ref.cwl_correlation(inputs)])
    return d


def alloc_cases(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = {}
    cases = [
        (rng.random(18), 0.5, 0.08),
        (rng.random(18), 0.7, 0.08),
        (np.full(6, 0.25), 0.5, 0.08),             # all equal: s everywhere
        (np.array([0.1, 0.1, 0.9, 0.5]), 0.6, 0.2),  # ties
        (rng.random(30) * 5 - 2, 0.3, 0.0),        # Lambda 0
        (np.array([0.0, 1.0, 2.0, 3.0]), 0.85, 0.3),  # clamped above
        (np.array([0.0, 1.0, 2.0, 3.0]), 0.05, 0.3),  # clamped below
    ]
    for i, (imp, s, lam) in enumerate(cases):
        sb, clamped = ref.allocate(imp, s, lam)
        d[f"c{i}_imp"] = np.asarray(imp, dtype=np.float64)
        d[f"c{i}_params"] = np.array([s, lam, clamped])
        d[f"c{i}_sb"] = sb
    return d


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz numpy reads, with fixed timestamps and order (same bytes every run)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for key in sorted(arrays):
            b = io.BytesIO()
            np.lib.format.write_array(b, np.asanyarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, b.getvalue())
    tmp = path.with_suffix(".npz.tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        Path(__file__).resolve().parents[1] / "tests" / "data" / "prune"
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20250521)
    files = mask_cases(rng)
    files["factors"] = factor_cases(rng)
    files["owl"] = owl_cases(rng)
    files["cwl"] = cwl_cases(rng)
    files["alloc"] = alloc_cases(rng)
    total = 0
    for name, arrays in files.items():
        path = out / f"{name}.npz"
        write_npz(path, arrays)
        total += path.stat().st_size
    print(f"wrote {len(files)} files, {total} bytes, to {out}")


if __name__ == "__main__":
    main()
