"""The table job on a cluster (``synnet train DATA --workers N | --scheduler ADDR``).

The workers do everything that touches rows; the client holds settings,
statistics, the network and a few numbers per partition:

1. the workers read the file's partitions (:mod:`synnet.dask.reading`) and
   keep them; the client learns their row counts, so each row knows its
   place in the file;
2. each worker counts the preprocessing and target statistics of its
   partitions (:class:`synnet.tabular.streaming.Stats`: moments, category
   counts, ID checks); the client merges them in file order (Chan et al.'s
   update for means and variances), which gives the Preprocessor that
   ``train --stream`` fits, and the in-memory Preprocessor for files whose
   columns have one type throughout;
3. validation rows are picked by the hash of the row's place in the file and
   the seed (``train --stream``'s rule): no rows move to decide it;
4. each worker transforms its partitions, and :func:`synnet.dask.fit` trains
   on them; the validation loss, the class counts (``class_weight``) and the
   final scores are computed on the workers too (the scores gather one
   prediction per row, as ``train --stream`` keeps them).

As with ``--stream``, the task is inferred from the first partition, and
``impute='median'`` is refused (it needs every value at once).
"""

from __future__ import annotations

import operator
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
from distributed import Client, Future

from synnet.core.callback import Callback, Logs
from synnet.core.network import Network
from synnet.dask.fit import fit as dask_fit
from synnet.dask.reading import absolute, describe, read_part
from synnet.dask.shards import part_rows
from synnet.dask.worker import shipped
from synnet.errors import DataError, DivergenceError
from synnet.tabular import scores as metrics
from synnet.tabular import train as job
from synnet.tabular.files import Table
from synnet.tabular.model import Model
from synnet.tabular.preprocessing import Preprocessor
from synnet.tabular.settings import Settings
from synnet.tabular.streaming import Stats, check_streamable
from synnet.tabular.target import TargetEncoder
from synnet.tabular.train import Result, balanced_from_counts
from synnet.tabular.train_stream import Split, _targets

#: A prepared partition: (X, the network's targets, the truth the scores compare with).
Part = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class Partitions:
    """A file's partitions, read and kept on the workers: futures of Tables, in file order."""

    tables: list[Future]
    starts: list[int]  # each partition's first row in the file (0-based)
    rows: list[int]


def read_partitions(client: Client, path: str, sep: str | None = None,
                    na_values: Sequence[str] = (), n_parts: int = 2) -> Partitions:
    """The workers read ``path`` (``n_parts`` partitions where the file allows)."""
    layout = client.submit(describe, absolute(path), sep, n_parts, pure=False).result()
    tables = [client.submit(read_part, layout, k, tuple(na_values), pure=False)
              for k in range(len(layout.parts))]
    rows = [int(n) for n in client.gather(client.map(_n_rows, tables, pure=False))]
    if not sum(rows):
        raise DataError(f"{path} has a header but no data rows")
    starts = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(int).tolist()
    return Partitions(tables, starts, rows)


def fit_statistics(client: Client, data: Partitions, names: Sequence[str], target: str,
                   task: str, impute: str | None = None, categorical: Sequence[str] = (),
                   split: Split | None = None, max_categories: int | None = None,
                   min_frequency: int | float | None = None, keep: Sequence[str] | None = None,
                   class_counts: list[int] | None = None,
                   ) -> tuple[Preprocessor, TargetEncoder, int, dict[str, str]]:
    """``fit_streaming``'s result, counted on the workers and merged here in file order.

    ``split``: the preprocessing learns from the training rows only (the target's
    classes or scale from every row, as in memory). ``class_counts``: a list to fill
    with the training rows' count of each class, as fit_streaming's.
    """
    args = (names, target, task, impute, categorical, split is not None, keep,
            max_categories, min_frequency, class_counts is not None)
    counted = client.gather([client.submit(_count, table, start, args, split, pure=False)
                             for table, start in zip(data.tables, data.starts)])
    stats = Stats(*args)
    for part in counted:
        stats.merge(part)
    result = stats.result()
    if class_counts is not None:
        class_counts[:] = stats.class_counts_list()
    return result


def train_table(client: Client, path: str, settings: Settings,
                callbacks: Sequence[Callback] = (), *, n_parts: int = 2) -> Result:
    """The table job of :func:`synnet.tabular.train.train` on ``path``, read by the workers
    (with ``settings.sep`` and ``settings.na_values``)."""
    settings.check()  # checks sep and na_values too
    check_streamable(settings.impute)
    data = read_partitions(client, path, settings.sep, settings.na_values, n_parts)
    first = next(k for k, n in enumerate(data.rows) if n)
    features, task, reason = client.submit(_head, data.tables[first], settings,
                                           pure=False).result()
    seed = job.job_seed(settings)
    split = Split(settings.valid_fraction, seed)
    counts: list[int] | None = [] if settings.class_weight == "balanced" else None
    pre, target, n_train, ignored = fit_statistics(
        client, data, features, settings.target, task, settings.impute, settings.categorical,
        split, settings.max_categories, settings.min_frequency,
        keep=[*settings.keep_columns, *settings.features, *settings.categorical],
        class_counts=counts)
    job.warn_ignored(ignored)
    dtype = np.dtype(settings.dtype)
    prepare = _Prepare(pre, target, settings.target, task, dtype, split)
    train_parts = [client.submit(prepare, t, s, False, pure=False)
                   for t, s in zip(data.tables, data.starts)]
    valid_parts = [client.submit(prepare, t, s, True, pure=False)
                   for t, s in zip(data.tables, data.starts)] if split.fraction else []
    train_rows = part_rows(client, train_parts)
    valid_n = part_rows(client, valid_parts)
    del data  # the tables are released once the parts are made
    network, loss = job.build_network(pre.n_outputs, target.n_outputs, task, settings, seed)
    model = Model(network, pre, target,
                  metadata={"feature_names": pre.input_names, "target_name": settings.target})
    validation = sum(valid_n) > 0
    own, early, checkpoint = job.job_callbacks(settings, model, validation)
    X = _array(train_parts, train_rows, 0, (pre.n_outputs,), dtype)
    y = _array(train_parts, train_rows, 1, (), prepare.y_dtype)
    weights = None
    if counts is not None:
        w_parts = client.map(_balanced, train_parts, counts=counts, pure=False)
        weights = _array(w_parts, train_rows, None, (), np.dtype(np.float64))
    extra = [_Validation(client, valid_parts, loss)] if validation else []
    started = time.perf_counter()
    try:
        history = dask_fit(network, X, y, client=client, loss=loss,
                           optimizer=settings.make_optimizer(), epochs=settings.epochs,
                           batch_size=settings.batch_size, sample_weight=weights,
                           l2=settings.l2, callbacks=[*extra, *own, *callbacks])
    except KeyboardInterrupt:
        raise job.Interrupted(None if checkpoint is None else checkpoint.last_path) from None
    except DivergenceError as exc:
        raise job.Diverged(str(exc), model) from exc
    seconds = time.perf_counter() - started
    found = {"train": _scores(client, model, train_parts)}
    if validation:
        found["valid"] = _scores(client, model, valid_parts)
    best = None if early is None or early.best_epoch is None else early.best_epoch + 1
    return Result(model, settings, reason, found, seconds, len(history.epoch), best, n_train,
                  sum(valid_n), None if checkpoint is None else checkpoint.resumed_from, ignored)


# -- on the workers -----------------------------------------------------------------

def _n_rows(table: Table) -> int:
    return table.n_rows


def _head(table: Table, settings: Settings) -> tuple[list[str], str, str]:
    """(feature columns, task, why) from the first partition, as ``--stream`` decides them."""
    features = job.feature_names(table, settings)
    task, reason = job.resolve_task(table, settings)
    if settings.task == "auto":
        reason += f" (from the first {table.n_rows} rows)"
    return features, task, reason


def _count(table: Table, start: int, args: tuple[Any, ...], split: Split | None) -> Stats:
    stats = Stats(*args)
    if table.n_rows:
        stats.add(table, start, None if split is None else split.train_mask)
    return stats


@dataclass(frozen=True)
class _Prepare:
    """A partition's training (or validation) rows, transformed: a :data:`Part`."""

    pre: Preprocessor
    target: TargetEncoder
    name: str
    task: str
    dtype: np.dtype[Any]
    split: Split

    @property
    def y_dtype(self) -> np.dtype[Any]:
        """The (n,) targets' dtype: class indices, 0/1 in the network's dtype, or values."""
        if self.task == "regression":
            return np.dtype(np.float64)
        return self.dtype if self.target.n_outputs == 1 else np.dtype(np.intp)

    def __call__(self, table: Table, start: int, valid: bool) -> Part:
        rows = self.split.rows(start, table.n_rows, valid)
        if not len(rows):
            return (np.empty((0, self.pre.n_outputs), self.dtype), np.empty(0, self.y_dtype),
                    np.empty(0))
        part = table.take(rows) if len(rows) < table.n_rows else table
        X = self.pre.transform(part.columns, first_row=start + 1, warn_unknown=False,
                               dtype=self.dtype, coded=part.coded)
        raw = part.columns[self.name]
        y = _targets(self.target, part, self.name, self.task)
        truth = y if self.task == "classification" else self.target.values(raw)
        return X, y.astype(self.y_dtype, copy=False), truth


def _balanced(part: Part, counts: list[int]) -> np.ndarray:
    """``balanced_weights`` of the partition's rows, from the class counts of every part."""
    return balanced_from_counts(counts, part[1].astype(np.int64).ravel())


def _loss_sum(part: Part, network: Network, loss: str) -> tuple[float, int]:
    n = len(part[0])
    return (network.evaluate(part[0], part[1], loss=loss)["loss"] * n if n else 0.0), n


def _outputs(part: Part, network: Network) -> tuple[np.ndarray, np.ndarray]:
    return part[2], network.predict(part[0])


# -- on the client ------------------------------------------------------------------

def _array(parts: list[Future], rows: list[int], index: int | None,
           shape: tuple[int, ...], dtype: np.dtype[Any]) -> Any:
    """Element ``index`` of each part (None: the part) as one dask array; ``shape``: a row's."""
    blocks = []
    for part, n in zip(parts, rows):
        value = part if index is None else dask.delayed(operator.getitem)(part, index)
        blocks.append(da.from_delayed(value, shape=(n, *shape), dtype=dtype))
    return da.concatenate(blocks)


class _Validation(Callback):
    """Adds ``val_loss`` to the epoch's logs: the mean loss over the held-out rows,
    summed on the workers, before the other callbacks (early stopping) read it."""

    def __init__(self, client: Client, parts: list[Future], loss: str) -> None:
        self.client, self.parts, self.loss = client, parts, loss

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        sums = self.client.gather(self.client.map(
            _loss_sum, self.parts, network=shipped(self.network), loss=self.loss,
            pure=False))
        logs["val_loss"] = sum(s for s, _ in sums) / sum(n for _, n in sums)


def _scores(client: Client, model: Model, parts: list[Future]) -> dict[str, Any]:
    """The job's scores of the rows in ``parts`` (as train_stream scores them)."""
    assert model.target is not None
    pairs = client.gather(client.map(_outputs, parts, network=shipped(model.network),
                                     pure=False))
    truth = np.concatenate([t for t, _ in pairs])
    out = np.concatenate([o for _, o in pairs])
    if not len(out):
        return {"rows": 0}
    if model.task == "classification":
        report = metrics.classification_report(truth, model.proba_from_output(out))
        return {"rows": report["rows"], "accuracy": report["accuracy"],
                "log_loss": report["log_loss"]}
    return metrics.regression_report(truth, model.target.decode(out))
