"""Reading model files: trust nothing in the file.

Loading opens only regular files (a FIFO is refused without blocking), counts
the archive's members from its end record before zipfile parses the directory,
accepts exactly the expected members (derived from the layer specs,
not from the file's own list), caps every size before reading (the file, the
header and its number of JSON values, each member against the shape the
header declares), rejects compressed
or encrypted members, reads each ``.npy`` with ``allow_pickle=False`` after
checking its header against the manifest, checks every value is finite,
rebuilds layers and optimizer only from fixed registries with plain JSON
scalars, and rejects a newer format version. Anything wrong raises
:class:`synnet.errors.ModelFileError`; nothing in a file is ever executed.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import stat
import struct
import zipfile
from typing import IO, Any, TypeGuard

import numpy as np
from numpy.lib import format as npformat

from synnet._validation import is_plain_scalar
from synnet._version import __version__
from synnet.core.history import History
from synnet.core.layer import Layer
from synnet.core.layers import Dense, layer_from_config
from synnet.core.losses import LOSSES, get_loss
from synnet.core.network import Network
from synnet.core.optimizers import OPTIMIZERS, Optimizer
from synnet.errors import ConfigError, ModelFileError
from synnet.io.atomic import file_kind
from synnet.io.json_codec import decode
from synnet.io.model_file import (
    DEFAULT_MAX_BYTES,
    EXTRA_DTYPES,
    EXTRA_NAME,
    FORMAT,
    FORMAT_VERSION,
    HEADER_NAME,
    MAX_HEADER_BYTES,
    MAX_HEADER_ITEMS,
    MAX_LAYERS,
    MAX_MEMBERS,
    MAX_NPY_HEADER,
    PARAM_DTYPES,
    TOP_KEYS_OPTIONAL,
    TOP_KEYS_REQUIRED,
    ModelFile,
    header_items,
)


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
    with open_regular(path) as f:
        info = os.fstat(f.fileno())
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


def open_regular(path: str | os.PathLike[str]) -> IO[bytes]:
    """``path`` opened for binary reading; ModelFileError unless it is a regular file.

    Opened with O_NONBLOCK, so a FIFO (named pipe) is refused at once instead of
    blocking until some writer appears; the type is checked on the open file,
    so nothing can be swapped in between.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", os.fspath(path))
        if not stat.S_ISREG(mode):
            raise ModelFileError(f"{os.fspath(path)} is {file_kind(mode)}; a model file must "
                                 "be a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


# The zip format's records (APPNOTE.TXT 4.3.12, 4.3.14-16): only the fields used are named.
_EOCD = struct.Struct("<4s4H2LH")  # sig, disks, entries here, entries, size, offset, comment
_ZIP64_LOCATOR = struct.Struct("<4sLQL")  # sig, disk, offset of the ZIP64 record, disks
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")  # ..., entries here, entries, size, offset
# A central-directory record (46 bytes before its name, extra field and comment):
# (sig, 24 bytes, name length, extra length, comment length, 12 bytes).
_CD_RECORD = struct.Struct("<4s24s3H12s")


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
        self._count_members()
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

    def _count_members(self) -> None:
        """Refuse more than MAX_MEMBERS entries before zipfile parses the central directory.

        zipfile builds a ZipInfo for every record in the directory (about 0.5 kB
        each): the count in the end-of-central-directory record (or its ZIP64
        version) is checked first, then the records are walked without keeping
        them, since zipfile reads records for the directory's declared size
        whatever count it declares.
        """
        # The record, its longest comment, and a ZIP64 record and locator before it.
        tail_size = min(self.size, _EOCD.size + 0xFFFF + _ZIP64_EOCD.size + _ZIP64_LOCATOR.size)
        self.f.seek(self.size - tail_size)
        tail = self.f.read(tail_size)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + _EOCD.size > len(tail):
            return  # no directory: zipfile says what is wrong
        _sig, _disk, _cd_disk, _n_disk, count, cd_size, _cd_offset, _comment = \
            _EOCD.unpack_from(tail, at)
        end = self.size - tail_size + at  # where the directory ends
        # A ZIP64 locator just before the record overrides its numbers (as zipfile
        # reads it: the ZIP64 record right before the locator).
        record_at = at - _ZIP64_LOCATOR.size - _ZIP64_EOCD.size
        if record_at >= 0 and tail[at - _ZIP64_LOCATOR.size:at][:4] == b"PK\x06\x07":
            record = tail[record_at:record_at + _ZIP64_EOCD.size]
            if record[:4] == b"PK\x06\x06":
                count, cd_size = _ZIP64_EOCD.unpack(record)[7:9]
                end = self.size - tail_size + record_at
        if count > MAX_MEMBERS:
            raise self.fail(f"the archive lists {count:,} members, more than the "
                            f"{MAX_MEMBERS:,} allowed")
        start = end - cd_size
        if start < 0:
            return  # zipfile reports the bad directory
        self.f.seek(start)
        seen, position = 0, start
        while position + _CD_RECORD.size <= end:
            record = self.f.read(_CD_RECORD.size)
            if len(record) < _CD_RECORD.size or record[:4] != b"PK\x01\x02":
                return  # not a record: zipfile says what is wrong
            seen += 1
            if seen > MAX_MEMBERS:
                raise self.fail(f"the central directory holds more than {MAX_MEMBERS:,} "
                                "members")
            name, extra, comment = _CD_RECORD.unpack(record)[2:5]
            position += _CD_RECORD.size + name + extra + comment
            self.f.seek(position)

    def _header(self, zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo]) -> dict[str, Any]:
        info = infos[HEADER_NAME]
        if info.file_size > MAX_HEADER_BYTES:
            raise self.fail(f"{HEADER_NAME} is {info.file_size:,} bytes, more than the "
                            f"{MAX_HEADER_BYTES:,} allowed")
        text = zf.read(info).decode("utf-8")
        items = header_items(text)
        if items > MAX_HEADER_ITEMS:
            raise self.fail(f"{HEADER_NAME} holds about {items:,} JSON values, more than the "
                            f"{MAX_HEADER_ITEMS:,} allowed")
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
                f"{header.get('library_version')!r}; this synnet ({__version__}) reads "
                f"format version {FORMAT_VERSION} and older: upgrade synnet to load it")
        keys = set(header)
        if not TOP_KEYS_REQUIRED <= keys or not keys <= TOP_KEYS_REQUIRED | TOP_KEYS_OPTIONAL:
            raise self.fail(f"header keys {sorted(keys)} are not the expected ones "
                            f"(required {sorted(TOP_KEYS_REQUIRED)})")
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
        if isinstance(spec, dict) and spec.get("kind") == "dense":
            # Cap the allocation before building: the weights must be in the file.
            n_in, n_out = spec.get("in_features"), spec.get("out_features")
            if not (_is_int(n_in) and _is_int(n_out) and n_in > 0 and n_out > 0):
                raise self.fail(f"layer {i}: in_features and out_features must be positive ints")
            if (n_in + 1) * n_out * itemsize > self.size:
                raise self.fail(f"layer {i} declares {n_in} x {n_out} weights, more than the "
                                "file holds")
        try:
            return layer_from_config(spec)
        except ConfigError as exc:
            raise self.fail(f"layer {i}: {exc}") from None

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
                if not EXTRA_NAME.fullmatch(name) or ".." in name:
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
        for key in ("preprocessing", "target"):
            if not isinstance(header.get(key), (dict, type(None))):
                raise self.fail(f"{key} must be a JSON object or null")
        return ModelFile(
            network=network, preprocessing=decode(header.get("preprocessing")),
            target=decode(header.get("target")), metadata=decode(header.get("metadata", {})),
            training=decode(header.get("training", {})), optimizer=optimizer,
            extra=decode(header.get("extra", {})),
            extra_arrays={key[len("extra/"):]: value for key, value in arrays.items()
                          if key.startswith("extra/")},
            header=header, path=self.where)

    def _history(self, spec: Any) -> History | None:
        if spec is None:
            return None
        if not isinstance(spec, dict) or set(spec) != {"epoch", "logs"}:
            raise self.fail("history must have 'epoch' and 'logs'")
        epochs, logs = spec["epoch"], decode(spec["logs"])
        # null: NaN as files written before the JSON codec was shared stored it.
        ok = isinstance(epochs, list) and all(_is_int(e) for e in epochs) and \
            isinstance(logs, dict) and all(
                isinstance(v, list) and len(v) == len(epochs)
                and all(x is None or (isinstance(x, (int, float)) and not isinstance(x, bool))
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
                is_plain_scalar(v) and not isinstance(v, str) for v in config.values()):
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
