"""scikit-learn's MLP losses and weight initialization, as synnet pieces.

The core losses follow Keras (mean over outputs, ``mse`` without the 1/2), so
the estimators in :mod:`synnet.sklearn_api` use these instead, which reproduce
``sklearn.neural_network`` value for value:

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
to the output layer's pre-activation z: w_i * (act(z) - y) / W. (For
squared_error with k > 1 outputs that is k times the gradient of the value
above; scikit-learn does the same, and matching it keeps results identical.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import xlogy

from synnet.activations import Exponential, Identity, Sigmoid, Softmax, exp_limit
from synnet.errors import DataError
from synnet.losses import Loss, weight_column


def _weighted_sum(elem: np.ndarray, w: np.ndarray | None) -> float:
    return float(np.sum(elem if w is None else elem * w))


def _clip(a: np.ndarray, low: float, high: float) -> np.ndarray:
    """np.clip in place, without its wrapper's overhead (this runs once per minibatch)."""
    np.maximum(a, low, out=a)
    return np.minimum(a, high, out=a)


def _grad(d: np.ndarray, w: np.ndarray | None, total: float) -> np.ndarray:
    """w * d / total, in place on ``d``."""
    if w is not None:
        d *= w
    d /= total
    return d


class _SklearnLoss(Loss):
    """Shared target handling: (n, k) float targets in the network's dtype."""

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype[Any]) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != n_outputs:
            raise DataError(f"y has shape {y.shape}; expected (n_samples, {n_outputs})")
        return y.astype(dtype, copy=False)


class SquaredError(_SklearnLoss):
    """scikit-learn's ``squared_error`` (half the mean squared error) on an identity output."""

    name = "sklearn_squared_error"
    fuses_with = Identity

    def evaluate(self, pred: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None,
                 *, logits: bool = False, grad: bool = True) -> tuple[float, np.ndarray | None]:
        n, k = pred.shape
        w, total = weight_column(sample_weight, n, pred.dtype)
        if total == 0.0:  # a minibatch whose samples all weigh 0 teaches nothing
            return 0.0, (np.zeros_like(pred) if grad else None)
        d = np.subtract(pred, y)
        value = 0.5 * _weighted_sum(d * d, w) / (total * k)
        return value, (_grad(d, w, total) if grad else None)


class BinaryLogLoss(_SklearnLoss):
    """scikit-learn's binary log-loss, one logistic unit per label (binary or multilabel).

    Targets are 0/1, so y log p + (1 - y) log(1 - p) is the log of p or of 1 - p.
    """

    name = "sklearn_binary_log_loss"
    fuses_with = Sigmoid

    def evaluate(self, pred: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None,
                 *, logits: bool = False, grad: bool = True) -> tuple[float, np.ndarray | None]:
        n, _ = pred.shape
        w, total = weight_column(sample_weight, n, pred.dtype)
        if total == 0.0:
            return 0.0, (np.zeros_like(pred) if grad else None)
        p = Sigmoid()(pred) if logits else pred
        eps = np.finfo(p.dtype).eps
        likelihood = np.where(y > 0.5, p, 1.0 - p)
        np.log(_clip(likelihood, eps, 1.0 - eps), out=likelihood)
        value = -_weighted_sum(likelihood, w) / total
        return value, (_grad(p - y, w, total) if grad else None)


class LogLoss(Loss):
    """scikit-learn's log-loss on a softmax output; targets are class codes 0..k-1."""

    name = "sklearn_log_loss"
    fuses_with = Softmax

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype[Any]) -> np.ndarray:
        codes = np.asarray(y)
        if codes.ndim != 1 or codes.dtype.kind not in "iu":
            raise DataError(f"expected integer class codes of shape (n_samples,), got "
                            f"{codes.dtype} {codes.shape}")
        return codes.astype(np.intp, copy=False)

    def evaluate(self, pred: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None,
                 *, logits: bool = False, grad: bool = True) -> tuple[float, np.ndarray | None]:
        n = len(pred)
        w, total = weight_column(sample_weight, n, pred.dtype)
        if total == 0.0:
            return 0.0, (np.zeros_like(pred) if grad else None)
        p = Softmax()(pred) if logits else pred.copy()  # p becomes the gradient: own it
        rows = np.arange(n)
        eps = np.finfo(p.dtype).eps
        picked = np.log(_clip(p[rows, y], eps, 1.0 - eps))
        value = -float(np.sum(picked) if w is None else np.dot(picked, w[:, 0])) / total
        if not grad:
            return value, None
        p[rows, y] -= 1.0
        return value, _grad(p, w, total)


class PoissonDeviance(_SklearnLoss):
    """scikit-learn's ``poisson`` loss (half the Poisson deviance) on an exp output."""

    name = "sklearn_poisson"
    fuses_with = Exponential

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype[Any]) -> np.ndarray:
        y = super().prepare_targets(y, n_outputs, dtype)
        if (y < 0).any():
            raise DataError("loss='poisson' needs targets y >= 0 (counts or rates)")
        return y

    def evaluate(self, pred: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None,
                 *, logits: bool = False, grad: bool = True) -> tuple[float, np.ndarray | None]:
        n, _ = pred.shape
        w, total = weight_column(sample_weight, n, pred.dtype)
        if total == 0.0:
            return 0.0, (np.zeros_like(pred) if grad else None)
        if logits:  # log(mu) is the logit itself: exact, with no log of a tiny mu
            mu, log_mu = Exponential()(pred), pred
        else:
            mu = pred
            log_mu = np.log(np.maximum(pred, np.finfo(pred.dtype).tiny))
        elem = xlogy(y, y) - y * log_mu - y + mu
        value = _weighted_sum(elem, w) / total
        return value, (_grad(mu - y, w, total) if grad else None)


class GlorotUniform:
    """scikit-learn's MLP initializer: U[-b, b], b = sqrt(factor / (fan_in + fan_out)).

    Used for a layer's weights *and* its biases (both with the weights' bound),
    drawn weights first, as scikit-learn draws them: with the same
    ``RandomState`` the initial weights are identical. ``factor`` is 2 for
    logistic layers and 6 otherwise.
    """

    def __init__(self, fan_in: int, fan_out: int, factor: float) -> None:
        self.bound = float(np.sqrt(factor / (fan_in + fan_out)))

    def __call__(self, rng: Any, shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
        return rng.uniform(-self.bound, self.bound, shape).astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"GlorotUniform(bound={self.bound:.4g})"


def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log(sigmoid(z)) = -(max(-z, 0) + log1p(exp(-|z|))), finite for every finite z."""
    # exp's argument is clipped where its result would turn subnormal; log1p of it is ~0 there.
    soft = np.maximum(-np.abs(z), -exp_limit(z.dtype))
    np.exp(soft, out=soft)
    np.log1p(soft, out=soft)
    soft += np.maximum(-z, 0.0)
    return np.negative(soft, out=soft)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """log(softmax(z)) along axis 1: z - max - log(sum(exp(z - max)))."""
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(np.maximum(shifted, -exp_limit(z.dtype)))
    shifted -= np.log(e.sum(axis=1, keepdims=True))
    return shifted
