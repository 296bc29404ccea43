"""--mem: activations beyond the budget go to a temporary file, and the
results are the same bytes as with everything in RAM (calibrate and prune,
tiny models of several families and the default models with a few windows);
the file is never left behind; a budget below one group of windows is a
one-line error.
"""

from __future__ import annotations

import subprocess

import pytest

# Long enough for several windows of 1024 tokens per language with the tiny
# models' byte-level vocabularies.
TEXTS = {
    "de": "Alle Menschen sind frei und gleich an Würde und Rechten geboren. Sie sind mit "
          "Vernunft und Gewissen begabt und sollen einander im Geist der Brüderlichkeit "
          "begegnen. ",
    "ru": "Все люди рождаются свободными и равными в своем достоинстве и правах. Они "
          "наделены разумом и совестью и должны поступать в отношении друг друга в духе "
          "братства. ",
}


def run(bin_, *args, ok=True, env=None):
    r = subprocess.run([str(bin_), *map(str, args)], capture_output=True, text=True, env=env)
    if ok and r.returncode != 0:
        pytest.fail(f"mwanda {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stderr}")
    return r


@pytest.fixture(scope="module")
def text_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("text")
    for lang, t in TEXTS.items():
        (d / f"{lang}.txt").write_text(t * 150, encoding="utf-8")
    return d


@pytest.fixture()
def spill_env(tmp_path, monkeypatch):
    """TMPDIR pointing at an empty folder, checked empty afterwards."""
    d = tmp_path / "spill"
    d.mkdir()
    monkeypatch.setenv("TMPDIR", str(d))
    yield d
    assert list(d.iterdir()) == [], "a spill file was left behind"


# Tiny models, E = 64: a window of 1024 tokens takes 256 KiB, a group of 8
# windows 2 MiB, and the 18 windows of two languages 4.7 MB in three groups
# (8, 8, 2). 2.2M keeps no window in RAM; 4.5M keeps the first group there.
CALIB = ("--samples", "9", "--ctx", "1024")


@pytest.mark.parametrize("family,method", [("llama", "mwanda"), ("gemma3", "wanda")])
def test_prune_same_bytes(mwanda_bin, tiny_models, text_dir, tmp_path, spill_env, family,
                          method):
    model = tiny_models.gguf(family)
    ref = tmp_path / "ref.gguf"
    run(mwanda_bin, "prune", model, "--method", method, "--text", text_dir, *CALIB, "-o", ref,
        "--json", tmp_path / "ref.json")
    for mem in ("2.2M", "4.5M"):
        out = tmp_path / f"mem{mem}.gguf"
        run(mwanda_bin, "prune", model, "--method", method, "--text", text_dir, *CALIB,
            "--mem", mem, "-o", out, "--json", tmp_path / "mem.json")
        assert out.read_bytes() == ref.read_bytes(), f"--mem {mem} changed the output"


@pytest.mark.parametrize("family", ["gemma3"])
def test_calibrate_same_bytes(mwanda_bin, tiny_models, text_dir, tmp_path, spill_env, family):
    model = tiny_models.gguf(family)
    ref = tmp_path / "ref.gguf"
    run(mwanda_bin, "calibrate", model, "--text", text_dir, *CALIB, "-o", ref)
    for mem in ("2.1M", "4.5M"):
        out = tmp_path / f"mem{mem}.gguf"
        run(mwanda_bin, "calibrate", model, "--text", text_dir, *CALIB, "--mem", mem, "-o", out)
        assert out.read_bytes() == ref.read_bytes(), f"--mem {mem} changed the statistics"


def test_folder_output_same_bytes(mwanda_bin, tiny_models, text_dir, tmp_path, spill_env):
    model = tiny_models.hf("qwen3")
    ref, out = tmp_path / "ref", tmp_path / "mem"
    run(mwanda_bin, "prune", model, "--method", "wanda", "--text", text_dir, *CALIB, "-o", ref)
    run(mwanda_bin, "prune", model, "--method", "wanda", "--text", text_dir, *CALIB,
        "--mem", "2.2M", "-o", out)
    names = sorted(p.name for p in ref.iterdir())
    assert names == sorted(p.name for p in out.iterdir())
    for n in names:
        assert (ref / n).read_bytes() == (out / n).read_bytes(), n


def test_budget_below_one_group(mwanda_bin, tiny_models, text_dir, tmp_path, spill_env):
    out = tmp_path / "out.gguf"
    r = run(mwanda_bin, "prune", tiny_models.gguf("llama"), "--method", "wanda", "--text", text_dir,
            *CALIB, "--mem", "1M", "-o", out, ok=False)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert "memory budget of 1 MB is below the 2.1 MB that one group of 8 windows needs" in lines[-1]
    assert not out.exists()
    for bad in ("0", "lots", "-5G"):
        r = run(mwanda_bin, "calibrate", tiny_models.gguf("llama"), "--mem", bad, "-o", out,
                ok=False)
        assert r.returncode == 2 and "--mem" in r.stderr


def test_real_model_same_bytes(mwanda_bin, real_models, text_dir, tmp_path, spill_env):
    """A SmolLM2 prune with every window spilled."""
    # 2 languages x 2 windows of 128 tokens (E = 576): one group of 1.18 MB;
    # a budget under the activations plus a group keeps none of them in RAM.
    # (Calibration needs no copy of a group, so with one group it never
    # spills: its real-model check is in test_resume.py, whose activations
    # are all in the state's file.)
    calib = ("--text", text_dir, "--samples", "2", "--ctx", "128", "--type", "f16")
    ref, out = tmp_path / "ref.gguf", tmp_path / "mem.gguf"
    model = real_models["smollm2-135m"]
    run(mwanda_bin, "prune", model, "--method", "wanda", *calib, "-o", ref)
    run(mwanda_bin, "prune", model, "--method", "wanda", *calib, "--mem", "1.2M", "-o", out)
    assert out.read_bytes() == ref.read_bytes()
