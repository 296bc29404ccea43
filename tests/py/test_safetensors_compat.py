"""The safetensors reader and writer against the reference implementation
(the `safetensors` Python package): files it writes read back right through
mw-st-tool, and files our writer produces load in it with identical values."""

import hashlib
import json
import os
import struct
import subprocess

import numpy as np
import pytest
from safetensors import TensorSpec, deserialize, safe_open, serialize, serialize_file
from safetensors.numpy import load_file, save_file

TOOL = os.environ.get("MWANDA_ST_TOOL")
pytestmark = pytest.mark.skipif(not TOOL, reason="MWANDA_ST_TOOL is not set")

# numpy dtype -> the name mw_type_name gives (None: listed, but no mw_type)
MW_NAMES = {
    "float32": "F32", "float16": "F16", "float64": "F64", "int8": "I8", "int16": "I16",
    "int32": "I32", "int64": "I64", "uint8": None, "bool": None, "uint32": None,
}


def reference_arrays():
    rng = np.random.default_rng(7)
    return {
        "f32.vec": np.arange(7, dtype=np.float32) * 0.5,
        "f32.mat": rng.standard_normal((3, 5)).astype(np.float32),
        "f32.cube": rng.standard_normal((2, 3, 4)).astype(np.float32),
        "f32.four": rng.standard_normal((2, 1, 3, 2)).astype(np.float32),
        "f32.scalar": np.array(3.25, dtype=np.float32),
        "f32.empty": np.zeros((0, 4), dtype=np.float32),
        "f16.mat": rng.standard_normal((4, 6)).astype(np.float16),
        "f64.vec": rng.standard_normal(5),
        "i8.vec": np.arange(-5, 6, dtype=np.int8),
        "i16.mat": np.arange(12, dtype=np.int16).reshape(3, 4),
        "i32.vec": np.array([1, -2, 3], dtype=np.int32),
        "i64.vec": np.array([2**40, -1], dtype=np.int64),
        "u8.vec": np.arange(9, dtype=np.uint8),
        "bool.vec": np.array([True, False, True]),
        "u32.vec": np.array([7, 8], dtype=np.uint32),
        "emb.\u00e9t\u00e9": rng.standard_normal((2, 3)).astype(np.float32),
    }


def bf16_bits(shape, seed):
    """BF16 values as their 16-bit patterns (numpy has no bfloat16)."""
    f = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return np.array(f.view(np.uint32) >> 16, dtype=np.uint16)


def save_bf16(arrays, path, metadata=None):
    specs = {k: TensorSpec(dtype="bfloat16", shape=a.shape, data_ptr=a.ctypes.data,
                           data_len=a.nbytes) for k, a in arrays.items()}
    serialize_file(specs, str(path), metadata=metadata)


def sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def tool(*args, check=True):
    p = subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"mw-st-tool {args} failed: {p.stderr}")
    return p


def listing(path):
    return json.loads(tool("list", path).stdout)


def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return n, json.loads(f.read(n))


def offset_order(path):
    _, h = header(path)
    h.pop("__metadata__", None)
    return [k for k, _ in sorted(h.items(), key=lambda kv: (kv[1]["data_offsets"], kv[0]))]


def check_listed(entry, array, dtype_name):
    assert entry["dtype"] == dtype_name, entry
    assert entry["shape"] == list(array.shape), entry
    assert entry["n_bytes"] == array.nbytes, entry
    assert entry["sha256"] == sha(array), entry


def test_reads_numpy_files(tmp_path):
    arrays = reference_arrays()
    path = tmp_path / "ref.safetensors"
    save_file(arrays, str(path), metadata={"format": "np", "other": "x"})
    out = listing(path)
    assert out["format"] == "np"
    names = [t["name"] for t in out["tensors"]]
    assert names == offset_order(path)
    assert sorted(names) == sorted(arrays)
    for t in out["tensors"]:
        a = arrays[t["name"]]
        check_listed(t, a, MW_NAMES[a.dtype.name])


def test_reads_bf16(tmp_path):
    arrays = {"w": bf16_bits((3, 4), 1), "b": bf16_bits((4,), 2), "s": bf16_bits((), 3)}
    path = tmp_path / "bf16.safetensors"
    save_bf16(arrays, path)
    out = listing(path)
    assert out["format"] is None
    assert len(out["tensors"]) == 3
    for t in out["tensors"]:
        check_listed(t, arrays[t["name"]], "BF16")


def test_rejects_five_dims(tmp_path):
    path = tmp_path / "five.safetensors"
    save_file({"x": np.zeros((1, 2, 1, 2, 1), dtype=np.float32)}, str(path))
    p = tool("list", path, check=False)
    assert p.returncode == 1
    assert "5 dimensions" in p.stderr and "five.safetensors" in p.stderr


def write_sharded(folder, shards):
    """Shards written by the reference, with an index this test writes."""
    folder.mkdir()
    weight_map, total = {}, 0
    n = len(shards)
    for i, arrays in enumerate(shards):
        name = f"model-{i + 1:05d}-of-{n:05d}.safetensors"
        save_file(arrays, str(folder / name), metadata={"format": "pt"})
        for k, a in arrays.items():
            weight_map[k] = name
            total += a.nbytes
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))


def test_reads_sharded_folder(tmp_path):
    arrays = reference_arrays()
    keys = sorted(arrays)
    shards = [{k: arrays[k] for k in keys[i::3]} for i in range(3)]
    folder = tmp_path / "sharded"
    write_sharded(folder, shards)
    out = listing(folder)
    assert out["format"] == "pt"
    want_order = []
    for i in range(3):
        want_order += offset_order(folder / f"model-{i + 1:05d}-of-00003.safetensors")
    assert [t["name"] for t in out["tensors"]] == want_order
    for t in out["tensors"]:
        a = arrays[t["name"]]
        check_listed(t, a, MW_NAMES[a.dtype.name])

    # a weight_map entry pointing outside the folder is refused
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    index["weight_map"][keys[0]] = "../" + index["weight_map"][keys[0]]
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    p = tool("list", folder, check=False)
    assert p.returncode == 1 and "inside the folder" in p.stderr


def writable(arrays):
    return {k: a for k, a in arrays.items() if MW_NAMES[a.dtype.name]}


def check_loaded(loaded, arrays):
    assert sorted(loaded) == sorted(arrays)
    for k, a in arrays.items():
        assert loaded[k].dtype == a.dtype and loaded[k].shape == a.shape, k
        assert loaded[k].tobytes() == a.tobytes(), k


def test_writer_output_loads_in_reference(tmp_path):
    arrays = writable(reference_arrays())
    src = tmp_path / "src.safetensors"
    save_file(arrays, str(src))
    cfg = tmp_path / "config.json"
    cfg.write_text('{"model_type": "llama"}')
    out = tmp_path / "out"
    tool("copy", src, out, "--meta", "note=hello", "--file", f"config.json={cfg}")
    assert sorted(os.listdir(out)) == ["config.json", "model.safetensors"]
    assert (out / "config.json").read_text() == cfg.read_text()
    model = out / "model.safetensors"
    check_loaded(load_file(str(model)), arrays)
    with safe_open(str(model), framework="numpy") as f:
        assert f.metadata() == {"format": "pt", "note": "hello"}
    n, _ = header(model)
    assert n % 8 == 0  # data 8-aligned
    # the copy reads back identically through our reader too
    assert listing(model)["tensors"] == listing(src)["tensors"]


def test_writer_bf16_loads_in_reference(tmp_path):
    arrays = {"w": bf16_bits((5, 3), 4), "n": bf16_bits((3,), 5)}
    src = tmp_path / "bf16.safetensors"
    save_bf16(arrays, src)
    out = tmp_path / "out"
    tool("copy", src, out)
    got = dict(deserialize((out / "model.safetensors").read_bytes()))
    assert sorted(got) == sorted(arrays)
    for k, a in arrays.items():
        assert got[k]["dtype"] == "BF16" and list(got[k]["shape"]) == list(a.shape)
        assert bytes(got[k]["data"]) == a.tobytes()


def test_writer_shards_load_in_reference(tmp_path):
    rng = np.random.default_rng(3)
    arrays = {f"blk.{i}.w": rng.standard_normal((8, 8)).astype(np.float32) for i in range(5)}
    arrays["big"] = rng.standard_normal((40, 10)).astype(np.float32)  # 1600 bytes
    arrays["tiny"] = np.float32([1, 2])
    src = tmp_path / "src.safetensors"
    save_file(arrays, str(src))
    out = tmp_path / "out"
    limit = 600
    tool("copy", src, out, "--shard", limit)
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert index["metadata"]["total_size"] == sum(a.nbytes for a in arrays.values())
    files = sorted(set(index["weight_map"].values()))
    n = len(files)
    assert n >= 3
    assert files == [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]
    assert sorted(os.listdir(out)) == sorted(files + ["model.safetensors.index.json"])
    loaded = {}
    for name in files:
        part = load_file(str(out / name))
        assert all(index["weight_map"][k] == name for k in part)
        assert sum(a.nbytes for a in part.values()) <= limit or len(part) == 1
        loaded.update(part)
    check_loaded(loaded, arrays)
    # and our reader sees the folder as one model again
    assert sorted(t["name"] for t in listing(out)["tensors"]) == sorted(arrays)


def test_writer_refuses_non_empty_folder(tmp_path):
    src = tmp_path / "src.safetensors"
    save_file({"x": np.float32([1])}, str(src))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep").write_text("mine")
    p = tool("copy", src, out, check=False)
    assert p.returncode == 1 and "not empty" in p.stderr
    assert os.listdir(out) == ["keep"]
    assert sorted(os.listdir(tmp_path)) == ["out", "src.safetensors"]


def craft(head, data):
    h = head.encode()
    return struct.pack("<Q", len(h)) + h + data


def f32(name, n, b, e, extra=""):
    return (f'"{name}":{{"dtype":"F32","shape":[{n}],"data_offsets":[{b},{e}]{extra}}}')


# case: (bytes, whether the reference accepts them, whether we do)
PARITY = {
    "ok_unordered": (craft("{" + f32("b", 1, 4, 8) + "," + f32("a", 1, 0, 4) + "}   ",
                           bytes(8)), True, True),
    "ok_empty": (craft("{}", b""), True, True),
    "ok_leading_space": (craft("  {}", b""), True, True),
    "ok_extra_field": (craft("{" + f32("a", 1, 0, 4, ',"x":1') + "}", bytes(4)), True, True),
    "ok_null_metadata": (craft('{"__metadata__":null}', b""), True, True),
    "ok_u8": (craft('{"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}', bytes(3)), True,
              True),
    "hole": (craft("{" + f32("a", 1, 4, 8) + "}", bytes(8)), False, False),
    "overlap": (craft("{" + f32("a", 2, 0, 8) + "," + f32("b", 1, 4, 8) + "}", bytes(8)), False,
                False),
    "trailing": (craft("{" + f32("a", 1, 0, 4) + "}", bytes(5)), False, False),
    "size": (craft("{" + f32("a", 2, 0, 4) + "}", bytes(4)), False, False),
    "past_end": (craft("{" + f32("a", 2, 0, 8) + "}", bytes(4)), False, False),
    "float_shape": (craft("{" + f32("a", "1.0", 0, 4) + "}", bytes(4)), False, False),
    "negative": (craft("{" + f32("a", -1, 0, 4) + "}", bytes(4)), False, False),
    "dtype": (craft('{"a":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}}', bytes(4)), False,
              False),
    "f4_half_byte": (craft('{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}', bytes(2)),
                     False, False),
    "metadata_int": (craft('{"__metadata__":{"a":1}}', b""), False, False),
    "header_len": (struct.pack("<Q", 1000) + b"{}", False, False),
    "nul_padding": (craft("{}\0\0", b""), False, False),
    "not_json": (craft("{nope}", b""), False, False),
    # deliberate: the reference lets the last of two equal keys win; we refuse
    "duplicate_key": (craft("{" + f32("a", 1, 0, 4) + "," + f32("a", 1, 0, 4) + "}", bytes(4)),
                      True, False),
}


@pytest.mark.parametrize("case", sorted(PARITY))
def test_accepts_what_reference_accepts(tmp_path, case):
    blob, ref_ok, our_ok = PARITY[case]
    try:
        deserialize(blob)
        ref_result = True
    except Exception:
        ref_result = False
    assert ref_result == ref_ok, "the reference changed its mind"
    path = tmp_path / f"{case}.safetensors"
    path.write_bytes(blob)
    assert (tool("list", path, check=False).returncode == 0) == our_ok
