"""The estimators' model files and resumable training."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

import synnet
from synnet import MLPClassifier, MLPRegressor


def _iris() -> tuple[pd.DataFrame, np.ndarray]:
    data = load_iris(as_frame=True)
    return data.data, np.asarray(data.target_names)[data.target]  # string labels


def test_classifier_round_trip(tmp_path: Path) -> None:
    X, y = _iris()
    clf = MLPClassifier(hidden_layer_sizes=(16, 8), activation=["relu", "tanh"], dropout=0.1,
                        class_weight={"setosa": 2.0, "virginica": 1.0}, max_iter=300,
                        random_state=0).fit(X, y)
    path = tmp_path / "iris.synnet"
    clf.save(path)
    model = synnet.load(path)  # the generic loader: original labels, same probabilities
    np.testing.assert_array_equal(model.predict(X), clf.predict(X))
    np.testing.assert_allclose(model.predict_proba(X), clf.predict_proba(X), rtol=1e-12)
    again = MLPClassifier.load(path)
    assert again.get_params() == clf.get_params()
    np.testing.assert_array_equal(again.predict(X), clf.predict(X))
    assert again.loss_curve_ == clf.loss_curve_ and again.n_iter_ == clf.n_iter_
    assert list(again.feature_names_in_) == list(X.columns)
    with pytest.raises(ValueError, match="feature names"):
        again.predict(X.rename(columns=str.upper))
    assert again.score(X, y) == clf.score(X, y)


def test_regressor_and_multilabel_round_trip(tmp_path: Path) -> None:
    X, y = make_regression(n_samples=80, n_features=5, n_targets=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=50, random_state=0).fit(X, y)
    reg.save(tmp_path / "r.synnet")
    np.testing.assert_allclose(synnet.load(tmp_path / "r.synnet").predict(X), reg.predict(X))
    np.testing.assert_array_equal(MLPRegressor.load(tmp_path / "r.synnet").predict(X),
                                  reg.predict(X))
    Xm, Ym = make_multilabel_classification(n_samples=60, n_classes=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(Xm, Ym)
    clf.save(tmp_path / "m.synnet")
    np.testing.assert_array_equal(MLPClassifier.load(tmp_path / "m.synnet").predict(Xm),
                                  clf.predict(Xm))
    with pytest.raises(synnet.ModelFileError, match="not a MLPRegressor"):
        MLPRegressor.load(tmp_path / "m.synnet")


def test_save_needs_a_fitted_estimator(tmp_path: Path) -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MLPClassifier().save(tmp_path / "x.synnet")
    assert not (tmp_path / "x.synnet").exists()


@pytest.mark.parametrize("early_stopping", [False, True])
def test_estimator_resumes_to_the_same_result(tmp_path: Path, early_stopping: bool) -> None:
    X, y = _iris()
    common = dict(hidden_layer_sizes=(16,), dropout=0.2, early_stopping=early_stopping,
                  n_iter_no_change=1000, random_state=3, batch_size=16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full = MLPClassifier(max_iter=40, **common).fit(X, y)
        MLPClassifier(max_iter=15, callbacks=[synnet.Checkpoint(tmp_path)], **common).fit(X, y)
        ckpt = synnet.Checkpoint(tmp_path, resume=True)
        resumed = MLPClassifier(max_iter=40, callbacks=[ckpt], **common).fit(X, y)
    assert ckpt.resumed_from == 15
    assert resumed.n_iter_ == full.n_iter_ == 40
    assert resumed.loss_curve_ == full.loss_curve_
    assert resumed.validation_scores_ == full.validation_scores_
    for a, b in zip(resumed.coefs_ + resumed.intercepts_, full.coefs_ + full.intercepts_):
        np.testing.assert_array_equal(a, b)


def test_fitted_attributes_that_are_none_survive_the_round_trip(tmp_path):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    with pytest.warns(Warning):
        clf = synnet.MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, early_stopping=True,
                                   random_state=0).fit(X, y)
    clf.save(tmp_path / "c.synnet")
    loaded = synnet.MLPClassifier.load(tmp_path / "c.synnet")
    assert clf.best_loss_ is None and loaded.best_loss_ is None
    for name in ("n_iter_", "t_", "loss_", "loss_curve_", "validation_scores_",
                 "best_validation_score_", "validation_loss_curve_"):
        assert getattr(loaded, name) == getattr(clf, name), name
