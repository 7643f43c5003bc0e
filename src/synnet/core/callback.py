"""The callback protocol: the hooks ``Network.fit`` calls (Keras-style).

Early stopping, progress display, logging and checkpoints are callbacks
(:mod:`synnet.training.callbacks`, :mod:`synnet.training.checkpoint`), not
part of the loop. A callback sees ``self.network`` (set by ``fit``) and may set
``network.stop_training = True`` to end training after the current epoch.
Per-batch hooks cost nothing unless a callback overrides them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synnet.core.network import Network

Logs = dict[str, float]


class Callback:
    """Base class; override the hooks you need."""

    #: fit calls callbacks in increasing ``order`` (stable): History first, checkpoints
    #: last, so a checkpoint captures and restores every other callback's final state.
    order: int = 0
    network: Network
    #: set by fit: "epochs", "steps" (batches per epoch), "samples" (training rows),
    #: "settings" (what determines the run), "data" and "callbacks" (all of this fit's).
    params: dict[str, Any]

    def set_network(self, network: Network) -> None:
        self.network = network

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: Logs) -> None: ...
    def on_train_end(self, logs: Logs) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: Logs) -> None: ...
    def on_epoch_end(self, epoch: int, logs: Logs) -> None: ...
    def on_batch_end(self, batch: int, logs: Logs) -> None: ...

    def on_interrupt(self, logs: Logs) -> None:
        """Ctrl-C (KeyboardInterrupt) stopped training mid-epoch; fit re-raises it after."""

    def get_config(self) -> dict[str, Any] | None:
        """The settings a resumed run must share (JSON values), or None (the default).

        None says the callback does not change training (progress, logging), so
        checkpoints ignore it. A callback that returns settings, or that keeps
        state (overrides :meth:`get_state`), is matched on resume by its class
        name and these settings.
        """
        return None

    def get_state(self) -> dict[str, Any]:
        """State that must survive a resume: JSON values, arrays or dicts of arrays."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned.

        The state comes from a file: check it strictly and raise ValueError (or
        TypeError, KeyError) when it is malformed; a checkpoint then counts as
        damaged and is skipped.
        """


def overrides(callback: Callback, hook: str) -> bool:
    """Whether ``callback`` implements ``hook`` itself (so the loop must call it).

    Its class may override the hook, or the instance may set it (a callback that
    needs a per-batch hook only with some settings, so the others cost nothing).
    """
    found = getattr(callback, hook)
    return getattr(found, "__func__", found) is not getattr(Callback, hook)
