"""Independent numpy reference of mwanda's pruning (DESIGN.md §1, src/prune/prune.h).

Written from the definitions, with sorts where the C code selects, so that
tests/py/test_prune_ref.py can demand the same masks bit for bit:

- factors: Wanda c = sqrt(sum_l sum2_l); M-Wanda (mu + lambda*sigma) * g^gamma,
  in float64, sums over languages in language order (loops over languages,
  vectorised over channels), pow by the C library (math.pow), because
  numpy's SIMD power need not round as libm does;
- scores: float64(|w|) * c;
- masks: np.lexsort on (index, nonzero, score): the k lowest of each row
  (or N:M group, or whole matrix) are zeroed; nonzero weights become +0.0,
  zeros (either sign) and kept weights keep their bits;
- OWL: the share of scores above M * mean, the sum taken row by row
  (cumsum along a row, then the row sums one after another, layer after
  layer), as prune.h defines it;
- CWL: the mean over language pairs of np.corrcoef of the RMS activations
  (compared with a tolerance: correlations are sums in another order);
- allocation: min-max scaled importance, centred, subtracted from s.

Usable as a module (the tests import it) and as a small command line that
prints a JSON summary for .npz inputs (see --help).
"""

from __future__ import annotations

import math

import numpy as np

MEAN, MAX = "mean", "max"


# --------------------------------------------------------------------------
# Factors
# --------------------------------------------------------------------------

def _lang_sum(x: np.ndarray) -> np.ndarray:
    """Sum over axis 0 (languages), one language after another from +0.0."""
    acc = np.zeros(x.shape[1:], dtype=np.float64)
    for row in x:
        acc = acc + row
    return acc


def wanda_factor(sum2: np.ndarray) -> np.ndarray:
    """||X_j||_2 pooled over languages; sum2 is [L][n_in]."""
    sum2 = np.asarray(sum2, dtype=np.float64)
    if not np.all(np.isfinite(sum2)) or np.any(sum2 < 0):
        raise ValueError("sums of squares must be finite and >= 0")
    c = np.sqrt(_lang_sum(sum2))
    if not np.all(np.isfinite(c)):
        raise ValueError("factor overflows")
    return c


def mwanda_factor(sum2, pos, tokens, *, balance=False, lam=0.0, gamma=0.0, agg=MEAN):
    """M-Wanda's per-channel factor; every switch off is Wanda's factor."""
    sum2 = np.asarray(sum2, dtype=np.float64)
    tokens = np.asarray(tokens, dtype=np.float64)
    L = sum2.shape[0]
    if lam < 0 or gamma < 0 or not math.isfinite(lam) or not math.isfinite(gamma):
        raise ValueError("lambda and gamma must be finite and >= 0")
    if not np.all(np.isfinite(tokens)) or np.any(tokens <= 0):
        raise ValueError("a language has no tokens")
    c_wanda = wanda_factor(sum2)
    if not balance and lam == 0 and gamma == 0:
        return c_wanda
    a = np.sqrt(sum2 / tokens[:, None])  # [L][n] RMS per language
    mean_a = _lang_sum(a) / L
    if balance:
        mu = mean_a
    else:
        t_all = 0.0
        for t in tokens:
            t_all += float(t)
        mu = np.sqrt(_lang_sum(sum2) / t_all)
    if lam == 0:
        base = mu
    else:
        sigma = np.sqrt(_lang_sum((a - mean_a) * (a - mean_a)) / L)  # population std
        base = mu + lam * sigma
    if gamma == 0:
        prob = np.ones_like(base)  # 0^0 = 1
    else:
        pos = np.asarray(pos, dtype=np.float64)
        if np.any(~(pos >= 0)) or np.any(pos > tokens[:, None]):
            raise ValueError("counts of x > 0 outside [0, T]")
        p = pos / tokens[:, None]
        g = p.max(axis=0) if agg == MAX else _lang_sum(p) / L
        prob = np.array([math.pow(float(x), float(gamma)) for x in g], dtype=np.float64)
    c = base * prob
    if not np.all(np.isfinite(c)):
        raise ValueError("factor overflows")
    return c


# --------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------

def _scores(w: np.ndarray, c) -> np.ndarray:
    a = np.abs(w.astype(np.float64))
    return a if c is None else a * np.asarray(c, dtype=np.float64)


def _check(w: np.ndarray, c) -> None:
    if not np.all(np.isfinite(w)):
        raise ValueError("holds non-finite values")
    if c is not None and (not np.all(np.isfinite(c)) or np.any(~(np.asarray(c) >= 0))):
        raise ValueError("factor not finite and >= 0")


def prune_count(n: int, s: float) -> int:
    return int(math.floor(float(n) * float(s)))


def _apply(w: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Zero the nonzero weights where chosen; others keep their bits."""
    out = w.copy()
    out[chosen & (w != 0)] = np.float32(0.0)
    return out


def _lowest_along_last(score: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the k lowest (score, nonzero, index) along the last axis."""
    n = score.shape[-1]
    idx = np.broadcast_to(np.arange(n), score.shape)
    order = np.lexsort((idx, (w != 0).astype(np.int8), score), axis=-1)
    chosen = np.zeros(score.shape, dtype=bool)
    np.put_along_axis(chosen, order[..., :k], True, axis=-1)
    return chosen


def prune_rows(w: np.ndarray, c, s: float) -> np.ndarray:
    """Per row, the floor(cols * s) lowest scores zeroed; w is float32 [rows][cols]."""
    if not 0 <= s < 1:
        raise ValueError("sparsity not in [0, 1)")
    _check(w, c)
    k = prune_count(w.shape[1], s)
    return _apply(w, _lowest_along_last(_scores(w, c), w, k))


def prune_nm(w: np.ndarray, c, n: int, m: int) -> np.ndarray:
    """In every group of m consecutive inputs of a row, the n lowest zeroed."""
    rows, cols = w.shape
    if cols % m:
        raise ValueError("inputs not divisible by M")
    _check(w, c)
    sc = _scores(w, c).reshape(rows, cols // m, m)
    chosen = _lowest_along_last(sc, w.reshape(rows, cols // m, m), n)
    return _apply(w, chosen.reshape(rows, cols))


def prune_global(w: np.ndarray, s: float) -> np.ndarray:
    """Magnitude: floor(rows*cols*s) lowest |w| over the whole matrix."""
    if not 0 <= s < 1:
        raise ValueError("sparsity not in [0, 1)")
    _check(w, None)
    flat = w.reshape(-1)
    k = prune_count(flat.size, s)
    chosen = _lowest_along_last(_scores(flat, None), flat, k)
    return _apply(w, chosen.reshape(w.shape))


# --------------------------------------------------------------------------
# OWL, CWL, allocation
# --------------------------------------------------------------------------

def owl_share(layers, m: float = 5.0) -> dict:
    """layers: [(w, c or None)], one block. Returns sum, count, threshold, above, share."""
    total = 0.0
    count = 0
    for w, c in layers:
        _check(w, c)
        sc = _scores(w, c)
        if sc.size == 0:
            continue
        for r in np.cumsum(sc, axis=1)[:, -1]:  # each row summed from column 0
            total += float(r)
        count += sc.size
    threshold = m * (total / float(count))
    above = sum(int(np.count_nonzero(_scores(w, c) > threshold)) for w, c in layers)
    return {"sum": total, "count": count, "threshold": threshold, "above": above,
            "share": above / count}


def rms_activations(inputs) -> np.ndarray:
    """inputs: [(sum2 [L][n], tokens [L])] -> a [L][sum n], concatenated."""
    parts = [np.sqrt(np.asarray(s2, np.float64) / np.asarray(t, np.float64)[:, None])
             for s2, t in inputs]
    return np.concatenate(parts, axis=1)


def cwl_correlation(inputs) -> float:
    """Mean over language pairs of the Pearson correlation of the RMS activations."""
    a = rms_activations(inputs)
    L = a.shape[0]
    if L < 2:
        raise ValueError("needs at least two languages")
    if np.any(a.std(axis=1) == 0):
        raise ValueError("constant activations: correlation undefined")
    r = np.corrcoef(a)
    iu = np.triu_indices(L, k=1)
    return float(np.mean(r[iu]))


def cwl_importance(r, direction: str = "1-r") -> np.ndarray:
    r = np.asarray(r, dtype=np.float64)
    return r.copy() if direction == "r" else 1.0 - r


def allocate(imp, s: float, lam: float):
    """Block sparsities and the number clamped to [0, 1)."""
    imp = np.asarray(imp, dtype=np.float64)
    n = imp.size
    lo, hi = float(imp.min()), float(imp.max())
    rng = hi - lo
    scaled = ((imp - lo) / rng) * (2.0 * lam) if rng > 0 else np.zeros(n)
    mean = 0.0
    for v in scaled:
        mean += float(v)
    mean /= n
    sb = s - (scaled - mean)
    top = np.nextafter(1.0, 0.0)
    clamped = int(np.count_nonzero((sb < 0) | (sb > top)))
    return np.clip(sb, 0.0, top), clamped


if __name__ == "__main__":
    import argparse
    import json

    ap = argparse.ArgumentParser(description="Prune one matrix of an .npz (w, optional c) "
                                 "and print the zeros per row as JSON.")
    ap.add_argument("npz")
    ap.add_argument("--sparsity", type=float, default=0.5)
    ap.add_argument("--pattern", default="unstructured")
    args = ap.parse_args()
    d = np.load(args.npz)
    w, c = d["w"], (d["c"] if "c" in d else None)
    if args.pattern == "unstructured":
        out = prune_rows(w, c, args.sparsity)
    else:
        n, m = (int(x) for x in args.pattern.split(":"))
        out = prune_nm(w, c, n, m)
    print(json.dumps({"zeros_per_row": [int(x) for x in (out == 0).sum(axis=1)]}))
