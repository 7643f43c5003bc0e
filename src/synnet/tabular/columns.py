"""Column helpers shared by the feature preprocessing and the target encoding.

Columns are 1-D arrays: float/int/bool arrays, or object arrays holding
strings, numbers and ``None``/NaN for missing values (what
:mod:`synnet.tabular.files` produces from CSV). Rows in messages are counted
from 1, as data rows (a CSV file's header line is not counted).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from synnet.errors import DataError

IMPUTE_STRATEGIES = ("mean", "median", "most_frequent")

MAX_LISTED = 5  # rows or values named in one message


def rows_text(rows: np.ndarray, first_row: int) -> str:
    """'row 3' or 'rows 3, 17, 20 and 4 more', numbered from ``first_row``."""
    shown = ", ".join(str(int(r) + first_row) for r in rows[:MAX_LISTED])
    more = f" and {len(rows) - MAX_LISTED} more" if len(rows) > MAX_LISTED else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def as_column(values: Any, name: str) -> np.ndarray:
    """A 1-D array; fixed-width strings become objects so None can mark missing values."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DataError(f"column {name!r} must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind in "USO":
        return arr.astype(object)
    if arr.dtype.kind not in "fiub":
        raise DataError(f"column {name!r} has unsupported type {arr.dtype}; "
                        "convert it to numbers or text")
    return arr


def is_missing_value(v: Any) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and math.isnan(v))


def missing_mask(column: np.ndarray) -> np.ndarray:
    """Boolean mask of missing entries: NaN in float columns, None/NaN in object columns."""
    if column.dtype.kind == "f":
        return np.isnan(column)
    if column.dtype.kind == "O":
        return np.fromiter((is_missing_value(v) for v in column), dtype=bool, count=len(column))
    return np.zeros(len(column), dtype=bool)


def parse_float(v: Any) -> float | None:
    """The number ``v`` stands for, or None when it is text that is not a number."""
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


# (why the column must be numeric, what to do, the parameters that can change it)
_TEXT_HINTS = {
    "fit": ("most of its values are", "; fix those values or list the column in "
            "categorical=[...]", ("categorical",)),
    "predict": ("the model was trained on numbers", "; fix those values", ()),
    "target": ("regression needs numbers", "; fix those values or set "
               "task='classification'", ("task",)),
    "evaluate": ("the model does regression", "; check that the target column holds the "
                 "true values", ("target",)),
}


def numeric_values(column: np.ndarray, name: str, first_row: int, missing: np.ndarray,
                    context: str = "fit") -> np.ndarray:
    """The column as float64 with NaN where missing; text that is not a number is an error."""
    if column.dtype.kind != "O":
        out = column.astype(np.float64)
    else:
        out = np.full(len(column), np.nan)
        bad: list[int] = []
        for i, v in enumerate(column):
            if missing[i]:
                continue
            f = parse_float(v)
            if f is None:
                bad.append(i)
            else:
                out[i] = f
        if bad:
            rows = np.asarray(bad)
            examples = ", ".join(repr(column[i]) for i in bad[:3])
            why, fix, params = _TEXT_HINTS[context]
            raise DataError(f"column {name!r} must be numeric ({why}) but has text in "
                            f"{rows_text(rows, first_row)}: {examples}{fix}", params=params)
    inf = np.isinf(out)
    if inf.any():
        raise DataError(f"column {name!r} has infinite values in "
                        f"{rows_text(np.flatnonzero(inf), first_row)}; "
                        "replace them with finite numbers")
    return out


def text_values(column: np.ndarray) -> np.ndarray:
    """Category labels as str (an object array); numbers become their text form."""
    if column.dtype.kind == "O":
        return np.array([v if isinstance(v, str) or v is None else label_text(v)
                         for v in column], dtype=object)
    return np.array([label_text(v) for v in column.tolist()], dtype=object)


def label_text(v: Any) -> str | None:
    if is_missing_value(v):
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))  # 3.0 read from a float column means the category "3"
    return str(v)


def looks_numeric(column: np.ndarray, missing: np.ndarray) -> bool:
    """Whether a text column is numbers with some typos (most values parse as numbers)."""
    present = [v for v, m in zip(column, missing) if not m]
    if not present:
        return False
    parsed = sum(parse_float(v) is not None for v in present)
    return parsed == len(present) or parsed > len(present) / 2


def most_frequent(values: np.ndarray) -> Any:
    uniques, counts = np.unique(values, return_counts=True)
    return uniques[int(np.argmax(counts))]  # ties: the smallest value, as np.unique sorts


def most_frequent_text(values: list[str]) -> str:
    """The most frequent string (ties: the smallest), compared as Python strings.

    Not via NumPy: its fixed-width strings drop trailing NUL characters.
    """
    counts = Counter(values)
    best = max(counts.values())
    return min(v for v, c in counts.items() if c == best)


def missing_error(missing: Mapping[str, np.ndarray], first_row: int = 1) -> DataError:
    """The error for missing values in the named columns (rows given 0-based)."""
    parts = [f"column {name!r} ({rows_text(rows, first_row)})" for name, rows in missing.items()]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return DataError(f"missing values in {listed}; fill them in or choose an imputation "
                     f"strategy (impute={' | '.join(map(repr, IMPUTE_STRATEGIES))})",
                     params=["impute"])


def names_text(names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(map(repr, names[:limit]))
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def common_length(cols: Mapping[str, np.ndarray]) -> int:
    lengths = {len(col) for col in cols.values()}
    if len(lengths) > 1:
        raise DataError(f"columns have different lengths: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def finite_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def require_keys(d: Any, required: set[str], optional: set[str], where: str) -> None:
    if not isinstance(d, dict):
        raise ValueError(f"{where} must be a JSON object")
    missing = required - d.keys()
    extra = d.keys() - required - optional
    if missing or extra:
        raise ValueError(f"{where}: missing keys {sorted(missing)}, "
                         f"unexpected keys {sorted(extra)}")
