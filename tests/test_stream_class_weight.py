"""``synnet train --stream --class-weight balanced``: the class counts come from the
statistics pass, and the run equals the in-memory job's (shuffling off, so both see
the same batches in the same order)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from synnet.core.network import Network
from synnet.tabular.model import load
from test_cli import run


def _write(path: Path, n: int = 300) -> Path:
    rng = np.random.default_rng(2)
    lines = ["colour,size,label"]
    for _ in range(n):
        colour = ["red", "green", "blue"][int(rng.integers(0, 3))]
        size = ["S", "M", "L", "XL"][int(rng.integers(0, 4))]
        label = "rare" if rng.random() < 0.1 else ("a" if colour == "red" else "b")
        lines.append(f"{colour},{size},{label}")  # categories only: one-hot inputs, exact
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def unshuffled(monkeypatch: pytest.MonkeyPatch) -> None:
    fit = Network.fit

    def no_shuffle(self: Network, *args: Any, **kwargs: Any) -> Any:
        return fit(self, *args, **{**kwargs, "shuffle": False})

    monkeypatch.setattr(Network, "fit", no_shuffle)


def test_streamed_balanced_class_weight_equals_the_in_memory_job(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        unshuffled: None) -> None:
    from synnet.tabular import train_stream

    data = _write(tmp_path / "d.csv")
    monkeypatch.setattr(train_stream, "TRAIN_CHUNK_ROWS", 64)
    weights = {}
    for name, extra in [("stream", ["--stream", "--class-weight", "balanced"]),
                        ("memory", ["--no-stream", "--class-weight", "balanced"]),
                        ("plain", ["--stream"])]:
        model = tmp_path / f"{name}.synnet"
        code, _, err = run(capsys, "train", data, "--target", "label", "-o", model,
                           "--valid-fraction", "0", "--epochs", "3", "--batch-size", "16",
                           "--seed", "1", "-q", *extra)
        assert code == 0, err
        weights[name] = load(model).network.get_weights()
    for key, value in weights["memory"].items():
        np.testing.assert_array_equal(weights["stream"][key], value, err_msg=key)
    assert any(not np.array_equal(weights["plain"][k], v) for k, v in weights["memory"].items())


def test_streamed_class_counts_are_the_training_rows(tmp_path: Path) -> None:
    """The pass counts only the rows the preprocessing learns from (not held-out ones)."""
    from synnet.tabular.chunks import read_chunks
    from synnet.tabular.streaming import fit_streaming
    from synnet.tabular.train import balanced_weights

    data = _write(tmp_path / "d.csv")
    tables = [t for _, t in read_chunks(data, 50)]
    held = np.arange(300) % 4 == 0
    counts: list[int] = []
    _, target, n, _ = fit_streaming(tables, ["colour", "size"], "label", "classification",
                                    feature_rows=lambda ids: ~held[ids], class_counts=counts)
    y = target.encode(np.concatenate([t.columns["label"] for t in tables]))[0][~held]
    assert n == len(y) and counts == np.bincount(y, minlength=3).tolist()
    per_class = np.asarray(counts, dtype=np.float64)
    np.testing.assert_array_equal(n / (np.count_nonzero(counts) * per_class[y]),
                                  balanced_weights(y, 3))


def test_class_weight_with_stream_needs_classification(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "r.csv"
    data.write_text("x,y\n" + "".join(f"{i},{i * 0.5}\n" for i in range(40)))
    code, _, err = run(capsys, "train", data, "--target", "y", "-o", tmp_path / "m.synnet",
                       "--stream", "--class-weight", "balanced", "--task", "regression")
    assert code == 2 and "class_weight needs a classification task" in err
    code, _, err = run(capsys, "train", data, "--target", "y", "-o", tmp_path / "m.synnet",
                       "--stream", "--class-weight", "balanced", "-q")
    assert code == 2 and "--class-weight" in err
