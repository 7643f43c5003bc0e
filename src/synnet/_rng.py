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


#: The bit generators a Generator's saved state may name.
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def check_state(state: Any) -> str:
    """Check a snapshot read from a file; ValueError saying what is wrong, else its kind.

    The snapshot must have exactly the structure :func:`get_state` gives for
    its kind (keys, ints in range, arrays of the exact dtype and shape), and a
    fresh generator of that kind must accept it. Returns "RandomState" or
    "Generator(<bit generator>)".
    """
    if not isinstance(state, dict) or state.get("kind") not in ("Generator", "RandomState"):
        raise ValueError("rng must be a dict with kind 'Generator' or 'RandomState'")
    if state["kind"] == "RandomState":
        fresh = np.random.RandomState(0)
        _same_structure(state, get_state(fresh), "rng")
        try:
            set_state(fresh, state)
        except (ValueError, TypeError, OverflowError, KeyError) as exc:
            raise ValueError(f"rng: {exc}") from None
        return "RandomState"
    inner = state.get("state")
    name = inner.get("bit_generator") if isinstance(inner, dict) else None
    if name not in BIT_GENERATORS:
        raise ValueError(f"rng: unknown bit generator {name!r}; known: {BIT_GENERATORS}")
    bit_generator = getattr(np.random, str(name))()
    _same_structure(state, {"kind": "Generator", "state": bit_generator.state}, "rng")
    try:
        bit_generator.state = inner
    except (ValueError, TypeError, OverflowError, KeyError) as exc:
        raise ValueError(f"rng: {exc}") from None
    return f"Generator({name})"


def _same_structure(value: Any, template: Any, where: str) -> None:
    """``value`` has ``template``'s keys, types, dtypes and shapes; ints in [0, 2**128)."""
    if isinstance(template, dict):
        if not isinstance(value, dict) or set(value) != set(template):
            raise ValueError(f"{where} must have the keys {sorted(template)}")
        for key, sub in template.items():
            _same_structure(value[key], sub, f"{where}.{key}")
    elif isinstance(template, np.ndarray):
        if not isinstance(value, np.ndarray) or value.dtype != template.dtype \
                or value.shape != template.shape:
            raise ValueError(f"{where} must be an array of dtype {template.dtype} and shape "
                             f"{template.shape}")
    elif isinstance(template, str):
        if value != template:
            raise ValueError(f"{where} must be {template!r}")
    elif isinstance(template, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where} must be a number")
    elif isinstance(template, int):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**128:
            raise ValueError(f"{where} must be an int in [0, 2**128)")
    else:  # pragma: no cover - get_state gives only the types above
        raise ValueError(f"{where}: unexpected {type(template).__name__}")


def uniform01(rng: Rng, shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
    """U[0, 1) samples of ``shape``; drawn directly in float32 when the generator can."""
    if isinstance(rng, np.random.Generator) and dtype == np.float32:
        return rng.random(shape, dtype=np.float32)
    return rng.random(shape)
