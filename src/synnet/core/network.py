"""Network: an ordered stack of layers with one gradient function.

Everything builds on the training step: :meth:`Network.train_step` runs the
forward and backward pass on validated data and leaves dL/dparam in
:attr:`Network.grads`. :meth:`Network.loss_and_grads` is the same step behind
input checks; the fit loop calls ``train_step`` per minibatch, the gradient
checker perturbs parameters around ``loss_and_grads``, and the scikit-learn
estimators reach both through ``fit`` and L-BFGS.

``fit``, ``evaluate``, ``save``, ``load`` and ``to_onnx`` are conveniences that
delegate to :mod:`synnet.training`, :mod:`synnet.io` and :mod:`synnet.onnx`
(imported inside the method: the one place the core reaches upward).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from synnet._rng import Rng, Seed, as_rng
from synnet._validation import check_int, check_number, check_X
from synnet.core import initializers
from synnet.core.batch import prepare
from synnet.core.evaluation import evaluate
from synnet.core.layer import Layer
from synnet.core.layers import Dense
from synnet.core.losses import Loss, get_loss
from synnet.core.regularization import L2
from synnet.errors import ConfigError

if TYPE_CHECKING:
    from synnet.core.callback import Callback
    from synnet.core.history import History
    from synnet.core.optimizers import Optimizer
    from synnet.data.source import Source

# Rows per chunk when predicting, so prediction never holds more than one
# chunk's activations at a time whatever the data size.
PREDICT_CHUNK = 8192


class Network:
    """A feed-forward network.

    Args:
        layers: the layers in order; consecutive sizes must match.
        init: default weight initializer for layers that do not name their own
            (``"tutorial"``, ``"glorot_uniform"``, ..., or a callable).
        seed: an int, a ``np.random.Generator`` or a ``np.random.RandomState``;
            the only source of randomness (weights, shuffling, dropout).
            ``np.random.RandomState(1)`` with ``init="tutorial"`` reproduces the
            tutorial's ``np.random.seed(1)`` weights exactly.
        dtype: parameter dtype. None adopts the dtype of the first data passed
            to ``fit`` (float32 stays float32; anything else is float64).

    Parameters are named ``"<layer index>.<key>"`` (``"0.W"``, ``"0.b"``, ...);
    those names key optimizer state, checkpoints and model files.
    """

    def __init__(
        self,
        layers: Sequence[Layer],
        *,
        init: initializers.InitSpec = None,
        seed: Seed = None,
        dtype: Any = None,
    ) -> None:
        self.layers: list[Layer] = list(layers)
        if not self.layers:
            raise ConfigError("a Network needs at least one layer")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} is a {type(layer).__name__}, not a synnet Layer")
        if not any(isinstance(layer, Dense) for layer in self.layers):
            raise ConfigError("a Network needs at least one Dense layer")
        self._check_sizes()
        self._hidden = tuple(self.layers[:-1])  # every layer but the output one
        self._l2 = L2()
        if init is not None:
            initializers.get_initializer(init)
        self.init = init
        self._rng = as_rng(seed)
        self.dtype: np.dtype[Any] | None = None if dtype is None else _float_dtype(dtype)
        for layer in self.layers:
            layer.build(self._rng, init, self.dtype or np.dtype(np.float64))
        self._collect()
        self.loss: Loss | None = None
        self.optimizer: Optimizer | None = None
        self.history: History | None = None
        self.epochs_trained = 0
        self.fit_start_epoch = 0  # epochs_trained when the current (or last) fit began
        self.stop_training = False

    @property
    def rng(self) -> Rng:
        """The generator behind shuffling and dropout (and the initial weights)."""
        return self._rng

    @rng.setter
    def rng(self, rng: Rng) -> None:
        self._rng = rng
        for layer in self.layers:  # dropout layers draw their masks from it
            layer.set_rng(rng)

    # -- structure ----------------------------------------------------------
    def _check_sizes(self) -> None:
        size: int | None = None
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dense):
                if size is not None and layer.in_features != size:
                    raise ConfigError(
                        f"layer {i} (Dense) expects {layer.in_features} inputs but the layer "
                        f"before it gives {size}; make in_features of layer {i} equal {size}"
                    )
                size = layer.out_features

    # -- pickling -------------------------------------------------------------
    # ``params`` and ``grads`` are views onto the layers' own arrays (the optimizer
    # updates ``params``, the layers read theirs). joblib pickles every array on its
    # own, without pickle's memo, so a joblib round trip would load them as copies
    # that no layer reads: training after loading would change nothing. They are
    # left out of the pickle and rebuilt from the layers instead.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["params"], state["grads"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state.pop("params", None)  # pickles of synnet 0.1.0 hold them (maybe as copies)
        state.pop("grads", None)
        self.__dict__.update(state)
        self._collect()

    def _collect(self) -> None:
        """Flatten layer parameters and gradients to stable names."""
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        for i, layer in enumerate(self.layers):
            for key in layer.params:
                self.params[f"{i}.{key}"] = layer.params[key]
                self.grads[f"{i}.{key}"] = layer.grads[key]

    @property
    def n_inputs(self) -> int:
        """Number of input features."""
        first = next(layer for layer in self.layers if isinstance(layer, Dense))
        return first.in_features

    @property
    def n_outputs(self) -> int:
        """Number of output units."""
        last = next(layer for layer in reversed(self.layers) if isinstance(layer, Dense))
        return last.out_features

    @property
    def output_layer(self) -> Dense:
        """The last layer, whose activation a loss may fuse with; training needs it Dense.

        (A network ending in another layer still predicts, and saves and loads.)
        """
        last = self.layers[-1]
        if not isinstance(last, Dense):
            raise ConfigError(
                f"training needs a Dense last layer, not {type(last).__name__}; give the output "
                "activation to it, e.g. Dense(16, 1, activation='sigmoid')")
        return last

    @property
    def param_dtype(self) -> np.dtype[Any]:
        """The dtype the parameters have now (float64 until a first fit decides)."""
        return next(iter(self.params.values())).dtype

    def count_params(self) -> int:
        """Total number of trainable scalars."""
        return sum(p.size for p in self.params.values())

    def astype(self, dtype: Any) -> Network:
        """Convert parameters to ``dtype`` (float32 or float64) in place; returns self."""
        self.dtype = _float_dtype(dtype)
        for layer in self.layers:
            if any(p.dtype != self.dtype for p in layer.params.values()):
                layer.astype(self.dtype)
        self._collect()
        return self

    def get_weights(self) -> dict[str, np.ndarray]:
        """A copy of every parameter, keyed by name."""
        return {name: p.copy() for name, p in self.params.items()}

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Copy ``weights`` (same names and shapes as :attr:`params`) into the network."""
        if set(weights) != set(self.params):
            raise ConfigError(
                f"weights have names {sorted(weights)}, expected {sorted(self.params)}")
        for name, value in weights.items():
            value = np.asarray(value)
            if value.shape != self.params[name].shape:
                raise ConfigError(f"weight {name!r} has shape {value.shape}, "
                                  f"expected {self.params[name].shape}")
            np.copyto(self.params[name], value, casting="same_kind")

    def get_config(self) -> dict[str, Any]:
        """JSON-able description of the architecture (layers from the fixed registry)."""
        return {
            "layers": [layer.get_config() for layer in self.layers],
            "dtype": None if self.dtype is None else self.dtype.name,
        }

    def save(self, path: str | os.PathLike[str], **kwargs: Any) -> None:
        """Write the network to a safe synnet model file (atomically; never a pickle).

        ``kwargs`` go to :func:`synnet.io.save_model` (metadata, optimizer
        state, ...). Read it back with :func:`synnet.load` or :meth:`Network.load`.
        """
        from synnet.io.writer import save_model

        save_model(path, self, **kwargs)

    @staticmethod
    def load(path: str | os.PathLike[str]) -> Network:
        """The network stored in a synnet model file (weights, loss, history)."""
        from synnet.io.reader import load_model

        return load_model(path).network

    def to_onnx(self, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Any:
        """The network as a checked ``onnx.ModelProto`` (and written to ``path``, if given).

        Input ``X`` (N, n_inputs) and output ``output`` (N, n_outputs), in the
        network's dtype; ``kwargs`` (``opset``, ...) go to
        :func:`synnet.onnx.network_to_onnx`. Needs the ``onnx`` extra.
        """
        from synnet.onnx.export import network_to_onnx

        return network_to_onnx(self, path, **kwargs)

    def summary(self) -> str:
        """A table of layers, output sizes and parameter counts."""
        rows = []
        size = self.n_inputs
        for i, layer in enumerate(self.layers):
            size = layer.output_size(size)
            rows.append((i, repr(layer), size, sum(p.size for p in layer.params.values())))
        width = max(len("layer"), *(len(r[1]) for r in rows))
        lines = [f"{'#':>3}  {'layer':<{width}} {'output':>8} {'params':>10}"]
        lines += [f"{i:>3}  {text:<{width}} {out:>8} {n:>10,}" for i, text, out, n in rows]
        lines.append(f"total parameters: {self.count_params():,}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        inner = ",\n    ".join(repr(layer) for layer in self.layers)
        return f"Network([\n    {inner},\n])"

    # -- computation --------------------------------------------------------
    def forward(self, x: Any, training: bool = False, logits: bool = False) -> np.ndarray:
        """Run the layers on validated x (n, n_inputs) -> (n, n_outputs).

        With ``logits`` the last layer's activation is skipped (its pre-activation
        z = h @ W + b). In training mode layers cache what ``backward`` needs.
        """
        h = x
        for layer in self._hidden:
            h = layer.forward(h, training)
        if logits:
            return self.output_layer.forward_linear(h, training)
        return self.layers[-1].forward(h, training)

    def backward(self, grad: np.ndarray, from_logits: bool = False) -> None:
        """Backpropagate dL/d(output) (n, n_outputs), or dL/d(logits); fills :attr:`grads`."""
        last = len(self.layers) - 1
        g: np.ndarray | None
        if from_logits:
            g = self.output_layer.backward_linear(grad, input_grad=last > 0)
        else:
            g = self.layers[-1].backward(grad, input_grad=last > 0)
        for i in range(last - 1, -1, -1):
            assert g is not None
            g = self.layers[i].backward(g, input_grad=i > 0)

    def train_step(
        self, x: Any, y: np.ndarray, loss: Loss, *, sample_weight: np.ndarray | None = None,
        l2: float = 0.0, fused: bool | None = None, want_output: bool = False,
    ) -> tuple[float, np.ndarray | None]:
        """One forward/backward pass on validated data; gradients land in :attr:`grads`.

        No input checks and no update: the caller validated the data once (see
        :func:`synnet.core.batch.prepare`) and the optimizer applies the step.

        Args:
            x: (n, n_inputs) features in the parameters' dtype.
            y: targets as ``loss.prepare_targets`` returned them.
            loss: the loss instance.
            sample_weight: (n,) weights, or None.
            l2: L2 penalty 0.5 * l2 * sum(W**2), scaled per sample like the loss.
            fused: ``loss.fuses(output activation)``; None asks the loss (callers in
                a loop ask once).
            want_output: also return the network output (n, n_outputs).

        Returns:
            (loss value, output or None).
        """
        if fused is None:
            fused = loss.fuses(self.output_layer.activation)
        out = self.forward(x, training=True, logits=fused)
        value, grad = loss.evaluate(out, y, sample_weight, logits=fused)
        assert grad is not None
        output = None
        if want_output:
            # The activation's plain call allocates its result, leaving the logits intact.
            output = self.output_layer.activation(out) if fused else out
        self.backward(grad, from_logits=fused)
        if l2:
            norm = len(y) if sample_weight is None else float(sample_weight.sum())
            if norm:  # a batch whose sample weights are all zero contributes nothing
                scale = l2 / norm if loss.averages else l2
                value += self._l2.penalty(self.params, scale)
                self._l2.add_gradient(self.params, self.grads, scale)
        return value, output

    def loss_and_grads(
        self, x: Any, y: Any, loss: str | Loss, *, sample_weight: Any = None, l2: float = 0.0,
    ) -> tuple[float, dict[str, np.ndarray]]:
        """The loss on (x, y) and its gradient for every parameter, in training mode.

        Args:
            x: (n, n_inputs) inputs.
            y: targets as the loss expects them: (n, n_outputs), or (n,) labels.
            loss: loss name or instance.
            sample_weight: optional (n,) weights.
            l2: L2 penalty 0.5 * l2 * sum(W**2), scaled per sample like the loss.

        Returns:
            (loss value, {name: dL/dparam}) with gradients shaped like
            :attr:`params`. The gradient arrays are the network's own buffers,
            overwritten by the next call: copy them to keep them.
        """
        loss_fn = get_loss(loss)
        loss_fn.check_output(self.n_outputs)
        l2 = check_number("l2", l2, 0.0)
        data = prepare(x, y, loss_fn, sample_weight, n_inputs=self.n_inputs,
                       n_outputs=self.n_outputs, dtype=self.param_dtype, what="x")
        try:
            with np.errstate(under="ignore"):
                value, _ = self.train_step(data.X, data.y, loss_fn, sample_weight=data.w,
                                           l2=l2)
        finally:
            self.clear_cache()
        return value, self.grads

    def predict(self, X: Any, batch_size: int | None = None, *,
                logits: bool = False) -> np.ndarray:
        """Network output for X: (n, n_inputs) -> (n, n_outputs), in inference mode.

        Computed in chunks of ``batch_size`` rows (default 8192) so memory stays
        bounded; dropout is off. With ``logits`` the last layer's activation is
        skipped (the pre-activation z = h @ W + b), e.g. for stable log-probabilities.
        """
        X = check_X(X, self.n_inputs, self.param_dtype)
        return self.infer(X, batch_size, logits=logits)

    def infer(self, X: Any, batch_size: int | None = None, *,
              logits: bool = False) -> np.ndarray:
        """:meth:`predict` without the input checks, for data validated once already.

        (n, n_inputs) -> (n, n_outputs), in chunks of ``batch_size`` rows.
        """
        n = X.shape[0]
        chunk = check_int("batch_size", batch_size, 1, allow_none=True) or PREDICT_CHUNK
        with np.errstate(under="ignore"):
            if n <= chunk:
                return self.forward(X, training=False, logits=logits)
            first = self.forward(X[:chunk], training=False, logits=logits)
            out = np.empty((n, first.shape[1]), dtype=first.dtype)
            out[:chunk] = first
            for start in range(chunk, n, chunk):
                out[start:start + chunk] = self.forward(
                    X[start:start + chunk], training=False, logits=logits)
            return out

    def clear_cache(self) -> None:
        """Drop every layer's training-mode cache (the last batch and its activations)."""
        for layer in self.layers:
            layer.clear_cache()

    def __call__(self, X: Any) -> np.ndarray:
        """Same as :meth:`predict`."""
        return self.predict(X)

    # -- training -----------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any = None,
        loss: str | Loss | None = None,
        optimizer: str | Optimizer | None = None,
        *,
        epochs: int = 1,
        batch_size: int | None = 32,
        shuffle: bool = True,
        validation_data: tuple[Any, Any] | tuple[Any, Any, Any] | Source | None = None,
        validation_split: float = 0.0,
        metrics: Iterable[str] = (),
        callbacks: Iterable[Callback] = (),
        sample_weight: Any = None,
        l2: float = 0.0,
        progress: bool = False,
        nonfinite: str = "raise",
    ) -> History:
        """Train on (X, y), continuing from the current weights; returns the History.

        Args:
            X: (n, n_inputs) features; float32 stays float32, integers become float64.
                Or a data source (:mod:`synnet.data`: Parquet, CSV, an iterable of
                blocks), read batch by batch; y and sample_weight are then left out.
            y: (n, n_outputs) targets, or (n,) labels / values.
            loss: loss name or instance; None reuses the last fit's loss.
            optimizer: name or instance; None reuses the last fit's optimizer
                (and its state), or a fresh Adam on the first fit.
            epochs: passes over the data.
            batch_size: rows per update; None means the whole data (full batch).
            shuffle: reshuffle rows every epoch, drawing from the network's generator.
            validation_data: (X_val, y_val) or (X_val, y_val, sample_weight_val), or
                a data source, evaluated after every epoch.
            validation_split: fraction of the *last* rows held out for
                validation instead (as in Keras), taken before any shuffling.
            metrics: names from ``synnet.core.metrics`` ("accuracy", "mae", "mse"),
                logged for training and validation data.
            callbacks: :class:`synnet.Callback` instances.
            sample_weight: (n,) per-sample weights.
            l2: L2 penalty strength (scikit-learn's ``alpha``).
            progress: show a progress bar (off by default).
            nonfinite: "raise" stops at the first non-finite loss or overflow with
                DivergenceError, keeping the last finite weights; "continue" trains on
                through inf and nan, which the logs then record (scikit-learn's
                estimators do this with ``early_stopping=True``).
        """
        from synnet.training.fit import fit

        return fit(
            self, X, y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=batch_size,
            shuffle=shuffle, validation_data=validation_data, validation_split=validation_split,
            metrics=metrics, callbacks=callbacks, sample_weight=sample_weight, l2=l2,
            progress=progress, nonfinite=nonfinite,
        )

    def evaluate(self, X: Any, y: Any, loss: str | Loss | None = None,
                 metrics: Iterable[str] = ()) -> dict[str, float]:
        """Loss and metrics on (X, y) in inference mode: {"loss": ..., metric: ...}."""
        return evaluate(self, X, y, loss=loss, metrics=metrics)


def _float_dtype(dtype: Any) -> np.dtype[Any]:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ConfigError(f"dtype must be float32 or float64, got {dt}")
    return dt
