"""The forward pass on windows longer than one attention unit, and the
hyperparameters of the larger Gemma 3 models, against the numpy reference.

mwanda computes attention in units of 64 query rows (the query heads of a
KV head stacked), each with the keys it can see: windows of 150 tokens make
several units, and with gemma3's sliding window of 8 the units' key ranges
start past 0. test_forward_ref.py's windows (24 tokens) fit in one unit.

Larger Gemma 3 models set two things the 270M model leaves at their
defaults: query_pre_attn_scalar (the 27B model: hidden / heads instead of
head_dim) and linear RoPE scaling of the global layers (factor 8 from 4B
up). scripts/make_tiny_models.py writes them into both files (config.json:
query_pre_attn_scalar, rope_scaling; GGUF: attention.scale,
rope.scaling.type/factor, rope.freq_base_swa for the local base), and
mwanda must read and apply them from both, and keep them through convert.

Tolerances as in test_forward_ref.py: log-probs within 3e-5 (measured: a
few 1e-6); leaving out a hyperparameter moves them by far more (checked
here, so that the comparison can fail).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SOURCE_DIR, make_tiny

sys.path.insert(0, str(SOURCE_DIR / "scripts"))
from ref_forward import RefModel  # noqa: E402

LOGPROB_TOL = 3e-5
# the golden files' models (scripts/gen_forward_golden.py)
BASE_ARGS = ["--seed", "1234", "--type", "f32", "--sliding-window", "8"]
# a 27B-like attention scale, Gemma 3 4B+'s global RoPE scaling, another local base
GEMMA_ARGS = ["--attn-scalar", "20", "--rope-scaling", "8", "--rope-local-theta", "500"]


@pytest.fixture(scope="module")
def forward_tool() -> Path:
    t = os.environ.get("MWANDA_FORWARD_TOOL")
    if not t:
        pytest.fail("MWANDA_FORWARD_TOOL is not set: run through ctest, or set it to "
                    "build/tests/mw-forward-tool")
    return Path(t)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-plain")
    return root, make_tiny(root, *BASE_ARGS)


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-scaled")
    return root, make_tiny(root, *BASE_ARGS, *GEMMA_ARGS, "--family", "gemma3",
                           "--family", "llama")


def windows(info: dict, lengths=(150, 70)) -> list[list[int]]:
    rng = np.random.default_rng([7, len(lengths)])
    out = []
    for T in lengths:
        ids = rng.integers(0, info["n_vocab"], size=T).tolist()
        if info["tokenizer_model"] == "llama":
            ids[0] = info["bos"]
        out.append(ids)
    return out


def mwanda_nll(tool: Path, model: Path, wins: list[list[int]], tmp: Path) -> list[np.ndarray]:
    f = tmp / "windows.txt"
    f.write_text("".join(" ".join(map(str, w)) + "\n" for w in wins))
    r = subprocess.run([str(tool), str(model), str(f)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return [np.array(w["nll"]) for w in json.loads(r.stdout)["windows"]]


def ref_nll(ref: RefModel, wins: list[list[int]]) -> list[np.ndarray]:
    out = []
    for ids in wins:
        lp = ref.forward(ids)["logprobs"]
        out.append(-lp[np.arange(len(ids) - 1), ids[1:]])
    return out


def maxdiff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b))


@pytest.mark.parametrize("fam", ["llama", "qwen2", "qwen3", "gemma3"])
def test_long_windows(fam, forward_tool, plain, tmp_path):
    root, manifest = plain
    info = manifest["families"][fam]
    wins = windows(info)
    want = ref_nll(RefModel(root / info["hf"]), wins)
    for fmt in ("gguf", "hf"):
        got = mwanda_nll(forward_tool, root / info[fmt], wins, tmp_path)
        d = maxdiff(got, want)
        print(f"{fam} ({fmt}), windows of 150 and 70 tokens: nll maxdiff {d:.2e}")
        assert d < LOGPROB_TOL


@pytest.mark.parametrize("fam", ["gemma3", "llama"])
def test_scaled_hparams(fam, forward_tool, scaled, tmp_path):
    root, manifest = scaled
    info = manifest["families"][fam]
    wins = windows(info, (150,))
    ref = RefModel(root / info["hf"])
    want = ref_nll(ref, wins)
    for fmt in ("gguf", "hf"):
        got = mwanda_nll(forward_tool, root / info[fmt], wins, tmp_path)
        d = maxdiff(got, want)
        print(f"{fam} ({fmt}) made with {' '.join(GEMMA_ARGS)}: nll maxdiff {d:.2e}")
        assert d < LOGPROB_TOL
    # each hyperparameter matters on these windows
    changes = {"rope_factor": 1.0}
    if fam == "gemma3":
        changes.update(scale=info["head_dim"] ** -0.5, local_theta=10000.0)
    for attr, default in changes.items():
        kept = getattr(ref, attr)
        setattr(ref, attr, default)
        d = maxdiff(ref_nll(ref, wins), want)
        setattr(ref, attr, kept)
        print(f"{fam}: without {attr} the reference moves by {d:.1e}")
        assert d > 100 * LOGPROB_TOL


def inspect(mwanda: Path, model: Path) -> dict:
    r = subprocess.run([str(mwanda), "inspect", str(model), "--json"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["hparams"]


def test_convert_keeps_them(mwanda_bin, scaled, tmp_path):
    root, manifest = scaled
    info = manifest["families"]["gemma3"]
    want = {"attn_scale": 20 ** -0.5, "rope_scale": 8.0, "rope_base_local": 500.0}
    src_gguf, src_hf = root / info["gguf"], root / info["hf"]
    to_hf, to_gguf = tmp_path / "hf", tmp_path / "m.gguf"
    for args in ([src_gguf, to_hf], [src_hf, to_gguf]):
        r = subprocess.run([str(mwanda_bin), "convert", *map(str, args)], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    cfg = json.loads((to_hf / "config.json").read_text())
    assert cfg["query_pre_attn_scalar"] == 20
    assert cfg["rope_scaling"] == {"rope_type": "linear", "factor": 8.0}
    assert cfg["rope_local_base_freq"] == 500.0
    for model in (src_gguf, src_hf, to_hf, to_gguf):
        hp = inspect(mwanda_bin, model)
        for k, v in want.items():
            assert hp[k] == pytest.approx(v, rel=1e-6), f"{model.name}: {k}"
