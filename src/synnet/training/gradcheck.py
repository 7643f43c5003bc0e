"""Finite-difference gradient checking for any network and loss."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from synnet._rng import get_state, set_state

if TYPE_CHECKING:
    from synnet.core.losses import Loss
    from synnet.core.network import Network


@dataclass
class GradCheckResult:
    """Outcome of :func:`gradcheck`: the worst relative error per parameter."""

    errors: dict[str, float] = field(default_factory=dict)
    tolerance: float = 1e-6

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def ok(self) -> bool:
        return self.max_error <= self.tolerance

    def __bool__(self) -> bool:
        return self.ok


def gradcheck(
    network: Network, x: Any, y: Any, loss: str | Loss, *, eps: float = 1e-6,
    tolerance: float = 1e-6, sample_weight: Any = None, l2: float = 0.0,
    max_checks: int | None = 200,
) -> GradCheckResult:
    """Compare ``loss_and_grads`` with central differences (L(p+eps) - L(p-eps)) / 2eps.

    The error for each entry is |analytic - numeric| / max(1, |analytic| + |numeric|)
    (a relative error that does not blow up near zero). The check runs on a
    float64 copy of the network, so it works for float32 networks too and never
    changes the network's weights. Randomness (dropout) is replayed identically
    for every evaluation by restoring the generator's state. ``max_checks`` caps
    the entries checked per parameter.
    """
    network = copy.deepcopy(network).astype(np.float64)
    x = x.astype(np.float64) if getattr(x, "dtype", None) == np.float32 else x
    state = get_state(network.rng)

    def evaluate() -> tuple[float, dict[str, np.ndarray]]:
        set_state(network.rng, state)
        return network.loss_and_grads(x, y, loss, sample_weight=sample_weight, l2=l2)

    _, grads = evaluate()
    analytic = {name: g.copy() for name, g in grads.items()}
    result = GradCheckResult(tolerance=tolerance)
    pick = np.random.default_rng(0)  # which entries to check, independent of the network
    for name, param in network.params.items():
        flat = param.reshape(-1)
        idx = np.arange(flat.size)
        if max_checks is not None and flat.size > max_checks:
            idx = pick.choice(flat.size, max_checks, replace=False)
        worst = 0.0
        for i in idx:
            orig = flat[i]
            flat[i] = orig + eps
            plus, _ = evaluate()
            flat[i] = orig - eps
            minus, _ = evaluate()
            flat[i] = orig
            numeric = (plus - minus) / (2 * eps)
            a = float(analytic[name].reshape(-1)[i])
            worst = max(worst, abs(a - numeric) / max(1.0, abs(a) + abs(numeric)))
        result.errors[name] = worst
    return result
