"""Fuzzing the model loader: every mutated file ends in ModelFileError, and nothing runs.

Structural damage (truncation, missing or extra members, object arrays, NaN
weights, wrong shapes, oversized parts, a newer version) must be refused. Flipped
bytes and random header edits may happen to leave a file valid (a zip
timestamp, a free-text field): then it must load to exactly the saved weights.
While loading, pickle and eval/exec are booby-trapped with an exception that
the loader cannot catch, so a code path that would run code fails the test.
"""

from __future__ import annotations

import builtins
import io
import json
import pickle
import tempfile
import zipfile
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import synnet
from synnet.core.layers import LAYERS
from synnet.errors import ModelFileError
from synnet.io import ModelFile, load_model, reader, save_model
from synnet.tabular.model import Model
from synnet.tabular.preprocessing import Preprocessor
from synnet.tabular.target import TargetEncoder

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


class CodeExecuted(BaseException):
    """Raised if the loader reaches pickle, eval or exec."""


def _trap(*args, **kwargs):
    raise CodeExecuted(f"code execution attempted with {args[:1]!r}")


def _build_model_bytes() -> tuple[bytes, dict[str, np.ndarray]]:
    cols = {"x": np.array([0.5, 1.5, -2.0, 3.0]),
            "c": np.array(["a", "b", "a", "c"], dtype=object)}
    pre = Preprocessor().fit(cols)
    target = TargetEncoder("classification", "y").fit(np.array(["n", "y", "y", "n"],
                                                               dtype=object))
    net = synnet.Network([synnet.Dense(pre.n_outputs, 3, "tanh"), synnet.Dropout(0.1),
                          synnet.Dense(3, 1, "sigmoid")], seed=0)
    net.fit(pre.transform(cols), np.array([0.0, 1.0, 1.0, 0.0]), "bce", "adam", epochs=2)
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "m.synnet"
        save_model(file, net, preprocessor=pre, target=target,
                                 optimizer=net.optimizer, extra={"k": [1, 2]},
                                 extra_arrays={"ids": np.arange(4)})
        return file.read_bytes(), net.get_weights()


GOOD, WEIGHTS = _build_model_bytes()


def _members() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(GOOD)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


MEMBERS = _members()
HEADER = json.loads(MEMBERS["header.json"])


def _zip(files: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def _load(tmp_path: Path, data: bytes) -> ModelFile:
    """The file read as synnet.load reads it (reader, then preprocessing and target)."""
    path = tmp_path / "fuzzed.synnet"
    path.write_bytes(data)
    with ExitStack() as stack:
        for target in ("pickle.load", "pickle.loads", "pickle.Unpickler"):
            stack.enter_context(mock.patch(target, _trap))
        stack.enter_context(mock.patch.object(builtins, "eval", _trap))
        stack.enter_context(mock.patch.object(builtins, "exec", _trap))
        loaded = load_model(path)
        Model.from_file(loaded)
        return loaded


def must_fail(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ModelFileError):
        _load(tmp_path, data)


def fail_or_intact(tmp_path: Path, data: bytes) -> None:
    """Either refused, or loaded with exactly the saved weights and registry layers."""
    try:
        loaded = _load(tmp_path, data)
    except ModelFileError:
        return
    assert all(type(layer) in LAYERS.values() for layer in loaded.network.layers)
    for name, value in WEIGHTS.items():
        np.testing.assert_array_equal(loaded.network.params[name], value)


def test_the_unmutated_file_loads(tmp_path):
    loaded = _load(tmp_path, GOOD)
    assert loaded.optimizer is not None and loaded.extra == {"k": [1, 2]}


@FUZZ
@given(cut=st.integers(0, len(GOOD) - 1))
def test_truncation(tmp_path, cut):
    must_fail(tmp_path, GOOD[:cut])


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(1, 255)),
                      min_size=1, max_size=8))
def test_flipped_bytes(tmp_path, flips):
    data = bytearray(GOOD)
    for position, mask in flips:
        data[position] ^= mask
    fail_or_intact(tmp_path, bytes(data))


NAMES = st.one_of(
    st.sampled_from(["../x.npy", "/abs.npy", "params/../params/0.W.npy", "params//0.W.npy",
                     "params/0.W.npy/", "header.json/..", "extra/../../etc", "C:\\x.npy",
                     "params/9.W.npy", "optimizer/m/9.W.npy", "extra/new.npy"]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
            min_size=1, max_size=30))


@FUZZ
@given(name=NAMES, payload=st.sampled_from([b"", b"\x93NUMPY", _npy(np.zeros(3))]))
def test_extra_members(tmp_path, name, payload):
    files = dict(MEMBERS)
    if name in files:
        files[name + "x"] = payload
    else:
        files[name] = payload
    must_fail(tmp_path, _zip(files))


@FUZZ
@given(drop=st.sets(st.sampled_from(sorted(MEMBERS)), min_size=1))
def test_missing_members(tmp_path, drop):
    must_fail(tmp_path, _zip({k: v for k, v in MEMBERS.items() if k not in drop}))


@FUZZ
@given(old=st.sampled_from(sorted(MEMBERS)), new=NAMES)
def test_renamed_members(tmp_path, old, new):
    files = dict(MEMBERS)
    data = files.pop(old)
    if new in files or new == old:
        new = new + "/renamed"
    files[new] = data
    must_fail(tmp_path, _zip(files))


ARRAY_MEMBERS = sorted(k for k in MEMBERS if k.endswith(".npy"))


def _bad_array(kind: str, shape: tuple[int, ...]) -> np.ndarray:
    if kind == "object":
        return np.array([{"__reduce__": "os.system"}] * max(1, int(np.prod(shape))),
                        dtype=object)
    if kind == "nan":
        a = np.ones(shape)
        a.flat[0] = np.nan
        return a
    if kind == "inf":
        a = np.ones(shape)
        a.flat[-1] = -np.inf
        return a
    if kind == "shape":
        return np.ones((*shape, 2))
    if kind == "transposed":
        return np.ones((*shape[::-1], 1))
    if kind == "dtype":
        return np.ones(shape, dtype=np.complex128)
    if kind == "bigendian":
        return np.ones(shape, dtype=">f8")
    if kind == "fortran":
        return np.asfortranarray(np.ones((*shape, 3)))
    raise AssertionError(kind)


@FUZZ
@given(member=st.sampled_from(ARRAY_MEMBERS),
       kind=st.sampled_from(["object", "nan", "inf", "shape", "transposed", "dtype",
                             "bigendian", "fortran"]))
def test_bad_arrays(tmp_path, member, kind):
    original = np.lib.format.read_array(io.BytesIO(MEMBERS[member]))
    if kind in ("nan", "inf") and original.dtype.kind != "f":
        kind = "object"
    if kind == "transposed" and original.ndim < 2:
        kind = "shape"
    files = dict(MEMBERS)
    files[member] = _npy(_bad_array(kind, original.shape))
    must_fail(tmp_path, _zip(files))


@FUZZ
@given(member=st.sampled_from(sorted(MEMBERS)), extra=st.integers(1, 70_000))
def test_oversized_members(tmp_path, member, extra):
    files = dict(MEMBERS)
    if member == "header.json":  # pad the JSON past a lowered cap
        files[member] = MEMBERS[member] + b" " * extra
        with mock.patch.object(reader, "MAX_HEADER_BYTES", len(MEMBERS[member])):
            must_fail(tmp_path, _zip(files))
        return
    files[member] = MEMBERS[member] + b"\0" * extra
    must_fail(tmp_path, _zip(files))


@FUZZ
@given(member=st.sampled_from(sorted(MEMBERS)))
def test_compressed_or_encrypted_flag(tmp_path, member):
    data = bytearray(_zip(MEMBERS, compression=zipfile.ZIP_DEFLATED))
    must_fail(tmp_path, bytes(data))
    # Set the "encrypted" flag bit on every central-directory entry.
    stored = bytearray(_zip(MEMBERS))
    start = stored.find(b"PK\x01\x02")
    while start != -1:
        stored[start + 8] |= 0x1
        start = stored.find(b"PK\x01\x02", start + 4)
    must_fail(tmp_path, bytes(stored))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


HEADER_PATHS = [p for p in _paths(HEADER) if p]


def _set(doc, path, value):
    doc = json.loads(json.dumps(doc))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


@FUZZ
@given(path=st.sampled_from(HEADER_PATHS), value=JSON)
def test_header_values_replaced(tmp_path, path, value):
    files = dict(MEMBERS)
    files["header.json"] = json.dumps(_set(HEADER, path, value)).encode()
    fail_or_intact(tmp_path, _zip(files))


@FUZZ
@given(path=st.sampled_from([p for p in HEADER_PATHS if isinstance(p[-1], str)]))
def test_header_keys_removed(tmp_path, path):
    doc = json.loads(json.dumps(HEADER))
    node = doc
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    files = dict(MEMBERS)
    files["header.json"] = json.dumps(doc).encode()
    fail_or_intact(tmp_path, _zip(files))


@FUZZ
@given(version=st.integers(2, 2**40))
def test_newer_versions(tmp_path, version):
    files = dict(MEMBERS)
    files["header.json"] = json.dumps(_set(HEADER, ("format_version",), version)).encode()
    with pytest.raises(ModelFileError, match="upgrade synnet"):
        _load(tmp_path, _zip(files))


@FUZZ
@given(text=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_header_garbage(tmp_path, text):
    files = dict(MEMBERS)
    files["header.json"] = text
    must_fail(tmp_path, _zip(files))


@FUZZ
@given(layers=st.integers(1, 3), size=st.sampled_from([10**6, 10**9, 2**62]))
def test_declared_sizes_beyond_the_file(tmp_path, layers, size):
    doc = json.loads(json.dumps(HEADER))
    doc["network"]["layers"][0]["out_features"] = size
    doc["network"]["layers"][2]["in_features"] = size
    doc["arrays"]["params/0.W"]["shape"][1] = size
    files = dict(MEMBERS)
    files["header.json"] = json.dumps(doc).encode()
    must_fail(tmp_path, _zip(files))


def test_pickle_trap_works(tmp_path):
    """The trap itself: a loader that unpickled would be caught."""
    with pytest.raises(CodeExecuted), mock.patch("pickle.loads", _trap):
        pickle.loads(pickle.dumps(1))
