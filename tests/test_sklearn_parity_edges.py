"""synnet's MLPs behave as scikit-learn's at the edges: divergence, tiny or one-class
data, log-probabilities, pickles, warnings and errors. Every test runs
scikit-learn side by side (issue 10) and compares.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")
joblib = pytest.importorskip("joblib")

from sklearn import neural_network as sk  # noqa: E402
from sklearn.datasets import load_iris, make_multilabel_classification  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import synnet  # noqa: E402
from synnet import DivergenceError, Network  # noqa: E402
from synnet.core.layers import Dense  # noqa: E402
from synnet.errors import NonFiniteWeightsError  # noqa: E402

X_IRIS_RAW, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = StandardScaler().fit_transform(X_IRIS_RAW)


class Outcome:
    """What a call did: its result or its exception, and the warnings it raised."""

    def __init__(self, call: Callable[[], Any], reference: bool) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if reference:  # scikit-learn is not written for np.seterr(all="raise")
                    with np.errstate(all="ignore"):
                        self.result = call()
                else:
                    self.result = call()
            except Exception as exc:
                self.error = exc
        self.warnings = sorted({(w.category.__name__, str(w.message)) for w in caught})


def both(make: Callable[[Any], Any]) -> tuple[Outcome, Outcome]:
    """``make(module)`` run with synnet and with scikit-learn's neural_network."""
    return Outcome(lambda: make(synnet), False), Outcome(lambda: make(sk), True)


def assert_same_fit(ours: Any, ref: Any, rtol: float = 1e-9, atol: float = 1e-12) -> None:
    for name in ("n_iter_", "t_", "n_outputs_", "out_activation_", "loss_", "best_loss_",
                 "loss_curve_", "validation_scores_", "best_validation_score_", "classes_"):
        assert hasattr(ours, name) == hasattr(ref, name), name
        if hasattr(ref, name):
            a, b = getattr(ours, name), getattr(ref, name)
            if b is None or isinstance(b, str):
                assert a == b, name
            elif name == "classes_":
                np.testing.assert_array_equal(a, b)
            else:  # nan equals nan here, as it should
                np.testing.assert_allclose(np.asarray(a, dtype=float), b, rtol=rtol,
                                           atol=atol, err_msg=name)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def assert_refused_before_any_work(est: Any) -> None:
    """synnet refuses before setting anything (scikit-learn has set its weights by then)."""
    assert not hasattr(est, "network_") and not hasattr(est, "classes_")
    assert not hasattr(est, "n_iter_") and not hasattr(est, "coefs_")


# -- 1. non-finite weights: scikit-learn's ValueError, synnet's advice after it ---------
def test_non_finite_weights_raise_sklearns_value_error() -> None:
    rng = np.random.RandomState(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    y = rng.uniform(size=10)
    ours, ref = both(lambda m: m.MLPRegressor().fit(X, y))
    assert type(ref.error) is ValueError
    assert isinstance(ours.error, ValueError) and isinstance(ours.error, DivergenceError)
    assert isinstance(ours.error, NonFiniteWeightsError)
    message = str(ours.error)
    assert message.startswith(str(ref.error))  # scikit-learn's sentence, then synnet's
    assert "diverged at epoch 0" in message and "StandardScaler" in message


@pytest.mark.parametrize("params", [dict(solver="sgd"), dict(solver="lbfgs"),
                                    dict(early_stopping=True)])
def test_huge_inputs_end_as_in_sklearn(params: dict[str, Any]) -> None:
    """lbfgs and early stopping do not raise in scikit-learn: they keep finite weights."""
    rng = np.random.RandomState(0)
    X = 1e200 * rng.uniform(size=(20, 2))
    y = rng.uniform(size=20)
    ours, ref = both(lambda m: m.MLPRegressor(random_state=0, max_iter=20, **params).fit(X, y))
    if ref.error is not None:
        assert type(ref.error) is ValueError
        assert isinstance(ours.error, NonFiniteWeightsError)
        assert str(ours.error).startswith(str(ref.error))
        return
    assert ours.error is None and ours.warnings == ref.warnings
    assert_same_fit(ours.result, ref.result)


def test_partial_fit_divergence_is_sklearns_value_error() -> None:
    X = np.finfo(np.float64).max * np.random.RandomState(0).uniform(size=(10, 2))
    ours, ref = both(lambda m: m.MLPRegressor(random_state=0).partial_fit(X, X[:, 0] * 0))
    assert type(ref.error) is ValueError and isinstance(ours.error, NonFiniteWeightsError)
    assert str(ours.error).startswith(str(ref.error))


# -- 2. divergence with early stopping: nan validation scores, not an error --------------
DIVERGING = dict(hidden_layer_sizes=100, activation="identity", solver="sgd",
                 learning_rate_init=1, max_iter=20, early_stopping=True, n_iter_no_change=10,
                 random_state=0)


def test_divergence_with_early_stopping_gives_nan_scores_as_in_sklearn() -> None:
    ours, ref = both(lambda m: m.MLPRegressor(**DIVERGING).fit(X_IRIS_RAW, Y_IRIS))
    assert ref.error is None and ours.error is None
    assert ours.warnings == ref.warnings  # the max_iter ConvergenceWarning, nothing more
    est = ours.result
    assert isinstance(est.validation_scores_[-1], float) and np.isnan(est.validation_scores_[-1])
    assert_same_fit(est, ref.result, rtol=1e-12)
    assert all(np.isfinite(w).all() for w in est.coefs_)  # the best epoch's, restored
    np.testing.assert_allclose(est.predict(X_IRIS_RAW), ref.result.predict(X_IRIS_RAW))


def test_network_fit_keeps_raising_divergence() -> None:
    """The core keeps its DivergenceError; nonfinite="continue" is what the estimators use."""
    def network() -> Network:
        return Network([Dense(4, 100), Dense(100, 1)], seed=0)

    y = Y_IRIS.astype(float)
    with pytest.raises(DivergenceError, match="diverged at epoch"):
        network().fit(X_IRIS_RAW, y, loss="mse", optimizer="sgd", epochs=20, batch_size=200)
    net = network()
    history = net.fit(X_IRIS_RAW, y, loss="mse", optimizer=synnet.SGD(lr=1.0), epochs=20,
                      batch_size=200, validation_data=(X_IRIS_RAW, y), nonfinite="continue")
    losses = history.history["loss"]
    assert len(losses) == 20 and np.isnan(losses[-1]) and np.isfinite(losses[0])
    assert np.isnan(history.history["val_loss"][-1])
    with pytest.raises(ValueError, match="nonfinite"):
        network().fit(X_IRIS_RAW, y, loss="mse", nonfinite="ignore")


# -- 3. predict_log_proba is log(predict_proba), elementwise ------------------------------
def test_multilabel_log_proba_is_log_of_proba_as_in_sklearn() -> None:
    X, y = make_multilabel_classification(n_samples=50, random_state=0, return_indicator=True)
    ours, ref = both(lambda m: m.MLPClassifier(solver="lbfgs", hidden_layer_sizes=30,
                                               random_state=0).fit(X, y))
    assert ours.warnings == ref.warnings
    est = ours.result
    proba = est.predict_proba(X)
    np.testing.assert_array_equal(est.predict_log_proba(X), np.log(proba))
    np.testing.assert_array_equal(est.predict_log_proba(X).argmax(1), proba.argmax(1))
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(est.predict_log_proba(X), ref.result.predict_log_proba(X),
                                   rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("target", ["binary", "multiclass"])
def test_log_proba_of_a_certain_class_is_minus_inf_as_in_sklearn(target: str) -> None:
    y = Y_IRIS == 0 if target == "binary" else Y_IRIS
    fitted = both(lambda m: m.MLPClassifier(max_iter=5, hidden_layer_sizes=(8,),
                                            random_state=0).fit(X_IRIS, y))
    ests = [outcome.result for outcome in fitted]
    for est in ests:
        est.coefs_[-1][...] *= 1e4  # logits of thousands: probabilities round to 0 and 1
    with np.errstate(all="ignore"):
        logs = [est.predict_log_proba(X_IRIS) for est in ests]
    assert np.isneginf(logs[1]).any()
    np.testing.assert_allclose(logs[0], logs[1], rtol=1e-9)  # -inf where scikit-learn's is
    caught = []
    for est in ests:  # log(0) warns alike under NumPy's default error handling
        with warnings.catch_warnings(record=True) as w, np.errstate(
                all="ignore", divide="warn"):
            warnings.simplefilter("always")
            est.predict_log_proba(X_IRIS)
        caught.append(sorted({(x.category, str(x.message)) for x in w}))
    assert caught[0] == caught[1] == [(RuntimeWarning, "divide by zero encountered in log")]


# -- 4. the early-stopping split: stratified for classifiers, same rows, same errors -------
@pytest.mark.parametrize("X, y, params", [
    ([[1, 2], [2, 3], [3, 4], [4, 5]], [0, 0, 0, 1], {}),  # a class of one member
    (X_IRIS, Y_IRIS, dict(validation_fraction=0.0)),
    (X_IRIS[:1], Y_IRIS[:1], {}),
    (X_IRIS[:4], [0, 1, 0, 1], dict(validation_fraction=0.25)),  # 1 row, 2 classes
    (X_IRIS[:5], Y_IRIS[:5] * 0, {}),  # one class, too few rows to hold out
], ids=["least populated class", "fraction 0", "one row", "fewer rows than classes",
        "small"])
def test_early_stopping_split_errors_are_sklearns(X: Any, y: Any, params: dict[str, Any]
                                                   ) -> None:
    ests = {m: m.MLPClassifier(early_stopping=True, **params) for m in (synnet, sk)}
    ours, ref = both(lambda m: ests[m].fit(X, y))
    assert type(ref.error) is ValueError and type(ours.error) is ValueError
    assert str(ours.error) == str(ref.error)
    assert_refused_before_any_work(ests[synnet])


@pytest.mark.parametrize("target", ["binary strings", "one class", "multiclass tiny class"])
def test_early_stopping_holds_out_the_rows_sklearn_holds_out(target: str) -> None:
    y: Any = {"binary strings": np.where(Y_IRIS == 1, "yes", "no"),
              "one class": np.full(150, 7),
              # scikit-learn does not stratify several outputs: a class of one is fine
              "multiclass tiny class": np.r_[Y_IRIS[:-1], 3]}[target]
    w = np.random.RandomState(1).uniform(0.5, 2.0, 150)
    ours, ref = both(lambda m: m.MLPClassifier(
        early_stopping=True, validation_fraction=0.2, hidden_layer_sizes=(5,), shuffle=False,
        max_iter=8, random_state=0).fit(X_IRIS, y, sample_weight=w))
    assert ours.error is None and ref.error is None
    assert ours.warnings == ref.warnings
    assert_same_fit(ours.result, ref.result)


# -- 5. partial_fit after a pickle round trip trains --------------------------------------
def _joblib_round_trip(est: Any, tmp_path: Path) -> Any:
    buf = io.BytesIO()
    joblib.dump(est, buf)
    buf.seek(0)
    return joblib.load(buf)


def _synnet_file_round_trip(est: Any, tmp_path: Path) -> Any:
    est.save(tmp_path / "est.synnet")
    return type(est).load(tmp_path / "est.synnet")


@pytest.mark.parametrize("round_trip", [_joblib_round_trip, _synnet_file_round_trip],
                         ids=["joblib", "synnet file"])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_partial_fit_after_a_round_trip_trains_as_in_sklearn(
        round_trip: Callable[[Any, Path], Any], solver: str, tmp_path: Path) -> None:
    params = dict(hidden_layer_sizes=(42,), random_state=42, learning_rate_init=0.01,
                  max_iter=200, solver=solver)
    ours, ref = both(lambda m: m.MLPRegressor(**params).fit([[2]], [4]))
    ours_est = round_trip(ours.result, tmp_path)
    ref_est = _joblib_round_trip(ref.result, tmp_path)
    for _ in range(200):
        ours_est.partial_fit([[2]], [1])
        ref_est.partial_fit([[2]], [1])
    np.testing.assert_allclose(ours_est.predict([[2]]), [1], rtol=1e-4)
    np.testing.assert_allclose(ours_est.predict([[2]]), ref_est.predict([[2]]), rtol=1e-9)
    assert_same_fit(ours_est, ref_est)


def test_a_joblib_loaded_network_trains_its_own_arrays() -> None:
    """The cause: joblib pickles each array apart, so views must be rebuilt on load."""
    est = synnet.MLPClassifier(hidden_layer_sizes=(4,), dropout=0.1, max_iter=2,
                               random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X_IRIS, Y_IRIS)
    loaded = _joblib_round_trip(est, Path())
    net = loaded.network_
    for i, layer in enumerate(net.layers):
        for key in getattr(layer, "params", {}):
            assert net.params[f"{i}.{key}"] is layer.params[key]
            assert net.grads[f"{i}.{key}"] is layer.grads[key]


# -- 6. one class in y ------------------------------------------------------------------
def test_one_class_fits_as_in_sklearn(tmp_path: Path) -> None:
    X = pd.DataFrame(np.random.RandomState(0).uniform(size=(10, 3)), columns=["a", "b", "c"])
    y = pd.Series(np.full(10, 1))
    ours, ref = both(lambda m: m.MLPClassifier(early_stopping=True, validation_fraction=0.2,
                                               random_state=0).fit(X, y))
    assert ours.error is None and ref.error is None
    assert ours.warnings == ref.warnings  # nothing about feature names
    assert not [w for w in ours.warnings if "feature names" in w[1]]
    assert_same_fit(ours.result, ref.result)
    ests = [ours.result, ref.result]
    for method in ("predict", "predict_proba", "predict_log_proba"):
        a, b = both(lambda m: getattr(ests[m is sk], method)(X))  # noqa: B023
        np.testing.assert_allclose(a.result, b.result, rtol=1e-9)
        assert a.warnings == b.warnings == []
    with pytest.raises(ValueError, match="single class"):  # a model file needs two
        ests[0].save(tmp_path / "one.synnet")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("how", ["sample weights leave one class", "partial_fit",
                                 "multilabel, one label always on", "lbfgs"])
def test_one_class_in_other_ways_as_in_sklearn(how: str) -> None:
    def fit(m: Any) -> Any:
        est = m.MLPClassifier(hidden_layer_sizes=(6,), max_iter=5, random_state=0,
                              solver="lbfgs" if how == "lbfgs" else "adam")
        if how == "sample weights leave one class":
            return est.fit(X_IRIS, Y_IRIS, sample_weight=(Y_IRIS == 1).astype(float))
        if how == "partial_fit":
            return est.partial_fit(X_IRIS, np.ones(150), classes=[1])
        if how == "lbfgs":
            return est.fit(X_IRIS, np.zeros(150))
        return est.fit(X_IRIS, np.c_[np.ones(150, int), Y_IRIS == 1])

    ours, ref = both(fit)
    assert ours.error is None and ref.error is None and ours.warnings == ref.warnings
    assert_same_fit(ours.result, ref.result, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(ours.result.predict(X_IRIS), ref.result.predict(X_IRIS))


# -- warnings about feature names ---------------------------------------------------------
@pytest.mark.parametrize("fit_with, call_with", [("frame", "array"), ("array", "frame")])
@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba", "score",
                                    "partial_fit"])
def test_feature_name_warnings_as_in_sklearn(fit_with: str, call_with: str,
                                             method: str) -> None:
    frame = pd.DataFrame(X_IRIS, columns=["a", "b", "c", "d"])
    data = {"frame": frame, "array": X_IRIS}
    pair = [m.MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0, shuffle=False)
            for m in (synnet, sk)]
    fits = [Outcome(lambda: est.fit(data[fit_with], Y_IRIS), m is sk)  # noqa: B023
            for est, m in zip(pair, (synnet, sk))]
    assert fits[0].warnings == fits[1].warnings
    args = [data[call_with]] + ([Y_IRIS] if method in ("score", "partial_fit") else [])
    ours, ref = both(lambda m: getattr(pair[m is sk], method)(*args))
    assert ours.error is None and ref.error is None
    assert ours.warnings == ref.warnings and len(ref.warnings) == 1


# -- other errors and warnings ---------------------------------------------------------------
def test_lbfgs_without_any_finite_loss_warns_as_in_sklearn() -> None:
    ours, ref = both(lambda m: m.MLPRegressor(solver="lbfgs", random_state=0, max_iter=5)
                     .fit(X_IRIS * 1e200, Y_IRIS))
    assert ours.error is None and ref.error is None
    assert ours.warnings == ref.warnings and "ABNORMAL" in ours.warnings[0][1]
    assert np.isnan(ours.result.loss_) and np.isnan(ref.result.loss_)
    assert_same_fit(ours.result, ref.result)


@pytest.mark.parametrize("sizes", [(4.5,), (4, 0), (-1,)])
def test_bad_hidden_layer_sizes_raise_sklearns_error_type(sizes: Any) -> None:
    ours, ref = both(lambda m: m.MLPRegressor(hidden_layer_sizes=sizes).fit(X_IRIS, Y_IRIS))
    assert ref.error is not None and type(ours.error) is type(ref.error)
    if isinstance(ref.error, ValueError):
        assert str(ours.error) == str(ref.error)


def test_validation_weights_all_zero_raise_sklearns_error() -> None:
    w = np.zeros(150)
    w[[0, 75]] = 1.0  # every held-out row of this split weighs 0
    ests = {m: m.MLPClassifier(early_stopping=True, max_iter=3, random_state=0)
            for m in (synnet, sk)}
    ours, ref = both(lambda m: ests[m].fit(X_IRIS, Y_IRIS, sample_weight=w))
    assert type(ref.error) is ValueError and type(ours.error) is ValueError
    assert str(ours.error) == str(ref.error)
    assert_refused_before_any_work(ests[synnet])


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_float32_after_a_float64_fit_is_silent_as_in_sklearn(solver: str) -> None:
    def fit(m: Any) -> Any:
        est = m.MLPRegressor(hidden_layer_sizes=(6,), max_iter=3, random_state=0,
                             shuffle=False, warm_start=True, solver=solver).fit(X_IRIS, Y_IRIS)
        est.fit(X_IRIS.astype(np.float32), Y_IRIS)
        return est.partial_fit(X_IRIS.astype(np.float32), Y_IRIS) if solver == "adam" else est

    ours, ref = both(fit)
    assert ours.error is None and ref.error is None and ours.warnings == ref.warnings
    assert ours.result.coefs_[0].dtype == ref.result.coefs_[0].dtype == np.float64
    assert_same_fit(ours.result, ref.result, rtol=1e-5, atol=1e-6)
