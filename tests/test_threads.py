"""synnet.set_threads and the command line's --threads (threadpoolctl underneath)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import synnet
from synnet.cli.main import main

threadpoolctl = pytest.importorskip("threadpoolctl")
IRIS = Path(synnet.__file__).parent / "datasets" / "iris.csv"


def _blas_threads() -> list[int]:
    return [p["num_threads"] for p in threadpoolctl.threadpool_info()
            if p["user_api"] == "blas"]


def test_set_threads_limits_blas_and_restores_as_a_context() -> None:
    before = _blas_threads()
    with synnet.set_threads(1):
        assert _blas_threads() and set(_blas_threads()) == {1}
    assert _blas_threads() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, None])
def test_set_threads_rejects_what_is_not_a_count(bad: object) -> None:
    with pytest.raises(synnet.ConfigError, match="threads") as info:
        synnet.set_threads(bad)  # type: ignore[arg-type]
    assert list(info.value.params) == ["threads"]


def test_missing_threadpoolctl_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    with pytest.raises(ImportError, match=r"synnet\[threads\]"):
        synnet.set_threads(1)


def test_import_synnet_does_not_import_threadpoolctl() -> None:
    code = "import sys, synnet; assert 'threadpoolctl' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_cli_threads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.synnet"
    assert main(["train", str(IRIS), "-t", "species", "-o", str(model), "--epochs", "2",
                 "-q", "--threads", "0"]) == 2
    err = capsys.readouterr().err
    assert "threads must be >= 1" in err and "--threads" in err and "Traceback" not in err
    assert not model.exists()
    before = _blas_threads()
    assert main(["train", str(IRIS), "-t", "species", "-o", str(model), "--epochs", "2",
                 "-q", "--threads", "1"]) == 0
    assert main(["predict", str(model), str(IRIS), "--threads", "1"]) == 0
    assert main(["evaluate", str(model), str(IRIS), "--threads", "1"]) == 0
    assert _blas_threads() == before  # the limit holds for the command only
