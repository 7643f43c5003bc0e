"""skl2onnx converters for ``synnet.MLPClassifier`` and ``synnet.MLPRegressor``.

:func:`register_skl2onnx` registers them with ``update_registered_converter``,
so ``skl2onnx.to_onnx`` converts the estimators alone or inside a Pipeline.
They mirror skl2onnx's converter for scikit-learn's own MLP: the classifier
gives ``label`` and ``probabilities`` and takes the ``zipmap`` (a list of
dicts, the default; ``False`` for a plain matrix; ``"columns"``) and ``nocl``
(labels as class indices) options; numeric class labels come out as int64
and text as strings; the regressor gives ``variable``. The network itself is
the same graph as :func:`synnet.onnx.network_to_onnx` writes, computed in
the network's dtype and cast to the input's type at the end.

skl2onnx and the estimators (scikit-learn) are imported when registering,
not when this module is imported.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto

from synnet.onnx.graph import FLOAT_TYPES, tensor
from synnet.onnx.network_graph import add_network, check_exportable, compute_dtype
from synnet.onnx.outputs import add_labels, add_probabilities

_MISSING = ("registering the skl2onnx converters needs skl2onnx and scikit-learn: "
            "pip install 'synnet[onnx,sklearn]'")


class _ContainerSink:
    """The exporters' sink (:class:`synnet.onnx.graph.GraphSink`) on an skl2onnx container."""

    def __init__(self, scope: Any, container: Any) -> None:
        self.scope, self.container = scope, container
        self.opset = int(container.target_opset)

    def node(self, op: str, inputs: list[str], *, domain: str = "", out: str | None = None,
             **attrs: Any) -> str:
        output = out or self.scope.get_unique_variable_name(op.lower())
        self.container.add_node(op, inputs, output, op_domain=domain,
                                name=self.scope.get_unique_operator_name(op), **attrs)
        return output

    def const(self, value: np.ndarray, hint: str) -> str:
        name = self.scope.get_unique_variable_name(hint)
        proto = tensor(value, name)
        content: Any = list(proto.string_data) if proto.data_type == TensorProto.STRING else proto
        self.container.add_initializer(name, proto.data_type, list(value.shape), content)
        return name


def _float32_input(operator: Any) -> bool:
    """Whether the operator's input is float32 (the estimators take other inputs as float64)."""
    from skl2onnx.common.data_types import FloatTensorType

    return isinstance(operator.inputs[0].type, FloatTensorType)


def _network_output(scope: Any, operator: Any, container: Any
                    ) -> tuple[_ContainerSink, str, np.dtype[Any]]:
    """(sink, the network's output, its dtype) on the operator's input.

    The input is cast to the dtype the estimator's predict computes in for it.
    """
    network = operator.raw_operator.network_
    check_exportable(network)
    sink = _ContainerSink(scope, container)
    dtype = compute_dtype(network, np.float32 if _float32_input(operator) else np.float64)
    x = sink.node("Cast", [operator.inputs[0].full_name], to=FLOAT_TYPES[dtype])
    return sink, add_network(sink, network, x, dtype), dtype


def _skl2onnx_labels(classes: np.ndarray) -> np.ndarray:
    """Labels as skl2onnx types them: text stays text, numbers and booleans become int64."""
    if classes.dtype.kind in "OUS":
        return classes.astype(object)
    return classes.astype(np.int64)


def _convert_classifier(scope: Any, operator: Any, container: Any) -> None:
    from skl2onnx.common.data_types import guess_proto_type

    estimator = operator.raw_operator
    network = estimator.network_
    sink, out, dtype = _network_output(scope, operator, container)
    proba = add_probabilities(sink, network, out, dtype)
    sink.node("Cast", [proba], to=guess_proto_type(operator.outputs[1].type),
              out=operator.outputs[1].full_name)
    nocl = scope.get_options(estimator, {"nocl": False})["nocl"]
    classes = None if nocl else _skl2onnx_labels(np.asarray(estimator.classes_))
    add_labels(sink, network, proba, dtype, classes, operator.outputs[0].full_name)


def _convert_regressor(scope: Any, operator: Any, container: Any) -> None:
    from skl2onnx.common.data_types import guess_proto_type

    sink, out, _ = _network_output(scope, operator, container)
    sink.node("Cast", [out], to=guess_proto_type(operator.outputs[0].type),
              out=operator.outputs[0].full_name)


def _classifier_shapes(operator: Any) -> None:
    """skl2onnx's shapes for classifiers; a multilabel label is (N, n_labels)."""
    from skl2onnx.common.data_types import Int64TensorType
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    calculate_linear_classifier_output_shapes(operator)
    estimator = operator.raw_operator
    if estimator._label_binarizer.y_type_ == "multilabel-indicator":
        n = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = Int64TensorType([n, len(estimator.classes_)])


def _regressor_shapes(operator: Any) -> None:
    """(N, n_outputs): float32 for float32 inputs, else double."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    n = operator.inputs[0].get_first_dimension()
    kind = FloatTensorType if _float32_input(operator) else DoubleTensorType
    operator.outputs[0].type = kind([n, operator.raw_operator.n_outputs_])


def register_skl2onnx() -> None:
    """Register the converters of ``synnet.MLPClassifier`` and ``MLPRegressor`` with skl2onnx.

    Call it once before ``skl2onnx.to_onnx``; calling it again is harmless.
    """
    try:
        from skl2onnx import update_registered_converter

        from synnet.sklearn import MLPClassifier, MLPRegressor
    except ImportError as exc:
        raise ImportError(_MISSING) from exc
    update_registered_converter(MLPClassifier, "SynnetMLPClassifier", _classifier_shapes,
                                _convert_classifier,
                                options={"zipmap": [True, False, "columns"],
                                         "nocl": [True, False]})
    update_registered_converter(MLPRegressor, "SynnetMLPRegressor", _regressor_shapes,
                                _convert_regressor)
