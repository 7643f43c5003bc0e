"""synnet's MLPs reproduce scikit-learn's, parameter by parameter.

With the same random_state, synnet draws the same initial weights, the same
early-stopping split and (for one epoch, or per partial_fit call) the same
shuffle as scikit-learn, and its losses, gradients, optimizers and epoch rules
are scikit-learn's, so fitted attributes agree to rounding. (From the second
shuffled epoch on, scikit-learn permutes its previous permutation while synnet
draws a fresh one, so shuffled multi-epoch runs are compared with shuffle=False.)
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn import neural_network as sk  # noqa: E402
from sklearn.datasets import load_diabetes, load_iris, make_multilabel_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import synnet  # noqa: E402
from synnet.sklearn.params import CONSTRAINTS  # noqa: E402

_X_IRIS, _Y_IRIS = load_iris(return_X_y=True)
X_IRIS = StandardScaler().fit_transform(_X_IRIS)
Y_IRIS = _Y_IRIS
# Binary, unbalanced: versicolor against the rest.
Y_BIN = (Y_IRIS == 1).astype(int)
_X_DIA, _Y_DIA = load_diabetes(return_X_y=True)
X_DIA = StandardScaler().fit_transform(_X_DIA)
Y_DIA = (_Y_DIA - _Y_DIA.mean()) / _Y_DIA.std()
X_ML, Y_ML = make_multilabel_classification(120, 8, n_classes=3, random_state=0)
X_ML = StandardScaler().fit_transform(X_ML)

DATA = {
    "multiclass": (X_IRIS, Y_IRIS), "binary": (X_IRIS, Y_BIN), "multilabel": (X_ML, Y_ML),
    "regression": (X_DIA, Y_DIA), "counts": (X_DIA, np.round(np.exp(Y_DIA))),
    "multioutput": (X_DIA, np.c_[Y_DIA, Y_DIA ** 2]),
}


def _pair(kind: str, **params: Any) -> tuple[Any, Any]:
    name = "MLPClassifier" if kind in ("multiclass", "binary", "multilabel") else "MLPRegressor"
    return getattr(synnet, name)(**params), getattr(sk, name)(**params)


def _fit(est: Any, method: str, *args: Any, reference: bool = False, **kwargs: Any
         ) -> list[tuple[type[Warning], str]]:
    """Call est.<method>; return the warnings it raised, (category, message), sorted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if reference:  # scikit-learn's own code is not written for np.seterr(all="raise")
            with np.errstate(all="ignore"):
                getattr(est, method)(*args, **kwargs)
        else:
            getattr(est, method)(*args, **kwargs)
    return sorted({(w.category, str(w.message)) for w in caught},
                  key=lambda w: (w[0].__name__, w[1]))


ATTRIBUTES = ["n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_", "loss_",
              "best_loss_", "loss_curve_", "validation_scores_", "best_validation_score_"]


def assert_same(ours: Any, ref: Any, rtol: float = 1e-9, atol: float = 1e-12,
                weights: bool = True) -> None:
    for name in ATTRIBUTES:
        assert hasattr(ours, name) == hasattr(ref, name), name
        if not hasattr(ref, name):
            continue
        a, b = getattr(ours, name), getattr(ref, name)
        if isinstance(b, (str, type(None))) or name in ("n_iter_", "t_", "n_layers_"):
            assert a == b, name
        else:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=name)
    if hasattr(ref, "classes_"):
        np.testing.assert_array_equal(ours.classes_, ref.classes_)
    assert len(ours.coefs_) == len(ref.coefs_)
    if not weights:
        return
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "adam minibatches": ("multiclass", dict(batch_size=32, shuffle=False, max_iter=40)),
    "adam one shuffled epoch": ("multiclass", dict(batch_size=32, max_iter=1)),
    "adam betas epsilon": ("multiclass", dict(batch_size=50, shuffle=False, max_iter=20,
                                              beta_1=0.5, beta_2=0.9, epsilon=1e-4,
                                              learning_rate_init=0.01)),
    "sgd nesterov": ("multiclass", dict(solver="sgd", batch_size=16, shuffle=False,
                                        max_iter=30, learning_rate_init=0.05)),
    "sgd classic momentum": ("binary", dict(solver="sgd", nesterovs_momentum=False,
                                            momentum=0.5, shuffle=False, max_iter=30)),
    "sgd no momentum": ("regression", dict(solver="sgd", momentum=0.0, shuffle=False,
                                           max_iter=20)),
    "sgd momentum 1": ("multiclass", dict(solver="sgd", momentum=1.0, shuffle=False,
                                          max_iter=3, learning_rate_init=1e-3)),
    "sgd invscaling": ("multiclass", dict(solver="sgd", learning_rate="invscaling",
                                          learning_rate_init=0.5, power_t=0.3,
                                          shuffle=False, max_iter=30)),
    "sgd adaptive": ("multiclass", dict(solver="sgd", learning_rate="adaptive",
                                        learning_rate_init=0.2, n_iter_no_change=2, tol=1e-3,
                                        shuffle=False, max_iter=300)),
    "adaptive ignored by adam": ("multiclass", dict(learning_rate="adaptive", shuffle=False,
                                                    n_iter_no_change=2, tol=1e-2,
                                                    max_iter=100)),
    "tol stops training": ("regression", dict(tol=1e-2, n_iter_no_change=3, shuffle=False,
                                              learning_rate_init=0.01, max_iter=200)),
    "n_iter_no_change inf": ("regression", dict(tol=1.0, n_iter_no_change=np.inf,
                                                shuffle=False, max_iter=15)),
    "alpha": ("multiclass", dict(alpha=1.0, shuffle=False, max_iter=20)),
    "identity two layers": ("multiclass", dict(activation="identity",
                                               hidden_layer_sizes=(7, 5), shuffle=False,
                                               max_iter=20)),
    "logistic": ("binary", dict(activation="logistic", hidden_layer_sizes=(6, 4),
                                shuffle=False, max_iter=20)),
    "tanh int layer size": ("regression", dict(activation="tanh", hidden_layer_sizes=9,
                                               shuffle=False, max_iter=20)),
    "no hidden layer": ("multiclass", dict(hidden_layer_sizes=(), shuffle=False,
                                           max_iter=20)),
    "batch size clipped": ("multiclass", dict(batch_size=1000, max_iter=10)),
    "early stopping binary": ("binary", dict(early_stopping=True, shuffle=False,
                                             max_iter=200, n_iter_no_change=5)),
    "early stopping multiclass": ("multiclass", dict(early_stopping=True, shuffle=False,
                                                     validation_fraction=0.2,
                                                     max_iter=100)),
    "early stopping regression": ("regression", dict(early_stopping=True, shuffle=False,
                                                     learning_rate_init=0.01, max_iter=100)),
    # The split, then the first epoch's shuffle, drawn from one random state in turn.
    "early stopping one shuffled epoch": ("binary", dict(early_stopping=True, batch_size=16,
                                                         max_iter=1)),
    "multilabel": ("multilabel", dict(shuffle=False, max_iter=30)),
    "poisson": ("counts", dict(loss="poisson", shuffle=False, learning_rate_init=0.01,
                               max_iter=20)),
    "multioutput": ("multioutput", dict(shuffle=False, max_iter=20)),
    "lbfgs classifier": ("multiclass", dict(solver="lbfgs", max_iter=40)),
    "lbfgs max_fun": ("binary", dict(solver="lbfgs", max_fun=25)),
    "lbfgs regressor": ("regression", dict(solver="lbfgs", hidden_layer_sizes=(20,),
                                           max_iter=30)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fit_matches_sklearn(case: str) -> None:
    kind, params = CASES[case]
    X, y = DATA[kind]
    ours, ref = _pair(kind, random_state=0, **params)
    w_ours = _fit(ours, "fit", X, y)
    w_ref = _fit(ref, "fit", X, y, reference=True)
    assert w_ours == w_ref
    # L-BFGS amplifies rounding differences a little over its iterations.
    lbfgs = params.get("solver") == "lbfgs"
    assert_same(ours, ref, rtol=1e-5 if lbfgs else 1e-9, atol=1e-7 if lbfgs else 1e-12)
    np.testing.assert_allclose(ours.score(X, y), ref.score(X, y), atol=1e-6)


@pytest.mark.parametrize("case", ["adam minibatches", "early stopping binary", "poisson",
                                  "lbfgs classifier"])
def test_sample_weight_matches_sklearn(case: str) -> None:
    kind, params = CASES[case]
    X, y = DATA[kind]
    w = np.random.RandomState(1).randint(0, 4, len(y)).astype(float)
    ours, ref = _pair(kind, random_state=0, **params)
    _fit(ours, "fit", X, y, sample_weight=w)
    _fit(ref, "fit", X, y, sample_weight=w, reference=True)
    lbfgs = params.get("solver") == "lbfgs"
    assert_same(ours, ref, rtol=1e-5 if lbfgs else 1e-9, atol=1e-7 if lbfgs else 1e-12)


def test_float32_matches_sklearn() -> None:
    X = X_DIA.astype(np.float32)
    ours, ref = _pair("regression", random_state=0, shuffle=False, max_iter=10)
    _fit(ours, "fit", X, Y_DIA)
    _fit(ref, "fit", X, Y_DIA, reference=True)
    assert ours.coefs_[0].dtype == np.float32
    assert ours.predict(X).dtype == np.float32
    assert_same(ours, ref, rtol=1e-4, atol=1e-5)


def test_random_state_instance_is_used_and_advanced() -> None:
    rs_ours, rs_ref = np.random.RandomState(3), np.random.RandomState(3)
    ours = synnet.MLPClassifier(random_state=rs_ours, max_iter=1, batch_size=50)
    ref = sk.MLPClassifier(random_state=rs_ref, max_iter=1, batch_size=50)
    _fit(ours, "fit", X_IRIS, Y_IRIS)
    _fit(ref, "fit", X_IRIS, Y_IRIS, reference=True)
    assert_same(ours, ref)
    assert rs_ours.randint(1 << 30) == rs_ref.randint(1 << 30)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_warm_start_matches_sklearn(early_stopping: bool) -> None:
    ours, ref = _pair("binary", random_state=0, warm_start=True, shuffle=False, max_iter=15,
                      early_stopping=early_stopping)
    first, best = [], []
    for est, reference in ((ours, False), (ref, True)):
        _fit(est, "fit", X_IRIS, Y_BIN, reference=reference)
        first.append(est.n_iter_)
        best.append([c.copy() for c in est.coefs_])
        _fit(est, "set_params", max_iter=7)
        _fit(est, "fit", X_IRIS, Y_BIN, reference=reference)
    # n_iter_ counts this fit's epochs; loss_curve_ and t_ run on across fits.
    assert len(ours.loss_curve_) == first[0] + ours.n_iter_ and first[0] == first[1]
    # With early stopping the second fit starts with the first fit's count of epochs
    # without improvement, so it stops at once, and the best weights are the first
    # fit's. scikit-learn returns the last weights instead: after an early-stopped fit
    # its coefs_ *are* its saved best arrays, which the next fit trains in place.
    assert_same(ours, ref, weights=not early_stopping)
    if early_stopping:
        assert ours.n_iter_ == 1 and ours.best_validation_score_ == ref.best_validation_score_
        for ours_w, ours_best, ref_w, ref_best in zip(ours.coefs_, best[0], ref.coefs_, best[1]):
            np.testing.assert_array_equal(ours_w, ours_best)
            assert not np.allclose(ref_w, ref_best)


@pytest.mark.parametrize("kind", ["multiclass", "regression", "multilabel"])
def test_partial_fit_matches_sklearn(kind: str) -> None:
    X, y = DATA[kind]
    ours, ref = _pair(kind, random_state=0, batch_size=20)  # shuffled: re-seeded per call
    extra = {} if kind == "regression" else {
        "classes": np.arange(y.shape[1]) if kind == "multilabel" else np.unique(y)}
    for chunk in np.array_split(np.arange(len(y)), 3):
        for est, reference in ((ours, False), (ref, True)):
            _fit(est, "partial_fit", X[chunk], y[chunk], reference=reference, **extra)
        assert ours.n_iter_ == 1
        assert_same(ours, ref)
        extra = {}


def test_partial_fit_after_fit_matches_sklearn() -> None:
    ours, ref = _pair("multiclass", random_state=0, shuffle=False, max_iter=5)
    for est, reference in ((ours, False), (ref, True)):
        _fit(est, "fit", X_IRIS, Y_IRIS, reference=reference)
        _fit(est, "partial_fit", X_IRIS[:60], Y_IRIS[:60], reference=reference)
    assert_same(ours, ref)


def test_verbose_output_matches_sklearn(capsys: pytest.CaptureFixture[str]) -> None:
    params = dict(random_state=0, verbose=True, shuffle=False, early_stopping=True,
                  n_iter_no_change=2, tol=0.5, max_iter=50)
    ours, ref = _pair("binary", **params)
    _fit(ours, "fit", X_IRIS, Y_BIN)
    printed = capsys.readouterr().out
    _fit(ref, "fit", X_IRIS, Y_BIN, reference=True)
    assert printed == capsys.readouterr().out
    assert "Validation score did not improve more than tol=0.500000" in printed


def test_verbose_lbfgs_prints_iterations(capsys: pytest.CaptureFixture[str]) -> None:
    est = synnet.MLPClassifier(solver="lbfgs", verbose=True, max_iter=5, random_state=0)
    _fit(est, "fit", X_IRIS, Y_IRIS)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == est.n_iter_ and lines[-1].startswith(f"Iteration {est.n_iter_}, loss =")


@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor"])
def test_signature_and_defaults_match_sklearn(name: str) -> None:
    ours = inspect.signature(getattr(synnet, name)).parameters
    ref = inspect.signature(getattr(sk, name)).parameters
    extras: dict[str, Any] = {"dropout": 0.0, "class_weight": None, "callbacks": None}
    if name == "MLPRegressor":
        del extras["class_weight"]
    assert list(ours) == list(ref) + list(extras)
    for p in ref:  # same defaults, same positional-or-keyword split
        assert (ours[p].default, ours[p].kind) == (ref[p].default, ref[p].kind), p
    assert {p: ours[p].default for p in extras} == extras


def _describe(constraint: Any) -> Any:
    """A comparable form of a scikit-learn parameter constraint."""
    if constraint is None or isinstance(constraint, (str, type)):
        return constraint
    return (type(constraint).__name__, sorted(map(str, getattr(constraint, "options", ()))),
            *(getattr(constraint, a, None) for a in ("type", "left", "right", "closed")))


@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor"])
def test_parameter_constraints_match_sklearn(name: str) -> None:
    ours = getattr(synnet, name)._parameter_constraints
    ref = getattr(sk, name)._parameter_constraints
    for key, constraints in ref.items():
        if key == "activation":  # widened: a list with one name per layer is allowed too
            assert _describe(ours[key][0]) == _describe(constraints[0])
            assert "array-like" in ours[key]
        else:
            assert [_describe(c) for c in ours[key]] == [_describe(c) for c in constraints], key
    assert set(ours) - set(ref) == set(CONSTRAINTS) - set(ref) | (
        {"class_weight"} if name == "MLPClassifier" else set())


def test_convergence_warning_like_sklearn() -> None:
    ours, ref = _pair("multiclass", random_state=0, max_iter=3)
    caught = _fit(ours, "fit", X_IRIS, Y_IRIS)
    assert caught == _fit(ref, "fit", X_IRIS, Y_IRIS, reference=True)
    assert [category for category, _ in caught] == [ConvergenceWarning]
    for est in (ours, ref):  # stops on the last epoch: no warning
        est.set_params(tol=10.0, n_iter_no_change=1, max_iter=3)
    assert _fit(ours, "fit", X_IRIS, Y_IRIS) == _fit(ref, "fit", X_IRIS, Y_IRIS,
                                                     reference=True) == []
