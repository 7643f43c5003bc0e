"""DaskMLPClassifier and DaskMLPRegressor: synnet's scikit-learn estimators, trained on Dask.

They are the local estimators (same parameters, fitted attributes, model
files) with ``client``, ``mode`` and ``steps_per_round`` added, as
``lightgbm.dask`` does it: ``fit`` takes dask arrays or dataframes and trains
with :func:`synnet.dask.fit`; ``predict``, ``predict_proba`` and ``score``
work blockwise and return dask collections; ``to_local()`` returns the plain
fitted ``synnet.MLPClassifier`` / ``MLPRegressor``.
"""

from __future__ import annotations

import copy
import inspect
import warnings
from functools import partial
from numbers import Integral
from typing import Any, ClassVar

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
from distributed import Client
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from synnet.dask import targets
from synnet.dask.fit import MODES, fit
from synnet.errors import ConfigError
from synnet.sklearn import build, rules
from synnet.sklearn.estimators import MLPClassifier, MLPRegressor

__all__ = ["DaskMLPClassifier", "DaskMLPRegressor"]

DASK_PARAMS: dict[str, list[Any]] = {
    "client": [Client, None],
    "mode": [StrOptions(set(MODES))],
    "steps_per_round": [Interval(Integral, 1, None, closed="left")],
}

DASK_DOC = """
    Dask parameters:

    client : distributed.Client, default=None
        The cluster to train on; None uses the current default client.
    mode : {'gradient', 'local_sgd'}, default='gradient'
        'gradient' sums every global batch's gradient over the workers before
        one update (the one-process result, up to summation order; one
        exchange per step). 'local_sgd' lets each worker take
        ``steps_per_round`` steps on its own rows, then averages weights and
        optimizer moments (one exchange per round; a different trajectory).
    steps_per_round : int, default=100
        Global steps per round (one task per worker); in 'local_sgd' mode the
        steps between averages.

    Not supported on Dask (yet): solver='lbfgs', early_stopping=True,
    learning_rate other than 'constant', warm_start=True, class_weight.
"""


DASK_DEFAULTS: dict[str, Any] = {"client": None, "mode": "gradient", "steps_per_round": 100}


def _dask_init(local_class: type) -> Any:
    """An ``__init__`` taking ``local_class``'s parameters plus the Dask ones, stored untouched.

    Its signature is built from the local class's, so the two parameter lists
    cannot drift apart (scikit-learn reads ``get_params`` from the signature).
    """
    local = inspect.signature(local_class)  # the __init__ parameters, without self
    this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
             for name, default in DASK_DEFAULTS.items()]
    signature = local.replace(parameters=[this, *local.parameters.values(), *extra])

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    return __init__


class _DaskMLP:
    """What both Dask estimators add to their local class (first in the MRO)."""

    _local_class: ClassVar[type]

    def _local_params(self) -> dict[str, Any]:
        params: dict[str, Any] = self.get_params(deep=False)  # type: ignore[attr-defined]
        return {k: v for k, v in params.items() if k not in DASK_PARAMS}

    def to_local(self) -> Any:
        """The equivalent fitted ``synnet.MLPClassifier`` / ``MLPRegressor`` (a copy)."""
        fitted = {k: v for k, v in self.__dict__.items() if k not in DASK_PARAMS
                  and k not in self._local_params()}
        if "network_" not in fitted:
            raise ConfigError("this estimator is not fitted yet; call fit first")
        local = self._local_class(**self._local_params())
        local.__dict__.update(copy.deepcopy(fitted))  # the local model is free to change
        return local

    # -- fitting ------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        """Fit on a dask array / dataframe X (n, n_features) and y (n,); returns self."""
        est: Any = self  # the local estimator's methods, reached through the MRO
        est._validate_params()
        self._check_supported()
        p = self._local_params()
        targets.check_features(X)
        hidden = build.hidden_sizes(p["hidden_layer_sizes"])
        activations = build.per_layer("activation", p["activation"], len(hidden))
        rates = build.per_layer("dropout", p["dropout"], len(hidden))
        y_train, n_outputs = self._targets(y)
        n_features = len(X.columns) if isinstance(X, dd.DataFrame) else int(X.shape[1])
        dtype = targets.data_dtype(X)
        self.__dict__.pop("feature_names_in_", None)
        self.n_features_in_ = n_features
        if isinstance(X, dd.DataFrame):
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        seed = p["random_state"]
        rng = np.random.RandomState() if seed is None else check_random_state(seed)
        network = build.network(n_features, hidden, activations, rates, n_outputs,
                                est._out_activation(), dtype, rng, p["activation"])
        est._initialize(network, n_outputs, len(hidden))
        progress, settings = est._progress, est._rule_settings()
        callbacks = [_EpochLog(progress, settings, 0), rules.TrainingLossTol(progress, settings),
                     rules.StopWhenStuck(progress, settings, adapt=False),
                     *(p["callbacks"] or [])]
        optimizer = build.optimizer(
            p["solver"], p["learning_rate_init"], beta_1=p["beta_1"], beta_2=p["beta_2"],
            epsilon=p["epsilon"], momentum=p["momentum"], nesterov=p["nesterovs_momentum"])
        try:
            fit(network, X, y_train, client=est.client, loss=est._loss, optimizer=optimizer,
                epochs=p["max_iter"], batch_size=200 if p["batch_size"] == "auto"
                else p["batch_size"], mode=est.mode, steps_per_round=est.steps_per_round,
                shuffle=p["shuffle"], sample_weight=sample_weight, l2=p["alpha"],
                seed=int(rng.randint(2**31)), callbacks=callbacks)
        finally:
            network.clear_cache()
        if est.n_iter_ == p["max_iter"] and not network.stop_training:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({p['max_iter']}) "
                          "reached and the optimization hasn't converged yet.",
                          ConvergenceWarning, stacklevel=2)
        return self

    def _check_supported(self) -> None:
        p = self._local_params()
        unsupported = {"solver": p["solver"] == "lbfgs", "early_stopping": p["early_stopping"],
                       "learning_rate": p["learning_rate"] != "constant",
                       "warm_start": p["warm_start"],
                       "class_weight": p.get("class_weight") is not None}
        bad = [name for name, is_bad in unsupported.items() if is_bad]
        if bad:
            given = ", ".join(f"{name}={p[name]!r}" for name in bad)
            raise ConfigError(f"{given}: not supported by {type(self).__name__} yet; "
                              "use solver='adam' or 'sgd' with the defaults of these "
                              "parameters, or fit synnet.MLPClassifier / MLPRegressor "
                              "on local data", params=bad)

    def partial_fit(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no partial_fit; fit trains "
                                  "over every partition")

    # -- prediction: blockwise, returning dask collections --------------------
    def _blockwise(self, X: Any, method: str, n_columns: int | None, dtype: Any) -> da.Array:
        # A dataframe's blocks travel as arrays and get their column names back on the
        # worker, so the local estimator sees the names it was fitted with.
        names = list(X.columns) if isinstance(X, dd.DataFrame) else None
        X = targets.as_rows(X)
        # Callbacks play no part in prediction, and may hold what cannot travel (a client).
        fn = partial(_apply, self.to_local().set_params(callbacks=None), method, names)
        if n_columns is None:
            return X.map_blocks(fn, drop_axis=1, dtype=dtype)
        return X.map_blocks(fn, chunks=(X.chunks[0], (n_columns,)), dtype=dtype)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> da.Array:
        """The local estimator's score (accuracy or R^2) as a 0-d dask array."""
        est: Any = self
        y = targets.as_rows(y)
        w = None if sample_weight is None else targets.as_rows(sample_weight)
        return est._dask_score(est.predict(X), y, w)

    def _targets(self, y: Any) -> tuple[Any, int]:
        """The training targets as a dask collection, and the number of output units."""
        raise NotImplementedError


class DaskMLPClassifier(_DaskMLP, MLPClassifier):
    """synnet.MLPClassifier trained data-parallel on a Dask cluster."""

    __doc__ = (MLPClassifier.__doc__ or "") + DASK_DOC
    _local_class = MLPClassifier
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **MLPClassifier._parameter_constraints, **DASK_PARAMS}

    __init__ = _dask_init(MLPClassifier)

    def _targets(self, y: Any) -> tuple[Any, int]:
        from sklearn.preprocessing import LabelBinarizer

        classes = targets.unique_labels(y)
        if len(classes) < 2:
            raise ConfigError(f"{type(self).__name__} needs samples of at least 2 classes, "
                              f"but y holds only {list(classes)}", params=["y"])
        self._label_binarizer = LabelBinarizer().fit(classes)
        self.classes_ = self._label_binarizer.classes_
        return targets.encode_labels(y, classes), (1 if len(classes) == 2 else len(classes))

    def predict(self, X: Any) -> Any:
        """Class labels (n_samples,) as a dask array, computed blockwise."""
        return self._blockwise(X, "predict", None, self.classes_.dtype)

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities (n_samples, n_classes) as a dask array."""
        return self._blockwise(X, "predict_proba", len(self.classes_), self.network_.dtype)

    @staticmethod
    def _dask_score(pred: da.Array, y: da.Array, w: da.Array | None) -> da.Array:
        hit = (pred == y).astype(np.float64)
        return hit.mean() if w is None else (hit * w).sum() / w.sum()


class DaskMLPRegressor(_DaskMLP, MLPRegressor):
    """synnet.MLPRegressor trained data-parallel on a Dask cluster."""

    __doc__ = (MLPRegressor.__doc__ or "") + DASK_DOC
    _local_class = MLPRegressor
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **MLPRegressor._parameter_constraints, **DASK_PARAMS}

    __init__ = _dask_init(MLPRegressor)

    def _targets(self, y: Any) -> tuple[Any, int]:
        if getattr(y, "ndim", 1) != 1:
            raise ConfigError("y must be 1-D on Dask (several targets are not supported yet)",
                              params=["y"])
        return y, 1

    def predict(self, X: Any) -> Any:
        """Predictions (n_samples,) as a dask array, computed blockwise."""
        return self._blockwise(X, "predict", None, self.network_.dtype)

    @staticmethod
    def _dask_score(pred: da.Array, y: da.Array, w: da.Array | None) -> da.Array:
        w = da.ones_like(pred, dtype=np.float64) if w is None else w
        mean = (w * y).sum() / w.sum()
        return 1.0 - (w * (y - pred) ** 2).sum() / (w * (y - mean) ** 2).sum()


class _EpochLog(rules.EpochLog):
    """EpochLog whose row count comes from the fit (the rows are counted on the cluster)."""

    def on_train_begin(self, logs: dict[str, float]) -> None:
        self.n_train = int(self.params["samples"])


def _apply(local: Any, method: str, names: list[Any] | None, block: np.ndarray) -> np.ndarray:
    if names is not None:
        block = pd.DataFrame(block, columns=names)
    if len(block) == 0:
        n = len(local.classes_) if method == "predict_proba" else None
        return np.empty((0, n) if n else (0,), dtype=local.network_.dtype)
    return np.asarray(getattr(local, method)(block))
