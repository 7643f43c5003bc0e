"""History: the per-epoch logs of a network's training."""

from __future__ import annotations

from synnet.core.callback import Callback, Logs


class History(Callback):
    """Records every epoch's logs: ``history["loss"]``, ``history["val_loss"]``, ...

    ``fit`` returns its History; ``history.epoch`` lists the epoch numbers,
    counted across calls to ``fit`` on the same network.
    """

    order = -100

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def extend(self, first: int, logs: dict[str, list[float]]) -> None:
        """Record several epochs at once, from ``first`` on: what ``on_epoch_end`` of
        each would record, given each key's values in epoch order."""
        n = len(next(iter(logs.values()), []))
        self.epoch.extend(range(first, first + n))
        for key, values in logs.items():
            self.history.setdefault(key, []).extend(values)

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: object) -> bool:
        return key in self.history

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"
