"""``synnet train --workers 2``: the table job on a local Dask cluster, in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")

import synnet

IRIS = Path(synnet.__file__).parent / "datasets" / "iris.csv"


def _train(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "synnet", "train", str(IRIS), "-t", "species", "-q",
         "--epochs", "8", "--seed", "0", *extra],
        capture_output=True, text=True, timeout=240, cwd=tmp_path)


def test_train_on_two_workers_writes_the_usual_model_file(tmp_path: Path) -> None:
    done = _train(tmp_path, "-o", "cluster.synnet", "--workers", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "model written to" in done.stdout
    local = _train(tmp_path, "-o", "local.synnet")
    assert local.returncode == 0, local.stderr[-2000:]
    on_cluster, here = synnet.load(tmp_path / "cluster.synnet"), synnet.load(
        tmp_path / "local.synnet")
    # The same kind of file: same layers, preprocessing, classes and metadata keys.
    assert on_cluster.network.get_config() == here.network.get_config()
    assert list(on_cluster.classes) == list(here.classes)
    rows = {"sepal_length": np.array([5.1, 6.7]), "sepal_width": np.array([3.5, 3.0]),
            "petal_length": np.array([1.4, 5.2]), "petal_width": np.array([0.2, 2.3])}
    assert on_cluster.predict(rows).shape == here.predict(rows).shape == (2,)


@pytest.mark.parametrize(("flags", "message"), [
    (["--workers", "0"], "--workers must be at least 1"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
    (["--workers", "2", "--checkpoint-dir", "ck"], "checkpoints are not supported"),
])
def test_bad_cluster_flags_exit_2_before_any_work(tmp_path: Path, flags: list[str],
                                                  message: str) -> None:
    done = _train(tmp_path, "-o", "m.synnet", *flags)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "m.synnet").exists()
