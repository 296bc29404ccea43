"""mwanda eval --tasks: multiple-choice scoring.

  * tiny models: every choice's log-likelihood against the float64 numpy
    reference (scripts/ref_forward.py) on the token ids mwanda reports, with
    and without left truncation; for the byte-level BPE families the split
    between context and choice against lm-evaluation-harness's _encode_pair
    redone in Python with the `tokenizers` package;
  * the default real models on tests/data/tasks/mini.jsonl (24 hand-written
    items in 4 languages): accuracy well above chance, each choice's
    log-likelihood equal to what `mwanda eval --tokens` gives for the same
    ids (nll(context + choice) - nll(context)), and llama-perplexity
    --multiple-choice on the F32 copy of SmolLM2 picking the same choices;
  * bad files: one error line naming the line, nothing written.

The choices of an item run as one packed window (the shared context once);
the numpy reference runs each choice as its own sequence, so the agreement
checks the packing (positions, masks, sliding windows) too.

Tolerance against numpy: the forward tests measure log-probs within 5e-6 on
these models (f32 against f64); a sum over at most a dozen tokens stays
within 1e-4.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SOURCE_DIR

sys.path.insert(0, str(SOURCE_DIR / "scripts"))
from ref_forward import RefModel  # noqa: E402

MINI = SOURCE_DIR / "tests" / "data" / "tasks" / "mini.jsonl"
FAMILIES = ["llama", "qwen2", "qwen3", "gemma3"]
LL_TOL = 1e-4

# Items for the tiny models: trailing whitespace of several kinds (moved to
# the choice), an empty context, non-ASCII text, a tie-prone pair.
TINY_ITEMS = [
    {"lang": "en", "context": "the cat sat on the", "choices": [" mat", " hat and", " dog"],
     "label": 0},
    {"lang": "en", "context": "a b c ", "choices": ["d", "e f", "d e f g"], "label": 1},
    {"lang": "en", "context": "line one\n", "choices": ["two", " three\n"], "label": 0},
    {"lang": "xx", "context": "x\u00a0", "choices": ["yz", "zz", "\u3000y"], "label": 2},
    {"lang": "xx", "context": "", "choices": ["hello", "world!"], "label": 1},
    {"lang": "en", "context": "one two three four five six seven eight nine ten eleven twelve",
     "choices": [" thirteen", " zero"], "label": 0},
    {"lang": "fr", "task": "t", "context": "\u00e9t\u00e9 et", "choices": [" \u00e0 la", " \u00fc"],
     "label": 0},
    # longer than the tiny Gemma's sliding window (32), choices sharing their
    # first words: the packed window's positions and prefix rows scored for
    # several choices
    {"lang": "en", "context": "the quick brown fox jumps over the lazy dog while the small "
     "bird sings a long song about the river that runs past the old mill, and the farmer "
     "who owns the mill counts his sheep one by one as the sun goes down behind the hills "
     "of the quiet valley where nothing much has happened for a hundred years, until",
     "choices": [" the old mill again", " the old bridge", " a new song"], "label": 0},
]


def run(mwanda_bin, *args):
    return subprocess.run([str(mwanda_bin), *map(str, args)], capture_output=True, text=True)


def write_jsonl(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items),
                    encoding="utf-8")
    return path


def score(mwanda_bin, model, tasks: Path, tmp: Path, *extra) -> tuple[dict, list[dict]]:
    out, items = tmp / "r.json", tmp / "items.json"
    r = run(mwanda_bin, "eval", model, "--tasks", tasks, "--json", out, "--items", items,
            "--threads", "2", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(out.read_text()), json.loads(items.read_text())


def encode_pair(tok, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """lm-evaluation-harness's HFLM._encode_pair (decoder-only models)."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = tok.encode(context + continuation, add_special_tokens=False).ids
    ctx = tok.encode(context, add_special_tokens=False).ids
    return ctx, whole[len(ctx):]


def ref_ll(ref: RefModel, ids: list[int], n_cont: int, start: int) -> float:
    """Sum of log P of the last n_cont ids, the model seeing ids[start:]."""
    seq = ids[start:]
    lp = ref.forward(seq)["logprobs"]
    n = len(seq)
    return float(sum(lp[j - 1, seq[j]] for j in range(n - n_cont, n)))


def check_against_ref(ref, items_out, ctx_limit=None):
    worst = 0.0
    for it in items_out:
        ll = []
        for c, cont in enumerate(it["choice_ids"]):
            ids = it["context_ids"] + cont
            start = it["start"][c]
            want_start = max(0, len(ids) - 1 - ctx_limit) if ctx_limit else 0
            assert start == want_start, (it["line"], c, start, want_start)
            ll.append(ref_ll(ref, ids, len(cont), start))
        diff = np.abs(np.array(ll) - np.array(it["ll"]))
        worst = max(worst, float(diff.max()))
        assert diff.max() < LL_TOL, (it["line"], ll, it["ll"])
        # predictions follow from the log-likelihoods (ties: the first)
        ours = np.array(it["ll"])
        assert it["pred"] == int(np.argmax(ours))
        assert it["pred_norm"] == int(np.argmax(ours / np.array(it["bytes"])))
        if np.sort(ll)[-1] - np.sort(ll)[-2] > 2 * LL_TOL:
            assert it["pred"] == int(np.argmax(ll))
    return worst


@pytest.mark.parametrize("fam", FAMILIES)
def test_tiny_against_numpy(fam, mwanda_bin, tiny_models, tmp_path):
    tasks = write_jsonl(tmp_path / "t.jsonl", TINY_ITEMS)
    res, items = score(mwanda_bin, tiny_models.gguf(fam), tasks, tmp_path)
    ref = RefModel(tiny_models.hf(fam))
    worst = check_against_ref(ref, items)
    print(f"{fam}: max |ll - numpy| = {worst:.2e}")
    assert [it["line"] for it in items] == list(range(1, len(TINY_ITEMS) + 1))
    # every choice scores at least one token; a context scores none
    for it, src in zip(items, TINY_ITEMS):
        assert all(len(c) >= 1 for c in it["choice_ids"])
        assert it["bytes"] == [len(c.encode()) for c in src["choices"]]
    # the summary counts what the items say
    # named tasks nest their languages: {"en": .., "xx": .., "t": {"fr": ..}}
    groups = {f"t/{k}": v for k, v in res["tasks"].pop("t").items()} | res["tasks"]
    assert set(groups) == {"en", "xx", "t/fr"}
    for key, g in groups.items():
        mine = [it for it in items if (f"{it['task']}/" if it["task"] else "") + it["lang"] == key]
        assert g["n"] == len(mine)
        assert g["correct"] == sum(it["pred"] == it["label"] for it in mine)
        assert g["correct_norm"] == sum(it["pred_norm"] == it["label"] for it in mine)
        assert g["acc"] == g["correct"] / g["n"]
        assert g["ci95"][0] <= g["acc"] <= g["ci95"][1]

    # left truncation: the model sees the last --ctx tokens before the final one
    ctx = max(len(c) for it in items for c in it["choice_ids"]) + 1
    lengths = [len(it["context_ids"]) + len(c) for it in items for c in it["choice_ids"]]
    res, items = score(mwanda_bin, tiny_models.gguf(fam), tasks, tmp_path, "--ctx", ctx)
    assert res["truncated"] == sum(n - 1 > ctx for n in lengths) > 0
    check_against_ref(ref, items, ctx_limit=ctx)


@pytest.mark.parametrize("fam", ["qwen2", "qwen3"])
def test_split_as_lm_eval(fam, mwanda_bin, tiny_models, tmp_path):
    """The context/choice split of lm-evaluation-harness, on a tokenizer.json
    read by Hugging Face tokenizers (trailing whitespace moved to the
    choice; the choice's tokens are those of the whole past the context)."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(tiny_models.hf(fam) / "tokenizer.json"))
    tasks = write_jsonl(tmp_path / "t.jsonl", TINY_ITEMS)
    _, items = score(mwanda_bin, tiny_models.gguf(fam), tasks, tmp_path)
    for it, src in zip(items, TINY_ITEMS):
        for c, choice in enumerate(src["choices"]):
            ctx, cont = encode_pair(tok, src["context"], choice)
            lead = it["context_ids"][:len(it["context_ids"]) - len(ctx)]
            assert it["context_ids"][len(lead):] == ctx, (src, c)
            assert it["choice_ids"][c] == cont, (src, c)
            # a prefix token only where the model adds BOS or the context is empty
            assert len(lead) == (1 if not ctx else len(lead)) and len(lead) <= 1


def eval_tokens_nll(mwanda_bin, model, ids: list[int], tmp: Path) -> float:
    f, out = tmp / "ids.txt", tmp / "ids.json"
    f.write_text(" ".join(map(str, ids)) + "\n")
    r = run(mwanda_bin, "eval", model, "--tokens", f, "--ctx", "64", "--json", out)
    assert r.returncode == 0, r.stderr
    return json.loads(out.read_text())["languages"]["tokens"]["nll"]


@pytest.mark.parametrize("alias", ["gemma3-270m", "smollm2-135m"])
def test_real_model(alias, mwanda_bin, real_models, tmp_path):
    res, items = score(mwanda_bin, alias, MINI, tmp_path)
    assert len(items) == 24
    chance = np.mean([1 / len(it["ll"]) for it in items])
    acc = np.mean([it["pred"] == it["label"] for it in items])
    print(f"{alias}: acc {acc:.3f} (chance {chance:.3f}), macro "
          + ", ".join(f"{k} {v['acc']:.3f}/{v['acc_norm']:.3f}" for k, v in res["macro"].items()))
    assert acc > chance + 0.2
    assert set(res["macro"]) == {"cloze", "fact"}
    assert {t: set(v) for t, v in res["tasks"].items()} == {
        t: {"de", "en", "es", "fr"} for t in ("cloze", "fact")}
    # a choice's log-likelihood is what plain perplexity scoring gives the
    # same ids: nll(context + choice) - nll(context), BOS added by eval itself
    bos = 1 if alias == "gemma3-270m" else 0
    worst = 0.0
    for it in items[::8]:
        ctx = it["context_ids"][bos:]
        base = eval_tokens_nll(mwanda_bin, alias, ctx, tmp_path)
        for c, cont in enumerate(it["choice_ids"]):
            whole = eval_tokens_nll(mwanda_bin, alias, ctx + cont, tmp_path)
            d = abs((base - whole) - it["ll"][c])
            worst = max(worst, d)
            assert d < 5e-4, (it["id"], c, base - whole, it["ll"][c])
    print(f"{alias}: max |ll - (nll(ctx) - nll(ctx+choice))| = {worst:.2e}")


def llamacpp_mc_file(items: list[dict], path: Path) -> None:
    """llama-perplexity's --multiple-choice binary: u32 task count, u32
    offsets, then per task the question and (answers, labels) twice, the
    second set empty; strings are u32 length + bytes."""
    def s(x: str) -> bytes:
        b = x.encode()
        return struct.pack("<I", len(b)) + b
    tasks = []
    for it in items:
        answers = [c[1:] for c in it["choices"]]  # llama.cpp joins with " "
        labels = [int(i == it["label"]) for i in range(len(answers))]
        tasks.append(s(it["context"]) + struct.pack("<I", len(answers)) +
                     b"".join(s(a) for a in answers) + struct.pack(f"<{len(labels)}i", *labels) +
                     struct.pack("<I", 0))
    head = 4 + 4 * len(tasks)
    offs, pos = [], head
    for t in tasks:
        offs.append(pos)
        pos += len(t)
    path.write_bytes(struct.pack("<I", len(tasks)) + struct.pack(f"<{len(offs)}I", *offs) +
                     b"".join(tasks))


def test_llamacpp_multiple_choice(mwanda_bin, real_models, llamacpp_bin, tmp_path):
    """llama-perplexity --multiple-choice scores a task by the mean log-prob
    of the tokens after the choices' common prefix. On items whose choices
    differ from their first token, that prefix is our context, so its pick
    is the argmax of our ll / choice tokens: compare item by item."""
    src = [json.loads(line) for line in MINI.read_text(encoding="utf-8").splitlines()]
    assert all(c.startswith(" ") for it in src for c in it["choices"])
    _, items = score(mwanda_bin, "smollm2-135m", MINI, tmp_path)
    f32 = tmp_path / "f32.gguf"
    r = run(mwanda_bin, "convert", "smollm2-135m", f32)
    assert r.returncode == 0, r.stderr
    mc = tmp_path / "mc.bin"
    llamacpp_mc_file(src, mc)
    r = subprocess.run([str(llamacpp_bin / "llama-perplexity"), "-m", str(f32), "-bf", str(mc),
                        "--multiple-choice", "-c", "128", "-t", "2", "--no-escape"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    acc = [float(m.group(2)) for m in re.finditer(r"^(\d+)\t([0-9.]+)$", r.stdout + r.stderr,
                                                   re.M)]
    assert len(acc) == len(src), (r.stdout + r.stderr)[-2000:]
    n_right = [round(a * (i + 1) / 100) for i, a in enumerate(acc)]
    theirs = [n_right[0] == 1] + [n_right[i] > n_right[i - 1] for i in range(1, len(acc))]
    compared = 0
    for it, right in zip(items, theirs):
        firsts = {tuple(c[:1]) for c in it["choice_ids"]}
        if len(firsts) == 1:
            continue  # llama.cpp's common prefix reaches into the choices
        mean = np.array(it["ll"]) / np.array([len(c) for c in it["choice_ids"]])
        top = np.sort(mean)
        if top[-1] - top[-2] < 1e-3:
            continue  # too close to call between f32 implementations
        assert (int(np.argmax(mean)) == it["label"]) == right, it["id"]
        compared += 1
    print(f"llama-perplexity --multiple-choice: {compared} of {len(items)} items compared, "
          f"its accuracy {acc[-1]:.2f}%")
    assert compared >= 20


BAD = [
    ("empty", b"", "no items"),
    ("json", b'{"lang": "de", "context": "a", "choices": ["b", "c"], "label": 0}\n\n{"lang": ',
     ":3: bad JSON"),
    ("label", b'{"lang": "de", "context": "a", "choices": ["b", "c"], "label": 2}\n',
     ":1: \"label\" 2 is not a choice"),
    ("utf8", b'{"lang": "de", "context": "a\xc3\x28", "choices": ["b", "c"], "label": 0}\n',
     ":1: not valid UTF-8"),
    ("missing", b'{"lang": "de", "choices": ["b", "c"], "label": 0}\n', "missing \"context\""),
    ("one", b'{"lang": "de", "context": "a", "choices": ["b"], "label": 0}\n',
     "2 to 1000 strings"),
]


def test_bad_files(mwanda_bin, real_models, tmp_path):
    for name, data, expect in BAD:
        f = tmp_path / f"{name}.jsonl"
        f.write_bytes(data)
        out = tmp_path / f"{name}.json"
        r = run(mwanda_bin, "eval", "smollm2-135m", "--tasks", f, "--json", out)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1, (name, r.stderr)
        assert lines[0].startswith("mwanda: error: ") and expect in lines[0], (name, lines)
        assert str(f) in lines[0]
        assert not out.exists() and not list(tmp_path.glob("*.tmp-*"))
    good = write_jsonl(tmp_path / "good.jsonl", TINY_ITEMS[:1])
    r = run(mwanda_bin, "eval", "smollm2-135m", "--tasks", tmp_path / "missing.jsonl")
    assert r.returncode == 1 and "missing.jsonl" in r.stderr
    # a choice longer than the window
    long = write_jsonl(tmp_path / "long.jsonl", [{"lang": "en", "context": "Then", "choices": [
        " they all went home together, happy and tired", " no"], "label": 0}])
    r = run(mwanda_bin, "eval", "smollm2-135m", "--tasks", long, "--ctx", "4")
    assert r.returncode == 1 and "more than the window" in r.stderr, r.stderr
    # --langs that match nothing
    r = run(mwanda_bin, "eval", "smollm2-135m", "--tasks", good, "--langs", "zz")
    assert r.returncode == 1 and r.stderr.startswith("mwanda: error: no items")
    for args in (["--ctx", "1"], ["--limit", "0"], ["--threads", "x"], ["--text", "d"]):
        r = run(mwanda_bin, "eval", "smollm2-135m", "--tasks", good, *args)
        assert r.returncode == 2, (args, r.stderr)


def test_limit_langs_and_files(mwanda_bin, real_models, tmp_path):
    """--langs and --limit select items; a second file without task fields
    becomes a task named after the file."""
    plain = write_jsonl(tmp_path / "extra.jsonl",
                        [{k: v for k, v in it.items() if k != "task"} for it in TINY_ITEMS[:2]])
    out = tmp_path / "r.json"
    r = run(mwanda_bin, "eval", "smollm2-135m", "--tasks", MINI, "--tasks", plain, "--langs",
            "en,de", "--limit", "2", "--json", out)
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    assert {(t, l): v["n"] for t, langs in res["tasks"].items() for l, v in langs.items()} == {
        ("cloze", "de"): 2, ("cloze", "en"): 2, ("fact", "de"): 2, ("fact", "en"): 2,
        ("extra", "en"): 2}
    assert "| extra | en | 2 |" in r.stdout


def test_many_long_choices(mwanda_bin, tiny_models, tmp_path):
    """An item whose choices would pack into more than 8192 tokens runs as
    several packed windows; every choice still equals the numpy reference."""
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    choices = [" " + " ".join(words[(i + j) % len(words)] for j in range(8 + i % 3))
               for i in range(240)]
    item = {"lang": "en", "context": "pick one:", "choices": choices, "label": 3}
    tasks = write_jsonl(tmp_path / "t.jsonl", [item])
    _, items = score(mwanda_bin, tiny_models.gguf("llama"), tasks, tmp_path, "--ctx", 64)
    lengths = [len(items[0]["context_ids"]) + len(c) for c in items[0]["choice_ids"]]
    assert sum(min(n - 1, 64) for n in lengths) > 8192  # more than one window's worth
    check_against_ref(RefModel(tiny_models.hf("llama")), items, ctx_limit=64)
