"""Preprocessing and target statistics in one pass over chunks of a table.

:func:`fit_streaming` reads chunks (Tables of consecutive rows) once and
returns the :class:`Preprocessor` and :class:`TargetEncoder` that fitting on
the whole table at once would give: the same column kinds (by the same rule,
:func:`looks_numeric`'s majority counted over all chunks), the same
categories and fills, and means and scales merged chunk by chunk with Chan et
al.'s pairwise update (numerically stable; equal to the in-memory NumPy
figures to about 1e-12 relative). Memory holds one chunk and, per column,
counts of its distinct values (at most :data:`MAX_DISTINCT` for text, declared
categories and most-frequent fills, else :data:`NUMBER_DISTINCT`).

The column rules of the in-memory job apply: ID-like and high-cardinality
columns are left out (counted over every row, as
:func:`~synnet.tabular.preprocessing.ignored_columns` does), rare categories
are grouped (``max_categories``, ``min_frequency``: from the counts), dates
become parts (their moments merged as numbers' are), and the category cap holds.

``impute='median'`` takes more passes (:mod:`synnet.tabular.median`: exact, in
bounded memory), so it needs ``reread``; without it, it is refused before
anything is read. Refused too, with a ConfigError naming what to do: a column
still all different when its distinct values stop being counted (it may be an
ID: name it in keep_columns or drop it).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synnet.errors import ConfigError, DataError
from synnet.tabular.columns import (
    DATE_PARTS,
    MAX_LISTED,
    TIME_PARTS,
    as_column,
    datetime_part,
    decimal_comma_error,
    has_time,
    missing_error,
    missing_mask,
    mode_of_counts,
    parse_datetime,
    parse_float,
    rows_text,
    text_values,
)
from synnet.tabular.files import Coded, Table
from synnet.tabular.median import exact_medians, median_of_sorted
from synnet.tabular.preprocessing import (
    CATEGORICAL,
    DATETIME,
    HIGH_CARDINALITY,
    MAX_CATEGORIES,
    MIN_ROWS_FOR_IDS,
    NUMERIC,
    Preprocessor,
    _n_listed,
    infrequent_categories,
)
from synnet.tabular.target import TargetEncoder, _class_labels, check_classes

ALL_PARTS = (*DATE_PARTS, *TIME_PARTS)
#: Distinct values counted per column; a text column with more is refused.
MAX_DISTINCT = 100_000
#: Distinct values counted per numeric column, in case later chunks make it text (and
#: its numbers categories); past this it is numbers only, so memory stays bounded.
NUMBER_DISTINCT = 1_000


@dataclass
class Moments:
    """Count, mean and sum of squared deviations, merged chunk by chunk (Chan et al.)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, x: np.ndarray) -> None:
        if not len(x):
            return
        with np.errstate(over="ignore", invalid="ignore"):
            mean_b = float(np.mean(x))
            m2_b = float(np.sum((x - mean_b) ** 2))
        self.merge(Moments(len(x), mean_b, m2_b))

    def merge(self, other: Moments) -> None:
        """Add the moments of rows counted elsewhere (Chan et al.'s pairwise update)."""
        if not other.n:
            return
        n = self.n + other.n
        delta = other.mean - self.mean
        self.mean += delta * other.n / n
        self.m2 += other.m2 + delta * delta * self.n * other.n / n
        self.n = n

    def std(self, n: int | None = None) -> float:
        """The population standard deviation (over ``n`` rows, default the count)."""
        return math.sqrt(self.m2 / (n or self.n)) if self.n else 0.0


@dataclass
class _Column:
    """What one pass learns about a feature column."""

    rows: int = 0
    missing: list[int] = field(default_factory=list)  # first rows, for messages
    n_missing: int = 0
    present: int = 0
    parsed: int = 0
    bad: list[tuple[int, Any]] = field(default_factory=list)  # unparseable text: row, value
    n_bad: int = 0
    numbers: Moments = field(default_factory=Moments)
    texts: Counter[str] | None = field(default_factory=Counter)
    object_dtype: bool = False
    #: whether numbers are counted up to MAX_DISTINCT (declared categorical, or filled
    #: with the most frequent value), not NUMBER_DISTINCT
    count_numbers: bool = False
    dates: int = 0  # text values that are ISO 8601 dates (not numbers)
    whole: bool = True  # every number parsed is a whole number
    #: numbers strictly increasing in file order (a row number: all different, known
    #: without counting them)
    increasing: bool = True
    head: float = math.inf  # the first number (for merging: -inf < every number)
    last: float = -math.inf
    #: when counting stopped: whether every value so far was different (an ID?)
    distinct_when_capped: bool = False
    #: the date parts (DATE_PARTS, then TIME_PARTS) of the values that are dates
    parts: list[Moments] = field(default_factory=lambda: [Moments() for _ in ALL_PARTS])
    part_counts: list[Counter[float]] = field(
        default_factory=lambda: [Counter() for _ in ALL_PARTS])  # with count_numbers
    timed: bool = False  # some value carries a time of day
    not_dates: list[tuple[int, Any]] = field(default_factory=list)  # the first: row, value
    decimal_commas: bool = True  # every value so far is a number with a decimal comma
    count_parts: bool = False  # count the date parts' values (for a median fill)
    low: float = math.inf  # the smallest and largest number parsed
    high: float = -math.inf
    median: float | None = None  # the median of the numbers, when impute='median' asks
    first: list[Any] = field(default_factory=list)  # the first present values, for messages

    def add(self, column: np.ndarray, ids: np.ndarray, coded: Coded | None = None) -> None:
        """Count a chunk of the column; ``ids``: its rows' numbers in the file (0-based);
        ``coded``: the column also as (codes, labels), so each label is parsed once."""
        missing = missing_mask(column)
        present = ~missing
        self.rows += len(column)
        where = np.flatnonzero(missing)
        self.n_missing += len(where)
        if len(self.missing) < MAX_LISTED:
            self.missing.extend(ids[where[:MAX_LISTED - len(self.missing)]].tolist())
        self.present += int(present.sum())
        if self.decimal_commas and present.any():
            values = column[present]
            self.first.extend(values[:3 - len(self.first)].tolist())
            if coded is not None:  # the labels present stand for the values
                codes, labels = coded
                values = labels[np.unique(codes[present])]
            self.decimal_commas = decimal_comma_error(
                values, "", np.zeros(len(values), dtype=bool)) is not None
        if column.dtype.kind == "O":
            self.object_dtype = True
            x = self._add_text(column, ids, present, coded)
        else:
            self.parsed += int(present.sum())
            x = column[present].astype(np.float64)
        self.numbers.add(x)
        if len(x):
            self.low, self.high = min(self.low, float(x.min())), max(self.high, float(x.max()))
        with np.errstate(invalid="ignore"):
            self.whole = self.whole and bool(np.all(x == np.round(x)))
            if len(x) and self.head == math.inf:
                self.head = float(x[0])
            if self.increasing and len(x):
                self.increasing = bool(x[0] > self.last and np.all(np.diff(x) > 0))
                self.last = float(x[-1])
        if self.texts is not None:
            if coded is None:
                self.texts.update(text_values(column[present]).tolist())
            else:  # counted per label, in the order the rows first show them
                codes, labels = coded
                found, first, counts = np.unique(codes[present], return_index=True,
                                                 return_counts=True)
                order = np.argsort(first, kind="stable")
                for text, n in zip(text_values(labels[found[order]]).tolist(),
                                   counts[order].tolist()):
                    self.texts[text] += n
            self._cap()

    def _add_text(self, column: np.ndarray, ids: np.ndarray, present: np.ndarray,
                  coded: Coded | None) -> np.ndarray:
        """Parse a chunk of an object column: numbers, dates and other text; the numbers
        of its present rows, in order. Each distinct label is parsed once (every value,
        without ``coded``)."""
        codes, labels = coded if coded is not None else (np.arange(len(column)), column)
        rows = np.flatnonzero(present)
        lab = codes[rows]
        number = np.full(len(labels), np.nan)
        is_date = np.zeros(len(labels), dtype=bool)
        timed = np.zeros(len(labels), dtype=bool)
        parts = np.zeros((len(labels), len(ALL_PARTS)))
        for j in np.unique(lab):
            f = parse_float(labels[j])
            if f is not None:
                number[j] = f
                continue
            d = parse_datetime(labels[j])
            if d is not None:
                is_date[j], timed[j] = True, has_time(labels[j])
                parts[j] = [datetime_part(d, part) for part in ALL_PARTS]
        values = number[lab]
        text, dated = np.isnan(values), is_date[lab]
        self.n_bad += int(text.sum())
        for listed, which in ((self.bad, text), (self.not_dates, ~dated)):
            if len(listed) < MAX_LISTED:
                first = rows[which][:MAX_LISTED - len(listed)]
                listed.extend((int(ids[i]), column[i]) for i in first)
        self._add_dates(parts[lab[dated]])
        self.timed = self.timed or bool(timed[lab[dated]].any())
        self.parsed += len(values) - int(text.sum())
        return values[~text]

    def merge(self, b: _Column) -> None:
        """Add the counts of the rows ``b`` saw, which come after this column's rows
        (chunks counted apart, e.g. on a cluster's workers, merged in file order)."""
        self.rows += b.rows
        self.missing = (self.missing + b.missing)[:MAX_LISTED]
        self.bad = (self.bad + b.bad)[:MAX_LISTED]
        self.not_dates = (self.not_dates + b.not_dates)[:MAX_LISTED]
        self.n_missing += b.n_missing
        self.n_bad += b.n_bad
        if self.decimal_commas:
            self.first = (self.first + b.first)[:3]
        self.decimal_commas = self.decimal_commas and b.decimal_commas
        self.present += b.present
        self.parsed += b.parsed
        self.dates += b.dates
        self.numbers.merge(b.numbers)
        self.low, self.high = min(self.low, b.low), max(self.high, b.high)
        for mine, theirs in zip(self.parts, b.parts):
            mine.merge(theirs)
        for counts, more in zip(self.part_counts, b.part_counts):
            counts.update(more)
        self.object_dtype = self.object_dtype or b.object_dtype
        self.timed = self.timed or b.timed
        self.whole = self.whole and b.whole
        self.increasing = self.increasing and b.increasing and b.head > self.last
        if b.last > -math.inf:
            self.last = b.last
        if self.head == math.inf:
            self.head = b.head
        if self.texts is None or b.texts is None:
            # Counting stopped on one side: all different so far only if both were
            if self.texts is not None:
                assert b.texts is None
                self.distinct_when_capped = (len(self.texts) == self.present - b.present
                                             and b.distinct_when_capped)
            self.texts = None
            return
        self.texts.update(b.texts)
        self._cap()

    def _cap(self) -> None:
        """Stop counting distinct values past the limit (too many to be categories:
        numbers, or refused in the spec), noting whether all were different."""
        assert self.texts is not None
        limit = MAX_DISTINCT if self.object_dtype or self.count_numbers else NUMBER_DISTINCT
        if len(self.texts) > limit:
            self.distinct_when_capped = len(self.texts) == self.present
            self.texts = None

    def _add_dates(self, x: np.ndarray) -> None:
        """(k, len(ALL_PARTS)) parts of a chunk's dates."""
        self.dates += len(x)
        for k, part in enumerate(x.T):
            self.parts[k].add(part)
            if self.count_numbers or self.count_parts:
                self.part_counts[k].update(part.tolist())

    def looks_numeric(self) -> bool:
        """columns.looks_numeric's rule, counted over every chunk."""
        return not self.object_dtype or self.parsed == self.present or \
            self.parsed > self.present / 2

    def id_like(self, name: str) -> str | None:
        """Why the column looks like an ID or high-cardinality text (ignored_columns' rule),
        or None; ConfigError when the counts kept cannot tell."""
        n = self.present
        if n < MIN_ROWS_FOR_IDS:
            return None
        numeric = self.looks_numeric()
        if not numeric and (self.dates > n / 2 or self.decimal_commas):
            return None  # dates, or numbers with a decimal comma (an error in the fit)
        if numeric and (self.n_bad or not self.whole):
            return None  # text among numbers (reported by the fit), or fractions
        if self.texts is None:
            if not numeric and MAX_DISTINCT > HIGH_CARDINALITY * n:
                return f"more than {MAX_DISTINCT} distinct texts in {n} rows"
            if numeric and self.increasing:
                return "a different whole number in every row, like an ID"
            if numeric and not self.distinct_when_capped:
                return None  # a value repeated before counting stopped
            raise ConfigError(
                f"column {name!r} may be a row ID or high-cardinality text: its values were "
                f"still all different when a streamed file's distinct values "
                "stopped being counted, so one pass cannot tell; name it in --keep-columns to "
                "train on it, or --drop it (or train without --stream)",
                params=["keep_columns"])
        distinct = len(self.texts)
        if distinct == n:
            return ("a different whole number in every row, like an ID" if numeric
                    else "a different text in every row, like an ID")
        if not numeric and distinct > HIGH_CARDINALITY * n:
            return f"{distinct} distinct texts in {n} rows"
        return None


def fit_streaming(chunks: Iterable[Table], names: Sequence[str], target: str, task: str,
                  impute: str | None = None, categorical: Sequence[str] = (),
                  feature_rows: Callable[[np.ndarray], np.ndarray] | None = None,
                  max_categories: int | None = None, min_frequency: int | float | None = None,
                  keep: Sequence[str] | None = None,
                  reread: Callable[[list[str]], Iterable[Table]] | None = None,
                  class_counts: list[int] | None = None,
                  ) -> tuple[Preprocessor, TargetEncoder, int, dict[str, str]]:
    """(preprocessor, target encoder, feature rows, {left-out column: why}) from one
    pass over ``chunks``.

    The same results as ``Preprocessor(impute, categorical, max_categories,
    min_frequency).fit(table, kept)`` and ``TargetEncoder(task, target).fit(table[target])``
    on the whole table, where ``kept`` is ``names`` less
    ``ignored_columns(table, names, keep)`` (ID-like columns, counted over every
    row; ``keep=None``: none left out). ``feature_rows(row numbers)``: a mask
    of the rows the preprocessing learns from (the training rows; the target's
    classes or scale come from every row, as the in-memory job's do).

    A CSV column that reads as numbers in some chunks and as text in others
    ("007" in one, "abc" in another) is text in a whole-file read, every value
    as written. ``reread(columns)``: the same chunks again, with those columns
    read as text (:func:`~synnet.tabular.chunks.read_chunks`' ``text``); when
    such columns are found, the statistics come from a second pass over it, so
    they are the whole-file read's. Without ``reread`` they are counted as the
    chunks give them.

    ``class_counts``: a list to fill with the training rows' (``feature_rows``')
    count of each class, in the order of the encoder's classes (for
    ``class_weight='balanced'``).
    """
    if impute == "median" and reread is None:
        raise ConfigError("impute='median' needs more passes over the data than chunks "
                          "read once give (pass reread=); use 'mean' or 'most_frequent'",
                          params=["impute"])

    def count(tables: Iterable[Table]) -> Stats:
        stats = Stats(names, target, task, impute, categorical, feature_rows is not None, keep,
                      max_categories, min_frequency, count_classes=class_counts is not None)
        start = 0
        for table in tables:
            stats.add(table, start, feature_rows)
            start += table.n_rows
        return stats

    stats = count(chunks)
    mixed = stats.mixed()
    if mixed and reread is not None:  # as a whole-file read: text throughout, as written
        stats = count(reread(mixed))
    else:
        mixed = []

    def medians(columns: dict[str, tuple[int, float, float]]) -> dict[str, float]:
        assert reread is not None
        numeric = list(columns)

        def passes() -> Iterator[dict[str, np.ndarray]]:
            start = 0
            for table in reread(mixed):
                ids = np.arange(start, start + table.n_rows)
                rows = None if feature_rows is None else np.flatnonzero(feature_rows(ids))
                start += table.n_rows
                yield {name: _numbers(as_column(table.columns[name], name), rows)
                       for name in numeric}

        return exact_medians(columns, passes)

    result = stats.result(medians if impute == "median" else None)
    if class_counts is not None:
        class_counts[:] = stats.class_counts_list()
    return result


def check_streamable(impute: str | None) -> None:
    """ConfigError for ``impute='median'``, which needs more passes over the data than
    partitions counted once give (a cluster's job)."""
    if impute == "median":
        raise ConfigError("impute='median' needs more passes over the data than a cluster's "
                          "job makes; use 'mean' or 'most_frequent', or train on one machine "
                          "(train --stream computes exact medians)", params=["impute"])


class Stats:
    """The statistics of :func:`fit_streaming`, counted chunk by chunk; mergeable, so
    chunks counted apart (a cluster's partitions) give the same result merged in file
    order. The arguments are fit_streaming's (``split``: whether some rows are held out;
    ``count_classes``: count the training rows of each class).
    """

    def __init__(self, names: Sequence[str], target: str, task: str, impute: str | None,
                 categorical: Sequence[str], split: bool, keep: Sequence[str] | None,
                 max_categories: int | None = None,
                 min_frequency: int | float | None = None, count_classes: bool = False) -> None:
        self.pre = Preprocessor(impute, categorical, max_categories, min_frequency)
        self.encoder = TargetEncoder(task, target)
        self.pre.check_names(names)
        self.names, self.target, self.task = list(names), target, task
        self.columns = {name: _Column(count_numbers=impute == "most_frequent"
                                      or name in categorical, count_parts=impute == "median")
                        for name in names}
        # ID detection counts every row (as in memory): its own counts when rows are held out
        exempt = set(keep or ())
        self.watched = [] if keep is None else [n for n in names if n not in exempt]
        self.every = ({name: _Column() for name in self.watched} if split
                      else {name: self.columns[name] for name in self.watched})
        self.split = split
        #: the NumPy kinds each column (and the target) came in, chunk by chunk
        self.kinds: dict[str, set[str]] = {}
        self.count_classes = count_classes
        self.class_counts: Counter[Any] = Counter()  # the training rows'
        self.y_moments = Moments()
        self.labels: set[Any] = set()
        self.rows = self.n_features = 0

    def add(self, table: Table, start: int,
            feature_rows: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        """Count ``table``, the rows ``start``... of the file (0-based)."""
        ids = np.arange(start, start + table.n_rows)
        rows = None if feature_rows is None else np.flatnonzero(feature_rows(ids))
        self.n_features += len(ids) if rows is None else len(rows)
        for name in self.names:
            col = as_column(table.columns[name], name)
            coded = table.coded.get(name)
            self.kinds.setdefault(name, set()).add(col.dtype.kind)
            if rows is None:
                self.columns[name].add(col, ids, coded)
            else:
                self.columns[name].add(col[rows], ids[rows],
                                       None if coded is None else (coded[0][rows], coded[1]))
            if self.split and name in self.every:
                self.every[name].add(col, ids, coded)
        self.kinds.setdefault(self.target, set()).add(
            np.asarray(table.columns[self.target]).dtype.kind)
        y = self.encoder._check(table.columns[self.target], start + 1)
        if self.task == "classification":
            coded = table.coded.get(self.target)
            # the distinct labels: from the codes when there are (no sort of every row)
            seen = y if coded is None else coded[1][np.unique(coded[0])]
            self.labels.update(np.unique(_class_labels(seen)).tolist())
            if self.count_classes:
                if coded is None:
                    kept, n = np.unique(_class_labels(y if rows is None else y[rows]),
                                        return_counts=True)
                else:
                    found, n = np.unique(coded[0] if rows is None else coded[0][rows],
                                         return_counts=True)
                    kept = _class_labels(coded[1][found])
                for label, count in zip(kept.tolist(), n.tolist()):
                    self.class_counts[label] += count
            self._check_labels()
        else:
            self.y_moments.add(self.encoder.values(y, start + 1))
        self.rows += table.n_rows

    def merge(self, other: Stats) -> None:
        """Add ``other``'s counts, of rows that come after this one's."""
        for name in self.names:
            self.columns[name].merge(other.columns[name])
            if self.split and name in self.every:
                self.every[name].merge(other.every[name])
        for name, kinds in other.kinds.items():
            self.kinds.setdefault(name, set()).update(kinds)
        self.class_counts.update(other.class_counts)
        self.labels.update(other.labels)
        self._check_labels()
        self.y_moments.merge(other.y_moments)
        self.rows += other.rows
        self.n_features += other.n_features

    def mixed(self) -> list[str]:
        """The columns read as numbers in some chunks and as text in others."""
        return [name for name, kinds in self.kinds.items()
                if kinds & set("iuf") and "O" in kinds]

    def _check_labels(self) -> None:
        if len(self.labels) > MAX_DISTINCT:
            raise DataError(f"the target column {self.target!r} has more than {MAX_DISTINCT} "
                            "classes; is it a regression target?", params=["task"])

    def result(self, medians: Callable[[dict[str, tuple[int, float, float]]],
                                       dict[str, float]] | None = None,
               ) -> tuple[Preprocessor, TargetEncoder, int, dict[str, str]]:
        """fit_streaming's result from the counts. ``medians``: with impute='median', the
        exact medians of the numeric columns named, from (count, low, high) each."""
        if self.n_features == 0:
            raise DataError("the data has no rows" if self.rows == 0 else
                            "no rows are left for training; lower valid_fraction",
                            params=[] if self.rows == 0 else ["valid_fraction"])
        pre, columns = self.pre, self.columns
        ignored = {name: why for name in self.watched
                   if (why := self.every[name].id_like(name))}
        kept = [name for name in self.names if name not in ignored]
        if not kept:
            raise DataError(f"no feature columns are left after leaving out {list(ignored)} "
                            "(they look like IDs or high-cardinality text); keep some with "
                            "keep_columns=[...]", params=["keep_columns"])
        if pre.impute is None:
            missing = {name: _rows(columns[name].missing, columns[name].n_missing)
                       for name in kept if columns[name].n_missing}
            if missing:
                raise missing_error(missing)
        if pre.impute == "median":
            if medians is None:  # a cluster's job counts once: no passes for medians
                check_streamable(pre.impute)
            assert medians is not None
            numeric = [name for name in kept if name not in pre.categorical
                       and columns[name].looks_numeric() and not columns[name].n_bad]
            found = medians({name: (columns[name].parsed, columns[name].low,
                                    columns[name].high) for name in numeric})
            for name, value in found.items():
                columns[name].median = value
        pre.columns = [_spec(name, columns[name], pre) for name in kept]
        listed = {c["name"]: _n_listed(c) for c in pre.columns}
        if sum(listed.values()) > MAX_CATEGORIES:  # Preprocessor.fit's cap
            worst = max(listed, key=lambda k: listed[k])
            raise DataError(f"the categorical columns hold {sum(listed.values()):,} distinct "
                            f"values ({listed[worst]:,} in {worst!r}); a model file holds at "
                            f"most {MAX_CATEGORIES:,}: leave out such columns", params=["drop"])
        _fit_target(self.encoder, self.labels, self.y_moments)
        return pre, self.encoder, self.n_features, ignored

    def class_counts_list(self) -> list[int]:
        """The training rows' count of each class, in the order of the encoder's classes
        (after :meth:`result`)."""
        encoder = self.encoder
        if encoder.classes is None:
            return []
        # Labels to class indices by the encoder's own lookup, as training encodes them.
        codes, known = encoder.encode(np.array(list(self.class_counts), dtype=object))
        assert known.all()
        per_class = np.zeros(len(encoder.classes), dtype=np.int64)
        np.add.at(per_class, codes, list(self.class_counts.values()))
        return per_class.tolist()


def _spec(name: str, c: _Column, pre: Preprocessor) -> dict[str, Any]:
    """The column's spec, as Preprocessor._fit_column makes it from the whole column."""
    if c.present == 0:
        raise DataError(f"column {name!r} has no values; drop it or fill it in")
    if name not in pre.categorical and not c.looks_numeric() and c.dates > c.present / 2:
        return _date_spec(name, c, pre)
    if name not in pre.categorical and not c.looks_numeric() and c.decimal_commas:
        error = decimal_comma_error(np.array(c.first, dtype=object), name,
                                    np.zeros(len(c.first), dtype=bool))
        assert error is not None
        raise error
    if name in pre.categorical or not c.looks_numeric():
        if c.texts is None:
            raise DataError(f"column {name!r} has more than {MAX_DISTINCT} distinct values "
                            f"(or more than {NUMBER_DISTINCT} numbers in chunks before its "
                            "text); as categories that is too many: drop the column, or declare "
                            "it categorical", params=["categorical"])
        counts = Counter(c.texts)
        spec: dict[str, Any] = {"name": name, "kind": CATEGORICAL}
        if pre.impute is not None:
            spec["fill"] = mode_of_counts(c.texts)
            counts[spec["fill"]] += c.n_missing  # the encoder sees the filled column
        categories = sorted(counts)
        rare = set(infrequent_categories(categories, [counts[k] for k in categories], c.rows,
                                         pre.max_categories, pre.min_frequency))
        spec["categories"] = [k for k in categories if k not in rare]
        if rare:
            spec["infrequent"] = [k for k in categories if k in rare]
        return spec
    if c.n_bad:
        rows = _rows([r for r, _ in c.bad], c.n_bad)
        examples = ", ".join(repr(v) for _, v in c.bad[:3])
        raise DataError(f"column {name!r} must be numeric (most of its values are numbers) "
                        f"but has text in {rows_text(rows, 1)}: {examples}; fix or remove "
                        "those values")
    m = c.numbers
    if not (math.isfinite(m.mean) and math.isfinite(m.m2)):
        raise DataError(f"column {name!r} has infinite values or values too large to "
                        "standardize; replace or rescale them")
    spec = {"name": name, "kind": NUMERIC}
    fill = None
    if pre.impute == "mean":
        fill = m.mean
    elif pre.impute == "median":
        fill = c.median
        assert fill is not None
    elif pre.impute == "most_frequent":
        if c.texts is None:
            raise DataError(f"column {name!r} has more than {MAX_DISTINCT} distinct values; "
                            "impute='most_frequent' cannot count them in a stream (use 'mean')",
                            params=["impute"])
        by_value: Counter[float] = Counter()  # "1,234" and "1234", "007" and "7": one number
        for text, k in c.texts.items():
            value = parse_float(text)
            assert value is not None  # text among the numbers was refused above
            by_value[value] += k
        fill = mode_of_counts(by_value)
    mean, scale = _filled(m, c, fill, pre.impute)
    spec.update(mean=mean, scale=scale)
    if fill is not None:
        spec["fill"] = fill
    return spec


def _filled(m: Moments, c: _Column, fill: float | None, impute: str | None,
            ) -> tuple[float, float]:
    """(mean, scale) of the present values ``m`` with the missing ones set to ``fill``."""
    mean, scale = m.mean, m.std(c.rows)  # filled rows add nothing to the deviations...
    if fill is not None and impute != "mean" and c.n_missing:
        both = Moments(c.rows - c.n_missing, m.mean, m.m2)  # ...unless the fill is not the mean
        both.add(np.full(c.n_missing, fill))
        mean, scale = both.mean, both.std()
    return mean, scale if scale > 0.0 else 1.0


def _date_spec(name: str, c: _Column, pre: Preprocessor) -> dict[str, Any]:
    """Preprocessor._fit_datetime's spec from the merged date parts."""
    if c.dates < c.present:
        rows = _rows([r for r, _ in c.not_dates], c.present - c.dates)
        examples = ", ".join(repr(v) for _, v in c.not_dates[:3])
        raise DataError(f"column {name!r} must hold ISO 8601 dates (like 2024-03-31 or "
                        f"2024-03-31 14:05) but has {examples} in {rows_text(rows, 1)}; fix "
                        "those values")
    parts = list(DATE_PARTS) + (list(TIME_PARTS) if c.timed else [])
    spec: dict[str, Any] = {"name": name, "kind": DATETIME, "parts": parts}
    fills: list[float | None] = []
    for k in range(len(parts)):
        if pre.impute == "mean":
            fills.append(c.parts[k].mean)
        elif pre.impute == "median":
            fills.append(_median_of_counts(c.part_counts[k]))
        elif pre.impute == "most_frequent":
            counts = c.part_counts[k]
            fills.append(mode_of_counts(counts))
        else:
            fills.append(None)
    if pre.impute is not None:
        spec["fill"] = fills
    stats = [_filled(c.parts[k], c, fills[k], pre.impute) for k in range(len(parts))]
    if not all(math.isfinite(v) for stat in stats for v in stat):
        raise DataError(f"column {name!r} has values too large to standardize "
                        "(beyond about 1e150); rescale the column")
    spec["mean"] = [m for m, _ in stats]
    spec["scale"] = [s for _, s in stats]
    return spec


def _numbers(column: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """The present numbers of a numeric column (of ``rows``), parsed as _Column.add parses."""
    if rows is not None:
        column = column[rows]
    present = column[~missing_mask(column)]
    if column.dtype.kind == "O":
        return np.array([parse_float(v) for v in present], dtype=np.float64)
    return present.astype(np.float64)


def _median_of_counts(counts: Counter[float]) -> float:
    """The median of numbers given as {number: how often}, as np.median gives it."""
    n = sum(counts.values())
    wanted = sorted({(n - 1) // 2, n // 2})
    found: list[float] = []
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        while len(found) < len(wanted) and wanted[len(found)] < seen:
            found.append(value)
    return median_of_sorted(found[0], found[-1], n)


def _rows(first: list[int], count: int) -> np.ndarray:
    """The first rows named in a message, padded to ``count`` (rows_text counts the rest)."""
    return np.asarray(first + [-1] * (count - len(first)), dtype=np.int64)


def _fit_target(encoder: TargetEncoder, labels: set[Any], y: Moments) -> None:
    if encoder.task == "classification":
        uniques = np.unique(np.asarray(sorted(labels), dtype=object if any(
            isinstance(v, str) for v in labels) else None))
        if len(uniques) < 2:
            raise DataError(f"the target {encoder._what()} has a single class "
                            f"({uniques[0]!r}) in every row; classification needs at least "
                            "two classes (or set task='regression')", params=["task"])
        encoder.classes = check_classes(uniques)
        return
    if not (math.isfinite(y.mean) and math.isfinite(y.m2)):
        raise DataError(f"the target {encoder._what()} has values too large to standardize")
    scale = y.std()
    encoder.mean, encoder.scale = [y.mean], [scale if scale > 0 else 1.0]
