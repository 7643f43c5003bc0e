"""Weight initializers: ``(rng, shape, dtype) -> array``.

``shape`` is ``(fan_in, fan_out)`` for a weight matrix. Every initializer draws
from the generator it is given and from nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from synnet._rng import Rng
from synnet.errors import ConfigError

Initializer = Callable[[Rng, tuple[int, ...], np.dtype[Any]], np.ndarray]
InitSpec = str | Initializer | None


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 1:  # a bias vector: treat as one fan
        return shape[0], shape[0]
    return shape[0], shape[1]


def tutorial(rng: Rng, shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
    """2 * U[0, 1) - 1, the tutorial's ``2*np.random.random(shape) - 1``."""
    return (2 * rng.random(shape) - 1).astype(dtype, copy=False)


def zeros(rng: Rng, shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
    """All zeros (the usual bias initializer); draws nothing."""
    return np.zeros(shape, dtype=dtype)


def glorot_uniform(rng: Rng, shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
    """U[-l, l] with l = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = _fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(dtype, copy=False)


def glorot_normal(rng: Rng, shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
    """N(0, s^2) with s = sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), shape).astype(dtype, copy=False)


def he_uniform(rng: Rng, shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
    """U[-l, l] with l = sqrt(6 / fan_in) (He et al. 2015), for ReLU layers."""
    fan_in, _ = _fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, shape).astype(dtype, copy=False)


def he_normal(rng: Rng, shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
    """N(0, s^2) with s = sqrt(2 / fan_in), for ReLU layers."""
    fan_in, _ = _fans(shape)
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(dtype, copy=False)


INITIALIZERS: dict[str, Initializer] = {
    "tutorial": tutorial,
    "zeros": zeros,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
}

# Sensible defaults: He for the ReLU family, Glorot for everything else.
_DEFAULT_FOR_ACTIVATION = {"relu": "he_uniform", "leaky_relu": "he_uniform"}


def default_for(activation_kind: str) -> str:
    """The default weight initializer's name for an activation kind."""
    return _DEFAULT_FOR_ACTIVATION.get(activation_kind, "glorot_uniform")


def get_initializer(spec: InitSpec) -> Initializer:
    """An initializer from a registered name or a callable ``(rng, shape, dtype)``."""
    if callable(spec):
        return spec
    if isinstance(spec, str) and spec in INITIALIZERS:
        return INITIALIZERS[spec]
    raise ConfigError(
        f"unknown initializer {spec!r}; known: {', '.join(sorted(INITIALIZERS))} "
        f"or a callable (rng, shape, dtype) -> array"
    )
