"""The LocalCluster the Dask tests share: 2 worker processes x 1 thread, always closed.

Import the fixture into a test module (``from dask_cluster import client``): it
starts once per module. Work stealing is off, so a task runs where its inputs
are and the tests know which worker holds which rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import dask
import distributed
import pytest


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    with dask.config.set({"distributed.scheduler.work-stealing": False,
                          "distributed.comm.timeouts.connect": "20s"}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=":0", death_timeout=30)
        try:
            with distributed.Client(cluster, timeout=30) as c:
                c.wait_for_workers(2, timeout=60)
                yield c
        finally:
            cluster.close(timeout=30)
