"""Resume is exact in every case: a finished run stays finished; callbacks match by kind.

Rerunning a run that ended by early stopping, with resume, must train nothing
and end with the same weights, epoch count and history (this is also what a
kill -9 between the last checkpoint and the model write leaves): through
``Network.fit``, the scikit-learn estimators and the command line. Callbacks
are matched to the checkpoint's by class and settings, whatever their order;
any difference is refused with a ResumeError naming it.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import synnet
from synnet import ResumeError
from synnet.cli import main
from synnet.io import load_model

RNG = np.random.default_rng(0)
X = RNG.normal(size=(120, 4))
Y = X[:, 0] - X[:, 1] ** 2 + RNG.normal(scale=1.0, size=120)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _assert_same_bytes(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes(), k


# -- Network.fit ---------------------------------------------------------------------


def _early_stopped_run(folder: Path, restore: bool, resume: bool = True) -> dict[str, Any]:
    net = synnet.Network([synnet.Dense(4, 16, "relu"), synnet.Dense(16, 1)], seed=2)
    stop = synnet.EarlyStopping("val_loss", patience=2, restore_best_weights=restore)
    ckpt = synnet.Checkpoint(folder, resume=resume)
    history = net.fit(X, Y, loss="mse", optimizer=synnet.Adam(lr=0.05), epochs=500,
                      batch_size=16, validation_split=0.25, callbacks=[stop, ckpt])
    return {"weights": net.get_weights(), "epochs": net.epochs_trained,
            "history": history.history, "epoch": history.epoch, "resumed": ckpt.resumed_from,
            "stopped": stop.stopped_epoch, "best": stop.best_epoch}


@pytest.mark.parametrize("restore", [False, True])
def test_rerunning_a_finished_run_trains_nothing(tmp_path: Path, restore: bool) -> None:
    plain = _early_stopped_run(tmp_path / "plain", restore, resume=False)
    first = _early_stopped_run(tmp_path / "ckpt", restore)
    assert first["resumed"] is None and first["stopped"] is not None
    assert first["epochs"] < 500  # early stopping ended it
    _assert_same_bytes(first["weights"], plain["weights"])  # a checkpointed run is the same
    files = _files(tmp_path / "ckpt")
    for _ in range(2):  # the runs trained one more epoch each time
        again = _early_stopped_run(tmp_path / "ckpt", restore)
        assert again["resumed"] == first["epochs"]
        for key in ("epochs", "history", "epoch", "stopped", "best"):
            assert again[key] == first[key], key
        _assert_same_bytes(again["weights"], first["weights"])
        assert _files(tmp_path / "ckpt") == files  # nothing trained, nothing written


class Counter(synnet.Callback):
    """Counts epochs; state that a resume must restore to the right callback."""

    def __init__(self) -> None:
        self.n = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.n += 1

    def get_state(self) -> dict[str, Any]:
        return {"n": self.n}

    def set_state(self, state: dict[str, Any]) -> None:
        if set(state) != {"n"} or type(state["n"]) is not int:
            raise ValueError("Counter state must be {'n': int}")
        self.n = state["n"]


def _run(folder: Path, callbacks: list[synnet.Callback], epochs: int = 8,
         resume: bool = True) -> synnet.Network:
    net = synnet.Network([synnet.Dense(4, 8, "tanh"), synnet.Dense(8, 1)], seed=4)
    net.fit(X, Y, loss="mse", optimizer="sgd", epochs=epochs, batch_size=16,
            validation_split=0.25,
            callbacks=[*callbacks, synnet.Checkpoint(folder, keep=20, resume=resume)])
    return net


def _stop() -> synnet.EarlyStopping:
    return synnet.EarlyStopping("val_loss", patience=50, restore_best_weights=True)


@pytest.fixture
def mid_run(tmp_path: Path) -> tuple[Path, synnet.Network, Counter]:
    """An 8-epoch run with [EarlyStopping, Counter], and a folder holding its epoch-3 checkpoint."""
    counter = Counter()
    full = _run(tmp_path / "full", [_stop(), counter])
    folder = tmp_path / "mid"
    folder.mkdir()
    shutil.copy(tmp_path / "full" / "ckpt-00000003.synnet", folder)
    return folder, full, counter


def test_reordered_callbacks_get_their_own_state_back(mid_run: Any) -> None:
    folder, full, full_counter = mid_run
    counter = Counter()
    resumed = _run(folder, [counter, _stop()])
    assert counter.n == full_counter.n == 8
    _assert_same_bytes(resumed.get_weights(), full.get_weights())


@pytest.mark.parametrize("callbacks,message", [
    (lambda: [Counter()], "callback EarlyStopping was used when the checkpoint was written "
                          "and is missing now"),
    (lambda: [_stop()], "callback Counter was used"),
    (lambda: [_stop(), Counter(), Counter()], "callback Counter is new"),
    (lambda: [synnet.EarlyStopping("val_loss", patience=3, restore_best_weights=True),
              Counter()], "callback EarlyStopping: patience was 50, now 3"),
    (lambda: [_stop(), Counter(), synnet.LearningRateScheduler(lambda e, lr: lr)],
     "callback LearningRateScheduler is new"),
])
def test_other_callbacks_are_refused_by_name(mid_run: Any, callbacks: Any,
                                             message: str) -> None:
    folder = mid_run[0]
    before = _files(folder)
    with pytest.raises(ResumeError, match="cannot resume") as caught:
        _run(folder, callbacks())
    assert message in str(caught.value)
    assert _files(folder) == before


def test_display_callbacks_may_come_and_go(mid_run: Any) -> None:
    folder, full, _ = mid_run
    lines: list[int] = []
    resumed = _run(folder, [Counter(), _stop(), synnet.LambdaCallback(
        on_epoch_end=lambda e, logs: lines.append(e))])
    assert lines == [3, 4, 5, 6, 7]
    _assert_same_bytes(resumed.get_weights(), full.get_weights())


# -- the estimators ------------------------------------------------------------------


@pytest.mark.parametrize("early_stopping", [False, True])
def test_an_estimator_rerun_with_resume_trains_nothing(tmp_path: Path,
                                                       early_stopping: bool) -> None:
    from sklearn.datasets import load_digits

    Xd, yd = load_digits(return_X_y=True)
    Xd, yd = Xd[:400] / 16, yd[:400]

    def fit(folder: Path | None) -> synnet.MLPClassifier:
        # every=50: the last epoch's checkpoint is written whatever the interval
        callbacks = [] if folder is None else [synnet.Checkpoint(folder, every=50,
                                                                 resume=True)]
        return synnet.MLPClassifier(hidden_layer_sizes=(20,), max_iter=300, random_state=0,
                                    tol=1e-2, early_stopping=early_stopping,
                                    callbacks=callbacks).fit(Xd, yd)

    plain = fit(None)
    runs = [fit(tmp_path / "ckpt") for _ in range(3)]
    assert plain.n_iter_ < 300  # stopped by its tolerance rule, not max_iter
    attrs = ["n_iter_", "t_", "loss_curve_", "best_loss_", "loss_"]
    if early_stopping:
        attrs += ["validation_scores_", "best_validation_score_"]
    for i, run in enumerate(runs):
        assert run.callbacks[0].resumed_from == (None if i == 0 else plain.n_iter_)
        for attr in attrs:
            assert getattr(run, attr) == getattr(plain, attr), attr
        run.save(tmp_path / f"m{i}.synnet")
        _assert_same_bytes(load_model(tmp_path / f"m{i}.synnet").network.get_weights(),
                           load_model(tmp_path / "m0.synnet").network.get_weights())
    for a, b in zip(runs[-1].coefs_ + runs[-1].intercepts_, plain.coefs_ + plain.intercepts_):
        assert a.tobytes() == b.tobytes()


def test_an_estimator_resumed_with_other_rules_is_refused(tmp_path: Path) -> None:
    def fit(n_iter_no_change: int) -> None:
        synnet.MLPRegressor(hidden_layer_sizes=(5,), max_iter=5, random_state=0,
                            n_iter_no_change=n_iter_no_change,
                            callbacks=[synnet.Checkpoint(tmp_path, resume=True)]).fit(X, Y)

    with pytest.warns(Warning, match="Maximum iterations"):
        fit(10)
    with pytest.raises(ResumeError, match="n_iter_no_change was 10, now 3"):
        fit(3)


# -- the command line ----------------------------------------------------------------


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("table") / "data.csv"
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 3)).round(4)
    label = np.where(x[:, 0] + x[:, 1] + rng.normal(scale=0.8, size=300) > 0, "yes", "no")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "label"])
        w.writerows([[*x[i], label[i]] for i in range(300)])
    return path


def _train_args(data: Path, out: Path, ckpt: Path, *extra: str) -> list[str]:
    return ["train", str(data), "-t", "label", "-o", str(out), "--epochs", "200",
            "--patience", "2", "--seed", "3", "-q", "--checkpoint-dir", str(ckpt), *extra]


def test_the_cli_rerun_of_a_finished_run_trains_nothing(tmp_path: Path, table: Path,
                                                        capsys: Any) -> None:
    ckpt = tmp_path / "ckpt"
    assert main(_train_args(table, tmp_path / "a.synnet", ckpt)) == 0
    first = capsys.readouterr().out
    assert "(early stopping;" in first
    files = _files(ckpt)
    done = subprocess.run([sys.executable, "-m", "synnet",
                           *_train_args(table, tmp_path / "b.synnet", ckpt, "--resume")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resumed from the checkpoint after epoch" in done.stderr
    epochs = [line.split(",")[0] for line in first.splitlines() if line.startswith("epochs ")]
    assert epochs and epochs[0] in done.stdout  # "epochs N of 200": the same N
    a, b = load_model(tmp_path / "a.synnet"), load_model(tmp_path / "b.synnet")
    _assert_same_bytes(a.network.get_weights(), b.network.get_weights())
    assert a.training["epochs_run"] == b.training["epochs_run"]
    assert a.network.history is not None and b.network.history is not None
    assert a.network.history.history == b.network.history.history
    assert _files(ckpt) == files


@pytest.mark.parametrize("patience,message", [
    ("5", "callback EarlyStopping: patience was 2, now 5"),
    ("0", "callback EarlyStopping was used when the checkpoint was written"),
])
def test_the_cli_refuses_another_patience(tmp_path: Path, table: Path, capsys: Any,
                                          patience: str, message: str) -> None:
    ckpt = tmp_path / "ckpt"
    assert main(_train_args(table, tmp_path / "a.synnet", ckpt)) == 0
    capsys.readouterr()
    args = _train_args(table, tmp_path / "b.synnet", ckpt, "--resume", "--patience", patience)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "b.synnet").exists()


def test_the_cli_refuses_when_every_checkpoint_is_damaged(tmp_path: Path, table: Path,
                                                          capsys: Any) -> None:
    ckpt = tmp_path / "ckpt"
    assert main(_train_args(table, tmp_path / "a.synnet", ckpt, "--epochs", "3")) == 0
    for path in ckpt.glob("ckpt-*.synnet"):
        path.write_bytes(path.read_bytes()[:200])
    before = _files(ckpt)
    capsys.readouterr()
    assert main(_train_args(table, tmp_path / "b.synnet", ckpt, "--epochs", "3",
                            "--resume")) == 2
    err = capsys.readouterr().err
    assert "synnet: error: no checkpoint in" in err and "is usable: 3 damaged" in err
    assert "hint: on the command line: --resume" in err and "Traceback" not in err
    assert _files(ckpt) == before and not (tmp_path / "b.synnet").exists()
