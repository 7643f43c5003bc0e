"""MLPClassifier and MLPRegressor: drop-in replacements for scikit-learn's.

    from synnet import MLPClassifier   # instead of sklearn.neural_network

Same constructor parameters, defaults, fitted attributes and methods as
scikit-learn 1.9's ``MLPClassifier`` / ``MLPRegressor``, plus per-layer
activations, dropout, class weights, a validation-loss curve, synnet callbacks
and the underlying :class:`synnet.Network` as ``network_``.

The estimators are thin adapters: they validate input with scikit-learn's own
helpers, translate parameters, build a :class:`synnet.Network` and train it
with ``Network.fit`` (``sgd``, ``adam``) or scipy's L-BFGS on
``Network.loss_and_grads`` (``lbfgs``). scikit-learn's epoch rules
(``tol``/``n_iter_no_change``, ``early_stopping``, learning-rate schedules) are
synnet callbacks (:mod:`synnet.sklearn.rules`); its losses are members of
synnet's loss family (:mod:`synnet.sklearn.losses`). :mod:`synnet.sklearn` is
the only package that imports scikit-learn.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np

try:
    from sklearn.base import (
        BaseEstimator,
        ClassifierMixin,
        RegressorMixin,
        _fit_context,
        is_classifier,
    )
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, column_or_1d
    from sklearn.utils._param_validation import StrOptions
    from sklearn.utils.class_weight import compute_sample_weight
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import (
        _check_partial_fit_first_call,
        type_of_target,
        unique_labels,
    )
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

    from synnet.sklearn import build, nonfinite, rules, split
    from synnet.sklearn.fast import fast_input
    from synnet.sklearn.files import load_estimator, save_estimator
    from synnet.sklearn.lbfgs import fit_lbfgs
    from synnet.sklearn.losses import BinaryLogLoss, LogLoss, PoissonDeviance, SquaredError
    from synnet.sklearn.params import (
        CLASS_WEIGHT_DOC,
        CONSTRAINTS,
        OUTPUT_FUNCTIONS,
        SHARED_DOC,
    )
except ImportError as exc:  # the synnet modules above import scikit-learn or scipy too
    raise ImportError(
        "synnet.MLPClassifier and synnet.MLPRegressor need scikit-learn and scipy: "
        "pip install synnet[sklearn]"
    ) from exc

from synnet.core.layers import Dense
from synnet.core.losses import Loss
from synnet.core.network import Network
from synnet.errors import DivergenceError

__all__ = ["MLPClassifier", "MLPRegressor"]


def _store_params(estimator: BaseEstimator, params: dict[str, Any]) -> None:
    """Keep every constructor argument untouched, as scikit-learn requires."""
    for name, value in params.items():
        if name != "self":
            setattr(estimator, name, value)


def _random_state(seed: Any) -> np.random.RandomState:
    """sklearn's check_random_state, except that None means fresh entropy, not global state."""
    return np.random.RandomState() if seed is None else check_random_state(seed)


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: parameters, network building, fitting."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = CONSTRAINTS
    network_: Network  # set by fit
    _progress: rules.Progress  # the epoch rules' state, behind the fitted attributes below

    # Fitted attributes that the epoch rules update (stored in self._progress).
    n_iter_ = rules.Tracked()
    t_ = rules.Tracked()
    loss_ = rules.Tracked()
    loss_curve_ = rules.Tracked()
    validation_loss_curve_ = rules.Tracked()
    validation_scores_ = rules.Tracked()
    best_validation_score_ = rules.Tracked()
    best_loss_ = rules.Tracked()

    # -- fitting ------------------------------------------------------------
    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool) -> _BaseMLP:
        # Every setting is checked before any attribute is set or any work starts.
        hidden = build.hidden_sizes(self.hidden_layer_sizes)
        activations = build.per_layer("activation", self.activation, len(hidden))
        rates = build.per_layer("dropout", self.dropout, len(hidden))
        if self.solver == "lbfgs" and (any(rates) or self.callbacks):
            raise ValueError("dropout and callbacks need solver='adam' or 'sgd': L-BFGS "
                             "minimizes one deterministic full-batch loss, without epochs")
        if self.early_stopping and incremental and self.solver != "lbfgs":
            raise ValueError("partial_fit does not support early_stopping=True")
        first_pass = not hasattr(self, "network_") or (not self.warm_start and not incremental)
        # _validate_input sets the classes (as scikit-learn does); a refused call puts
        # the previous ones back, so a failed refit leaves a fitted estimator working.
        label_state: dict[str, Any] = {k: self.__dict__[k] for k in ("classes_", "_label_binarizer")
                       if k in self.__dict__}
        rng = _random_state(self.random_state)
        try:
            X, targets, labels = self._validate_input(X, y, incremental, reset=first_pass)
            if not first_pass and X.dtype != self.network_.dtype:
                # scikit-learn computes in mixed precision without a word; synnet
                # converts, once and as silently, to the fitted network's dtype.
                X = X.astype(self.network_.dtype)
            sample_weight = self._sample_weight(sample_weight, X, labels, incremental)
            n_outputs = len(self.classes_) if targets.ndim == 1 else targets.shape[1]
            if not first_pass:
                old = [layer.out_features for layer in self.network_.layers
                       if isinstance(layer, Dense)]
                if old != [*hidden, n_outputs]:
                    raise ValueError(f"warm_start/partial_fit: layer sizes "
                                     f"{[*hidden, n_outputs]} differ from the fitted "
                                     f"network's {old}; refit from scratch")
            # The initial weights, then the early-stopping split, draw from rng in
            # scikit-learn's order. Both come before any attribute is set, so that the
            # split's errors (scikit-learn's own) leave the estimator as it was.
            network = self.network_ if not first_pass else build.network(
                X.shape[1], hidden, activations, rates, n_outputs, self._out_activation(),
                X.dtype, rng, self.activation)
            train = split.Part(X, targets, labels, sample_weight)
            validation = None
            if self.early_stopping and self.solver != "lbfgs":
                train, validation = split.early_stopping_split(
                    train, validation_fraction=self.validation_fraction, rng=rng,
                    stratify=split.stratify_by(targets, is_classifier(self) and n_outputs == 1))
        except BaseException:
            for key in ("classes_", "_label_binarizer"):
                self.__dict__.pop(key, None)
            self.__dict__.update(label_state)
            raise
        if first_pass:
            self._initialize(network, n_outputs, len(hidden))
        else:
            network.rng = rng  # scikit-learn re-seeds at every call (dropout too)
        try:
            if self.solver == "lbfgs":
                targets = self._loss.prepare_targets(targets, n_outputs, network.dtype)
                self.n_iter_, self.loss_ = fit_lbfgs(
                    network, X.tocsr() if hasattr(X, "tocsr") else X, targets,
                    self._loss, sample_weight, alpha=self.alpha, max_iter=self.max_iter,
                    max_fun=self.max_fun, tol=self.tol, verbose=bool(self.verbose))
            else:
                self._fit_stochastic(train, validation, incremental)
        except DivergenceError as exc:
            raise nonfinite.diverged(exc) from exc
        finally:
            # Drop the layers' caches of this fit's last batch, so pickles stay small
            # (Network.fit and loss_and_grads clear them too; lbfgs and divergence end here).
            network.clear_cache()
        nonfinite.check_weights(network)  # scikit-learn's last check, and its error
        return self

    def _initialize(self, network: Network, n_outputs: int, n_hidden: int) -> None:
        self._progress = rules.Progress()
        self._progress.set(n_iter=0, t=0)
        self.n_outputs_ = n_outputs
        self.n_layers_ = n_hidden + 2
        self.out_activation_ = self._out_activation()
        self.network_ = network
        if self.solver != "lbfgs":
            self._progress.set(loss_curve=[])
            self._reset_early_stopping()

    def _reset_early_stopping(self) -> None:
        progress = self._progress
        if self.early_stopping:
            progress.set(validation_scores=[], validation_loss_curve=[],
                         best_validation_score=-np.inf, best_loss=None)
            progress.best_weights = self.network_.get_weights()
        else:
            progress.set(validation_scores=None, validation_loss_curve=None,
                         best_validation_score=None, best_loss=np.inf)

    def _rule_settings(self) -> rules.RuleSettings:
        return rules.RuleSettings(
            tol=self.tol, n_iter_no_change=self.n_iter_no_change, verbose=bool(self.verbose),
            early_stopping=self.early_stopping, learning_rate_init=self.learning_rate_init,
            power_t=self.power_t)

    def _fit_stochastic(self, train: split.Part, validation: split.Part | None,
                        incremental: bool) -> None:
        progress = self._progress
        if "loss_curve" not in progress.present:  # warm start after an lbfgs fit
            progress.set(loss_curve=[])
            progress.no_improvement_count = 0
            self._reset_early_stopping()
        elif self.early_stopping != (progress.validation_scores is not None):
            self._reset_early_stopping()  # early_stopping was switched between warm starts
        network = self.network_
        optimizer = network.optimizer if incremental and network.optimizer else None
        n_samples = train.X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                              "It is going to be clipped", stacklevel=3)
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        sgd = self.solver == "sgd"
        settings = self._rule_settings()
        callbacks = [
            rules.EpochLog(progress, settings, n_samples),
            rules.ValidationScore(progress, settings, self._validation_score, validation.X,
                                  validation.labels, validation.sample_weight) if validation
            else rules.TrainingLossTol(progress, settings),
            *([rules.InvScaling(progress, settings)]
              if sgd and self.learning_rate == "invscaling" else []),
            rules.StopWhenStuck(progress, settings, adapt=sgd and self.learning_rate == "adaptive"),
            *(self.callbacks or []),
        ]
        progress.set(n_iter=0)
        try:
            network.fit(train.X, train.targets, self._loss, optimizer or build.optimizer(
                            self.solver, self.learning_rate_init, beta_1=self.beta_1,
                            beta_2=self.beta_2, epsilon=self.epsilon, momentum=self.momentum,
                            nesterov=self.nesterovs_momentum),
                        epochs=1 if incremental else self.max_iter, batch_size=batch_size,
                        shuffle=self.shuffle, callbacks=callbacks,
                        validation_data=None if validation is None else (
                            validation.X, validation.targets, validation.sample_weight),
                        sample_weight=train.sample_weight, l2=self.alpha,
                        # scikit-learn trains on through inf and nan with early stopping
                        # (a nan validation score never counts as the best one); without,
                        # its weights end non-finite, which is an error here at once.
                        nonfinite="continue" if validation else "raise")
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=3)
        if not incremental and self.n_iter_ == self.max_iter and not network.stop_training:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                          "and the optimization hasn't converged yet.", ConvergenceWarning,
                          stacklevel=3)

    def _sample_weight(self, sample_weight: Any, X: Any, labels: Any,
                       incremental: bool) -> np.ndarray | None:
        if sample_weight is None:
            return None
        return _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _BaseMLP:
        """Fit the model to X (n_samples, n_features) and y; returns self.

        y holds class labels (n_samples,), a multilabel indicator matrix, or
        regression targets (n_samples,) / (n_samples, n_outputs).
        sample_weight is an optional (n_samples,) array.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _check_solver(self) -> bool:
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    # -- prediction ---------------------------------------------------------
    def _forward(self, X: Any) -> np.ndarray:
        """Network output (n_samples, n_outputs_) for X, validated against the fit."""
        ready = fast_input(self, X)  # a plain array of the right dtype and width (sklearn.fast)
        if ready is not None:
            return self._output(ready, checked=True)
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        return self._output(X)

    def _output(self, X: Any, checked: bool = False) -> np.ndarray:
        """Network output (n_samples, n_outputs_) for validated X, as scikit-learn computes it.

        The output function runs on the logits as scikit-learn's does: far out, its
        probabilities are exactly 0 and 1, where synnet's sigmoid and softmax (which
        clip so that exp never overflows in training) stop at about 1e-304.
        ``checked``: X is already the network's dtype and shape (the fast path).
        """
        run = self.network_.infer if checked else self.network_.predict
        z = run(X, logits=True)
        with np.errstate(under="ignore"):
            return np.asarray(OUTPUT_FUNCTIONS[self.out_activation_](z))

    def _validation_score(self, X: Any, y: Any, sample_weight: Any) -> float:
        """The estimator's score on an already validated split; NaN if outputs are not finite."""
        out = self._output(X)
        if not np.isfinite(out).all():
            return np.nan
        # Squares of tiny residuals in R^2 may underflow to 0, which is what they are.
        with np.errstate(under="ignore"):
            return float(self._score_function(y, self._decode(out), sample_weight=sample_weight))

    def __sklearn_is_fitted__(self) -> bool:
        """Fitted once a network exists (not merely once classes_ are known)."""
        return hasattr(self, "network_")

    # -- fitted attributes backed by the network ----------------------------
    def _dense(self) -> list[Dense]:
        return [layer for layer in self.network_.layers if isinstance(layer, Dense)]

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices, (fan_in, fan_out) per layer: the network's own arrays."""
        return [layer.params["W"] for layer in self._dense()]

    @coefs_.setter
    def coefs_(self, values: list[Any]) -> None:
        self._set_params_of("W", values)

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors, (fan_out,) per layer: the network's own arrays."""
        return [layer.params["b"] for layer in self._dense()]

    @intercepts_.setter
    def intercepts_(self, values: list[Any]) -> None:
        self._set_params_of("b", values)

    def _set_params_of(self, key: str, values: list[Any]) -> None:
        layers = self._dense()
        if len(values) != len(layers):
            raise ValueError(f"expected {len(layers)} arrays, got {len(values)}")
        for layer, value in zip(layers, values):
            value = np.asarray(value)
            if value.shape != layer.params[key].shape:
                raise ValueError(f"array of shape {value.shape} where the network has "
                                 f"{layer.params[key].shape}")
            np.copyto(layer.params[key], value, casting="same_kind")

    # -- model files ----------------------------------------------------------
    def save(self, path: Any) -> None:
        """Write the fitted estimator to a safe synnet model file (never a pickle).

        ``synnet.load(path)`` reads it back as a model whose ``predict`` and
        ``predict_proba`` give the same results; ``type(est).load(path)``
        rebuilds the estimator itself (parameters and fitted attributes).
        """
        check_is_fitted(self)
        save_estimator(self, path)

    @classmethod
    def load(cls, path: Any) -> Any:
        """The estimator saved at ``path`` by :meth:`save`."""
        return load_estimator(cls, path)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier, a drop-in for scikit-learn's, trained by synnet.

    Binary and multilabel targets get logistic output units and multiclass
    targets a softmax; the loss is scikit-learn's log-loss.
    """

    __doc__ = (__doc__ or "") + SHARED_DOC.format(
        sk="MLPClassifier", extra_shared="", class_weight=CLASS_WEIGHT_DOC)

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **CONSTRAINTS, "class_weight": [dict, StrOptions({"balanced"}), None]}

    def __init__(self, hidden_layer_sizes: Any = (100,), activation: Any = "relu", *,
                 solver: str = "adam", alpha: float = 0.0001, batch_size: Any = "auto",
                 learning_rate: str = "constant", learning_rate_init: float = 0.001,
                 power_t: float = 0.5, max_iter: int = 200, shuffle: bool = True,
                 random_state: Any = None, tol: float = 1e-4, verbose: bool = False,
                 warm_start: bool = False, momentum: float = 0.9,
                 nesterovs_momentum: bool = True, early_stopping: bool = False,
                 validation_fraction: float = 0.1, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, n_iter_no_change: Any = 10, max_fun: int = 15000,
                 dropout: Any = 0.0, class_weight: Any = None, callbacks: Any = None) -> None:
        _store_params(self, locals())

    def _out_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    @property
    def _loss(self) -> Loss:
        return LogLoss() if self.out_activation_ == "softmax" else BinaryLogLoss()

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool
                        ) -> tuple[Any, np.ndarray, Any]:
        """Validated X, the training targets (class codes or 0/1 matrix), and the labels y."""
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        # Which classes: as scikit-learn decides between fit, warm_start and partial_fit.
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and set(classes) != set(self.classes_):
                raise ValueError("warm_start can only be used where `y` has the same classes as "
                                 f"in the previous call to fit. Previously got {self.classes_}, "
                                 f"`y` has {classes}")
            if not self.warm_start and len(np.setdiff1d(classes, self.classes_,
                                                         assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        if self._label_binarizer.y_type_ == "multiclass":
            targets = np.searchsorted(self.classes_, y)
        else:
            targets = self._label_binarizer.transform(y).astype(X.dtype)
        return X, targets, y

    def _sample_weight(self, sample_weight: Any, X: Any, labels: Any,
                       incremental: bool) -> np.ndarray | None:
        sw = super()._sample_weight(sample_weight, X, labels, incremental)
        if self.class_weight is not None:
            if self._label_binarizer.y_type_ == "multilabel-indicator":
                raise ValueError("class_weight is not supported for multilabel targets")
            if incremental and self.class_weight == "balanced":
                raise ValueError("class_weight 'balanced' is not supported for partial_fit; "
                                 "pass class_weight=compute_class_weight('balanced', ...) instead")
            weights = compute_sample_weight(self.class_weight, labels).astype(X.dtype)
            sw = weights if sw is None else sw * weights
        return sw

    def _decode(self, out: np.ndarray) -> Any:
        return self._label_binarizer.inverse_transform(out.ravel() if out.shape[1] == 1 else out)

    _score_function = staticmethod(accuracy_score)

    def predict(self, X: Any) -> Any:
        """Class labels for X: (n_samples,), or (n_samples, n_labels) for multilabel."""
        return self._decode(self._forward(X))

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None,
                    classes: Any = None) -> MLPClassifier:
        """One epoch over (X, y); pass every class in ``classes`` on the first call."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        self._fit(X, y, sample_weight, incremental=True)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), columns in the order of ``classes_``."""
        p = self._forward(X)
        if self.n_outputs_ == 1:
            return np.hstack([1.0 - p, p])
        return p

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """log(predict_proba(X)), elementwise, as scikit-learn computes it (-inf where 0)."""
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor, a drop-in for scikit-learn's, trained by synnet.

    loss='squared_error' (identity output) or 'poisson' (exp output, y >= 0),
    one output unit per target column.
    """

    __doc__ = (__doc__ or "") + SHARED_DOC.format(
        sk="MLPRegressor", extra_shared=", loss", class_weight="")

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **CONSTRAINTS, "loss": [StrOptions({"squared_error", "poisson"})]}

    def __init__(self, loss: str = "squared_error", hidden_layer_sizes: Any = (100,),
                 activation: Any = "relu", *, solver: str = "adam", alpha: float = 0.0001,
                 batch_size: Any = "auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200,
                 shuffle: bool = True, random_state: Any = None, tol: float = 1e-4,
                 verbose: bool = False, warm_start: bool = False, momentum: float = 0.9,
                 nesterovs_momentum: bool = True, early_stopping: bool = False,
                 validation_fraction: float = 0.1, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, n_iter_no_change: Any = 10, max_fun: int = 15000,
                 dropout: Any = 0.0, callbacks: Any = None) -> None:
        _store_params(self, locals())

    def _out_activation(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    @property
    def _loss(self) -> Loss:
        return PoissonDeviance() if self.out_activation_ == "exp" else SquaredError()

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool
                        ) -> tuple[Any, np.ndarray, Any]:
        """Validated X, the targets as (n_samples, n_outputs), and y as given."""
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError("Some value(s) of y are negative which is not allowed for "
                             "Poisson regression (loss='poisson').")
        return X, (y.reshape(-1, 1) if y.ndim == 1 else y), y

    def _decode(self, out: np.ndarray) -> np.ndarray:
        return out.ravel() if out.shape[1] == 1 else out

    _score_function = staticmethod(r2_score)

    def predict(self, X: Any) -> np.ndarray:
        """Predictions (n_samples,), or (n_samples, n_outputs) for several targets."""
        return self._decode(self._forward(X))

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over (X, y), continuing from the current weights."""
        self._fit(X, y, sample_weight, incremental=True)
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
