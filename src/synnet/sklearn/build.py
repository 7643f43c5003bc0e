"""From scikit-learn's MLP parameters to a synnet network and optimizer.

Pure functions of the parameters (checked here, before any work), so the
estimators keep only validation, fitting and their API.
"""

from __future__ import annotations

from itertools import pairwise
from numbers import Integral, Real
from typing import Any

import numpy as np

from synnet.core.layer import Layer
from synnet.core.layers import Dense, Dropout
from synnet.core.network import Network
from synnet.core.optimizers import SGD, Adam, Optimizer
from synnet.sklearn.init import GlorotUniform
from synnet.sklearn.params import HIDDEN_ACTIVATIONS, OUT_ACTIVATIONS


def hidden_sizes(hidden_layer_sizes: Any) -> list[int]:
    """``hidden_layer_sizes`` (an int or a sequence of them) as a list of sizes >= 1."""
    sizes = list(hidden_layer_sizes) if hasattr(hidden_layer_sizes, "__iter__") else [
        hidden_layer_sizes]
    if any(isinstance(s, bool) or not isinstance(s, Integral) for s in sizes):
        # scikit-learn fails here with a TypeError too (deeper down, and less clearly).
        raise TypeError(f"hidden_layer_sizes must be whole numbers, got {sizes}.")
    if any(s <= 0 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    return [int(s) for s in sizes]


def per_layer(name: str, value: Any, n_hidden: int) -> list[Any]:
    """``activation`` or ``dropout`` as one checked value per hidden layer."""
    scalar = isinstance(value, str) if name == "activation" else isinstance(value, Real)
    values = [value] * n_hidden if scalar else list(value)
    if name == "activation":
        ok = all(isinstance(v, str) and v in HIDDEN_ACTIVATIONS for v in values)
        allowed = f"one of {list(HIDDEN_ACTIVATIONS)}"
    else:
        ok = all(isinstance(v, Real) and not isinstance(v, bool) and 0 <= float(v) < 1
                 for v in values)
        allowed = "a rate in [0, 1)"
    if not ok or len(values) != n_hidden:
        raise ValueError(f"{name} must be {allowed} or a list of them with one entry per "
                         f"hidden layer ({n_hidden}); got {value!r}")
    return values


def network(n_features: int, hidden: list[int], activations: list[str], rates: list[float],
            n_outputs: int, out_activation: str, dtype: Any, rng: np.random.RandomState,
            activation: Any) -> Network:
    """Dense layers initialized as scikit-learn does, with Dropout after hidden layers.

    ``activations`` and ``rates`` have one entry per hidden layer;
    ``out_activation`` is scikit-learn's name ("identity", "logistic",
    "softmax", "exp"); ``activation`` is the estimator's parameter as given.
    With the same ``rng`` the initial weights are scikit-learn's.
    """
    # Glorot factor 2 for logistic layers, else 6; the output layer takes the last
    # hidden layer's, or with no hidden layer the activation parameter's (with a single
    # name this is exactly scikit-learn's rule).
    factor_names = [*activations, activations[-1] if activations else activation]
    sizes = [n_features, *hidden, n_outputs]
    layers: list[Layer] = []
    for i, (fan_in, fan_out) in enumerate(pairwise(sizes)):
        init = GlorotUniform(fan_in, fan_out, 2.0 if factor_names[i] == "logistic" else 6.0)
        act = activations[i] if i < len(hidden) else OUT_ACTIVATIONS[out_activation]
        layers.append(Dense(fan_in, fan_out, act, init=init, bias_init=init))
        if i < len(hidden) and rates[i] > 0:
            layers.append(Dropout(rates[i]))
    return Network(layers, seed=rng, dtype=dtype)


def optimizer(solver: str, learning_rate_init: float, *, beta_1: float, beta_2: float,
              epsilon: float, momentum: float, nesterov: bool) -> Optimizer:
    """A fresh Adam (solver "adam") or SGD (solver "sgd") with scikit-learn's settings."""
    if solver == "adam":
        return Adam(lr=learning_rate_init, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
    return SGD(lr=learning_rate_init, momentum=momentum, nesterov=nesterov)
