"""L2 regularization, the one implementation behind ``fit(l2=)`` and ``weight_decay``.

The penalty applies to weight matrices (parameters named ``"<layer>.W"``), not
to biases, as scikit-learn's ``alpha`` and Keras' kernel regularizers do:

    penalty = 0.5 * strength * sum(W**2)        gradient = strength * W
"""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]


def is_weight(name: str) -> bool:
    """Whether the parameter ``name`` is a weight matrix (penalized) rather than a bias."""
    return name.endswith("W")


class L2:
    """Adds ``strength * W`` to weight gradients, in buffers reused from step to step."""

    def __init__(self) -> None:
        self._scaled: dict[str, np.ndarray] = {}

    def penalty(self, params: Params, strength: float) -> float:
        """0.5 * strength * sum of W**2 over every weight matrix."""
        total = sum(float(np.vdot(p, p)) for name, p in params.items() if is_weight(name))
        return 0.5 * strength * total

    def add_gradient(self, params: Params, grads: Params, strength: float,
                     out: Params | None = None) -> Params:
        """grads + strength * W for weights; biases keep their gradient.

        With ``out`` None the weight gradients are updated in place in ``grads``;
        otherwise ``out`` (reusable buffers, keyed like ``params``) receives the
        sums and ``grads`` is left untouched. Returns the gradients to use.
        """
        result = grads if out is None else dict(grads)
        for name, param in params.items():
            if not is_weight(name):
                continue
            if out is None:
                scaled = _reused(self._scaled, name, param)
                np.multiply(param, strength, out=scaled)  # no allocation per step
                grads[name] += scaled
            else:
                target = result[name] = _reused(out, name, param)
                np.multiply(param, strength, out=target)
                target += grads[name]
        return result


def _reused(store: Params, name: str, param: np.ndarray) -> np.ndarray:
    """The buffer ``store[name]``, made anew only when ``param``'s shape or dtype changed."""
    buf = store.get(name)
    if buf is None or buf.shape != param.shape or buf.dtype != param.dtype:
        buf = store[name] = np.empty_like(param)
    return buf
