"""Dense and Dropout layers, and the registry of layer kinds model files may name.

See :mod:`synnet.core.layer` for the Layer protocol."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from synnet._rng import Rng, uniform01
from synnet._validation import check_fraction, check_int, is_plain_scalar
from synnet.core import initializers
from synnet.core.activations import ACTIVATIONS, Activation, get_activation
from synnet.core.layer import Layer
from synnet.errors import ConfigError


class Dense(Layer):
    """A fully connected layer followed by an activation: y = act(x @ W + b).

    Shapes: x (n, in_features), W (in_features, out_features), b (out_features,),
    y (n, out_features). ``W`` is laid out as in the tutorial, scikit-learn's
    ``coefs_`` and ONNX ``Gemm``.

    Args:
        in_features: number of input features.
        out_features: number of output units.
        activation: a name (``"sigmoid"``, ``"relu"``, ...), an Activation, or
            None for the identity.
        bias: whether to add a bias vector ``b``.
        init: weight initializer (name or callable); None takes the network's
            ``init``, or else a default suited to the activation (He for ReLU,
            Glorot otherwise).
        bias_init: bias initializer (default zeros, which draws nothing).
    """

    kind = "dense"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str | Activation | type[Activation] | None = None,
        *,
        bias: bool = True,
        init: initializers.InitSpec = None,
        bias_init: initializers.InitSpec = "zeros",
    ) -> None:
        super().__init__()
        self.in_features = int(check_int("in_features", in_features, 1) or 0)
        self.out_features = int(check_int("out_features", out_features, 1) or 0)
        self.activation = get_activation(activation)
        self.bias = bool(bias)
        if init is not None:
            initializers.get_initializer(init)  # fail now, not at build time
        self.init = init
        self.bias_init = initializers.get_initializer(bias_init)
        self._x: np.ndarray | None = None
        self._ones_cache: np.ndarray | None = None

    def build(self, rng: Rng, init: initializers.InitSpec, dtype: np.dtype[Any]) -> None:
        """Draw W (then b) from ``rng``: W first so the tutorial's draws line up."""
        spec = self.init if self.init is not None else init
        if spec is None:
            spec = initializers.default_for(self.activation.kind)
        shape = (self.in_features, self.out_features)
        self.params = {"W": np.ascontiguousarray(
            initializers.get_initializer(spec)(rng, shape, dtype), dtype=dtype)}
        if self.bias:
            self.params["b"] = np.ascontiguousarray(
                self.bias_init(rng, (self.out_features,), dtype), dtype=dtype)
        for key, value in self.params.items():
            if value.shape != (shape if key == "W" else (self.out_features,)):
                raise ConfigError(f"initializer returned shape {value.shape} for {key}")
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}

    def forward_linear(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """The pre-activation z = x @ W + b: (n, in) -> (n, out)."""
        W = self.params["W"]
        # np.dot is the tutorial's own call and, for small arrays, the cheapest entry
        # into BLAS (about half of np.matmul's overhead); `@` serves scipy sparse x.
        z = np.dot(x, W) if isinstance(x, np.ndarray) else x @ W
        if self.bias:
            z += self.params["b"]
        self._x = x if training else None
        return z

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """y = act(x @ W + b): (n, in) -> (n, out)."""
        return self.activation.forward(self.forward_linear(x, training), training, inplace=True)

    def backward_linear(self, grad_z: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Given dL/dz (n, out): set dL/dW = x.T @ dL/dz, dL/db = sum_rows dL/dz; return dL/dx."""
        if self._x is None:
            raise RuntimeError("Dense.backward called without a training-mode forward")
        x = self._x
        if isinstance(x, np.ndarray):
            np.dot(x.T, grad_z, out=self.grads["W"])
        else:  # scipy sparse input: its product returns a new dense array
            self.grads["W"][...] = x.T @ grad_z
        if self.bias:
            # Column sums as ones @ grad_z: one BLAS call, several times faster than
            # np.sum(axis=0) on a (128, 128) batch.
            np.dot(self._ones(len(grad_z), grad_z.dtype), grad_z, out=self.grads["b"])
        return np.dot(grad_z, self.params["W"].T) if input_grad else None

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """dL/dy (n, out) -> dL/dx (n, in), through the activation then the linear map."""
        grad_z = self.activation.backward(grad_y)
        assert grad_z is not None
        return self.backward_linear(grad_z, input_grad)

    def _ones(self, n: int, dtype: np.dtype[Any]) -> np.ndarray:
        """A vector of n ones, kept between batches of the same size."""
        ones = self._ones_cache
        if ones is None or len(ones) != n or ones.dtype != dtype:
            ones = self._ones_cache = np.ones(n, dtype=dtype)
        return ones

    def clear_cache(self) -> None:
        self._x = None
        self._ones_cache = None  # batch-sized: not worth keeping (or pickling) after fit
        self.activation.clear_cache()

    def output_size(self, input_size: int) -> int:
        return self.out_features

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "kind": self.kind,
            "in_features": self.in_features,
            "out_features": self.out_features,
            "activation": self.activation.get_config(),
            "bias": self.bias,
        }
        if isinstance(self.init, str):
            config["init"] = self.init
        return config


class Dropout(Layer):
    """Inverted dropout: in training, y = x * mask / (1 - rate), mask ~ Bernoulli(1 - rate).

    At inference it is the identity, so no rescaling is needed then. The mask is
    drawn from the network's generator. Shapes: x and y (n, features).

    Args:
        rate: fraction of units dropped, in [0, 1).
    """

    kind = "dropout"

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = check_fraction("dropout rate", rate)
        self._rng: Rng | None = None
        self._mask: np.ndarray | None = None

    def build(self, rng: Rng, init: initializers.InitSpec, dtype: np.dtype[Any]) -> None:
        self._rng = rng

    def set_rng(self, rng: Rng) -> None:
        self._rng = rng

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        if self._rng is None:
            raise RuntimeError("Dropout layer used before its network was built")
        keep = uniform01(self._rng, x.shape, x.dtype) >= self.rate
        # The mask already carries the 1/(1-rate) scale, so backward is one multiply.
        self._mask = np.multiply(keep, 1.0 / (1.0 - self.rate), dtype=x.dtype)
        return x * self._mask

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        return grad_y if self._mask is None else grad_y * self._mask

    def clear_cache(self) -> None:
        self._mask = None

    def get_config(self) -> dict[str, Any]:
        return {"kind": self.kind, "rate": self.rate}


#: Every layer kind a model file may name. Activations are layers too, so a bare
#: ``ReLU()`` between two Dense layers saves and loads like any other layer.
LAYERS: dict[str, type[Layer]] = {
    "dense": Dense, "dropout": Dropout, **{cls.kind: cls for cls in ACTIVATIONS.values()}}


def layer_from_config(spec: Any) -> Layer:
    """Rebuild a layer from its :meth:`~synnet.core.layer.Layer.get_config`, by registry only.

    The one check of what a model file may hold: the writer runs it before
    saving and the reader while loading, so both accept the same layers.
    Settings must be plain JSON scalars (a Dense layer's activation a
    registered activation spec), and the rebuilt layer must describe itself
    exactly as ``spec`` does.

    Raises:
        ConfigError: an unknown kind or activation, a setting that is not a
            plain value, or a spec the rebuilt layer does not reproduce.
    """
    layer: Layer = _from_registry(LAYERS, spec, "layer kind")
    return layer


def _from_registry(registry: Mapping[str, type[Layer]], spec: Any, what: str) -> Any:
    """registry[spec["kind"]](**settings), with every setting checked, then its config compared."""
    if not isinstance(spec, dict) or spec.get("kind") not in registry:
        kind = spec.get("kind") if isinstance(spec, dict) else spec
        raise ConfigError(f"unknown {what} {kind!r}; known: {sorted(registry)}")
    kwargs: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "kind":
            continue
        if key == "activation" and registry is LAYERS:
            kwargs[key] = _from_registry(ACTIVATIONS, value, "activation")
        elif is_plain_scalar(value):
            kwargs[key] = value
        else:
            raise ConfigError(f"{spec['kind']}: setting {key!r} must be a plain number, string "
                              "or boolean")
    try:
        built = registry[spec["kind"]](**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{spec['kind']}: {exc}") from None
    if built.get_config() != spec:
        raise ConfigError(f"spec {spec} is not how a {spec['kind']} describes itself")
    return built
