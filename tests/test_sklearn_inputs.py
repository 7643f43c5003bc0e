"""Inputs the way scikit-learn takes them, and its kind of errors, raised before training."""

from __future__ import annotations

import tracemalloc
import warnings
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")
sp = pytest.importorskip("scipy.sparse")

from sklearn.datasets import load_iris  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402

from synnet import DivergenceError, MLPClassifier, MLPRegressor  # noqa: E402

_X, Y = load_iris(return_X_y=True)
X = StandardScaler().fit_transform(_X)
FAST = dict(max_iter=5, random_state=0, hidden_layer_sizes=(8,))


@pytest.fixture(autouse=True)
def _quiet_convergence() -> Any:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*optimization hasn't converged")
        warnings.filterwarnings("ignore", message="lbfgs failed to converge")
        yield


def _weights(est: Any) -> list[np.ndarray]:
    return est.coefs_ + est.intercepts_


def _assert_same_fit(a: Any, b: Any) -> None:
    for u, v in zip(_weights(a), _weights(b)):
        np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12)


# -- input forms ---------------------------------------------------------------
def test_lists_work_like_arrays() -> None:
    a = MLPClassifier(**FAST).fit(X.tolist(), Y.tolist())
    b = MLPClassifier(**FAST).fit(X, Y)
    _assert_same_fit(a, b)
    assert a.predict(X[:5].tolist()).tolist() == b.predict(X[:5]).tolist()


def test_dataframe_feature_names_are_recorded_and_checked() -> None:
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    est = MLPClassifier(**FAST).fit(df, pd.Series(np.array(["x", "y", "z"])[Y]))
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "b", "c", "d"])
    assert est.n_features_in_ == 4
    assert set(est.predict(df)) <= {"x", "y", "z"}
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(df.rename(columns={"a": "A"}))
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(df[["b", "a", "c", "d"]])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        est.predict(X)
    assert not hasattr(MLPClassifier(**FAST).fit(X, Y), "feature_names_in_")


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_X_trains_like_dense(solver: str, fmt: str) -> None:
    Xs = sp.random(80, 12, density=0.3, format=fmt, random_state=0)
    y = np.arange(80) % 3
    params = dict(FAST, solver=solver, batch_size=16, max_iter=4)
    a = MLPClassifier(**params).fit(Xs, y)
    b = MLPClassifier(**params).fit(Xs.toarray(), y)
    _assert_same_fit(a, b)
    np.testing.assert_allclose(a.predict_proba(Xs), b.predict_proba(Xs.toarray()))


def test_sparse_X_with_early_stopping_and_float32() -> None:
    Xs = sp.random(100, 12, density=0.3, format="csr", random_state=0, dtype=np.float32)
    y = np.arange(100) % 2
    est = MLPClassifier(**dict(FAST, early_stopping=True)).fit(Xs, y)
    dense = MLPClassifier(**dict(FAST, early_stopping=True)).fit(Xs.toarray(), y)
    assert est.coefs_[0].dtype == np.float32
    assert est.validation_scores_ == dense.validation_scores_


def test_sparse_X_is_never_densified() -> None:
    rng = np.random.RandomState(0)
    rows, cols = rng.randint(400, size=4000), rng.randint(50_000, size=4000)
    Xs = sp.csr_matrix((rng.rand(4000), (rows, cols)), shape=(400, 50_000))
    dense_bytes = Xs.shape[0] * Xs.shape[1] * 8
    est = MLPClassifier(hidden_layer_sizes=(4,), batch_size=50, max_iter=2, random_state=0)
    tracemalloc.start()
    try:
        est.fit(Xs, np.arange(400) % 2).predict_proba(Xs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < dense_bytes / 4


@pytest.mark.parametrize("labels", [
    np.array(["setosa", "versicolor", "virginica"]), np.array([-7, 0, 12]),
    np.array([1.0, 2.0, 5.0]),
])
def test_class_labels_of_any_kind(labels: np.ndarray) -> None:
    y = labels[Y]
    est = MLPClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(est.classes_, labels)
    pred = est.predict(X)
    assert pred.dtype == y.dtype and set(pred) <= set(labels)
    coded = MLPClassifier(**FAST).fit(X, Y)
    _assert_same_fit(est, coded)  # the labels' spelling does not change the training


def test_binary_labels_give_one_logistic_unit() -> None:
    y = np.where(Y == 0, "no", "yes")
    est = MLPClassifier(**FAST).fit(X, y)
    assert est.n_outputs_ == 1 and est.out_activation_ == "logistic"
    proba = est.predict_proba(X)
    assert proba.shape == (150, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(est.predict(X), est.classes_[proba.argmax(axis=1)])


def test_multilabel_indicator_targets() -> None:
    Ym = np.c_[Y == 0, Y == 1, Y != 2].astype(int)
    est = MLPClassifier(**FAST).fit(X, Ym)
    assert est.n_outputs_ == 3 and est.out_activation_ == "logistic"
    assert est.predict(X).shape == (150, 3) and set(np.unique(est.predict(X))) <= {0, 1}
    proba = est.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_array_equal(est.predict(X), (proba > 0.5).astype(int))
    np.testing.assert_allclose(est.predict_log_proba(X), np.log(proba), rtol=1e-12)


def test_multioutput_regression() -> None:
    Y2 = np.c_[X[:, 0] + X[:, 1], X[:, 2] * 2]
    est = MLPRegressor(**FAST).fit(X, Y2)
    assert est.n_outputs_ == 2 and est.predict(X).shape == (150, 2)
    assert MLPRegressor(**FAST).fit(X, Y2[:, 0]).predict(X).shape == (150,)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_float32_stays_float32(solver: str) -> None:
    X32 = X.astype(np.float32)
    clf = MLPClassifier(**dict(FAST, solver=solver)).fit(X32, Y)
    assert all(w.dtype == np.float32 for w in _weights(clf))
    assert clf.predict_proba(X32).dtype == np.float32
    assert clf.predict_log_proba(X32).dtype == np.float32
    reg = MLPRegressor(**dict(FAST, solver=solver)).fit(X32, X32[:, 0])
    assert reg.predict(X32).dtype == np.float32
    assert MLPRegressor(**FAST).fit(X.astype(int), Y).coefs_[0].dtype == np.float64


# -- errors, before any training --------------------------------------------------
def _fails_before_training(est: Any, exc: type[Exception], match: str, *args: Any,
                           method: str = "fit", **kwargs: Any) -> None:
    with pytest.raises(exc, match=match):
        getattr(est, method)(*args, **kwargs)
    assert not hasattr(est, "network_")
    with pytest.raises(NotFittedError):  # not even when classes_ was already worked out
        check_is_fitted(est)


@pytest.mark.parametrize("bad, match", [
    (np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity"),
])
def test_non_finite_X(bad: float, match: str) -> None:
    Xb = X.copy()
    Xb[3, 1] = bad
    _fails_before_training(MLPClassifier(**FAST), ValueError, match, Xb, Y)
    _fails_before_training(MLPRegressor(**FAST), ValueError, match, Xb, Y)


def test_non_finite_y() -> None:
    y = Y.astype(float)
    y[0] = np.nan
    _fails_before_training(MLPRegressor(**FAST), ValueError, "Input y contains NaN", X, y)
    _fails_before_training(MLPClassifier(**FAST), ValueError, "Input y contains NaN", X, y)


def test_empty_data() -> None:
    _fails_before_training(MLPClassifier(**FAST), ValueError, "0 sample", X[:0], Y[:0])
    _fails_before_training(MLPRegressor(**FAST), ValueError, "0 feature", X[:, :0], Y)


def test_regression_targets_given_to_classifier() -> None:
    _fails_before_training(MLPClassifier(**FAST), ValueError, "Unknown label type", X,
                           X[:, 0])


def test_feature_count_differs_from_fit() -> None:
    est = MLPClassifier(**dict(FAST, solver="sgd")).fit(X, Y)
    msg = "X has 3 features, but MLPClassifier is expecting 4 features"
    for method in ("predict", "predict_proba", "predict_log_proba", "score"):
        with pytest.raises(ValueError, match=msg):
            getattr(est, method)(X[:, :3], *([Y] if method == "score" else []))
    with pytest.raises(ValueError, match=msg):
        est.partial_fit(X[:, :3], Y)
    est.set_params(warm_start=True)
    with pytest.raises(ValueError, match=msg):
        est.fit(X[:, :3], Y)


def test_partial_fit_needs_classes_first() -> None:
    _fails_before_training(MLPClassifier(**FAST), ValueError, "classes must be passed", X, Y,
                           method="partial_fit")
    est = MLPClassifier(**FAST).partial_fit(X[Y < 2], Y[Y < 2], classes=[0, 1, 2])
    assert est.n_outputs_ == 3  # softmax over all declared classes
    with pytest.raises(ValueError, match="not the same as on last call"):
        est.partial_fit(X, Y, classes=[0, 1])
    with pytest.raises(ValueError, match="classes not in"):
        est.partial_fit(X, Y + 1)


def test_warm_start_needs_the_same_classes_and_layers() -> None:
    est = MLPClassifier(**dict(FAST, warm_start=True)).fit(X, Y)
    with pytest.raises(ValueError, match="same classes"):
        est.fit(X[Y < 2], Y[Y < 2])
    est.set_params(hidden_layer_sizes=(5,))
    with pytest.raises(ValueError, match="differ from the fitted network"):
        est.fit(X, Y)


@pytest.mark.parametrize("params", [
    dict(activation="sigmoid"), dict(solver="rmsprop"), dict(alpha=-1.0), dict(batch_size=0),
    dict(batch_size="all"), dict(learning_rate="cosine"), dict(learning_rate_init=0.0),
    dict(max_iter=0), dict(momentum=1.5), dict(validation_fraction=1.0), dict(beta_1=1.0),
    dict(epsilon=0.0), dict(n_iter_no_change=0), dict(max_fun=0), dict(tol=-1.0),
    dict(shuffle="yes"), dict(random_state="seed"), dict(hidden_layer_sizes=0),
    dict(dropout=1.0), dict(dropout="high"), dict(callbacks="progress"),
    dict(class_weight="auto"),
])
def test_unknown_parameter_values(params: dict[str, Any]) -> None:
    _fails_before_training(MLPClassifier(**params), InvalidParameterError,
                           f"The '{next(iter(params))}' parameter", X, Y)


def test_unknown_regressor_loss() -> None:
    _fails_before_training(MLPRegressor(loss="huber"), InvalidParameterError, "'loss'", X, Y)


@pytest.mark.parametrize("params, match", [
    (dict(hidden_layer_sizes=(4, 4), activation=["relu"]), "one entry per hidden layer"),
    (dict(hidden_layer_sizes=(4, 4), activation=["relu", "sigmoid"]), "activation must be"),
    (dict(hidden_layer_sizes=(4, 4), dropout=[0.1]), "one entry per hidden layer"),
    (dict(hidden_layer_sizes=(4, 4), dropout=[0.1, 1.2]), "dropout must be"),
    (dict(hidden_layer_sizes=(4, -1)), "hidden_layer_sizes must be > 0"),
    (dict(solver="lbfgs", dropout=0.2), "need solver='adam' or 'sgd'"),
    (dict(early_stopping=True, validation_fraction=0.005), "validation set is too small"),
])
def test_inconsistent_parameters(params: dict[str, Any], match: str) -> None:
    _fails_before_training(MLPClassifier(**params), ValueError, match, X, Y)


def test_parameters_that_do_not_fit_partial_fit() -> None:
    _fails_before_training(MLPClassifier(early_stopping=True), ValueError,
                           "partial_fit does not support early_stopping", X, Y,
                           method="partial_fit", classes=[0, 1, 2])
    _fails_before_training(MLPClassifier(class_weight="balanced"), ValueError,
                           "'balanced' is not supported for partial_fit", X, Y,
                           method="partial_fit", classes=[0, 1, 2])
    est = MLPRegressor(solver="lbfgs")
    assert not hasattr(est, "partial_fit")
    with pytest.raises(AttributeError, match="partial_fit"):
        est.partial_fit(X, Y)


def test_class_weight_needs_single_label_targets() -> None:
    Ym = np.c_[Y == 0, Y == 1].astype(int)
    _fails_before_training(MLPClassifier(class_weight="balanced"), ValueError, "multilabel",
                           X, Ym)


def test_poisson_needs_non_negative_targets() -> None:
    _fails_before_training(MLPRegressor(loss="poisson"), ValueError, "negative", X,
                           X[:, 0])


@pytest.mark.parametrize("sample_weight, match", [
    (np.ones(5), "sample_weight.shape"), (-np.ones(150), "Negative values"),
    (np.zeros(150), "weight.*zero|zero.*weight"),
])
def test_bad_sample_weight(sample_weight: np.ndarray, match: str) -> None:
    _fails_before_training(MLPRegressor(**FAST), ValueError, match, X, Y,
                           sample_weight=sample_weight)


def test_unfitted() -> None:
    for method in ("predict", "predict_proba", "predict_log_proba"):
        with pytest.raises(NotFittedError):
            getattr(MLPClassifier(), method)(X)
    assert not hasattr(MLPClassifier(), "coefs_")


# -- divergence ----------------------------------------------------------------
def test_divergence_raises_and_keeps_finite_weights() -> None:
    y = X @ np.array([1e3, 2e3, 3e3, 4e3])
    est = MLPRegressor(solver="sgd", learning_rate_init=1.0, random_state=0, max_iter=50)
    with pytest.raises(DivergenceError, match="diverged at epoch") as info:
        est.fit(X, y)
    # scikit-learn's ValueError too (tests/test_sklearn_parity_edges.py compares the two).
    assert isinstance(info.value, ArithmeticError) and isinstance(info.value, ValueError)
    assert info.value.params == ("learning_rate_init",)
    assert all(np.isfinite(w).all() for w in _weights(est))
    assert np.isfinite(est.predict(X)).all()
    assert len(est.loss_curve_) == est.n_iter_ < 50


def test_a_refused_refit_keeps_the_fitted_classes() -> None:
    from synnet import MLPClassifier

    X = np.random.default_rng(0).normal(size=(30, 2))
    y = np.arange(30) % 3
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    with pytest.warns(Warning):
        clf.fit(X, y)
    with pytest.raises(ValueError, match=r"sample_weight\.shape"):
        clf.fit(X, np.arange(30) % 2, sample_weight=np.ones(5))
    assert clf.classes_.tolist() == [0, 1, 2]
    assert clf.predict(X).shape == (30,)
