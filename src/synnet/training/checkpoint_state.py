"""A checkpoint's ``extra`` state, checked field by field before any of it is used.

The model-file reader has already checked the file (weights, optimizer,
history, the JSON codec's tags). This module checks what it leaves free: the
checkpoint's own JSON (counters, generator state, fingerprint, callback
entries) and its extra arrays. Anything malformed raises ModelFileError, so the
checkpoint counts as damaged and is skipped. It also matches the callbacks of
a run to the ones a checkpoint recorded, by class name and settings.

Format versions: 1 (synnet 0.1.0) listed every callback by position and had no
``stop_training``; 2 lists only the callbacks that take part (see
:meth:`synnet.core.callback.Callback.get_config`) with their settings; 3 adds
``position``: null at an epoch's end, or where inside the epoch a mid-epoch
checkpoint was written (see :mod:`synnet.training.position`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from synnet._rng import check_state as check_rng_state
from synnet.core.callback import Callback, overrides
from synnet.core.network import Network
from synnet.errors import ModelFileError
from synnet.io.json_codec import decode, encode
from synnet.io.model_file import ModelFile

CHECKPOINT_FORMAT = "synnet-checkpoint"
CHECKPOINT_VERSION = 3
#: The keys of the checkpoint JSON, per version read.
KEYS = {1: {"format", "version", "epochs_trained", "fit_start_epoch", "rng", "fingerprint",
            "callbacks"}}
KEYS[2] = KEYS[1] | {"stop_training"}
KEYS[3] = KEYS[2] | {"position"}
#: The keys of a mid-epoch position.
POSITION_KEYS = {"batches", "epoch_rng", "loss_sum", "seen", "metric_sums"}
MAX_CALLBACKS = 1000
_DIGEST = re.compile(r"[0-9a-f]{32}")


@dataclass
class SavedCallback:
    """A callback as a checkpoint recorded it: class name, settings (None in version 1), state."""

    kind: str
    settings: dict[str, Any] | None
    state: dict[str, Any]


@dataclass
class CheckpointState:
    """The checked checkpoint JSON; ``rng_kind`` as :func:`synnet._rng.check_state` names it."""

    version: int
    epochs_trained: int
    fit_start_epoch: int
    stop_training: bool
    rng: dict[str, Any]
    rng_kind: str
    fingerprint: dict[str, Any]
    callbacks: list[SavedCallback]
    #: None at an epoch's end; else the mid-epoch position (checked)
    position: dict[str, Any] | None = None


def parse_state(saved: ModelFile, number: tuple[int, int]) -> CheckpointState:
    """The checked state of a checkpoint file named for (epoch, batches done) ``number``.

    ModelFileError if anything is malformed.
    """
    info = saved.extra.get("checkpoint")
    if not isinstance(info, dict) or info.get("format") != CHECKPOINT_FORMAT:
        raise ModelFileError("a model file but not a synnet checkpoint")
    version = info.get("version")
    if type(version) is not int or version not in KEYS:
        raise ModelFileError(f"checkpoint format {version!r}; this synnet reads versions "
                             f"{sorted(KEYS)}")
    if set(saved.extra) != {"checkpoint"} or set(info) != KEYS[version]:
        raise ModelFileError(f"the checkpoint state must have exactly the keys "
                             f"{sorted(KEYS[version])}")
    if saved.optimizer is None:
        raise ModelFileError("the checkpoint has no optimizer state")
    epochs, start = _count(info, "epochs_trained"), _count(info, "fit_start_epoch")
    if start > epochs or epochs != number[0] or saved.network.epochs_trained != epochs:
        raise ModelFileError(f"its epoch counters ({start}, {epochs}) do not agree with its "
                             f"name (epoch {number[0]}) and model "
                             f"({saved.network.epochs_trained})")
    history = saved.network.history
    if history is None or history.epoch != list(range(start, epochs)):
        raise ModelFileError(f"its history must list the epochs {start} to {epochs - 1}")
    stop = info.get("stop_training", False)
    if not isinstance(stop, bool):
        raise ModelFileError("stop_training must be true or false")
    try:
        rng_kind = check_rng_state(info["rng"])
    except ValueError as exc:
        raise ModelFileError(str(exc)) from None
    position = _position(info.get("position"), number[1], rng_kind)
    return CheckpointState(version, epochs, start, stop, info["rng"], rng_kind,
                           _fingerprint(info["fingerprint"]),
                           _callbacks(info["callbacks"], version, saved.extra_arrays), position)


def _position(value: Any, batches: int, rng_kind: str) -> dict[str, Any] | None:
    """A mid-epoch position (its batch count must be the one in the file's name), or None."""
    if value is None:
        if batches:
            raise ModelFileError(f"its name says batch {batches} of an epoch, but it holds no "
                                 "position")
        return None
    if not isinstance(value, dict) or set(value) != POSITION_KEYS:
        raise ModelFileError(f"position must have exactly the keys {sorted(POSITION_KEYS)}")
    done, seen = _count(value, "batches"), _count(value, "seen")
    if done != batches or done < 1 or seen < done:
        raise ModelFileError(f"position: {done} batches and {seen} rows do not agree with its "
                             f"name (batch {batches})")
    try:
        kind = check_rng_state(value["epoch_rng"])
    except ValueError as exc:
        raise ModelFileError(f"position epoch_rng: {exc}") from None
    if kind != rng_kind:
        raise ModelFileError(f"position epoch_rng is a {kind}, its rng a {rng_kind}")
    sums = value["metric_sums"]
    if not isinstance(value["loss_sum"], float) or not isinstance(sums, dict) or not all(
            isinstance(k, str) and isinstance(v, float) for k, v in sums.items()):
        raise ModelFileError("position loss_sum and metric_sums must be numbers")
    return value


def _count(info: dict[str, Any], key: str) -> int:
    value = info[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ModelFileError(f"{key} must be an int >= 0, not {short_repr(value)}")
    return value


def _fingerprint(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != {"settings", "train", "validation"} \
            or not isinstance(value["settings"], dict):
        raise ModelFileError("fingerprint must hold settings, train and validation")
    for key in ("train", "validation"):
        digest = value[key]
        if not (digest is None and key == "validation") and not (
                isinstance(digest, str) and _DIGEST.fullmatch(digest)):
            raise ModelFileError(f"fingerprint {key} must be a digest of 32 hex digits")
    return value


def _callbacks(value: Any, version: int, arrays: dict[str, np.ndarray]) -> list[SavedCallback]:
    if not isinstance(value, list) or len(value) > MAX_CALLBACKS:
        raise ModelFileError(f"callbacks must be a list of at most {MAX_CALLBACKS}")
    keys = {"kind", "state"} if version == 1 else {"kind", "settings", "state"}
    used: set[str] = set()
    out = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict) or set(entry) != keys:
            raise ModelFileError(f"callbacks[{i}] must have exactly the keys {sorted(keys)}")
        kind, settings, state = entry["kind"], entry.get("settings"), entry["state"]
        if not isinstance(kind, str) or not 0 < len(kind) <= 200 or not isinstance(state, dict) \
                or not isinstance(settings, dict if version > 1 else type(None)):
            raise ModelFileError(f"callbacks[{i}]: kind must be a name, settings and state "
                                 "JSON objects")
        if version == 1 and (kind in ("History", "Checkpoint") or not state):
            continue  # version 1 listed every callback; these have nothing to restore
        out.append(SavedCallback(kind, settings, _join_arrays(state, arrays, used)))
    if used != set(arrays):
        raise ModelFileError(f"extra arrays {sorted(set(arrays) - used)[:5]} belong to no "
                             "callback")
    return out


def _join_arrays(state: dict[str, Any], arrays: dict[str, np.ndarray],
                 used: set[str]) -> dict[str, Any]:
    """The state with its references to extra arrays replaced by the arrays."""
    def take(name: Any) -> np.ndarray:
        if not isinstance(name, str) or name not in arrays or name in used:
            raise ModelFileError(f"a callback state names the extra array {short_repr(name)}, "
                                 "which the file does not hold (or another state uses)")
        used.add(name)
        return arrays[name]

    out: dict[str, Any] = {}
    for key, value in state.items():
        if isinstance(value, dict) and set(value) == {"__extra__"}:
            out[key] = take(value["__extra__"])
        elif isinstance(value, dict) and set(value) == {"__extra_dict__"}:
            names = value["__extra_dict__"]
            if not isinstance(names, dict):
                raise ModelFileError("a callback state's __extra_dict__ must be an object")
            out[key] = {k: take(name) for k, name in names.items()}
        else:
            out[key] = value  # decoded by the reader
    return out


# -- the callbacks of a run against a checkpoint's -----------------------------------------


def takes_part(callback: Callback) -> bool:
    """Whether checkpoints record ``callback``: it has settings or keeps state."""
    return callback.get_config() is not None or overrides(callback, "get_state")


def settings_of(callback: Callback) -> dict[str, Any]:
    """``callback``'s settings as a checkpoint gives them back (through the JSON codec)."""
    config = callback.get_config()
    return {} if config is None else decode(encode(config, f"{type(callback).__name__} settings"))


def match_callbacks(saved: list[SavedCallback], callbacks: list[tuple[Callback, dict[str, Any]]],
                    version: int) -> tuple[list[tuple[Callback, SavedCallback]], list[str]]:
    """Pair each recorded callback with the run's of the same class and settings.

    ``callbacks`` are the run's that take part, with their :func:`settings_of`.
    Returns the pairs and the differences (empty when every callback that takes
    part has exactly one partner). The order of the callbacks does not matter.
    Version 1 recorded no settings: only its callbacks with state are paired, by
    class name.
    """
    current = [(cb, s) for cb, s in callbacks if version > 1 or overrides(cb, "get_state")]
    left = list(saved)
    pairs: list[tuple[Callback, SavedCallback]] = []
    unmatched: list[tuple[Callback, dict[str, Any]]] = []
    for cb, settings in current:
        kind = type(cb).__name__
        entry = next((e for e in left if e.kind == kind
                      and (e.settings is None or e.settings == settings)), None)
        if entry is None:
            unmatched.append((cb, settings))
        else:
            left.remove(entry)
            pairs.append((cb, entry))
    differences = []
    for cb, settings in unmatched:
        kind = type(cb).__name__
        entry = next((e for e in left if e.kind == kind), None)
        if entry is None:
            differences.append(f"callback {kind} is new (the checkpoint was written "
                               "without it)")
            continue
        left.remove(entry)
        old = entry.settings or {}
        changed = [f"{key} was {short_repr(old.get(key))}, now {short_repr(settings.get(key))}"
                   for key in sorted(set(old) | set(settings)) if old.get(key) != settings.get(key)]
        differences.append(f"callback {kind}: {', '.join(changed)}")
    differences += [f"callback {e.kind} was used when the checkpoint was written and is "
                    "missing now" for e in left]
    return pairs, differences


# -- checks the callbacks' set_state share ---------------------------------------------------


def check_weights(network: Network, value: Any, where: str) -> dict[str, np.ndarray]:
    """``value`` as saved weights of ``network``: its names, shapes and dtype; else ValueError."""
    if not isinstance(value, dict) or set(value) != set(network.params):
        raise ValueError(f"{where} must hold the weights {sorted(network.params)}")
    for name, array in value.items():
        expected = network.params[name]
        if not isinstance(array, np.ndarray) or array.shape != expected.shape \
                or array.dtype != expected.dtype:
            raise ValueError(f"{where}[{name!r}] must be an array of shape {expected.shape} "
                             f"and dtype {expected.dtype}")
    return {name: np.array(array) for name, array in value.items()}


def check_keys(state: Any, keys: set[str], where: str) -> dict[str, Any]:
    """``state`` as a dict with exactly ``keys``; else ValueError."""
    if not isinstance(state, dict) or set(state) != keys:
        raise ValueError(f"{where} state must have exactly the keys {sorted(keys)}")
    return state


def short_repr(value: Any) -> str:
    """repr(value), cut to a length a message can show."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
