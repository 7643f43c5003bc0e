"""Validated data for a network: features X, prepared targets y, optional sample weights w.

:func:`prepare` checks one dataset once, before any work (shapes, NaN/inf,
targets the loss accepts, weights), and brings it to the network's dtype;
everything downstream (the training step, the fit loop, evaluation) trusts it.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from synnet._validation import check_sample_weight, check_X
from synnet.errors import DataError

if TYPE_CHECKING:
    from synnet.core.losses import Loss


class Batch:
    """X (n, d) (dense or scipy sparse), prepared targets y (n, ...), weights w (n,) or None."""

    def __init__(self, X: Any, y: np.ndarray, w: np.ndarray | None) -> None:
        self.X, self.y, self.w = X, y, w
        self.n = int(X.shape[0])

    def __len__(self) -> int:
        return self.n

    def rows(self, start: int, stop: int) -> Batch:
        """Views of rows [start, stop): no copy."""
        w = None if self.w is None else self.w[start:stop]
        return Batch(self.X[start:stop], self.y[start:stop], w)


def prepare(X: Any, y: Any, loss: Loss, sample_weight: Any, *, n_inputs: int, n_outputs: int,
            dtype: np.dtype[Any], what: str = "X") -> Batch:
    """Check one dataset and bring it to ``dtype``, the network's parameter dtype.

    Float data of the other precision is converted once, with a warning (never
    silently); integers become ``dtype``.
    """
    X = check_X(X, n_inputs, dtype, what)
    if X.dtype != dtype:
        # Mixed precision would make every step convert; convert once, and say so.
        warnings.warn(
            f"{what} is {X.dtype} but the network computes in {dtype}; converting a copy "
            f"of {what} once. Pass {dtype} data to avoid the copy.", stacklevel=4)
        X = X.astype(dtype)
    yp = loss.prepare_targets(y, n_outputs, dtype)
    if len(yp) != X.shape[0]:
        raise DataError(f"{what} has {X.shape[0]} rows but its targets have {len(yp)}; "
                        "pass one target per row")
    w = check_sample_weight(sample_weight, X.shape[0])
    return Batch(X, yp, None if w is None else w.astype(dtype, copy=False))
