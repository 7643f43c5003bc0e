"""Feature preprocessing that travels inside the model file (NumPy only).

A :class:`Preprocessor` turns named columns of raw data into the float matrix a
network sees: numeric columns are standardized, ``(x - mean) / scale``; text
(categorical) columns are one-hot encoded, one output per category seen in
training. Missing values are an error naming the columns and rows, unless an
imputation strategy fills them with a statistic of the training data. Every
fitted number and category is kept in :meth:`Preprocessor.to_config` (plain
JSON), so prediction applies exactly the transformation training used.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from synnet._validation import check_choice
from synnet.core.network import Network
from synnet.errors import ConfigError, DataError
from synnet.tabular.columns import (
    IMPUTE_STRATEGIES,
    MAX_LISTED,
    as_column,
    common_length,
    finite_number,
    looks_numeric,
    missing_error,
    missing_mask,
    most_frequent,
    most_frequent_text,
    names_text,
    numeric_values,
    require_keys,
    rows_text,
    text_values,
)

NUMERIC = "numeric"
CATEGORICAL = "categorical"


class UnknownCategoryWarning(UserWarning):
    """A categorical value at prediction time that training never saw (encoded as zeros)."""


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
        if impute is not None:
            check_choice("impute", impute, IMPUTE_STRATEGIES)
        self.impute = impute
        self.categorical = tuple(categorical)
        self.columns: list[dict[str, Any]] = []

    # -- fitting ---------------------------------------------------------------
    def fit(self, data: Mapping[str, Any], names: Sequence[str] | None = None,
            first_row: int = 1) -> Preprocessor:
        """Learn column kinds, statistics and categories from ``data[name]`` for each name."""
        names = list(data) if names is None else list(names)
        self.check_names(names)
        cols = {name: as_column(data[name], name) for name in names}
        n = common_length(cols)
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

    def check_names(self, names: Sequence[str]) -> None:
        """At least one feature column, and every ``categorical`` name among them."""
        if not names:
            raise DataError("no feature columns: the data must have at least one column "
                            "besides the target")
        unknown = [c for c in self.categorical if c not in names]
        if unknown:
            raise ConfigError(f"categorical names {', '.join(map(repr, unknown))}, which "
                              f"{'is' if len(unknown) == 1 else 'are'} not a feature column",
                              params=["categorical"])

    def _fit_column(self, name: str, column: np.ndarray, missing: np.ndarray,
                    first_row: int) -> dict[str, Any]:
        if missing.all():
            raise DataError(f"column {name!r} has no values; drop it or fill it in")
        present = ~missing
        categorical = name in self.categorical or (
            column.dtype.kind == "O" and not looks_numeric(column, missing))
        if categorical:
            text = text_values(column)[present]
            spec: dict[str, Any] = {"name": name, "kind": CATEGORICAL,
                                    "categories": sorted(set(text.tolist()))}
            if self.impute is not None:
                spec["fill"] = most_frequent_text(text.tolist())
            return spec
        x = numeric_values(column, name, first_row, missing)
        fill: float | None = None
        if self.impute is not None:
            xp = x[present]
            if self.impute == "mean":
                fill = float(np.mean(xp))
            elif self.impute == "median":
                fill = float(np.median(xp))
            else:
                fill = float(most_frequent(xp))
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

    def mismatch(self, network: Network) -> str | None:
        """Why this preprocessing cannot feed ``network``, or None when it can."""
        if self.n_outputs != network.n_inputs:
            return (f"the preprocessing produces {self.n_outputs} features but the network "
                    f"has {network.n_inputs} inputs")
        return None

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
                f"the data lacks column{'s' if len(absent) > 1 else ''} {names_text(absent)} "
                f"that the model was trained on; the data has {names_text(list(data))}")
        cols = {c["name"]: as_column(data[c["name"]], c["name"]) for c in self.columns}
        n = common_length(cols)
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
                    x = numeric_values(cols[name], name, first_row, mask, "predict")
                    if mask.any():
                        x[mask] = c["fill"]
                    out[:, j] = (x - c["mean"]) / c["scale"]
                    j += 1
                    continue
                text = text_values(cols[name])
                if mask.any():
                    text[mask] = c["fill"]
                cats = c["categories"]
                index = {cat: k for k, cat in enumerate(cats)}
                codes = np.fromiter((index.get(t, -1) for t in text), dtype=np.intp, count=n)
                known = codes >= 0
                out[np.flatnonzero(known), j + codes[known]] = 1.0
                if warn_unknown and not known.all():
                    unseen = sorted(set(text[~known].tolist()))
                    shown = ", ".join(map(repr, unseen[:MAX_LISTED]))
                    warnings.warn(
                        f"column {name!r} has {len(unseen)} value(s) not seen in training "
                        f"({shown}) in {rows_text(np.flatnonzero(~known), first_row)}; "
                        "they are encoded as all zeros", UnknownCategoryWarning, stacklevel=2)
                j += len(cats)
        return out

    # -- persistence -----------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """Everything fitted, as plain JSON (floats round-trip exactly through JSON)."""
        return {"impute": self.impute, "columns": [dict(c) for c in self.columns]}

    @classmethod
    def from_config(cls, config: Any) -> Preprocessor:
        """Rebuild from :meth:`to_config`, checking every field (ValueError when bad)."""
        require_keys(config, {"impute", "columns"}, set(), "preprocessing")
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


def _check_column_spec(c: Any, imputes: bool) -> dict[str, Any]:
    if not isinstance(c, dict) or c.get("kind") not in (NUMERIC, CATEGORICAL):
        raise ValueError("preprocessing: each column needs kind 'numeric' or 'categorical'")
    fill = {"fill"} if imputes else set()
    if c["kind"] == NUMERIC:
        require_keys(c, {"name", "kind", "mean", "scale"} | fill, set(), "preprocessing column")
        ok = finite_number(c["mean"]) and finite_number(c["scale"]) and c["scale"] > 0
        if not ok or (imputes and not finite_number(c["fill"])):
            raise ValueError(f"preprocessing column {c.get('name')!r}: mean, scale and fill "
                             "must be finite numbers, scale > 0")
        spec = {k: (float(v) if k != "name" and k != "kind" else v) for k, v in c.items()}
    else:
        require_keys(c, {"name", "kind", "categories"} | fill, set(), "preprocessing column")
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
