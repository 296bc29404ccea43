#!/usr/bin/env python3
"""Write the golden forward-pass results of the tiny models.

    python scripts/gen_forward_golden.py [OUTDIR]   (default tests/data/forward)

Makes the tiny llama, qwen2, qwen3 and gemma3 models with
scripts/make_tiny_models.py (fixed seed; gemma3's sliding window set to 8 so
that the test windows reach past it), runs scripts/ref_forward.py (numpy,
float64, Hugging Face semantics, on the <family>-hf folders) on a few
seeded windows of token ids, and writes OUTDIR/tiny-<family>.json:

  make_tiny_args   the arguments that rebuild the same models
  windows          [{"tokens": [...],
                     "nll": [-log p(token t+1) at t = 0 .. T-2],
                     "hidden_norms": [[L2 norm of the residual stream after
                                       the embedding and after every layer,
                                       per position]],
                     "logprobs": {"t": [log p of every vocabulary entry]}
                                 at a few positions}]

Each family gets two windows of 24 tokens (the same length, so mwanda runs
them as one batch) and one of 13. Windows of the SentencePiece families
(llama, gemma3, whose GGUFs add a BOS token) start with BOS. Values keep 12
significant digits. tests/py/test_forward_ref.py compares mwanda with these
files and with the live reference.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from ref_forward import RefModel  # noqa: E402

MAKE_TINY_ARGS = ["--seed", "1234", "--type", "f32", "--sliding-window", "8"]
FAMILIES = ["llama", "qwen2", "qwen3", "gemma3"]
WINDOW_LENGTHS = [24, 24, 13]
# positions whose whole distribution is kept, per window
FULL_AT = {0: [5, 23], 1: [], 2: [12]}
SEED = 20250611


def windows_for(fam: str, info: dict) -> list[list[int]]:
    rng = np.random.default_rng([SEED, FAMILIES.index(fam)])
    out = []
    for T in WINDOW_LENGTHS:
        ids = rng.integers(0, info["n_vocab"], size=T).tolist()
        if info["tokenizer_model"] == "llama":
            ids[0] = info["bos"]
        out.append(ids)
    return out


def r12(v) -> list:
    return [float(f"{x:.12g}") for x in np.asarray(v).ravel()]


def golden(fam: str, root: Path, info: dict) -> dict:
    ref = RefModel(root / info["hf"])
    wins = []
    for k, ids in enumerate(windows_for(fam, info)):
        r = ref.forward(ids)
        lp = r["logprobs"]
        T = len(ids)
        wins.append({
            "tokens": ids,
            "nll": r12(-lp[np.arange(T - 1), ids[1:]]),
            "hidden_norms": [r12(np.linalg.norm(h, axis=-1)) for h in r["hidden"]],
            "logprobs": {str(t): r12(lp[t]) for t in FULL_AT[k]},
        })
    return {"family": fam, "make_tiny_args": MAKE_TINY_ARGS,
            "sliding_window": info["sliding_window"], "windows": wins}


def dump(obj: dict) -> str:
    """JSON with one array per line, so diffs stay readable."""
    lines = ["{", f' "family": "{obj["family"]}",',
             f' "make_tiny_args": {json.dumps(obj["make_tiny_args"])},',
             f' "sliding_window": {json.dumps(obj["sliding_window"])},', ' "windows": [']
    for i, w in enumerate(obj["windows"]):
        lines.append("  {")
        lines.append(f'   "tokens": {json.dumps(w["tokens"])},')
        lines.append(f'   "nll": {json.dumps(w["nll"])},')
        lines.append('   "hidden_norms": [')
        hn = w["hidden_norms"]
        lines += [f"    {json.dumps(h)}" + ("," if j + 1 < len(hn) else "")
                  for j, h in enumerate(hn)]
        lines.append("   ],")
        lp = list(w["logprobs"].items())
        lines.append('   "logprobs": {' + ("" if lp else "}"))
        lines += [f'    "{t}": {json.dumps(v)}' + ("," if j + 1 < len(lp) else "")
                  for j, (t, v) in enumerate(lp)]
        if lp:
            lines.append("   }")
        lines.append("  }" + ("," if i + 1 < len(obj["windows"]) else ""))
    lines += [" ]", "}"]
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == obj
    return text


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else HERE.parent / "tests" / "data" / "forward"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run([sys.executable, str(HERE / "make_tiny_models.py"), str(root),
                        *MAKE_TINY_ARGS], check=True, stdout=subprocess.DEVNULL)
        manifest = json.loads((root / "manifest.json").read_text())
        for fam in FAMILIES:
            path = out / f"tiny-{fam}.json"
            path.write_text(dump(golden(fam, root, manifest["families"][fam])))
            print(f"{path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
