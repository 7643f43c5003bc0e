"""Training progress on the terminal: a tqdm bar, or plain lines for logs and pipes."""

from __future__ import annotations

import math
import time
from typing import TextIO

from synnet.core.callback import Callback
from synnet.training.callbacks import ProgressBar


class PlainProgress(Callback):
    """Progress as plain lines (for logs and pipes): about ten lines per run."""

    def __init__(self, epochs: int, file: TextIO) -> None:
        self.epochs, self.file = epochs, file
        self.every = max(1, math.ceil(epochs / 10))
        self.start = 0

    def on_train_begin(self, logs: dict[str, float]) -> None:
        self.start = self.network.epochs_trained

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        done = epoch - self.start + 1
        if done == 1 or done % self.every == 0 or done == self.epochs or \
                self.network.stop_training:
            values = "  ".join(f"{k} {v:.4g}" for k, v in logs.items())
            print(f"epoch {done}/{self.epochs}  {values}", file=self.file, flush=True)


class RowRate(Callback):
    """Rows per second and the time left, as a plain line every ``interval`` seconds.

    For streamed training, whose epochs can take hours. The rows of the whole
    run are the epoch's rows (as fit counts them) times the epochs.
    """

    def __init__(self, file: TextIO, interval: float = 10.0) -> None:
        self.file, self.interval = file, interval
        self.rows = 0
        self.started = self.last = 0.0

    def on_train_begin(self, logs: dict[str, float]) -> None:
        self.rows = 0
        self.started = self.last = time.monotonic()

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        self.rows += int(logs["size"])
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        rate = self.rows / max(now - self.started, 1e-9)
        line = f"  {self.rows:,} rows, {rate:,.0f} rows/s"
        per_epoch = self.params.get("samples")
        if per_epoch:
            epochs_left = (self.network.fit_start_epoch + self.params["epochs"]
                           - self.network.epochs_trained)
            left = max(0, per_epoch * epochs_left - self.rows % per_epoch) / max(rate, 1e-9)
            line += f", about {_duration(left)} left"
        print(line, file=self.file, flush=True)


def _duration(seconds: float) -> str:
    minutes, s = divmod(int(seconds + 0.5), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m" if hours else f"{m}m{s:02d}s" if m else f"{s}s"


class Note(Callback):
    """Print ``text`` when training begins (after every check has passed)."""

    def __init__(self, text: str, file: TextIO) -> None:
        self.text, self.file = text, file

    def on_train_begin(self, logs: dict[str, float]) -> None:
        print(self.text, file=self.file, flush=True)


def progress_callback(epochs: int, file: TextIO) -> Callback:
    """A progress bar on a terminal, plain lines otherwise."""
    isatty = getattr(file, "isatty", None)
    if isatty is not None and isatty():
        return ProgressBar(total=epochs, file=file)
    return PlainProgress(epochs, file)
