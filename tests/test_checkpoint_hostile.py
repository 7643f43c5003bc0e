"""Hostile checkpoints: every tampered state ends in a warning-and-skip or a ResumeError.

A checkpoint's ``extra`` JSON (counters, generator state, fingerprint,
callback entries) is checked field by field before any of it is used, like a
model file's header. Each test tampers with the newest of three checkpoints:
resuming must then skip it with a warning and continue from the one before
(ending exactly as an uninterrupted run), or refuse with ResumeError; never
another exception, and never much memory.
"""

from __future__ import annotations

import io
import json
import shutil
import tracemalloc
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import synnet
from synnet import ResumeError

X = np.random.default_rng(0).normal(size=(40, 3))
Y = X @ np.array([1.0, -1.0, 0.5])
EPOCHS = 3
NEWEST = f"ckpt-{EPOCHS:08d}.synnet"


def _fit(folder: Path, resume: bool) -> tuple[synnet.Network, synnet.Checkpoint]:
    net = synnet.Network([synnet.Dense(3, 4, "tanh"), synnet.Dense(4, 1)], seed=1)
    ckpt = synnet.Checkpoint(folder, resume=resume)
    stop = synnet.EarlyStopping("loss", patience=100, restore_best_weights=True)
    net.fit(X, Y, loss="mse", optimizer="adam", epochs=EPOCHS, batch_size=8,
            callbacks=[stop, ckpt])
    return net, ckpt


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """A folder with the checkpoints after epochs 1, 2 and 3, and the final weights."""
    folder = tmp_path_factory.mktemp("hostile") / "ckpt"
    net, _ = _fit(folder, resume=False)
    return folder, net.get_weights()


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _rewrite(path: Path, members: dict[str, bytes]) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    path.write_bytes(buf.getvalue())


def _tamper(path: Path, change: Any) -> None:
    """Apply ``change(state)`` to the checkpoint JSON (as stored, codec tags and all)."""
    members = _members(path)
    header = json.loads(members["header.json"])
    change(header["extra"]["checkpoint"])
    members["header.json"] = json.dumps(header).encode()
    _rewrite(path, members)


def _resume(folder: Path) -> tuple[synnet.Network | None, synnet.Checkpoint | None,
                                   list[str], BaseException | None]:
    """Resume in ``folder``: (network, checkpoint, warnings, ResumeError or None); memory
    bounded."""
    tracemalloc.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                net, ckpt = _fit(folder, resume=True)
                error = None
            except ResumeError as exc:
                net, ckpt, error = None, None, exc
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"resuming took {peak / 2**20:.0f} MiB"
    return net, ckpt, [str(w.message) for w in caught], error


def _copy(written: tuple[Path, Any], tmp_path: Path) -> Path:
    folder = tmp_path / "ckpt"
    shutil.copytree(written[0], folder)
    return folder


def _drop(key: str) -> Any:
    return lambda s: s.pop(key)


def _put(path: tuple[Any, ...], value: Any) -> Any:
    def change(state: dict[str, Any]) -> None:
        doc = state
        for key in path[:-1]:
            doc = doc[key]
        doc[path[-1]] = value
    return change


HUGE_ARRAY = {"__array__": ["a"] * 4, "dtype": "S500000000"}
DAMAGE = {
    "epochs_trained text": _put(("epochs_trained",), "abc"),
    "epochs_trained negative": _put(("epochs_trained",), -100),
    "epochs_trained float": _put(("epochs_trained",), 3.0),
    "epochs_trained bool": _put(("epochs_trained",), True),
    "epochs_trained not the file's": _put(("epochs_trained",), 2),
    "epochs_trained huge": _put(("epochs_trained",), {"__int__": "9" * 300}),
    "fit_start_epoch after the end": _put(("fit_start_epoch",), 4),
    "fit_start_epoch null": _put(("fit_start_epoch",), None),
    "stop_training text": _put(("stop_training",), "yes"),
    "no stop_training": _drop("stop_training"),
    "no epochs_trained": _drop("epochs_trained"),
    "no rng": _drop("rng"),
    "no callbacks": _drop("callbacks"),
    "an unknown key": _put(("surprise",), 1),
    "version from the future": _put(("version",), 99),
    "version text": _put(("version",), "2"),
    "format": _put(("format",), "synnet-model"),
    "rng a huge dtype": _put(("rng", "state", "state", "state"), HUGE_ARRAY),
    "rng a huge dtype at the top": _put(("rng",), HUGE_ARRAY),
    "rng kind": _put(("rng", "kind"), "Evil"),
    "rng bit generator": _put(("rng", "state", "bit_generator"), "os.system"),
    "rng negative state": _put(("rng", "state", "state", "state"), -1),
    "rng state too big": _put(("rng", "state", "state", "state"), {"__int__": str(2**200)}),
    "rng state text": _put(("rng", "state", "state", "inc"), "1"),
    "rng an array for an int": _put(("rng", "state", "has_uint32"),
                                    {"__array__": [0] * 624, "dtype": "<u4"}),
    "rng missing key": _put(("rng", "state"), {"bit_generator": "PCG64"}),
    "fingerprint digest": _put(("fingerprint", "train"), 5),
    "fingerprint settings": _put(("fingerprint", "settings"), []),
    "callbacks not a list": _put(("callbacks",), {"kind": "EarlyStopping"}),
    "callback without state": _put(("callbacks", 0), {"kind": "EarlyStopping",
                                                      "settings": {}}),
    "callback kind a number": _put(("callbacks", 0, "kind"), 5),
    "callback state a list": _put(("callbacks", 0, "state"), [1, 2]),
    "early stopping wait text": _put(("callbacks", 0, "state", "wait"), "abc"),
    "early stopping wait negative": _put(("callbacks", 0, "state", "wait"), -1),
    "early stopping best text": _put(("callbacks", 0, "state", "best"), "low"),
    "early stopping best epoch": _put(("callbacks", 0, "state", "best_epoch"), 1.5),
    "early stopping missing key": lambda s: s["callbacks"][0]["state"].pop("wait"),
    "early stopping best weights a list": _put(("callbacks", 0, "state", "best_weights"),
                                               [1, 2, 3]),
    "early stopping best weights of one layer": _put(
        ("callbacks", 0, "state", "best_weights"),
        {"__extra_dict__": {"0.W": "cb0.best_weights.0.W"}}),
    "early stopping best weights in JSON, wrong shape": _put(
        ("callbacks", 0, "state", "best_weights"),
        {k: {"__array__": [1.0], "dtype": "<f8"} for k in ("0.W", "0.b", "1.W", "1.b")}),
    "an extra array nobody has": _put(("callbacks", 0, "state", "best_weights"),
                                      {"__extra__": "nope"}),
}


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_a_damaged_newest_checkpoint_is_skipped(written: tuple[Path, dict[str, np.ndarray]],
                                                tmp_path: Path, name: str) -> None:
    folder = _copy(written, tmp_path)
    _tamper(folder / NEWEST, DAMAGE[name])
    net, ckpt, caught, error = _resume(folder)
    assert error is None, error
    assert any(f"skipping damaged checkpoint {NEWEST}" in w for w in caught), caught
    assert net is not None and ckpt is not None and ckpt.resumed_from == EPOCHS - 1
    for key, value in written[1].items():  # the skipped epoch was trained again, exactly
        np.testing.assert_array_equal(net.params[key], value)


def test_the_huge_dtype_never_allocates(written: tuple[Path, Any], tmp_path: Path) -> None:
    """The issue's case: 4 strings of a 500 MB dtype in a 61 KB checkpoint, in every file."""
    folder = _copy(written, tmp_path)
    before = {}
    for path in folder.glob("ckpt-*.synnet"):
        _tamper(path, _put(("rng", "state", "state", "state"), HUGE_ARRAY))
        before[path.name] = path.read_bytes()
    net, _, caught, error = _resume(folder)  # _resume bounds the memory
    assert net is None and isinstance(error, ResumeError)
    assert sum("skipping damaged checkpoint" in w for w in caught) == 3
    assert {p.name: p.read_bytes() for p in folder.glob("ckpt-*.synnet")} == before


def test_every_checkpoint_damaged_is_refused_and_kept(written: tuple[Path, Any],
                                                      tmp_path: Path) -> None:
    folder = _copy(written, tmp_path)
    for i, path in enumerate(sorted(folder.glob("ckpt-*.synnet"))):
        if i == 0:
            path.write_bytes(path.read_bytes()[:100])  # truncated
        else:
            _tamper(path, DAMAGE[sorted(DAMAGE)[i * 7]])
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    _, _, _, error = _resume(folder)
    assert isinstance(error, ResumeError)
    message = str(error)
    assert "no checkpoint in" in message and "is usable: 3 damaged" in message
    assert "To start afresh, delete them or give another folder" in message
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # nothing written


@pytest.mark.parametrize("change,message", [
    (_put(("fingerprint", "settings", "batch_size"), 16), "batch_size was 16, now 8"),
    (_put(("fingerprint", "train"), "0" * 32), "the training data differ"),
    (_put(("callbacks", 0, "settings", "patience"), 3), "patience was 3, now 100"),
    (_put(("callbacks", 0, "kind"), "Other"), "callback EarlyStopping is new"),
    (_put(("rng",), {"kind": "RandomState", "name": "MT19937",
                     "keys": {"__array__": [0] * 624, "dtype": "<u4"}, "pos": 624,
                     "has_gauss": 0, "gauss": 0.0}),
     "the random generator was a RandomState, now a Generator(PCG64)"),
])
def test_a_well_formed_checkpoint_of_another_run_is_refused(
        written: tuple[Path, Any], tmp_path: Path, change: Any, message: str) -> None:
    folder = _copy(written, tmp_path)
    _tamper(folder / NEWEST, change)
    _, _, _, error = _resume(folder)
    assert isinstance(error, ResumeError) and message in str(error), error


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=5) | st.just(HUGE_ARRAY) | st.just({"__int__": "-5"})
    | st.just({"__extra__": "cb0.best_weights.0.W"}),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=6)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_tampering_never_ends_in_a_traceback(written: tuple[Path, Any],
                                                    tmp_path_factory: pytest.TempPathFactory,
                                                    data: st.DataObject) -> None:
    folder = _copy(written, tmp_path_factory.mktemp("fuzz"))
    header = json.loads(_members(folder / NEWEST)["header.json"])
    paths = _paths(header["extra"]["checkpoint"])
    path = data.draw(st.sampled_from(paths))
    value = data.draw(JSON)
    _tamper(folder / NEWEST, _put(path, value))
    _, ckpt, caught, error = _resume(folder)  # any other exception fails the test
    if error is None:
        assert ckpt is not None and ckpt.resumed_from in (EPOCHS - 1, EPOCHS)
        skipped = any(f"skipping damaged checkpoint {NEWEST}" in w for w in caught)
        assert skipped == (ckpt.resumed_from == EPOCHS - 1)
