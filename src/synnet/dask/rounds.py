"""Training rounds on the cluster, each retried on the remaining workers if a worker is lost.

Per round the client starts one task per worker on the partitions that worker
holds, then downloads one object: the round's end state (rank 0's, in
gradient mode, where every rank ends equal; the ranks' average, computed on a
worker, in local-SGD mode). That object's future also starts the next round,
so workers fetch it from each other and the client uploads nothing between
rounds. The client adopts every round's state, so it holds the authoritative
weights and optimizer state: a round that loses a worker, or its all-reduce
actors, costs only that round. It warns, sends its state out again and runs the
round again on the workers that are left.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from distributed import Client, Event, Future, wait

from synnet.core.network import Network
from synnet.core.optimizers import Optimizer
from synnet.dask import shards
from synnet.dask.plan import rank_groups
from synnet.dask.reducer import ReducerAborted, abort_tree, start_tree
from synnet.dask.worker import PeerLost, RoundResult, RoundSpec, run_round, shipped
from synnet.errors import SynnetError

POLL_S = 0.2  # how often the client checks that the round's workers are still there
GRACE_S = 10.0  # how long an error waits for the scheduler to confirm a lost worker
FATAL = (SynnetError, ValueError, TypeError, ArithmeticError)  # the data's or model's errors


class ClusterError(SynnetError, RuntimeError):
    """The cluster could not finish a round (no workers left, or too many failures)."""


class WorkerLostWarning(UserWarning):
    """A worker was lost during a round; the round was run again without it."""


class _RoundLost(Exception):
    """Internal: the round lost a worker (or its peer exchange) and may be retried."""


@dataclass
class Placement:
    """What rounds share until a worker is lost: who trains on which parts, the actors,
    the (network, optimizer) template on the workers and the future of the last state.

    Working these out costs round trips to the scheduler and an upload, so it
    happens at the first round and again only after a round failed.
    """

    plan: dict[str, list[int]] = field(default_factory=dict)
    reducers: list[Any] = field(default_factory=list)  # the all-reduce tree, one per rank
    template: Future | None = None
    state: Future | None = None  # the last round's RoundResult, where the next one starts
    abort: str = ""  # the name of the Event that tells this placement's ranks to give up
    #: The parts each rank trains on, in rank order. They decide the batches, so they
    #: outlive a placement (and a checkpoint restores them) while enough workers are left.
    groups: list[list[int]] = field(default_factory=list)

    def reset(self) -> None:
        self.plan, self.reducers, self.template, self.state = {}, [], None, None


def train_round(client: Client, spec: RoundSpec, network: Network, optimizer: Optimizer,
                parts: list[Future], rows: list[int], placement: Placement, *,
                timeout: float, max_retries: int) -> RoundResult:
    """Run ``spec`` on the workers holding ``parts``; returns the round's end state.

    ``network`` and ``optimizer`` are the client's authoritative state, sent
    out when the placement is (re)built.
    """
    for attempt in range(max_retries + 1):
        if not placement.plan:
            _place(client, spec, (network, optimizer), parts, rows, placement, timeout)
        try:
            return _attempt(client, spec, parts, placement, timeout)
        except _RoundLost as lost:
            if attempt == max_retries:
                raise ClusterError(f"a round failed {max_retries + 1} times, the last time "
                                   f"because {lost}; giving up (the weights of the last "
                                   "finished round are in the network)") from None
            warnings.warn(f"{lost}; running the round again on the remaining workers",
                          WorkerLostWarning, stacklevel=4)
    raise AssertionError("unreachable")


def _place(client: Client, spec: RoundSpec, state: tuple[Network, Optimizer],
           parts: list[Future], rows: list[int], placement: Placement, timeout: float) -> None:
    shards.check_alive(parts, timeout)
    workers = shards.live_workers(client)
    if not workers:
        raise ClusterError("the cluster has no workers left; start workers and refit (the "
                           "weights of the last finished round are in the network)")
    if not placement.groups:
        placement.groups = rank_groups(rows, len(workers))
    if len(placement.groups) <= len(workers):
        plan = shards.place_groups(client, parts, rows, placement.groups, workers)
    else:  # a worker was lost: the batches change anyway, so keep the data where it is
        plan = shards.assign(client, parts, rows, workers)
    placement.plan, placement.groups = plan, [list(p) for p in plan.values()]
    # Not the history: fit's callbacks (in its params) hold this placement, locks, files.
    placement.template = client.scatter((shipped(state[0]), state[1]), workers=list(plan),
                                        broadcast=True, hash=False)
    placement.state = None
    placement.abort = f"synnet-abort-{uuid.uuid4().hex}"
    if spec.mode == "gradient":
        placement.reducers = start_tree(client, list(plan), timeout)


def _attempt(client: Client, spec: RoundSpec, parts: list[Future], placement: Placement,
             timeout: float) -> RoundResult:
    workers = list(placement.plan)
    spec = dataclasses.replace(spec, abort=placement.abort)
    futures = [client.submit(run_round, spec, placement.template, placement.state, rank,
                             placement.reducers[rank] if placement.reducers else None,
                             *(parts[i] for i in placement.plan[w]),
                             workers=[w], allow_other_workers=False, pure=False)
               for rank, w in enumerate(workers)]
    end = futures[0] if spec.mode == "gradient" else client.submit(
        average, *futures, workers=workers[:1], allow_other_workers=True, pure=False)
    try:
        _wait_for(client, futures, workers, timeout)
        result: RoundResult = _gather_end(end)
    except BaseException:
        if placement.reducers:
            Event(placement.abort, client=client).set()  # ranks waiting on a dead actor
            abort_tree(placement.reducers)  # release peers still waiting in the tree
        client.cancel([*futures, end])
        placement.reset()
        raise
    placement.state = end
    return result


def _gather_end(end: Future) -> RoundResult:
    """The finished round's result; a worker that dies after its rank finished takes the
    result (or the actor it depends on) with it: that round is lost, not failed."""
    try:
        result: RoundResult = end.result()
    except FATAL:
        raise
    except (Exception, asyncio.CancelledError) as exc:
        raise _RoundLost(f"the round's result was lost with its worker ({exc})") from None
    return result


def _wait_for(client: Client, futures: list[Future], workers: list[str],
              timeout: float) -> None:
    """Wait for every rank; a lost worker or a failed peer exchange raises _RoundLost.

    An error of the data or the model (a SynnetError, ValueError, TypeError,
    ArithmeticError) is raised as it is: retrying would not help. Any other
    error (a broken connection, an actor whose worker is gone) is a loss if
    the scheduler confirms, within a grace period, that a worker left.
    """
    first_failure: float | None = None
    while True:
        try:
            wait(futures, timeout=POLL_S)
        except TimeoutError:
            pass
        if all(f.status == "finished" for f in futures):
            return
        errors = [f.exception() for f in futures if f.status == "error"]
        for exc in errors:
            if isinstance(exc, FATAL):
                raise exc
        gone = sorted(set(workers) - set(shards.live_workers(client)))
        if gone:
            raise _RoundLost(f"worker(s) {', '.join(gone)} left the cluster")
        if errors:
            # Every worker is still listed: the scheduler may not have noticed a loss
            # yet. Give it a moment; then a failed exchange is retried, the rest raised.
            first_failure = first_failure or time.monotonic()
            if time.monotonic() - first_failure > min(timeout, GRACE_S):
                exc = errors[0]
                if isinstance(exc, (PeerLost, ReducerAborted)):
                    raise _RoundLost(f"the gradient exchange failed: {exc}")
                raise exc
            time.sleep(POLL_S)


def average(*results: RoundResult) -> RoundResult:
    """Local SGD (runs on a worker): weights and optimizer slots averaged over the ranks,
    weighted by their rows; loss sums and rows added up."""
    share = np.array([r.rows for r in results], dtype=float)
    share /= share.sum()
    weights = {name: _mean([r.weights[name] for r in results], share)
               for name in results[0].weights}
    state = dict(results[0].optimizer_state)
    state["slots"] = {slot: {name: _mean([r.optimizer_state["slots"][slot][name]
                                          for r in results], share) for name in values}
                      for slot, values in state["slots"].items()}
    state["iterations"] = max(r.optimizer_state["iterations"] for r in results)
    return RoundResult(weights, state, sum(r.loss_sum for r in results),
                       sum(r.weight_sum for r in results), sum(r.rows for r in results))


def _mean(arrays: list[np.ndarray], share: np.ndarray) -> np.ndarray:
    out = arrays[0] * share[0]
    for a, s in zip(arrays[1:], share[1:]):
        out += a * s
    return out.astype(arrays[0].dtype, copy=False)
