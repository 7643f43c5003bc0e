"""The all-reduce of gradient mode: a binary tree of Dask actors.

Ranks form a binary tree (rank ``r``'s children are ``2r+1`` and ``2r+2``).
Each rank with children has an actor on its own worker; for step ``s`` that
actor waits for its rank's contribution and its children's subtotals, adds
them in that fixed order, and passes the subtotal up to its parent's actor,
whose answer is the total; the total goes back down as the answer to every
call that waited. A leaf rank calls its parent's actor directly. Every
message goes worker to worker (the scheduler only placed the actors), and an
actor handles at most three gradients a step, so a step costs about
``2 log2(n)`` hops, where one central actor received and sent all ``n``. The
additions happen in a fixed order: every rank gets the same bits, and a rerun
the same result. The actors live for one round: if one dies with its worker,
the round fails and the client retries it.
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
    """Rank ``rank``'s node of the tree; ``allreduce`` answers the sum over every rank.

    A contribution is ``(grads: {name: array}, loss_sum: float, weight: float)``.
    ``parent``: the parent rank's actor (None at the root).
    """

    def __init__(self, rank: int, n_ranks: int, timeout: float, parent: Any = None) -> None:
        self.rank, self.timeout, self.parent = rank, timeout, parent
        self.children = children(rank, n_ranks)
        self._parts: dict[int, dict[int, Any]] = {}  # step -> {rank: contribution}
        self._done: dict[int, asyncio.Event] = {}
        self._totals: dict[int, list[Any]] = {}  # step -> [total, calls still to answer]
        self._aborted = False

    async def allreduce(self, step: int, rank: int, contribution: Any) -> Any:
        """``rank``'s contribution (this node's rank, or a child's subtotal) to ``step``;
        returns the sum over every rank (as the same tuple type)."""
        if self._aborted:
            raise ReducerAborted("the round was aborted")
        parts = self._parts.setdefault(step, {})
        done = self._done.setdefault(step, asyncio.Event())
        parts[rank] = contribution
        if len(parts) == 1 + len(self.children):
            del self._parts[step]
            total = _sum([parts[r] for r in (self.rank, *self.children)])
            if self.parent is not None:
                try:
                    total = await asyncio.wait_for(
                        self.parent.allreduce(step, self.rank, total), self.timeout)
                except BaseException:
                    self._aborted = True  # the calls waiting here give up too
                    done.set()
                    raise
            self._totals[step] = [total, len(parts)]
            done.set()
        else:
            try:
                await asyncio.wait_for(done.wait(), self.timeout)
            except TimeoutError:
                raise ReducerAborted(f"step {step}: a peer sent nothing within "
                                     f"{self.timeout} s") from None
        if self._aborted:
            raise ReducerAborted("the round was aborted")
        entry = self._totals[step]
        entry[1] -= 1
        if entry[1] == 0:  # the last call answered
            del self._totals[step], self._done[step]
        return entry[0]

    async def abort(self) -> None:
        """Make every waiting and later ``allreduce`` raise :class:`ReducerAborted`."""
        self._aborted = True
        for event in self._done.values():
            event.set()


def _sum(contributions: list[Any]) -> Any:
    """Element-wise sum, in the order given, so the result is reproducible."""
    grads = {name: g.copy() for name, g in contributions[0][0].items()}
    for c in contributions[1:]:
        for name, g in c[0].items():
            grads[name] += g
    return grads, sum(c[1] for c in contributions), sum(c[2] for c in contributions)


class Tree(list[Any]):
    """The actors of :func:`start_tree`, one per rank, holding the futures that keep them
    alive: the scheduler forgets an actor, and cancels tasks that take it as an argument
    ("lost dependencies"), once no client holds its future."""

    futures: list[Any]


def start_tree(client: Any, workers: list[str], timeout: float) -> Tree:
    """The actor each rank calls, in rank (``workers``) order: its own where it has
    children (placed on its worker), else its parent's."""
    nodes: dict[int, Any] = {}
    futures: list[Any] = []
    for rank, w in enumerate(workers):
        # The root always has one (it sums its own part when it is the only rank).
        if rank == 0 or children(rank, len(workers)):  # parents first: lower ranks
            futures.append(client.submit(
                Reducer, rank, len(workers), timeout, nodes.get((rank - 1) // 2) if rank
                else None, actor=True, workers=[w], allow_other_workers=False, pure=False))
            nodes[rank] = futures[-1].result()
    tree = Tree(nodes[rank] if rank in nodes else nodes[(rank - 1) // 2]
                for rank in range(len(workers)))
    tree.futures = futures
    return tree


def abort_tree(actors: list[Any]) -> None:
    """Release every rank still waiting in the tree (best effort: some may be gone)."""
    for actor in {id(a): a for a in actors}.values():
        try:
            actor.abort().result(timeout=5)
        except Exception:  # its worker is gone; its ranks give up on the abort Event
            pass
