"""Writing model files: the network, its description and arrays, atomically.

See :mod:`synnet.io.model_file` for the layout. Every layer is checked against
the registry the reader enforces (:func:`synnet.core.layers.layer_from_config`),
so whatever saves also loads.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections.abc import Mapping
from typing import IO, Any

import numpy as np
from numpy.lib import format as npformat

from synnet._version import __version__
from synnet.core.history import History
from synnet.core.layers import layer_from_config
from synnet.core.network import Network
from synnet.core.optimizers import OPTIMIZERS, Optimizer
from synnet.errors import ConfigError
from synnet.io.atomic import atomic_write
from synnet.io.json_codec import encode
from synnet.io.model_file import (
    EXTRA_DTYPES,
    EXTRA_NAME,
    FORMAT,
    FORMAT_VERSION,
    HEADER_NAME,
    MAX_HEADER_BYTES,
    MAX_HEADER_ITEMS,
    PARAM_DTYPES,
    ModelPart,
    header_items,
)


def _history_json(history: Any) -> dict[str, Any] | None:
    if history is None:
        return None
    if isinstance(history, History):
        epochs, logs = history.epoch, history.history
    elif isinstance(history, Mapping):
        epochs = history.get("epoch", list(range(len(next(iter(history.values()), [])))))
        logs = {k: v for k, v in history.items() if k != "epoch"}
    else:
        raise ConfigError(f"history must be a History or a dict of lists, "
                          f"got {type(history).__name__}")
    return {"epoch": encode(list(epochs), "history"),
            # None (a missing value) is NaN, as the reader gives it back.
            "logs": encode({k: [math.nan if x is None else float(x) for x in v]
                            for k, v in logs.items()}, "history")}


def save_model(
    path: str | os.PathLike[str],
    network: Network,
    *,
    preprocessor: ModelPart | None = None,
    target: ModelPart | None = None,
    metadata: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
    history: Any = None,
    optimizer: Optimizer | None = None,
    extra: Mapping[str, Any] | None = None,
    extra_arrays: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Write ``network`` (and what describes it) to ``path`` atomically.

    Args:
        path: the model file to write (by convention ``*.synnet``).
        network: the network; its weights must be finite.
        preprocessor: the fitted feature preprocessing to apply before the network
            (a :class:`synnet.tabular.preprocessing.Preprocessor`), or None.
        target: the target encoding (a :class:`synnet.tabular.target.TargetEncoder`:
            classes, or regression scaling), or None. ``metadata["feature_names"]``
            names the input columns when there is no preprocessor.
        metadata: free JSON (NumPy scalars and arrays, NaN and infinities are
            written with :mod:`synnet.io.json_codec`).
        training: free JSON describing the training run (settings, data, time).
        history: a :class:`synnet.History` or ``{key: [values]}``; None takes
            ``network.history``.
        optimizer: an optimizer whose state (``state_dict()``) to store, so
            training can resume.
        extra: free JSON for other tools (checkpoints store epoch and RNG here).
        extra_arrays: named arrays (float, int or bool) for other tools.

    Raises:
        ConfigError: before anything is written, when a part is not JSON, a
            weight is not finite, the preprocessing or target does not fit the
            network, or a layer or optimizer is one the reader would refuse.
    """
    check_savable(network, optimizer, preprocessor, target)
    if target is None and isinstance(metadata, Mapping) and "task" in metadata:
        # synnet 0.1.0 took the target from metadata["task"] / ["classes"]; say so
        # rather than write a model that has silently lost its labels.
        raise ConfigError("metadata['task'] does not set the model's target; pass "
                          "target=TargetEncoder(...) (synnet.tabular.target)", params=["target"])
    arrays: dict[str, np.ndarray] = {}
    for name, value in network.params.items():
        if not np.isfinite(value).all():
            raise ConfigError(f"cannot save: weight {name!r} has NaN or inf values")
        arrays[f"params/{name}"] = value
    header: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "network": {"layers": [encode(layer.get_config(), "layer config")
                               for layer in network.layers],
                    "dtype": None if network.dtype is None else network.dtype.name},
        # Only a loss its registered name rebuilds exactly is stored (not a custom one,
        # nor one with another reduction): the reader must not train on another objective.
        "loss": (network.loss.name if network.loss is not None and network.loss.is_default
                 else None),
        "epochs_trained": int(network.epochs_trained),
        "preprocessing": None if preprocessor is None else encode(
            preprocessor.to_config(), "preprocessing"),
        "target": None if target is None else encode(target.to_config(), "target"),
        "metadata": encode(dict(metadata or {}), "metadata"),
        "training": encode(dict(training or {}), "training"),
        "history": _history_json(network.history if history is None else history),
        "optimizer": None,
        "extra": encode(dict(extra or {}), "extra"),
    }
    if optimizer is not None:
        state = optimizer.state_dict()
        slots: dict[str, list[str]] = {}
        for slot, values in state["slots"].items():
            slots[slot] = []
            for name, value in values.items():
                if name not in network.params:
                    raise ConfigError(f"cannot save: optimizer state for {name!r}, which is not "
                                      "a parameter of this network")
                arrays[f"optimizer/{slot}/{name}"] = np.asarray(value)
                slots[slot].append(name)
        header["optimizer"] = {"name": state["name"],
                               "config": encode(state["config"], "optimizer config"),
                               "iterations": int(state["iterations"]), "slots": slots}
    for name, value in (extra_arrays or {}).items():
        if not isinstance(name, str) or not EXTRA_NAME.fullmatch(name) or ".." in name:
            raise ConfigError(f"extra array name {name!r} must be letters, digits, '_', '.', '-'")
        arrays[f"extra/{name}"] = np.asarray(value)
    for key, value in arrays.items():
        arr = np.ascontiguousarray(value)
        if arr.dtype.kind in "fc" or arr.dtype.kind in "iu":
            arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        arrays[key] = arr
        allowed = EXTRA_DTYPES if key.startswith("extra/") else PARAM_DTYPES
        if arr.dtype.str not in allowed:
            raise ConfigError(f"cannot save array {key!r} of dtype {arr.dtype}; "
                              f"allowed: {', '.join(allowed)}")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ConfigError(f"cannot save: array {key!r} has NaN or inf values")
    header["arrays"] = {key: {"shape": list(arr.shape), "dtype": arr.dtype.str}
                        for key, arr in arrays.items()}
    header_bytes = json.dumps(header, allow_nan=False, ensure_ascii=False,
                              indent=1).encode("utf-8")
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise ConfigError(f"the model header would be {len(header_bytes):,} bytes, more than "
                          f"the {MAX_HEADER_BYTES:,} a model file may have; store less metadata")
    items = header_items(header_bytes.decode("utf-8"))
    if items > MAX_HEADER_ITEMS:
        raise ConfigError(f"the model header would hold about {items:,} JSON values, more than "
                          f"the {MAX_HEADER_ITEMS:,} a model file may have; store less metadata")

    def write(f: IO[bytes]) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            _write_member(zf, HEADER_NAME, header_bytes)
            for key, arr in arrays.items():
                buf = io.BytesIO()
                npformat.write_array(buf, arr, allow_pickle=False)
                _write_member(zf, f"{key}.npy", buf.getvalue())

    atomic_write(path, write)


def _write_member(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    # A fixed timestamp: the same model always gives the same bytes.
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)






def check_savable(network: Network, optimizer: Optimizer | None = None,
                  preprocessor: ModelPart | None = None, target: ModelPart | None = None) -> None:
    """Refuse, before anything is written, what the reader would refuse.

    Every layer must rebuild from its config through the registry the reader
    uses (:func:`synnet.core.layers.layer_from_config`) as the same class; an
    optimizer whose state is saved must be a registered one; the preprocessing
    and the target must fit the network's inputs and outputs.

    Raises:
        ConfigError: naming the layer, optimizer or part and what is wrong.
    """
    for part in (preprocessor, target):
        problem = None if part is None else part.mismatch(network)
        if problem:
            raise ConfigError(f"cannot save: {problem}")
    for i, layer in enumerate(network.layers):
        try:
            rebuilt = layer_from_config(layer.get_config())
        except ConfigError as exc:
            raise ConfigError(f"cannot save layer {i} ({type(layer).__name__}): {exc}. Model "
                              "files hold only the registered layers and activations") from None
        if type(rebuilt) is not type(layer):
            raise ConfigError(f"cannot save layer {i}: a {type(layer).__name__} would load back "
                              f"as a {type(rebuilt).__name__}; model files hold only the "
                              "registered layer classes")
    if optimizer is not None and OPTIMIZERS.get(optimizer.name) is not type(optimizer):
        raise ConfigError(f"cannot save the state of optimizer {type(optimizer).__name__} "
                          f"(name {optimizer.name!r}); model files hold only the registered "
                          f"optimizers: {', '.join(sorted(OPTIMIZERS))}")
