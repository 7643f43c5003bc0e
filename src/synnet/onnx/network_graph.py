"""A :class:`~synnet.core.network.Network` as ONNX nodes, computing what synnet computes.

Dense is ``MatMul`` (+ ``Add`` for the bias); Dropout is the identity (as at
inference). Each activation is written as synnet's own formula, clips
included, rather than as the nearest ONNX operator: onnxruntime's float32
``Sigmoid`` saturates near ``sigmoid(-18)`` (relative errors above 100% below
it) and its ``Softmax`` and ``LeakyRelu`` (a float attribute) differ from
synnet in the last places, so the exported graph would not match ``predict``.
One exporter per layer class, matched by exact type: anything else (a custom
activation or layer, a subclass overriding the maths) is refused by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from synnet.core.activations import (
    Activation,
    Exponential,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    exp_limit,
)
from synnet.core.layer import Layer
from synnet.core.layers import Dense, Dropout
from synnet.core.network import Network
from synnet.errors import ConfigError
from synnet.onnx.graph import GraphSink, reduce

#: (sink, activation, input name, dtype) -> output name.
ActivationExporter = Callable[[GraphSink, Any, str, np.dtype[Any]], str]


def _scalar(sink: GraphSink, value: float, dtype: np.dtype[Any], hint: str) -> str:
    return sink.const(np.array(value, dtype=dtype), hint)


def _identity(sink: GraphSink, act: Identity, x: str, dtype: np.dtype[Any]) -> str:
    return x


def _relu(sink: GraphSink, act: ReLU, x: str, dtype: np.dtype[Any]) -> str:
    return sink.node("Relu", [x])


def _tanh(sink: GraphSink, act: Tanh, x: str, dtype: np.dtype[Any]) -> str:
    return sink.node("Tanh", [x])


def _sigmoid(sink: GraphSink, act: Sigmoid, x: str, dtype: np.dtype[Any]) -> str:
    """1 / (1 + exp(-max(x, -limit))), as :class:`~synnet.core.activations.Sigmoid`."""
    clipped = sink.node("Max", [x, _scalar(sink, -exp_limit(dtype), dtype, "neg_exp_limit")])
    e = sink.node("Exp", [sink.node("Neg", [clipped])])
    return sink.node("Reciprocal", [sink.node("Add", [e, _scalar(sink, 1.0, dtype, "one")])])


def _leaky_relu(sink: GraphSink, act: LeakyReLU, x: str, dtype: np.dtype[Any]) -> str:
    """x * alpha where x < 0, else x; alpha in the network's dtype (ONNX's attribute is float32)."""
    negative = sink.node("Less", [x, _scalar(sink, 0.0, dtype, "zero")])
    scaled = sink.node("Mul", [x, _scalar(sink, act.alpha, dtype, "alpha")])
    return sink.node("Where", [negative, scaled, x])


def _softmax(sink: GraphSink, act: Softmax, x: str, dtype: np.dtype[Any]) -> str:
    """exp(max(x - rowmax, -limit)) / rowsum, as :class:`~synnet.core.activations.Softmax`."""
    shifted = sink.node("Sub", [x, reduce(sink, "ReduceMax", x, 1)])
    clipped = sink.node("Max", [shifted,
                                _scalar(sink, -exp_limit(dtype), dtype, "neg_exp_limit")])
    e = sink.node("Exp", [clipped])
    return sink.node("Div", [e, reduce(sink, "ReduceSum", e, 1)])


def _exponential(sink: GraphSink, act: Exponential, x: str, dtype: np.dtype[Any]) -> str:
    limit = exp_limit(dtype)
    clipped = sink.node("Clip", [x, _scalar(sink, -limit, dtype, "neg_exp_limit"),
                                 _scalar(sink, limit, dtype, "exp_limit")])
    return sink.node("Exp", [clipped])


#: Every activation class the export knows, by exact type.
ACTIVATION_EXPORTERS: dict[type[Activation], ActivationExporter] = {
    Identity: _identity,
    ReLU: _relu,
    Tanh: _tanh,
    Sigmoid: _sigmoid,
    LeakyReLU: _leaky_relu,
    Softmax: _softmax,
    Exponential: _exponential,
}


def _known() -> str:
    names = sorted(cls.kind for cls in ACTIVATION_EXPORTERS)
    return f"Dense, Dropout and the activations {', '.join(names)}"


def check_exportable(network: Network) -> None:
    """ConfigError naming the first layer or activation ONNX export cannot write."""
    for i, layer in enumerate(network.layers):
        if type(layer) in (Dense, Dropout):
            act = layer.activation if isinstance(layer, Dense) else None
            if act is not None and type(act) not in ACTIVATION_EXPORTERS:
                raise ConfigError(
                    f"cannot export to ONNX: layer {i} (Dense) has the activation "
                    f"{type(act).__name__}, which the ONNX export does not know (it covers "
                    f"{_known()}); use one of those")
        elif type(layer) not in ACTIVATION_EXPORTERS:
            raise ConfigError(f"cannot export to ONNX: layer {i} is a {type(layer).__name__}, "
                              f"which the ONNX export does not know (it covers {_known()})")


def add_activation(sink: GraphSink, act: Activation, x: str, dtype: np.dtype[Any]) -> str:
    """The nodes of one (known) activation applied to ``x``."""
    return ACTIVATION_EXPORTERS[type(act)](sink, act, x, dtype)


def compute_dtype(network: Network, input_dtype: Any) -> np.dtype[Any]:
    """The dtype ``network.predict`` computes in for inputs of ``input_dtype``."""
    return np.promote_types(network.param_dtype, input_dtype)


def _add_layer(sink: GraphSink, layer: Layer, x: str, dtype: np.dtype[Any]) -> str:
    if isinstance(layer, Dense):
        z = sink.node("MatMul", [x, sink.const(layer.params["W"].astype(dtype), "W")])
        if layer.bias:
            z = sink.node("Add", [z, sink.const(layer.params["b"].astype(dtype), "b")])
        return add_activation(sink, layer.activation, z, dtype)
    if isinstance(layer, Dropout):
        return x  # the identity at inference
    assert isinstance(layer, Activation)
    return add_activation(sink, layer, x, dtype)


def add_network(sink: GraphSink, network: Network, x: str, dtype: np.dtype[Any]) -> str:
    """Nodes computing ``network.predict`` on ``x`` (n, n_inputs) of type ``dtype``.

    ``network.predict`` computes in the promotion of its input's dtype and
    the parameters' (float64 data through float32 weights gives float64), so
    the weights are cast to ``dtype`` (:func:`compute_dtype`). Call
    :func:`check_exportable` first.
    """
    for layer in network.layers:
        x = _add_layer(sink, layer, x, dtype)
    return x
