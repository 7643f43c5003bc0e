"""scikit-learn's MLP losses, as members of synnet's one loss family.

The core losses follow Keras (mean over outputs, ``mse`` without the 1/2); the
estimators use these instead, which reproduce ``sklearn.neural_network`` value
for value. Each is a core loss with scikit-learn's reduction ("sample_mean":
summed over outputs, averaged over samples) and, where scikit-learn computes
differently, its own per-sample terms:

=================  ==============  ==================================================
loss               output unit     value (w: sample weights, W = sum w)
=================  ==============  ==================================================
squared_error      identity        0.5 * mean_j sum_i w_i (p_ij - y_ij)**2 / W
binary log-loss    logistic        -sum_j sum_i w_i [y log p + (1 - y) log(1 - p)] / W
log-loss           softmax         -sum_i w_i log p_{i, y_i} / W
poisson            exp             sum_j sum_i w_i [y log(y / mu) - y + mu] / W
=================  ==============  ==================================================

Probabilities inside logs are clipped to [eps, 1 - eps] (eps of the dtype) as
scikit-learn clips them. Every gradient is scikit-learn's, taken with respect
to the output layer's pre-activation z: w_i * (act(z) - y) / W.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import xlogy

from synnet.core.activations import Exponential, Identity, Sigmoid, Softmax
from synnet.core.losses import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    Poisson,
    SumSquaredError,
)
from synnet.errors import DataError


def _clip(a: np.ndarray, low: float, high: float) -> np.ndarray:
    """np.clip in place, without its wrapper's overhead (this runs once per minibatch)."""
    np.maximum(a, low, out=a)
    return np.minimum(a, high, out=a)


def _float_targets(y: Any, n_outputs: int, dtype: np.dtype[Any]) -> np.ndarray:
    """(n, k) float targets in the network's dtype (the estimator validated them)."""
    y = np.asarray(y)
    if y.ndim == 1:
        y = y.reshape(-1, 1)
    if y.ndim != 2 or y.shape[1] != n_outputs:
        raise DataError(f"y has shape {y.shape}; expected (n_samples, {n_outputs})")
    return y.astype(dtype, copy=False)


class SquaredError(SumSquaredError):
    """scikit-learn's ``squared_error``: half the mean squared error, on an identity output.

    Its gradient is summed over the k outputs rather than averaged: k times the
    derivative of the value for k > 1. scikit-learn computes it so, and
    matching it keeps results identical.
    """

    name = "sklearn_squared_error"
    reduction = "mean"
    gradient_reduction = "sample_mean"
    fuses_with = Identity

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype[Any]) -> np.ndarray:
        return _float_targets(y, n_outputs, dtype)


class BinaryLogLoss(BinaryCrossEntropy):
    """scikit-learn's binary log-loss, one logistic unit per label (binary or multilabel).

    Targets are 0/1, so y log p + (1 - y) log(1 - p) is the log of p or of 1 - p.
    """

    name = "sklearn_binary_log_loss"
    reduction = "sample_mean"
    fuses_with = Sigmoid

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype[Any]) -> np.ndarray:
        return _float_targets(y, n_outputs, dtype)

    def elementwise(self, pred: np.ndarray, y: np.ndarray, logits: bool, grad: bool
                    ) -> tuple[np.ndarray, np.ndarray | None]:
        p = Sigmoid()(pred) if logits else pred
        eps = np.finfo(p.dtype).eps
        likelihood = np.where(y > 0.5, p, 1.0 - p)
        elem = np.log(_clip(likelihood, eps, 1.0 - eps), out=likelihood)
        np.negative(elem, out=elem)
        return elem, (p - y if grad else None)


class LogLoss(CategoricalCrossEntropy):
    """scikit-learn's log-loss on a softmax output; targets are class codes 0..k-1."""

    name = "sklearn_log_loss"
    reduction = "sample_mean"
    fuses_with = Softmax

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype[Any]) -> np.ndarray:
        codes = np.asarray(y)
        if codes.ndim != 1 or codes.dtype.kind not in "iu":
            raise DataError(f"expected integer class codes of shape (n_samples,), got "
                            f"{codes.dtype} {codes.shape}")
        return codes.astype(np.intp, copy=False)

    def elementwise(self, pred: np.ndarray, y: np.ndarray, logits: bool, grad: bool
                    ) -> tuple[np.ndarray, np.ndarray | None]:
        p = Softmax()(pred) if logits else pred.copy()  # p becomes the gradient: own it
        rows = np.arange(len(p))
        eps = np.finfo(p.dtype).eps
        elem = np.log(_clip(p[rows, y], eps, 1.0 - eps))
        np.negative(elem, out=elem)
        if not grad:
            return elem[:, None], None
        p[rows, y] -= 1.0
        return elem[:, None], p


class PoissonDeviance(Poisson):
    """scikit-learn's ``poisson`` loss (half the Poisson deviance) on an exp output."""

    name = "sklearn_poisson"
    reduction = "sample_mean"
    fuses_with = Exponential

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype[Any]) -> np.ndarray:
        y = _float_targets(y, n_outputs, dtype)
        if (y < 0).any():
            raise DataError("loss='poisson' needs targets y >= 0 (counts or rates)")
        return y

    def elementwise(self, pred: np.ndarray, y: np.ndarray, logits: bool, grad: bool
                    ) -> tuple[np.ndarray, np.ndarray | None]:
        if logits:  # log(mu) is the logit itself: exact, with no log of a tiny mu
            mu, log_mu = Exponential()(pred), pred
        else:
            mu = pred
            log_mu = np.log(np.maximum(pred, np.finfo(pred.dtype).tiny))
        elem = xlogy(y, y) - y * log_mu - y + mu
        return elem, (mu - y if grad else None)
