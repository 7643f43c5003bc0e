"""One run per checkpoint folder, and no temporary files left behind by killed writers.

The tests start real processes (a training run, a writer stuck mid-write),
bound every wait, and kill what they started.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import synnet
from synnet.cli import main
from synnet.io.atomic import atomic_write, remove_stale_temp_files
from synnet.training.lock import LOCK_NAME

X = np.random.default_rng(0).normal(size=(40, 3))
Y = X.sum(axis=1)

# A run that holds the folder's lock for as long as it lives: epochs that sleep.
HOLDER = """
import sys, time, numpy as np, synnet
X = np.random.default_rng(0).normal(size=(40, 3))
net = synnet.Network([synnet.Dense(3, 1)], seed=0)
net.fit(X, X.sum(axis=1), loss="mse", epochs=10**6, callbacks=[
    synnet.LambdaCallback(on_epoch_end=lambda e, logs: time.sleep(0.05)),
    synnet.Checkpoint(sys.argv[1], every=10**6)])
"""

# A writer killed in the middle of an atomic write.
STUCK_WRITER = """
import sys, time
from synnet.io.atomic import atomic_write
def write(f):
    f.write(b"x" * 2**20)
    f.flush()
    time.sleep(120)
atomic_write(sys.argv[1], write)
"""


def _fit(folder: Path, **kwargs: Any) -> synnet.Network:
    net = synnet.Network([synnet.Dense(3, 1)], seed=0)
    net.fit(X, Y, loss="mse", epochs=2, callbacks=[synnet.Checkpoint(folder, **kwargs)])
    return net


def _wait_for(condition: Any, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert proc.poll() is None, f"the process ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def start() -> Iterator[Any]:
    """Start ``python -c code args``; every process started is killed at the end."""
    procs: list[subprocess.Popen[bytes]] = []

    def run(code: str, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-c", code, *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(proc)
        return proc

    yield run
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=60)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)  # reaped: its pid no longer exists


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True, timeout=60)
    return int(proc.stdout)


def test_a_second_run_is_refused_while_the_first_lives(tmp_path: Path, start: Any,
                                                       capsys: Any) -> None:
    folder = tmp_path / "ckpt"
    holder = start(HOLDER, str(folder))
    lock = folder / LOCK_NAME
    _wait_for(lambda: lock.exists() and lock.read_text().strip() == str(holder.pid), holder,
              "the lock")
    net = synnet.Network([synnet.Dense(3, 1)], seed=0)
    before = net.get_weights()
    with pytest.raises(synnet.ConfigError,
                       match=rf"in use by another run \(process {holder.pid}\)"):
        net.fit(X, Y, loss="mse", epochs=2,
                callbacks=[synnet.Checkpoint(folder, resume=True)])
    assert net.epochs_trained == 0
    for name, value in before.items():
        np.testing.assert_array_equal(net.params[name], value)
    # The command line says so in one line, and exits 2.
    data = tmp_path / "d.csv"
    data.write_text("a,b\n" + "".join(f"{i % 7},{i % 2}\n" for i in range(20)))  # a: no ID
    code = main(["train", str(data), "-t", "b", "-o", str(tmp_path / "m.synnet"), "-q",
                 "--checkpoint-dir", str(folder)])
    err = capsys.readouterr().err
    assert code == 2 and f"in use by another run (process {holder.pid})" in err
    assert "Traceback" not in err and not (tmp_path / "m.synnet").exists()

    # Killed, the first run leaves its lock file behind: a stale lock, taken over.
    _kill(holder)
    assert lock.read_text().strip() == str(holder.pid)
    with pytest.warns(UserWarning, match=rf"taking over the lock .* process {holder.pid}"):
        _fit(folder, resume=True)
    assert not lock.exists()  # released at the end of the fit


def test_the_lock_is_released_whatever_ends_the_fit(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    _fit(folder)
    assert not (folder / LOCK_NAME).exists()
    net = synnet.Network([synnet.Dense(3, 1)], seed=0)
    with pytest.raises(synnet.ResumeError):  # another batch size: refused in on_train_begin
        net.fit(X, Y, loss="mse", epochs=2, batch_size=5,
                callbacks=[synnet.Checkpoint(folder, resume=True)])
    assert not (folder / LOCK_NAME).exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no stale-lock warning: nothing was left
        _fit(folder, resume=True)


def test_temporary_files_are_recognisable(tmp_path: Path) -> None:
    seen: list[str] = []

    def write(f: Any) -> None:
        seen.extend(os.listdir(tmp_path))
        f.write(b"data")

    atomic_write(tmp_path / "m.synnet", write)
    assert len(seen) == 1
    assert re.fullmatch(rf"\.m\.synnet\.synnet-tmp-{os.getpid()}-[0-9a-f]{{12}}", seen[0])
    assert os.listdir(tmp_path) == ["m.synnet"]


def test_a_killed_writers_temporary_file_is_removed_at_the_next_run(tmp_path: Path,
                                                                     start: Any) -> None:
    folder = tmp_path / "ckpt"
    folder.mkdir()
    writer = start(STUCK_WRITER, str(folder / "ckpt-00000001.synnet"))
    pattern = f".ckpt-00000001.synnet.synnet-tmp-{writer.pid}-*"
    _wait_for(lambda: any(p.stat().st_size == 2**20 for p in folder.glob(pattern)), writer,
              "the temporary file")
    _kill(writer)
    (stale,) = folder.glob(pattern)  # a kill -9 leaves it behind
    sleeper = start("import time; time.sleep(120)")
    kept = [folder / f".a.synnet-tmp-{sleeper.pid}-{'0' * 12}",  # its writer lives
            folder / f".b.synnet-tmp-{os.getpid()}-{'1' * 12}",  # this process's own
            folder / ".c.tmp",  # not ours
            folder / f".d.synnet-tmp-{_dead_pid()}-short"]  # not our pattern
    for path in kept:
        path.write_bytes(b"keep")
    target = tmp_path / "precious"
    target.write_bytes(b"keep")
    link = folder / f".e.synnet-tmp-{_dead_pid()}-{'2' * 12}"
    link.symlink_to(target)  # not a regular file: never followed, never deleted
    _fit(folder)
    assert not stale.exists()
    assert all(p.read_bytes() == b"keep" for p in kept)
    assert link.is_symlink() and target.read_bytes() == b"keep"


def test_the_command_line_cleans_the_output_folder(tmp_path: Path) -> None:
    stale = tmp_path / f".m.synnet.synnet-tmp-{_dead_pid()}-{'a' * 12}"
    stale.write_bytes(b"x" * 1000)
    data = tmp_path / "d.csv"
    data.write_text("a,b\n" + "".join(f"{i % 7},{i % 2}\n" for i in range(20)))  # a: no ID
    assert main(["train", str(data), "-t", "b", "-o", str(tmp_path / "m.synnet"), "-q",
                 "--epochs", "2"]) == 0
    assert not stale.exists() and (tmp_path / "m.synnet").exists()
    out = tmp_path / "out"
    out.mkdir()
    stale = out / f".p.csv.synnet-tmp-{_dead_pid()}-{'b' * 12}"
    stale.write_bytes(b"x")
    assert main(["predict", str(tmp_path / "m.synnet"), str(data), "-o",
                 str(out / "p.csv")]) == 0
    assert not stale.exists() and (out / "p.csv").exists()


def test_remove_stale_temp_files_on_a_missing_folder(tmp_path: Path) -> None:
    assert remove_stale_temp_files(tmp_path / "nowhere") == []
