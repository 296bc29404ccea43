"""llama.cpp's own tools load what mwanda writes.

For each default model, our F32 conversion must hold the same numbers as
llama.cpp's (`llama-quantize --allow-requantize IN OUT F32`), and
llama-perplexity must run on it and give the same perplexity as on
llama.cpp's copy. The GGUF -> Hugging Face -> GGUF round trip must load too.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader

TEXT = """\
All human beings are born free and equal in dignity and rights. They are endowed with reason
and conscience and should act towards one another in a spirit of brotherhood.
Alle Menschen sind frei und gleich an Würde und Rechten geboren. Sie sind mit Vernunft und
Gewissen begabt und sollen einander im Geist der Brüderlichkeit begegnen.
Tous les êtres humains naissent libres et égaux en dignité et en droits. Ils sont doués de raison
et de conscience et doivent agir les uns envers les autres dans un esprit de fraternité.
Todos los seres humanos nacen libres e iguales en dignidad y derechos y, dotados como están de
razón y conciencia, deben comportarse fraternalmente los unos con los otros.
Все люди рождаются свободными и равными в своем достоинстве и правах. Они наделены разумом и
совестью и должны поступать в отношении друг друга в духе братства.
人人生而自由，在尊严和权利上一律平等。他们赋有理性和良心，并应以兄弟关系的精神相对待。
جميع الناس يولدون أحرارًا متساوين في الكرامة والحقوق. وقد وهبوا عقلاً وضميرًا وعليهم أن يعامل بعضهم بعضًا بروح الإخاء.
सभी मनुष्यों को गौरव और अधिकारों के मामले में जन्मजात स्वतन्त्रता और समानता प्राप्त है।
Kila mtu amezaliwa huru, hadhi na haki zake ni sawa. Wote wamejaliwa akili na dhamiri,
hivyo yapasa watendeane kindugu.
"""


def perplexity(bin_dir: Path, model: Path, text: Path) -> float:
    r = subprocess.run([str(bin_dir / "llama-perplexity"), "-m", str(model), "-f", str(text),
                        "-c", "64", "--chunks", "4", "-t", "2", "--no-escape", "-b", "64"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    m = re.search(r"Final estimate: PPL = ([0-9.]+)", r.stdout + r.stderr)
    assert m, (r.stdout + r.stderr)[-2000:]
    return float(m.group(1))


def convert(mwanda_bin, *args):
    r = subprocess.run([str(mwanda_bin), "convert", *map(str, args)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("alias", ["gemma3-270m", "smollm2-135m"])
def test_f32_conversion_equals_llamacpp(mwanda_bin, real_models, llamacpp_bin, tmp_path, alias):
    text = tmp_path / "text.txt"
    text.write_text(TEXT * 3, encoding="utf-8")
    ours, theirs = tmp_path / "ours.gguf", tmp_path / "theirs.gguf"
    convert(mwanda_bin, alias, ours)
    r = subprocess.run([str(llamacpp_bin / "llama-quantize"), "--allow-requantize",
                        str(real_models[alias]), str(theirs), "F32"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    a = {t.name: t for t in GGUFReader(ours).tensors}
    b = {t.name: t for t in GGUFReader(theirs).tensors}
    assert sorted(a) == sorted(b)
    for name, t in a.items():
        assert np.array_equal(np.asarray(t.data), np.asarray(b[name].data)), name
    print(f"{alias}: {len(a)} tensors identical to llama-quantize's F32 copy")
    p_ours, p_theirs = perplexity(llamacpp_bin, ours, text), perplexity(llamacpp_bin, theirs, text)
    print(f"{alias}: llama-perplexity ours {p_ours} vs llama.cpp's F32 copy {p_theirs}")
    assert p_ours == p_theirs


def test_round_trip_through_hf_loads(mwanda_bin, real_models, llamacpp_bin, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text(TEXT * 3, encoding="utf-8")
    convert(mwanda_bin, "gemma3-270m", tmp_path / "hf", "--type", "bf16")
    convert(mwanda_bin, tmp_path / "hf", tmp_path / "back.gguf")
    p_back = perplexity(llamacpp_bin, tmp_path / "back.gguf", text)
    p_orig = perplexity(llamacpp_bin, real_models["gemma3-270m"], text)
    print(f"gemma3-270m: ppl {p_orig} (Q4_K_M) vs {p_back} (via HF in bf16)")
    assert abs(p_back - p_orig) / p_orig < 0.05
