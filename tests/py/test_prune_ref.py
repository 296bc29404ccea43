"""src/prune against the independent numpy reference (scripts/ref_prune.py).

tests/tools/mw_prune_tool.c (MWANDA_PRUNE_TOOL) runs the C functions on raw
arrays. They are compared with the golden files under tests/data/prune/
(scripts/gen_prune_golden.py) and, live, with ref_prune.py on fresh seeded
cases. Masks, zero counts, kept weights and factors must agree bit for bit
(the arithmetic is specified to the operation, see src/prune/prune.h);
OWL's sum and counts exactly; CWL's correlation, a sum in another order
(np.corrcoef), within 1e-12.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SOURCE_DIR

sys.path.insert(0, str(SOURCE_DIR / "scripts"))
import gen_prune_golden as gen  # noqa: E402
import ref_prune as ref  # noqa: E402

DATA = SOURCE_DIR / "tests" / "data" / "prune"
CWL_TOL = 1e-12


@pytest.fixture(scope="module")
def tool() -> Path:
    t = os.environ.get("MWANDA_PRUNE_TOOL")
    if not t:
        pytest.fail("MWANDA_PRUNE_TOOL is not set: run through ctest, or set it to "
                    "build/release/tests/mw-prune-tool")
    return Path(t)


class Tool:
    """Writes arrays as raw files into a folder and runs mw-prune-tool on them."""

    def __init__(self, exe: Path, tmp: Path):
        self.exe, self.tmp, self.n = exe, tmp, 0

    def put(self, arr: np.ndarray, dtype) -> str:
        self.n += 1
        p = self.tmp / f"a{self.n}.bin"
        np.ascontiguousarray(arr, dtype=dtype).tofile(p)
        return str(p)

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([str(self.exe), *args], capture_output=True, text=True)
        if ok and r.returncode != 0:
            pytest.fail(f"mw-prune-tool {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r

    def mask(self, w: np.ndarray, c, *how: str, threads: int | None = None):
        """Runs one mask; returns (pruned weights, reported zeros)."""
        out = self.tmp / f"o{self.n}.bin"
        args = ["mask", "--rows", str(w.shape[0]), "--cols", str(w.shape[1]),
                "--w", self.put(w, np.float32), "-o", str(out), *how]
        if c is not None:
            args += ["--c", self.put(c, np.float64)]
        if threads:
            args += ["--threads", str(threads)]
        r = self.run(*args)
        return np.fromfile(out, dtype=np.float32).reshape(w.shape), json.loads(r.stdout)["zeros"]

    def factor(self, sum2, pos, tokens, opts=None) -> np.ndarray:
        out = self.tmp / f"c{self.n}.bin"
        args = ["factor", "--n-lang", str(sum2.shape[0]), "--n-in", str(sum2.shape[1]),
                "--sum2", self.put(sum2, np.float64), "--pos", self.put(pos, np.float64),
                "--tokens", self.put(tokens, np.float64), "-o", str(out)]
        if opts is not None:
            balance, lam, gamma, agg = opts
            args += ["--mwanda", "--lambda", repr(float(lam)), "--gamma", repr(float(gamma)),
                     "--agg", agg] + (["--balance"] if balance else [])
        self.run(*args)
        return np.fromfile(out, dtype=np.float64)

    def owl(self, layers, m: float) -> dict:
        args = ["owl", "--m", repr(float(m))]
        for w, c in layers:
            item = f"{w.shape[0]},{w.shape[1]},{self.put(w, np.float32)}"
            if c is not None:
                item += "," + self.put(c, np.float64)
            args += ["--layer", item]
        return json.loads(self.run(*args).stdout)

    def cwl(self, inputs) -> float:
        args = ["cwl", "--n-lang", str(inputs[0][0].shape[0])]
        for sum2, tokens in inputs:
            args += ["--input", f"{sum2.shape[1]},{self.put(sum2, np.float64)},"
                     f"{self.put(tokens, np.float64)}"]
        return json.loads(self.run(*args).stdout)["r"]

    def alloc(self, imp, s: float, lam: float):
        out = self.tmp / f"s{self.n}.bin"
        r = self.run("alloc", "--n", str(len(imp)), "--imp", self.put(imp, np.float64),
                     "--sparsity", repr(float(s)), "--lambda", repr(float(lam)), "-o", str(out))
        return np.fromfile(out, dtype=np.float64), json.loads(r.stdout)["clamped"]


@pytest.fixture
def t(tool, tmp_path) -> Tool:
    return Tool(tool, tmp_path)


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint32 if a.dtype == np.float32 else np.uint64)


def assert_same_pruning(orig: np.ndarray, got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Bitwise equality, plus: the only changes are nonzero -> +0.0."""
    diff = int(np.count_nonzero(bits(got) != bits(want)))
    assert diff == 0, f"{what}: {diff} of {got.size} weights differ from the reference"
    changed = bits(got) != bits(orig)
    assert np.all(orig[changed] != 0) and np.all(bits(got[changed]) == 0), \
        f"{what}: a change other than nonzero -> +0.0"


def from_mask(w: np.ndarray, packed: np.ndarray) -> np.ndarray:
    """Expected weights from a golden zero mask: nonzero -> +0.0 where masked."""
    mask = np.unpackbits(packed)[: w.size].reshape(w.shape).astype(bool)
    out = w.copy()
    out[mask & (w != 0)] = np.float32(0.0)
    assert np.array_equal(out == 0, mask), "golden mask drops an existing zero"
    return out


# --------------------------------------------------------------------------
# Golden files
# --------------------------------------------------------------------------

MASK_FILES = sorted(DATA.glob("mask_*.npz"))


def test_golden_files_present():
    assert len(MASK_FILES) == len(gen.MATRICES)
    for name in ("factors", "owl", "cwl", "alloc"):
        assert (DATA / f"{name}.npz").is_file()


@pytest.mark.parametrize("path", MASK_FILES, ids=[p.stem for p in MASK_FILES])
def test_golden_masks(t, path):
    d = np.load(path)
    w, c = d["w"], d["c"]
    checked = 0
    for i, s in enumerate(d["sparsities"]):
        for key, cc, how in ((f"rows_c_{i}", c, ()), (f"rows_noc_{i}", None, ()),
                             (f"global_{i}", None, ("--global",))):
            want = from_mask(w, d[key])
            got, zeros = t.mask(w, cc, "--sparsity", repr(float(s)), *how)
            assert_same_pruning(w, got, want, f"{path.stem} {key}")
            assert zeros == int(np.count_nonzero(want == 0))
            checked += 1
        k = ref.prune_count(w.shape[1], s)
        per_row = np.count_nonzero(from_mask(w, d[f"rows_c_{i}"]) == 0, axis=1)
        assert np.array_equal(per_row, np.maximum(k, np.count_nonzero(w == 0, axis=1)))
    for n, m in gen.PATTERNS:
        for key, cc in ((f"nm_c_{n}of{m}", c), (f"nm_noc_{n}of{m}", None)):
            if key not in d:
                continue
            want = from_mask(w, d[key])
            got, zeros = t.mask(w, cc, "--pattern", f"{n}:{m}")
            assert_same_pruning(w, got, want, f"{path.stem} {key}")
            checked += 1
    assert checked >= 3 * len(d["sparsities"])


def test_golden_masks_match_live_reference():
    """The reference still gives the committed answers (it is what the live tests trust)."""
    for path in MASK_FILES:
        d = np.load(path)
        for i, s in enumerate(d["sparsities"]):
            got = ref.prune_rows(d["w"], d["c"], float(s))
            assert np.array_equal(bits(got), bits(from_mask(d["w"], d[f"rows_c_{i}"])))


def test_golden_factors(t):
    d = np.load(DATA / "factors.npz")
    for L in range(1, 6):
        sum2, pos, tok = d[f"L{L}_sum2"], d[f"L{L}_pos"], d[f"L{L}_tokens"]
        got = t.factor(sum2, pos, tok)
        assert np.array_equal(bits(got), bits(d[f"L{L}_wanda"])), f"Wanda factor, {L} languages"
        for i, (b, lam, g, agg) in enumerate(d["opts"]):
            opts = (bool(b), lam, g, "max" if agg else "mean")
            got = t.factor(sum2, pos, tok, opts)
            want = d[f"L{L}_mwanda_{i}"]
            diff = np.max(np.abs(got - want))
            assert np.array_equal(bits(got), bits(want)), \
                f"M-Wanda factor {opts}, {L} languages: maxdiff {diff:.3g}"
            live = ref.mwanda_factor(sum2, pos, tok, balance=opts[0], lam=lam, gamma=g,
                                     agg=opts[3])
            assert np.array_equal(bits(live), bits(want))


def test_golden_owl(t):
    d = np.load(DATA / "owl.npz")
    for blk in range(3):
        layers = [(d[f"b{blk}_l{li}_w"], d[f"b{blk}_l{li}_c"] if f"b{blk}_l{li}_c" in d else None)
                  for li in range(3)]
        for m in (5, 2):
            want = d[f"b{blk}_m{m}"]
            got = t.owl(layers, m)
            assert got["sum"] == want[0] and got["count"] == want[1]
            assert got["threshold"] == want[2] and got["above"] == want[3]
            assert got["share"] == want[4]
    # the outlier block has outliers at M = 5
    assert d["b2_m5"][3] > 0
    got = t.owl([(d["tie_w"], d["tie_c"])], 2.5)
    assert got["threshold"] == 5.0 and got["above"] == 0 == d["tie_res"][3]


def test_golden_cwl(t):
    d = np.load(DATA / "cwl.npz")
    for L in range(2, 6):
        inputs = [(d[f"L{L}_in{k}_sum2"], d[f"L{L}_in{k}_tokens"]) for k in range(3)]
        r = t.cwl(inputs)
        assert abs(r - d[f"L{L}_r"][0]) < CWL_TOL, f"{L} languages: {r} vs {d[f'L{L}_r'][0]}"
        assert 0 < r < 1


def test_golden_alloc(t):
    d = np.load(DATA / "alloc.npz")
    i = 0
    while f"c{i}_imp" in d:
        s, lam, clamped = d[f"c{i}_params"]
        sb, n_clamped = t.alloc(d[f"c{i}_imp"], s, lam)
        assert np.array_equal(bits(sb), bits(d[f"c{i}_sb"])), f"allocation case {i}"
        assert n_clamped == clamped
        if not clamped:
            assert abs(sb.mean() - s) < 1e-14
        i += 1
    assert i >= 7


# --------------------------------------------------------------------------
# Live against the reference, fresh seeded cases
# --------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_live_masks(t, seed):
    rng = np.random.default_rng(1000 + seed)
    for _ in range(3):
        rows, m = int(rng.integers(1, 40)), int(rng.choice([4, 8, 5]))
        cols = m * int(rng.integers(1, 20))
        w = gen.make_weights(rng, rows, cols, str(rng.choice(["levels", "mixed", "normal"])))
        c = gen.make_factor(rng, cols)
        s = float(rng.choice([0.0, float(rng.random()), 0.5, 0.999]))
        got, zeros = t.mask(w, c, "--sparsity", repr(s))
        want = ref.prune_rows(w, c, s)
        assert_same_pruning(w, got, want, f"rows {rows}x{cols} s={s}")
        assert zeros == int(np.count_nonzero(want == 0))
        got, _ = t.mask(w, None, "--sparsity", repr(s), "--global")
        assert_same_pruning(w, got, ref.prune_global(w, s), f"global {rows}x{cols} s={s}")
        n = int(rng.integers(1, m))
        got, zeros = t.mask(w, c, "--pattern", f"{n}:{m}")
        want = ref.prune_nm(w, c, n, m)
        assert_same_pruning(w, got, want, f"{n}:{m} {rows}x{cols}")
        groups = (want == 0).reshape(rows, cols // m, m).sum(axis=2)
        pre = (w == 0).reshape(rows, cols // m, m).sum(axis=2)
        assert np.array_equal(groups, np.maximum(n, pre))


@pytest.mark.parametrize("seed", range(3))
def test_live_factors_owl_cwl_alloc(t, seed):
    rng = np.random.default_rng(2000 + seed)
    L = int(rng.integers(1, 6))
    sum2, pos, tok = gen.make_stats(rng, L, int(rng.integers(3, 80)))
    opts = (bool(rng.integers(2)), float(rng.random() * 2), float(rng.random() * 2),
            str(rng.choice(["mean", "max"])))
    want = ref.mwanda_factor(sum2, pos, tok, balance=opts[0], lam=opts[1], gamma=opts[2],
                             agg=opts[3])
    assert np.array_equal(bits(t.factor(sum2, pos, tok, opts)), bits(want)), f"{L} langs {opts}"
    # Wanda's scores on a block of three layers with the factor just made
    n_in = sum2.shape[1]
    layers = [(gen.make_weights(rng, int(rng.integers(1, 30)), n_in, "mixed"), want),
              (gen.make_weights(rng, int(rng.integers(1, 30)), n_in, "normal"), None)]
    for m in (5.0, 1.5):
        got, ref_owl = t.owl(layers, m), ref.owl_share(layers, m)
        assert got == {k: ref_owl[k] for k in got}, f"OWL M={m}"
    if L >= 2:
        inputs = [(sum2, tok), gen.make_stats(rng, L, 50)[0::2]]
        assert abs(t.cwl(inputs) - ref.cwl_correlation(inputs)) < CWL_TOL
    imp = rng.random(int(rng.integers(1, 30)))
    s, lam = float(rng.random() * 0.8), float(rng.random() * 0.2)
    sb, clamped = t.alloc(imp, s, lam)
    want_sb, want_clamped = ref.allocate(imp, s, lam)
    assert np.array_equal(bits(sb), bits(want_sb)) and clamped == want_clamped


def test_mwanda_off_is_wanda(t):
    """Every M-Wanda switch off: the same factor and the same masks as Wanda, bit for bit."""
    rng = np.random.default_rng(7)
    for L in range(1, 6):
        sum2, pos, tok = gen.make_stats(rng, L, 64)
        cw = t.factor(sum2, pos, tok)
        cm = t.factor(sum2, pos, tok, (False, 0.0, 0.0, "mean"))
        assert np.array_equal(bits(cw), bits(cm))
        w = gen.make_weights(rng, 20, 64, "mixed")
        for how in (("--sparsity", "0.5"), ("--pattern", "2:4")):
            assert np.array_equal(bits(t.mask(w, cw, *how)[0]), bits(t.mask(w, cm, *how)[0]))


def test_threads_same_bytes(t):
    rng = np.random.default_rng(11)
    w = gen.make_weights(rng, 300, 256, "mixed")
    c = gen.make_factor(rng, 256)
    for how in (("--sparsity", "0.6"), ("--pattern", "4:8"), ("--sparsity", "0.6", "--global")):
        one = t.mask(w, c, *how, threads=1)[0]
        two = t.mask(w, c, *how, threads=2)[0]
        assert np.array_equal(bits(one), bits(two)), f"{how}: 1 and 2 threads differ"


# --------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------

def test_errors(t):
    w = np.ones((3, 6), dtype=np.float32)
    w[2, 4] = np.nan
    r = t.run("mask", "--rows", "3", "--cols", "6", "--w", t.put(w, np.float32),
              "--sparsity", "0.5", "-o", str(t.tmp / "x"), ok=False)
    assert r.returncode == 1 and "holds non-finite values at row 2 column 4" in r.stderr
    w[2, 4] = np.inf
    r = t.run("mask", "--rows", "3", "--cols", "6", "--w", t.put(w, np.float32),
              "--sparsity", "0.5", "--global", "-o", str(t.tmp / "x"), ok=False)
    assert r.returncode == 1 and "non-finite" in r.stderr
    w[2, 4] = 1
    r = t.run("mask", "--rows", "3", "--cols", "6", "--w", t.put(w, np.float32),
              "--pattern", "2:4", "-o", str(t.tmp / "x"), ok=False)
    assert r.returncode == 1 and "divisible by 4" in r.stderr
    for s in ("1", "-0.1", "nan"):
        r = t.run("mask", "--rows", "3", "--cols", "6", "--w", t.put(w, np.float32),
                  "--sparsity", s, "-o", str(t.tmp / "x"), ok=False)
        assert r.returncode == 1 and "not in [0, 1)" in r.stderr, s
    for bad in ("3:3", "2:", "dense", "2:4:8"):
        r = t.run("pattern", bad, ok=False)
        assert r.returncode == 1 and r.stderr.count("\n") == 1, bad
    assert json.loads(t.run("pattern", "4:8").stdout) == {"n": 4, "m": 8}
    sum2 = np.ones((1, 5))
    r = t.run("cwl", "--n-lang", "1", "--input",
              f"5,{t.put(sum2, np.float64)},{t.put(np.ones(1), np.float64)}", ok=False)
    assert r.returncode == 1 and "at least two" in r.stderr
    sum2, pos, tok = gen.make_stats(np.random.default_rng(3), 3, 10)
    tok[1] = 0
    r = t.run("factor", "--n-lang", "3", "--n-in", "10", "--sum2", t.put(sum2, np.float64),
              "--pos", t.put(np.minimum(pos, 0), np.float64), "--tokens", t.put(tok, np.float64),
              "--mwanda", "--balance", "-o", str(t.tmp / "x"), ok=False)
    assert r.returncode == 1 and "language 1 has no tokens" in r.stderr
    with pytest.raises(ValueError):
        ref.mwanda_factor(sum2, pos, tok, balance=True)
