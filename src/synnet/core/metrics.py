"""Training metrics: ``metric(pred, y) -> float``, the mean over the batch.

``pred`` is the network output (n, k) after its final activation; ``y`` is the
loss's prepared target: integer labels (n,) or an (n, k) array.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from synnet._validation import check_choice

Metric = Callable[[np.ndarray, np.ndarray], float]


def _dense_targets(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n, k) targets: one-hot rows for integer labels."""
    if y.ndim == 1:
        onehot = np.zeros_like(pred)
        onehot[np.arange(len(y)), y] = 1.0
        return onehot
    return y


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    """Fraction correct: argmax over k > 1 units, else pred > 0.5 against y > 0.5."""
    if pred.shape[1] == 1:
        return float(np.mean((pred > 0.5) == (y > 0.5)))
    labels = y if y.ndim == 1 else np.argmax(y, axis=1)
    return float(np.mean(np.argmax(pred, axis=1) == labels))


def mae(pred: np.ndarray, y: np.ndarray) -> float:
    """Mean absolute error, mean(|pred - y|) (the tutorial's printed 'Error')."""
    return float(np.mean(np.abs(pred - _dense_targets(pred, y))))


def mse(pred: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error, mean((pred - y)**2)."""
    d = pred - _dense_targets(pred, y)
    return float(np.mean(d * d))


METRICS: dict[str, Metric] = {"accuracy": accuracy, "acc": accuracy, "mae": mae, "mse": mse}


def get_metric(name: str) -> Metric:
    """A metric function by name."""
    return METRICS[check_choice("metric", name, METRICS)]
