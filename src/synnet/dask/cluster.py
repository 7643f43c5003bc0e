"""A ``Network.fit`` on a Dask cluster for the table job (``synnet train --workers N``).

The table is read and preprocessed here, as for a local fit; the training
matrix is then cut into row partitions that live on the workers, and
:func:`synnet.dask.fit` trains there. Validation (and so ``--patience``) is
scored here after each epoch. The model file is the same as a local fit's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dask.array as da
from distributed import Client, LocalCluster

from synnet.core.callback import Callback, Logs
from synnet.core.history import History
from synnet.core.network import Network
from synnet.dask.fit import fit as dask_fit
from synnet.errors import ConfigError

Fit = Callable[..., History]


@contextmanager
def cluster_fit(workers: int | None, scheduler: str | None) -> Iterator[Fit]:
    """A ``Network.fit``-like function training on a LocalCluster or the given scheduler."""
    if workers is not None and scheduler is not None:
        raise ConfigError("give --workers or --scheduler, not both",
                          params=["workers", "scheduler"])
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}", params=["workers"])
    cluster = None
    if workers is not None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0")
    try:
        with Client(cluster if cluster is not None else scheduler, timeout=30) as client:
            n = workers or max(1, len(client.scheduler_info(n_workers=-1)["workers"]))

            def fit(network: Network, X: Any, y: Any, loss: Any, optimizer: Any, *,
                    epochs: int, batch_size: int, validation_data: Any = None,
                    callbacks: Sequence[Callback] = (), metrics: Sequence[str] = (),
                    sample_weight: Any = None, l2: float = 0.0) -> History:
                rows = max(1, -(-len(X) // (2 * n)))  # two partitions per worker
                Xd = da.from_array(X, chunks=(rows, X.shape[1]))
                yd = da.from_array(y, chunks=(rows, *y.shape[1:]))
                wd = None if sample_weight is None else da.from_array(sample_weight,
                                                                      chunks=rows)
                extra = [] if validation_data is None else [_Validation(*validation_data)]
                return dask_fit(network, Xd, yd, client=client, loss=loss,
                                optimizer=optimizer, epochs=epochs, batch_size=batch_size,
                                sample_weight=wd, l2=l2, callbacks=[*extra, *callbacks])

            yield fit
    finally:
        if cluster is not None:
            cluster.close()


class _Validation(Callback):
    """Adds ``val_loss`` to the epoch's logs (scored here), before the other callbacks run."""

    def __init__(self, X: Any, y: Any) -> None:
        self.X, self.y = X, y

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        logs["val_loss"] = self.network.evaluate(self.X, self.y)["loss"]
