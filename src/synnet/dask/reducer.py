"""The all-reduce of gradient mode: a Dask actor that sums each step's contributions.

Every worker of a round sends its contribution for step ``s`` straight to the
actor (worker to worker; the scheduler only placed the actor), and gets back
the sum over all ranks, added in rank order so every worker receives the same
bits and applies the same update. One actor lives for one round: if it dies
with its worker, the round fails and the client retries it.
"""

from __future__ import annotations

import asyncio
from typing import Any


class ReducerAborted(RuntimeError):
    """The client aborted the round (a peer was lost), or a peer never arrived."""


class Reducer:
    """Sums ``n_ranks`` contributions per step; ``allreduce`` returns when all arrived.

    A contribution is ``(grads: {name: array}, loss_sum: float, weight: float)``.
    """

    def __init__(self, n_ranks: int, timeout: float) -> None:
        self.n_ranks = n_ranks
        self.timeout = timeout
        self._parts: dict[int, dict[int, Any]] = {}
        self._done: dict[int, asyncio.Event] = {}
        self._sums: dict[int, list[Any]] = {}  # step -> [sum, ranks still to collect it]
        self._aborted = False

    async def allreduce(self, step: int, rank: int, contribution: Any) -> Any:
        """The sum over ranks of the contributions to ``step`` (as the same tuple type)."""
        if self._aborted:
            raise ReducerAborted("the round was aborted")
        parts = self._parts.setdefault(step, {})
        done = self._done.setdefault(step, asyncio.Event())
        parts[rank] = contribution
        if len(parts) == self.n_ranks:
            self._sums[step] = [_sum([parts[r] for r in sorted(parts)]), self.n_ranks]
            del self._parts[step]
            done.set()
        else:
            try:
                await asyncio.wait_for(done.wait(), self.timeout)
            except TimeoutError:
                raise ReducerAborted(f"step {step}: a peer sent nothing within "
                                     f"{self.timeout} s") from None
        if self._aborted:
            raise ReducerAborted("the round was aborted")
        entry = self._sums[step]
        entry[1] -= 1
        if entry[1] == 0:  # the last rank collected it
            del self._sums[step], self._done[step]
        return entry[0]

    async def abort(self) -> None:
        """Make every waiting and later ``allreduce`` raise :class:`ReducerAborted`."""
        self._aborted = True
        for event in self._done.values():
            event.set()


def _sum(contributions: list[Any]) -> Any:
    """Element-wise sum, in the order given (rank order), so the result is reproducible."""
    grads = {name: g.copy() for name, g in contributions[0][0].items()}
    for c in contributions[1:]:
        for name, g in c[0].items():
            grads[name] += g
    return grads, sum(c[1] for c in contributions), sum(c[2] for c in contributions)
