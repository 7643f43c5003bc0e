"""Optimizers: ``step(params, grads)`` updates parameters in place.

State (momentum, moment estimates) is keyed by the network's parameter names
(``"0.W"``, ``"0.b"``, ...) and exposed as a plain :meth:`Optimizer.state_dict`
of numbers and arrays, which is what checkpoints store.

``weight_decay`` is classic L2 regularization folded into the gradient,
g <- g + weight_decay * W, applied to weight matrices and not to biases
(:mod:`synnet.core.regularization`, shared with ``fit(l2=)``).
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from synnet._validation import check_choice, check_int, check_number
from synnet.core.regularization import L2
from synnet.errors import ConfigError

Params = dict[str, np.ndarray]


class Optimizer:
    """Base class: keeps named per-parameter slots and an iteration counter."""

    name = "optimizer"
    slot_names: tuple[str, ...] = ()

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        self.lr = check_number("lr", lr, 0.0)
        self.weight_decay = check_number("weight_decay", weight_decay, 0.0)
        self.iterations = 0
        self.slots: dict[str, dict[str, np.ndarray]] = {s: {} for s in self.slot_names}
        self._scratch: dict[tuple[str, str], np.ndarray] = {}
        self._l2 = L2()
        self._decayed: Params = {}  # buffers for g + weight_decay * W

    # -- the update ---------------------------------------------------------
    def step(self, params: Params, grads: Params) -> None:
        """Apply one update to every parameter in ``params`` (in place)."""
        self.iterations += 1
        if self.weight_decay != 0.0:  # the caller's gradients stay untouched
            grads = self._l2.add_gradient(params, grads, self.weight_decay, out=self._decayed)
        for name, param in params.items():
            self._update(name, param, grads[name])

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        raise NotImplementedError

    def _slot(self, slot: str, name: str, param: np.ndarray) -> np.ndarray:
        """The (zero-initialized) state array ``slot`` for parameter ``name``."""
        state = self.slots[slot].get(name)
        if state is None or state.shape != param.shape or state.dtype != param.dtype:
            if state is not None and state.shape != param.shape:
                raise ConfigError(
                    f"optimizer state for {name!r} has shape {state.shape} but the parameter "
                    f"has {param.shape}; use a fresh optimizer for a different network"
                )
            state = np.zeros_like(param) if state is None else state.astype(param.dtype)
            self.slots[slot][name] = state
        return state

    def _buffer(self, tag: str, name: str, param: np.ndarray) -> np.ndarray:
        """Scratch space reused across steps so updates do not allocate."""
        key = (tag, name)
        buf = self._scratch.get(key)
        if buf is None or buf.shape != param.shape or buf.dtype != param.dtype:
            buf = self._scratch[key] = np.empty_like(param)
        return buf

    # -- state --------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Hyperparameters as plain numbers."""
        return {"lr": self.lr, "weight_decay": self.weight_decay}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: name, hyperparameters, counter, slot arrays."""
        return {
            "name": self.name,
            "config": self.get_config(),
            "iterations": self.iterations,
            "slots": {s: {k: v.copy() for k, v in d.items()} for s, d in self.slots.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (hyperparameters included)."""
        if state.get("name") != self.name:
            raise ConfigError(f"state is for optimizer {state.get('name')!r}, not {self.name!r}")
        for key, value in state["config"].items():
            setattr(self, key, value)
        self.iterations = int(state["iterations"])
        self.slots = {s: {k: np.array(v) for k, v in state["slots"].get(s, {}).items()}
                      for s in self.slot_names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Without momentum:   W <- W - lr * g
    With momentum mu:   v <- mu * v - lr * g;  W <- W + v
    Nesterov:           v <- mu * v - lr * g;  W <- W + mu * v - lr * g

    (The Keras and scikit-learn form of momentum.) With lr=1 and loss="sse",
    this is exactly the tutorial's update.
    """

    name = "sgd"
    slot_names = ("velocity",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        # momentum = 1 (no decay of the velocity) is allowed, as scikit-learn allows it.
        self.momentum = check_number("momentum", momentum, 0.0, 1.0, high_open=False)
        # With momentum 0, Nesterov's update is plain SGD (as in scikit-learn).
        self.nesterov = bool(nesterov) and self.momentum > 0.0

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        step = self._buffer("step", name, param)
        np.multiply(grad, self.lr, out=step)  # lr * g
        if self.momentum == 0.0:
            param -= step
            return
        v = self._slot("velocity", name, param)
        v *= self.momentum
        v -= step
        if self.nesterov:
            param -= step
            np.multiply(v, self.momentum, out=step)
            param += step
        else:
            param += v

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015), in the form Keras and scikit-learn use.

    m <- b1 * m + (1 - b1) * g
    v <- b2 * v + (1 - b2) * g**2
    lr_t = lr * sqrt(1 - b2**t) / (1 - b1**t)
    W <- W - lr_t * m / (sqrt(v) + epsilon)
    """

    name = "adam"
    slot_names = ("m", "v")

    def __init__(self, lr: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.beta_1 = check_number("beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = check_number("beta_2", beta_2, 0.0, 1.0)
        self.epsilon = check_number("epsilon", epsilon, 0.0, low_open=True)

    def step(self, params: Params, grads: Params) -> None:
        t = self.iterations + 1
        # The bias correction is the same for every parameter: compute it once per step.
        self._lr_t = self.lr * math.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)
        super().step(params, grads)

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        elementwise(self._apply, (param, grad, self._slot("m", name, param),
                                  self._slot("v", name, param), self._buffer("tmp", name, param)))

    def _apply(self, param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray,
               tmp: np.ndarray) -> None:
        """The update on (a part of) one parameter, elementwise, in place."""
        m *= self.beta_1
        np.multiply(grad, 1.0 - self.beta_1, out=tmp)
        m += tmp
        _decay_squares(v, grad, self.beta_2, tmp)
        _divide_by_root(m, v, self.epsilon, tmp)
        tmp *= self._lr_t
        param -= tmp

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """RMSprop (Tieleman & Hinton 2012).

    v <- rho * v + (1 - rho) * g**2
    W <- W - lr * g / (sqrt(v) + epsilon)
    """

    name = "rmsprop"
    slot_names = ("v",)

    def __init__(self, lr: float = 0.001, rho: float = 0.9, epsilon: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.rho = check_number("rho", rho, 0.0, 1.0)
        self.epsilon = check_number("epsilon", epsilon, 0.0, low_open=True)

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        elementwise(self._apply, (param, grad, self._slot("v", name, param),
                                  self._buffer("tmp", name, param)))

    def _apply(self, param: np.ndarray, grad: np.ndarray, v: np.ndarray,
               tmp: np.ndarray) -> None:
        """The update on (a part of) one parameter, elementwise, in place."""
        _decay_squares(v, grad, self.rho, tmp)
        _divide_by_root(grad, v, self.epsilon, tmp)
        tmp *= self.lr
        param -= tmp

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


OPTIMIZERS: dict[str, Callable[[], Optimizer]] = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def get_optimizer(spec: str | Optimizer) -> Optimizer:
    """An optimizer from a name (default hyperparameters) or an instance (used as is)."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str):
        return OPTIMIZERS[check_choice("optimizer", spec.lower(), OPTIMIZERS)]()
    raise TypeError(f"optimizer must be a name or an Optimizer, got {type(spec).__name__}")


def _decay_squares(v: np.ndarray, grad: np.ndarray, decay: float, tmp: np.ndarray) -> None:
    """v <- decay * v + (1 - decay) * g**2, in place; ``tmp`` (v's shape) is scratch."""
    v *= decay
    np.multiply(grad, grad, out=tmp)
    tmp *= 1.0 - decay
    v += tmp


def _divide_by_root(x: np.ndarray, v: np.ndarray, epsilon: float, out: np.ndarray) -> None:
    """out <- x / (sqrt(v) + epsilon), in place (``out`` may not be ``x``)."""
    np.sqrt(v, out=out)
    out += epsilon
    np.divide(x, out, out=out)


# -- large updates in two parts on two threads -------------------------------------

#: Parameters with fewer elements are updated in one piece: below this, handing half
#: to another thread costs more than it saves.
SPLIT_MIN = 1 << 16
_split = {"threads": 1}  # 1: every update on the calling thread (the default)
_pool: list[Any] = []  # the one helper thread, started at first use


def set_update_threads(n: int) -> int:
    """Run Adam's and RMSprop's updates of large parameters in ``n`` parts on as many
    threads (more than 2 counts as 2); returns the previous setting.

    Off (1) by default: on a 2-core machine the second part competes with the BLAS
    pool's own threads, and whether it pays is for the benchmark's case 2
    (``benchmarks/bench_speed.py``) to show, not assumed. The results are the same
    bits either way: the update is elementwise.
    """
    n = min(int(check_int("threads", n, 1) or 1), 2)
    old, _split["threads"] = _split["threads"], n
    return old


def elementwise(fn: Callable[..., None], arrays: Sequence[np.ndarray]) -> None:
    """``fn(*arrays)`` for an in-place elementwise ``fn`` over same-shaped arrays.

    With :func:`set_update_threads` (2), for C-contiguous arrays of at least SPLIT_MIN
    elements, the second half of every array goes to a helper thread while this
    thread does the first (NumPy's ufuncs release the GIL on large arrays). The helper
    runs in a copy of the caller's context, so NumPy's error state (``np.errstate``)
    holds there too; its exceptions are raised here.
    """
    first = arrays[0]
    if _split["threads"] == 1 or first.size < SPLIT_MIN or not all(
            a.flags.c_contiguous for a in arrays):
        fn(*arrays)
        return
    if not _pool:
        from concurrent.futures import ThreadPoolExecutor

        _pool.append(ThreadPoolExecutor(1, thread_name_prefix="synnet-update"))
    flat = [a.reshape(-1) for a in arrays]
    half = first.size // 2
    job = _pool[0].submit(contextvars.copy_context().run, fn, *[a[half:] for a in flat])
    try:
        fn(*[a[:half] for a in flat])
    finally:
        job.result()
