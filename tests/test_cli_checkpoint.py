"""synnet train --checkpoint-dir / --resume / --keep-last-good, through the real command."""

from __future__ import annotations

import csv
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from synnet.cli import main
from synnet.io import load_model


def _data(path: Path, n: int = 2000) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).round(4)
    colour = rng.choice(["red", "green", "blue"], n)
    label = np.where(x[:, 0] + x[:, 1] * (colour == "red") > 0, "yes", "no")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "colour", "label"])
        w.writerows([[*x[i], colour[i], label[i]] for i in range(n)])
    return path


TRAIN = ["--hidden", "64,64", "--dropout", "0.1", "--epochs", "40", "--patience", "0",
         "--batch-size", "16"]


def _cmd(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "synnet", "train", str(data), "-t", "label", "-o", str(out),
            *TRAIN, *extra]


def _weights(path: Path) -> dict[str, np.ndarray]:
    return load_model(path).network.get_weights()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("cli_ckpt")
    data = _data(d / "data.csv")
    subprocess.run(_cmd(data, d / "ref.synnet", "--seed", "5", "-q"), check=True,
                   capture_output=True, timeout=600)
    return data, d / "ref.synnet"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_cli_killed_and_resumed_matches_uninterrupted(tmp_path: Path, setup, sig) -> None:  # type: ignore[no-untyped-def]
    data, ref = setup
    ckpt = tmp_path / "ckpt"
    out = tmp_path / "m.synnet"
    proc = subprocess.Popen(_cmd(data, out, "--seed", "5", "--checkpoint-dir", str(ckpt)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(ckpt.glob("ckpt-*.synnet")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    time.sleep(random.uniform(0.0, 0.5))
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("training finished before the signal")  # pragma: no cover
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert "interrupted; progress saved in" in err and "--resume" in err
        assert "Traceback" not in err
    assert not out.exists()
    # Resume without repeating --seed: the checkpoint's seed is used.
    done = subprocess.run(_cmd(data, out, "--checkpoint-dir", str(ckpt), "--resume", "-q"),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "resumed from the checkpoint after epoch" in done.stderr
    ours, theirs = _weights(out), _weights(ref)
    for k in theirs:
        np.testing.assert_array_equal(ours[k], theirs[k], err_msg=k)


def test_cli_resume_refuses_changed_settings(tmp_path: Path, setup, capsys) -> None:  # type: ignore[no-untyped-def]
    data, _ = setup
    ckpt = tmp_path / "ckpt"
    base = ["train", str(data), "-t", "label", "-o", str(tmp_path / "m"), "--epochs", "2",
            "--seed", "3", "-q", "--checkpoint-dir", str(ckpt)]
    assert main(base) == 0
    code = main([*base, "--resume", "--lr", "0.5"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot resume" in err and "optimizer_config" in err


def test_cli_resume_needs_a_folder(tmp_path: Path, setup, capsys) -> None:  # type: ignore[no-untyped-def]
    data, _ = setup
    code = main(["train", str(data), "-t", "label", "-o", str(tmp_path / "m"), "--resume"])
    err = capsys.readouterr().err
    assert code == 2 and "resume needs checkpoint_dir" in err
    assert "--resume, --checkpoint-dir" in err


@pytest.mark.parametrize("optimizer,lr", [("sgd", "1e300"), ("adam", "1e300"),
                                          ("rmsprop", "1e300")])
def test_cli_divergence_writes_nothing_unless_asked(tmp_path: Path, optimizer: str, lr: str,
                                                    capsys) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    path = tmp_path / "reg.csv"
    x = rng.normal(size=(200, 2)) * 1e3
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "y"])
        w.writerows([[x[i, 0], x[i, 1], x[i, 0] * 1e5] for i in range(200)])
    out = tmp_path / "m.synnet"
    args = ["train", str(path), "-t", "y", "-o", str(out), "--optimizer", optimizer,
            "--lr", lr, "--epochs", "50", "--seed", "0", "-q"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "diverged" in err and "smaller learning rate" in err and not out.exists()
    assert main([*args, "--keep-last-good"]) == 1
    err = capsys.readouterr().err
    assert "last finite weights was written" in err
    weights = _weights(out)
    assert all(np.isfinite(w).all() for w in weights.values())
