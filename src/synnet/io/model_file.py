"""The model-file format: its name, version, limits, and what a loaded file holds.

File layout (a zip archive, every member stored uncompressed)::

    header.json                 format name and version, library version, the
                                layers (from the fixed registries
                                synnet.core.layers.LAYERS / synnet.core.activations.ACTIVATIONS),
                                dtype, loss, preprocessing, target, metadata,
                                training settings, history, optimizer, extra JSON,
                                and a manifest of every array: shape and dtype
    params/<name>.npy           one per parameter ("params/0.W.npy", ...)
    optimizer/<slot>/<name>.npy optimizer state, when saved ("optimizer/m/0.W.npy")
    extra/<name>.npy            extra arrays, when saved (for checkpoints)

JSON values that JSON cannot hold (NaN, infinity, big integers, small arrays)
are written with the one codec, :mod:`synnet.io.json_codec`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from synnet.core.history import History
from synnet.core.network import Network
from synnet.core.optimizers import Optimizer

FORMAT = "synnet-model"
FORMAT_VERSION = 1
HEADER_NAME = "header.json"

#: Largest header.json accepted, in bytes.
MAX_HEADER_BYTES = 16 * 2**20
#: Largest model file accepted by default, in bytes (``load_model(max_bytes=...)``).
DEFAULT_MAX_BYTES = 4 * 2**30
#: Most JSON values (numbers, strings, lists, objects, ...) header.json may hold:
#: 16 MiB of ``[[],[],...]`` would otherwise parse into ~0.5 GB of Python lists.
MAX_HEADER_ITEMS = 1_000_000
#: Most members and layers a model file may have.
MAX_MEMBERS = 100_000
MAX_LAYERS = 10_000
#: Largest .npy header (the bytes before the array data).
MAX_NPY_HEADER = 4096

PARAM_DTYPES = ("<f4", "<f8")
EXTRA_DTYPES = ("<f4", "<f8", "<i4", "<i8", "|b1")
EXTRA_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
TOP_KEYS_REQUIRED = {"format", "format_version", "library_version", "network", "arrays"}
TOP_KEYS_OPTIONAL = {"loss", "epochs_trained", "preprocessing", "target", "metadata",
                      "training", "history", "optimizer", "extra"}


def header_items(text: str) -> int:
    """An upper bound of the JSON values in ``text``, counted without parsing it.

    Every value but the first follows a comma or opens/follows a container
    bracket or a key's colon; separators inside strings only raise the bound.
    """
    return 1 + sum(text.count(c) for c in ",[{:")


class ModelPart(Protocol):
    """What may be stored beside a network: a fitted preprocessing or target encoding.

    :class:`synnet.tabular.preprocessing.Preprocessor` and
    :class:`synnet.tabular.target.TargetEncoder` are the two; the format holds
    their ``to_config()`` as plain JSON and knows nothing else of them.
    """

    def to_config(self) -> dict[str, Any]:
        """Everything fitted, as plain JSON."""
        ...

    def mismatch(self, network: Network) -> str | None:
        """Why this part does not fit ``network`` (feature or output counts), or None."""
        ...


@dataclass
class ModelFile:
    """Everything a model file holds, validated.

    Attributes:
        network: the rebuilt network with its weights (its ``loss``,
            ``history``, ``epochs_trained`` and, when saved, ``optimizer`` set).
        preprocessing: the feature preprocessing's config (plain JSON), or None;
            :mod:`synnet.tabular` rebuilds and checks it.
        target: the target encoding's config (plain JSON), or None.
        metadata: free JSON (feature names, estimator settings, ...), decoded.
        training: free JSON describing how the model was trained, decoded.
        optimizer: the optimizer with its state restored, or None.
        extra: free JSON for checkpoints and other tools, decoded.
        extra_arrays: named arrays saved with ``extra_arrays``.
        header: the whole parsed header, as stored.
        path: where the file was read from (for messages).
    """

    network: Network
    preprocessing: dict[str, Any] | None = None
    target: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    optimizer: Optimizer | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    extra_arrays: dict[str, np.ndarray] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)
    path: str = "<model file>"

    @property
    def history(self) -> History | None:
        return self.network.history
