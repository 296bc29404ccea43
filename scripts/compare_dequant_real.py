#!/usr/bin/env python3
"""Compares mwanda's dequantization with gguf-py's on every tensor of real GGUF files.

Usage (from the repository root, after building; use the project's venv,
"${MWANDA_CACHE:-$HOME/.cache/mwanda}/venv/bin/python", or any Python with
numpy and gguf):

    python scripts/compare_dequant_real.py MODEL.gguf [MODEL2.gguf ...] [--tool PATH]

For each tensor, its raw bytes (read with gguf.GGUFReader) are written to a
temporary file and converted by the mw-dequant-raw tool (tests/tools, built
as build/tests/tools/mw-dequant-raw; override with --tool or the
MWANDA_DEQUANT_RAW variable); the result is compared element by element with
gguf.quants.dequantize. Values must match bit for bit (any NaN equals any
NaN). Prints one line per tensor and a per-type summary; exits 1 on any
mismatch, 2 on a usage or tool error.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from collections import defaultdict

import numpy as np

try:
    import gguf
    from gguf.quants import dequantize
except ImportError:
    sys.exit("compare_dequant_real.py needs the gguf package (the project's venv has it)")

# rows of gguf-py's reference computed at once, to bound memory
CHUNK_ELEMS = 1 << 23


def default_tool():
    env = os.environ.get("MWANDA_DEQUANT_RAW")
    if env:
        return env
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(root, "build", "tests", "tools", "mw-dequant-raw")


def ours(tool, tensor, tmpdir):
    """Our f32 values of a tensor, through the mw-dequant-raw tool."""
    src = os.path.join(tmpdir, "in.bin")
    dst = os.path.join(tmpdir, "out.f32")
    np.ascontiguousarray(tensor.data).view(np.uint8).tofile(src)
    n = int(tensor.n_elements)
    cmd = [tool, str(int(tensor.tensor_type)), str(n), src, dst]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{tensor.name}: {' '.join(cmd)} failed: {res.stderr.strip()}")
    out = np.fromfile(dst, dtype="<f4")
    if out.size != n:
        raise RuntimeError(f"{tensor.name}: tool wrote {out.size} values, expected {n}")
    return out


def compare_chunk(got, want):
    """(mismatches, max abs difference of the non-NaN pairs) for two arrays."""
    gb, wb = got.view(np.uint32), want.view(np.uint32)
    both_nan = np.isnan(got) & np.isnan(want)
    bad = (gb != wb) & ~both_nan
    n_bad = int(np.count_nonzero(bad))
    if n_bad == 0:
        return 0, 0.0
    g, w = got[bad].astype(np.float64), want[bad].astype(np.float64)
    with np.errstate(invalid="ignore"):
        diff = np.where(np.isnan(g) | np.isnan(w), np.inf, np.abs(g - w))
    diff = np.where(np.isnan(diff), np.inf, diff)  # inf - inf of opposite signs
    return n_bad, float(diff.max())


def compare_tensor(tool, tensor, tmpdir):
    got = ours(tool, tensor, tmpdir)
    qtype = tensor.tensor_type
    rows = np.asarray(tensor.data)
    if rows.ndim < 2:
        rows = rows.reshape(1, -1)
    rows = rows.reshape(-1, rows.shape[-1])
    per_row = got.size // rows.shape[0]
    step = max(1, CHUNK_ELEMS // max(per_row, 1))
    n_bad, maxdiff = 0, 0.0
    for r0 in range(0, rows.shape[0], step):
        want = dequantize(rows[r0 : r0 + step], qtype).astype(np.float32, copy=False).reshape(-1)
        part = got[r0 * per_row : r0 * per_row + want.size]
        b, d = compare_chunk(part, want)
        n_bad += b
        maxdiff = max(maxdiff, d)
    return got.size, n_bad, maxdiff


def compare_file(path, tool, summary):
    print(f"== {path}")
    reader = gguf.GGUFReader(path)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="mw-dequant-") as tmpdir:
        for tensor in reader.tensors:
            tname = tensor.tensor_type.name
            n, n_bad, maxdiff = compare_tensor(tool, tensor, tmpdir)
            status = "OK" if n_bad == 0 else f"MISMATCH ({n_bad} values)"
            print(f"{tensor.name:40s} {tname:6s} {n:11d}  max abs diff {maxdiff:g}  {status}")
            s = summary[(os.path.basename(path), tname)]
            s[0] += 1
            s[1] += n
            s[2] += n_bad
            s[3] = max(s[3], maxdiff)
            failed += n_bad != 0
    return failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("gguf", nargs="+", help="GGUF files to check")
    ap.add_argument("--tool", default=default_tool(), help="path of mw-dequant-raw")
    args = ap.parse_args()
    if not os.access(args.tool, os.X_OK):
        print(f"compare_dequant_real.py: no mw-dequant-raw at {args.tool} (build it or use --tool)")
        return 2
    summary = defaultdict(lambda: [0, 0, 0, 0.0])
    failed = 0
    try:
        for path in args.gguf:
            failed += compare_file(path, args.tool, summary)
    except RuntimeError as e:
        print(f"compare_dequant_real.py: {e}")
        return 2
    print("\n== summary (file, type: tensors, elements, mismatches, max abs diff)")
    for (fname, tname), (nt, ne, nb, md) in sorted(summary.items()):
        print(f"{fname:40s} {tname:6s} {nt:4d} tensors {ne:11d} elements  {nb} mismatches  "
              f"max abs diff {md:g}")
    print("all tensors identical" if failed == 0 else f"{failed} tensors differ")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
