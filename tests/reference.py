"""The tutorial's own loops, verbatim in spirit, used as references by the tests."""

from __future__ import annotations

import numpy as np


def nonlin(x: np.ndarray, deriv: bool = False) -> np.ndarray:
    if deriv:
        return x * (1 - x)
    return 1 / (1 + np.exp(-x))


def part2_trace(X: np.ndarray, y: np.ndarray, alpha: float, hidden: int,
                steps: int = 60000, every: int = 10000) -> list[float]:
    """Part 2 ("gradient descent"): the 3-layer loop with a learning rate alpha."""
    rs = np.random.RandomState(1)  # the tutorial's np.random.seed(1), without global state
    synapse_0 = 2 * rs.random_sample((3, hidden)) - 1
    synapse_1 = 2 * rs.random_sample((hidden, 1)) - 1
    trace = []
    with np.errstate(over="ignore", under="ignore"):  # the tutorial's exp overflows at alpha=1000
        for j in range(steps):
            layer_1 = nonlin(np.dot(X, synapse_0))
            layer_2 = nonlin(np.dot(layer_1, synapse_1))
            layer_2_error = layer_2 - y
            if j % every == 0:
                trace.append(float(np.mean(np.abs(layer_2_error))))
            layer_2_delta = layer_2_error * nonlin(layer_2, deriv=True)
            layer_1_error = layer_2_delta.dot(synapse_1.T)
            layer_1_delta = layer_1_error * nonlin(layer_1, deriv=True)
            synapse_1 -= alpha * (layer_1.T.dot(layer_2_delta))
            synapse_0 -= alpha * (X.T.dot(layer_1_delta))
    return trace
