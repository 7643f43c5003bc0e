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

from collections.abc import Iterable
from functools import partial
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
from synnet.training.checkpoint import Checkpoint

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
        if isinstance(cb, Checkpoint):
            raise ConfigError("Checkpoint is not supported by synnet.dask.fit yet; save the "
                              "network after fit instead", params=["callbacks"])
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
    network.loss, network.optimizer, network.stop_training = loss_fn, opt, False
    history = History()
    network.history = history
    every = [history, *callbacks]
    for cb in every:
        cb.set_network(network)
        cb.set_params({"epochs": epochs, "steps": steps, "samples": n_total})
        cb.on_train_begin({})
    placement = Placement()
    first = network.epochs_trained
    network.fit_start_epoch = first
    for epoch in range(first, first + epochs):
        for cb in every:
            cb.on_epoch_begin(epoch, {})
        loss_sum = weight_sum = 0.0
        for start in range(0, steps, round_steps):
            spec = RoundSpec(mode, loss_fn, l2, seed, epoch, start,
                             min(round_steps, steps - start), steps, shuffle, timeout, "")
            result = train_round(client, spec, network, opt, parts, rows, placement,
                                 timeout=timeout, max_retries=retries)
            loss_sum += result.loss_sum
            weight_sum += result.weight_sum
            network.set_weights(result.weights)
            opt.load_state_dict(result.optimizer_state)
        network.epochs_trained = epoch + 1
        logs = {"loss": loss_sum / weight_sum if weight_sum else 0.0}
        for cb in every:
            cb.on_epoch_end(epoch, logs)
        if network.stop_training:
            break
    for cb in every:
        cb.on_train_end({})
    return history


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

