"""Training on a data source: minibatches read as the fit loop goes, checked batch by batch.

The fit loop takes the batches of :class:`SourceBatches` where it would take
those of in-memory arrays; :func:`evaluate_source` scores a source without
holding it. Sources and their shuffling live in :mod:`synnet.data.source`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from synnet.core.batch import Batch, prepare
from synnet.core.evaluation import evaluate_batch
from synnet.core.layers import Dense
from synnet.core.losses import Loss
from synnet.core.metrics import Metric
from synnet.data.source import ArraySource, Source, as_source, minibatches
from synnet.errors import ConfigError, DataError

if TYPE_CHECKING:
    from synnet.core.network import Network

#: A validation source is scored in batches of about this many activations (8 MiB of
#: float64) per layer, or the training's batch size if larger.
EVAL_CELLS = 1 << 20


def source_of(X: Any, y: Any, sample_weight: Any) -> Source | None:
    """The source ``X`` is or gives (an iterable of blocks, y None), or None for arrays."""
    if isinstance(X, Source):
        if y is not None or sample_weight is not None:
            raise ConfigError("with a data source, leave y and sample_weight out: the source "
                              "yields (X, y[, w])", params=["y", "sample_weight"])
        return X
    if y is None and sample_weight is None and isinstance(X, Iterable) and not (
            isinstance(X, (np.ndarray, list, tuple, dict, str, bytes))
            or hasattr(X, "__array__") or hasattr(X, "tocsr")):
        return as_source(X)  # a generator or other iterable of blocks
    return None  # arrays: fit's in-memory path checks them


def arrays_of(source: Source) -> tuple[Any, Any, Any] | None:
    """An ArraySource's arrays (trained on as arrays: the same speed and batches)."""
    if isinstance(source, ArraySource):
        return source.X, source.y, source.w
    return None


class SourceBatches:
    """One epoch of prepared minibatches per iteration, shuffled from the network's generator."""

    single = None  # never one full batch: the fit loop's full-batch shortcut is off

    def __init__(self, source: Source, batch_size: int, shuffle: bool, network: Network,
                 loss: Loss, dtype: np.dtype[Any], what: str = "X") -> None:
        self.source, self.batch_size, self.shuffle = source, batch_size, shuffle
        self.network, self.loss, self.dtype, self.what = network, loss, dtype, what

    def __iter__(self) -> Iterator[Batch]:
        return self.start(0)

    def start(self, skip: int) -> Iterator[Batch]:
        """The epoch's batches after its first ``skip``, which are read but not prepared.

        The epoch's shuffling draws from its own generator, which ``minibatches``
        seeds now by one draw from the network's: the order then depends only on the network
        generator's state at the epoch's start, not on what training draws from it
        in between (dropout), so a resumed epoch rebuilds it exactly. Skipped
        batches are read again (a CSV file cannot be entered in the middle, and
        the shuffle buffer needs the rows that came before), except without
        shuffling where the source knows its block starts (Parquet): reading
        starts at the row group of the first batch wanted.
        """
        raw = minibatches(self.source, self.batch_size,
                          self.network.rng if self.shuffle else None, skip)
        return self._prepared(raw, empty=skip == 0)

    def _prepared(self, raw: Iterator[Any], empty: bool) -> Iterator[Batch]:
        network = self.network
        for X, y, w in raw:
            X = np.asarray(X, dtype=self.dtype)  # the file's float64 in the network's dtype
            empty = False
            yield prepare(X, y, self.loss, w, n_inputs=network.n_inputs,
                          n_outputs=network.n_outputs, dtype=self.dtype, what=self.what)
        if empty:
            raise DataError(f"the {'validation ' if self.what == 'X_val' else ''}source "
                            "yielded no rows")


def evaluate_source(network: Network, source: Source, loss: Loss, metrics: dict[str, Metric],
                    batch_size: int, prefix: str = "") -> dict[str, float]:
    """evaluate_batch over a source, batch by batch, combined as one evaluation would.

    Mean losses are combined weighted by each batch's weight sum (its row count
    without weights), summed losses are added, metrics weighted by row counts.
    """
    assert network.param_dtype is not None
    # Evaluated in batches of about EVAL_CELLS activations, not the training's small
    # batches: the same sums, with far less Python overhead per row.
    widest = max([network.n_inputs, *(layer.out_features for layer in network.layers
                                      if isinstance(layer, Dense))])
    step = max(batch_size, EVAL_CELLS // max(1, widest))
    batches = SourceBatches(source, step, False, network, loss, network.param_dtype,
                            what="X_val")
    sums: dict[str, float] = {}
    mass = rows = 0.0
    for batch in batches:
        logs = evaluate_batch(network, batch, loss, metrics, prefix)
        weight = float(batch.n if batch.w is None else np.sum(batch.w))
        value = logs.pop(f"{prefix}loss")
        sums[f"{prefix}loss"] = sums.get(f"{prefix}loss", 0.0) + (
            value * weight if loss.averages else value)
        for key, v in logs.items():
            sums[key] = sums.get(key, 0.0) + v * batch.n
        mass += weight
        rows += batch.n
    out = {f"{prefix}loss": sums[f"{prefix}loss"] / mass if loss.averages
           else sums[f"{prefix}loss"]}
    out.update({k: v / rows for k, v in sums.items() if k != f"{prefix}loss"})
    return out
