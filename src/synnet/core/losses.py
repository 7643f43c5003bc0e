"""Loss functions: squared error, binary and categorical cross-entropy, Poisson.

A loss turns predictions ``pred`` of shape (n, k) and prepared targets into a
scalar and, on request, its gradient with respect to ``pred`` (same shape).

Every loss is one family: a subclass gives the per-sample terms ``l`` and their
derivatives (:meth:`Loss.elementwise`); the base class weights, reduces and
scales them, once, by the ``reduction`` (w_i are sample weights, W = sum w_i):

==============  ===============================  =====================================
reduction       value                            used by
==============  ===============================  =====================================
"sum"           sum_i w_i sum_j l_ij             ``sse``, the tutorial's loss
"mean"          sum_i w_i mean_j l_ij / W        Keras and PyTorch (the default)
"sample_mean"   sum_i w_i sum_j l_ij / W         scikit-learn's MLP losses
==============  ===============================  =====================================

Fusing: cross-entropy after softmax, binary cross-entropy after sigmoid and
Poisson after exp are computed from the *logits* z when the network's last
activation is the one named by ``fuses_with``. That is both faster (dL/dz is
simply (p - y) / n) and numerically exact where the unfused forms lose
precision (log of a probability that rounded to 0). The network asks the loss
explicitly (:meth:`Loss.fuses`); nothing is special-cased elsewhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from synnet._validation import check_choice, check_finite
from synnet.core.activations import Activation, Exponential, Sigmoid, Softmax, exp_limit
from synnet.errors import ConfigError, DataError

# Probabilities are clipped to [EPS, 1 - EPS] where an unfused loss takes a log.
EPS = 1e-12

REDUCTIONS = ("sum", "mean", "sample_mean")


class Loss:
    """Base class: weighting and reduction of the per-sample terms a subclass computes.

    Args:
        reduction: "sum", "mean" or "sample_mean" (see the module docstring);
            None keeps the loss's own default.
    """

    name = "loss"
    reduction = "mean"
    #: how the gradient is normalized, when not as the value is (None: as ``reduction``).
    gradient_reduction: str | None = None
    #: the output activation this loss can absorb and work on logits for.
    fuses_with: type[Activation] | None = None

    def __init__(self, reduction: str | None = None) -> None:
        if reduction is not None:
            self.reduction = check_choice("reduction", reduction, REDUCTIONS)

    @property
    def averages(self) -> bool:
        """Whether the value is a (weighted) mean over samples rather than a sum."""
        return self.reduction != "sum"

    def fuses(self, activation: Activation) -> bool:
        """Whether this loss computes on the logits of ``activation``'s input."""
        return self.fuses_with is not None and type(activation) is self.fuses_with

    def check_output(self, n_outputs: int) -> None:
        """Raise ConfigError if a network with ``n_outputs`` units cannot use this loss."""

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype[Any]) -> np.ndarray:
        """Validate targets and bring them to the form ``evaluate`` expects.

        Returns an (n, k) array of ``dtype`` (a view when it already is one).
        """
        y = _as_numeric(y, "y")
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != n_outputs:
            raise DataError(
                f"y has shape {y.shape} but the network has {n_outputs} output unit(s); "
                f"pass y of shape (n_samples, {n_outputs})"
                + (" or (n_samples,)" if n_outputs == 1 else "")
            )
        check_finite(y, "y")
        return np.asarray(y, dtype=dtype)

    def elementwise(self, pred: np.ndarray, y: np.ndarray, logits: bool, grad: bool
                    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(l, dl/dpred or None): terms (n, m) and derivatives (n, k), new arrays.

        m is k for elementwise losses and 1 for row-wise ones (cross-entropy).
        """
        raise NotImplementedError

    def evaluate(
        self,
        pred: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        logits: bool = False,
        grad: bool = True,
    ) -> tuple[float, np.ndarray | None]:
        """(loss value, dL/dpred or None). ``logits`` means ``pred`` is pre-activation."""
        w, total = weight_column(sample_weight, len(pred), pred.dtype)
        if total == 0.0:  # a batch whose samples all weigh 0 teaches nothing
            return 0.0, (np.zeros_like(pred) if grad else None)
        elem, d = self.elementwise(pred, y, logits, grad)
        value = float(np.sum(elem if w is None else elem * w))
        if self.reduction == "mean":
            value /= elem.shape[1] * total
        elif self.reduction == "sample_mean":
            value /= total
        return value, (None if d is None else self._scale_gradient(d, w, elem.shape[1], total))

    def _scale_gradient(self, d: np.ndarray, w: np.ndarray | None, m: int,
                        total: float) -> np.ndarray:
        """d * w, normalized as the reduction normalizes the value, in place on ``d``."""
        reduction = self.gradient_reduction or self.reduction
        if w is not None:
            d *= w
        if reduction == "mean":
            d *= 1.0 / (m * total)
        elif reduction == "sample_mean":
            d /= total
        return d

    @property
    def custom_reduction(self) -> str | None:
        """The reduction when it is not this loss's default, else None."""
        return None if self.reduction == type(self).reduction else self.reduction

    @property
    def is_default(self) -> bool:
        """Whether this is the loss its registered name stands for (default reduction)."""
        return LOSSES.get(self.name) is type(self) and self.custom_reduction is None

    def get_config(self) -> dict[str, Any]:
        custom = self.custom_reduction
        return {"name": self.name, **({"reduction": custom} if custom else {})}

    def __repr__(self) -> str:
        custom = self.custom_reduction
        return f"{type(self).__name__}({'' if custom is None else f'reduction={custom!r}'})"


def _as_numeric(y: Any, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.dtype == bool:
        y = y.astype(np.float64)
    if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.complexfloating):
        raise DataError(f"{what} must be numeric, got dtype {y.dtype}; encode labels as numbers")
    if y.size == 0:
        raise DataError(f"{what} is empty; pass at least one sample")
    return y


def weight_column(sample_weight: np.ndarray | None, n: int, dtype: np.dtype[Any]
                  ) -> tuple[np.ndarray | None, float]:
    """Column of per-sample weights (n, 1) or None, and the normalizer sum(w)."""
    if sample_weight is None:
        return None, float(n)
    w = sample_weight.reshape(-1, 1).astype(dtype, copy=False)
    return w, float(w.sum())


class SumSquaredError(Loss):
    """l = 0.5 * (pred - y)**2, summed by default: L = 0.5 * sum_i w_i sum_j (pred_ij - y_ij)**2.

    dL/dpred = w_i * (pred - y). The tutorial's loss: its update
    ``syn += l.T.dot((y - out) * out * (1 - out))`` is gradient descent with
    learning rate 1 on exactly this sum.
    """

    name = "sse"
    reduction = "sum"

    def elementwise(self, pred: np.ndarray, y: np.ndarray, logits: bool, grad: bool
                    ) -> tuple[np.ndarray, np.ndarray | None]:
        d = np.subtract(pred, y)
        return 0.5 * (d * d), (d if grad else None)

    def evaluate(
        self, pred: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None, *,
        logits: bool = False, grad: bool = True,
    ) -> tuple[float, np.ndarray | None]:
        if sample_weight is None and self.reduction == "sum":
            # The tutorial's case: one BLAS dot instead of a square and a sum.
            d = np.subtract(pred, y)
            return 0.5 * float(np.vdot(d, d)), (d if grad else None)
        return super().evaluate(pred, y, sample_weight, logits=logits, grad=grad)


class MeanSquaredError(Loss):
    """l = (pred - y)**2: L = sum_i w_i * mean_j (pred_ij - y_ij)**2 / sum_i w_i.

    dL/dpred = 2 w_i (pred - y) / (k sum w).
    """

    name = "mse"

    def elementwise(self, pred: np.ndarray, y: np.ndarray, logits: bool, grad: bool
                    ) -> tuple[np.ndarray, np.ndarray | None]:
        d = np.subtract(pred, y)
        return d * d, (2.0 * d if grad else None)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return Sigmoid()(z)


class BinaryCrossEntropy(Loss):
    """L = mean_i,j w_i * -(y log p + (1 - y) log(1 - p)), p = sigmoid(z); targets in [0, 1].

    From logits: l = max(z, 0) - z * y + log(1 + exp(-|z|)) and dL/dz = w (p - y) / (k sum w).
    One unit for binary problems; k units for k independent labels (multilabel).
    """

    name = "binary_crossentropy"
    fuses_with = Sigmoid

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype[Any]) -> np.ndarray:
        y = super().prepare_targets(y, n_outputs, dtype)
        if y.min() < 0 or y.max() > 1:
            raise DataError("binary cross-entropy needs targets in [0, 1] (class 0/1 per unit); "
                            f"got values from {y.min()} to {y.max()}")
        return y

    def elementwise(self, pred: np.ndarray, y: np.ndarray, logits: bool, grad: bool
                    ) -> tuple[np.ndarray, np.ndarray | None]:
        if logits:
            # log(1 + exp(-|z|)); -|z| is clipped so exp cannot underflow.
            soft = np.maximum(-np.abs(pred), -exp_limit(pred.dtype))
            np.exp(soft, out=soft)
            np.log1p(soft, out=soft)
            elem = np.maximum(pred, 0.0)
            elem -= pred * y
            elem += soft
            return elem, (_sigmoid(pred) - y if grad else None)
        p = np.clip(pred, EPS, 1.0 - EPS)
        elem = -(y * np.log(p) + (1.0 - y) * np.log1p(-p))
        return elem, ((p - y) / (p * (1.0 - p)) if grad else None)


class CategoricalCrossEntropy(Loss):
    """L = sum_i w_i * -log p_{i, y_i} / sum_i w_i, p = softmax(z).

    Targets: integer class labels (n,) in [0, k), or one-hot / probability rows (n, k).
    From logits: log p = z - max(z) - log(sum(exp(z - max(z)))) and
    dL/dz = w_i (p - onehot(y)) / sum w.
    """

    name = "categorical_crossentropy"
    fuses_with = Softmax

    def check_output(self, n_outputs: int) -> None:
        if n_outputs < 2:
            raise ConfigError(
                "categorical cross-entropy needs an output layer with >= 2 units (one per class); "
                "for two classes use loss='binary_crossentropy' with 1 sigmoid unit"
            )

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype[Any]) -> np.ndarray:
        y = _as_numeric(y, "y")
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim == 1:  # class labels
            check_finite(y, "y")
            if not np.issubdtype(y.dtype, np.integer):
                if not np.array_equal(y, np.round(y)):
                    raise DataError("categorical cross-entropy with 1-D y needs integer class "
                                    "labels 0..k-1; got non-integer values")
            labels = y.astype(np.intp, copy=False)
            if labels.min() < 0 or labels.max() >= n_outputs:
                raise DataError(
                    f"class labels must be in [0, {n_outputs}) for {n_outputs} output units; "
                    f"got labels from {labels.min()} to {labels.max()}"
                )
            return labels
        if y.ndim != 2 or y.shape[1] != n_outputs:
            raise DataError(f"y has shape {y.shape}; pass integer labels (n_samples,) or "
                            f"one-hot rows (n_samples, {n_outputs})")
        check_finite(y, "y")
        if y.min() < 0:
            raise DataError("one-hot / probability targets must be >= 0")
        return np.asarray(y, dtype=dtype)

    def elementwise(self, pred: np.ndarray, y: np.ndarray, logits: bool, grad: bool
                    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Row terms -sum_j y_j log p_j, shape (n, 1), and their derivatives (n, k)."""
        n = len(pred)
        if logits and y.ndim == 1:
            return self._labels_from_logits(pred, y, grad)
        if logits:
            # log-softmax from the row-shifted logits: exp only ever sees values <= 0.
            logp = pred - pred.max(axis=1, keepdims=True)
            p = np.maximum(logp, -exp_limit(pred.dtype))
            np.exp(p, out=p)
            total_exp = p.sum(axis=1, keepdims=True)
            p /= total_exp
            logp -= np.log(total_exp)
        else:
            p = np.clip(pred, EPS, 1.0)
            logp = np.log(p)
        if y.ndim == 1:
            rows = np.arange(n)
            elem = -logp[rows, y][:, None]
            if not grad:
                return elem, None
            d = np.zeros_like(pred)
            d[rows, y] = -1.0 / p[rows, y]
            return elem, d
        elem = -np.sum(y * logp, axis=1, keepdims=True)
        if not grad:
            return elem, None
        # d/dz of -sum_j y_j log p_j is p * sum_j y_j - y (rows need not sum to 1).
        return elem, (p * y.sum(axis=1, keepdims=True) - y if logits else -y / p)

    def _labels_from_logits(self, z: np.ndarray, y: np.ndarray, grad: bool
                            ) -> tuple[np.ndarray, np.ndarray | None]:
        """The common case (softmax logits, integer labels) with as few passes as possible.

        Only the n picked log-probabilities are formed, not the whole (n, k) log-softmax;
        the reductions call the ufuncs directly (the ``.max``/``.sum`` methods add Python
        overhead that dominates on a 128 x 10 batch).
        """
        rows = np.arange(len(z))
        shifted = z - np.maximum.reduce(z, axis=1, keepdims=True)
        p = np.maximum(shifted, -exp_limit(z.dtype))  # exp of this never underflows
        np.exp(p, out=p)
        total_exp = np.add.reduce(p, axis=1)
        elem = np.log(total_exp)
        elem -= shifted[rows, y]  # -log p[i, y_i]
        if not grad:
            return elem[:, None], None
        p /= total_exp[:, None]
        p[rows, y] -= 1.0  # dL/dz = p - onehot(y), before weighting and scaling
        return elem[:, None], p


class Poisson(Loss):
    """L = mean w * (mu - y log mu), mu = exp(z); targets >= 0 (counts or rates).

    From logits (log-rates): l = exp(z) - y z and dL/dz = w (exp(z) - y) / (k sum w).
    """

    name = "poisson"
    fuses_with = Exponential

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype[Any]) -> np.ndarray:
        y = super().prepare_targets(y, n_outputs, dtype)
        if y.min() < 0:
            raise DataError("Poisson loss needs targets >= 0 (counts or rates)")
        return y

    def elementwise(self, pred: np.ndarray, y: np.ndarray, logits: bool, grad: bool
                    ) -> tuple[np.ndarray, np.ndarray | None]:
        if logits:
            mu = Exponential()(pred)
            return mu - y * pred, (mu - y if grad else None)
        mu = np.maximum(pred, EPS)
        return mu - y * np.log(mu), (1.0 - y / mu if grad else None)


LOSSES: dict[str, type[Loss]] = {
    "sse": SumSquaredError,
    "mse": MeanSquaredError,
    "squared_error": MeanSquaredError,
    "binary_crossentropy": BinaryCrossEntropy,
    "bce": BinaryCrossEntropy,
    "categorical_crossentropy": CategoricalCrossEntropy,
    "sparse_categorical_crossentropy": CategoricalCrossEntropy,
    "cross_entropy": CategoricalCrossEntropy,
    "poisson": Poisson,
}


def get_loss(spec: str | Loss | type[Loss]) -> Loss:
    """A loss instance from a registered name, a Loss class or instance."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, type) and issubclass(spec, Loss):
        return spec()
    if isinstance(spec, str):
        return LOSSES[check_choice("loss", spec.lower(), LOSSES)]()
    raise TypeError(f"loss must be a name or a Loss, got {type(spec).__name__}")
