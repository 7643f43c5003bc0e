"""The Layer protocol every layer and activation follows.

A layer maps a batch ``x`` of shape ``(n, in)`` to ``y`` of shape ``(n, out)``.
``backward`` receives dL/dy, *overwrites* the layer's gradients (no
accumulation, so there is no ``zero_grad`` to forget) and returns dL/dx.
A layer caches only what its backward needs, only in training mode, and only
for the last call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from synnet._rng import Rng


class Layer:
    """Base class: a layer without parameters that passes data through unchanged.

    Subclasses override ``forward`` and ``backward``; layers with parameters
    fill ``params`` and ``grads`` (same keys, same shapes) in ``build``.
    """

    #: Registry name used in model files; subclasses set their own.
    kind: str = "layer"

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def build(self, rng: Rng, init: Any, dtype: np.dtype[Any]) -> None:
        """Create parameters (if any) from ``rng``; ``init`` is the network's default."""

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """(n, in) -> (n, out)."""
        return x

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """dL/dy (n, out) -> dL/dx (n, in); ``None`` when ``input_grad`` is False."""
        return grad_y if input_grad else None

    def set_rng(self, rng: Rng) -> None:
        """Use ``rng`` from now on for any randomness the layer has (dropout masks)."""

    def clear_cache(self) -> None:
        """Drop what the last training-mode forward cached for backward."""

    def output_size(self, input_size: int) -> int:
        """Number of output features for ``input_size`` input features."""
        return input_size

    def astype(self, dtype: np.dtype[Any]) -> None:
        """Convert parameters and gradients to ``dtype`` in place of the old arrays."""
        for key in self.params:
            self.params[key] = self.params[key].astype(dtype)
            self.grads[key] = np.zeros_like(self.params[key])

    def get_config(self) -> dict[str, Any]:
        """JSON-able constructor arguments; ``kind`` names the class in model files."""
        return {"kind": self.kind}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "kind")
        return f"{type(self).__name__}({args})"
