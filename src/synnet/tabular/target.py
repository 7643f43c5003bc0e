"""The target's encoding: class labels <-> indices, or a standardized number.

Class labels keep their original values (the network sees indices 0..k-1);
regression targets are standardized for training and mapped back for prediction.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import repeat
from typing import Any

import numpy as np

from synnet._validation import check_choice
from synnet.core.network import Network
from synnet.errors import ConfigError, DataError
from synnet.tabular.columns import (
    as_column,
    finite_number,
    label_text,
    missing_mask,
    numeric_values,
    only_text,
    parse_float,
    require_keys,
    rows_text,
    text_values,
)
from synnet.tabular.files import Coded

TASKS = ("classification", "regression")

#: An integer-valued target with at most this many distinct values is taken
#: as class labels when the task is inferred.
MAX_INFERRED_CLASSES = 20


def infer_task(values: Any) -> tuple[str, str]:
    """("classification" | "regression", the reason in words) for a target column."""
    col = as_column(values, "target")
    missing = missing_mask(col)
    present = col[~missing]
    if col.dtype.kind == "b":
        return "classification", "the target is true/false"
    if col.dtype.kind == "O":
        if all(parse_float(v) is not None and not isinstance(v, str) for v in present):
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
        check_choice("task", task, TASKS)
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
                    "row; classification needs at least two classes (or set task='regression')",
                    params=["task"])
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
        col = as_column(values, self.name or "target")
        if len(col) == 0:
            raise DataError("the target column has no rows")
        missing = missing_mask(col)
        if missing.any():
            raise DataError(f"the target {self._what()} is missing in "
                            f"{rows_text(np.flatnonzero(missing), first_row)}; every row needs a "
                            "target value (remove those rows)")
        return col

    def mismatch(self, network: Network) -> str | None:
        """Why ``network``'s outputs cannot encode this target, or None when they can."""
        if self.task == "classification":
            assert self.classes is not None
            k = len(self.classes)
            if network.n_outputs != (1 if k == 2 else k) and network.n_outputs != k:
                return (f"the target has {k} classes but the network has {network.n_outputs} "
                        "outputs (need 1 for two classes, else one per class)")
        elif self.mean and len(self.mean) != network.n_outputs:
            return (f"the target scaling has {len(self.mean)} outputs but the network has "
                    f"{network.n_outputs}")
        return None

    @property
    def n_outputs(self) -> int:
        """Network output units this target needs (1 for two classes: one sigmoid unit)."""
        if self.task == "regression":
            return len(self.mean) or 1
        assert self.classes is not None
        return 1 if len(self.classes) == 2 else len(self.classes)

    def encode(self, values: Any, first_row: int = 1,
               coded: Coded | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Targets as the network learns them, and a mask of rows whose label is known.

        Classification: class indices (n,) int; unknown labels get index -1 and
        ``known`` False. Regression: (n,) or (n, k) standardized floats.
        ``coded``: ``values`` also as (codes, labels) (a Table's ``coded``): each
        label is then encoded once, not each row; the result is the same.
        """
        if coded is not None and self.task == "classification":
            codes, labels = coded
            present = ~missing_mask(labels)
            if len(codes) and present[codes].all():  # else the rows' path says which lack one
                table = np.full(len(labels), -1, dtype=np.intp)
                if present.any():
                    table[present] = self.encode(labels[present])[0]
                indices = table[codes]
                return indices, indices >= 0
        col = self._check(values, first_row)
        if self.task == "classification":
            assert self.classes is not None
            index = {_jsonable_label(c): i for i, c in enumerate(self.classes)}
            key = label_text if self.classes.dtype.kind == "O" else _label_key
            if key is label_text and only_text(col):  # str labels are their own keys
                found: Iterator[Any] = map(index.get, col.tolist(), repeat(-1))
            else:
                found = (index.get(key(v), -1) for v in col.tolist())
            codes = np.fromiter(found, dtype=np.intp, count=len(col))
            return codes, codes >= 0
        y = self.values(col, first_row)
        with np.errstate(under="ignore"):
            return (y - self.mean[0]) / self.scale[0], np.ones(len(y), dtype=bool)

    def values(self, values: Any, first_row: int = 1, context: str = "target") -> np.ndarray:
        """Regression targets in their own units as float64 (n,); text or gaps are errors.

        ``context``: "target" (training: the fix may be task='classification') or
        "evaluate" (scoring a model: the column may be the wrong one).
        """
        col = self._check(values, first_row)
        return numeric_values(col, self.name or "target", first_row, missing_mask(col),
                               context)

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
            require_keys(config, {"task", "classes"}, {"name"}, "target")
            if not isinstance(config["classes"], list):
                raise ValueError("target: classes must be a list")
            self.classes = check_classes(config["classes"])
        else:
            require_keys(config, {"task"}, {"name", "mean", "scale"}, "target")
            mean, scale = config.get("mean", []), config.get("scale", [])
            if (not isinstance(mean, list) or not isinstance(scale, list)
                    or len(mean) != len(scale) or not all(map(finite_number, mean + scale))
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
    return text_values(col)


def _label_key(v: Any) -> Any:
    """A numeric label for lookups: 2, 2.0, "2" and np.int64(2) all find class 2."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    f = parse_float(v)
    if f is None or not math.isfinite(f):
        return None
    return int(f) if f.is_integer() else f
