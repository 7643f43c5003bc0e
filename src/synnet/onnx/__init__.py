"""ONNX export (the ``onnx`` extra): the only place importing onnx, onnxruntime and skl2onnx.

- :func:`network_to_onnx` (``Network.to_onnx``): a network alone;
- :func:`model_to_onnx` (``Model.to_onnx``, ``synnet export``): a CLI model
  with its preprocessing, one named input per column, and labels or values in
  the target's units;
- :func:`register_skl2onnx`: converters so that skl2onnx converts
  ``synnet.MLPClassifier`` / ``MLPRegressor``, alone or inside a Pipeline.
  Registration is explicit: importing synnet never imports skl2onnx.

Nothing else in synnet imports this package, except the two ``to_onnx``
conveniences, inside the method.
"""

from __future__ import annotations

try:
    import onnx  # noqa: F401  (fail here, with the extra to install)
except ImportError as exc:
    raise ImportError("ONNX export needs the onnx package: pip install 'synnet[onnx]' "
                      "(onnx, onnxruntime, skl2onnx)") from exc

from synnet.onnx.export import model_to_onnx, network_to_onnx, save
from synnet.onnx.graph import DEFAULT_OPSET, ML_OPSET
from synnet.onnx.sklearn_converter import register_skl2onnx

__all__ = ["DEFAULT_OPSET", "ML_OPSET", "model_to_onnx", "network_to_onnx", "register_skl2onnx",
           "save"]
