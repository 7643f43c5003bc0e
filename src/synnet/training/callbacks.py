"""Callbacks for ``Network.fit``: early stopping, progress, logging, schedules.

The protocol they follow is :class:`synnet.core.callback.Callback`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np

from synnet._validation import check_choice, check_int, check_number
from synnet.core.callback import Callback, Logs
from synnet.errors import ConfigError
from synnet.training.checkpoint_state import check_keys, check_weights


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    Args:
        monitor: a log key, e.g. "val_loss", "loss", "val_accuracy".
        min_delta: smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        mode: "min", "max", or "auto" (max for accuracy-like keys, else min).
        restore_best_weights: at the end, put back the weights of the best epoch.
        baseline: stop unless the monitored value beats this by ``patience`` epochs.

    After training, ``best``, ``best_epoch`` and ``stopped_epoch`` (None when it
    never stopped) tell what happened.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 mode: str = "auto", restore_best_weights: bool = False,
                 baseline: float | None = None) -> None:
        check_choice("mode", mode, ("auto", "min", "max"))
        check_int("patience", patience, 0)
        self.monitor = monitor
        self.min_delta = abs(check_number("min_delta", min_delta))
        self.patience = patience
        self.mode = mode
        if mode == "auto":
            self.mode = "max" if "acc" in monitor or monitor.endswith("score") else "min"
        self.restore_best_weights = restore_best_weights
        self.baseline = baseline
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.wait = 0
        self._best_weights: dict[str, np.ndarray] | None = None

    def _improved(self, value: float, reference: float) -> bool:
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def on_train_begin(self, logs: Logs) -> None:
        self.wait = 0
        self.stopped_epoch = None
        self.best = math.inf if self.mode == "min" else -math.inf
        if self.baseline is not None:
            self.best = float(self.baseline)
        self.best_epoch = None
        self._best_weights = None

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        if self.monitor not in logs:
            raise ConfigError(
                f"EarlyStopping monitors {self.monitor!r} but the logs have only "
                f"{sorted(logs)}; pass validation data for 'val_*' keys"
            )
        value = logs[self.monitor]
        if self._improved(value, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self._best_weights = self.network.get_weights()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.network.stop_training = True

    def on_train_end(self, logs: Logs) -> None:
        if self.restore_best_weights and self._best_weights is not None:
            self.network.set_weights(self._best_weights)

    def get_config(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "min_delta": self.min_delta, "patience": self.patience,
                "mode": self.mode, "restore_best_weights": self.restore_best_weights,
                "baseline": self.baseline}

    def get_state(self) -> dict[str, Any]:
        return {"wait": self.wait, "best": self.best, "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch, "best_weights": self._best_weights}

    def set_state(self, state: dict[str, Any]) -> None:
        state = check_keys(state, {"wait", "best", "best_epoch", "stopped_epoch",
                                   "best_weights"}, "EarlyStopping")
        wait = check_int("wait", state["wait"], 0)
        best = state["best"]
        if isinstance(best, bool) or not isinstance(best, (int, float)):
            raise ValueError(f"EarlyStopping best must be a number, not {type(best).__name__}")
        epochs = [check_int(key, state[key], 0, allow_none=True)
                  for key in ("best_epoch", "stopped_epoch")]
        weights = state["best_weights"]
        self._best_weights = None if weights is None else check_weights(
            self.network, weights, "EarlyStopping best_weights")
        self.wait, self.best = wait or 0, float(best)
        self.best_epoch, self.stopped_epoch = epochs


class ProgressBar(Callback):
    """A tqdm progress bar over epochs showing the latest logs.

    Args:
        total: number of epochs (taken from ``fit`` when left None).
        file: where to draw (stderr by default).
    """

    def __init__(self, total: int | None = None, file: TextIO | None = None) -> None:
        self.total = total
        self.file = file
        self._bar: Any = None

    def on_train_begin(self, logs: Logs) -> None:
        from tqdm.auto import tqdm

        total = self.total if self.total is not None else self.params.get("epochs")
        self._bar = tqdm(total=total, unit="epoch", file=self.file or sys.stderr,
                         dynamic_ncols=True, leave=True)

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        self._bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()}, refresh=False)
        self._bar.update(1)

    def on_train_end(self, logs: Logs) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class PrintEvery(Callback):
    """Tutorial-style logging: print a line every ``every`` epochs.

    The default prints what the tutorial prints, ``Error:<mean |error|>``,
    which needs ``metrics=["mae"]`` in ``fit``. Epochs count from 0, so
    ``every=10000`` prints at epochs 0, 10000, 20000, ...

    Args:
        every: print when ``epoch % every == 0``.
        key: the log entry to print.
        template: format string with ``{epoch}``, ``{key}`` and ``{value}``.
        file: where to print (stdout by default).
    """

    def __init__(self, every: int = 1, key: str = "mae", template: str = "Error:{value}",
                 file: TextIO | None = None) -> None:
        check_int("every", every, 1)
        self.every = every
        self.key = key
        self.template = template
        self.file = file

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        if epoch % self.every == 0:
            if self.key not in logs:
                raise ConfigError(f"PrintEvery prints {self.key!r} but the logs have only "
                                  f"{sorted(logs)}; add it to fit(metrics=[...])")
            line = self.template.format(epoch=epoch, key=self.key, value=logs[self.key])
            print(line, file=self.file or sys.stdout)


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=f)``."""

    def __init__(self, on_epoch_end: Callable[[int, Logs], None] | None = None,
                 on_batch_end: Callable[[int, Logs], None] | None = None,
                 on_train_begin: Callable[[Logs], None] | None = None,
                 on_train_end: Callable[[Logs], None] | None = None) -> None:
        self._epoch_end, self._batch_end = on_epoch_end, on_batch_end
        self._train_begin, self._train_end = on_train_begin, on_train_end

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        if self._epoch_end:
            self._epoch_end(epoch, logs)

    def on_batch_end(self, batch: int, logs: Logs) -> None:
        if self._batch_end:
            self._batch_end(batch, logs)

    def on_train_begin(self, logs: Logs) -> None:
        if self._train_begin:
            self._train_begin(logs)

    def on_train_end(self, logs: Logs) -> None:
        if self._train_end:
            self._train_end(logs)


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at each epoch: ``lr = schedule(epoch, lr)``."""

    def __init__(self, schedule: Callable[[int, float], float]) -> None:
        self.schedule = schedule

    def get_config(self) -> dict[str, Any]:
        # The function's name: enough to notice a schedule added, removed or swapped
        # between a run and its resume (not an edit of the same function's body).
        return {"schedule": getattr(self.schedule, "__qualname__", type(self.schedule).__name__)}

    def on_epoch_begin(self, epoch: int, logs: Logs) -> None:
        optimizer = self.network.optimizer
        assert optimizer is not None
        optimizer.lr = check_number("the learning rate the schedule returned",
                                    self.schedule(epoch, optimizer.lr), 0.0)
