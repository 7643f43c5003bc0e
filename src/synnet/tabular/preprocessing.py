"""Feature preprocessing that travels inside the model file (NumPy only).

A :class:`Preprocessor` turns named columns of raw data into the float matrix a
network sees: numeric columns are standardized, ``(x - mean) / scale``; text
(categorical) columns are one-hot encoded, one output per category seen in
training, rare ones grouped into one "infrequent" output as scikit-learn's
``OneHotEncoder(max_categories=, min_frequency=)`` does; ISO 8601 date columns
become standardized numeric parts (year, month, day of week, day of year, and
hour when the values carry a time). Missing values are an error naming the
columns and rows, unless an imputation strategy fills them with a statistic of
the training data. Every fitted number and category is kept in
:meth:`Preprocessor.to_config` (plain JSON), so prediction applies exactly the
transformation training used.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from typing import Any

import numpy as np

from synnet._validation import check_choice, check_int, check_number
from synnet.core.network import Network
from synnet.errors import ConfigError, DataError
from synnet.tabular.columns import (
    DATE_PARTS,
    IMPUTE_STRATEGIES,
    MAX_LISTED,
    TIME_PARTS,
    as_column,
    common_length,
    datetime_part,
    decimal_comma_error,
    finite_number,
    has_time,
    looks_numeric,
    missing_error,
    missing_mask,
    most_frequent,
    most_frequent_text,
    names_text,
    numeric_values,
    parse_datetime,
    parse_into,
    require_keys,
    rows_text,
    text_values,
)
from synnet.tabular.encoded import EncodedRows, column_runs, expand_into
from synnet.tabular.files import Coded

NUMERIC = "numeric"
CATEGORICAL = "categorical"
DATETIME = "datetime"

#: The most categories (listed plus infrequent) a model file may declare in all;
#: a file declaring more is refused before anything is allocated for it.
MAX_CATEGORIES = 100_000
#: Name of the output that groups the infrequent categories of a column.
INFREQUENT = "<infrequent>"
#: Transforms work on blocks of about this many matrix cells (32 MiB of float64),
#: so memory never grows as rows x categories.
CHUNK_CELLS = 1 << 22
#: ID-like columns are only detected from this many present values on.
MIN_ROWS_FOR_IDS = 20
#: A text column with more distinct values than this share of its rows is high-cardinality.
HIGH_CARDINALITY = 0.5


class UnknownCategoryWarning(UserWarning):
    """A categorical value at prediction time that training never saw (encoded as zeros)."""


def check_grouping(max_categories: Any, min_frequency: Any) -> None:
    """scikit-learn's rules: max_categories an int >= 1; min_frequency an int >= 1 or a
    fraction in (0, 1); either may be None (no grouping by that rule)."""
    check_int("max_categories", max_categories, 1, allow_none=True)
    if min_frequency is None or (isinstance(min_frequency, numbers.Integral)
                                 and not isinstance(min_frequency, bool)):
        check_int("min_frequency", min_frequency, 1, allow_none=True)
    else:
        check_number("min_frequency", min_frequency, 0.0, 1.0, low_open=True)


def column_kind(column: np.ndarray, name: str, missing: np.ndarray, declared: bool) -> str:
    """NUMERIC, CATEGORICAL or DATETIME for a column (``declared``: listed as categorical).

    Text is numeric when most of it is numbers, a date column when most of it
    is ISO 8601 dates, and categorical otherwise; numbers with a decimal comma
    are an error rather than categories.
    """
    if declared:
        return CATEGORICAL
    if column.dtype.kind != "O" or looks_numeric(column, missing):
        return NUMERIC
    present = column[~missing]
    dates = sum(parse_datetime(v) is not None for v in present)
    if dates > len(present) / 2:  # some typos among dates are reported, naming the rows
        return DATETIME
    error = decimal_comma_error(column, name, missing)
    if error is not None:
        raise error
    return CATEGORICAL


def infrequent_categories(categories: Sequence[str], counts: Sequence[int], n_samples: int,
                          max_categories: int | None,
                          min_frequency: int | float | None) -> list[str]:
    """The categories scikit-learn's OneHotEncoder groups as infrequent.

    ``categories`` sorted, ``counts`` their counts in the same order; the same
    rules and tie-breaking as ``OneHotEncoder._identify_infrequent``.
    """
    count = np.asarray(counts)
    if min_frequency is None:
        infrequent = np.zeros(len(count), dtype=bool)
    elif isinstance(min_frequency, numbers.Integral):
        infrequent = count < min_frequency
    else:
        infrequent = count < n_samples * min_frequency
    n_features = len(count) - int(infrequent.sum()) + 1
    if max_categories is not None and max_categories < n_features:
        keep = max_categories - 1  # max_categories counts the infrequent output
        if keep == 0:
            infrequent[:] = True
        else:
            infrequent[np.argsort(count, kind="mergesort")[:-keep]] = True
    return [c for c, rare in zip(categories, infrequent) if rare]


def ignored_columns(data: Mapping[str, Any], names: Sequence[str],
                    keep: Iterable[str] = ()) -> dict[str, str]:
    """{name: why} for the columns that look like row IDs or high-cardinality text.

    ID-like: at least MIN_ROWS_FOR_IDS values, each different, in text or whole
    numbers. High-cardinality: text with more distinct values than
    HIGH_CARDINALITY of its rows. Columns in ``keep`` are never named.
    """
    kept = set(keep)
    found: dict[str, str] = {}
    for name in names:
        if name in kept:
            continue
        column = as_column(data[name], name)
        missing = missing_mask(column)
        n = int((~missing).sum())
        if n < MIN_ROWS_FOR_IDS:
            continue
        try:
            kind = column_kind(column, name, missing, False)
            if kind == NUMERIC:
                x = numeric_values(column, name, 1, missing)[~missing]
        except DataError:
            continue  # the preprocessing reports it, naming the rows
        if kind == CATEGORICAL:
            distinct = len(set(text_values(column[~missing]).tolist()))
            if distinct == n:
                found[name] = "a different text in every row, like an ID"
            elif distinct > HIGH_CARDINALITY * n:
                found[name] = f"{distinct} distinct texts in {n} rows"
        elif kind == NUMERIC and np.all(x == np.round(x)) and len(np.unique(x)) == n:
            found[name] = "a different whole number in every row, like an ID"
    return found


class Preprocessor:
    """Standardize numeric columns, split dates into parts, one-hot encode categorical ones.

    Args:
        impute: None (missing values are an error), or "mean", "median" or
            "most_frequent": fill missing values with that statistic of the
            training data (categorical columns always use the most frequent
            category).
        categorical: names of columns to treat as categorical even though
            they hold numbers. Other columns are numeric when their values
            are numbers, dates when they are ISO 8601 dates, and
            categorical when they are text (mostly numbers or mostly dates
            with some other text is an error naming the rows).
        max_categories, min_frequency: group rare categories into one
            infrequent output per column, as scikit-learn's
            ``OneHotEncoder(max_categories=, min_frequency=)``: a category
            seen fewer than ``min_frequency`` times (an int, or a fraction of
            the rows) is infrequent, and at most ``max_categories`` outputs
            (the infrequent one included) are kept, the most frequent. None:
            no grouping by that rule.

    After :meth:`fit`: ``columns`` lists the input column specs in order and
    ``output_names`` the names of the output features (``"age"``,
    ``"city=Paris"``, ``"city=<infrequent>"``, ``"day.month"``, ...). The
    transform maps columns (n rows each) to an (n, len(output_names)) matrix.
    """

    def __init__(self, impute: str | None = None, categorical: Iterable[str] = (),
                 max_categories: int | None = None,
                 min_frequency: int | float | None = None) -> None:
        if impute is not None:
            check_choice("impute", impute, IMPUTE_STRATEGIES)
        check_grouping(max_categories, min_frequency)
        self.impute = impute
        self.categorical = tuple(categorical)
        self.max_categories = max_categories
        self.min_frequency = min_frequency
        self.columns: list[dict[str, Any]] = []
        self._codes: dict[str, dict[str, int]] = {}  # category -> output offset, per column

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
        self._codes = {}
        self.columns = [self._fit_column(name, cols[name], masks[name], first_row)
                        for name in names]
        listed = {c["name"]: _n_listed(c) for c in self.columns}
        if sum(listed.values()) > MAX_CATEGORIES:
            worst = max(listed, key=lambda k: listed[k])
            raise DataError(f"the categorical columns hold {sum(listed.values()):,} distinct "
                            f"values ({listed[worst]:,} in {worst!r}); a model file holds at "
                            f"most {MAX_CATEGORIES:,}: leave out such columns", params=["drop"])
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
        kind = column_kind(column, name, missing, name in self.categorical)
        if kind == CATEGORICAL:
            return self._fit_categorical(name, column, missing)
        if kind == DATETIME:
            return self._fit_datetime(name, column, missing, first_row)
        x = numeric_values(column, name, first_row, missing)
        fill = self._fill(x, missing)
        if fill is not None:
            x = np.where(missing, fill, x)
        mean, scale = _standardization(x, name)
        spec: dict[str, Any] = {"name": name, "kind": NUMERIC, "mean": mean, "scale": scale}
        if fill is not None:
            spec["fill"] = fill
        return spec

    def _fill(self, x: np.ndarray, missing: np.ndarray) -> float | None:
        """The imputation value of numbers ``x`` (missing where ``missing``), or None."""
        if self.impute is None:
            return None
        xp = x[~missing]
        if self.impute == "mean":
            return float(np.mean(xp))
        if self.impute == "median":
            return float(np.median(xp))
        return float(most_frequent(xp))

    def _fit_categorical(self, name: str, column: np.ndarray,
                         missing: np.ndarray) -> dict[str, Any]:
        present = text_values(column[~missing]).tolist()
        counts = Counter(present)
        spec: dict[str, Any] = {"name": name, "kind": CATEGORICAL}
        if self.impute is not None:
            spec["fill"] = most_frequent_text(present)
            counts[spec["fill"]] += int(missing.sum())  # the encoder sees the filled column
        categories = sorted(counts)
        rare = infrequent_categories(categories, [counts[c] for c in categories], len(column),
                                     self.max_categories, self.min_frequency)
        rare_set = set(rare)
        spec["categories"] = [c for c in categories if c not in rare_set]
        if rare:
            spec["infrequent"] = rare
        return spec

    def _fit_datetime(self, name: str, column: np.ndarray, missing: np.ndarray,
                      first_row: int) -> dict[str, Any]:
        parts = list(DATE_PARTS)
        if any(has_time(v) for v in column[~missing]):
            parts += TIME_PARTS
        x = _date_parts(column, name, missing, parts, first_row)
        fills = [self._fill(x[:, k], missing) for k in range(len(parts))]
        spec: dict[str, Any] = {"name": name, "kind": DATETIME, "parts": parts}
        if self.impute is not None:
            spec["fill"] = fills
            x[missing] = fills
        stats = [_standardization(x[:, k], name) for k in range(len(parts))]
        spec["mean"] = [m for m, _ in stats]
        spec["scale"] = [s for _, s in stats]
        return spec

    # -- transforming ----------------------------------------------------------
    @property
    def input_names(self) -> list[str]:
        """The input column names, in order."""
        return [c["name"] for c in self.columns]

    @property
    def output_names(self) -> list[str]:
        """One name per output feature: the column, ``column=category`` or ``column.part``."""
        out: list[str] = []
        for c in self.columns:
            if c["kind"] == NUMERIC:
                out.append(c["name"])
            elif c["kind"] == DATETIME:
                out.extend(f"{c['name']}.{part}" for part in c["parts"])
            else:
                out.extend(f"{c['name']}={cat}" for cat in c["categories"])
                if c.get("infrequent"):
                    out.append(f"{c['name']}={INFREQUENT}")
        return out

    def mismatch(self, network: Network) -> str | None:
        """Why this preprocessing cannot feed ``network``, or None when it can."""
        if self.n_outputs != network.n_inputs:
            return (f"the preprocessing produces {self.n_outputs} features but the network "
                    f"has {network.n_inputs} inputs")
        return None

    @property
    def n_outputs(self) -> int:
        return sum(_width(c) for c in self.columns)

    @property
    def n_outputs_dense(self) -> int:
        """The numeric and date outputs (those that are not one-hot)."""
        return sum(_width(c) for c in self.columns if c["kind"] != CATEGORICAL)

    @property
    def chunk_rows(self) -> int:
        """Rows per transformed block: about CHUNK_CELLS cells, at least one row."""
        return max(1, CHUNK_CELLS // max(1, self.n_outputs))

    def missing_columns(self, available: Iterable[str]) -> list[str]:
        """The input columns absent from ``available``."""
        have = set(available)
        return [name for name in self.input_names if name not in have]

    def transform(self, data: Mapping[str, Any], first_row: int = 1,
                  warn_unknown: bool = True, dtype: Any = np.float64, *,
                  coded: Mapping[str, Coded] | None = None) -> np.ndarray:
        """Columns -> (n, n_outputs) features of ``dtype``, exactly as fitted.

        Unknown categories become all-zero rows in their block (with an
        :class:`UnknownCategoryWarning` when ``warn_unknown``); missing values
        are filled when the preprocessor imputes, else an error. Built block
        by block (see :meth:`transform_blocks`): no temporary of the full size.
        ``coded``: text columns of ``data`` also given as codes into their labels
        (a :class:`~synnet.tabular.files.Table`'s ``coded``): their categories are
        looked up once per label, not once per row; the result is the same.
        """
        coded = dict(coded or {})
        cols, n = self._checked(data, first_row, coded)
        out = np.empty((n, self.n_outputs), dtype=dtype)
        dense_at, code_at = self.layout
        runs = column_runs(dense_at, self.n_outputs)
        for start, dense, codes in self._blocks(cols, n, first_row, warn_unknown, out.dtype,
                                                self.chunk_rows, coded):
            expand_into(out[start:start + len(dense)], dense, runs, codes, code_at)
        return out

    def transform_blocks(self, data: Mapping[str, Any], first_row: int = 1,
                         warn_unknown: bool = True, dtype: Any = np.float64, *,
                         coded: Mapping[str, Coded] | None = None) -> Iterator[np.ndarray]:
        """The rows of :meth:`transform`, as consecutive (k, n_outputs) blocks.

        Every column is checked for missing values before the first block;
        memory stays at one block (:attr:`chunk_rows` rows), whatever the data's size.
        ``coded``: as :meth:`transform` takes it.
        """
        coded = dict(coded or {})
        cols, n = self._checked(data, first_row, coded)
        dense_at, code_at = self.layout
        runs = column_runs(dense_at, self.n_outputs)
        dtype = np.dtype(dtype)
        return (expand_into(np.empty((len(dense), self.n_outputs), dtype=dtype), dense,
                            runs, codes, code_at)
                for _, dense, codes in self._blocks(cols, n, first_row, warn_unknown, dtype,
                                                    self.chunk_rows, coded))

    def encode(self, data: Mapping[str, Any], first_row: int = 1, warn_unknown: bool = True,
               dtype: Any = np.float64) -> EncodedRows:
        """The rows of :meth:`transform`, without their one-hot part: (n, numeric and date
        outputs) floats of ``dtype`` plus (n, categorical columns) codes, expanded to
        exactly :meth:`transform`'s values when indexed (see :class:`EncodedRows`)."""
        cols, n = self._checked(data, first_row)
        dense_at, code_at = self.layout
        dtype = np.dtype(dtype)
        dense = np.empty((n, len(dense_at)), dtype=dtype)
        codes = np.empty((n, len(code_at)), dtype=np.int32)
        step = max(1, CHUNK_CELLS // max(1, len(dense_at) + len(code_at)))
        for start, d, c in self._blocks(cols, n, first_row, warn_unknown, dtype, step):
            dense[start:start + len(d)] = d
            codes[start:start + len(c)] = c
        return EncodedRows(dense, dense_at, codes, code_at, self.n_outputs)

    @property
    def layout(self) -> tuple[np.ndarray, np.ndarray]:
        """(dense_at, code_at): the output columns of the numeric and date outputs, in
        order, and the first output column of each categorical column's one-hot block."""
        dense_at: list[int] = []
        code_at: list[int] = []
        j = 0
        for c in self.columns:
            width = _width(c)
            if c["kind"] == CATEGORICAL:
                code_at.append(j)
            else:
                dense_at.extend(range(j, j + width))
            j += width
        return np.array(dense_at, dtype=np.intp), np.array(code_at, dtype=np.intp)

    def _checked(self, data: Mapping[str, Any], first_row: int,
                 coded: dict[str, Coded] | None = None) -> tuple[dict[str, np.ndarray], int]:
        """The input columns and their length, after the checks that need every row.

        ``coded`` loses its entries that are not input columns of ours."""
        if not self.columns:
            raise ConfigError("this Preprocessor is not fitted yet; call fit first")
        absent = self.missing_columns(data.keys())
        if absent:
            raise DataError(
                f"the data lacks column{'s' if len(absent) > 1 else ''} {names_text(absent)} "
                f"that the model was trained on; the data has {names_text(list(data))}")
        cols = {c["name"]: as_column(data[c["name"]], c["name"]) for c in self.columns}
        n = common_length(cols)
        if coded is not None:
            for name in [k for k in coded if k not in cols or len(coded[k][0]) != n]:
                del coded[name]
        missing = {}
        for c in self.columns:
            if "fill" not in c:
                rows = np.flatnonzero(_missing(cols[c["name"]], (coded or {}).get(c["name"])))
                if len(rows):
                    missing[c["name"]] = rows
        if missing:
            raise missing_error(missing, first_row)
        return cols, n

    def _blocks(self, cols: dict[str, np.ndarray], n: int, first_row: int, warn_unknown: bool,
                dtype: np.dtype[Any], step: int, coded: dict[str, Coded] | None = None,
                ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(first row, dense outputs, category codes) per block of ``step`` rows."""
        unknown: dict[str, tuple[set[str], list[np.ndarray]]] = {}
        with np.errstate(under="ignore"):
            for start in range(0, n, step):
                rows = {name: col[start:start + step] for name, col in cols.items()}
                codes = {name: (c[start:start + step], labels)
                         for name, (c, labels) in (coded or {}).items()}
                yield start, *self._block(rows, first_row + start, dtype, unknown, start,
                                          codes)
        if warn_unknown:
            for name, (unseen, where) in unknown.items():
                shown = ", ".join(map(repr, sorted(unseen)[:MAX_LISTED]))
                warnings.warn(
                    f"column {name!r} has {len(unseen)} value(s) not seen in training "
                    f"({shown}) in {rows_text(np.concatenate(where), first_row)}; "
                    "they are encoded as all zeros", UnknownCategoryWarning, stacklevel=3)

    def _block(self, cols: dict[str, np.ndarray], first_row: int, dtype: np.dtype[Any],
               unknown: dict[str, tuple[set[str], list[np.ndarray]]],
               offset: int, coded: dict[str, Coded]) -> tuple[np.ndarray, np.ndarray]:
        """One block of rows, encoded: (k, numeric and date outputs) standardized values
        of ``dtype``, and (k, categorical columns) int32 codes within each column's block
        (-1 for a category unseen in training, which is added to ``unknown``)."""
        n = common_length(cols)
        n_codes = sum(c["kind"] == CATEGORICAL for c in self.columns)
        dense = np.empty((n, self.n_outputs_dense), dtype=dtype)
        codes = np.empty((n, n_codes), dtype=np.int32)
        d = m = 0
        for c in self.columns:
            name, width = c["name"], _width(c)
            column = cols[name]
            if c["kind"] == CATEGORICAL:  # each row its own label when not given as codes
                index, labels = coded.get(name) or (np.arange(n), column)
                codes[:, m] = self._categories(c, index, labels, unknown, offset)
                m += 1
                continue
            # _checked has found no missing value in a column without a fill: no second scan
            mask = missing_mask(column) if "fill" in c else np.zeros(n, dtype=bool)
            if c["kind"] == NUMERIC:
                x = numeric_values(column, name, first_row, mask, "predict")
                if mask.any():
                    x[mask] = c["fill"]
                dense[:, d] = (x - c["mean"]) / c["scale"]
                d += 1
            else:  # DATETIME
                x = _date_parts(column, name, mask, c["parts"], first_row)
                if mask.any():
                    x[mask] = c["fill"]
                dense[:, d:d + width] = (x - c["mean"]) / np.asarray(c["scale"])
                d += width
        return dense, codes

    def _categories(self, spec: dict[str, Any], codes: np.ndarray, labels: np.ndarray,
                    unknown: dict[str, tuple[set[str], list[np.ndarray]]],
                    offset: int) -> np.ndarray:
        """The category codes of a column given as (codes, labels), the column being
        ``labels[codes]``: each label is looked up once; (k,) codes within the column's
        block (-1 for a category unseen in training, which is added to ``unknown``)."""
        text = text_values(labels)
        if "fill" in spec:
            text[missing_mask(labels)] = spec["fill"]
        index = self._category_codes(spec)
        found = np.fromiter(map(index.get, text, repeat(-1)), dtype=np.intp,
                            count=len(text))[codes]
        if (found < 0).any():
            unseen, where = unknown.setdefault(spec["name"], (set(), []))
            rows = np.flatnonzero(found < 0)
            unseen.update(text[np.unique(codes[rows])].tolist())
            where.append(rows + offset)
        return found

    def _category_codes(self, spec: dict[str, Any]) -> dict[str, int]:
        """category -> its output within the column's block (infrequent ones share the last)."""
        codes = self._codes.get(spec["name"])
        if codes is None:
            codes = {cat: k for k, cat in enumerate(spec["categories"])}
            codes.update({cat: len(spec["categories"]) for cat in spec.get("infrequent", ())})
            self._codes[spec["name"]] = codes
        return codes

    # -- persistence -----------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """Everything fitted, as plain JSON (floats round-trip exactly through JSON)."""
        config: dict[str, Any] = {"impute": self.impute,
                                  "columns": [dict(c) for c in self.columns]}
        if self.max_categories is not None or self.min_frequency is not None:
            config["max_categories"] = self.max_categories
            config["min_frequency"] = self.min_frequency
        return config

    @classmethod
    def from_config(cls, config: Any) -> Preprocessor:
        """Rebuild from :meth:`to_config`, checking every field (ValueError when bad).

        Files written before grouping and dates existed have neither; both are optional.
        """
        require_keys(config, {"impute", "columns"}, {"max_categories", "min_frequency"},
                     "preprocessing")
        impute = config["impute"]
        if impute is not None and impute not in IMPUTE_STRATEGIES:
            raise ValueError(f"preprocessing: unknown impute strategy {impute!r}")
        columns = config["columns"]
        if not isinstance(columns, list) or not columns:
            raise ValueError("preprocessing: columns must be a non-empty list")
        declared = sum(len(c[key]) for c in columns if isinstance(c, dict)
                       for key in ("categories", "infrequent") if isinstance(c.get(key), list))
        if declared > MAX_CATEGORIES:  # before any per-category work
            raise ValueError(f"preprocessing: the file declares {declared:,} categories; "
                             f"at most {MAX_CATEGORIES:,} are allowed")
        try:
            self = cls(impute=impute, max_categories=config.get("max_categories"),
                       min_frequency=config.get("min_frequency"))
        except ConfigError as exc:
            raise ValueError(f"preprocessing: {exc}") from None
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


def _missing(column: np.ndarray, coded: Coded | None) -> np.ndarray:
    """:func:`missing_mask` of ``column``; from its labels when it is also given as codes."""
    if coded is None:
        return missing_mask(column)
    codes, labels = coded
    return missing_mask(labels)[codes]


def _width(spec: dict[str, Any]) -> int:
    """How many outputs a column spec produces."""
    if spec["kind"] == NUMERIC:
        return 1
    if spec["kind"] == DATETIME:
        return len(spec["parts"])
    return len(spec["categories"]) + (1 if spec.get("infrequent") else 0)


def _n_listed(spec: dict[str, Any]) -> int:
    return len(spec.get("categories", ())) + len(spec.get("infrequent", ()))


def _standardization(x: np.ndarray, name: str) -> tuple[float, float]:
    """(mean, scale) of ``x``; a constant column gets scale 1."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        mean = float(np.mean(x))
        scale = float(np.std(x))
    if not (math.isfinite(mean) and math.isfinite(scale)):
        raise DataError(f"column {name!r} has values too large to standardize "
                        "(beyond about 1e150); rescale the column")
    return mean, scale if scale > 0.0 else 1.0


def _date_parts(column: np.ndarray, name: str, missing: np.ndarray, parts: Sequence[str],
                first_row: int) -> np.ndarray:
    """(n, len(parts)) float64 date parts; NaN where missing; text that is no date is an error."""
    def parse(v: Any) -> list[float] | None:
        d = parse_datetime(v)
        return None if d is None else [datetime_part(d, part) for part in parts]

    out = np.full((len(column), len(parts)), np.nan)
    bad = parse_into(out, column, missing, parse)
    if bad:
        examples = ", ".join(repr(column[i]) for i in bad[:3])
        raise DataError(f"column {name!r} must hold ISO 8601 dates (like 2024-03-31 or "
                        f"2024-03-31 14:05) but has {examples} in "
                        f"{rows_text(np.asarray(bad), first_row)}; fix those values")
    return out


def _check_column_spec(c: Any, imputes: bool) -> dict[str, Any]:
    if not isinstance(c, dict) or c.get("kind") not in (NUMERIC, CATEGORICAL, DATETIME):
        raise ValueError("preprocessing: each column needs kind 'numeric', 'categorical' "
                         "or 'datetime'")
    fill = {"fill"} if imputes else set()
    if c["kind"] == NUMERIC:
        require_keys(c, {"name", "kind", "mean", "scale"} | fill, set(), "preprocessing column")
        ok = finite_number(c["mean"]) and finite_number(c["scale"]) and c["scale"] > 0
        if not ok or (imputes and not finite_number(c["fill"])):
            raise ValueError(f"preprocessing column {c.get('name')!r}: mean, scale and fill "
                             "must be finite numbers, scale > 0")
        spec = {k: (float(v) if k != "name" and k != "kind" else v) for k, v in c.items()}
    elif c["kind"] == DATETIME:
        spec = _check_datetime_spec(c, fill)
    else:
        require_keys(c, {"name", "kind", "categories"} | fill, {"infrequent"},
                     "preprocessing column")
        cats, rare = c["categories"], c.get("infrequent", [])
        listed = cats + rare if isinstance(cats, list) and isinstance(rare, list) else None
        if (listed is None or not listed or not all(isinstance(s, str) for s in listed)
                or len(set(listed)) != len(listed) or ("infrequent" in c and not rare)):
            raise ValueError(f"preprocessing column {c.get('name')!r}: categories and "
                             "infrequent must be lists of distinct strings, not both empty")
        if imputes and c["fill"] not in listed:
            raise ValueError(f"preprocessing column {c.get('name')!r}: fill must be a category")
        spec = dict(c)
    if not isinstance(c["name"], str) or not c["name"]:
        raise ValueError("preprocessing: column names must be non-empty strings")
    return spec


def _check_datetime_spec(c: dict[str, Any], fill: set[str]) -> dict[str, Any]:
    require_keys(c, {"name", "kind", "parts", "mean", "scale"} | fill, set(),
                 "preprocessing column")
    parts = c["parts"]
    known = (*DATE_PARTS, *TIME_PARTS)
    if (not isinstance(parts, list) or not parts or len(set(parts)) != len(parts)
            or not all(isinstance(p, str) and p in known for p in parts)):
        raise ValueError(f"preprocessing column {c.get('name')!r}: parts must be distinct "
                         f"names among {', '.join(known)}")
    for key in ("mean", "scale", *fill):
        values = c[key]
        if (not isinstance(values, list) or len(values) != len(parts)
                or not all(finite_number(v) for v in values)):
            raise ValueError(f"preprocessing column {c.get('name')!r}: {key} must be one "
                             "finite number per part")
    if not all(v > 0 for v in c["scale"]):
        raise ValueError(f"preprocessing column {c.get('name')!r}: scale must be > 0")
    return {**c, **{key: [float(v) for v in c[key]] for key in ("mean", "scale", *fill)}}
