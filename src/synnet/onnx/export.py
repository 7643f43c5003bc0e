"""``Network.to_onnx`` and ``Model.to_onnx``: checked ONNX models, optionally written to a file.

Every export is built with ``onnx.helper`` at an explicit opset and IR
version, and checked with ``onnx.checker.check_model(full_check=True)``
before it is returned or written (atomically).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from synnet.core.network import Network
from synnet.errors import ConfigError
from synnet.io.atomic import atomic_write
from synnet.onnx import network_graph, preprocessing_graph
from synnet.onnx.graph import DEFAULT_OPSET, FLOAT_TYPES, Builder, check_opset, value_info
from synnet.onnx.outputs import add_labels, add_probabilities, class_constant, is_multilabel
from synnet.tabular.model import Model

#: The names a Model's ONNX graph may give its outputs.
OUTPUT_NAMES = ("label", "probabilities", "prediction", "output")
#: The target settings the export reads (a newer target encoding is refused, not guessed).
TARGET_SETTINGS = frozenset({"task", "name", "classes", "mean", "scale"})

Path = str | os.PathLike[str]


def save(proto: onnx.ModelProto, path: Path) -> None:
    """Write an ONNX model atomically (a crash never leaves half a file)."""
    data = proto.SerializeToString()
    atomic_write(path, lambda f: f.write(data))


def _finish(builder: Builder, inputs: list[onnx.ValueInfoProto],
            outputs: list[onnx.ValueInfoProto], path: Path | None, doc: str) -> onnx.ModelProto:
    proto = builder.model(inputs, outputs, doc)
    if path is not None:
        save(proto, path)
    return proto


def network_to_onnx(network: Network, path: Path | None = None, *, opset: int = DEFAULT_OPSET,
                    input_name: str = "X", output_name: str = "output") -> onnx.ModelProto:
    """The network as an ONNX model: ``input_name`` (N, n_inputs) -> ``output_name``
    (N, n_outputs), in the network's dtype (float32 or float64), N dynamic.

    Raises ConfigError, before any work, for a layer or activation ONNX export
    does not know (a custom activation, say) or an unsupported opset.
    """
    builder = Builder(check_opset(opset))
    for param, name in (("input_name", input_name), ("output_name", output_name)):
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{param} must be a non-empty string, got {name!r}",
                              params=[param])
    if input_name == output_name:
        raise ConfigError(f"input_name and output_name must differ, both are {input_name!r}",
                          params=["output_name"])
    network_graph.check_exportable(network)
    builder.reserve(input_name, output_name)
    elem = FLOAT_TYPES[network.param_dtype]
    out = network_graph.add_network(builder, network, input_name, network.param_dtype)
    builder.node("Identity", [out], out=output_name)
    return _finish(builder, [value_info(input_name, elem, [None, network.n_inputs])],
                   [value_info(output_name, elem, [None, network.n_outputs])], path,
                   "a synnet Network")


def _elem_type(values: np.ndarray) -> int:
    if values.dtype.kind == "O":
        return TensorProto.STRING
    return int(helper.np_dtype_to_tensor_dtype(values.dtype))


def model_to_onnx(model: Model, path: Path | None = None, *,
                  opset: int | None = None) -> onnx.ModelProto:
    """A CLI model (preprocessing + network + target) as one ONNX model.

    Inputs: one per column, named as the column, (N, 1): ``double`` for numbers,
    ``string`` for text and dates; a model without preprocessing takes ``X`` (N, n_inputs)
    in the network's dtype. Outputs: ``label`` (original class labels; an
    (N, k) int64 0/1 matrix for multilabel models) and ``probabilities``
    (N, n_classes) for classifiers; ``prediction`` in the target's units
    (double; (N,) for one target) for regression; ``output`` (the raw network
    output) when the model does not know its target.

    Raises ConfigError, before any work, for what the export cannot write as
    ``predict`` computes it: an unknown layer, activation, column kind or
    setting, a column named like an output, an unsupported opset, or one
    below what a column needs (date columns need 20). ``opset`` None: 17, or
    the lowest opset the columns need.
    """
    _check_model(model)
    builder = Builder(_model_opset(model, opset))
    inputs, x, dtype = _add_inputs(builder, model)
    out = network_graph.add_network(builder, model.network, x, dtype)
    outputs = _add_outputs(builder, model, out, dtype)
    return _finish(builder, inputs, outputs, path,
                   "a synnet Model: preprocessing, network, target")


def _model_opset(model: Model, opset: int | None) -> int:
    """The opset asked for (checked), or the default raised to what the columns need."""
    needed = (DEFAULT_OPSET if model.preprocessor is None
              else preprocessing_graph.min_opset(model.preprocessor))
    if opset is None:
        return max(DEFAULT_OPSET, needed)
    value = check_opset(opset)
    if value < needed:
        raise ConfigError(f"cannot export to ONNX at opset {value}: the model's date columns "
                          f"need opset {needed} or later (RegexFullMatch); leave the opset "
                          f"out or give --opset {needed}", params=["opset"])
    return value


def _check_model(model: Model) -> None:
    network_graph.check_exportable(model.network)
    unknown = [] if model.target is None else sorted(set(model.target.to_config())
                                                     - TARGET_SETTINGS)
    if unknown:
        raise ConfigError(f"cannot export to ONNX: the target has the setting {unknown[0]!r}, "
                          "which the ONNX export does not know")
    if model.preprocessor is not None:
        preprocessing_graph.check_exportable(model.preprocessor)
        clash = [n for n in model.preprocessor.input_names if n in OUTPUT_NAMES]
        if clash:
            raise ConfigError(f"cannot export to ONNX: the column {clash[0]!r} would have the "
                              "name of an output of the graph; rename the column and retrain")


def _add_inputs(builder: Builder, model: Model
                ) -> tuple[list[onnx.ValueInfoProto], str, np.dtype[Any]]:
    """(graph inputs, the network's input, the dtype predict computes in)."""
    network = model.network
    if model.preprocessor is None:
        builder.reserve("X", *OUTPUT_NAMES)
        dtype = network.param_dtype
        return [value_info("X", FLOAT_TYPES[dtype], [None, network.n_inputs])], "X", dtype
    builder.reserve(*model.preprocessor.input_names, *OUTPUT_NAMES)
    inputs, features = preprocessing_graph.add_preprocessing(builder, model.preprocessor)
    # transform gives float64, and predict computes in it whatever the weights' dtype.
    return inputs, features, np.dtype(np.float64)


def _add_outputs(builder: Builder, model: Model, out: str, dtype: np.dtype[Any]
                 ) -> list[onnx.ValueInfoProto]:
    """The graph outputs from the network's output ``out``, as ``Model.predict`` gives them."""
    network, target = model.network, model.target
    k = network.n_outputs
    if target is None:
        builder.node("Identity", [out], out="output")
        return [value_info("output", FLOAT_TYPES[dtype], [None, k])]
    if target.task == "classification":
        assert target.classes is not None
        proba = add_probabilities(builder, network, out, dtype, "probabilities")
        add_labels(builder, network, proba, dtype, target.classes, "label")
        label = (value_info("label", TensorProto.INT64, [None, k]) if is_multilabel(network)
                 else value_info("label", _elem_type(class_constant(target.classes)), [None]))
        return [label, value_info("probabilities", FLOAT_TYPES[dtype],
                                  [None, len(target.classes)])]
    # Regression: out * scale + mean in float64, as TargetEncoder.decode.
    scale = builder.const(np.asarray(target.scale or [1.0] * k, dtype=np.float64), "scale")
    mean = builder.const(np.asarray(target.mean or [0.0] * k, dtype=np.float64), "mean")
    scaled = builder.node("Mul", [builder.node("Cast", [out], to=TensorProto.DOUBLE), scale])
    values = builder.node("Add", [scaled, mean])
    shape = builder.const(np.array([-1] if k == 1 else [-1, k], dtype=np.int64), "shape")
    builder.node("Reshape", [values, shape], out="prediction")
    return [value_info("prediction", TensorProto.DOUBLE, [None] if k == 1 else [None, k])]
