"""``synnet train DATA --workers N | --scheduler ADDR``: the table job on a Dask cluster.

A LocalCluster of N worker processes (one thread each), or the cluster behind
the scheduler's address; either way the workers read DATA themselves
(:mod:`synnet.dask.table`), so DATA must be a path or URL every worker can
read. The model file is the same as a local fit's.
"""

from __future__ import annotations

from collections.abc import Sequence

from distributed import Client, LocalCluster

from synnet.core.callback import Callback
from synnet.dask.table import train_table
from synnet.errors import ConfigError
from synnet.tabular.settings import Settings
from synnet.tabular.train import Result


def train_on_cluster(path: str, settings: Settings, callbacks: Sequence[Callback] = (), *,
                     workers: int | None = None, scheduler: str | None = None) -> Result:
    """Train on ``path`` on a new LocalCluster of ``workers`` processes, or the
    cluster at ``scheduler``; two partitions per worker where the file allows (read
    with ``settings.sep`` and ``settings.na_values``)."""
    if workers is not None and scheduler is not None:
        raise ConfigError("give --workers or --scheduler, not both",
                          params=["workers", "scheduler"])
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}", params=["workers"])
    if path == "-":
        raise ConfigError("on a Dask cluster the workers read DATA themselves, so it cannot "
                          "be standard input; give a file path (or URL) every worker can "
                          "read", params=["workers" if workers is not None else "scheduler"])
    settings.check()
    cluster = None
    if workers is not None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0")
    try:
        with Client(cluster if cluster is not None else scheduler, timeout=30) as client:
            n = workers or len(client.scheduler_info(n_workers=-1)["workers"])
            if not n:
                raise ConfigError(f"the Dask cluster at {scheduler} has no workers; start "
                                  "some (dask worker ...) and run again",
                                  params=["scheduler"])
            return train_table(client, path, settings, callbacks, n_parts=2 * n)
    finally:
        if cluster is not None:
            cluster.close()
