"""Input checks shared by fit, predict and loss_and_grads: fail before any work."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from synnet.errors import ConfigError, DataError


def is_sparse(x: Any) -> bool:
    """True for scipy sparse matrices/arrays, recognised without importing scipy."""
    return hasattr(x, "tocsr") and hasattr(x, "nnz")


def is_encoded(x: Any) -> bool:
    """True for matrices held encoded, whose rows become dense when gathered
    (``synnet.tabular.encoded.EncodedRows``); their finite values are in ``x.dense``."""
    return getattr(x, "expands_rows", False) is True


def check_X(X: Any, n_features: int | None, dtype: np.dtype[Any] | None, what: str = "X") -> Any:
    """Validate a 2-D feature matrix; return it, converted only if it must be.

    Floating arrays are returned as they are (no copy: float32 stays float32).
    Integers and booleans become ``dtype`` (float64 if None): the one copy
    that cannot be avoided. Sparse matrices are returned in CSR form.
    """
    if is_sparse(X):
        X = X.tocsr()
        values = X.data
    elif is_encoded(X):  # the one-hot part is 0s and 1s; the rest is checked here
        values = X.dense
    else:
        X = np.asarray(X)
        values = X
    if X.ndim != 2:
        hint = " (for one feature use X.reshape(-1, 1))" if X.ndim == 1 else ""
        raise DataError(f"{what} must be 2-D (n_samples, n_features), got shape {X.shape}{hint}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{what} is empty (shape {X.shape}); pass at least one sample and feature")
    if n_features is not None and X.shape[1] != n_features:
        raise DataError(f"{what} has {X.shape[1]} features but the network expects {n_features}; "
                        "pass data with the same columns the network was built for")
    kind = values.dtype.kind
    if kind not in "fiub":
        raise DataError(f"{what} must be numeric, got dtype {values.dtype}; "
                        "encode text columns as numbers first")
    if kind == "f":
        check_finite(values, what)
    else:  # integers and booleans are finite; converting them is the unavoidable copy
        X = X.astype(dtype or np.float64)
    return X


def check_finite(values: np.ndarray, what: str) -> None:
    """Raise DataError naming the first non-finite entry; no full-size temporary when clean."""
    with np.errstate(all="ignore"):
        # NaN/inf propagate into the sum: a cheap first pass, in the data's own precision
        # (half the time of a float64 sum for float32 data). An overflowing sum only sends
        # us to the exact check below.
        total = float(np.add.reduce(values, axis=None))
    if math.isfinite(total):
        return
    flat = values.reshape(len(values), -1) if values.ndim > 1 else values.reshape(-1, 1)
    step = max(1, (1 << 20) // max(1, flat.shape[1]))
    for start in range(0, len(flat), step):
        bad = ~np.isfinite(flat[start:start + step])
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise DataError(
                f"{what} contains NaN or inf (first at row {start + row}, column {col}); "
                "remove or impute those values first"
            )
    # Only overflow of the sum itself: every value is finite.


def check_sample_weight(sample_weight: Any, n: int) -> np.ndarray | None:
    """None, or a 1-D float array of n finite weights >= 0, not all zero."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n, float(w))
    if w.shape != (n,):
        raise DataError(f"sample_weight must have shape ({n},), got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise DataError("sample_weight must be finite and >= 0")
    if not w.any():
        raise DataError("sample_weight is zero for every sample; nothing to learn from")
    return w


def is_plain_scalar(v: Any) -> bool:
    """A JSON scalar (None, bool, int, str, or a finite float): a setting a file may hold."""
    if isinstance(v, float):
        return math.isfinite(v)
    return v is None or isinstance(v, (bool, int, str))


def check_int(name: str, value: Any, low: int, allow_none: bool = False) -> int | None:
    """An int >= low (or None when allowed), else ConfigError naming ``name``."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name} must be an int >= {low}" + (" or None" if allow_none else "")
                          + f", got {value!r}", params=[name])
    if value < low:
        raise ConfigError(f"{name} must be >= {low}, got {value}", params=[name])
    return int(value)


def check_number(name: str, value: Any, low: float = -math.inf, high: float = math.inf, *,
                 low_open: bool = False, high_open: bool = True) -> float:
    """A finite real number in the interval [low, high) (ends set by ``*_open``), else ConfigError.

    This is the one range check of the library: optimizers, layers, callbacks,
    fit and the command line's settings all use it.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]  # a 0-d array stands for its number, as float() takes it
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))
    try:
        v = float(value) if ok else math.nan
    except OverflowError:  # an int beyond the float range
        v = math.inf
    ok = ok and math.isfinite(v) and (v > low if low_open else v >= low)
    ok = ok and (v < high if high_open else v <= high)
    if not ok:
        lo = "(" if low_open or low == -math.inf else "["
        hi = ")" if high_open or high == math.inf else "]"
        raise ConfigError(f"{name} must be a finite number in {lo}{low}, {high}{hi}, "
                          f"got {value!r}", params=[name])
    return v


def check_fraction(name: str, value: Any) -> float:
    """A number in [0, 1), else ConfigError."""
    return check_number(name, value, 0.0, 1.0)


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """One of ``choices`` (a registry's names), else ConfigError listing them."""
    known = list(choices)
    if not isinstance(value, str) or value not in known:
        raise ConfigError(f"unknown {name} {value!r}; known: {', '.join(sorted(known))}",
                          params=[name])
    return value
