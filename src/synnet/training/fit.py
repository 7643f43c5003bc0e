"""The fit loop: validation up front, then epochs of minibatch steps.

Everything the loop does per batch is: gather rows (or take a view), one
forward/backward pass (:meth:`Network.train_step`), one optimizer step, and a
finite-loss check. Metrics, validation and callbacks run per epoch; per-batch
callback hooks are called only for callbacks that define them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import numpy as np

from synnet._validation import check_choice, check_fraction, check_int, check_number, is_sparse
from synnet.core.batch import Batch, prepare
from synnet.core.callback import Callback, overrides
from synnet.core.evaluation import evaluate_batch
from synnet.core.history import History
from synnet.core.losses import Loss, get_loss
from synnet.core.metrics import Metric, get_metric
from synnet.core.network import Network
from synnet.core.optimizers import Adam, Optimizer, get_optimizer
from synnet.errors import ConfigError, DataError, DivergenceError
from synnet.training.callbacks import ProgressBar
from synnet.training.plan import FullBatchPlan, plan_full_batch
from synnet.training.position import Position
from synnet.training.streaming import SourceBatches, arrays_of, evaluate_source, source_of


def _training_dtype(network: Network, X: Any) -> np.dtype[Any]:
    """The network's dtype; before its first fit, the data's float dtype (else float64)."""
    if network.dtype is not None:
        return network.dtype
    dtype = getattr(X, "dtype", None)
    return np.dtype(dtype) if dtype in (np.float32, np.float64) else np.dtype(np.float64)


class _Batches:
    """Minibatches of a dataset, gathered into one reused buffer when shuffled."""

    def __init__(self, data: Batch, batch_size: int, shuffle: bool, network: Network) -> None:
        self.data, self.batch_size, self.shuffle, self.network = data, batch_size, shuffle, network
        self._buf: dict[str, np.ndarray] = {}
        # Without shuffling (and for full batches, which shuffling cannot change) the
        # batches are the same views every epoch: make them once.
        self._fixed: list[Batch] | None = None
        self.single: Batch | None = None  # the one batch of full-batch training
        if batch_size >= len(data):
            self._fixed = [data]  # the data itself, no copy
            self.single = data
        elif not shuffle:
            self._fixed = [data.rows(s, s + batch_size) for s in range(0, len(data), batch_size)]

    def __iter__(self) -> Iterator[Batch]:
        return self.start(0)

    def start(self, skip: int) -> Iterator[Batch]:
        """The epoch's batches after its first ``skip`` (its order is drawn now, as by iter)."""
        if self._fixed is not None:
            return iter(self._fixed[skip:])
        return self._shuffled(self.network.rng.permutation(len(self.data)), skip)

    def _shuffled(self, order: np.ndarray, skip: int) -> Iterator[Batch]:
        data, n, bs = self.data, len(self.data), self.batch_size
        for start in range(skip * bs, n, bs):
            idx = order[start:start + bs]
            yield Batch(self._take("X", data.X, idx), self._take("y", data.y, idx),
                        None if data.w is None else self._take("w", data.w, idx))

    def _take(self, key: str, a: Any, idx: np.ndarray) -> Any:
        if is_sparse(a):
            return a[idx]
        buf = self._buf.get(key)
        if buf is None:
            buf = self._buf[key] = np.empty((self.batch_size, *a.shape[1:]), dtype=a.dtype)
        out = buf[: len(idx)]
        # mode="clip" skips the bounds-checked buffered path; a permutation is always in range.
        if isinstance(a, np.ndarray) and a.ndim == 2 and not a.flags.c_contiguous \
                and a.flags.f_contiguous:
            # Rows of a column-major array (e.g. pandas' to_numpy()) through np.take take a
            # slow path (about 1000x a C array's); as columns of its transpose they are a
            # plain strided copy: the same values, no copy of the data.
            np.take(a.T, idx, axis=1, out=out.T, mode="clip")
        else:
            np.take(a, idx, axis=0, out=out, mode="clip")
        return out


def _prepare_validation(network: Network, loss: Loss, validation_data: Any,
                        dtype: np.dtype[Any]) -> Batch | None:
    if validation_data is None:
        return None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ConfigError("validation_data must be a tuple (X_val, y_val[, sample_weight])"
                          " or a data source")
    sw = validation_data[2] if len(validation_data) == 3 else None
    return prepare(validation_data[0], validation_data[1], loss, sw, n_inputs=network.n_inputs,
                   n_outputs=network.n_outputs, dtype=dtype, what="X_val")


def _resolve_validation(network: Network, data: Batch, loss: Loss, validation_data: Any,
                        validation_split: float) -> tuple[Batch, Batch | None]:
    if validation_data is not None:
        if validation_split:
            raise ConfigError("pass validation_data or validation_split, not both")
        return data, _prepare_validation(network, loss, validation_data, data.X.dtype)
    if not validation_split:
        return data, None
    n_val = math.ceil(len(data) * validation_split)
    n_train = len(data) - n_val
    if n_val < 1 or n_train < 1:
        raise DataError(f"validation_split={validation_split} leaves {n_train} training and "
                        f"{n_val} validation rows; use more data or another fraction")
    return data.rows(0, n_train), data.rows(n_train, len(data))


def _stream_validation(network: Network, loss: Loss, validation_data: Any,
                       dtype: np.dtype[Any]) -> Any:
    """Validation data beside a source: a source, prepared arrays, or None."""
    if validation_data is None or isinstance(validation_data, (tuple, list)):
        return _prepare_validation(network, loss, validation_data, dtype)
    val = source_of(validation_data, None, None)
    arrays = None if val is None else arrays_of(val)
    return _prepare_validation(network, loss, arrays, dtype) if arrays else val


def fit(
    network: Network, X: Any, y: Any, *, loss: Any, optimizer: Any, epochs: int,
    batch_size: int | None, shuffle: bool, validation_data: Any, validation_split: float,
    metrics: Iterable[str], callbacks: Iterable[Callback], sample_weight: Any, l2: float,
    progress: bool, nonfinite: str = "raise",
) -> History:
    """Train ``network``; see :meth:`synnet.Network.fit` for the arguments."""
    # -- everything is checked before any work starts --------------------------
    if loss is None:
        if network.loss is None:
            raise ConfigError("no loss given: pass loss='mse', 'binary_crossentropy', ...")
        loss_fn = network.loss
    else:
        loss_fn = get_loss(loss)
    loss_fn.check_output(network.n_outputs)
    network.output_layer  # noqa: B018 - raises ConfigError unless the last layer is Dense
    opt: Optimizer = (get_optimizer(optimizer) if optimizer is not None
                      else network.optimizer or Adam())
    epochs = check_int("epochs", epochs, 0) or 0
    batch = check_int("batch_size", batch_size, 1, allow_none=True)
    validation_split = check_fraction("validation_split", validation_split)
    l2 = check_number("l2", l2, 0.0)
    strict = check_choice("nonfinite", nonfinite, ("raise", "continue")) == "raise"
    metric_fns = {name: get_metric(name) for name in metrics}
    callbacks = list(callbacks)
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be synnet Callback instances, got {type(cb).__name__}")
    source = source_of(X, y, sample_weight)
    if source is not None and (arrays := arrays_of(source)) is not None:
        X, y, sample_weight = arrays
        source = None
    dtype = source.dtype if source is not None and network.dtype is None else \
        _training_dtype(network, X)
    train: Any
    val: Any
    if source is None:
        data = prepare(X, y, loss_fn, sample_weight, n_inputs=network.n_inputs,
                       n_outputs=network.n_outputs, dtype=dtype)
        train, val = _resolve_validation(network, data, loss_fn, validation_data,
                                         validation_split)
    else:
        if batch is None:
            raise ConfigError("a data source trains in minibatches: give batch_size",
                              params=["batch_size"])
        if epochs > 1 and not source.reiterable:
            raise ConfigError(f"epochs={epochs} but the source wraps an iterator, which can "
                              "be read only once; pass a list, a re-iterable object or a "
                              "function returning a fresh iterator", params=["epochs"])
        if validation_split:
            raise ConfigError("validation_split needs arrays; with a data source, pass "
                              "validation_data (another source or arrays)",
                              params=["validation_split"])
        train, val = source, _stream_validation(network, loss_fn, validation_data, dtype)
    if network.dtype != dtype:  # first fit: parameters adopt the data's precision
        network.astype(dtype)

    # -- the loop -------------------------------------------------------------
    previous = (network.loss, network.optimizer, network.history, network.epochs_trained)
    network.loss, network.optimizer, network.stop_training = loss_fn, opt, False
    history = History()
    network.history = history
    all_callbacks: list[Callback] = [history, *callbacks]
    if progress:
        all_callbacks.append(ProgressBar())
    all_callbacks.sort(key=lambda cb: cb.order)
    bs = batch or len(train)
    n_rows = train.n_rows if source is not None else len(train)
    # What determines the run, for callbacks that must recognise it (checkpoints).
    settings: dict[str, Any] = {
        "loss": loss_fn.name, "optimizer": opt.name, "optimizer_config": opt.get_config(),
        "batch_size": bs, "shuffle": bool(shuffle), "l2": l2, "epochs": epochs,
        "metrics": sorted(metric_fns), "validation": val is not None,
        "network": network.get_config()}
    if source is not None:  # only then: in-memory runs' checkpoints keep their settings
        settings["source"] = source.settings()
    if loss_fn.custom_reduction:  # only then: 0.1.0's checkpoints have no such key
        settings["loss_reduction"] = loss_fn.custom_reduction
    fit_params: dict[str, Any] = {
        "epochs": epochs, "steps": None if n_rows is None else -(-n_rows // bs),
        "samples": n_rows,
        "settings": settings,
        "data": (train, val),
        "callbacks": all_callbacks,
        "position": Position(),  # where the epoch stands, for mid-epoch checkpoints
    }
    for cb in all_callbacks:
        cb.set_network(network)
        cb.set_params(fit_params)
    batch_hooks = [cb for cb in all_callbacks if overrides(cb, "on_batch_end")]
    epoch_hooks = [cb for cb in all_callbacks if overrides(cb, "on_epoch_begin")]
    batches: Any = (_Batches(train, bs, shuffle, network) if source is None
                    else SourceBatches(source, bs, shuffle, network, loss_fn, dtype))

    # A callback may move both counters forward in on_train_begin (resuming from a
    # checkpoint); the fit ends `epochs` epochs after the epoch it started from.
    network.fit_start_epoch = network.epochs_trained
    try:
        for cb in all_callbacks:
            cb.on_train_begin({})
    except BaseException:  # e.g. a refused resume: leave the network as it was
        network.loss, network.optimizer, network.history, network.epochs_trained = previous
        del fit_params["data"], fit_params["callbacks"]
        raise
    loop = _Loop(network, loss_fn, opt, metric_fns, l2, batch_hooks, strict, bs,
                 fit_params["position"])
    end = network.fit_start_epoch + epochs
    logs: dict[str, float] = {}
    # Full-batch epochs that nothing observes one by one (the History aside) run in one
    # tight loop of planned steps, without the per-epoch loop around each step.
    in_a_row = (isinstance(batches, _Batches) and batches.single is not None and val is None
                and not metric_fns and not epoch_hooks and not batch_hooks
                and not any(overrides(cb, "on_epoch_end") for cb in all_callbacks
                            if cb is not history))
    try:
        # Overflow and invalid operations raise, so divergence is caught where it starts
        # (the loop turns it into DivergenceError); underflow to 0 is harmless. Set once
        # here, not per batch: entering errstate costs as much as several small ufuncs.
        # nonfinite="continue" lets inf and nan run on through the epochs instead.
        errors: Literal["raise", "ignore"] = "raise" if strict else "ignore"
        with np.errstate(over=errors, invalid=errors, divide=errors, under="ignore"):
            if in_a_row and network.epochs_trained < end and not network.stop_training:
                loop.run_in_a_row(batches.single, end, history, logs)
            while network.epochs_trained < end and not network.stop_training:
                epoch = network.epochs_trained
                for cb in epoch_hooks:
                    cb.on_epoch_begin(epoch, {})
                logs = loop.run_epoch(batches, epoch)
                if val is not None:
                    logs.update(loop.validate(val, epoch))
                network.epochs_trained += 1
                for cb in all_callbacks:
                    cb.on_epoch_end(epoch, logs)
    except KeyboardInterrupt:
        # The batch in flight is abandoned; what an epoch completed is consistent.
        for cb in all_callbacks:
            cb.on_interrupt(logs)
        raise
    finally:
        for cb in all_callbacks:
            cb.on_train_end(logs)
        # Let go of the data: the History the network keeps must not hold the training set,
        # nor the layers their last batch.
        del fit_params["data"], fit_params["callbacks"]
        network.clear_cache()
    return history


class _Loop:
    """Runs epochs: the training step per batch, the running sums, divergence handling."""

    def __init__(self, network: Network, loss: Loss, optimizer: Optimizer,
                 metrics: dict[str, Metric], l2: float, batch_hooks: list[Callback],
                 strict: bool, batch_size: int, position: Position) -> None:
        self.network, self.loss, self.optimizer = network, loss, optimizer
        self.position = position
        self.batch_size = batch_size
        self.metrics, self.l2, self.batch_hooks = metrics, l2, batch_hooks
        self.strict = strict  # False: a non-finite loss is recorded, not an error
        self.fused = loss.fuses(network.output_layer.activation)
        self.mean = loss.averages
        # Only for the rare divergence inside an update (see _diverged); taken after the
        # callbacks' on_train_begin, so after a checkpoint has restored its state.
        self._initial = network.get_weights()
        self._initial_optimizer = optimizer.state_dict()
        # Built at the first full-batch epoch; False where no plan applies.
        self._plan: FullBatchPlan | Literal[False] | None = None

    def run_epoch(self, batches: _Batches | SourceBatches, epoch: int) -> dict[str, float]:
        if batches.single is not None and not self.metrics and not self.batch_hooks \
                and not self.position.resuming(epoch):
            return self._full_batch_epoch(batches.single, epoch)
        network, params, grads = self.network, self.network.params, self.network.grads
        train_step, step = network.train_step, self.optimizer.step
        loss, fused, l2, mean = self.loss, self.fused, self.l2, self.mean
        # Tracked only for per-batch callbacks (a mid-epoch checkpoint reads it).
        pos = self.position if self.batch_hooks else None
        epoch_batches = self.position.begin_epoch(epoch, batches, network.rng, self.metrics,
                                                  pos is not None)
        p = self.position
        first, total_loss, seen, metric_sums = p.batches, p.loss_sum, p.seen, p.metric_sums
        want_output = bool(self.metrics)
        for b, batch in enumerate(epoch_batches, first):
            try:
                value, out = train_step(batch.X, batch.y, loss, sample_weight=batch.w, l2=l2,
                                        fused=fused, want_output=want_output)
                if self.strict and not math.isfinite(value):
                    raise FloatingPointError("non-finite loss")
            except FloatingPointError as exc:
                self._diverged(epoch, b, exc)
            try:
                step(params, grads)
            except FloatingPointError as exc:
                self._diverged(epoch, b, exc, in_update=True)
            m = batch.n
            # Sum losses add up over batches; mean losses are averaged by batch size.
            total_loss += value * m if mean else value
            seen += m
            if out is not None:
                for name, fn in self.metrics.items():
                    metric_sums[name] += fn(out, batch.y) * m
            if pos is not None:
                pos.batches, pos.loss_sum, pos.seen = b + 1, total_loss, seen
            for cb in self.batch_hooks:
                cb.on_batch_end(b, {"loss": value, "size": m})
        logs = {"loss": total_loss / seen if mean else total_loss}
        for name, total in metric_sums.items():
            logs[name] = total / seen
        return logs

    def _full_batch_epoch(self, data: Batch, epoch: int) -> dict[str, float]:
        """One step on all the data: run_epoch without its bookkeeping.

        In full-batch training an epoch is a single step, so run_epoch's per-epoch
        bookkeeping (sums, metric dicts, batch iteration) is per-step overhead; for
        the tutorial's 4-row network it is a tenth of the step.
        """
        network = self.network
        plan = self._planned(data)
        try:
            if plan is not None:
                value = plan.gradients()
            else:
                value, _ = network.train_step(data.X, data.y, self.loss, sample_weight=data.w,
                                              l2=self.l2, fused=self.fused)
            if self.strict and not math.isfinite(value):
                raise FloatingPointError("non-finite loss")
        except FloatingPointError as exc:
            self._diverged(epoch, 0, exc)
        try:
            if plan is not None:
                plan.update()
            else:
                self.optimizer.step(network.params, network.grads)
        except FloatingPointError as exc:
            self._diverged(epoch, 0, exc, in_update=True)
        return {"loss": value}

    def run_in_a_row(self, data: Batch, end: int, history: History,
                     logs: dict[str, float]) -> None:
        """Full-batch epochs up to ``end`` as one run of planned steps, recorded in
        ``history`` (and ``logs``: the last epoch's) as if epoch by epoch.

        Where no plan applies it does nothing, and the epoch loop runs them instead.
        """
        plan = self._planned(data)
        if plan is None:
            return
        network = self.network
        start = network.epochs_trained
        losses: list[float] = []
        try:
            plan.run(end - start, losses, self.strict)
        except FloatingPointError as exc:
            failed: FloatingPointError | None = exc
        else:
            failed = None
        finally:  # an interrupt too: the epochs finished are recorded
            network.epochs_trained = start + len(losses)
            if losses:
                history.extend(start, {"loss": losses})
                logs.clear()
                logs["loss"] = losses[-1]
        if failed is not None:
            self._diverged(network.epochs_trained, 0, failed, in_update=plan.failed_in_update)

    def _planned(self, data: Batch) -> FullBatchPlan | None:
        """The plan of full-batch steps on ``data`` (made at the first call), or None."""
        if self._plan is None:  # the same arithmetic in buffers allocated once (training.plan)
            self._plan = plan_full_batch(self.network, self.loss, self.optimizer, data, self.l2,
                                         self.fused) or False
        return self._plan if self._plan is not False else None

    def validate(self, val: Any, epoch: int) -> dict[str, float]:
        """Validation loss and metrics (of a Batch or a source); overflow is divergence too."""
        try:
            logs = (evaluate_batch(self.network, val, self.loss, self.metrics, prefix="val_")
                    if isinstance(val, Batch) else
                    evaluate_source(self.network, val, self.loss, self.metrics,
                                    self.batch_size, prefix="val_"))
            if self.strict and not math.isfinite(logs["val_loss"]):
                raise FloatingPointError("non-finite validation loss")
        except FloatingPointError as exc:
            self._diverged(epoch, "validation", exc)
        return logs

    def _diverged(self, epoch: int, batch: int | str, exc: BaseException,
                  in_update: bool = False) -> None:
        """Stop with DivergenceError, leaving the network with finite weights.

        Overflow and invalid operations raise where they happen. Almost always
        that is while computing the loss or the gradients, before any weight is
        touched: the weights are then those of the last finite step, and are
        kept. If the optimizer's update itself overflowed, some parameters may
        already hold the new values: then the weights (and optimizer state) from
        the start of this fit are put back.
        """
        network, optimizer = self.network, self.optimizer
        kept = "the weights of the last finite step"
        if in_update:
            network.set_weights(self._initial)
            optimizer.load_state_dict(self._initial_optimizer)
            kept = "the weights (and optimizer state) it had when this fit started"
        where = batch if isinstance(batch, str) else f"batch {batch}"
        raise DivergenceError(
            f"training diverged at epoch {epoch} ({where}: {exc}); the network keeps {kept}. "
            f"Try a smaller learning rate (it is {optimizer.lr})."
        ) from exc
