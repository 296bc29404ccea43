"""mwanda's f32 forward pass on the tiny models against a numpy reference.

The reference (scripts/ref_forward.py) implements the Hugging Face
semantics of each family in float64 on the <family>-hf folders; its results
are committed under tests/data/forward/tiny-<family>.json by
scripts/gen_forward_golden.py. Here mwanda runs the same windows on the
same weights, from the GGUF file and from the Hugging Face folder, through
tests/tools/mw_forward_tool.c (MWANDA_FORWARD_TOOL) and through
`mwanda eval`, and is compared with the golden files and with the live
reference.

Tolerances: mwanda computes in f32 (unit roundoff 6e-8), the reference in
f64. On these models (2-6 blocks, sums over at most 128 terms) the log-probs
agree to about 5e-6 (measured: 2e-6 .. 5e-6 per family), so a log-prob
differing by more than 3e-5 is a bug, not rounding; a wrong RoPE base, a
missed sliding window or a (1 + w) norm read as w moves them by 1e-3 .. 1.
Hidden-state norms agree to about 5e-7 relative; the bound is 1e-5.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SOURCE_DIR, make_tiny

sys.path.insert(0, str(SOURCE_DIR / "scripts"))
from ref_forward import RefModel  # noqa: E402

FAMILIES = ["llama", "qwen2", "qwen3", "gemma3"]
DATA = SOURCE_DIR / "tests" / "data" / "forward"
LOGPROB_TOL = 3e-5
HIDDEN_REL_TOL = 1e-5
# the golden files (12 significant digits) against the live reference: both
# float64 numpy; absolute for log-probs, relative for hidden-state norms
GOLDEN_TOL = 1e-9


def load_golden(fam: str) -> dict:
    return json.loads((DATA / f"tiny-{fam}.json").read_text())


@pytest.fixture(scope="module")
def forward_tool() -> Path:
    t = os.environ.get("MWANDA_FORWARD_TOOL")
    if not t:
        pytest.fail("MWANDA_FORWARD_TOOL is not set: run through ctest, or set it to "
                    "build/tests/mw-forward-tool")
    return Path(t)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The tiny models the golden files were made from (same arguments)."""
    args = {tuple(load_golden(f)["make_tiny_args"]) for f in FAMILIES}
    assert len(args) == 1, "golden files made with different models"
    root = tmp_path_factory.mktemp("tiny-forward")
    manifest = make_tiny(root, *args.pop())
    return root, manifest


def model_path(models, fam: str, fmt: str) -> Path:
    root, manifest = models
    return root / manifest["families"][fam]["gguf" if fmt == "gguf" else "hf"]


_runs: dict = {}


def run_tool(tool: Path, model: Path, windows: list[list[int]], tmp: Path,
             *extra: str) -> list[dict]:
    key = (str(model), json.dumps(windows), extra)
    if key not in _runs:
        f = tmp / "windows.txt"
        f.write_text("".join(" ".join(map(str, w)) + "\n" for w in windows))
        r = subprocess.run([str(tool), str(model), str(f), *extra], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        _runs[key] = json.loads(r.stdout)["windows"]
    return _runs[key]


def all_positions(windows: list[list[int]]) -> str:
    return ",".join(str(t) for t in range(max(len(w) for w in windows)))


@pytest.mark.parametrize("fmt", ["gguf", "hf"])
@pytest.mark.parametrize("fam", FAMILIES)
def test_against_golden(fam, fmt, forward_tool, models, tmp_path):
    g = load_golden(fam)
    wins = [w["tokens"] for w in g["windows"]]
    out = run_tool(forward_tool, model_path(models, fam, fmt), wins, tmp_path,
                   "--hidden", "--full", "--positions", all_positions(wins))
    d_nll = d_lp = d_hid = d_self = 0.0
    for gw, ow in zip(g["windows"], out):
        assert ow["tokens"] == gw["tokens"]
        d_nll = max(d_nll, np.abs(np.array(ow["nll"]) - gw["nll"]).max())
        for t, lp in gw["logprobs"].items():
            d_lp = max(d_lp, np.abs(np.array(ow["at"][t]["logprobs"]) - lp).max())
        gh = np.array(gw["hidden_norms"])
        d_hid = max(d_hid, (np.abs(np.array(ow["hidden"]) - gh) / gh).max())
        # the tool's own full softmax agrees with the chunked head
        tgt = [ow["at"][str(t)]["target"] for t in range(len(gw["tokens"]) - 1)]
        d_self = max(d_self, np.abs(np.array(tgt) + ow["nll"]).max())
    ok = "OK" if max(d_nll, d_lp) < LOGPROB_TOL and d_hid < HIDDEN_REL_TOL else "FAIL"
    print(f"{fam} ({fmt}) vs golden: {ok}, nll maxdiff = {d_nll:.2e}, "
          f"log-prob maxdiff = {d_lp:.2e}, "
          f"hidden-norm max rel diff = {d_hid:.2e}, head vs full softmax = {d_self:.2e}")
    assert d_nll < LOGPROB_TOL and d_lp < LOGPROB_TOL
    assert d_hid < HIDDEN_REL_TOL
    assert d_self < 1e-5


@pytest.mark.parametrize("fam", FAMILIES)
def test_against_live_reference(fam, forward_tool, models, tmp_path):
    """Every log-prob at every position, and the golden file still what the
    reference computes."""
    g = load_golden(fam)
    ref = RefModel(model_path(models, fam, "hf"))
    wins = [w["tokens"] for w in g["windows"]]
    out = run_tool(forward_tool, model_path(models, fam, "gguf"), wins, tmp_path,
                   "--hidden", "--full", "--positions", all_positions(wins))
    d_gold = d_lp = 0.0
    for gw, ow in zip(g["windows"], out):
        r = ref.forward(gw["tokens"])
        T = len(gw["tokens"])
        nll = -r["logprobs"][np.arange(T - 1), gw["tokens"][1:]]
        hn = np.linalg.norm(r["hidden"], axis=-1)
        d_gold = max(d_gold, np.abs(nll - gw["nll"]).max(),
                     (np.abs(hn - gw["hidden_norms"]) / hn).max())
        for t, lp in gw["logprobs"].items():
            d_gold = max(d_gold, np.abs(r["logprobs"][int(t)] - lp).max())
        mine = np.array([ow["at"][str(t)]["logprobs"] for t in range(T)])
        d_lp = max(d_lp, np.abs(mine - r["logprobs"]).max())
    ok = "OK" if d_lp < LOGPROB_TOL else "FAIL"
    print(f"{fam}: live numpy vs golden maxdiff = {d_gold:.1e}; "
          f"mwanda vs live numpy, all log-probs: {ok}, maxdiff = {d_lp:.2e}")
    assert d_gold < GOLDEN_TOL, "golden file out of date: rerun scripts/gen_forward_golden.py"
    assert d_lp < LOGPROB_TOL


def eval_nll(mwanda: Path, model: Path, ids: list[int], ctx: int, tmp: Path) -> tuple[int, float]:
    f = tmp / "ids.txt"
    f.write_text(" ".join(map(str, ids)) + "\n")
    out = tmp / "eval.json"
    r = subprocess.run([str(mwanda), "eval", str(model), "--tokens", str(f), "--ctx", str(ctx),
                        "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())["languages"]["tokens"]
    return int(res["tokens"]), float(res["nll"])


@pytest.mark.parametrize("fmt", ["gguf", "hf"])
@pytest.mark.parametrize("fam", FAMILIES)
def test_eval_matches(fam, fmt, mwanda_bin, models, tmp_path):
    """`mwanda eval` (plain windows of 24, the 13-token one padded) sums the
    golden NLLs. A GGUF of a SentencePiece family adds BOS itself, so it gets
    the text after each window's BOS; a Hugging Face folder adds none, so it
    gets the windows as they are (BOS included, not scored)."""
    g = load_golden(fam)
    wins = [w["tokens"] for w in g["windows"]]
    root, manifest = models
    info = manifest["families"][fam]
    auto_bos = fmt == "gguf" and info["tokenizer_model"] == "llama"
    ids = [t for w in wins for t in (w[1:] if auto_bos else w)]
    n, nll = eval_nll(mwanda_bin, model_path(models, fam, fmt), ids, len(wins[0]), tmp_path)
    want = sum(sum(w["nll"]) for w in g["windows"])
    print(f"{fam} ({fmt}): eval scored {n}, nll {nll:.6f}, golden {want:.6f}, "
          f"diff {abs(nll - want):.1e}")
    assert n == sum(len(w) - 1 for w in wins)
    assert abs(nll - want) < LOGPROB_TOL * n


def test_windows_reach_past_the_sliding_window(models):
    """The gemma3 windows are long enough for the local blocks' window to
    matter: without it the reference moves far beyond the tolerance."""
    g = load_golden("gemma3")
    ref = RefModel(model_path(models, "gemma3", "hf"))
    window = g["sliding_window"]
    assert window < min(len(w["tokens"]) for w in g["windows"])
    ref.cfg["sliding_window"] = 10**6
    ids = g["windows"][0]["tokens"]
    lp = ref.forward(ids)["logprobs"]
    nll = -lp[np.arange(len(ids) - 1), ids[1:]]
    d = np.abs(nll - g["windows"][0]["nll"])
    print(f"gemma3 without its window: max nll change {d[window:].max():.2e} past position "
          f"{window}, {d[:window].max():.1e} before it")
    assert d[:window].max() < GOLDEN_TOL
    assert d[window:].max() > 100 * LOGPROB_TOL
