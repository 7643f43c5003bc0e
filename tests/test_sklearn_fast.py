"""The estimators' prediction fast path (synnet.sklearn.fast) against the full validation path.

Every prediction runs twice, with the fast path and with it switched off, and
must agree exactly; bad inputs must raise the same error (type and message)
and give the same warnings either way.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning", "ignore::PendingDeprecationWarning")

import synnet.sklearn.estimators as est_module  # noqa: E402
from synnet import MLPClassifier, MLPRegressor  # noqa: E402


def _fitted(kind: str, dtype: Any = np.float64) -> Any:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5)).astype(dtype)
    if kind == "binary":
        y = (X[:, 0] > 0).astype(int)
    elif kind == "multiclass":
        y = rng.integers(0, 3, 40)
    elif kind == "multilabel":
        y = rng.integers(0, 2, (40, 3))
    else:
        y = X @ rng.standard_normal(5)
    cls = MLPRegressor if kind == "regression" else MLPClassifier
    return cls(hidden_layer_sizes=(7,), max_iter=30, random_state=0).fit(X, y)


def _both(call: Callable[[], Any], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """(result or (error type, message), warnings) with the fast path, then without it."""
    outcomes = []
    for fast in (True, False):
        with monkeypatch.context() as m, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if not fast:
                m.setattr(est_module, "fast_input", lambda est, X: None)
            try:
                result: Any = call()
            except Exception as exc:
                result = (type(exc), str(exc))
        outcomes.append((result, [(w.category, str(w.message)) for w in caught]))
    return outcomes[0], outcomes[1]


def _same(a: Any, b: Any) -> None:
    (ra, wa), (rb, wb) = a, b
    assert wa == wb
    if isinstance(ra, np.ndarray):
        assert isinstance(rb, np.ndarray) and ra.dtype == rb.dtype
        np.testing.assert_array_equal(ra, rb)
    else:
        assert ra == rb


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel", "regression"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fast_path_gives_the_full_paths_results(kind: str, dtype: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    model = _fitted(kind, dtype)
    X = np.random.default_rng(1).standard_normal((9, 5)).astype(dtype)
    methods = ["predict"] + (["predict_proba"] if kind != "regression" else [])
    for method in methods:
        for x in (X, X[:1], np.asfortranarray(X), X[::2]):
            _same(*_both(lambda x=x, m=method: getattr(model, m)(x), monkeypatch))


def test_fast_path_skips_scikit_learns_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _fitted("multiclass")
    X = np.zeros((1, 5))
    expected = model.predict_proba(X)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("validate_data called on the fast path")

    monkeypatch.setattr(est_module, "validate_data", refuse)
    np.testing.assert_array_equal(model.predict_proba(X), expected)


BAD: dict[str, Any] = {
    "nan": np.array([[0.0, np.nan, 0.0, 0.0, 0.0]]),
    "inf": np.array([[0.0, 0.0, -np.inf, 0.0, 0.0]]),
    "huge but finite": np.full((2, 5), 1e308),  # the sum overflows: the long way, no error
    "narrow": np.zeros((1, 4)),
    "wide": np.zeros((1, 6)),
    "1-D": np.zeros(5),
    "3-D": np.zeros((1, 5, 1)),
    "no rows": np.zeros((0, 5)),
    "int": np.ones((2, 5), dtype=np.int64),
    "float32 for a float64 fit": np.ones((2, 5), dtype=np.float32),
    "object": np.array([[0.0, "a", 0.0, 0.0, 0.0]], dtype=object),
    "list": [[0.0] * 5],
    "matrix": np.asmatrix(np.zeros((1, 5))),
}


@pytest.mark.parametrize("name", list(BAD))
def test_unusual_and_bad_inputs_behave_the_same_on_both_paths(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with np.errstate(all="ignore"):  # the 1e308 rows overflow in the forward pass
        for model in (_fitted("binary"), _fitted("regression")):
            _same(*_both(lambda m=model: m.predict(BAD[name]), monkeypatch))


def test_not_fitted_and_feature_names_behave_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    _same(*_both(lambda: MLPClassifier().predict(np.zeros((1, 5))), monkeypatch))
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.standard_normal((30, 3)), columns=["a", "b", "c"])
    model = MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0)
    model.fit(frame, (frame["a"] > 0).astype(int))
    a, b = _both(lambda: model.predict_proba(frame.to_numpy()), monkeypatch)
    _same(a, b)
    assert any("feature names" in message for _, message in a[1])  # sklearn's warning kept
