"""Which rows each worker trains on at each step: a deterministic schedule (NumPy only).

An epoch has ``steps_per_epoch(n_total, batch_size)`` global steps. Worker
``rank`` holds ``n_local`` rows; per epoch it orders them (a permutation drawn
from ``(seed, epoch, rank)``, or in order without shuffling) and cuts them into
that many nearly equal slices. Global step ``s`` is the union of every worker's
slice ``s``, so each worker's share of the global batch is proportional to its
rows, and the global batch has about ``batch_size`` rows. Nothing here depends
on the cluster: a worker computes its own rows, and a test can recompute the
global batches of a one-process run.
"""

from __future__ import annotations

import math

import numpy as np


def rank_groups(rows: list[int], n_ranks: int) -> list[list[int]]:
    """The parts each rank trains on: consecutive runs of non-empty parts, about equal in rows.

    Decided by the rows per part and the number of ranks alone (not by where
    Dask happened to put the parts), so two fits on the same partitions cut the
    same batches; at most ``n_ranks`` groups, none empty.
    """
    idx = [i for i, r in enumerate(rows) if r]
    total = sum(rows[i] for i in idx)
    groups: list[list[int]] = [[] for _ in range(max(1, min(n_ranks, len(idx))))]
    seen = 0
    for i in idx:
        # A part joins the group its middle row falls in.
        groups[min(len(groups) - 1, (2 * seen + rows[i]) * len(groups) // (2 * total))].append(i)
        seen += rows[i]
    return [g for g in groups if g]


def steps_per_epoch(n_total: int, batch_size: int) -> int:
    """Global steps per epoch: ceil(n_total / batch_size)."""
    return max(1, math.ceil(n_total / batch_size))


def epoch_order(n_local: int, seed: int, epoch: int, rank: int, shuffle: bool) -> np.ndarray:
    """(n_local,) row indices in the order worker ``rank`` visits them in ``epoch``."""
    if not shuffle:
        return np.arange(n_local)
    return np.random.default_rng([seed, epoch, rank]).permutation(n_local)


def step_rows(order: np.ndarray, steps: int, step: int) -> np.ndarray:
    """The rows of slice ``step`` (0 <= step < steps) of ``order``, sorted (may be empty)."""
    n = len(order)
    start, stop = step * n // steps, (step + 1) * n // steps
    return np.sort(order[start:stop])
