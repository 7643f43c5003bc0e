"""Training progress on the terminal: a tqdm bar, or plain lines for logs and pipes."""

from __future__ import annotations

import math
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
