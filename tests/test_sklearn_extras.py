"""What synnet adds to scikit-learn's MLPs, and how they travel (pickle, clone, CV, pipelines)."""

from __future__ import annotations

import io
import pickle
import subprocess
import sys
import warnings
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")

import joblib
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from synnet import (
    Callback,
    Dense,
    Dropout,
    EarlyStopping,
    LambdaCallback,
    MLPClassifier,
    MLPRegressor,
    Network,
)

_X, Y = load_iris(return_X_y=True)
X = StandardScaler().fit_transform(_X)
FAST = dict(max_iter=5, random_state=0, hidden_layer_sizes=(8,))


@pytest.fixture(autouse=True)
def _quiet_convergence() -> Any:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        yield


def _weights(est: Any) -> list[np.ndarray]:
    return est.coefs_ + est.intercepts_


def _assert_same_fit(a: Any, b: Any) -> None:
    for u, v in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(u, v)


# -- per-layer activations and dropout --------------------------------------------
def test_activation_per_layer_builds_those_layers() -> None:
    est = MLPClassifier(hidden_layer_sizes=(6, 5, 4), activation=["relu", "tanh", "logistic"],
                        max_iter=3, random_state=0).fit(X, Y)
    dense = [layer for layer in est.network_.layers if isinstance(layer, Dense)]
    assert [d.activation.kind for d in dense] == ["relu", "tanh", "sigmoid", "softmax"]
    assert [d.out_features for d in dense] == [6, 5, 4, 3]


@pytest.mark.parametrize("name", ["relu", "logistic"])
def test_activation_list_of_one_name_equals_the_name(name: str) -> None:
    params = dict(FAST, hidden_layer_sizes=(6, 5))
    a = MLPRegressor(activation=name, **params)
    b = MLPRegressor(activation=[name, name], **params)
    _assert_same_fit(a.fit(X, Y), b.fit(X, Y))


def test_dropout_layers_and_rates() -> None:
    est = MLPClassifier(hidden_layer_sizes=(6, 5, 4), dropout=[0.5, 0.0, 0.25], max_iter=2,
                        random_state=0).fit(X, Y)
    kinds = [(type(layer).__name__, getattr(layer, "rate", None)) for layer in est.network_.layers]
    assert kinds == [("Dense", None), ("Dropout", 0.5), ("Dense", None), ("Dense", None),
                     ("Dropout", 0.25), ("Dense", None)]
    single = MLPClassifier(hidden_layer_sizes=(6, 5), dropout=0.3, max_iter=2).fit(X, Y)
    assert [layer.rate for layer in single.network_.layers if isinstance(layer, Dropout)] == [
        0.3, 0.3]
    assert not any(isinstance(layer, Dropout)
                   for layer in MLPClassifier(**FAST).fit(X, Y).network_.layers)


def test_dropout_trains_differently_predicts_deterministically() -> None:
    plain = MLPClassifier(**FAST).fit(X, Y)
    a = MLPClassifier(dropout=0.4, **FAST).fit(X, Y)
    b = MLPClassifier(dropout=0.4, **FAST).fit(X, Y)
    _assert_same_fit(a, b)  # reproducible with the same random_state
    assert not np.allclose(a.coefs_[0], plain.coefs_[0])
    np.testing.assert_array_equal(a.predict_proba(X), a.predict_proba(X))  # inference: no drop
    # Initial weights do not depend on dropout: one epoch without any dropped unit is
    # the plain network's.
    np.testing.assert_array_equal(
        MLPClassifier(dropout=0.4, **FAST).set_params(max_iter=1).fit(X, Y).coefs_[0].shape,
        plain.coefs_[0].shape)


def test_dropout_sample_weight_in_expectation() -> None:
    """sample_weight=k matches k copies on average over dropout masks (not exactly: see
    test_sklearn_checks), and not the unweighted fit."""
    rng = np.random.RandomState(0)
    Xs = rng.uniform(-1, 1, (40, 2))
    y = np.where(Xs[:, 0] > 0, 1.0, -1.0) + Xs[:, 1]
    w = np.where(Xs[:, 0] > 0, 4, 1)
    Xr, yr = np.repeat(Xs, w, axis=0), np.repeat(y, w)
    params = dict(hidden_layer_sizes=(16,), dropout=0.3, solver="lbfgs")
    del params["solver"]
    grid = np.c_[np.linspace(-1, 1, 9), np.zeros(9)]

    def mean_prediction(**fit: Any) -> np.ndarray:
        preds = [MLPRegressor(**params, max_iter=150, learning_rate_init=0.01, batch_size=1000,
                              random_state=seed).fit(**fit).predict(grid) for seed in range(6)]
        return np.mean(preds, axis=0)

    weighted = mean_prediction(X=Xs, y=y, sample_weight=w)
    repeated = mean_prediction(X=Xr, y=yr)
    unweighted = mean_prediction(X=Xs, y=y)
    assert np.abs(weighted - repeated).mean() < np.abs(weighted - unweighted).mean() / 3


# -- class weights ---------------------------------------------------------------------
@pytest.mark.parametrize("class_weight", [{0: 1.0, 1: 5.0, 2: 0.5}, "balanced"])
def test_class_weight_is_a_sample_weight(class_weight: Any) -> None:
    keep = np.r_[0:50, 50:70, 100:150]  # unbalanced
    Xu, yu = X[keep], Y[keep]
    sw = np.random.RandomState(0).rand(len(yu))
    a = MLPClassifier(class_weight=class_weight, **FAST).fit(Xu, yu, sample_weight=sw)
    b = MLPClassifier(**FAST).fit(Xu, yu, sample_weight=sw * compute_sample_weight(
        class_weight, yu))
    _assert_same_fit(a, b)
    assert not np.allclose(a.coefs_[0], MLPClassifier(**FAST).fit(Xu, yu, sw).coefs_[0])


def test_class_weight_with_string_labels_and_partial_fit() -> None:
    y = np.array(["a", "b", "c"])[Y]
    a = MLPClassifier(class_weight={"a": 2.0, "b": 1.0, "c": 1.0}, **FAST)
    a.partial_fit(X, y, classes=["a", "b", "c"])
    b = MLPClassifier(**FAST).partial_fit(X, y, sample_weight=np.where(y == "a", 2.0, 1.0),
                                          classes=["a", "b", "c"])
    _assert_same_fit(a, b)


# -- validation loss curve ------------------------------------------------------------
def _early_stopping_split(est: Any, X: np.ndarray, y: np.ndarray, stratify: bool) -> Any:
    """The split scikit-learn (and synnet) hold out: drawn after the initial weights."""
    rs = np.random.RandomState(est.random_state)
    for w in _weights(est)[: len(est.coefs_)]:  # the same draws as the initialization
        rs.uniform(size=w.shape)
        rs.uniform(size=w.shape[1])
    return train_test_split(X, y, random_state=rs, test_size=est.validation_fraction,
                            stratify=y if stratify else None)


def test_validation_loss_curve_is_the_loss_on_the_held_out_split() -> None:
    y = (Y == 1).astype(int)
    est = MLPClassifier(early_stopping=True, max_iter=1, random_state=0,
                        hidden_layer_sizes=(5, 4)).fit(X, y)
    _, X_val, _, y_val = _early_stopping_split(est, X, y, stratify=True)
    assert len(est.validation_loss_curve_) == len(est.validation_scores_) == 1
    expected = log_loss(y_val, est.predict_proba(X_val))
    np.testing.assert_allclose(est.validation_loss_curve_[0], expected, rtol=1e-12)
    np.testing.assert_allclose(est.validation_scores_[0], est.score(X_val, y_val))

    reg = MLPRegressor(early_stopping=True, max_iter=1, random_state=0).fit(X, X[:, 0])
    _, X_val, _, y_val = _early_stopping_split(reg, X, X[:, 0], stratify=False)
    expected = 0.5 * np.mean((reg.predict(X_val) - y_val) ** 2)
    np.testing.assert_allclose(reg.validation_loss_curve_[0], expected, rtol=1e-12)


def test_validation_loss_curve_follows_training() -> None:
    est = MLPRegressor(early_stopping=True, max_iter=30, n_iter_no_change=50, random_state=0,
                       learning_rate_init=0.01).fit(X, X[:, 0] * X[:, 1])
    assert len(est.validation_loss_curve_) == est.n_iter_ == 30
    assert est.validation_loss_curve_[-1] < est.validation_loss_curve_[0]
    plain = MLPRegressor(**FAST).fit(X, X[:, 0])
    assert plain.validation_loss_curve_ is None and plain.validation_scores_ is None
    assert not hasattr(MLPRegressor(solver="lbfgs", **FAST).fit(X, X[:, 0]),
                       "validation_loss_curve_")


# -- callbacks ------------------------------------------------------------------------
def test_callbacks_see_every_epoch_and_can_stop_training() -> None:
    seen: list[tuple[int, dict[str, float]]] = []
    batches: list[int] = []

    def on_epoch_end(epoch: int, logs: dict[str, float]) -> None:
        seen.append((epoch, dict(logs)))
        if len(seen) == 3:
            stopper.network.stop_training = True

    stopper = LambdaCallback(on_epoch_end=on_epoch_end,
                             on_batch_end=lambda b, logs: batches.append(b))
    est = MLPClassifier(batch_size=50, early_stopping=True, callbacks=[stopper],
                        max_iter=100, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, Y)
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 3
    assert [e for e, _ in seen] == [0, 1, 2]
    assert [logs["loss"] for _, logs in seen] == est.loss_curve_
    assert [logs["val_loss"] for _, logs in seen] == est.validation_loss_curve_
    assert batches == [0, 1, 2] * 3  # 135 training rows in batches of 50
    assert stopper.network is est.network_


def test_synnet_early_stopping_callback_on_val_loss() -> None:
    stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    est = MLPRegressor(early_stopping=True, n_iter_no_change=1000, callbacks=[stop],
                       learning_rate_init=0.05, max_iter=500, random_state=0)
    est.fit(X, X[:, 0] * X[:, 1])
    assert est.n_iter_ < 500 and stop.stopped_epoch == est.n_iter_ - 1


def test_callbacks_with_partial_fit_and_clone() -> None:
    class Count(Callback):
        epochs = 0

        def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
            self.epochs += 1

    count = Count()
    est = MLPRegressor(callbacks=[count], **FAST)
    for _ in range(3):
        est.partial_fit(X, X[:, 0])
    assert count.epochs == 3
    copy = clone(est)
    assert copy.callbacks[0] is not count and isinstance(copy.callbacks[0], Count)
    with pytest.raises(TypeError, match="Callback"):
        MLPRegressor(callbacks=[print], **FAST).fit(X, X[:, 0])


def test_keyboard_interrupt_keeps_the_model_like_sklearn() -> None:
    def interrupt(epoch: int, logs: dict[str, float]) -> None:
        if epoch == 3:
            raise KeyboardInterrupt

    est = MLPClassifier(early_stopping=True, random_state=0,
                        callbacks=[LambdaCallback(on_epoch_end=interrupt)])
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        est.fit(X, Y)
    assert est.n_iter_ == 4 and est.predict(X).shape == (150,)


def test_callbacks_need_a_stochastic_solver() -> None:
    with pytest.raises(ValueError, match="need solver='adam' or 'sgd'"):
        MLPClassifier(solver="lbfgs", callbacks=[LambdaCallback()]).fit(X, Y)


# -- the network behind ----------------------------------------------------------------
def test_network_and_coefs_are_the_same_arrays() -> None:
    est = MLPClassifier(hidden_layer_sizes=(6, 5), dropout=0.1, max_iter=3, random_state=0)
    est.fit(X, Y)
    assert isinstance(est.network_, Network)
    assert est.n_layers_ == 4 and [c.shape for c in est.coefs_] == [(4, 6), (6, 5), (5, 3)]
    dense = [i for i, layer in enumerate(est.network_.layers) if isinstance(layer, Dense)]
    assert dense == [0, 2, 4]  # Dropout after each hidden layer
    assert all(np.shares_memory(c, est.network_.params[f"{i}.W"])
               for c, i in zip(est.coefs_, dense))
    before = est.predict_proba(X)
    est.intercepts_ = [b + 1.0 for b in est.intercepts_[:-1]] + [est.intercepts_[-1] * 0]
    after = est.predict_proba(X)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, est.network_.predict(X))
    with pytest.raises(ValueError, match="shape"):
        est.coefs_ = [c.T for c in est.coefs_]


def test_random_state_none_leaves_global_state_alone() -> None:
    # The legacy global state is the very thing under test here.
    np.random.seed(0)  # noqa: NPY002
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    a = MLPClassifier(max_iter=2).fit(X, Y)
    b = MLPClassifier(max_iter=2).fit(X, Y)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    assert not np.allclose(a.coefs_[0], b.coefs_[0])  # fresh entropy each time


# -- pickle, clone, model selection ------------------------------------------------------
@pytest.mark.parametrize("est", [
    MLPClassifier(**FAST), MLPRegressor(**FAST),
    MLPClassifier(dropout=0.2, activation=["tanh"], early_stopping=True, **FAST),
    MLPClassifier(solver="lbfgs", **FAST),
])
def test_pickle_and_joblib_round_trip(est: Any) -> None:
    y = Y if isinstance(est, MLPClassifier) else X[:, 0]
    est.fit(X, y)
    for restored in (pickle.loads(pickle.dumps(est)), _joblib_round_trip(est)):
        np.testing.assert_array_equal(restored.predict(X), est.predict(X))
        assert restored.get_params().keys() == est.get_params().keys()
    if est.solver != "lbfgs" and not est.early_stopping:
        # The optimizer state travels too: training resumes identically.
        again = pickle.loads(pickle.dumps(est))
        est.partial_fit(X, y)
        again.partial_fit(X, y)
        _assert_same_fit(est, again)


def _joblib_round_trip(est: Any) -> Any:
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


def test_pickle_holds_no_training_data() -> None:
    rng = np.random.RandomState(0)
    Xbig = rng.rand(20_000, 20)
    for solver in ("adam", "lbfgs"):
        est = MLPRegressor(solver=solver, hidden_layer_sizes=(4,), max_iter=1, batch_size=20_000,
                           random_state=0).fit(Xbig, Xbig[:, 0])
        assert len(pickle.dumps(est)) < Xbig.nbytes / 20


def test_clone_gives_an_unfitted_copy() -> None:
    est = MLPClassifier(activation=["tanh", "relu"], dropout=[0.1, 0], class_weight={0: 2},
                        **dict(FAST, hidden_layer_sizes=(4, 3))).fit(X, Y)
    copy = clone(est)
    assert copy.get_params() == est.get_params() and not hasattr(copy, "network_")


def test_grid_search_in_two_processes_matches_one() -> None:
    grid = {"alpha": [1e-4, 1.0], "activation": ["relu", ["tanh"]]}
    searches = [GridSearchCV(MLPClassifier(**FAST), grid, cv=2, n_jobs=n).fit(X, Y)
                for n in (1, 2)]
    np.testing.assert_array_equal(searches[0].cv_results_["mean_test_score"],
                                  searches[1].cv_results_["mean_test_score"])
    assert searches[1].best_estimator_.network_ is not None


def test_cross_val_score_with_a_pipeline() -> None:
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=300, random_state=0))
    scores = cross_val_score(pipe, _X, Y, cv=3)
    assert scores.mean() > 0.85


# -- optional dependency --------------------------------------------------------------------
def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)


def test_import_synnet_does_not_import_sklearn() -> None:
    result = _run("import sys, synnet\n"
                  "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))\n"
                  "synnet.MLPClassifier\n"
                  "print('sklearn' in sys.modules)")
    assert result.stdout.split("\n")[:2] == ["[]", "True"], result.stderr


@pytest.mark.parametrize("missing", ["sklearn", "scipy"])
def test_missing_dependency_names_the_extra(missing: str) -> None:
    result = _run(f"import sys\nsys.modules[{missing!r}] = None\nimport synnet\n"
                  "try:\n    synnet.MLPRegressor\nexcept ImportError as e:\n    print(e)")
    assert "pip install synnet[sklearn]" in result.stdout, result.stderr
