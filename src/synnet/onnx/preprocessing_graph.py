"""A fitted :class:`~synnet.tabular.preprocessing.Preprocessor` as ONNX nodes.

One graph input per column, named as the column, shaped (n, 1): numbers as
``double`` (standardized in double precision, as ``transform`` does), text
as ``string`` (one-hot encoded with ``ai.onnx.ml`` ``OneHotEncoder``; a
category training never saw becomes all zeros, as in ``predict``). The
features are concatenated in the preprocessor's order.

Each column kind has one exporter in :data:`COLUMN_KINDS`, with the settings
it reads; a new kind is one more function there. A kind without an exporter,
or a setting an exporter does not read (a column fitted by a newer
preprocessing), is refused by name rather than exported wrong.

Missing values: a model that imputes fills a NaN number, or an empty string
in a text column, as ``predict`` fills a missing value. Without imputation
``predict`` refuses missing values, which an ONNX graph cannot do: a NaN then
gives NaN outputs and an empty string is an unseen category.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto

from synnet.errors import ConfigError
from synnet.onnx.graph import ML_DOMAIN, GraphSink, value_info
from synnet.tabular.preprocessing import CATEGORICAL, NUMERIC, Preprocessor

#: The empty string stands for a missing text value (a string tensor holds no None).
MISSING_TEXT = ""

#: (sink, column spec) -> (the graph input, the column's features (n, width) as double).
ColumnExporter = Callable[[GraphSink, dict[str, Any]], tuple[onnx.ValueInfoProto, str]]


def _numeric(sink: GraphSink, spec: dict[str, Any]) -> tuple[onnx.ValueInfoProto, str]:
    """(x - mean) / scale, with NaN filled first when the model imputes."""
    name = spec["name"]
    x = name
    if "fill" in spec:
        fill = sink.const(np.array(spec["fill"], dtype=np.float64), "fill")
        x = sink.node("Where", [sink.node("IsNaN", [x]), fill, x])
    centred = sink.node("Sub", [x, sink.const(np.array(spec["mean"], dtype=np.float64),
                                              "mean")])
    scaled = sink.node("Div", [centred, sink.const(np.array(spec["scale"], dtype=np.float64),
                                                   "scale")])
    return value_info(name, TensorProto.DOUBLE, [None, 1]), scaled


def _categorical(sink: GraphSink, spec: dict[str, Any]) -> tuple[onnx.ValueInfoProto, str]:
    """One-hot over the training categories; unseen ones are all zeros.

    Infrequent categories (grouped at fit) each get a one-hot column, and when
    the model imputes the empty string gets one more; a 0/1 matrix folds them
    into the shared infrequent output and the fill category's (exact).
    """
    name, cats = spec["name"], list(spec["categories"])
    rare = list(spec.get("infrequent", ()))
    width = len(cats) + (1 if rare else 0)
    code = {c: k for k, c in enumerate(cats)} | {c: len(cats) for c in rare}
    fold = "fill" in spec and MISSING_TEXT not in code
    encoded = [*cats, *rare, *([MISSING_TEXT] if fold else [])]
    onehot = sink.node("OneHotEncoder", [name], domain=ML_DOMAIN, cats_strings=encoded, zeros=1)
    flat = sink.node("Reshape", [onehot, sink.const(np.array([-1, len(encoded)], np.int64),
                                                     "shape")])
    features = sink.node("Cast", [flat], to=TensorProto.DOUBLE)
    if len(encoded) != width:
        targets = [code[c] for c in encoded[:len(cats) + len(rare)]]
        if fold:
            targets.append(code[spec["fill"]])
        matrix = np.eye(width)[targets]
        features = sink.node("MatMul", [features, sink.const(matrix, "fold")])
    return value_info(name, TensorProto.STRING, [None, 1]), features


@dataclass(frozen=True)
class ColumnKind:
    """How one column kind exports, and the column settings that exporter reads."""

    export: ColumnExporter
    settings: frozenset[str]


#: Every column kind the export knows.
COLUMN_KINDS: dict[str, ColumnKind] = {
    NUMERIC: ColumnKind(_numeric, frozenset({"name", "kind", "mean", "scale", "fill"})),
    CATEGORICAL: ColumnKind(_categorical,
                            frozenset({"name", "kind", "categories", "infrequent", "fill"})),
}
#: The preprocessing settings (beside the columns) the export reads; the grouping
#: settings only shaped the fit (their result is each column's "infrequent" list).
SETTINGS = frozenset({"impute", "columns", "max_categories", "min_frequency"})


def check_exportable(preprocessor: Preprocessor) -> None:
    """ConfigError naming the first column kind or setting the export does not know."""
    unknown = sorted(set(preprocessor.to_config()) - SETTINGS)
    if unknown:
        raise ConfigError(f"cannot export to ONNX: the preprocessing has the setting "
                          f"{unknown[0]!r}, which the ONNX export does not know")
    for spec in preprocessor.columns:
        kind = COLUMN_KINDS.get(spec["kind"])
        if kind is None:
            raise ConfigError(
                f"cannot export to ONNX: column {spec['name']!r} has the preprocessing kind "
                f"{spec['kind']!r}, which the ONNX export does not know (it covers "
                f"{', '.join(sorted(COLUMN_KINDS))})")
        extra = sorted(set(spec) - kind.settings)
        if extra:
            raise ConfigError(
                f"cannot export to ONNX: column {spec['name']!r} ({spec['kind']}) has the "
                f"setting {extra[0]!r}, which the ONNX export does not know")


def add_preprocessing(sink: GraphSink, preprocessor: Preprocessor
                      ) -> tuple[list[onnx.ValueInfoProto], str]:
    """(one graph input per column, the (n, n_features) double feature matrix)."""
    inputs, parts = [], []
    for spec in preprocessor.columns:
        info, features = COLUMN_KINDS[spec["kind"]].export(sink, spec)
        inputs.append(info)
        parts.append(features)
    return inputs, sink.node("Concat", parts, axis=1)
