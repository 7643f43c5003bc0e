"""Activation functions as parameterless layers.

``forward(z, training, inplace=False)`` may overwrite ``z`` when ``inplace``
is set (Dense does, on its own pre-activation buffer that nothing else needs,
to save an allocation per layer and batch); ``backward(grad_y)`` returns dL/dz
from the cached output.
All of them are numerically stable by construction: ``exp`` is only ever called
on arguments clipped to a range where neither it nor ``1/(1+exp)`` overflows or
underflows, so they run cleanly under ``np.seterr(all="raise")``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from synnet._validation import check_choice, check_number
from synnet.core.layer import Layer

_EXP_LIMITS: dict[np.dtype[Any], float] = {}


def exp_limit(dtype: np.dtype[Any]) -> float:
    """Largest |z| for which exp(z) and 1/(1+exp(z)) stay finite and normal in ``dtype``.

    float64: ~699.8, float32: ~78.7. Sigmoid(-limit) is ~1e-304 (float64) and
    ~1e-34 (float32): clipping there changes no result that is not already 0
    to within the dtype's resolution of 1. Cached: it is asked for every batch.
    """
    limit = _EXP_LIMITS.get(dtype)
    if limit is None:
        limit = _EXP_LIMITS[dtype] = float(np.log(np.finfo(dtype).max)) - 10.0
    return limit


class Activation(Layer):
    """An elementwise (or row-wise, for softmax) function without parameters."""

    def __init__(self) -> None:
        super().__init__()
        self._y: np.ndarray | None = None

    def forward(
        self, x: np.ndarray, training: bool = False, inplace: bool = False
    ) -> np.ndarray:
        y = self._apply(x, x if inplace else None)
        self._y = y if training else None
        return y

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        if self._y is None:
            raise RuntimeError(f"{self.kind}.backward called without a training-mode forward")
        return self._grad(grad_y, self._y)

    def clear_cache(self) -> None:
        self._y = None

    def _apply(self, x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
        """Compute y from x; ``out`` is either None or ``x`` itself."""
        raise NotImplementedError

    def _grad(self, grad_y: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Apply the function without caching anything (inference).

        Underflow of exp to 0 is the right answer here, so it is not an error.
        """
        with np.errstate(under="ignore"):
            return self._apply(x, None)


class Identity(Activation):
    """y = z; dy/dz = 1."""

    kind = "identity"

    def _apply(self, x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
        return x

    def _grad(self, grad_y: np.ndarray, y: np.ndarray) -> np.ndarray:
        return grad_y


class Sigmoid(Activation):
    """y = 1 / (1 + exp(-z)); dy/dz = y * (1 - y).

    Computed exactly as the tutorial writes it (so its numbers reproduce to the
    last bit), with z clipped below at -exp_limit so exp(-z) can never
    overflow. For z above ~745 (float64), exp(-z) underflows to 0 and y is
    exactly 1, the correctly rounded answer; synnet's fit, predict and
    loss_and_grads ignore that underflow.
    """

    kind = "sigmoid"

    def _apply(self, x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
        # np.maximum rather than np.clip: same result, a quarter of the call overhead.
        limit = _EXP_LIMITS.get(x.dtype) or exp_limit(x.dtype)  # no call on the hot path
        y = np.maximum(x, -limit, out=out)
        np.negative(y, out=y)
        np.exp(y, out=y)
        y += 1.0
        return np.reciprocal(y, out=y)  # bitwise 1/y, without converting a scalar 1.0

    def _grad(self, grad_y: np.ndarray, y: np.ndarray) -> np.ndarray:
        # grad * (y * (1 - y)) in the tutorial's order of operations.
        d = np.subtract(1.0, y)
        d *= y
        d *= grad_y
        return d


class Tanh(Activation):
    """y = tanh(z); dy/dz = 1 - y**2."""

    kind = "tanh"

    def _apply(self, x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
        return np.tanh(x, out=out)

    def _grad(self, grad_y: np.ndarray, y: np.ndarray) -> np.ndarray:
        d = np.multiply(y, y)
        np.subtract(1.0, d, out=d)
        d *= grad_y
        return d


class ReLU(Activation):
    """y = max(z, 0); dy/dz = 1 where z > 0 else 0."""

    kind = "relu"

    def _apply(self, x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
        return np.maximum(x, 0.0, out=out)

    def _grad(self, grad_y: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.multiply(grad_y, y > 0)


class LeakyReLU(Activation):
    """y = z if z > 0 else alpha * z; dy/dz = 1 or alpha.

    Args:
        alpha: slope for negative inputs, >= 0 (0.01 is PyTorch's default).
    """

    kind = "leaky_relu"

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        self.alpha = check_number("LeakyReLU alpha", alpha, 0.0)

    def _apply(self, x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
        y = x.copy() if out is None else out
        return np.multiply(y, self.alpha, out=y, where=y < 0)

    def _grad(self, grad_y: np.ndarray, y: np.ndarray) -> np.ndarray:
        slope = np.where(y > 0, 1.0, self.alpha).astype(y.dtype, copy=False)
        slope *= grad_y
        return slope

    def get_config(self) -> dict[str, Any]:
        return {"kind": self.kind, "alpha": self.alpha}


class Softmax(Activation):
    """y_i = exp(z_i) / sum_j exp(z_j) along axis 1; dL/dz = y * (g - sum(g * y)).

    Shifted by the row maximum so exp never overflows; the shifted logits are
    clipped at -exp_limit so exp never underflows to a subnormal.
    """

    kind = "softmax"

    def _apply(self, x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
        y = np.subtract(x, x.max(axis=1, keepdims=True), out=out)
        np.maximum(y, -exp_limit(x.dtype), out=y)
        np.exp(y, out=y)
        y /= y.sum(axis=1, keepdims=True)
        return y

    def _grad(self, grad_y: np.ndarray, y: np.ndarray) -> np.ndarray:
        d = np.multiply(grad_y, y)
        d -= y * d.sum(axis=1, keepdims=True)
        return d


class Exponential(Activation):
    """y = exp(z) (Poisson regression's inverse link); dy/dz = y.

    z is clipped at +exp_limit so the result stays finite.
    """

    kind = "exponential"

    def _apply(self, x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
        limit = exp_limit(x.dtype)
        y = np.minimum(x, limit, out=out)
        np.maximum(y, -limit, out=y)
        return np.exp(y, out=y)

    def _grad(self, grad_y: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.multiply(grad_y, y)


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


ACTIVATIONS: dict[str, type[Activation]] = {
    "identity": Identity,
    "linear": Identity,
    "sigmoid": Sigmoid,
    "logistic": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "softmax": Softmax,
    "exponential": Exponential,
}


def get_activation(spec: str | Activation | type[Activation] | None) -> Activation:
    """An activation instance from a name, a class, an instance, or None (identity)."""
    if spec is None:
        return Identity()
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, type) and issubclass(spec, Activation):
        return spec()
    if isinstance(spec, str):
        return ACTIVATIONS[check_choice("activation", spec.lower(), ACTIVATIONS)]()
    raise TypeError(
        f"activation must be a name, an Activation class or instance, or None; "
        f"got {type(spec).__name__}"
    )
