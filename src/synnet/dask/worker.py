"""What one worker runs in one round: steps of ``Network.train_step`` on the rows it holds.

The function is shipped to a worker with the round's starting network and
optimizer, the worker's rank, and its partitions (which Dask hands over in
place, so data never moves for a round). In gradient mode every step's
gradient goes through the round's tree of :class:`~synnet.dask.reducer.Reducer`
actors and every rank applies the same summed update; in local-SGD mode a rank
steps on its own and the client averages the ranks' results afterwards.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from distributed import Event

from synnet.core.losses import Loss
from synnet.core.network import Network
from synnet.core.optimizers import Optimizer
from synnet.core.regularization import L2
from synnet.dask.plan import epoch_order, step_rows
from synnet.dask.reducer import ReducerAborted
from synnet.errors import DivergenceError

Part = tuple[np.ndarray, np.ndarray, np.ndarray | None]  # (X, prepared y, sample weight)


def shipped(network: Network) -> Network:
    """The network without its history (fit's callbacks, the client's state) for the
    workers: a shallow copy, the client's network untouched."""
    light = copy.copy(network)
    light.history = None
    return light


class PeerLost(RuntimeError):
    """The all-reduce failed (its actor or a peer is gone): the round can be retried."""


@dataclass(frozen=True)
class RoundSpec:
    """One round: ``n_steps`` global steps of ``epoch`` from step ``first_step``."""

    mode: str  # "gradient" or "local_sgd"
    loss: Loss
    l2: float
    seed: int
    epoch: int
    first_step: int
    n_steps: int
    steps_per_epoch: int
    shuffle: bool
    timeout: float  # seconds a rank waits for its peers in one exchange
    abort: str  # the name of the distributed.Event the client sets to abort the round


@dataclass
class RoundResult:
    """A rank's network weights and optimizer state after the round, and its loss sums.

    ``loss_sum`` / ``weight_sum`` is the round's mean training loss (in gradient
    mode every rank reports the global sums; the client reads rank 0's).
    """

    weights: dict[str, np.ndarray]
    optimizer_state: dict[str, Any]
    loss_sum: float
    weight_sum: float
    rows: int


class Shard:
    """A worker's partitions as one row-indexable table, without concatenating them."""

    def __init__(self, parts: list[Part]) -> None:
        self.parts = [p for p in parts if len(p[0])]
        self.offsets = np.cumsum([0, *(len(p[0]) for p in self.parts)])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def rows(self, idx: np.ndarray) -> Part:
        """(X, y, w) of the sorted row indices ``idx`` (copies, grouped by partition)."""
        cuts = np.searchsorted(idx, self.offsets[1:-1])
        pieces = [(p, i - off) for p, i, off in zip(self.parts, np.split(idx, cuts),
                                                    self.offsets) if len(i)]
        if len(pieces) == 1:
            (X, y, w), i = pieces[0]
            return X[i], y[i], None if w is None else w[i]
        X = np.concatenate([p[0][i] for p, i in pieces])
        y = np.concatenate([p[1][i] for p, i in pieces])
        ws = [p[2][i] for p, i in pieces if p[2] is not None]
        return X, y, np.concatenate(ws) if ws else None


def run_round(spec: RoundSpec, template: tuple[Network, Optimizer], start: RoundResult | None,
              rank: int, reducer: Any, *parts: Part) -> RoundResult:
    """Run ``spec.n_steps`` steps on this worker's ``parts``; returns where it ended.

    ``template`` is a (network, optimizer), copied here so Dask's stored copy
    stays untouched; ``start``, when given, is the previous round's result,
    whose weights and optimizer state the round starts from (it comes from a
    peer worker, not through the client). ``reducer`` is this rank's all-reduce
    actor in gradient mode, None in local-SGD mode.
    """
    network, optimizer = copy.deepcopy(template)
    if start is not None:
        network.set_weights(start.weights)
        optimizer.load_state_dict(start.optimizer_state)
    network.rng = np.random.default_rng([spec.seed, spec.epoch, spec.first_step, rank])
    shard = Shard(list(parts))
    order = epoch_order(len(shard), spec.seed, spec.epoch, rank, spec.shuffle)
    fused = spec.loss.fuses(network.output_layer.activation)
    l2 = L2()
    loss_sum = weight_sum = 0.0
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        for i in range(spec.n_steps):
            idx = step_rows(order, spec.steps_per_epoch, spec.first_step + i)
            if spec.mode == "local_sgd":
                if not len(idx):
                    continue
                x, y, w = shard.rows(idx)
                value, _ = network.train_step(x, y, spec.loss, sample_weight=w, l2=spec.l2,
                                              fused=fused)
                weight = float(len(idx) if w is None else w.sum())
                grads = network.grads
            else:
                step = spec.epoch * spec.steps_per_epoch + spec.first_step + i
                grads, value, weight = _global_gradient(network, shard, idx, spec, fused,
                                                        reducer, step, rank)
                if spec.l2 and weight:
                    strength = spec.l2 / weight if spec.loss.averages else spec.l2
                    value += l2.penalty(network.params, strength)
                    l2.add_gradient(network.params, grads, strength)
            if not math.isfinite(value):
                raise DivergenceError(f"the training loss became {value} in epoch "
                                      f"{spec.epoch + 1}; lower the learning rate")
            optimizer.step(network.params, grads)
            loss_sum += value * weight
            weight_sum += weight
    network.clear_cache()
    if spec.mode == "gradient" and rank:  # every rank holds the same: rank 0 reports it
        return RoundResult({}, {}, loss_sum, weight_sum, len(shard))
    return RoundResult(network.get_weights(), optimizer.state_dict(), loss_sum, weight_sum,
                       len(shard))


def _global_gradient(network: Network, shard: Shard, idx: np.ndarray, spec: RoundSpec,
                     fused: bool, reducer: Any, step: int, rank: int
                     ) -> tuple[dict[str, np.ndarray], float, float]:
    """The global batch's gradient (without L2), its loss and its total sample weight.

    Each rank's gradient is normalized over its own rows; scaling it by the
    rows' weight before the sum and dividing by the total after gives the
    gradient over the union, as one process computes it.
    """
    averages = spec.loss.averages
    if len(idx):
        x, y, w = shard.rows(idx)
        value, _ = network.train_step(x, y, spec.loss, sample_weight=w, fused=fused)
        weight = float(len(idx) if w is None else w.sum())
        scale = weight if averages else 1.0
        grads = {name: g * scale for name, g in network.grads.items()}
        value *= scale
    else:
        grads = {name: np.zeros_like(p) for name, p in network.params.items()}
        value = weight = 0.0
    grads, value, weight = _exchange(reducer.allreduce(step, rank, (grads, value, weight)),
                                     spec, step)
    if averages and weight:
        for g in grads.values():
            g /= weight
        value /= weight
    return grads, value, weight


def _exchange(call: Any, spec: RoundSpec, step: int) -> Any:
    """The result of an actor call, or PeerLost once the client aborts or the time is up.

    The wait is cut into 1 s slices: a call whose actor died with its worker
    may never answer, and between slices (only while waiting) the rank asks
    the scheduler whether the client aborted the round.
    """
    waited = 0.0
    while True:
        try:
            return call.result(timeout=1.0)
        except ReducerAborted:
            raise
        except TimeoutError:
            waited += 1.0
            if waited >= spec.timeout or Event(spec.abort).is_set():
                raise PeerLost(f"step {step}: the round was aborted or a peer never "
                               "answered") from None
        except Exception as exc:  # the actor's worker is gone, or the connection broke
            raise PeerLost(f"the all-reduce of step {step} failed: {exc!r}") from exc
