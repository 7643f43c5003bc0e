"""The all-reduce of gradient mode: a binary tree of Dask actors, one per rank.

Rank ``r``'s actor lives on rank ``r``'s worker. For step ``s`` it waits for
its own rank's contribution and the subtotals of its children ``2r+1`` and
``2r+2``, adds them in that fixed order, and sends the subtotal to its parent
``(r-1)//2``; the root's total travels back down the same tree. Every message
goes worker to worker (the scheduler only placed the actors); each actor
sends and receives at most three gradients per step, so a step costs about
``2 log2(n)`` hops whatever the worker count ``n``, where one central actor
received and sent ``n``. The additions happen in a fixed order, so every
rank gets the same bits, and a rerun the same result. The actors live for one
round: if one dies with its worker, the round fails and the client retries it.
"""

from __future__ import annotations

import asyncio
from typing import Any


class ReducerAborted(RuntimeError):
    """The client aborted the round (a peer was lost), or a peer never arrived."""


def children(rank: int, n_ranks: int) -> list[int]:
    """The ranks whose subtotals ``rank`` adds to its own, in the order it adds them."""
    return [c for c in (2 * rank + 1, 2 * rank + 2) if c < n_ranks]


class Reducer:
    """One rank's node of the tree; ``allreduce`` returns the sum over every rank.

    A contribution is ``(grads: {name: array}, loss_sum: float, weight: float)``.
    Call :meth:`connect` with every rank's actor (in rank order) before the first step.
    """

    def __init__(self, rank: int, n_ranks: int, timeout: float) -> None:
        self.rank, self.n_ranks, self.timeout = rank, n_ranks, timeout
        self.children = children(rank, n_ranks)
        self.peers: list[Any] = []
        self._parts: dict[int, dict[int, Any]] = {}  # step -> {rank: contribution}
        self._arrived: dict[int, asyncio.Event] = {}
        self._results: dict[int, Any] = {}  # step -> the total, sent down by the parent
        self._delivered: dict[int, asyncio.Event] = {}
        self._aborted = False

    def connect(self, peers: list[Any]) -> None:
        """Every rank's actor, in rank order."""
        self.peers = list(peers)

    async def allreduce(self, step: int, rank: int, contribution: Any) -> Any:
        """The sum over ranks of the contributions to ``step`` (as the same tuple type)."""
        if rank != self.rank:
            raise ValueError(f"rank {rank} called the actor of rank {self.rank}")
        self._add(step, rank, contribution)
        await self._wait(self._arrived, step, "a peer sent nothing")
        parts = self._parts.pop(step)
        del self._arrived[step]
        total = _sum([parts[r] for r in (self.rank, *self.children)])
        if self.rank:
            await self.peers[(self.rank - 1) // 2].receive(step, self.rank, total)
            await self._wait(self._delivered, step, "the total never came back")
            total = self._results.pop(step)
            del self._delivered[step]
        await asyncio.gather(*(self.peers[c].deliver(step, total) for c in self.children))
        return total

    async def receive(self, step: int, child: int, subtotal: Any) -> None:
        """A child's subtotal for ``step``."""
        self._add(step, child, subtotal)

    async def deliver(self, step: int, total: Any) -> None:
        """The total of ``step``, from the parent."""
        self._results[step] = total
        self._event(self._delivered, step).set()

    async def abort(self) -> None:
        """Make every waiting and later ``allreduce`` raise :class:`ReducerAborted`."""
        self._aborted = True
        for event in [*self._arrived.values(), *self._delivered.values()]:
            event.set()

    def _add(self, step: int, rank: int, part: Any) -> None:
        parts = self._parts.setdefault(step, {})
        parts[rank] = part
        if len(parts) == 1 + len(self.children):
            self._event(self._arrived, step).set()

    @staticmethod
    def _event(events: dict[int, asyncio.Event], step: int) -> asyncio.Event:
        return events.setdefault(step, asyncio.Event())

    async def _wait(self, events: dict[int, asyncio.Event], step: int, what: str) -> None:
        if self._aborted:
            raise ReducerAborted("the round was aborted")
        try:
            await asyncio.wait_for(self._event(events, step).wait(), self.timeout)
        except TimeoutError:
            raise ReducerAborted(f"step {step}: {what} within {self.timeout} s") from None
        if self._aborted:
            raise ReducerAborted("the round was aborted")


def _sum(contributions: list[Any]) -> Any:
    """Element-wise sum, in the order given, so the result is reproducible."""
    grads = {name: g.copy() for name, g in contributions[0][0].items()}
    for c in contributions[1:]:
        for name, g in c[0].items():
            grads[name] += g
    return grads, sum(c[1] for c in contributions), sum(c[2] for c in contributions)


def start_tree(client: Any, workers: list[str], timeout: float) -> list[Any]:
    """One connected :class:`Reducer` actor per worker, in rank (``workers``) order."""
    futures = [client.submit(Reducer, rank, len(workers), timeout, actor=True, workers=[w],
                             allow_other_workers=False, pure=False)
               for rank, w in enumerate(workers)]
    actors = [f.result() for f in futures]
    for actor in actors:
        actor.connect(actors).result()
    return actors


def abort_tree(actors: list[Any]) -> None:
    """Release every rank still waiting in the tree (best effort: some may be gone)."""
    for actor in actors:
        try:
            actor.abort().result(timeout=5)
        except Exception:  # its worker is gone; its ranks give up on the abort Event
            pass
