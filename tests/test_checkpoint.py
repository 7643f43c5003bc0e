"""Fault tolerance: kill a real training run, resume it, and get the same weights bit for bit."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import synnet
from synnet import ResumeError

SCRIPT = Path(__file__).resolve().parent / "scripts" / "train_ckpt.py"


def _run(out: Path, ckpt: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(out), str(ckpt), *args],
                          capture_output=True, text=True, check=check, timeout=600)


def _start(out: Path, ckpt: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(SCRIPT), str(out), str(ckpt), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _assert_identical(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run."""
    d = tmp_path_factory.mktemp("reference")
    _run(d / "ref.npz", d / "ckpt")
    return d / "ref.npz"


def _kill_after_first_checkpoint(proc: subprocess.Popen[str], ckpt: Path,
                                 sig: signal.Signals, window: float = 1.0) -> int:
    deadline = time.monotonic() + 120
    while not any(ckpt.glob("ckpt-*.synnet")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(random.uniform(0.0, window))  # a random point after the first checkpoint
    proc.send_signal(sig)
    proc.communicate(timeout=120)
    return proc.returncode


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes_to_identical_weights(tmp_path: Path, reference: Path,
                                                 sig: signal.Signals) -> None:
    ckpt = tmp_path / "ckpt"
    code = _kill_after_first_checkpoint(_start(tmp_path / "a.npz", ckpt), ckpt, sig)
    if code == 0:
        pytest.skip("the run finished before the signal arrived")  # pragma: no cover
    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 130)
    assert not (tmp_path / "a.npz").exists()
    done = _run(tmp_path / "b.npz", ckpt, "--resume")
    resumed = int(done.stdout.strip().rsplit("=", 1)[1])
    assert 1 <= resumed < 60
    _assert_identical(reference, tmp_path / "b.npz")


def test_interrupt_writes_the_pending_checkpoint(tmp_path: Path) -> None:
    """With every=1000 no regular checkpoint is due; Ctrl-C still saves the last epoch end."""
    ckpt = tmp_path / "ckpt"
    proc = _start(tmp_path / "a.npz", ckpt, "--every", "1000", "--epochs", "2000")
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted; checkpoint" in out
    files = list(ckpt.glob("ckpt-*.synnet"))
    assert len(files) == 1
    assert synnet.load(files[0]).predict(np.zeros((1, 20))).shape == (1, 2)  # a usable model


def test_damaged_newest_checkpoint_falls_back(tmp_path: Path, reference: Path) -> None:
    ckpt = tmp_path / "ckpt"
    _run(tmp_path / "a.npz", ckpt, "--epochs", "5")
    newest = max(ckpt.glob("ckpt-*.synnet"))
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # truncated
    done = _run(tmp_path / "b.npz", ckpt, "--resume")
    assert "skipping damaged checkpoint ckpt-00000005.synnet" in done.stderr
    assert "resumed_from=4" in done.stdout
    _assert_identical(reference, tmp_path / "b.npz")


@pytest.mark.parametrize("change,message", [(("--lr", "0.02"), "optimizer_config was"),
                                            (("--flip",), "the training data differ")])
def test_resume_with_other_settings_is_refused(tmp_path: Path, change: tuple[str, ...],
                                               message: str) -> None:
    ckpt = tmp_path / "ckpt"
    _run(tmp_path / "a.npz", ckpt, "--epochs", "2")
    done = _run(tmp_path / "b.npz", ckpt, "--resume", *change, check=False)
    assert done.returncode == 2
    assert "cannot resume" in done.stderr and message in done.stderr


def test_in_process_resume_and_longer_training(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(100, 3)), rng.normal(size=100)

    def net() -> synnet.Network:
        return synnet.Network([synnet.Dense(3, 8, "tanh"), synnet.Dense(8, 1)], seed=3)

    full = net()
    full.fit(X, y, loss="mse", optimizer="sgd", epochs=10, batch_size=10)
    part = net()
    part.fit(X, y, loss="mse", optimizer="sgd", epochs=4, batch_size=10,
             callbacks=[synnet.Checkpoint(tmp_path)])
    again = net()
    ckpt = synnet.Checkpoint(tmp_path, resume=True)
    history = again.fit(X, y, loss="mse", optimizer="sgd", epochs=10, batch_size=10,
                        callbacks=[ckpt])
    assert ckpt.resumed_from == 4 and history.epoch == list(range(10))
    for k in full.params:
        np.testing.assert_array_equal(full.params[k], again.params[k])
    with pytest.raises(ResumeError, match="batch_size was 10, now 20"):
        net().fit(X, y, loss="mse", optimizer="sgd", epochs=10, batch_size=20,
                  callbacks=[synnet.Checkpoint(tmp_path, resume=True)])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ckpt-00000008.synnet", "ckpt-00000009.synnet", "ckpt-00000010.synnet"]


def test_checkpoint_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(synnet.ConfigError, match="every must be"):
        synnet.Checkpoint(tmp_path, every=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(synnet.ConfigError, match="is a file"):
        synnet.Checkpoint(tmp_path / "file")


def test_checkpoint_listed_first_still_restores_later_callbacks(tmp_path: Path) -> None:
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = X.sum(axis=1)

    def run(epochs: int, resume: bool) -> synnet.Network:
        net = synnet.Network([synnet.Dense(3, 4, "tanh"), synnet.Dense(4, 1)], seed=1)
        stop = synnet.EarlyStopping(monitor="loss", min_delta=1e9, patience=2)
        net.fit(X, y, loss="mse", optimizer="sgd", epochs=epochs, batch_size=8,
                callbacks=[synnet.Checkpoint(tmp_path / str(resume), resume=resume), stop])
        return net

    full = run(10, resume=False)
    (tmp_path / "True").mkdir()
    for f in sorted((tmp_path / "False").iterdir())[:1]:  # the checkpoint after epoch 2 (of 4)
        (tmp_path / "True" / f.name).write_bytes(f.read_bytes())
    resumed = run(10, resume=True)
    assert resumed.epochs_trained == full.epochs_trained == 4  # stopped after epoch 3
    for name in full.params:
        np.testing.assert_array_equal(full.params[name], resumed.params[name])


def test_refused_resume_leaves_the_network_as_it_was(tmp_path: Path) -> None:
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = X.sum(axis=1)
    synnet.Network([synnet.Dense(3, 1)], seed=0).fit(
        X, y, loss="mse", epochs=2, callbacks=[synnet.Checkpoint(tmp_path)])
    net = synnet.Network([synnet.Dense(3, 1)], seed=0)
    net.fit(X, y, loss="sse", epochs=2)
    history = net.history
    with pytest.raises(synnet.ResumeError):
        net.fit(X, y, loss="mse", epochs=2, batch_size=5,
                callbacks=[synnet.Checkpoint(tmp_path, resume=True)])
    assert net.history is history and len(history.epoch) == 2
    assert net.loss is not None and net.loss.name == "sse" and net.epochs_trained == 2
    assert "data" not in getattr(net.history, "params", {})


def test_a_run_whose_checkpoints_could_not_be_loaded_is_refused_before_training(
        tmp_path: Path) -> None:
    class MyAdam(synnet.Adam):
        """Registered under "adam", but a reader would build a plain Adam."""

    X = np.random.default_rng(0).normal(size=(16, 2))
    net = synnet.Network([synnet.Dense(2, 1)], seed=0)
    before = net.get_weights()
    with pytest.raises(synnet.ConfigError, match="registered optimizers"):
        net.fit(X, X.sum(axis=1), loss="mse", optimizer=MyAdam(), epochs=2,
                callbacks=[synnet.Checkpoint(tmp_path / "ck")])
    assert net.epochs_trained == 0 and not (tmp_path / "ck").exists()
    for name, value in before.items():
        np.testing.assert_array_equal(net.params[name], value)


def test_save_kwargs_are_checked_when_the_checkpoint_is_made_and_before_training(
        tmp_path: Path) -> None:
    from synnet.tabular.target import TargetEncoder

    with pytest.raises(synnet.ConfigError, match="save_kwargs may set"):
        synnet.Checkpoint(tmp_path / "a", save_kwargs={"optimizer": None})
    X = np.random.default_rng(0).normal(size=(16, 2))
    y = X.sum(axis=1)
    ckpt = synnet.Checkpoint(tmp_path / "b", save_kwargs={
        "target": TargetEncoder("regression", "y"), "metadata": {"feature_names": ["p", "q"]}})
    synnet.Network([synnet.Dense(2, 1)], seed=0).fit(X, y, loss="mse", epochs=2,
                                                    callbacks=[ckpt])
    model = synnet.load(ckpt.last_path)
    assert model.task == "regression" and model.feature_names == ["p", "q"]

    class IntKeys(synnet.Callback):
        def get_state(self):  # JSON keys are strings: a resume could not restore this
            return {"seen": {1: 2}}

    net = synnet.Network([synnet.Dense(2, 1)], seed=0)
    with pytest.raises(synnet.ConfigError, match=r"IntKeys state.*non-string key"):
        net.fit(X, y, loss="mse", epochs=2,
                callbacks=[IntKeys(), synnet.Checkpoint(tmp_path / "c")])
    assert net.epochs_trained == 0


def test_resuming_with_another_loss_reduction_is_refused(tmp_path: Path) -> None:
    X = np.random.default_rng(0).normal(size=(16, 2))
    y = X.sum(axis=1)

    def run(reduction: str) -> None:
        synnet.Network([synnet.Dense(2, 1)], seed=0).fit(
            X, y, loss=synnet.MeanSquaredError(reduction=reduction), epochs=2,
            callbacks=[synnet.Checkpoint(tmp_path, resume=True)])

    run("sum")
    with pytest.raises(ResumeError, match="loss_reduction was 'sum', now None"):
        run("mean")
