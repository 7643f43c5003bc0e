"""A full-batch training step planned once per fit, for small networks.

In full-batch training every step sees the same array, so every activation,
delta and gradient has a known shape from the start. For a small network
(the tutorial's 3-4-1 on 4 rows) a step is counted in NumPy calls of about a
microsecond each, and the reference path through the layers
(:meth:`synnet.core.network.Network.train_step` then ``optimizer.step``)
spends as much on dispatch and fresh temporaries as on arithmetic. The plan
does the same arithmetic, operation for operation, in buffers allocated once:

- every pre-activation, activation, delta and input gradient has its own
  buffer, and every ufunc and product writes into it with ``out=``;
- plain SGD (no momentum, no weight decay) is applied in the plan itself: with
  ``lr == 1`` (the tutorial) there is no multiply at all, otherwise one multiply
  per parameter exactly as :class:`synnet.core.optimizers.SGD` does. (Folding
  any other learning rate into the output delta would save those multiplies
  but round differently, so the plan does not.) Other optimizers get the
  gradients in the network's own buffers and run their usual ``step``;
- the sum-of-squares loss (no sample weights) is one ``vdot`` of the output
  delta, which the gradient needs anyway; other losses run their own
  ``evaluate``;
- the overflow guard is the fit loop's one ``errstate`` around all epochs.

Results are bit-identical to the reference path (``tests/test_plan.py``
compares the two across activations, losses and optimizers). Where a plan does
not apply (dropout or bare activation layers, an activation without a planned
form, sparse input, an L2 penalty), :func:`plan_full_batch` returns None and
the fit loop takes the reference path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from synnet._validation import is_sparse
from synnet.core.activations import Activation, Identity, ReLU, Sigmoid, Tanh, exp_limit
from synnet.core.batch import Batch
from synnet.core.layers import Dense
from synnet.core.losses import Loss, SumSquaredError
from synnet.core.network import Network
from synnet.core.optimizers import SGD, Optimizer

# The activations with a planned form: each reproduces the layer's own arithmetic.
_PLANNED: tuple[type[Activation], ...] = (Identity, Sigmoid, Tanh, ReLU)

Op = Callable[[], Any]

# Constant operands up to this many elements are full arrays (see _Layer.const).
_SMALL = 1024


def _const(like: np.ndarray, value: float) -> np.ndarray:
    """``value`` in ``like``'s dtype as an array operand: a ufunc converts a scalar
    operand on every call, which for a small batch costs more than the arithmetic.
    Shaped like ``like`` when it is small (the cheapest call), else 0-d."""
    return np.full(like.shape if like.size <= _SMALL else (), value, dtype=like.dtype)


class _Layer:
    """One Dense layer's parameters and buffers, for n rows, in -> out units."""

    def __init__(self, layer: Dense, n: int, activate: bool) -> None:
        W = layer.params["W"]
        self.W, self.b = W, layer.params.get("b")
        self.gW, self.gb = layer.grads["W"], layer.grads.get("b")
        self.kind = type(layer.activation) if activate else Identity
        self.z = np.empty((n, layer.out_features), dtype=W.dtype)  # z, then act(z) in place
        self.dz = np.empty_like(self.z)  # dL/dz
        self.dx = np.empty((n, layer.in_features), dtype=W.dtype)  # dL/dx, for the layer below

    def const(self, value: float) -> np.ndarray:
        """``value`` as an array operand for the layer's buffers (see :func:`_const`)."""
        return _const(self.z, value)

    def forward_ops(self, x: np.ndarray) -> list[Op]:
        """z = act(x @ W + b) into self.z, as Dense.forward computes it."""
        z, kind = self.z, self.kind
        # Positional out (np.exp(z, z)) and constants as arrays in z's dtype: the same
        # arithmetic as Dense's ``out=`` and Python floats, with less call overhead.
        ops: list[Op] = [partial(np.dot, x, self.W, z)]
        if self.b is not None:
            ops.append(partial(np.add, z, self.b, z))
        if kind is Sigmoid:
            ops += [partial(np.maximum, z, self.const(-exp_limit(z.dtype)), out=z),
                    partial(np.negative, z, z), partial(np.exp, z, z),
                    partial(np.add, z, self.const(1.0), z), partial(np.reciprocal, z, z)]
        elif kind is Tanh:
            ops.append(partial(np.tanh, z, z))
        elif kind is ReLU:
            ops.append(partial(np.maximum, z, self.const(0.0), out=z))
        return ops

    def backward_ops(self, x: np.ndarray, grad_y: np.ndarray, input_grad: bool) -> list[Op]:
        """dL/dW, dL/db from dL/dy (``grad_y``), and dL/dx into self.dx if ``input_grad``."""
        kind, y, dz = self.kind, self.z, self.dz
        ops: list[Op] = []
        if kind is Sigmoid:  # grad * (y * (1 - y)), in the tutorial's order
            ops += [partial(np.subtract, self.const(1.0), y, dz), partial(np.multiply, dz, y, dz),
                    partial(np.multiply, dz, grad_y, dz)]
        elif kind is Tanh:
            ops += [partial(np.multiply, y, y, dz), partial(np.subtract, self.const(1.0), dz, dz),
                    partial(np.multiply, dz, grad_y, dz)]
        elif kind is ReLU:
            mask = np.empty(y.shape, dtype=bool)
            ops += [partial(np.greater, y, self.const(0.0), mask),
                    partial(np.multiply, grad_y, mask, dz)]
        else:
            dz = grad_y
        ops.append(partial(np.dot, x.T, dz, self.gW))  # the transposes are views made once
        if self.b is not None and self.gb is not None:
            # Column sums as ones @ dz, as Dense does.
            ops.append(partial(np.dot, np.ones(len(y), dtype=y.dtype), dz, self.gb))
        if input_grad:
            ops.append(partial(np.dot, dz, self.W.T, self.dx))
        return ops


class FullBatchPlan:
    """The training step on one fixed batch, with every buffer allocated once.

    Call :meth:`gradients` (returns the loss value before the update) then
    :meth:`update`, as the fit loop calls ``train_step`` then ``optimizer.step``.
    The step is a list of NumPy calls with their arrays bound (``functools.partial``),
    so running it costs the calls and nothing else.
    """

    def __init__(self, network: Network, loss: Loss, optimizer: Optimizer, data: Batch,
                 fused: bool) -> None:
        dense = [layer for layer in network.layers if isinstance(layer, Dense)]
        last = len(dense) - 1
        layers = [_Layer(layer, len(data), activate=not (fused and i == last))
                  for i, layer in enumerate(dense)]
        self.network, self.loss, self.optimizer, self.data, self.fused = (
            network, loss, optimizer, data, fused)
        self.output = layers[-1].z
        self._forward: list[Op] = []
        for i, layer in enumerate(layers):
            self._forward += layer.forward_ops(data.X if i == 0 else layers[i - 1].z)
        # dL/d(output): the SSE delta computed in place, or a copy of what the loss returns.
        self.delta = np.empty_like(self.output)
        # SSE summed without weights: the value is half the delta's squared norm (one dot).
        self._sse = (type(loss) is SumSquaredError and loss.reduction == "sum"
                     and data.w is None)
        self._backward: list[Op] = []
        grad = self.delta
        for i in range(last, -1, -1):
            x = data.X if i == 0 else layers[i - 1].z
            self._backward += layers[i].backward_ops(x, grad, input_grad=i > 0)
            grad = layers[i].dx
        self._params = [(p, g) for layer in layers for p, g in ((layer.W, layer.gW),
                                                              (layer.b, layer.gb))
                        if p is not None and g is not None]
        self._update: list[Op] = []
        self._update_lr: float | None = None
        # Only for the SSE: the output delta in place, and its flat view, whose bound
        # ``dot`` calls np.vdot's own dot function (the same bits) with less overhead.
        self._sse_delta = partial(np.subtract, self.output, data.y, self.delta)
        self._flat_delta = self.delta.reshape(-1)
        opt = optimizer
        self._plain_sgd = (type(opt) is SGD and opt.momentum == 0.0
                           and opt.weight_decay == 0.0)
        self.failed_in_update = False  # set by run() when an update raised

    def gradients(self) -> float:
        """Forward and backward on the batch; fills the network's gradients; the loss value."""
        for op in self._forward:
            op()
        data, delta = self.data, self.delta
        if self._sse:
            self._sse_delta()
            value = 0.5 * float(np.vdot(delta, delta))
        else:
            value, grad = self.loss.evaluate(self.output, data.y, data.w, logits=self.fused)
            assert grad is not None
            np.copyto(delta, grad)
        for op in self._backward:
            op()
        return value

    def _sgd_ops(self) -> list[Op]:
        """Plain SGD's update at the optimizer's current learning rate, as bound calls."""
        lr = self.optimizer.lr
        if lr != self._update_lr:  # read every step: a scheduler may change it
            self._update_lr = lr
            self._update = []
            for param, grad in self._params:
                if lr == 1.0:  # lr * g is g: nothing to multiply
                    self._update.append(partial(np.subtract, param, grad, param))
                else:  # SGD's own two steps: step = lr * g; W -= step
                    step = np.empty_like(param)
                    rate = _const(param, lr)
                    self._update += [partial(np.multiply, grad, rate, step),
                                     partial(np.subtract, param, step, param)]
        return self._update

    def update(self) -> None:
        """The optimizer's step: plain SGD here, anything else through ``optimizer.step``."""
        opt = self.optimizer
        if not self._plain_sgd:
            opt.step(self.network.params, self.network.grads)
            return
        opt.iterations += 1
        for op in self._sgd_ops():
            op()

    def run(self, count: int, losses: list[float], strict: bool) -> None:
        """``count`` steps in a row (no callback runs between them); each finished step's
        loss is appended to ``losses``.

        ``strict``: a non-finite loss raises FloatingPointError before that step's
        update, as the fit loop's check does. Any FloatingPointError propagates with
        ``losses`` holding the steps finished before it, and ``failed_in_update`` True
        when the update raised (some parameters may then hold new values).
        """
        self.failed_in_update = False
        if not (self._sse and self._plain_sgd):
            for _ in range(count):
                value = self.gradients()
                if strict and not math.isfinite(value):
                    raise FloatingPointError("non-finite loss")
                self._update_or_flag()
                losses.append(value)
            return
        # The tutorial's case, step by step as gradients() then update(), without the
        # method calls: forward and delta, the loss's dot, backward, the SGD update.
        first: list[Op] = [*self._forward, self._sse_delta]
        flat, backward, update = self._flat_delta, self._backward, self._sgd_ops()
        dot, isfinite = flat.dot, math.isfinite
        sums: list[Any] = []  # each step's delta . delta; the loss is half of it
        try:
            for _ in range(count):
                for op in first:
                    op()
                try:
                    total = dot(flat)
                except FloatingPointError:  # ndarray.dot checks overflow, np.vdot does not
                    total = np.vdot(flat, flat)
                for op in backward:
                    op()
                if strict and not isfinite(total):  # after the gradients, as in the fit loop
                    raise FloatingPointError("non-finite loss")
                try:
                    for op in update:
                        op()
                except FloatingPointError:
                    self.failed_in_update = True
                    raise
                sums.append(total)
        finally:
            self.optimizer.iterations += len(sums)
            losses.extend(0.5 * float(total) for total in sums)

    def _update_or_flag(self) -> None:
        try:
            self.update()
        except FloatingPointError:
            self.failed_in_update = True
            raise


def plan_full_batch(network: Network, loss: Loss, optimizer: Optimizer, data: Batch, l2: float,
                    fused: bool) -> FullBatchPlan | None:
    """A plan for full-batch steps on ``data``, or None where the reference path must run."""
    if l2 or is_sparse(data.X) or not isinstance(data.X, np.ndarray):
        return None
    if not all(isinstance(layer, Dense) for layer in network.layers):
        return None  # dropout and bare activation layers keep the layer path
    layers: list[Any] = network.layers
    for i, layer in enumerate(layers):
        planned = fused and i == len(layers) - 1  # the loss works on its logits
        if not planned and type(layer.activation) not in _PLANNED:
            return None
    return FullBatchPlan(network, loss, optimizer, data, fused)
