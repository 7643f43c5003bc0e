"""Where a fit stands inside its epoch: what a mid-epoch checkpoint records and restores.

The fit loop keeps a :class:`Position` up to date while per-batch callbacks run
(batches done, the epoch's running loss and metric sums, the generator's state
at the epoch's start). A checkpoint saves it; on resume it hands back a
:class:`ResumePoint`, and the loop rebuilds the epoch's batch order from the
generator state the epoch began with, skips the batches already trained on,
and puts the generator back where it stood after the last of them. The
remaining batches, and the epoch's logged loss, are then those of a run that
never stopped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from synnet._rng import Rng, get_state, set_state


@dataclass
class ResumePoint:
    """A saved position: epoch ``epoch``, after its first ``batches`` batches (>= 1).

    ``epoch_rng``: the network generator's state when the epoch began (it
    rebuilds the order); ``rng``: its state after the last batch trained on.
    ``loss_sum`` and ``seen`` are the running sums of the epoch's loss (as the
    loop adds them) and rows; ``metric_sums`` the running sums per metric.
    """

    epoch: int
    batches: int
    epoch_rng: dict[str, Any]
    rng: dict[str, Any]
    loss_sum: float
    seen: int
    metric_sums: dict[str, float]


@dataclass
class Position:
    """The live position of a fit (updated only while per-batch callbacks run)."""

    batches: int = 0
    epoch_rng: dict[str, Any] | None = None
    loss_sum: float = 0.0
    seen: int = 0
    metric_sums: dict[str, float] = field(default_factory=dict)
    #: set by a checkpoint on resume; the loop takes it at the start of that epoch
    resume: ResumePoint | None = None

    def take_resume(self, epoch: int) -> ResumePoint | None:
        """The resume point for ``epoch``, once (None when the epoch starts from its beginning)."""
        point, self.resume = self.resume, None
        return point if point is not None and point.epoch == epoch else None

    def resuming(self, epoch: int) -> bool:
        """Whether ``epoch`` resumes from a saved position (so it must not take a shortcut)."""
        return self.resume is not None and self.resume.epoch == epoch

    def begin_epoch(self, epoch: int, batches: Any, rng: Rng, metrics: Iterable[str],
                    track: bool) -> Iterator[Any]:
        """The epoch's batches; the position then holds the first one's number
        (``batches``) and the running sums to start from.

        ``batches`` is the loop's batch maker (``iter(batches)`` draws a fresh epoch
        order, ``batches.start(k)`` draws it and skips the first ``k`` batches).
        With ``track``, the generator's state at the epoch's start is kept for
        checkpoints. ``metric_sums`` is a new dict the loop adds to in place.
        """
        sums = dict.fromkeys(metrics, 0.0)
        point = self.take_resume(epoch)
        if point is None:
            self.epoch_rng = get_state(rng) if track else None
            batch_iter, first, loss_sum, seen = iter(batches), 0, 0.0, 0
        else:
            set_state(rng, point.epoch_rng)
            batch_iter = batches.start(point.batches)  # draws the epoch's order now
            set_state(rng, point.rng)  # then as it stood after the last batch trained on
            self.epoch_rng = point.epoch_rng
            first, loss_sum, seen = point.batches, point.loss_sum, point.seen
            sums.update(point.metric_sums)
        self.batches, self.loss_sum, self.seen = first, loss_sum, seen
        self.metric_sums = sums
        return batch_iter
