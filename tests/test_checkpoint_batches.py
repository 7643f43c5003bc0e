"""Mid-epoch checkpoints (``Checkpoint(every_batches=N)``): a run stopped inside an epoch
resumes from the batch it had reached and ends bit for bit as one that never stopped.

Each case runs the uninterrupted fit beside the stopped-and-resumed one and
compares weights and history: arrays, Parquet and CSV sources with a shuffle
buffer, and dropout drawing from the same generator as the shuffling. The
subprocess tests kill -9 a real run (bounded waits, every process reaped).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import synnet
from synnet.data import CsvSource, IterableSource, ParquetSource
from synnet.errors import ConfigError
from synnet.training.checkpoint import latest_checkpoint
from test_checkpoint import SCRIPT, _assert_identical, _kill_after_first_checkpoint

NAMES = [f"x{i}" for i in range(6)]


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 6))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def _net() -> synnet.Network:
    return synnet.Network([synnet.Dense(6, 16, "relu"), synnet.Dropout(0.2),
                           synnet.Dense(16, 2, "softmax")], seed=3)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("batches")
    X, y = _data()
    frame = pd.DataFrame(X, columns=NAMES).assign(y=y)
    frame[:400].to_parquet(d / "train.parquet", row_group_size=70)
    frame[:400].to_csv(d / "train.csv", index=False, float_format="%.17g")
    frame[400:].to_parquet(d / "valid.parquet")
    return d


def _inputs(kind: str, d: Path) -> dict[str, Any]:
    X, y = _data()
    if kind == "arrays":
        return {"X": X, "y": y, "validation_split": 0.2, "metrics": ["accuracy"]}
    valid = ParquetSource(d / "valid.parquet", NAMES, "y")
    if kind == "parquet":
        return {"X": ParquetSource(d / "train.parquet", NAMES, "y", shuffle_buffer=90),
                "validation_data": valid, "metrics": ["accuracy"]}
    if kind == "csv":  # blocks of about 4 kB, so several blocks and buffer refills per epoch
        return {"X": CsvSource(d / "train.csv", NAMES, "y", shuffle_buffer=90, block_bytes=4096),
                "validation_data": valid}
    blocks = [(X[i:i + 45], y[i:i + 45]) for i in range(0, 400, 45)]
    return {"X": IterableSource(blocks, shuffle_buffer=60), "validation_data": valid}


class _Stop(synnet.Callback):
    """Raises after the ``at``-th batch of the fit (before a checkpoint of that batch)."""

    def __init__(self, at: int) -> None:
        self.at, self.count = at, 0

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        self.count += 1
        if self.count == self.at:
            raise RuntimeError("stopped")


def _fit(net: synnet.Network, inputs: dict[str, Any], callbacks: list[Any]) -> synnet.History:
    return net.fit(**inputs, loss="categorical_crossentropy", epochs=3, batch_size=32,
                   callbacks=callbacks)


@pytest.mark.parametrize("kind", ["arrays", "parquet", "csv", "iterable"])
@pytest.mark.parametrize("stop_at", [7, 20, 26])
def test_stopped_inside_an_epoch_resumes_to_the_uninterrupted_run(
        tmp_path: Path, files: Path, kind: str, stop_at: int) -> None:
    reference = _net()
    ref_history = _fit(reference, _inputs(kind, files), [])
    ckpt = tmp_path / "ckpt"
    with pytest.raises(RuntimeError, match="stopped"):
        _fit(_net(), _inputs(kind, files), [_Stop(stop_at), synnet.Checkpoint(
            ckpt, every_batches=5)])
    found = latest_checkpoint(ckpt)
    assert found is not None and "-" in found[0].name.removeprefix("ckpt-")  # inside an epoch
    resumed = _net()
    checkpoint = synnet.Checkpoint(ckpt, every_batches=5, resume=True)
    history = _fit(resumed, _inputs(kind, files), [checkpoint])
    assert checkpoint.resumed_batches > 0 and checkpoint.resumed_batches % 5 == 0
    for name, value in reference.get_weights().items():
        np.testing.assert_array_equal(resumed.get_weights()[name], value, err_msg=name)
    assert history.history == ref_history.history  # the epoch's loss too, to the bit
    assert history.epoch == ref_history.epoch


def test_a_mid_epoch_checkpoint_resumes_without_every_batches(tmp_path: Path,
                                                               files: Path) -> None:
    """The position is in the file: a resume with epoch-end checkpoints only still uses it."""
    reference = _net()
    _fit(reference, _inputs("arrays", files), [])
    with pytest.raises(RuntimeError):
        _fit(_net(), _inputs("arrays", files), [_Stop(9), synnet.Checkpoint(
            tmp_path, every_batches=4)])
    resumed = _net()
    checkpoint = synnet.Checkpoint(tmp_path, resume=True)
    _fit(resumed, _inputs("arrays", files), [checkpoint])
    assert (checkpoint.resumed_from, checkpoint.resumed_batches) == (0, 8)
    for name, value in reference.get_weights().items():
        np.testing.assert_array_equal(resumed.get_weights()[name], value, err_msg=name)


def test_full_batch_training_with_batch_checkpoints(tmp_path: Path) -> None:
    """One batch per epoch: the checkpoint after it resumes into the epoch's end."""
    X, y = _data()

    def run(callbacks: list[Any], epochs: int) -> synnet.Network:
        net = _net()
        net.fit(X, y, loss="categorical_crossentropy", epochs=epochs, callbacks=callbacks)
        return net

    reference = run([], 4)
    with pytest.raises(RuntimeError):
        run([_Stop(3), synnet.Checkpoint(tmp_path, every=100, every_batches=1)], 4)
    resumed = run([synnet.Checkpoint(tmp_path, every=100, every_batches=1, resume=True)], 4)
    for name, value in reference.get_weights().items():
        np.testing.assert_array_equal(resumed.get_weights()[name], value, err_msg=name)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True])
def test_every_batches_is_checked(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(ConfigError, match="every_batches") as info:
        synnet.Checkpoint(tmp_path, every_batches=bad)
    assert list(info.value.params) == ["every_batches"]


def test_without_every_batches_no_per_batch_hook(tmp_path: Path) -> None:
    """Epoch-end checkpoints cost nothing per batch (the loop's full-batch shortcut stays)."""
    from synnet.core.callback import overrides

    assert not overrides(synnet.Checkpoint(tmp_path), "on_batch_end")
    assert overrides(synnet.Checkpoint(tmp_path, every_batches=3), "on_batch_end")


# -- kill -9 in a subprocess ------------------------------------------------------------


def _run(out: Path, ckpt: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(out), str(ckpt), "--epochs", "4",
                           "--every", "1000", *args],
                          capture_output=True, text=True, check=True, timeout=600)


def _start_and_kill(command: list[str], ckpt: Path) -> None:
    """Start ``command``, kill -9 it at a random time soon after its first checkpoint
    (within 0.2 s: a fast machine finishes these runs in about a second); reaped."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        code = _kill_after_first_checkpoint(proc, ckpt, signal.SIGKILL, window=0.2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=60)
    if code == 0:
        pytest.skip("the run finished before the signal arrived")  # pragma: no cover
    assert code == -signal.SIGKILL


@pytest.mark.parametrize("data", [[], ["--stream"], ["--stream", "--csv"]],
                         ids=["arrays", "parquet", "csv"])
def test_killed_inside_an_epoch_resumes_to_identical_weights(tmp_path: Path,
                                                             data: list[str]) -> None:
    if data:
        data = [data[0], str(tmp_path / "data"), *data[1:]]
    _run(tmp_path / "ref.npz", tmp_path / "ref-ckpt", *data)  # never checkpoints mid-epoch
    ckpt = tmp_path / "ckpt"
    _start_and_kill([sys.executable, str(SCRIPT), str(tmp_path / "a.npz"), str(ckpt),
                     "--epochs", "4", "--every", "1000", "--every-batches", "7", *data], ckpt)
    done = _run(tmp_path / "b.npz", ckpt, "--every-batches", "7", "--resume", *data)
    lines = dict(line.split("=") for line in done.stdout.split())
    assert int(lines["resumed_batches"]) % 7 == 0 and int(lines["resumed_batches"]) > 0
    _assert_identical(tmp_path / "ref.npz", tmp_path / "b.npz")


def test_cli_stream_killed_inside_an_epoch_resumes_to_identical_weights(tmp_path: Path) -> None:
    """synnet train --stream --checkpoint-dir D --checkpoint-every-batches N, kill -9, --resume."""
    from synnet.io import load_model
    from test_cli_checkpoint import _data as cli_data

    data = cli_data(tmp_path / "data.csv", n=5000)

    def cmd(out: Path, *extra: str) -> list[str]:
        return [sys.executable, "-m", "synnet", "train", str(data), "-t", "label", "-o",
                str(out), "--hidden", "32", "--dropout", "0.1", "--epochs", "3", "--patience",
                "0", "--batch-size", "16", "--stream", "--shuffle-buffer", "500", "--seed", "5",
                "-q", *extra]

    subprocess.run(cmd(tmp_path / "ref.synnet"), check=True, capture_output=True, timeout=600)
    ckpt = tmp_path / "ckpt"
    batches = ["--checkpoint-dir", str(ckpt), "--checkpoint-every", "100",
               "--checkpoint-every-batches", "20"]
    _start_and_kill(cmd(tmp_path / "a.synnet", *batches), ckpt)
    assert not (tmp_path / "a.synnet").exists()
    found = latest_checkpoint(ckpt)
    assert found is not None and "-" in found[0].name.removeprefix("ckpt-")
    done = subprocess.run(cmd(tmp_path / "b.synnet", *batches, "--resume"), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "resumed from the checkpoint after epoch" in done.stderr
    assert " batches of epoch " in done.stderr  # the newest checkpoint is a mid-epoch one
    ours = load_model(tmp_path / "b.synnet").network.get_weights()
    for name, value in load_model(tmp_path / "ref.synnet").network.get_weights().items():
        np.testing.assert_array_equal(ours[name], value, err_msg=name)


def test_cli_checks_checkpoint_every_batches(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from synnet.cli import main

    code = main(["train", str(tmp_path / "none.csv"), "-t", "y", "-o", str(tmp_path / "m"),
                 "--checkpoint-dir", str(tmp_path / "c"), "--checkpoint-every-batches", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "checkpoint_every_batches must be >= 1" in err
    assert "--checkpoint-every-batches" in err and "Traceback" not in err


class _CountingParquet(ParquetSource):
    """A ParquetSource that records the row groups it reads."""

    def read(self, order: Any = None) -> Any:
        for start, block in super().read(order):
            self.seen.append(start)
            yield start, block


@pytest.mark.parametrize("stop_at", [4, 9, 13])
def test_unshuffled_parquet_resume_skips_row_groups_without_reading(
        tmp_path: Path, files: Path, stop_at: int) -> None:
    def source() -> _CountingParquet:
        made = _CountingParquet(files / "train.parquet", NAMES, "y", read_ahead=0)
        made.seen = []
        return made

    reference = _net()
    ref_history = reference.fit(source(), loss="categorical_crossentropy", epochs=2,
                                batch_size=32, shuffle=False)
    with pytest.raises(RuntimeError):
        _net().fit(source(), loss="categorical_crossentropy", epochs=2, batch_size=32,
                   shuffle=False, callbacks=[_Stop(stop_at), synnet.Checkpoint(
                       tmp_path, every_batches=3)])
    resumed, again = _net(), source()
    checkpoint = synnet.Checkpoint(tmp_path, every_batches=3, resume=True)
    history = resumed.fit(again, loss="categorical_crossentropy", epochs=2, batch_size=32,
                          shuffle=False, callbacks=[checkpoint])
    done = checkpoint.resumed_batches * 32  # rows of the resumed epoch already trained on
    assert checkpoint.resumed_from == 0 and done > 0
    # Row groups of 70 rows: the resumed epoch reads from the group holding row `done` on.
    expected = [s for s in range(0, 400, 70) if s >= done // 70 * 70]
    assert again.seen[:len(expected) + 1] == [*expected, 0]  # then the next epoch, whole
    for name, value in reference.get_weights().items():
        np.testing.assert_array_equal(resumed.get_weights()[name], value, err_msg=name)
    assert history.history == ref_history.history


def _set(key: str, value: Any) -> Any:
    def change(state: dict[str, Any]) -> None:
        state["position"][key] = value
    return change


def _whole(value: Any) -> Any:
    def change(state: dict[str, Any]) -> None:
        state["position"] = value
    return change


POSITION_DAMAGE = {
    "batches_zero": _set("batches", 0),
    "batches_not_the_name": _set("batches", 9),
    "batches_text": _set("batches", "10"),
    "seen_negative": _set("seen", -1),
    "seen_below_batches": _set("seen", 1),
    "epoch_rng_text": _set("epoch_rng", "abc"),
    "epoch_rng_keys": _set("epoch_rng", {"kind": "Generator"}),
    "loss_sum_text": _set("loss_sum", "x"),
    "metric_sums_text": _set("metric_sums", {"accuracy": "x"}),
    "metric_sums_list": _set("metric_sums", [1.0]),
    "extra_key": _set("more", 1),
    "none": _whole(None),
    "list": _whole([]),
}


@pytest.mark.parametrize("name", sorted(POSITION_DAMAGE))
def test_a_damaged_position_is_skipped(tmp_path: Path, files: Path, name: str) -> None:
    """The newest (mid-epoch) checkpoint damaged: skipped with a warning, the one before used."""
    from test_checkpoint_hostile import _tamper

    reference = _net()
    _fit(reference, _inputs("arrays", files), [])
    with pytest.raises(RuntimeError):
        _fit(_net(), _inputs("arrays", files), [_Stop(24), synnet.Checkpoint(
            tmp_path, every_batches=5, keep=10)])
    found = latest_checkpoint(tmp_path)
    assert found is not None
    newest = found[0]
    assert newest.name == "ckpt-00000001-00000010.synnet"
    _tamper(newest, POSITION_DAMAGE[name])
    resumed = _net()
    checkpoint = synnet.Checkpoint(tmp_path, every_batches=5, resume=True)
    with pytest.warns(UserWarning, match="skipping damaged checkpoint ckpt-00000001-00000010"):
        _fit(resumed, _inputs("arrays", files), [checkpoint])
    assert (checkpoint.resumed_from, checkpoint.resumed_batches) == (1, 5)
    for key, value in reference.get_weights().items():
        np.testing.assert_array_equal(resumed.get_weights()[key], value, err_msg=key)


def test_every_batches_needs_a_fit_that_reports_its_position(tmp_path: Path) -> None:
    """A fit loop without a position (synnet.dask.fit) refuses every_batches up front."""
    checkpoint = synnet.Checkpoint(tmp_path / "c", every_batches=2)
    checkpoint.set_network(_net())
    checkpoint.set_params({"callbacks": [], "settings": {}, "data": (None, None)})
    with pytest.raises(ConfigError, match="every_batches") as info:
        checkpoint.on_train_begin({})
    assert list(info.value.params) == ["every_batches"]
    assert not (tmp_path / "c").exists()  # nothing written, no lock taken


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")
def test_estimator_resumes_mid_epoch(tmp_path: Path) -> None:
    """Through MLPClassifier(callbacks=[...]): stopped inside an epoch, resumed, the same fit."""
    from synnet.sklearn import MLPClassifier

    X, y = _data()

    def make(*callbacks: Any) -> MLPClassifier:
        return MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, batch_size=32,
                             random_state=0, callbacks=list(callbacks))

    reference = make().fit(X, y)
    with pytest.raises(RuntimeError):
        make(_Stop(40), synnet.Checkpoint(tmp_path, every_batches=3)).fit(X, y)
    checkpoint = synnet.Checkpoint(tmp_path, every_batches=3, resume=True)
    resumed = make(checkpoint).fit(X, y)
    assert checkpoint.resumed_batches > 0
    for a, b in zip(reference.coefs_, resumed.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
    assert resumed.n_iter_ == reference.n_iter_
