"""Column helpers shared by the feature preprocessing and the target encoding.

Columns are 1-D arrays: float/int/bool arrays, or object arrays holding
strings, numbers and ``None``/NaN for missing values (what
:mod:`synnet.tabular.files` produces from CSV). Rows in messages are counted
from 1, as data rows (a CSV file's header line is not counted).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from synnet.errors import DataError

IMPUTE_STRATEGIES = ("mean", "median", "most_frequent")

MAX_LISTED = 5  # rows or values named in one message

#: The tokens pandas reads as missing by default. synnet does not (only an
#: empty cell is missing unless ``na_values`` says otherwise: "NA" is Namibia);
#: they are named in hints when they turn up where a number was expected.
NA_TOKENS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
             "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a",
             "nan", "null")


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
        if only_text(column):  # the usual text column: a C loop, not a call per value
            return np.asarray(column == None, dtype=bool)  # noqa: E711 (each value)
        return np.fromiter(map(is_missing_value, column), dtype=bool, count=len(column))
    return np.zeros(len(column), dtype=bool)


def only_text(column: np.ndarray) -> bool:
    """Whether an object column holds only str and None (checked by type: no value compared)."""
    return set(map(type, column)) <= _TEXT_TYPES


_TEXT_TYPES = {str, type(None)}


# "1,234" and "-12,345,678.9": commas between groups of exactly three digits.
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
# "1,5" and "-0,25": a decimal comma, which synnet does not read (see decimal_comma_error).
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")


def parse_float(v: Any) -> float | None:
    """The number ``v`` stands for, or None when it is text that is not a number.

    Text may group thousands with commas ("1,234,567.5"); a decimal comma
    ("1,5") is not a number.
    """
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    if isinstance(v, str):
        text = v.strip()
        if "," in text:
            if not _THOUSANDS.fullmatch(text):
                return None
            text = text.replace(",", "")
        try:
            f = float(text)
        except ValueError:
            return None
        return None if math.isnan(f) else f  # "nan" is a token for a missing value, not a number
    return None


def decimal_comma_error(column: np.ndarray, name: str, missing: np.ndarray) -> DataError | None:
    """The error for a text column of numbers written with a decimal comma, else None."""
    present = [v for v, m in zip(column, missing) if not m]
    if not present or not all(isinstance(v, str) and _DECIMAL_COMMA.fullmatch(v.strip())
                              for v in present):
        return None
    examples = ", ".join(map(repr, present[:3]))
    return DataError(f"column {name!r} holds numbers written with a decimal comma ({examples}); "
                     "synnet reads '.' as the decimal point and ',' only between groups of "
                     "three digits: convert the column, or list it in categorical=[...] to "
                     "treat its values as categories", params=["categorical"])


#: Parts of a date or datetime column that become numeric features, in order.
DATE_PARTS = ("year", "month", "dayofweek", "dayofyear")
TIME_PARTS = ("hour",)


def parse_datetime(v: Any) -> datetime | None:
    """An ISO 8601 date or datetime ("2024-03-31", "2024-03-31 14:05:00+02:00"), else None."""
    if not isinstance(v, str):
        return None
    text = v.strip()
    if len(text) < 10 or text[4] != "-" or text[7] != "-":
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def has_time(v: str) -> bool:
    """Whether an ISO date string carries a time of day."""
    return len(v.strip()) > 10


def datetime_part(d: datetime, part: str) -> float:
    """One numeric part of a date: year, month (1-12), dayofweek (Monday 0), dayofyear, hour."""
    if part == "dayofweek":
        return float(d.weekday())
    if part == "dayofyear":
        return float(d.timetuple().tm_yday)
    return float(getattr(d, part))


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


def parse_into(out: np.ndarray, column: np.ndarray, missing: np.ndarray,
               parse: Callable[[Any], Any]) -> list[int]:
    """``out[i] = parse(column[i])`` for each present value; the rows where parse gave None."""
    bad: list[int] = []
    for i, v in enumerate(column):
        if missing[i]:
            continue
        x = parse(v)
        if x is None:
            bad.append(i)
        else:
            out[i] = x
    return bad


def numeric_values(column: np.ndarray, name: str, first_row: int, missing: np.ndarray,
                    context: str = "fit") -> np.ndarray:
    """The column as float64 with NaN where missing; text that is not a number is an error."""
    if column.dtype.kind != "O":
        out = column.astype(np.float64)
    else:
        out = np.full(len(column), np.nan)
        bad = parse_into(out, column, missing, parse_float)
        if bad:
            rows = np.asarray(bad)
            examples = ", ".join(repr(column[i]) for i in bad[:3])
            why, fix, params = _TEXT_HINTS[context]
            tokens = sorted({str(column[i]).strip() for i in bad} & set(NA_TOKENS))
            if tokens:  # pandas users expect these to be missing values; say how
                fix += (f"; if {', '.join(map(repr, tokens))} marks a missing value, pass "
                        f"na_values={tokens!r}")
                params = (*params, "na_values")
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
        if only_text(column):
            return column.copy()
        return np.array([v if isinstance(v, str) or v is None else label_text(v)
                         for v in column], dtype=object)
    return np.array([label_text(v) for v in column.tolist()], dtype=object)


def label_text(v: Any) -> str | None:
    if is_missing_value(v):
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))  # 3.0 read from a float column means the category "3"
    return str(v)


def written_as_number(label: str) -> bool:
    """Whether ``label`` is a number as :func:`label_text` writes one ("7", "-2", "1.5"),
    so a column whose labels are all such could have been read as numbers. Text that a
    number read would change ("007", "+7", "1.50", " 7") is not."""
    for parse in (int, float):
        try:
            return label_text(parse(label)) == label
        except ValueError:
            continue
    return False


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
    return mode_of_counts(Counter(values))


def mode_of_counts(counts: Mapping[Any, int]) -> Any:
    """The value counted most often (ties: the smallest), from {value: count}."""
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
