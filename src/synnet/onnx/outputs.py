"""A classifier's outputs as ONNX nodes: probabilities from the network output, then labels.

The same rules as :meth:`synnet.tabular.model.Model.proba_from_output` and the
estimators' ``predict_proba``/``predict``: one output unit is P(second class)
(``[1 - p, p]``), identity outputs are logits (sigmoid or softmax applied),
several sigmoid units are independent labels (multilabel, thresholded at 0.5),
otherwise the label is the class of the largest probability (the first on ties,
as ``np.argmax``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto

from synnet.core.activations import Sigmoid, Softmax
from synnet.core.network import Network
from synnet.onnx.graph import GraphSink
from synnet.onnx.network_graph import add_activation


def is_multilabel(network: Network) -> bool:
    """Several sigmoid output units: one yes/no label each."""
    return network.n_outputs > 1 and isinstance(network.output_layer.activation, Sigmoid)


def add_probabilities(sink: GraphSink, network: Network, out: str, dtype: np.dtype[Any],
                      name: str | None = None) -> str:
    """(n, n_classes) probabilities from the network output ``out`` (n, n_outputs) of ``dtype``."""
    activation = network.output_layer.activation
    if network.n_outputs == 1:
        p = out if isinstance(activation, Sigmoid) else add_activation(sink, Sigmoid(), out,
                                                                        dtype)
        negative = sink.node("Sub", [sink.const(np.array(1.0, dtype=dtype), "one"), p])
        return sink.node("Concat", [negative, p], axis=1, out=name)
    if not isinstance(activation, (Softmax, Sigmoid)):
        out = add_activation(sink, Softmax(), out, dtype)
    return sink.node("Identity", [out], out=name)


def class_constant(classes: Any) -> np.ndarray:
    """Class labels as a constant: text, bool, int64 or float64."""
    labels = np.asarray(classes)
    if labels.dtype.kind in "OUS":
        return labels.astype(object)
    if labels.dtype.kind == "b":
        return labels
    if labels.dtype.kind in "iu":
        return labels.astype(np.int64)
    return labels.astype(np.float64)


def add_labels(sink: GraphSink, network: Network, proba: str, dtype: np.dtype[Any],
               classes: np.ndarray | None, name: str) -> str:
    """Labels from ``proba``: (n,) ``classes[argmax]`` (class indices when ``classes`` is
    None), or an (n, k) int64 0/1 matrix for a multilabel network."""
    if is_multilabel(network):
        half = sink.const(np.array(0.5, dtype=dtype), "half")
        above = sink.node("Greater", [proba, half])
        return sink.node("Cast", [above], to=TensorProto.INT64, out=name)
    index = sink.node("ArgMax", [proba], axis=1, keepdims=0)
    if classes is None:
        return sink.node("Identity", [index], out=name)
    return sink.node("Gather", [sink.const(class_constant(classes), "classes"), index],
                     axis=0, out=name)
