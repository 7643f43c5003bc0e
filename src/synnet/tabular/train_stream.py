"""The table job on a file read in chunks (``synnet train --stream``): memory does not grow with it.

One streaming pass over the training rows gives the preprocessing and target
statistics (:mod:`synnet.tabular.streaming`); then every epoch reads the file
again in chunks through a :class:`~synnet.data.IterableSource` (rows mixed in
a shuffle buffer) while the network trains. Validation rows are picked by a
hash of the row index and the seed (``valid_fraction``), so no copy of them is
kept, or come from a separate file. The task, when inferred, is inferred from
the first chunk's target values (16,384 rows).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from synnet.core.callback import Callback
from synnet.data import IterableSource
from synnet.data.heap import return_freed_memory
from synnet.data.source import read_ahead
from synnet.errors import DataError, DivergenceError
from synnet.tabular import scores as metrics
from synnet.tabular.chunks import Select, read_chunks
from synnet.tabular.files import Table
from synnet.tabular.model import Model
from synnet.tabular.settings import Settings
from synnet.tabular.streaming import fit_streaming
from synnet.tabular.target import TargetEncoder
from synnet.tabular.train import (
    Diverged,
    Interrupted,
    Result,
    balanced_from_counts,
    build_network,
    feature_names,
    job_callbacks,
    job_seed,
    resolve_task,
    warn_ignored,
)

#: Files larger than this stream by default (the in-memory job peaks at several times
#: the file's size: a 1 GB CSV needed 9 GB).
MEMORY_BUDGET_BYTES = 256 * 2**20
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
#: Rows read at a time while training: smaller than predict's chunks, since the shuffle
#: buffer and the read-ahead hold several prepared chunks besides.
TRAIN_CHUNK_ROWS = 16384


def should_stream(path: str, stream: bool | None) -> bool:
    """``stream`` if given; else whether ``path`` is a regular file above the budget."""
    if stream is not None:
        return stream
    try:
        return path != "-" and os.stat(path).st_size > MEMORY_BUDGET_BYTES
    except OSError:
        return False  # the in-memory reader reports the problem


def valid_rows(rows: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Whether each row index is held out: splitmix64(row, seed) / 2^64 < ``fraction``."""
    with np.errstate(over="ignore"):
        z = rows.astype(np.uint64) + np.uint64(seed + 1) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53 < fraction


@dataclass(frozen=True)
class Split:
    """Which rows are held out for validation: ``valid_rows(row, fraction, seed)``."""

    fraction: float
    seed: int

    def train_mask(self, ids: np.ndarray) -> np.ndarray:
        return ~valid_rows(ids, self.fraction, self.seed) if self.fraction else \
            np.ones(len(ids), dtype=bool)

    def rows(self, start: int, n: int, valid: bool) -> np.ndarray:
        """The positions of the validation (or training) rows among the ``n`` rows from
        row ``start`` of the file."""
        train = self.train_mask(np.arange(start, start + n))
        return np.flatnonzero(~train if valid else train)


def _part(read: Callable[..., Iterator[tuple[int, Table]]], path: str, split: Split,
          valid: bool) -> Iterator[Table]:
    """The training (or validation) rows of ``path``, chunk by chunk."""
    if not split.fraction:
        return iter(()) if valid else (table for _, table in read(path))
    return (table for _, table in
            read(path, select=lambda start, n: split.rows(start, n, valid)))


def train_stream(path: str, settings: Settings, callbacks: Sequence[Callback] = (),
                 valid_path: str | None = None, shuffle_buffer: int = 65536) -> Result:
    """Train on ``path`` read in chunks; the same Result as :func:`train`.

    The file is read as :func:`~synnet.tabular.files.read_table` reads it, with
    ``settings.sep`` and ``settings.na_values``.
    """
    settings.check()
    return_freed_memory()  # chunk-sized arrays: freed back to the system, not kept

    # Columns that read as numbers in some chunks and text in others: read as text
    # throughout, as a whole-file read has them (found by the statistics pass).
    text: list[str] = []

    def read(file: str, select: Select | None = None) -> Iterator[tuple[int, Table]]:
        return read_chunks(file, TRAIN_CHUNK_ROWS, settings.sep,
                           na_values=settings.na_values, text=text, select=select)
    first = next(read(path))[1]
    features = feature_names(first, settings)
    task, reason = resolve_task(first, settings)
    if settings.task == "auto":
        reason += f" (from the first {first.n_rows} rows)"
    seed = job_seed(settings)
    fraction = 0.0 if valid_path else settings.valid_fraction
    split = Split(fraction, seed)
    # The preprocessing learns from the training rows, the target's classes (or scale)
    # from every row, as in memory (a validation file's rows come after the data's).
    rows_of_data: list[int] = []

    def tables() -> Iterator[Table]:
        rows_of_data.clear()
        n = 0
        for _, table in read(path):
            n += table.n_rows
            yield table
        rows_of_data.append(n)
        if valid_path:
            yield from (t for _, t in read(valid_path))

    def feature_rows(ids: np.ndarray) -> np.ndarray:
        if rows_of_data:  # the validation file
            return np.zeros(len(ids), dtype=bool)
        return split.train_mask(ids)

    def reread(mixed: list[str]) -> Iterator[Table]:
        text[:] = mixed
        return tables()

    counts: list[int] | None = [] if settings.class_weight == "balanced" else None
    keep = [*settings.keep_columns, *settings.features, *settings.categorical]
    preprocessor, target, n_train, ignored = fit_streaming(
        tables(), features, settings.target, task, settings.impute, settings.categorical,
        feature_rows=feature_rows, max_categories=settings.max_categories,
        min_frequency=settings.min_frequency, keep=keep, reread=reread,
        class_counts=counts)
    warn_ignored(ignored)
    features = preprocessor.input_names
    dtype = np.dtype(settings.dtype)
    binary = task == "classification" and target.n_outputs == 1

    def identity(file: str, part: str) -> dict[str, Any]:
        st = os.stat(file) if file != "-" else None
        return {"file": os.path.abspath(file), "part": part, "fraction": fraction, "seed": seed,
                "size": st and st.st_size, "mtime_ns": st and st.st_mtime_ns}

    def prepared(tables: Callable[[], Iterator[Table]],
                 weighted: bool = False) -> Callable[[], Iterator[Any]]:
        def blocks() -> Iterator[Any]:
            # Decoding the next chunk (pyarrow, without the GIL) in a thread of its own,
            # while this one transforms and the training thread trains.
            for table in read_ahead(tables(), 1):
                X = preprocessor.transform(table.columns, warn_unknown=False, dtype=dtype,
                                           coded=table.coded)  # built in dtype: no copy after
                y = _targets(target, table, settings.target, task)
                # class_weight='balanced' from the statistics pass's counts of the training rows
                w = None if counts is None or not weighted else \
                    balanced_from_counts(counts, y)
                yield X, (y.astype(dtype) if binary else y), w
        return blocks

    train_source = IterableSource(prepared(lambda: _part(read, path, split, valid=False),
                                           weighted=True),
                                  shuffle_buffer=shuffle_buffer, read_ahead=1,
                                  identity=identity(path, "train"))
    train_source.n_rows = n_train  # counted by the statistics pass: progress shows time left
    valid_tables: Callable[[], Iterator[Table]] | None = None
    if valid_path:
        valid_tables = lambda: (t for _, t in  # noqa: E731
                                read(valid_path))
    elif fraction:
        valid_tables = lambda: _part(read, path, split, valid=True)  # noqa: E731
    validation = None if valid_tables is None else IterableSource(
        prepared(valid_tables), read_ahead=1,
        identity=identity(valid_path or path, "valid"))
    network, loss = build_network(preprocessor.n_outputs, target.n_outputs, task, settings, seed)
    model = Model(network, preprocessor, target,
                  metadata={"feature_names": features, "target_name": settings.target})
    own, early, checkpoint = job_callbacks(settings, model, validation is not None)
    started = time.perf_counter()
    try:
        history = network.fit(
            train_source, loss=loss, optimizer=settings.make_optimizer(),
            epochs=settings.epochs, batch_size=settings.batch_size,
            validation_data=validation, callbacks=[*own, *callbacks],
            metrics=["accuracy"] if task == "classification" else [], l2=settings.l2)
    except KeyboardInterrupt:
        raise Interrupted(None if checkpoint is None else checkpoint.last_path) from None
    except DivergenceError as exc:
        raise Diverged(str(exc), model) from exc
    seconds = time.perf_counter() - started
    found = {"train": _scores(model, settings.target,
                              lambda: _part(read, path, split, valid=False))}
    if valid_tables is not None:
        found["valid"] = _scores(model, settings.target, valid_tables)
    best = None if early is None or early.best_epoch is None else early.best_epoch + 1
    return Result(model, settings, reason, found, seconds, len(history.epoch), best, n_train,
                  found.get("valid", {}).get("rows", 0),
                  None if checkpoint is None else checkpoint.resumed_from, ignored,
                  0 if checkpoint is None else checkpoint.resumed_batches)


def _targets(target: TargetEncoder, table: Table, name: str, task: str) -> np.ndarray:
    raw = table.columns[name]
    if task == "classification":
        codes, known = target.encode(raw, coded=table.coded.get(name))
        if not known.all():
            label = raw[np.flatnonzero(~known)[0]]
            raise DataError(f"the target {target.name!r} has the label {label!r}, which the "
                            "training rows never had; every class must appear in the "
                            "training part", params=["valid_fraction"])
        return codes
    return target.encode(raw)[0]


def _scores(model: Model, name: str, tables: Callable[[], Iterator[Table]]) -> dict[str, Any]:
    """The job's scores of a part, predicted chunk by chunk, from running sums
    (:class:`~synnet.tabular.scores.ClassificationSums` / ``RegressionSums``), so memory
    does not grow with the part."""
    assert model.target is not None and model.preprocessor is not None
    classes = model.classes
    sums = metrics.RegressionSums() if classes is None else \
        metrics.ClassificationSums(len(classes), ranks=False)
    for table in tables():
        X = model.preprocessor.transform(table.columns, warn_unknown=False,
                                         dtype=model.network.param_dtype, coded=table.coded)
        out = model.network.predict(X)
        raw = table.columns[name]
        if isinstance(sums, metrics.ClassificationSums):
            sums.add(model.target.encode(raw, coded=table.coded.get(name))[0],
                     model.proba_from_output(out))
        else:
            sums.add(model.target.values(raw), model.target.decode(out))
    if not sums.rows:
        return {"rows": 0}
    report = sums.report()
    if isinstance(sums, metrics.ClassificationSums):
        return {key: report[key] for key in ("rows", "accuracy", "log_loss")}
    return report
