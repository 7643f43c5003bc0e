"""Dask collections in, one future per partition out, each left on the worker that made it.

``persist_parts`` turns aligned row partitions of X, y (and sample weights)
into futures of validated NumPy blocks (``prepare`` runs on the workers, where
the partitions are; nothing is gathered to the client). ``assign`` maps the
blocks to the live workers that hold them; a block whose worker died goes to
the emptiest rank, and Dask recomputes it from its lineage. Scattered data
has no lineage: once lost, :func:`check_alive` says so.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import CancelledError
from typing import Any

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
from distributed import Client, Future, wait

from synnet.errors import DataError

Prepare = Callable[[Any, Any, Any], tuple[np.ndarray, np.ndarray, np.ndarray | None]]


def is_collection(x: Any) -> bool:
    """Whether ``x`` is a dask array, dataframe or series."""
    return isinstance(x, (da.Array, dd.DataFrame, dd.Series))


def row_blocks(x: Any, name: str) -> list[Any]:
    """The row partitions of a dask array (columns in one block) or dataframe, as delayed."""
    if isinstance(x, da.Array):
        if x.ndim == 2 and x.numblocks[1] > 1:
            x = x.rechunk({1: -1})  # one block across the columns: a block is a set of rows
        return list(x.to_delayed().ravel())
    if isinstance(x, (dd.DataFrame, dd.Series)):
        return list(x.to_delayed())
    raise DataError(f"{name} must be a dask array, dataframe or series, not "
                    f"{type(x).__name__}; for NumPy or pandas data use synnet.MLPClassifier / "
                    "MLPRegressor or Network.fit", params=[name])


def persist_parts(client: Client, X: Any, y: Any, sample_weight: Any,
                  prepare: Prepare) -> tuple[list[Future], list[int]]:
    """Futures of ``prepare(X_block, y_block, w_block)`` per partition, and their row counts."""
    blocks = {"X": row_blocks(X, "X"), "y": row_blocks(y, "y")}
    if sample_weight is not None:
        blocks["sample_weight"] = row_blocks(sample_weight, "sample_weight")
    counts = {name: len(b) for name, b in blocks.items()}
    if len(set(counts.values())) != 1:
        raise DataError(f"X, y and sample_weight must have the same row partitions, got "
                        f"{counts} partitions; rechunk / repartition them alike "
                        "(e.g. y = y.rechunk(X.chunks[0]))", params=list(counts))
    ws = blocks.get("sample_weight", [None] * counts["X"])
    parts = [dask.delayed(prepare)(x, t, w) for x, t, w in zip(blocks["X"], blocks["y"], ws)]
    futures = client.compute(parts)
    _settle(futures, None)
    for f in futures:
        if f.status == "error":
            f.result()  # raises the worker's error (a DataError naming the problem)
    check_alive(futures, 0.0)
    return futures, part_rows(client, futures)


def part_rows(client: Client, parts: list[Future]) -> list[int]:
    """The rows of each part (a future of (X, y, ...)), counted on the workers."""
    return [int(n) for n in client.gather(client.map(_n_rows, parts, pure=False))]


def _n_rows(part: tuple[np.ndarray, ...]) -> int:
    return len(part[0])


def live_workers(client: Client) -> list[str]:
    """The addresses of the cluster's workers, sorted (a worker's rank is its place here)."""
    return sorted(client.scheduler_info(n_workers=-1)["workers"])


def check_alive(parts: list[Future], timeout: float) -> None:
    """Wait for blocks Dask is recomputing after a worker loss; a DataError if it cannot.

    Blocks computed from a graph come back (the scheduler reruns their
    lineage); scattered data has no lineage, so its futures end cancelled.
    """
    _settle([f for f in parts if f.status not in ("finished", "error", "cancelled")], timeout)
    gone = [f for f in parts if f.status != "finished"]
    if gone:
        raise DataError(f"{len(gone)} data partition(s) were lost with their worker and "
                        "could not be recomputed (scattered data has no lineage); build the "
                        "collection from files or a graph, or persist it again, and refit")


def _settle(futures: list[Future], timeout: float | None) -> None:
    """Wait until every future is finished, failed or cancelled (or the time is up)."""
    if not futures:
        return
    try:
        wait(futures, timeout=timeout)
    except (TimeoutError, CancelledError):
        pass  # the callers read each future's status


def assign(client: Client, parts: list[Future], rows: list[int], workers: list[str]
           ) -> dict[str, list[int]]:
    """worker -> indices of the parts it trains on; parts on no live worker go to the emptiest."""
    holders = client.who_has(parts)
    plan: dict[str, list[int]] = {w: [] for w in workers}
    load = dict.fromkeys(workers, 0)
    orphans = []
    for i, f in enumerate(parts):
        held = [w for w in holders.get(f.key, ()) if w in plan]
        if not rows[i]:
            continue
        if held:
            owner = min(held, key=load.__getitem__)
            plan[owner].append(i)
            load[owner] += rows[i]
        else:
            orphans.append(i)
    for i in orphans:
        owner = min(workers, key=load.__getitem__)
        plan[owner].append(i)
        load[owner] += rows[i]
    return {w: idx for w, idx in plan.items() if idx}


def place_groups(client: Client, parts: list[Future], rows: list[int],
                 groups: list[list[int]], workers: list[str]) -> dict[str, list[int]]:
    """worker -> parts, one given group per worker, in the groups' (rank) order.

    Each group goes to the free worker already holding most of its rows (Dask
    moves the rest); ``len(groups) <= len(workers)``.
    """
    holders = client.who_has(parts)
    free = list(workers)
    plan: dict[str, list[int]] = {}
    for group in groups:
        held = dict.fromkeys(free, 0)
        for i in group:
            for w in holders.get(parts[i].key, ()):
                if w in held:
                    held[w] += rows[i]
        owner = max(free, key=held.__getitem__)
        free.remove(owner)
        plan[owner] = list(group)
    return plan
