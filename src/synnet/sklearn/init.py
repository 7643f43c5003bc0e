"""scikit-learn's MLP weight initialization, as a synnet initializer."""

from __future__ import annotations

from typing import Any

import numpy as np


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
