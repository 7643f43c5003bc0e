"""Checkpoints that make a resumed run identical, bit for bit, to one that never stopped.

A checkpoint is an ordinary synnet model file (safe to load, written
atomically) whose ``extra`` part holds everything else that determines the rest
of the run: the random generator's state, the epoch counters, the history so
far, every callback's state (early stopping, learning-rate schedules), and a
fingerprint of the data and settings. The optimizer's state (moments, step
count, learning rate) travels in the model file's optimizer section.

Use it as a callback::

    ckpt = synnet.Checkpoint("ckpts", every=1, keep=3, resume=True)
    net.fit(X, y, loss="mse", epochs=100, callbacks=[ckpt])

If the process dies (SIGKILL, a crash, a reboot), running the same code again
with ``resume=True`` continues from the newest valid checkpoint and ends with
the same weights as an uninterrupted run; rerunning a run that had finished
(early stopping included) trains nothing. A damaged checkpoint (truncated,
corrupt, or with malformed state) is skipped with a warning in favour of the
one before it; if every one is damaged, resuming is refused. Resuming with other
data, settings or callbacks is refused with a message saying what differs. One
run at a time may use a folder (:mod:`synnet.training.lock`).

With ``every_batches=N`` a checkpoint is also written after every N-th batch
of an epoch, holding the position in the epoch (:mod:`synnet.training.position`),
so a killed run over a large file loses at most N batches, not an epoch; the
resumed run still ends bit for bit as one that never stopped.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from synnet._rng import check_state as check_rng_state
from synnet._rng import get_state, set_state
from synnet._validation import check_int, is_encoded, is_sparse
from synnet.core.callback import Callback, Logs
from synnet.core.history import History
from synnet.core.optimizers import get_optimizer
from synnet.data.source import Source
from synnet.errors import ConfigError, ModelFileError, ResumeError
from synnet.io.atomic import remove_stale_temp_files
from synnet.io.json_codec import encode
from synnet.io.model_file import ModelFile
from synnet.io.reader import load_model
from synnet.io.writer import check_savable, save_model
from synnet.training.checkpoint_state import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    POSITION_KEYS,
    CheckpointState,
    SavedCallback,
    match_callbacks,
    parse_state,
    settings_of,
    short_repr,
    takes_part,
)
from synnet.training.lock import FolderLock
from synnet.training.position import Position, ResumePoint

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "Checkpoint", "digest", "fingerprint",
           "latest_checkpoint"]
#: What ``save_kwargs`` may pass on to save_model (the rest a checkpoint sets itself).
SAVE_KWARGS = frozenset({"preprocessor", "target", "metadata", "training"})
#: ckpt-<epochs done>.synnet at an epoch's end, ckpt-<epochs done>-<batches done>.synnet inside
_NAME = re.compile(r"ckpt-(\d{8})(?:-(\d{8}))?\.synnet")


class Checkpoint(Callback):
    """Write a checkpoint every ``every`` epochs; optionally resume from the newest one.

    Args:
        directory: folder for the checkpoint files (created if missing).
        every: write after every ``every``-th epoch (the last epoch is always written).
        every_batches: also write after every ``every_batches``-th batch of each
            epoch (counted from the epoch's start), with the position in the
            epoch; None (the default) writes at epoch ends only. Like Keras's
            ``ModelCheckpoint(save_freq=N)``. On resume the epoch's order is
            rebuilt and its first batches are skipped: arrays skip them without
            work, a data source reads them again without training on them.
        keep: how many of the newest checkpoints to keep (older ones are deleted).
        resume: at the start of ``fit``, continue from the newest valid checkpoint
            in ``directory`` if there is one (start fresh if there is none; raise
            ResumeError if there are some but every one is damaged).
        save_kwargs: passed to :func:`synnet.io.save_model` with every checkpoint:
            ``preprocessor``, ``target``, ``metadata``, ``training``, so that a
            checkpoint is also a usable model file.

    After ``fit``, ``resumed_from`` is the epoch count training resumed from
    (None when it started fresh), ``resumed_batches`` the batches of the next
    epoch that were already done then (0 at an epoch's end), and ``last_path``
    the newest file written.
    Wherever it stands in the callback list, fit runs it after the other
    callbacks, so it saves (and restores) their state as of the epoch's end.
    During ``fit`` it holds the folder's lock: another run on the same folder
    is refused with ConfigError.
    """

    order = 100

    def __init__(self, directory: str | os.PathLike[str], every: int = 1, keep: int = 3,
                 resume: bool = False, save_kwargs: dict[str, Any] | None = None,
                 every_batches: int | None = None) -> None:
        check_int("every", every, 1)
        check_int("keep", keep, 1)
        self.every_batches = check_int("every_batches", every_batches, 1, allow_none=True)
        if self.every_batches is not None:  # only then a per-batch hook (others pay nothing)
            self.on_batch_end = self._on_batch_end  # type: ignore[method-assign]
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise ConfigError(f"checkpoint folder {self.directory} is a file; give a folder")
        self.every, self.keep, self.resume = every, keep, resume
        self.save_kwargs = dict(save_kwargs or {})
        unknown = sorted(set(self.save_kwargs) - SAVE_KWARGS)
        if unknown:
            raise ConfigError(f"save_kwargs may set {', '.join(sorted(SAVE_KWARGS))}, not "
                              f"{', '.join(unknown)}", params=["save_kwargs"])
        self.resumed_from: int | None = None
        self.resumed_batches = 0
        self.last_path: Path | None = None
        self._fingerprint: dict[str, Any] = {}
        self._pending: dict[str, Any] | None = None
        self._lock = FolderLock(self.directory)
        self._parts: list[tuple[Callback, dict[str, Any]]] = []

    # -- the hooks ------------------------------------------------------------------
    def on_train_begin(self, logs: Logs) -> None:
        if self.every_batches is not None and not isinstance(self.params.get("position"),
                                                             Position):
            raise ConfigError("every_batches needs a fit that reports its position in the "
                              "epoch (Network.fit); this one checkpoints at epoch ends only: "
                              "leave every_batches out", params=["every_batches"])
        # Fail now, not at the first checkpoint: a file the reader would refuse can't resume.
        check_savable(self.network, self.network.optimizer,
                      self.save_kwargs.get("preprocessor"), self.save_kwargs.get("target"))
        for key in ("metadata", "training"):
            encode(self.save_kwargs.get(key, {}), f"save_kwargs[{key!r}]")
        # The callbacks a checkpoint records, with their settings (fixed for the fit).
        self._parts = [(cb, settings_of(cb)) for cb in self.params["callbacks"]
                       if cb is not self and takes_part(cb)]
        for cb, _ in self._parts:
            encode(_split_arrays(cb.get_state(), "probe")[0], f"{type(cb).__name__} state")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()
        try:
            remove_stale_temp_files(self.directory)
            self._fingerprint = fingerprint(self.params)
            self._pending = None
            self.resumed_from = None
            self.resumed_batches = 0
            if self.resume:
                self._resume()
        except BaseException:
            self._lock.release()
            raise

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        done = self.network.epochs_trained - self.network.fit_start_epoch
        last = done >= self.params["epochs"] or self.network.stop_training
        if done % self.every == 0 or last:
            self._write(self._capture())  # straight from the live network: no copies
        else:
            # Written if training is interrupted before the next checkpoint is due; the
            # network moves on meanwhile, so its weights and optimizer state are copied.
            network = self.network
            assert network.optimizer is not None
            self._pending = {**self._capture(), "weights": network.get_weights(),
                             "optimizer": network.optimizer.state_dict()}

    def _on_batch_end(self, batch: int, logs: Logs) -> None:
        """Every ``every_batches``-th batch: a checkpoint with the position in the epoch."""
        assert self.every_batches is not None
        if (batch + 1) % self.every_batches == 0:
            self._write(self._capture(self.params["position"]))

    def on_interrupt(self, logs: Logs) -> None:
        if self._pending is not None:
            self._write(self._pending)

    def on_train_end(self, logs: Logs) -> None:
        self._lock.release()

    # -- capture and restore ------------------------------------------------------------
    def _capture(self, position: Position | None = None) -> dict[str, Any]:
        """Everything besides weights and optimizer that determines the rest of the run.

        ``position``: the fit's position inside the current epoch (a mid-epoch
        checkpoint), or None at an epoch's end.
        """
        network = self.network
        json_state: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "epochs_trained": network.epochs_trained,
            "fit_start_epoch": network.fit_start_epoch,
            # Whether training goes on: a rerun of a finished run must train nothing.
            "stop_training": bool(network.stop_training),
            "rng": get_state(network.rng),
            "fingerprint": self._fingerprint,
            "callbacks": [],
            "position": None if position is None else {
                **{key: getattr(position, key) for key in sorted(POSITION_KEYS)},
                "loss_sum": float(position.loss_sum),
                "metric_sums": {k: float(v) for k, v in position.metric_sums.items()}},
        }
        arrays: dict[str, np.ndarray] = {}
        history = network.history
        assert history is not None  # fit sets it before any callback runs
        for i, (cb, settings) in enumerate(self._parts):
            state, cb_arrays = _split_arrays(cb.get_state(), f"cb{i}")
            json_state["callbacks"].append({"kind": type(cb).__name__, "settings": settings,
                                            "state": state})
            arrays.update(cb_arrays)
        return {"json": json_state, "arrays": arrays,
                "history": {k: list(v) for k, v in history.history.items()},
                "epoch": list(history.epoch)}

    def _write(self, state: dict[str, Any]) -> None:
        network = self.network
        optimizer = network.optimizer
        if "weights" in state:
            # A pending state, written after an interrupt: the network may hold a
            # half-applied batch, so the captured epoch-end state goes back first.
            network.set_weights(state["weights"])
            network.epochs_trained = state["json"]["epochs_trained"]
            optimizer = get_optimizer(state["optimizer"]["name"])
            optimizer.load_state_dict(state["optimizer"])
        assert optimizer is not None
        position = state["json"]["position"]
        path = self.directory / (f"ckpt-{network.epochs_trained:08d}.synnet" if position is None
                                 else f"ckpt-{network.epochs_trained:08d}-"
                                      f"{position['batches']:08d}.synnet")
        history = History()
        history.epoch, history.history = state["epoch"], state["history"]
        save_model(
            path, network, optimizer=optimizer, history=history,
            extra={"checkpoint": state["json"]}, extra_arrays=state["arrays"],
            **self.save_kwargs)
        self.last_path = path
        self._pending = None
        self._prune()

    def _prune(self) -> None:
        for path, _ in _newest_first(self.directory)[self.keep:]:
            path.unlink(missing_ok=True)

    def _resume(self) -> None:
        """Restore the newest usable checkpoint; ResumeError if there are some but none is."""
        damaged = []
        for path, number in _newest_first(self.directory):
            try:
                saved = load_model(path)
                state = parse_state(saved, number)
                pairs = self._check_same_run(path, saved, state)
                self._restore(saved, state, pairs)
            except (ModelFileError, OSError) as exc:
                warnings.warn(f"skipping damaged checkpoint {path.name}: {exc}", stacklevel=3)
                damaged.append(path.name)
                continue
            self.resumed_from = state.epochs_trained
            self.resumed_batches = 0 if state.position is None else state.position["batches"]
            return
        if damaged:
            shown = ", ".join(damaged[:5]) + (", ..." if len(damaged) > 5 else "")
            raise ResumeError(
                f"no checkpoint in {self.directory} is usable: {len(damaged)} damaged "
                f"({shown}); nothing was written. To start afresh, delete them or give "
                "another folder, or train without resume", params=["resume"])

    def _check_same_run(self, path: Path, saved: ModelFile,
                        state: CheckpointState) -> list[tuple[Callback, SavedCallback]]:
        """The callback pairs; ResumeError naming every difference from this run."""
        differences = _differences(state.fingerprint, self._fingerprint)
        pairs, changed = match_callbacks(state.callbacks, self._parts, state.version)
        differences += changed
        kind = check_rng_state(get_state(self.network.rng))
        if kind != state.rng_kind:
            differences.append(f"the random generator was a {state.rng_kind}, now a {kind}")
        if differences:
            raise ResumeError(
                f"cannot resume from {path}: {'; '.join(differences)}. Use the same data and "
                f"settings, or start fresh in another folder (or without resume).")
        return pairs

    def _restore(self, saved: ModelFile, state: CheckpointState,
                 pairs: list[tuple[Callback, SavedCallback]]) -> None:
        """Put the run's state back; ModelFileError (nothing changed) if a part does not fit."""
        network = self.network
        optimizer = network.optimizer
        assert optimizer is not None and saved.optimizer is not None
        if state.position is not None and not isinstance(self.params.get("position"), Position):
            raise ModelFileError("it was written inside an epoch, and this fit resumes at "
                                 "epoch ends only")
        weights = saved.network.get_weights()
        if {k: (v.shape, v.dtype) for k, v in weights.items()} != {
                k: (v.shape, v.dtype) for k, v in network.params.items()}:
            raise ModelFileError("its weights do not fit the network its fingerprint describes")
        if saved.optimizer.name != optimizer.name:
            raise ModelFileError(f"its optimizer is {saved.optimizer.name!r}, its fingerprint "
                                 f"says {optimizer.name!r}")
        # Callback states first: they are checked as they are set, and a bad one must leave
        # the network untouched (a callback resets its state in on_train_begin anyway).
        for cb, entry in pairs:
            try:
                cb.set_state(entry.state)
            except (ValueError, TypeError, KeyError, AttributeError, IndexError,
                    OverflowError) as exc:
                raise ModelFileError(f"the state of {entry.kind}: {exc}") from None
        network.set_weights(weights)
        optimizer.load_state_dict(saved.optimizer.state_dict())
        set_state(network.rng, state.rng)
        network.epochs_trained = state.epochs_trained
        network.fit_start_epoch = state.fit_start_epoch
        network.stop_training = state.stop_training
        history, saved_history = network.history, saved.network.history
        assert history is not None and saved_history is not None  # checked by parse_state
        history.history = {k: list(v) for k, v in saved_history.history.items()}
        history.epoch = list(saved_history.epoch)
        if state.position is not None:  # the loop picks the epoch up where it stood
            self.params["position"].resume = ResumePoint(state.epochs_trained, rng=state.rng,
                                                         **state.position)


# -- finding checkpoints ------------------------------------------------------------------


def _newest_first(directory: Path) -> list[tuple[Path, tuple[int, int]]]:
    """The checkpoint files in ``directory`` and their (epochs, batches) done, newest first."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _NAME.fullmatch(path.name)
        if match:
            found.append((path, (int(match.group(1)), int(match.group(2) or 0))))
    return sorted(found, key=lambda item: item[1], reverse=True)


def latest_checkpoint(
    directory: str | os.PathLike[str],
) -> tuple[Path, ModelFile] | None:
    """The newest checkpoint in ``directory`` that loads cleanly, or None if there is none.

    A damaged newer checkpoint (truncated, corrupt, malformed state) is skipped
    with a warning.
    """
    for path, number in _newest_first(Path(directory)):
        try:
            saved = load_model(path)
            parse_state(saved, number)
            return path, saved
        except (ModelFileError, OSError) as exc:
            warnings.warn(f"skipping damaged checkpoint {path.name}: {exc}", stacklevel=2)
    return None


# -- fingerprints ---------------------------------------------------------------------


def fingerprint(params: dict[str, Any]) -> dict[str, Any]:
    """Digests of the training and validation data, and the settings, of a fit.

    ``params["data"]`` is (train, validation): prepared data (with X, y, w), or a
    digest already computed elsewhere (a Dask fit digests its parts on the workers).
    """
    train, val = (d if d is None or isinstance(d, str) else digest(d) for d in params["data"])
    # The epoch count is left out: a resumed fit may be asked to train for longer.
    settings = {k: v for k, v in params["settings"].items() if k != "epochs"}
    return {"settings": settings, "train": train, "validation": val}


def digest(data: Any) -> str:
    """A 32-hex-digit digest of prepared data: its X, y and w (each None, dense or sparse),
    or a Source's own digest (a file is not read for this: its paths, sizes, times)."""
    if isinstance(data, Source):
        return data.digest()
    h = hashlib.blake2b(digest_size=16)
    for part in (data.X, data.y, data.w):
        if part is None:
            h.update(b"none")
            continue
        arrays = ([part.data, part.indices, part.indptr] if is_sparse(part) else
                  part.arrays if is_encoded(part) else [part])
        for a in arrays:
            h.update(repr((a.shape, a.dtype.str)).encode())
            rows = max(1, (1 << 22) // max(1, a[:1].nbytes))  # ~4 MB at a time
            for start in range(0, len(a), rows):
                h.update(np.ascontiguousarray(a[start:start + rows]).tobytes())
    return h.hexdigest()


def _differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    out = []
    if saved.get("train") != now.get("train"):
        out.append("the training data differ")
    if saved.get("validation") != now.get("validation"):
        out.append("the validation data differ")
    old, new = saved.get("settings", {}), now.get("settings", {})
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            out.append(f"{key} was {short_repr(old.get(key))}, now {short_repr(new.get(key))}")
    return out


# -- callback state: arrays to extra arrays, the rest to JSON ----------------------------


def _split_arrays(state: dict[str, Any], prefix: str) -> tuple[dict[str, Any],
                                                             dict[str, np.ndarray]]:
    """Arrays (and dicts of arrays) go to named extra arrays; the rest to JSON."""
    json_part: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            arrays[f"{prefix}.{key}"] = value
            json_part[key] = {"__extra__": f"{prefix}.{key}"}
        elif isinstance(value, dict) and value and all(
                isinstance(v, np.ndarray) for v in value.values()):
            json_part[key] = {"__extra_dict__": {k: f"{prefix}.{key}.{k}" for k in value}}
            arrays.update({f"{prefix}.{key}.{k}": v for k, v in value.items()})
        else:
            json_part[key] = value  # save_model encodes it
    return json_part, arrays
