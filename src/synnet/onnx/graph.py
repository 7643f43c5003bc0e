"""A small graph builder on ``onnx.helper``: nodes, constants, unique names, the model.

The network and preprocessing exporters only ever call :meth:`Builder.node` and
:meth:`Builder.const`, so the same code fills a stand-alone graph (here) or an
skl2onnx container (:mod:`synnet.onnx.sklearn_converter`, through an adapter
with the same two methods).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from synnet._validation import check_int
from synnet._version import __version__
from synnet.errors import ConfigError

#: The default opset: onnxruntime releases of the last several years load it.
DEFAULT_OPSET = 17
#: The ``ai.onnx.ml`` opset that goes with opset 17 (OneHotEncoder, ZipMap).
ML_OPSET = 3
ML_DOMAIN = "ai.onnx.ml"
#: Lowest opset the exporters' operators have their current meaning in
#: (ReduceSum with axes as an input is opset 13).
MIN_OPSET = 13
#: Newest opset the tests run in onnxruntime.
MAX_OPSET = 21

#: NumPy float dtype -> ONNX element type.
FLOAT_TYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}


class GraphSink(Protocol):
    """Where exporters put nodes and constants (a :class:`Builder` or skl2onnx's container)."""

    opset: int

    def node(self, op: str, inputs: list[str], *, domain: str = "", out: str | None = None,
             **attrs: Any) -> str:
        """Add one node with one output (named ``out``, or a fresh name); return that name."""
        ...

    def const(self, value: np.ndarray, hint: str) -> str:
        """Add a constant tensor; return its name."""
        ...


def check_opset(opset: Any) -> int:
    """The opset as an int in the range synnet's exporters support."""
    value = check_int("opset", opset, MIN_OPSET)
    assert value is not None
    if value > MAX_OPSET:
        raise ConfigError(f"opset must be at most {MAX_OPSET} (the newest this exporter is "
                          f"tested with), got {value}", params=["opset"])
    return int(value)


def tensor(value: np.ndarray, name: str) -> onnx.TensorProto:
    """A constant tensor; object arrays of str become STRING tensors."""
    if value.dtype.kind in "OU":
        text: Any = [str(s).encode("utf-8") for s in value.ravel()]
        return helper.make_tensor(name, TensorProto.STRING, list(value.shape), text)
    return numpy_helper.from_array(np.ascontiguousarray(value), name)


class Builder:
    """Collects the nodes and constants of one graph, with unique names."""

    def __init__(self, opset: int = DEFAULT_OPSET) -> None:
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._names: set[str] = set()

    def name(self, hint: str) -> str:
        """``hint``, or ``hint_2``, ``hint_3``, ... if taken."""
        name, k = hint, 1
        while name in self._names:
            k += 1
            name = f"{hint}_{k}"
        self._names.add(name)
        return name

    def reserve(self, *names: str) -> None:
        """Mark graph input and output names as taken."""
        self._names.update(names)

    def node(self, op: str, inputs: list[str], *, domain: str = "", out: str | None = None,
             **attrs: Any) -> str:
        output = out or self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [output], name=self.name(f"{op}_node"),
                                           domain=domain or None, **attrs))
        return output

    def const(self, value: np.ndarray, hint: str) -> str:
        name = self.name(hint)
        self.initializers.append(tensor(value, name))
        return name

    def model(self, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
              doc: str) -> onnx.ModelProto:
        """The checked model (``onnx.checker`` with ``full_check``, so shapes are inferred)."""
        graph = helper.make_graph(self.nodes, "synnet", inputs, outputs, self.initializers)
        imports = [helper.make_opsetid("", self.opset)]
        if any(n.domain == ML_DOMAIN for n in self.nodes):
            imports.append(helper.make_opsetid(ML_DOMAIN, ML_OPSET))
        # The oldest IR version the opsets need (onnx's own table), so older runtimes load it.
        model = helper.make_model(graph, opset_imports=imports, producer_name="synnet",
                                  ir_version=helper.find_min_ir_version_for(imports),
                                  doc_string=doc)
        model.producer_version = __version__
        onnx.checker.check_model(model, full_check=True)
        return model


def value_info(name: str, elem_type: int, shape: list[Any]) -> onnx.ValueInfoProto:
    """A graph input or output; ``None`` in ``shape`` is the dynamic batch dimension."""
    return helper.make_tensor_value_info(name, elem_type,
                                         ["N" if d is None else d for d in shape])


def reduce(sink: GraphSink, op: str, x: str, axis: int) -> str:
    """``op`` (ReduceMax, ReduceSum) over one axis, keeping it, in the form the opset wants.

    The axes became an input in opset 13 for ReduceSum and in opset 18 for the others.
    """
    if op == "ReduceSum" or sink.opset >= 18:
        return sink.node(op, [x, sink.const(np.array([axis], dtype=np.int64), "axes")],
                         keepdims=1)
    return sink.node(op, [x], axes=[axis], keepdims=1)
