"""Regression tests for defects found in review (each failed before its fix)."""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import synnet
from synnet import serialization


def test_loader_caps_the_total_weights_a_header_declares(tmp_path: Path) -> None:
    """60 layers of 500 x 500, each alone small enough for the file, together 120 MB."""
    k = 500
    layers = [{"kind": "dense", "in_features": k, "out_features": k,
               "activation": {"kind": "identity"}, "bias": True} for _ in range(60)]
    header = json.dumps({"format": "synnet-model", "format_version": 1,
                         "library_version": "0", "arrays": {},
                         "network": {"layers": layers, "dtype": "float64"}})
    header += " " * ((k + 1) * k * 8 + 1000 - len(header))  # room for one layer's weights
    path = tmp_path / "bomb.synnet"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("header.json", header)
    tracemalloc.start()
    try:
        with pytest.raises(synnet.ModelFileError, match=r"declare .* bytes of weights"):
            serialization.load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


def test_soft_targets_whose_rows_do_not_sum_to_one() -> None:
    net = synnet.Network([synnet.Dense(3, 4, "softmax")], seed=0)
    y = np.array([[1, 1, 0, 0], [0, 0, 0, 0], [0.5, 0, 0, 0]], dtype=float)
    X = np.random.default_rng(0).normal(size=(3, 3))
    assert synnet.gradcheck(net, X, y, "categorical_crossentropy").ok


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


def test_divergence_inside_the_update_restores_the_fit_start() -> None:
    net = synnet.Network([synnet.Dense(1, 1)], seed=0)
    before = net.get_weights()
    with pytest.raises(synnet.DivergenceError, match="when this fit started"):
        net.fit(np.full((4, 1), 1e-3), np.full(4, 100.0), loss="mse",
                optimizer=synnet.SGD(lr=1e306), epochs=3, batch_size=None)
    for name, w in before.items():
        np.testing.assert_array_equal(net.params[name], w)


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


def test_setting_the_generator_reaches_dropout() -> None:
    net = synnet.Network([synnet.Dense(3, 4), synnet.Dropout(0.5), synnet.Dense(4, 1)], seed=0)
    fresh = np.random.default_rng(5)
    net.rng = fresh
    assert net.layers[1]._rng is fresh


def test_a_refused_refit_keeps_the_fitted_classes() -> None:
    from synnet import MLPClassifier

    X = np.random.default_rng(0).normal(size=(30, 2))
    y = np.arange(30) % 3
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    with pytest.warns(Warning):
        clf.fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(X, np.zeros(30))
    assert clf.classes_.tolist() == [0, 1, 2]
    assert clf.predict(X).shape == (30,)
