"""Explicit random generators: no global random state anywhere in synnet.

A seed may be an int, a ``np.random.Generator`` or a legacy
``np.random.RandomState`` (the latter reproduces the tutorial's
``np.random.seed(1)`` weights exactly). Both generator types share the methods
used here: ``random``, ``uniform``, ``normal`` and ``permutation``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Rng = np.random.Generator | np.random.RandomState
Seed = int | np.integer | np.random.Generator | np.random.RandomState | None


def as_rng(seed: Seed) -> Rng:
    """Return a generator for ``seed``; generators are used as given, not copied."""
    if isinstance(seed, (np.random.Generator, np.random.RandomState)):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        if isinstance(seed, (bool, np.bool_)):
            raise TypeError("seed must be an int, a np.random.Generator or RandomState, not bool")
        return np.random.default_rng(None if seed is None else int(seed))
    raise TypeError(
        f"seed must be an int, a np.random.Generator, a np.random.RandomState or None, "
        f"not {type(seed).__name__}"
    )


def get_state(rng: Rng) -> dict[str, Any]:
    """A snapshot of the generator's state, restorable with :func:`set_state`."""
    if isinstance(rng, np.random.RandomState):
        name, keys, pos, has_gauss, gauss = rng.get_state()
        return {"kind": "RandomState", "name": name, "keys": keys, "pos": pos,
                "has_gauss": has_gauss, "gauss": gauss}
    return {"kind": "Generator", "state": rng.bit_generator.state}


def set_state(rng: Rng, state: dict[str, Any]) -> None:
    """Restore a snapshot taken with :func:`get_state` (same generator kind)."""
    if isinstance(rng, np.random.RandomState):
        rng.set_state((state["name"], state["keys"], state["pos"],
                       state["has_gauss"], state["gauss"]))
    else:
        rng.bit_generator.state = state["state"]


def uniform01(rng: Rng, shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
    """U[0, 1) samples of ``shape``; drawn directly in float32 when the generator can."""
    if isinstance(rng, np.random.Generator) and dtype == np.float32:
        return rng.random(shape, dtype=np.float32)
    return rng.random(shape)
