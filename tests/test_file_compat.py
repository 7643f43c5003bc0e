"""Files written by the previous release (0.1.0, before the package was layered) still load.

``tests/data`` holds files that synnet 0.1.0 wrote, with the predictions it
made when it wrote them: a ``synnet train`` model, an ``MLPClassifier`` file
(with an infinite parameter, as 0.1.0 stored it) and a bare network. Each must
load and predict exactly as it did then. A 0.1.0 checkpoint must resume and
end where a run that never stopped ends.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import synnet
from synnet.tabular.files import read_table

DATA = Path(__file__).parent / "data"
IRIS = Path(synnet.__file__).parent / "datasets" / "iris.csv"


def test_a_cli_model_predicts_as_when_it_was_written() -> None:
    pytest.importorskip("pandas")
    model = synnet.load(DATA / "cli_iris_v1.synnet")
    table = read_table(IRIS)
    np.testing.assert_array_equal(model.predict_proba(table.columns),
                                  np.load(DATA / "cli_iris_v1.proba.npy"))
    assert model.network.history is not None and "val_accuracy" in model.network.history


def test_an_estimator_file_loads_as_estimator_and_as_model() -> None:
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris

    X, _ = load_iris(return_X_y=True)
    expected = np.load(DATA / "mlp_classifier_v1.proba.npy")
    clf = synnet.MLPClassifier.load(DATA / "mlp_classifier_v1.synnet")
    assert clf.n_iter_no_change == np.inf  # stored as the string "inf" by 0.1.0
    assert len(clf.validation_scores_) == clf.n_iter_ == 15
    np.testing.assert_array_equal(clf.predict_proba(X), expected)
    np.testing.assert_array_equal(synnet.load(DATA / "mlp_classifier_v1.synnet").predict_proba(X),
                                  expected)


def test_a_bare_network_file_predicts_as_when_it_was_written() -> None:
    net = synnet.Network.load(DATA / "network_v1.synnet")
    X = np.loadtxt(IRIS, delimiter=",", skiprows=1, usecols=range(4))
    np.testing.assert_array_equal(net.predict(X), np.load(DATA / "network_v1.pred.npy"))
    assert isinstance(net.layers[1], synnet.Dropout) and net.history is not None


def _checkpoint_run(folder: Path, epochs: int, resume: bool) -> synnet.Network:
    """The run that wrote tests/data/ckpt_v1 (2 epochs), asked for ``epochs``."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    net = synnet.Network([synnet.Dense(3, 8, "relu"), synnet.Dropout(0.2), synnet.Dense(8, 1)],
                         seed=7)
    net.fit(X, y, loss="mse", optimizer=synnet.Adam(lr=0.01), epochs=epochs, batch_size=16,
            validation_split=0.25,
            callbacks=[synnet.EarlyStopping("val_loss", patience=5, restore_best_weights=True),
                       synnet.Checkpoint(folder, every=1, keep=1, resume=resume)])
    return net


def test_a_checkpoint_of_the_previous_release_resumes_exactly(tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(DATA / "ckpt_v1", old)
    resumed = _checkpoint_run(old, 5, resume=True)
    straight = _checkpoint_run(tmp_path / "new", 5, resume=False)
    assert resumed.epochs_trained == straight.epochs_trained == 5
    for name, value in straight.params.items():
        np.testing.assert_array_equal(resumed.params[name], value)
    assert resumed.history is not None and straight.history is not None
    assert resumed.history.history == straight.history.history
