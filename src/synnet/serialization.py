"""Safe model files: plain arrays plus a JSON header in a zip archive. Never pickle.

File layout (a zip archive, every member stored uncompressed)::

    header.json                 format name and version, library version, the
                                layers (from the fixed registries
                                synnet.layers.LAYERS / synnet.activations.ACTIVATIONS),
                                dtype, loss, preprocessing, target, metadata,
                                training settings, history, optimizer, extra JSON,
                                and a manifest of every array: shape and dtype
    params/<name>.npy           one per parameter ("params/0.W.npy", ...)
    optimizer/<slot>/<name>.npy optimizer state, when saved ("optimizer/m/0.W.npy")
    extra/<name>.npy            extra arrays, when saved (for checkpoints)

Loading trusts nothing in the file. It accepts exactly the expected members
(derived from the layer specs, not from the file's own list), caps every size
before reading (the file, the header, each member against the shape the header
declares), rejects compressed or encrypted members, reads each ``.npy`` with
``allow_pickle=False`` after checking its header against the manifest, checks
every value is finite, rebuilds layers, optimizer and preprocessing only from
fixed registries with plain JSON scalars, and rejects a newer format version.
Anything wrong raises :class:`synnet.errors.ModelFileError`; nothing in a file
is ever executed.

Saving writes a temporary file in the target's folder, flushes, fsyncs and
renames it over the target (:func:`atomic_write`), so a crash or a failed save
never leaves a half-written model behind.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import re
import secrets
import stat
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeGuard

import numpy as np
from numpy.lib import format as npformat

from synnet.activations import ACTIVATIONS, Activation
from synnet.base import Layer
from synnet.callbacks import History
from synnet.errors import ConfigError, ModelFileError
from synnet.layers import LAYERS, Dense
from synnet.losses import LOSSES, get_loss
from synnet.network import Network
from synnet.optimizers import OPTIMIZERS, Optimizer
from synnet.preprocessing import Preprocessor, TargetEncoder

if TYPE_CHECKING:
    from synnet.model import Model

FORMAT = "synnet-model"
FORMAT_VERSION = 1
HEADER_NAME = "header.json"

#: Largest header.json accepted, in bytes.
MAX_HEADER_BYTES = 16 * 2**20
#: Largest model file accepted by default, in bytes (``load_model(max_bytes=...)``).
DEFAULT_MAX_BYTES = 4 * 2**30
#: Most members and layers a model file may have.
MAX_MEMBERS = 100_000
MAX_LAYERS = 10_000
#: Largest .npy header (the bytes before the array data).
MAX_NPY_HEADER = 4096

PARAM_DTYPES = ("<f4", "<f8")
EXTRA_DTYPES = ("<f4", "<f8", "<i4", "<i8", "|b1")
_EXTRA_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
_TOP_KEYS_REQUIRED = {"format", "format_version", "library_version", "network", "arrays"}
_TOP_KEYS_OPTIONAL = {"loss", "epochs_trained", "preprocessing", "target", "metadata",
                      "training", "history", "optimizer", "extra"}


# -- atomic writes ----------------------------------------------------------------------


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(f)`` on a temporary file next to ``path``, then rename it to ``path``.

    The temporary file is flushed and fsynced before ``os.replace``, so
    ``path`` holds either its old content or the complete new one, never a
    partial file; on any error the temporary file is removed and ``path`` is
    untouched.
    """
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(target))
    folder = target.parent
    tmp = folder / f".{target.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# -- the loaded file --------------------------------------------------------------------


@dataclass
class ModelFile:
    """Everything a model file holds, validated.

    Attributes:
        network: the rebuilt network with its weights (its ``loss``,
            ``history``, ``epochs_trained`` and, when saved, ``optimizer`` set).
        preprocessor: the fitted feature preprocessing, or None.
        target: the target encoding (classes or regression scaling), or None.
        metadata: free JSON (feature names, estimator settings, ...).
        training: free JSON describing how the model was trained.
        optimizer: the optimizer with its state restored, or None.
        extra: free JSON for checkpoints and other tools.
        extra_arrays: named arrays saved with ``extra_arrays``.
        header: the whole parsed header.
    """

    network: Network
    preprocessor: Preprocessor | None = None
    target: TargetEncoder | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    optimizer: Optimizer | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    extra_arrays: dict[str, np.ndarray] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def history(self) -> History | None:
        return self.network.history


# -- saving -----------------------------------------------------------------------------


def _jsonify(value: Any, where: str, nonfinite_as_none: bool = False) -> Any:
    """Plain JSON values from dicts, lists, numbers, strings and NumPy scalars/arrays."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        if nonfinite_as_none:
            return None
        raise ConfigError(f"{where} holds a non-finite number ({value}); model files hold "
                          "finite numbers only")
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"{where} has a non-string key {k!r}; JSON keys are strings")
            out[k] = _jsonify(v, f"{where}[{k!r}]", nonfinite_as_none)
        return out
    if isinstance(value, (list, tuple)):
        return [_jsonify(v, f"{where}[{i}]", nonfinite_as_none) for i, v in enumerate(value)]
    raise ConfigError(f"{where} holds a {type(value).__name__}; model files hold only JSON "
                      "values (dicts, lists, strings, numbers, booleans, null) and arrays")


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
    return {"epoch": _jsonify(list(epochs), "history"),
            "logs": _jsonify({k: list(v) for k, v in logs.items()}, "history", True)}


def _target_from_metadata(metadata: Mapping[str, Any]) -> TargetEncoder | None:
    """A target encoding from scikit-learn style metadata: task and classes."""
    task = metadata.get("task")
    if task is None:
        return None
    name = metadata.get("target_name")
    if task == "classification":
        if "classes" not in metadata:
            raise ConfigError("metadata with task 'classification' needs 'classes'")
        return TargetEncoder.from_config({"task": task, "classes": _jsonify(
            list(np.asarray(metadata["classes"], dtype=object)), "classes"), "name": name})
    return TargetEncoder(task, name if isinstance(name, str) else None)


def _check_consistent(network: Network, preprocessor: Preprocessor | None,
                      target: TargetEncoder | None) -> str | None:
    """Why the parts do not fit together, or None when they do."""
    if preprocessor is not None and preprocessor.n_outputs != network.n_inputs:
        return (f"the preprocessing produces {preprocessor.n_outputs} features but the network "
                f"has {network.n_inputs} inputs")
    if target is not None and target.task == "classification":
        assert target.classes is not None
        k = len(target.classes)
        if network.n_outputs != (1 if k == 2 else k) and network.n_outputs != k:
            return (f"the target has {k} classes but the network has {network.n_outputs} "
                    "outputs (need 1 for two classes, else one per class)")
    if target is not None and target.task == "regression" and target.mean:
        if len(target.mean) != network.n_outputs:
            return (f"the target scaling has {len(target.mean)} outputs but the network has "
                    f"{network.n_outputs}")
    return None


def save_model(
    path: str | os.PathLike[str],
    network: Network,
    *,
    preprocessor: Preprocessor | None = None,
    target: TargetEncoder | None = None,
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
        preprocessor: fitted feature preprocessing to apply before the network.
        target: the target encoding. When None and ``metadata`` has
            ``"task"`` ("classification" / "regression") and, for
            classification, ``"classes"`` (the original labels, in the order
            of the network's outputs), the target is taken from there; this is
            how the scikit-learn estimators save. ``metadata["feature_names"]``
            names the input columns when there is no preprocessor.
        metadata: free JSON stored as is (NumPy scalars and arrays are converted).
        training: free JSON describing the training run (settings, data, time).
        history: a :class:`synnet.callbacks.History` or ``{key: [values]}``;
            None takes ``network.history``. Non-finite values are stored as null.
        optimizer: an optimizer whose state (``state_dict()``) to store, so
            training can resume.
        extra: free JSON for other tools (checkpoints store epoch and RNG here).
        extra_arrays: named arrays (float, int or bool) for other tools.

    Raises:
        ConfigError: a part is not JSON, a weight is not finite, or the parts
            do not fit together (feature count, number of outputs).
    """
    metadata = dict(_jsonify(dict(metadata or {}), "metadata"))
    if target is None:
        target = _target_from_metadata(metadata)
    problem = _check_consistent(network, preprocessor, target)
    if problem:
        raise ConfigError(f"cannot save: {problem}")
    arrays: dict[str, np.ndarray] = {}
    for name, value in network.params.items():
        if not np.isfinite(value).all():
            raise ConfigError(f"cannot save: weight {name!r} has NaN or inf values")
        arrays[f"params/{name}"] = value
    header: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": _library_version(),
        "network": {"layers": [_jsonify(layer.get_config(), "layer config")
                               for layer in network.layers],
                    "dtype": None if network.dtype is None else network.dtype.name},
        # Only registered losses can be rebuilt from a name; a custom one is left out.
        "loss": (network.loss.name if network.loss is not None
                 and LOSSES.get(network.loss.name) is type(network.loss) else None),
        "epochs_trained": int(network.epochs_trained),
        "preprocessing": None if preprocessor is None else _jsonify(
            preprocessor.to_config(), "preprocessing"),
        "target": None if target is None else _jsonify(target.to_config(), "target"),
        "metadata": metadata,
        "training": _jsonify(dict(training or {}), "training"),
        "history": _history_json(network.history if history is None else history),
        "optimizer": None,
        "extra": _jsonify(dict(extra or {}), "extra"),
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
                               "config": _jsonify(state["config"], "optimizer config"),
                               "iterations": int(state["iterations"]), "slots": slots}
    for name, value in (extra_arrays or {}).items():
        if not isinstance(name, str) or not _EXTRA_NAME.fullmatch(name) or ".." in name:
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


def _library_version() -> str:
    from synnet import __version__

    return __version__


# -- loading ----------------------------------------------------------------------------


def load_model(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> ModelFile:
    """Read and validate a model file written by :func:`save_model`.

    Args:
        path: the model file.
        max_bytes: refuse files larger than this (default 4 GiB).

    Raises:
        ModelFileError: the file is not a synnet model (foreign), is corrupt or
            truncated, is too large, or was written by a newer synnet.
        OSError: the file cannot be opened (missing, a folder, no permission).
    """
    where = os.fspath(path)
    with open(path, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ModelFileError(f"{where} is not a regular file")
        if info.st_size > max_bytes:
            raise ModelFileError(f"{where} is {info.st_size:,} bytes, more than the "
                                 f"{max_bytes:,} allowed (raise max_bytes to load it)")
        try:
            return _Reader(f, where, info.st_size).read()
        except ModelFileError:
            raise
        except Exception as exc:  # zipfile, json, numpy: all mean a bad file
            raise ModelFileError(f"{where} is not a valid synnet model file "
                                 f"({type(exc).__name__}: {exc})") from exc


def _bad(where: str, message: str) -> ModelFileError:
    return ModelFileError(f"{where}: {message}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} in JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate JSON key {key!r}")
        out[key] = value
    return out


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_scalar(v: Any) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    return v is None or isinstance(v, (bool, int, str))


class _Reader:
    """One validation pass over an open model file."""

    def __init__(self, f: IO[bytes], where: str, size: int) -> None:
        self.f, self.where, self.size = f, where, size

    def fail(self, message: str) -> ModelFileError:
        return _bad(self.where, message)

    def read(self) -> ModelFile:
        magic = self.f.read(4)
        self.f.seek(0)
        if magic[:2] != b"PK":
            raise self.fail(_foreign_kind(magic))
        with zipfile.ZipFile(self.f) as zf:
            infos = self._members(zf)
            header = self._header(zf, infos)
            network = self._network(header)
            manifest = self._manifest(header, network)
            expected = {HEADER_NAME} | {f"{key}.npy" for key in manifest}
            if set(infos) != expected:
                extra = sorted(set(infos) - expected)
                absent = sorted(expected - set(infos))
                raise self.fail(f"unexpected members {extra} / missing members {absent}")
            arrays = {key: self._array(zf, infos[f"{key}.npy"], *spec)
                      for key, spec in manifest.items()}
        return self._assemble(header, network, arrays)

    # -- archive -----------------------------------------------------------------
    def _members(self, zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise self.fail(f"{len(infos):,} members, more than the {MAX_MEMBERS:,} allowed")
        out: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.filename in out:
                raise self.fail(f"member {info.filename!r} appears twice")
            if info.flag_bits & 0x1:
                raise self.fail(f"member {info.filename!r} is encrypted")
            if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
                raise self.fail(f"member {info.filename!r} is compressed; synnet model files "
                                "store members uncompressed")
            out[info.filename] = info
        if HEADER_NAME not in out:
            raise self.fail(f"no {HEADER_NAME}: this zip archive is not a synnet model file")
        return out

    def _header(self, zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo]) -> dict[str, Any]:
        info = infos[HEADER_NAME]
        if info.file_size > MAX_HEADER_BYTES:
            raise self.fail(f"{HEADER_NAME} is {info.file_size:,} bytes, more than the "
                            f"{MAX_HEADER_BYTES:,} allowed")
        text = zf.read(info).decode("utf-8")
        header = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
        if not isinstance(header, dict):
            raise self.fail(f"{HEADER_NAME} is not a JSON object")
        if header.get("format") != FORMAT:
            raise self.fail(f"format is {header.get('format')!r}, not {FORMAT!r}: this is not "
                            "a synnet model file")
        version = header.get("format_version")
        if not _is_int(version) or version < 1:
            raise self.fail(f"format_version {version!r} is not a positive integer")
        if version > FORMAT_VERSION:
            raise self.fail(
                f"written in model format version {version} by synnet "
                f"{header.get('library_version')!r}; this synnet ({_library_version()}) reads "
                f"format version {FORMAT_VERSION} and older: upgrade synnet to load it")
        keys = set(header)
        if not _TOP_KEYS_REQUIRED <= keys or not keys <= _TOP_KEYS_REQUIRED | _TOP_KEYS_OPTIONAL:
            raise self.fail(f"header keys {sorted(keys)} are not the expected ones "
                            f"(required {sorted(_TOP_KEYS_REQUIRED)})")
        if not isinstance(header["library_version"], str):
            raise self.fail("library_version must be a string")
        for key in ("metadata", "training", "extra"):
            if not isinstance(header.get(key, {}), dict):
                raise self.fail(f"{key} must be a JSON object")
        return header

    # -- network -------------------------------------------------------------------
    def _network(self, header: dict[str, Any]) -> Network:
        spec = header["network"]
        if not isinstance(spec, dict) or set(spec) != {"layers", "dtype"}:
            raise self.fail("network must be an object with 'layers' and 'dtype'")
        dtype = spec["dtype"]
        if dtype not in (None, "float32", "float64"):
            raise self.fail(f"network dtype {dtype!r} is not float32, float64 or null")
        layers = spec["layers"]
        if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
            raise self.fail(f"network layers must be a list of 1 to {MAX_LAYERS} layer specs")
        itemsize = 4 if dtype == "float32" else 8
        built = [self._layer(i, s, itemsize) for i, s in enumerate(layers)]
        # Each layer was capped on its own; their sum must fit in the file too, since
        # building the network allocates every layer's weights (and gradients) at once.
        declared = sum((layer.in_features + 1) * layer.out_features * itemsize
                       for layer in built if isinstance(layer, Dense))
        if declared > self.size:
            raise self.fail(f"the layers declare {declared:,} bytes of weights, more than the "
                            f"file's {self.size:,} bytes")
        try:  # zeros: no random draws for weights the file is about to overwrite
            return Network(built, dtype=dtype, init="zeros")
        except (ConfigError, TypeError) as exc:
            raise self.fail(f"the layers do not form a network ({exc})") from None

    def _layer(self, i: int, spec: Any, itemsize: int) -> Layer:
        if not isinstance(spec, dict) or spec.get("kind") not in LAYERS:
            kind = spec.get("kind") if isinstance(spec, dict) else spec
            raise self.fail(f"layer {i} has unknown kind {kind!r}; known: {sorted(LAYERS)}")
        kwargs: dict[str, Any] = {}
        for key, value in spec.items():
            if key == "kind":
                continue
            if key == "activation":
                kwargs[key] = self._activation(i, value)
            elif _is_scalar(value):
                kwargs[key] = value
            else:
                raise self.fail(f"layer {i}: setting {key!r} must be a plain number, string "
                                "or boolean")
        if spec["kind"] == "dense":  # cap the allocation before building: weights are in the file
            n_in, n_out = kwargs.get("in_features"), kwargs.get("out_features")
            if not (_is_int(n_in) and _is_int(n_out) and n_in > 0 and n_out > 0):
                raise self.fail(f"layer {i}: in_features and out_features must be positive ints")
            if (n_in + 1) * n_out * itemsize > self.size:
                raise self.fail(f"layer {i} declares {n_in} x {n_out} weights, more than the "
                                "file holds")
        try:
            layer = LAYERS[spec["kind"]](**kwargs)
        except (ConfigError, TypeError, ValueError) as exc:
            raise self.fail(f"layer {i} ({spec['kind']}): {exc}") from None
        if layer.get_config() != spec:
            raise self.fail(f"layer {i}: spec {spec} does not describe a {spec['kind']} layer")
        return layer

    def _activation(self, i: int, spec: Any) -> Activation:
        if not isinstance(spec, dict) or spec.get("kind") not in ACTIVATIONS:
            raise self.fail(f"layer {i}: unknown activation {spec!r}; known: "
                            f"{sorted(ACTIVATIONS)}")
        kwargs = {k: v for k, v in spec.items() if k != "kind"}
        if not all(_is_scalar(v) for v in kwargs.values()):
            raise self.fail(f"layer {i}: activation settings must be plain numbers")
        try:
            act = ACTIVATIONS[spec["kind"]](**kwargs)
        except (ConfigError, TypeError, ValueError) as exc:
            raise self.fail(f"layer {i}: activation {spec['kind']}: {exc}") from None
        if act.get_config() != spec:
            raise self.fail(f"layer {i}: activation spec {spec} is not canonical")
        return act

    # -- arrays --------------------------------------------------------------------
    def _manifest(self, header: dict[str, Any],
                  network: Network) -> dict[str, tuple[tuple[int, ...], str]]:
        """The arrays the file must hold, derived from the network, optimizer and extras."""
        declared = header["arrays"]
        if not isinstance(declared, dict):
            raise self.fail("arrays must be a JSON object")
        expected: dict[str, tuple[tuple[int, ...], str | None]] = {
            f"params/{name}": (p.shape, p.dtype.str) for name, p in network.params.items()}
        opt = header.get("optimizer")
        if opt is not None:
            if not isinstance(opt, dict) or set(opt) != {"name", "config", "iterations", "slots"}:
                raise self.fail("optimizer must have name, config, iterations and slots")
            proto = _optimizer_prototype(opt["name"])
            if proto is None:
                raise self.fail(f"unknown optimizer {opt['name']!r}; known: {sorted(OPTIMIZERS)}")
            slots = opt["slots"]
            if not isinstance(slots, dict) or not set(slots) <= set(proto.slot_names):
                raise self.fail(f"optimizer slots must be among {list(proto.slot_names)}")
            for slot, names in slots.items():
                if not isinstance(names, list) or not set(names) <= set(network.params) \
                        or len(set(names)) != len(names):
                    raise self.fail(f"optimizer slot {slot!r} must list parameter names")
                for name in names:
                    p = network.params[name]
                    expected[f"optimizer/{slot}/{name}"] = (p.shape, None)
        for key in declared:
            if key.startswith("extra/"):
                name = key[len("extra/"):]
                if not _EXTRA_NAME.fullmatch(name) or ".." in name:
                    raise self.fail(f"bad extra array name {name!r}")
                expected[key] = ((), None)  # shape from the manifest, checked below
        if set(declared) != set(expected):
            raise self.fail(f"the array manifest {sorted(declared)} does not match the network "
                            f"(expected {sorted(expected)})")
        out: dict[str, tuple[tuple[int, ...], str]] = {}
        total = 0
        for key, (shape, dtype) in expected.items():
            spec = declared[key]
            if not isinstance(spec, dict) or set(spec) != {"shape", "dtype"}:
                raise self.fail(f"array {key!r}: manifest entry needs shape and dtype")
            got_shape, got_dtype = spec["shape"], spec["dtype"]
            if not (isinstance(got_shape, list) and len(got_shape) <= 32
                    and all(_is_int(d) and d >= 0 for d in got_shape)):
                raise self.fail(f"array {key!r}: bad shape {got_shape!r}")
            allowed = EXTRA_DTYPES if key.startswith("extra/") else PARAM_DTYPES
            if got_dtype not in allowed:
                raise self.fail(f"array {key!r}: dtype {got_dtype!r} not allowed "
                                f"(allowed: {', '.join(allowed)})")
            if key.startswith("extra/"):
                shape = tuple(got_shape)
            elif tuple(got_shape) != shape or (dtype is not None and got_dtype != dtype):
                raise self.fail(f"array {key!r}: the manifest says shape {tuple(got_shape)} "
                                f"{got_dtype}, the network needs {shape} {dtype or ''}".rstrip())
            total += math.prod(shape) * np.dtype(got_dtype).itemsize
            if total > self.size:
                raise self.fail("the arrays declared in the header are larger than the file")
            out[key] = (tuple(shape), got_dtype)
        return out

    def _array(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, shape: tuple[int, ...],
               dtype: str) -> np.ndarray:
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        if not nbytes <= info.file_size <= nbytes + MAX_NPY_HEADER:
            raise self.fail(f"member {info.filename!r} is {info.file_size:,} bytes; an array of "
                            f"shape {shape} {dtype} needs {nbytes:,} plus a short header")
        data = zf.read(info)  # CRC-checked by zipfile
        fp = io.BytesIO(data)
        version = npformat.read_magic(fp)
        if version == (1, 0):
            got_shape, fortran, got_dtype = npformat.read_array_header_1_0(
                fp, max_header_size=MAX_NPY_HEADER)
        elif version == (2, 0):
            got_shape, fortran, got_dtype = npformat.read_array_header_2_0(
                fp, max_header_size=MAX_NPY_HEADER)
        else:
            raise self.fail(f"member {info.filename!r}: unsupported .npy version {version}")
        if got_dtype.hasobject or got_dtype.str != dtype or tuple(got_shape) != shape \
                or fortran or len(data) - fp.tell() != nbytes:
            raise self.fail(f"member {info.filename!r} holds {got_dtype} {got_shape}, but the "
                            f"header declares {dtype} {shape}")
        fp.seek(0)
        arr = npformat.read_array(fp, allow_pickle=False, max_header_size=MAX_NPY_HEADER)
        if arr.shape != shape or arr.dtype.str != dtype:  # pragma: no cover - checked above
            raise self.fail(f"member {info.filename!r} does not match its header")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise self.fail(f"member {info.filename!r} has NaN or inf values")
        return np.array(arr)  # writable, owns its memory

    # -- the rest ------------------------------------------------------------------
    def _assemble(self, header: dict[str, Any], network: Network,
                  arrays: dict[str, np.ndarray]) -> ModelFile:
        network.set_weights({key[len("params/"):]: value for key, value in arrays.items()
                             if key.startswith("params/")})
        loss = header.get("loss")
        if loss is not None:
            if loss not in LOSSES:
                raise self.fail(f"unknown loss {loss!r}; known: {sorted(LOSSES)}")
            network.loss = get_loss(loss)
            try:
                network.loss.check_output(network.n_outputs)
            except ConfigError as exc:
                raise self.fail(str(exc)) from None
        epochs = header.get("epochs_trained", 0)
        if not _is_int(epochs) or epochs < 0:
            raise self.fail("epochs_trained must be an int >= 0")
        network.epochs_trained = epochs
        network.history = self._history(header.get("history"))
        optimizer = self._optimizer(header.get("optimizer"), arrays)
        network.optimizer = optimizer
        try:
            pre = header.get("preprocessing")
            preprocessor = None if pre is None else Preprocessor.from_config(pre)
            tgt = header.get("target")
            target = None if tgt is None else TargetEncoder.from_config(tgt)
        except (ValueError, ConfigError) as exc:
            raise self.fail(str(exc)) from None
        problem = _check_consistent(network, preprocessor, target)
        if problem:
            raise self.fail(problem)
        return ModelFile(
            network=network, preprocessor=preprocessor, target=target,
            metadata=header.get("metadata", {}), training=header.get("training", {}),
            optimizer=optimizer, extra=header.get("extra", {}),
            extra_arrays={key[len("extra/"):]: value for key, value in arrays.items()
                          if key.startswith("extra/")},
            header=header)

    def _history(self, spec: Any) -> History | None:
        if spec is None:
            return None
        if not isinstance(spec, dict) or set(spec) != {"epoch", "logs"}:
            raise self.fail("history must have 'epoch' and 'logs'")
        epochs, logs = spec["epoch"], spec["logs"]
        ok = isinstance(epochs, list) and all(_is_int(e) for e in epochs) and \
            isinstance(logs, dict) and all(
                isinstance(v, list) and len(v) == len(epochs)
                and all(x is None or (_is_scalar(x) and not isinstance(x, (bool, str)))
                        for x in v) for v in logs.values())
        if not ok:
            raise self.fail("history: epoch must list ints and every log a number per epoch")
        history = History()
        history.epoch = list(epochs)
        history.history = {k: [math.nan if x is None else float(x) for x in v]
                           for k, v in logs.items()}
        return history

    def _optimizer(self, spec: Any, arrays: dict[str, np.ndarray]) -> Optimizer | None:
        if spec is None:
            return None
        proto = _optimizer_prototype(spec["name"])
        assert proto is not None  # checked with the manifest
        config = spec["config"]
        defaults = proto.get_config()
        if not isinstance(config, dict) or set(config) != set(defaults) or not all(
                _is_scalar(v) and not isinstance(v, str) for v in config.values()):
            raise self.fail(f"optimizer config must set exactly {sorted(defaults)} to numbers")
        iterations = spec["iterations"]
        if not _is_int(iterations) or iterations < 0:
            raise self.fail("optimizer iterations must be an int >= 0")
        try:
            optimizer = type(proto)(**config)
        except (ConfigError, TypeError) as exc:
            raise self.fail(f"optimizer {spec['name']}: {exc}") from None
        slots = {slot: {name: arrays[f"optimizer/{slot}/{name}"] for name in names}
                 for slot, names in spec["slots"].items()}
        optimizer.load_state_dict({"name": proto.name, "config": optimizer.get_config(),
                                   "iterations": iterations, "slots": slots})
        return optimizer


def _optimizer_prototype(name: Any) -> Optimizer | None:
    """A default instance of the registered optimizer ``name`` (its class, slots, settings)."""
    factory = OPTIMIZERS.get(name) if isinstance(name, str) else None
    return None if factory is None else factory()


def _foreign_kind(magic: bytes) -> str:
    """A message naming what a non-zip file probably is."""
    if not magic:
        return "the file is empty, not a synnet model file"
    if magic[:1] == b"\x80" or magic[:2] in (b"(d", b"(l", b"}q", b"]q"):
        return "this looks like a pickle file; synnet model files are never pickles"
    if magic[:4] == b"\x93NUM":
        return "this is a bare .npy array, not a synnet model file"
    if magic[:4] == b"\x89HDF":
        return "this is an HDF5 file (Keras?), not a synnet model file"
    return "not a synnet model file (it is not a zip archive)"


# -- the public shortcuts ---------------------------------------------------------------


def save_network(path: str | os.PathLike[str], network: Network, **kwargs: Any) -> None:
    """``Network.save``: the network alone (plus its loss and history)."""
    save_model(path, network, **kwargs)


def load_network(path: str | os.PathLike[str]) -> Network:
    """``Network.load``: the network stored in a model file (weights, loss, history)."""
    return load_model(path).network


def save(path: str | os.PathLike[str], model: Model | Network) -> None:
    """Save a :class:`synnet.model.Model` or a bare :class:`synnet.Network`."""
    if isinstance(model, Network):
        save_model(path, model)
    else:
        model.save(path)


def load(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> Model:
    """``synnet.load``: a model file as a :class:`synnet.model.Model` (predict, predict_proba)."""
    from synnet.model import Model

    return Model.from_file(load_model(path, max_bytes=max_bytes))
