"""Tabular preprocessing that travels inside the model file (NumPy only).

A :class:`Preprocessor` turns named columns of raw data into the float matrix a
network sees: numeric columns are standardized, ``(x - mean) / scale``; text
(categorical) columns are one-hot encoded, one output per category seen in
training. Missing values are an error naming the columns and rows, unless an
imputation strategy fills them with a statistic of the training data. Every
fitted number and category is kept in :meth:`Preprocessor.to_config` (plain
JSON), so prediction applies exactly the transformation training used.

A :class:`TargetEncoder` does the same for the target: class labels keep their
original values (the network sees indices 0..k-1), regression targets are
standardized for training and mapped back for prediction.

Columns are 1-D arrays: float/int/bool arrays, or object arrays holding
strings, numbers and ``None``/NaN for missing values (what
:mod:`synnet.tabular_io` produces from CSV). Rows in messages are counted from
1, as data rows (a CSV file's header line is not counted).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from synnet.errors import ConfigError, DataError

NUMERIC = "numeric"
CATEGORICAL = "categorical"
IMPUTE_STRATEGIES = ("mean", "median", "most_frequent")
TASKS = ("classification", "regression")

#: An integer-valued target with at most this many distinct values is taken
#: as class labels when the task is inferred.
MAX_INFERRED_CLASSES = 20

_MAX_LISTED = 5  # rows or values named in one message


class UnknownCategoryWarning(UserWarning):
    """A categorical value at prediction time that training never saw (encoded as zeros)."""


# -- column helpers -------------------------------------------------------------------


def _rows_text(rows: np.ndarray, first_row: int) -> str:
    """'row 3' or 'rows 3, 17, 20 and 4 more', numbered from ``first_row``."""
    shown = ", ".join(str(int(r) + first_row) for r in rows[:_MAX_LISTED])
    more = f" and {len(rows) - _MAX_LISTED} more" if len(rows) > _MAX_LISTED else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def _as_column(values: Any, name: str) -> np.ndarray:
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


def _is_missing_value(v: Any) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and math.isnan(v))


def missing_mask(column: np.ndarray) -> np.ndarray:
    """Boolean mask of missing entries: NaN in float columns, None/NaN in object columns."""
    if column.dtype.kind == "f":
        return np.isnan(column)
    if column.dtype.kind == "O":
        return np.fromiter((_is_missing_value(v) for v in column), dtype=bool, count=len(column))
    return np.zeros(len(column), dtype=bool)


def _parse_float(v: Any) -> float | None:
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


_TEXT_HINTS = {
    "fit": ("most of its values are", "; fix those values or mark the column categorical "
            "(--categorical)"),
    "predict": ("the model was trained on numbers", "; fix those values"),
    "target": ("regression needs numbers", "; fix those values or use --task classification"),
}


def _numeric_values(column: np.ndarray, name: str, first_row: int, missing: np.ndarray,
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
            f = _parse_float(v)
            if f is None:
                bad.append(i)
            else:
                out[i] = f
        if bad:
            rows = np.asarray(bad)
            examples = ", ".join(repr(column[i]) for i in bad[:3])
            why, fix = _TEXT_HINTS[context]
            raise DataError(f"column {name!r} must be numeric ({why}) but has text in "
                            f"{_rows_text(rows, first_row)}: {examples}{fix}")
    inf = np.isinf(out)
    if inf.any():
        raise DataError(f"column {name!r} has infinite values in "
                        f"{_rows_text(np.flatnonzero(inf), first_row)}; "
                        "replace them with finite numbers")
    return out


def _text_values(column: np.ndarray) -> np.ndarray:
    """Category labels as str (an object array); numbers become their text form."""
    if column.dtype.kind == "O":
        return np.array([v if isinstance(v, str) or v is None else _label_text(v)
                         for v in column], dtype=object)
    return np.array([_label_text(v) for v in column.tolist()], dtype=object)


def _label_text(v: Any) -> str | None:
    if _is_missing_value(v):
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))  # 3.0 read from a float column means the category "3"
    return str(v)


def _looks_numeric(column: np.ndarray, missing: np.ndarray) -> bool:
    """Whether a text column is numbers with some typos (most values parse as numbers)."""
    present = [v for v, m in zip(column, missing) if not m]
    if not present:
        return False
    parsed = sum(_parse_float(v) is not None for v in present)
    return parsed == len(present) or parsed > len(present) / 2


def _most_frequent(values: np.ndarray) -> Any:
    uniques, counts = np.unique(values, return_counts=True)
    return uniques[int(np.argmax(counts))]  # ties: the smallest value, as np.unique sorts


def _most_frequent_text(values: list[str]) -> str:
    """The most frequent string (ties: the smallest), compared as Python strings.

    Not via NumPy: its fixed-width strings drop trailing NUL characters.
    """
    counts = Counter(values)
    best = max(counts.values())
    return min(v for v, c in counts.items() if c == best)


def missing_error(missing: Mapping[str, np.ndarray], first_row: int = 1) -> DataError:
    """The error for missing values in the named columns (rows given 0-based)."""
    parts = [f"column {name!r} ({_rows_text(rows, first_row)})" for name, rows in missing.items()]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return DataError(f"missing values in {listed}; fill them in or choose an imputation "
                     "strategy (--impute mean|median|most_frequent)")


# -- the feature preprocessor ----------------------------------------------------------


class Preprocessor:
    """Standardize numeric columns and one-hot encode categorical ones.

    Args:
        impute: None (missing values are an error), or "mean", "median" or
            "most_frequent": fill missing values with that statistic of the
            training data (categorical columns always use the most frequent
            category).
        categorical: names of columns to treat as categorical even though
            they hold numbers. Other columns are numeric when their values
            are numbers and categorical when they are text.

    After :meth:`fit`: ``columns`` lists the input column specs in order and
    ``output_names`` the names of the output features (``"age"``,
    ``"city=Paris"``, ...). The transform maps columns (n rows each) to an
    (n, len(output_names)) float64 matrix.
    """

    def __init__(self, impute: str | None = None, categorical: Iterable[str] = ()) -> None:
        if impute is not None and impute not in IMPUTE_STRATEGIES:
            raise ConfigError(f"impute must be one of {', '.join(IMPUTE_STRATEGIES)} or None, "
                              f"got {impute!r}")
        self.impute = impute
        self.categorical = tuple(categorical)
        self.columns: list[dict[str, Any]] = []

    # -- fitting ---------------------------------------------------------------
    def fit(self, data: Mapping[str, Any], names: Sequence[str] | None = None,
            first_row: int = 1) -> Preprocessor:
        """Learn column kinds, statistics and categories from ``data[name]`` for each name."""
        names = list(data) if names is None else list(names)
        if not names:
            raise DataError("no feature columns: the data must have at least one column "
                            "besides the target")
        unknown = [c for c in self.categorical if c not in names]
        if unknown:
            raise ConfigError(f"--categorical names {', '.join(map(repr, unknown))}, which "
                              f"{'is' if len(unknown) == 1 else 'are'} not a feature column")
        cols = {name: _as_column(data[name], name) for name in names}
        n = _common_length(cols)
        if n == 0:
            raise DataError("the data has no rows")
        masks = {name: missing_mask(col) for name, col in cols.items()}
        if self.impute is None:
            missing = {name: np.flatnonzero(m) for name, m in masks.items() if m.any()}
            if missing:
                raise missing_error(missing, first_row)
        self.columns = [self._fit_column(name, cols[name], masks[name], first_row)
                        for name in names]
        return self

    def _fit_column(self, name: str, column: np.ndarray, missing: np.ndarray,
                    first_row: int) -> dict[str, Any]:
        if missing.all():
            raise DataError(f"column {name!r} has no values; drop it or fill it in")
        present = ~missing
        categorical = name in self.categorical or (
            column.dtype.kind == "O" and not _looks_numeric(column, missing))
        if categorical:
            text = _text_values(column)[present]
            spec: dict[str, Any] = {"name": name, "kind": CATEGORICAL,
                                    "categories": sorted(set(text.tolist()))}
            if self.impute is not None:
                spec["fill"] = _most_frequent_text(text.tolist())
            return spec
        x = _numeric_values(column, name, first_row, missing)
        fill: float | None = None
        if self.impute is not None:
            xp = x[present]
            if self.impute == "mean":
                fill = float(np.mean(xp))
            elif self.impute == "median":
                fill = float(np.median(xp))
            else:
                fill = float(_most_frequent(xp))
            x = np.where(missing, fill, x)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            mean = float(np.mean(x))
            scale = float(np.std(x))
        if not (math.isfinite(mean) and math.isfinite(scale)):
            raise DataError(f"column {name!r} has values too large to standardize "
                            "(beyond about 1e150); rescale the column")
        spec = {"name": name, "kind": NUMERIC, "mean": mean,
                "scale": scale if scale > 0.0 else 1.0}
        if fill is not None:
            spec["fill"] = fill
        return spec

    # -- transforming ----------------------------------------------------------
    @property
    def input_names(self) -> list[str]:
        """The input column names, in order."""
        return [c["name"] for c in self.columns]

    @property
    def output_names(self) -> list[str]:
        """One name per output feature: the column, or ``column=category``."""
        out: list[str] = []
        for c in self.columns:
            if c["kind"] == NUMERIC:
                out.append(c["name"])
            else:
                out.extend(f"{c['name']}={cat}" for cat in c["categories"])
        return out

    @property
    def n_outputs(self) -> int:
        return sum(1 if c["kind"] == NUMERIC else len(c["categories"]) for c in self.columns)

    def missing_columns(self, available: Iterable[str]) -> list[str]:
        """The input columns absent from ``available``."""
        have = set(available)
        return [name for name in self.input_names if name not in have]

    def transform(self, data: Mapping[str, Any], first_row: int = 1,
                  warn_unknown: bool = True) -> np.ndarray:
        """Columns -> (n, n_outputs) float64 features, exactly as fitted.

        Unknown categories become all-zero rows in their block (with an
        :class:`UnknownCategoryWarning` when ``warn_unknown``); missing values
        are filled when the preprocessor imputes, else an error.
        """
        if not self.columns:
            raise ConfigError("this Preprocessor is not fitted yet; call fit first")
        absent = self.missing_columns(data.keys())
        if absent:
            raise DataError(
                f"the data lacks column{'s' if len(absent) > 1 else ''} {_names_text(absent)} "
                f"that the model was trained on; the data has {_names_text(list(data))}")
        cols = {c["name"]: _as_column(data[c["name"]], c["name"]) for c in self.columns}
        n = _common_length(cols)
        masks = {name: missing_mask(col) for name, col in cols.items()}
        missing = {c["name"]: np.flatnonzero(masks[c["name"]]) for c in self.columns
                   if "fill" not in c and masks[c["name"]].any()}
        if missing:
            raise missing_error(missing, first_row)
        out = np.zeros((n, self.n_outputs))
        j = 0
        with np.errstate(under="ignore"):
            for c in self.columns:
                name, mask = c["name"], masks[c["name"]]
                if c["kind"] == NUMERIC:
                    x = _numeric_values(cols[name], name, first_row, mask, "predict")
                    if mask.any():
                        x[mask] = c["fill"]
                    out[:, j] = (x - c["mean"]) / c["scale"]
                    j += 1
                    continue
                text = _text_values(cols[name])
                if mask.any():
                    text[mask] = c["fill"]
                cats = c["categories"]
                index = {cat: k for k, cat in enumerate(cats)}
                codes = np.fromiter((index.get(t, -1) for t in text), dtype=np.intp, count=n)
                known = codes >= 0
                out[np.flatnonzero(known), j + codes[known]] = 1.0
                if warn_unknown and not known.all():
                    unseen = sorted(set(text[~known].tolist()))
                    shown = ", ".join(map(repr, unseen[:_MAX_LISTED]))
                    warnings.warn(
                        f"column {name!r} has {len(unseen)} value(s) not seen in training "
                        f"({shown}) in {_rows_text(np.flatnonzero(~known), first_row)}; "
                        "they are encoded as all zeros", UnknownCategoryWarning, stacklevel=2)
                j += len(cats)
        return out

    def fit_transform(self, data: Mapping[str, Any], names: Sequence[str] | None = None,
                      first_row: int = 1) -> np.ndarray:
        return self.fit(data, names, first_row).transform(data, first_row)

    # -- persistence -----------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """Everything fitted, as plain JSON (floats round-trip exactly through JSON)."""
        return {"impute": self.impute, "columns": [dict(c) for c in self.columns]}

    @classmethod
    def from_config(cls, config: Any) -> Preprocessor:
        """Rebuild from :meth:`to_config`, checking every field (ValueError when bad)."""
        _require_keys(config, {"impute", "columns"}, set(), "preprocessing")
        impute = config["impute"]
        if impute is not None and impute not in IMPUTE_STRATEGIES:
            raise ValueError(f"preprocessing: unknown impute strategy {impute!r}")
        columns = config["columns"]
        if not isinstance(columns, list) or not columns:
            raise ValueError("preprocessing: columns must be a non-empty list")
        self = cls(impute=impute)
        seen: set[str] = set()
        for c in columns:
            self.columns.append(_check_column_spec(c, impute is not None))
            if c["name"] in seen:
                raise ValueError(f"preprocessing: duplicate column {c['name']!r}")
            seen.add(c["name"])
        self.categorical = tuple(c["name"] for c in self.columns if c["kind"] == CATEGORICAL)
        return self

    def __repr__(self) -> str:
        kinds = ", ".join(f"{c['name']}:{c['kind'][:3]}" for c in self.columns)
        return f"Preprocessor(impute={self.impute!r}, columns=[{kinds}])"


def _names_text(names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(map(repr, names[:limit]))
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _common_length(cols: Mapping[str, np.ndarray]) -> int:
    lengths = {len(col) for col in cols.values()}
    if len(lengths) > 1:
        raise DataError(f"columns have different lengths: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def _finite_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _require_keys(d: Any, required: set[str], optional: set[str], where: str) -> None:
    if not isinstance(d, dict):
        raise ValueError(f"{where} must be a JSON object")
    missing = required - d.keys()
    extra = d.keys() - required - optional
    if missing or extra:
        raise ValueError(f"{where}: missing keys {sorted(missing)}, "
                         f"unexpected keys {sorted(extra)}")


def _check_column_spec(c: Any, imputes: bool) -> dict[str, Any]:
    if not isinstance(c, dict) or c.get("kind") not in (NUMERIC, CATEGORICAL):
        raise ValueError("preprocessing: each column needs kind 'numeric' or 'categorical'")
    fill = {"fill"} if imputes else set()
    if c["kind"] == NUMERIC:
        _require_keys(c, {"name", "kind", "mean", "scale"} | fill, set(), "preprocessing column")
        ok = _finite_number(c["mean"]) and _finite_number(c["scale"]) and c["scale"] > 0
        if not ok or (imputes and not _finite_number(c["fill"])):
            raise ValueError(f"preprocessing column {c.get('name')!r}: mean, scale and fill "
                             "must be finite numbers, scale > 0")
        spec = {k: (float(v) if k != "name" and k != "kind" else v) for k, v in c.items()}
    else:
        _require_keys(c, {"name", "kind", "categories"} | fill, set(), "preprocessing column")
        cats = c["categories"]
        if (not isinstance(cats, list) or not cats or not all(isinstance(s, str) for s in cats)
                or len(set(cats)) != len(cats)):
            raise ValueError(f"preprocessing column {c.get('name')!r}: categories must be a "
                             "non-empty list of distinct strings")
        if imputes and c["fill"] not in cats:
            raise ValueError(f"preprocessing column {c.get('name')!r}: fill must be a category")
        spec = dict(c)
    if not isinstance(c["name"], str) or not c["name"]:
        raise ValueError("preprocessing: column names must be non-empty strings")
    return spec


# -- the target ------------------------------------------------------------------------


def infer_task(values: Any) -> tuple[str, str]:
    """("classification" | "regression", the reason in words) for a target column."""
    col = _as_column(values, "target")
    missing = missing_mask(col)
    present = col[~missing]
    if col.dtype.kind == "b":
        return "classification", "the target is true/false"
    if col.dtype.kind == "O":
        if all(_parse_float(v) is not None and not isinstance(v, str) for v in present):
            present = present.astype(np.float64)
        else:
            return "classification", "the target holds text labels"
    x = present.astype(np.float64)
    if len(x) == 0:
        return "regression", "the target has no values"
    integral = bool(np.all(np.isfinite(x)) and np.all(x == np.round(x)))
    n_unique = len(np.unique(x))
    limit = min(MAX_INFERRED_CLASSES, max(2, len(x) // 2))
    if integral and n_unique <= limit:
        return "classification", f"the target has {n_unique} distinct whole-number values"
    if integral:
        return "regression", f"the target has {n_unique} distinct whole-number values"
    return "regression", "the target holds fractional numbers"


def _jsonable_label(v: Any) -> Any:
    """A class label as a plain JSON scalar (str, int, float or bool)."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, str):
        return v
    raise ConfigError(f"class labels must be text, numbers or booleans, got {type(v).__name__}")


def check_classes(classes: Any) -> np.ndarray:
    """Distinct class labels of one type (text, whole numbers, numbers or booleans), sorted."""
    labels = [_jsonable_label(v) for v in np.asarray(classes, dtype=object).ravel()]
    kinds = {type(v) for v in labels}
    if kinds == {int, float}:
        kinds = {float}
    if len(kinds) > 1:
        raise ValueError(f"class labels mix types ({', '.join(sorted(k.__name__ for k in kinds))})")
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ValueError("classes must be at least two distinct labels")
    if any(isinstance(v, float) and not math.isfinite(v) for v in labels):
        raise ValueError("class labels must be finite")
    return np.array(labels, dtype=object if kinds == {str} else None)


class TargetEncoder:
    """The target's encoding: class labels <-> indices, or a standardized number.

    Args:
        task: "classification" or "regression".
        name: the target column's name (None when unknown).

    After :meth:`fit` (or when built from a config): ``classes`` (sorted
    original labels) for classification; ``mean`` and ``scale`` (lists, one
    per output) for regression, where the network learns ``(y - mean) / scale``.
    """

    def __init__(self, task: str, name: str | None = None) -> None:
        if task not in TASKS:
            raise ConfigError(f"task must be 'classification' or 'regression', got {task!r}")
        self.task = task
        self.name = name
        self.classes: np.ndarray | None = None
        self.mean: list[float] = []
        self.scale: list[float] = []

    def fit(self, values: Any, first_row: int = 1) -> TargetEncoder:
        """Learn the classes (at least two) or the mean and scale of the target values."""
        col = self._check(values, first_row)
        if self.task == "classification":
            labels = _class_labels(col)
            uniques = np.unique(labels)
            if len(uniques) < 2:
                raise DataError(
                    f"the target {self._what()} has a single class ({uniques[0]!r}) in every "
                    "row; classification needs at least two classes (or use --task regression)")
            self.classes = check_classes(uniques)
        else:
            y = self.values(col, first_row)
            with np.errstate(over="ignore", under="ignore", invalid="ignore"):
                mean, scale = float(np.mean(y)), float(np.std(y))
            if not (math.isfinite(mean) and math.isfinite(scale)):
                raise DataError(f"the target {self._what()} has values too large to standardize")
            self.mean, self.scale = [mean], [scale if scale > 0 else 1.0]
        return self

    def _what(self) -> str:
        return repr(self.name) if self.name else "column"

    def _check(self, values: Any, first_row: int) -> np.ndarray:
        col = _as_column(values, self.name or "target")
        if len(col) == 0:
            raise DataError("the target column has no rows")
        missing = missing_mask(col)
        if missing.any():
            raise DataError(f"the target {self._what()} is missing in "
                            f"{_rows_text(np.flatnonzero(missing), first_row)}; every row needs a "
                            "target value (remove those rows)")
        return col

    @property
    def n_outputs(self) -> int:
        """Network output units this target needs (1 for two classes: one sigmoid unit)."""
        if self.task == "regression":
            return len(self.mean) or 1
        assert self.classes is not None
        return 1 if len(self.classes) == 2 else len(self.classes)

    def encode(self, values: Any, first_row: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Targets as the network learns them, and a mask of rows whose label is known.

        Classification: class indices (n,) int; unknown labels get index -1 and
        ``known`` False. Regression: (n,) or (n, k) standardized floats.
        """
        col = self._check(values, first_row)
        if self.task == "classification":
            assert self.classes is not None
            index = {_jsonable_label(c): i for i, c in enumerate(self.classes)}
            key = _label_text if self.classes.dtype.kind == "O" else _label_key
            codes = np.fromiter((index.get(key(v), -1) for v in col.tolist()),
                                dtype=np.intp, count=len(col))
            return codes, codes >= 0
        y = self.values(col, first_row)
        with np.errstate(under="ignore"):
            return (y - self.mean[0]) / self.scale[0], np.ones(len(y), dtype=bool)

    def values(self, values: Any, first_row: int = 1) -> np.ndarray:
        """Regression targets in their own units as float64 (n,); text or gaps are errors."""
        col = self._check(values, first_row)
        return _numeric_values(col, self.name or "target", first_row, missing_mask(col),
                               "target")

    def decode(self, output: np.ndarray) -> np.ndarray:
        """Regression: network output (n, k) -> values in the target's units, (n,) if k == 1."""
        with np.errstate(under="ignore"):
            values = output * np.asarray(self.scale or [1.0]) + np.asarray(self.mean or [0.0])
        return values[:, 0] if values.shape[1] == 1 else values

    def labels(self, indices: np.ndarray) -> np.ndarray:
        """Class indices -> original labels."""
        assert self.classes is not None
        return self.classes[indices]

    def to_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"task": self.task, "name": self.name}
        if self.task == "classification":
            assert self.classes is not None
            config["classes"] = [_jsonable_label(c) for c in self.classes]
        elif self.mean:
            config["mean"], config["scale"] = list(self.mean), list(self.scale)
        return config

    @classmethod
    def from_config(cls, config: Any) -> TargetEncoder:
        """Rebuild from :meth:`to_config` (ValueError when a field is bad)."""
        if not isinstance(config, dict) or config.get("task") not in TASKS:
            raise ValueError("target: task must be 'classification' or 'regression'")
        name = config.get("name")
        if name is not None and not isinstance(name, str):
            raise ValueError("target: name must be a string or null")
        self = cls(config["task"], name)
        if self.task == "classification":
            _require_keys(config, {"task", "classes"}, {"name"}, "target")
            if not isinstance(config["classes"], list):
                raise ValueError("target: classes must be a list")
            self.classes = check_classes(config["classes"])
        else:
            _require_keys(config, {"task"}, {"name", "mean", "scale"}, "target")
            mean, scale = config.get("mean", []), config.get("scale", [])
            if (not isinstance(mean, list) or not isinstance(scale, list)
                    or len(mean) != len(scale) or not all(map(_finite_number, mean + scale))
                    or not all(s > 0 for s in scale)):
                raise ValueError("target: mean and scale must be equal-length lists of finite "
                                 "numbers, scale > 0")
            self.mean, self.scale = [float(v) for v in mean], [float(v) for v in scale]
        return self

    def __repr__(self) -> str:
        extra = (f", classes={list(self.classes)!r}" if self.classes is not None else "")
        return f"TargetEncoder(task={self.task!r}, name={self.name!r}{extra})"


def _class_labels(col: np.ndarray) -> np.ndarray:
    """Labels in one comparable type: numeric columns stay numeric, text stays text."""
    if col.dtype.kind != "O":
        return col
    if all(isinstance(v, str) for v in col):
        return col
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
           for v in col):
        return col.astype(np.float64)
    return _text_values(col)


def _label_key(v: Any) -> Any:
    """A numeric label for lookups: 2, 2.0, "2" and np.int64(2) all find class 2."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    f = _parse_float(v)
    if f is None or not math.isfinite(f):
        return None
    return int(f) if f.is_integer() else f
