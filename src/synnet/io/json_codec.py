"""The one JSON codec of model files and checkpoints.

JSON has no NaN or infinity, no integers beyond 2**53 that every reader keeps
exactly, and no arrays. :func:`encode` turns such values into small tagged
objects and :func:`decode` turns them back:

=====================  ==========================================
value                  JSON
=====================  ==========================================
``float("inf")``       ``{"__float__": "inf"}`` (also "-inf", "nan")
``2**64 + 1``          ``{"__int__": "18446744073709551617"}``
``np.array([1, 2])``   ``{"__array__": [1, 2], "dtype": "<i8"}``
=====================  ==========================================

(Arrays of text or objects become plain lists.) A dict of the caller's whose
keys are exactly a tag's is wrapped, ``{"__dict__": {...}}``, so that it comes
back as the dict it was, never as the value a tag stands for.

Everything else must already be JSON: dicts with string keys, lists, tuples,
strings, numbers, booleans and None (NumPy scalars count as numbers). Decoding
trusts nothing: an array's dtype must be a plain number or boolean type.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from synnet.errors import ConfigError

#: Integers beyond this magnitude are tagged (doubles hold every int up to 2**53).
MAX_EXACT_INT = 2**53
#: Array dtypes a decoded array may have: booleans, integers and floats.
ARRAY_KINDS = "biuf"
#: The key sets that mark a tagged value.
_TAGS = ({"__float__"}, {"__int__"}, {"__array__", "dtype"}, {"__dict__"})


def encode(value: Any, where: str = "value") -> Any:
    """A plain JSON value for ``value``; ConfigError naming ``where`` if it has no JSON form."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in ARRAY_KINDS:  # text or objects: a plain list
            return encode(value.tolist(), where)
        return {"__array__": encode(value.tolist(), where), "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) < MAX_EXACT_INT else {"__int__": str(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"{where} has a non-string key {k!r}; JSON keys are strings")
            out[k] = encode(v, f"{where}[{k!r}]")
        return {"__dict__": out} if set(out) in _TAGS else out
    if isinstance(value, (list, tuple)):
        return [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ConfigError(f"{where} holds a {type(value).__name__}; model files hold only JSON "
                      "values (dicts, lists, strings, numbers, booleans, null) and arrays")


def decode(value: Any) -> Any:
    """The inverse of :func:`encode`; ValueError for a malformed tag."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"__dict__"} and isinstance(value["__dict__"], dict):
        return {k: decode(v) for k, v in value["__dict__"].items()}  # a dict, whatever its keys
    if set(value) == {"__float__"}:
        text = value["__float__"]
        if text not in ("inf", "-inf", "nan"):
            raise ValueError(f"bad tagged float {text!r}")
        return float(text)
    if set(value) == {"__int__"}:
        text = value["__int__"]
        if not isinstance(text, str) or len(text) > 400:
            raise ValueError("bad tagged int")
        return int(text)
    if set(value) == {"__array__", "dtype"}:
        dtype = np.dtype(value["dtype"]) if isinstance(value["dtype"], str) else None
        if dtype is None or dtype.kind not in ARRAY_KINDS or dtype.itemsize > 16:
            raise ValueError(f"bad array dtype {value['dtype']!r}")
        return np.array(decode(value["__array__"]), dtype=dtype)
    return {k: decode(v) for k, v in value.items()}
