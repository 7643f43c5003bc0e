"""One training round on the cluster, retried on the remaining workers if a worker is lost.

The client sends the round's starting network and optimizer to the workers
(one copy per worker), starts one task per worker on the partitions it holds,
and waits. It keeps the authoritative state itself, so a round that loses a
worker, or its all-reduce actor, costs only that round: it warns and runs the
round again, from the same state, on the workers that are left.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
from distributed import Client, Future, wait

from synnet.core.network import Network
from synnet.core.optimizers import Optimizer
from synnet.dask import shards
from synnet.dask.reducer import Reducer, ReducerAborted
from synnet.dask.worker import PeerLost, RoundResult, RoundSpec, run_round
from synnet.errors import SynnetError

POLL_S = 0.2  # how often the client checks that the round's workers are still there


class ClusterError(SynnetError, RuntimeError):
    """The cluster could not finish a round (no workers left, or too many failures)."""


class WorkerLostWarning(UserWarning):
    """A worker was lost during a round; the round was run again without it."""


class _RoundLost(Exception):
    """Internal: the round lost a worker (or its peer exchange) and may be retried."""


def train_round(client: Client, spec: RoundSpec, network: Network, optimizer: Optimizer,
                parts: list[Future], rows: list[int], *, timeout: float,
                max_retries: int) -> list[RoundResult]:
    """Run ``spec`` on the workers holding ``parts``; one result per rank, in rank order."""
    for attempt in range(max_retries + 1):
        shards.check_alive(parts)
        workers = shards.live_workers(client)
        if not workers:
            raise ClusterError("the cluster has no workers left; start workers and refit "
                               "(the weights of the last finished round are in the network)")
        plan = shards.assign(client, parts, rows, workers)
        try:
            return _attempt(client, spec, (network, optimizer), parts, plan, timeout)
        except _RoundLost as lost:
            if attempt == max_retries:
                raise ClusterError(f"a round failed {max_retries + 1} times, the last time "
                                   f"because {lost}; giving up (the weights of the last "
                                   "finished round are in the network)") from None
            warnings.warn(f"{lost}; running the round again on the remaining workers",
                          WorkerLostWarning, stacklevel=4)
    raise AssertionError("unreachable")


def _attempt(client: Client, spec: RoundSpec, state: tuple[Network, Optimizer],
             parts: list[Future], plan: dict[str, list[int]],
             timeout: float) -> list[RoundResult]:
    workers = list(plan)
    shared = client.scatter(state, workers=workers, broadcast=True, hash=False)
    reducer = None
    if spec.mode == "gradient":
        reducer = client.submit(Reducer, len(workers), timeout, actor=True,
                                workers=workers[:1], pure=False).result()
    futures = [client.submit(run_round, spec, shared, rank, reducer,
                             *(parts[i] for i in plan[w]), workers=[w],
                             allow_other_workers=False, pure=False)
               for rank, w in enumerate(workers)]
    try:
        return _collect(client, futures, workers, timeout)
    except _RoundLost:
        if reducer is not None:
            try:
                reducer.abort().result(timeout=5)  # release peers still waiting in the actor
            except Exception:  # noqa: BLE001 (the actor may have died with its worker)
                pass
        client.cancel(futures)
        raise
    finally:
        client.cancel([shared])


def _collect(client: Client, futures: list[Future], workers: list[str],
             timeout: float) -> list[RoundResult]:
    """Wait for every rank; a lost worker or a failed peer exchange raises _RoundLost."""
    first_failure: float | None = None
    while True:
        pending = [f for f in futures if not f.done()]
        if pending:
            try:
                wait(pending, timeout=POLL_S, return_when="FIRST_COMPLETED")
            except TimeoutError:
                pass
        done = [f for f in futures if f.done()]
        failed = [f for f in done if f.status == "error"]
        for f in failed:
            exc = f.exception()
            if not isinstance(exc, (PeerLost, ReducerAborted)):
                raise exc  # the data's or the model's error: retrying would not help
        gone = sorted(set(workers) - set(shards.live_workers(client)))
        if gone:
            raise _RoundLost(f"worker(s) {', '.join(gone)} left the cluster")
        if failed:
            # A peer exchange failed while every worker is still listed: the scheduler
            # may not have noticed a loss yet. Give it a moment, then retry anyway.
            first_failure = first_failure or time.monotonic()
            if time.monotonic() - first_failure > min(timeout, 10.0):
                raise _RoundLost(f"the gradient exchange failed: {failed[0].exception()}")
            time.sleep(POLL_S)
            continue
        if len(done) == len(futures):
            return client.gather(futures)


def average(results: list[RoundResult]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Local SGD: weights and optimizer slots averaged over ranks, weighted by their rows."""
    share = np.array([r.rows for r in results], dtype=float)
    share /= share.sum()
    weights = {name: sum(s * r.weights[name] for s, r in zip(share, results))
               for name in results[0].weights}
    state = dict(results[0].optimizer_state)
    state["slots"] = {slot: {name: sum(s * r.optimizer_state["slots"][slot][name]
                                       for s, r in zip(share, results))
                             for name in values}
                      for slot, values in state["slots"].items()}
    state["iterations"] = max(r.optimizer_state["iterations"] for r in results)
    return weights, state
