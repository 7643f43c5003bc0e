"""``synnet.dask.fit``: train a :class:`synnet.Network` on dask collections, round by round.

The client keeps the network and its optimizer, the authoritative state. Each
round starts one task per worker (:func:`synnet.dask.worker.run_round`) on the
partitions that worker holds, then adopts the result: in gradient mode every
rank ends the round with the same weights (each step's gradient was summed over
the ranks before one optimizer update); in local-SGD mode the ranks' weights and
optimizer moments are averaged. Rounds never cross an epoch boundary, so the
callbacks see one loss per epoch, as with ``Network.fit``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from functools import partial
from types import SimpleNamespace
from typing import Any

import numpy as np
from distributed import Client, default_client

from synnet._validation import check_choice, check_int, check_number
from synnet.core.batch import prepare
from synnet.core.callback import Callback
from synnet.core.history import History
from synnet.core.losses import Loss, get_loss
from synnet.core.network import Network
from synnet.core.optimizers import Adam, Optimizer, get_optimizer
from synnet.dask import shards
from synnet.dask.plan import steps_per_epoch
from synnet.dask.rounds import Placement, train_round
from synnet.dask.targets import data_dtype
from synnet.dask.worker import RoundSpec
from synnet.errors import ConfigError, DataError
from synnet.training.checkpoint import Checkpoint, digest
from synnet.training.checkpoint_state import check_keys, short_repr

MODES = ("gradient", "local_sgd")


def fit(network: Network, X: Any, y: Any, *, client: Client | None = None,
        loss: str | Loss = "mse", optimizer: str | Optimizer | None = None,
        epochs: int = 1, batch_size: int = 32, mode: str = "gradient",
        steps_per_round: int = 100, shuffle: bool = True, sample_weight: Any = None,
        l2: float = 0.0, seed: int | None = None, callbacks: Iterable[Callback] = (),
        timeout: float = 60.0, max_retries: int = 3) -> History:
    """Train ``network`` on dask collections where their partitions live; returns the History.

    Args:
        network: the network to train, in place (its weights and optimizer stay here).
        X: (n, n_inputs) dask array, or dask dataframe of numeric columns.
        y: (n,) or (n, n_outputs) dask array or series, partitioned like X.
        client: the ``distributed.Client``; None uses the current default client.
        loss, optimizer, epochs, l2, callbacks: as for ``Network.fit``
            (callbacks run on the client after each epoch).
        batch_size: rows per *global* step, split over the workers in proportion
            to the rows they hold.
        mode: "gradient": one optimizer update per global batch from the gradients
            summed over the workers (equal to one-process training on the same
            global batches); "local_sgd": each worker steps on its own rows for
            ``steps_per_round`` steps, then weights and optimizer moments are
            averaged (far fewer exchanges; a different trajectory).
        steps_per_round: global steps per round (a task per worker per round);
            in local-SGD mode, the steps between two averages.
        shuffle: reorder each worker's rows every epoch (from ``seed``).
        sample_weight: optional (n,) dask array or series, partitioned like X.
        seed: seeds shuffling and dropout on the workers; None draws one from the
            network's generator.
        timeout: seconds a worker waits for its peers in the gradient exchange.
        max_retries: rounds run again after losing a worker, before giving up.
    """
    # -- everything is checked before any work starts --------------------------
    loss_fn = get_loss(loss)
    loss_fn.check_output(network.n_outputs)
    network.output_layer  # noqa: B018 - raises ConfigError unless the last layer is Dense
    opt = get_optimizer(optimizer) if optimizer is not None else network.optimizer or Adam()
    epochs = check_int("epochs", epochs, 0) or 0
    batch = check_int("batch_size", batch_size, 1) or 1
    mode = check_choice("mode", mode, MODES)
    round_steps = check_int("steps_per_round", steps_per_round, 1) or 1
    l2 = check_number("l2", l2, 0.0)
    timeout = check_number("timeout", timeout, 0.0, low_open=True)
    retries = check_int("max_retries", max_retries, 0) or 0
    seed = check_int("seed", seed, 0, allow_none=True)
    callbacks = list(callbacks)
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be synnet Callback instances, got "
                            f"{type(cb).__name__}")
    for name, value in (("X", X), ("y", y), ("sample_weight", sample_weight)):
        if value is not None and not shards.is_collection(value):
            shards.row_blocks(value, name)  # raises the error naming the parameter
    client = client or _default_client()
    dtype = network.dtype or data_dtype(X)
    if seed is None:
        seed = int(network.rng.integers(2**31)) if isinstance(network.rng, np.random.Generator) \
            else int(network.rng.randint(2**31))
    parts, rows = shards.persist_parts(client, X, y, sample_weight, partial(
        _prepare_part, loss_fn, network.n_inputs, network.n_outputs, dtype))
    n_total = sum(rows)
    if not n_total:
        raise DataError("X has no rows; pass at least one sample", params=["X"])
    if network.dtype != dtype:
        network.astype(dtype)

    # -- the rounds -----------------------------------------------------------
    steps = steps_per_epoch(n_total, batch)
    previous = (network.loss, network.optimizer, network.history, network.epochs_trained)
    network.loss, network.optimizer, network.stop_training = loss_fn, opt, False
    history = History()
    network.history = history
    placement = Placement()
    schedule = Schedule(seed, placement)
    every: list[Callback] = sorted([history, schedule, *callbacks], key=lambda cb: cb.order)
    settings = {"loss": loss_fn.name, "optimizer": opt.name,
                "optimizer_config": opt.get_config(), "batch_size": batch,
                "shuffle": bool(shuffle), "l2": l2, "epochs": epochs, "metrics": [],
                "validation": False, "network": network.get_config(), "mode": mode,
                "steps_per_round": round_steps, "partitions": len(parts)}
    # Checkpoints recognise the data by a digest of its parts, computed where they live.
    data = (_digest_parts(client, parts) if any(isinstance(cb, Checkpoint) for cb in every)
            else None, None)
    params = {"epochs": epochs, "steps": steps, "samples": n_total, "settings": settings,
              "n_parts": len(parts),
              "data": data, "callbacks": every}
    for cb in every:
        cb.set_network(network)
        cb.set_params(params)
    # A checkpoint may move the counters, weights, seed and groups on in on_train_begin.
    network.fit_start_epoch = network.epochs_trained
    try:
        for cb in every:
            cb.on_train_begin({})
    except BaseException:  # e.g. a refused resume: leave the network as it was
        network.loss, network.optimizer, network.history, network.epochs_trained = previous
        raise
    end = network.fit_start_epoch + epochs
    logs: dict[str, float] = {}
    try:
        while network.epochs_trained < end and not network.stop_training:
            epoch = network.epochs_trained
            for cb in every:
                cb.on_epoch_begin(epoch, {})
            logs = _epoch(client, network, opt, parts, rows, placement, RoundSpec(
                mode, loss_fn, l2, schedule.seed, epoch, 0, 0, steps, shuffle, timeout, ""),
                round_steps, retries)
            network.epochs_trained = epoch + 1
            for cb in every:
                cb.on_epoch_end(epoch, logs)
    except KeyboardInterrupt:
        # The round in flight is abandoned; what an epoch completed is consistent.
        for cb in every:
            cb.on_interrupt(logs)
        raise
    finally:
        for cb in every:
            cb.on_train_end(logs)
        del params["callbacks"]
    return history


def _epoch(client: Client, network: Network, opt: Optimizer, parts: list[Any],
           rows: list[int], placement: Placement, spec: RoundSpec, round_steps: int,
           retries: int) -> dict[str, float]:
    """One epoch, round by round; the client adopts each round's state. Returns its logs."""
    loss_sum = weight_sum = 0.0
    for start in range(0, spec.steps_per_epoch, round_steps):
        result = train_round(client, dataclasses.replace(
            spec, first_step=start, n_steps=min(round_steps, spec.steps_per_epoch - start)),
            network, opt, parts, rows, placement, timeout=spec.timeout, max_retries=retries)
        loss_sum += result.loss_sum
        weight_sum += result.weight_sum
        network.set_weights(result.weights)
        opt.load_state_dict(result.optimizer_state)
    return {"loss": loss_sum / weight_sum if weight_sum else 0.0}


class Schedule(Callback):
    """The Dask fit's part of a checkpoint: what decides its batches besides the epoch.

    That is the shuffling seed and the parts each rank trains on (in rank
    order); a resumed fit takes both from the checkpoint, so it cuts the same
    global batches and sums the gradients in the same order as a fit that never
    stopped.
    """

    def __init__(self, seed: int, placement: Placement) -> None:
        self.seed, self.placement = seed, placement

    def get_state(self) -> dict[str, Any]:
        return {"seed": self.seed, "groups": [list(g) for g in self.placement.groups]}

    def set_state(self, state: dict[str, Any]) -> None:
        state = check_keys(state, {"seed", "groups"}, "Schedule")
        seed, groups = state["seed"], state["groups"]
        n_parts = self.params["n_parts"]
        if type(seed) is not int or not 0 <= seed < 2**63:
            raise ValueError(f"Schedule seed must be an int >= 0, not {short_repr(seed)}")
        flat = [i for g in groups for i in g] if isinstance(groups, list) and all(
            isinstance(g, list) and g for g in groups) else None
        if flat is None or any(type(i) is not int for i in flat) \
                or sorted(flat) != sorted(set(flat)) or not set(flat) <= set(range(n_parts)):
            raise ValueError("Schedule groups must be non-empty lists of distinct part "
                             f"indices below {n_parts}")
        self.seed, self.placement.groups = seed, [list(g) for g in groups]


def _digest_parts(client: Client, parts: list[Any]) -> str:
    """One digest of the prepared parts, in order (each part digested on its worker)."""
    h = hashlib.blake2b(digest_size=16)
    for part_digest in client.gather(client.map(_part_digest, parts, pure=False)):
        h.update(part_digest.encode())
    return h.hexdigest()


def _part_digest(part: tuple[np.ndarray, np.ndarray, np.ndarray | None]) -> str:
    return digest(SimpleNamespace(X=part[0], y=part[1], w=part[2]))


def _default_client() -> Client:
    try:
        return default_client()
    except ValueError:
        raise ConfigError("no Dask client: pass client=distributed.Client(...) or create one "
                          "first (it becomes the default)", params=["client"]) from None


def _prepare_part(loss: Loss, n_inputs: int, n_outputs: int, dtype: np.dtype[Any],
                  X: Any, y: Any, w: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One partition validated and converted (runs on a worker): (X, targets, weights)."""
    X, y = np.asarray(X), np.asarray(y)
    if len(X) == 0 and len(y) == 0:
        return (np.empty((0, n_inputs), dtype), np.empty((0, n_outputs), dtype),
                None if w is None else np.empty(0, dtype))
    batch = prepare(X, y, loss, None if w is None else np.asarray(w), n_inputs=n_inputs,
                    n_outputs=n_outputs, dtype=dtype)
    return batch.X, batch.y, batch.w

