"""The workloads of the benchmark: one small class per (case, peer).

Every task has the same two methods:

- ``prepare()``: untimed; builds a fresh model (weights, optimizer state) so
  every repetition does the same work from the same starting point;
- ``run()``: timed; the work itself. It returns a dict of extra facts (a
  checksum, a GFLOP/s figure) or None.

Data are synthetic (random, seeded; nothing is downloaded) and created
directly in their final dtype, so creating them never makes a temporary copy
(that matters for the memory case). Each worker process creates its own copy
from the same seed, so every peer sees identical numbers.

This module imports only NumPy at the top; synnet, PyTorch and scikit-learn
are imported inside the task that needs them, so a missing peer is reported as
skipped instead of breaking the run.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np

Params = dict[str, Any]

# Which worker process runs a peer. Peers built on NumPy (synnet, scikit-learn,
# the hand-written loops) share one process and its copy of the data; PyTorch
# has its own, so its thread pools (OpenMP + MKL) never sit beside OpenBLAS's.
GROUPS = {
    "synnet_fit": "numpy", "synnet_fit_split": "numpy", "synnet_mlp": "numpy",
    "synnet_predict": "numpy",
    "tutorial_loop": "numpy", "numpy_loop": "numpy", "numpy_predict": "numpy",
    "sgemm_numpy": "numpy", "sklearn": "numpy", "sklearn_predict": "numpy",
    "torch": "torch", "torch_predict": "torch", "sgemm_torch": "torch",
}
# The optional library each peer needs (``--without`` names these).
NEEDS = {"synnet_mlp": "sklearn", "sklearn": "sklearn", "sklearn_predict": "sklearn",
         "torch": "torch", "torch_predict": "torch", "sgemm_torch": "torch"}

LABELS = {
    "synnet_fit": "synnet Network.fit",
    "synnet_fit_split": "synnet Network.fit, update on 2 threads",
    "synnet_mlp": "synnet MLPClassifier",
    "synnet_predict": "synnet Network.predict",
    "tutorial_loop": "tutorial NumPy loop",
    "numpy_loop": "hand-written NumPy loop",
    "numpy_predict": "hand-written NumPy forward",
    "torch": "PyTorch (CPU) loop",
    "torch_predict": "PyTorch (CPU) forward",
    "sklearn": "scikit-learn MLPClassifier",
    "sklearn_predict": "scikit-learn predict_proba",
    "sgemm_numpy": "float32 matmul peak (NumPy)",
    "sgemm_torch": "float32 matmul peak (PyTorch)",
}


class Skip(Exception):
    """A peer that cannot run here (its library is missing); reported, not fatal."""


# -- data ---------------------------------------------------------------------

_DATA: dict[tuple[int, int, int, int], tuple[np.ndarray, np.ndarray]] = {}


def classification_data(n: int, d: int, classes: int, seed: int = 0
                        ) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-shaped data: X (n, d) float32 in [0, 1), y (n,) int64 labels in [0, classes).

    Labels depend on X through a random linear map, so there is something to
    learn (it does not change the speed, but keeps the losses honest).
    """
    key = (n, d, classes, seed)
    if key not in _DATA:
        rng = np.random.default_rng(seed)
        X = rng.random((n, d), dtype=np.float32)  # drawn as float32: no float64 temporary
        proj = rng.standard_normal((d, classes), dtype=np.float32)
        y = np.empty(n, dtype=np.int64)
        for start in range(0, n, 8192):  # chunked, so no (n, classes) temporary either
            y[start:start + 8192] = np.argmax(X[start:start + 8192] @ proj, axis=1)
        _DATA[key] = (X, y)
    return _DATA[key]


def clear_data() -> None:
    _DATA.clear()


def mlp_weights(sizes: list[int]) -> int:
    """Number of weights (matrix entries, biases not counted) of an MLP with ``sizes``."""
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


# -- case 1: the tutorial's 3-4-1 sigmoid network ------------------------------

TUTORIAL_X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
TUTORIAL_Y = np.array([[0, 0, 1, 1]]).T


class TutorialLoop:
    """The tutorial's own loop (3-layer network), as published, minus the print.

    Weights come from ``RandomState(1)``: the same numbers as its
    ``np.random.seed(1)`` followed by ``np.random.random``.
    """

    def __init__(self, p: Params) -> None:
        self.steps = p["tutorial_steps"]

    def prepare(self) -> None:
        rs = np.random.RandomState(1)
        self.syn0 = 2 * rs.random_sample((3, 4)) - 1
        self.syn1 = 2 * rs.random_sample((4, 1)) - 1

    def run(self) -> dict[str, Any]:
        def nonlin(x: np.ndarray, deriv: bool = False) -> np.ndarray:
            if deriv:
                return x * (1 - x)
            return 1 / (1 + np.exp(-x))

        X, y, syn0, syn1 = TUTORIAL_X, TUTORIAL_Y, self.syn0, self.syn1
        errors = []
        for j in range(self.steps):
            l0 = X
            l1 = nonlin(np.dot(l0, syn0))
            l2 = nonlin(np.dot(l1, syn1))
            l2_error = y - l2
            if (j % 10000) == 0:
                errors.append(np.mean(np.abs(l2_error)))  # the tutorial prints this
            l2_delta = l2_error * nonlin(l2, deriv=True)
            l1_error = l2_delta.dot(syn1.T)
            l1_delta = l1_error * nonlin(l1, deriv=True)
            syn1 += l1.T.dot(l2_delta)
            syn0 += l0.T.dot(l1_delta)
        return {"weights": [syn0.ravel().tolist(), syn1.ravel().tolist()]}


class SynnetTutorial:
    """The same network and updates with synnet: SSE loss, SGD lr=1, full batch."""

    def __init__(self, p: Params) -> None:
        import synnet  # noqa: F401  (fail in setup, not in the timed run)

        self.steps = p["tutorial_steps"]

    def prepare(self) -> None:
        from synnet import Dense, Network

        self.net = Network([Dense(3, 4, "sigmoid", bias=False),
                            Dense(4, 1, "sigmoid", bias=False)],
                           init="tutorial", seed=np.random.RandomState(1))

    def run(self) -> dict[str, Any]:
        from synnet import SGD

        self.net.fit(TUTORIAL_X, TUTORIAL_Y, loss="sse", optimizer=SGD(lr=1.0),
                     epochs=self.steps, batch_size=None, shuffle=False)
        return {"weights": [self.net.params["0.W"].ravel().tolist(),
                            self.net.params["1.W"].ravel().tolist()]}


# -- cases 2 and 3: MNIST-shaped classification ---------------------------------

class _Classification:
    """Shared setup: data, layer sizes, batch size, and the seed of repetition i."""

    def __init__(self, p: Params, deep: bool) -> None:
        self.n, self.d, self.k = p["n"], p["d"], p["classes"]
        self.hidden = list(p["deep_hidden"] if deep else p["hidden"])
        self.batch = p["deep_batch"] if deep else p["batch"]
        self.lr = p["lr"]
        self.sizes = [self.d, *self.hidden, self.k]
        self.X, self.y = classification_data(self.n, self.d, self.k)
        self.flops = 6 * self.n * mlp_weights(self.sizes)  # one epoch, as the issue counts
        self.reps = 0

    def extra(self, seconds: float) -> dict[str, Any]:
        return {"flops": self.flops}


class SynnetFit(_Classification):
    """``Network.fit``: ReLU hidden layers, softmax output, cross-entropy, Adam, 1 epoch."""

    def __init__(self, p: Params, deep: bool = False) -> None:
        import synnet  # noqa: F401

        super().__init__(p, deep)

    def prepare(self) -> None:
        from synnet import Adam, Dense, Network

        layers = [Dense(a, b, "relu") for a, b in zip(self.sizes[:-2], self.sizes[1:-1])]
        layers.append(Dense(self.sizes[-2], self.k, "softmax"))
        self.net = Network(layers, seed=self.reps)
        self.opt = Adam(lr=self.lr)
        self.reps += 1

    def run(self) -> dict[str, Any]:
        h = self.net.fit(self.X, self.y, loss="categorical_crossentropy", optimizer=self.opt,
                         epochs=1, batch_size=self.batch, shuffle=True)
        return {"flops": self.flops, "loss": float(h.history["loss"][-1])}


class SynnetFitSplit(SynnetFit):
    """``Network.fit`` as SynnetFit, with Adam's update of the large weight matrices in two
    halves on two threads (``set_update_threads(2)``; the same bits)."""

    def run(self) -> dict[str, Any]:
        from synnet.core.optimizers import set_update_threads

        old = set_update_threads(2)
        try:
            return super().run()
        finally:
            set_update_threads(old)


def _sklearn_params(task: _Classification) -> dict[str, Any]:
    """The same network and training for scikit-learn's MLPClassifier and synnet's.

    ``alpha=0``: no L2 penalty, like the other peers (scikit-learn still computes it).
    """
    return {"hidden_layer_sizes": tuple(task.hidden), "activation": "relu", "solver": "adam",
            "alpha": 0.0, "batch_size": task.batch, "learning_rate_init": task.lr,
            "max_iter": 1, "shuffle": True, "tol": 0.0, "n_iter_no_change": 10**9}


class _EstimatorMLP(_Classification):
    """An MLPClassifier with scikit-learn's parameters, one epoch (max_iter=1)."""

    @staticmethod
    def estimator_class() -> Any:
        """The MLPClassifier class to run; raises Skip when it cannot be imported."""
        raise NotImplementedError

    def __init__(self, p: Params, deep: bool = False) -> None:
        self.estimator_class()  # fail (skip) now, not mid-benchmark
        super().__init__(p, deep)

    def prepare(self) -> None:
        self.est = self.estimator_class()(**_sklearn_params(self), random_state=self.reps)
        self.reps += 1

    def run(self) -> dict[str, Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning after max_iter=1
            self.est.fit(self.X, self.y)
        return {"flops": self.flops, "loss": float(self.est.loss_)}


class SynnetMLP(_EstimatorMLP):
    """``synnet.MLPClassifier`` with scikit-learn's parameters: the drop-in path."""

    @staticmethod
    def estimator_class() -> Any:
        try:
            from synnet import MLPClassifier
        except Exception as exc:  # scikit-learn missing
            raise Skip(f"synnet.MLPClassifier not available ({type(exc).__name__}: {exc})"
                       ) from None
        return MLPClassifier


class SklearnMLP(_EstimatorMLP):
    """scikit-learn's MLPClassifier, one epoch (max_iter=1)."""

    @staticmethod
    def estimator_class() -> Any:
        try:
            from sklearn.neural_network import MLPClassifier
        except ImportError as exc:
            raise Skip(f"scikit-learn not installed ({exc})") from None
        return MLPClassifier


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise Skip(f"PyTorch not installed ({exc}); pip install -r benchmarks/requirements.txt"
                   ) from None
    return torch


class TorchLoop(_Classification):
    """A plain PyTorch training loop over slices of a shuffled index, on CPU."""

    def __init__(self, p: Params, deep: bool = False) -> None:
        torch = _torch()
        super().__init__(p, deep)
        self.Xt = torch.from_numpy(self.X)  # shares memory: no copy
        self.yt = torch.from_numpy(self.y)

    def prepare(self) -> None:
        torch = _torch()
        torch.manual_seed(self.reps)
        self.reps += 1
        mods: list[Any] = []
        for a, b in zip(self.sizes[:-2], self.sizes[1:-1]):
            mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        mods.append(torch.nn.Linear(self.sizes[-2], self.k))
        self.model = torch.nn.Sequential(*mods)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)

    def run(self) -> dict[str, Any]:
        torch = _torch()
        F = torch.nn.functional
        model, opt, X, y, bs = self.model, self.opt, self.Xt, self.yt, self.batch
        perm = torch.randperm(self.n)
        total = 0.0
        for start in range(0, self.n, bs):
            idx = perm[start:start + bs]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)  # synnet and scikit-learn track the loss too
        return {"flops": self.flops, "loss": total / self.n}


class NumpyLoop(_Classification):
    """What a careful person writes by hand in NumPy: the same maths, no framework.

    Gathers each shuffled batch into a reused buffer, works in place where it
    is free to, and updates with Adam through scratch buffers. It is the
    reference for what NumPy itself allows, framework overhead excluded.
    """

    def prepare(self) -> None:
        rng = np.random.default_rng(self.reps)
        self.reps += 1
        self.W = [(rng.standard_normal((a, b), dtype=np.float32) * np.float32(math.sqrt(2 / a)))
                  for a, b in zip(self.sizes, self.sizes[1:])]
        self.b = [np.zeros(b, dtype=np.float32) for b in self.sizes[1:]]
        self.params = [*self.W, *self.b]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.tmp = [np.empty_like(p) for p in self.params]
        self.rng = rng

    def run(self) -> dict[str, Any]:
        X, y, n, bs, nl = self.X, self.y, self.n, self.batch, len(self.W)
        W, b = self.W, self.b
        xbuf = np.empty((bs, self.d), dtype=np.float32)
        order = self.rng.permutation(n)
        b1, b2, eps, lr = 0.9, 0.999, 1e-8, self.lr
        total = 0.0
        for t, start in enumerate(range(0, n, bs), 1):
            idx = order[start:start + bs]
            m = len(idx)
            x = np.take(X, idx, axis=0, out=xbuf[:m])
            yb = y[idx]
            hs = [x]
            for i in range(nl - 1):  # hidden layers: relu(h @ W + b), in place
                z = hs[-1] @ W[i]
                z += b[i]
                hs.append(np.maximum(z, 0, out=z))
            z = hs[-1] @ W[-1]
            z += b[-1]
            z -= z.max(axis=1, keepdims=True)  # softmax cross-entropy on the logits
            np.exp(z, out=z)
            s = z.sum(axis=1, keepdims=True)
            z /= s
            rows = np.arange(m)
            total -= float(np.log(z[rows, yb]).sum())
            z[rows, yb] -= 1.0
            z /= m
            g = z
            grads_w: list[np.ndarray] = [g] * nl
            grads_b: list[np.ndarray] = [g] * nl
            for i in range(nl - 1, -1, -1):
                grads_w[i] = hs[i].T @ g
                grads_b[i] = g.sum(axis=0)
                if i:
                    g = g @ W[i].T
                    g *= hs[i] > 0
            lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
            for p, gr, mm, vv, tmp in zip(self.params, [*grads_w, *grads_b], self.m, self.v,
                                          self.tmp):
                mm *= b1
                np.multiply(gr, 1 - b1, out=tmp)
                mm += tmp
                vv *= b2
                np.multiply(gr, gr, out=tmp)
                tmp *= 1 - b2
                vv += tmp
                np.sqrt(vv, out=tmp)
                tmp += eps
                np.divide(mm, tmp, out=tmp)
                tmp *= lr_t
                p -= tmp
        return {"flops": self.flops, "loss": total / n}


# -- case 3b: prediction throughput ---------------------------------------------

class _Predict(_Classification):
    """Forward pass over all n rows of the deep network (inference mode)."""

    def __init__(self, p: Params) -> None:
        super().__init__(p, deep=True)
        self.flops = 2 * self.n * mlp_weights(self.sizes)

    def prepare(self) -> None:
        pass


class SynnetPredict(_Predict):
    def __init__(self, p: Params) -> None:
        super().__init__(p)
        from synnet import Dense, Network

        layers = [Dense(a, b, "relu") for a, b in zip(self.sizes[:-2], self.sizes[1:-1])]
        layers.append(Dense(self.sizes[-2], self.k, "softmax"))
        self.net = Network(layers, seed=0, dtype=np.float32)

    def run(self) -> dict[str, Any]:
        out = self.net.predict(self.X)
        return {"flops": self.flops, "rows": len(out)}


class NumpyPredict(_Predict):
    def __init__(self, p: Params) -> None:
        super().__init__(p)
        rng = np.random.default_rng(0)
        self.W = [rng.standard_normal((a, b), dtype=np.float32) * np.float32(math.sqrt(2 / a))
                  for a, b in zip(self.sizes, self.sizes[1:])]
        self.b = [np.zeros(b, dtype=np.float32) for b in self.sizes[1:]]

    def run(self) -> dict[str, Any]:
        h = self.X
        for i, (w, b) in enumerate(zip(self.W, self.b)):
            h = h @ w
            h += b
            if i < len(self.W) - 1:
                np.maximum(h, 0, out=h)
        h -= h.max(axis=1, keepdims=True)
        np.exp(h, out=h)
        h /= h.sum(axis=1, keepdims=True)
        return {"flops": self.flops, "rows": len(h)}


class TorchPredict(_Predict):
    def __init__(self, p: Params) -> None:
        torch = _torch()
        super().__init__(p)
        torch.manual_seed(0)
        mods: list[Any] = []
        for a, b in zip(self.sizes[:-2], self.sizes[1:-1]):
            mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        mods.append(torch.nn.Linear(self.sizes[-2], self.k))
        self.model = torch.nn.Sequential(*mods).eval()
        self.Xt = torch.from_numpy(self.X)

    def run(self) -> dict[str, Any]:
        torch = _torch()
        with torch.inference_mode():
            out = torch.softmax(self.model(self.Xt), dim=1)
        return {"flops": self.flops, "rows": int(out.shape[0])}


class SklearnPredict(_Predict):
    def __init__(self, p: Params) -> None:
        try:
            from sklearn.neural_network import MLPClassifier
        except ImportError as exc:
            raise Skip(f"scikit-learn not installed ({exc})") from None
        super().__init__(p)
        # Fitted briefly on a few rows: only the weights' shapes matter for speed.
        self.est = MLPClassifier(**{**_sklearn_params(self), "batch_size": 256},
                                 random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.est.fit(self.X[:512], self.y[:512])

    def run(self) -> dict[str, Any]:
        out = self.est.predict_proba(self.X)
        return {"flops": self.flops, "rows": len(out)}


# -- case 5: one-row predict_proba latency (serving) ------------------------------

class OneRowProba(_Classification):
    """``predict_proba`` on one row at a time, as serving code calls it: latency per call.

    The case-2 network (784-128-10), fitted briefly on a few rows: only its shapes
    and the estimator's per-call overhead matter here.
    """

    def __init__(self, p: Params, estimator_class: Any) -> None:
        super().__init__(p, deep=False)
        self.est = estimator_class(**{**_sklearn_params(self), "batch_size": 256},
                                   random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.est.fit(self.X[:512], self.y[:512])
        self.rows = [self.X[i:i + 1] for i in range(p["one_row_calls"])]

    def prepare(self) -> None:
        pass

    def run(self) -> dict[str, Any]:
        proba = self.est.predict_proba
        for row in self.rows:
            proba(row)
        return {"calls": len(self.rows)}


# -- the machine's float32 matrix-multiply peak -----------------------------------

class SgemmNumpy:
    """Best of ``sgemm_tries`` float32 (N, N) @ (N, N) products with NumPy: 2 N^3 flops each."""

    def __init__(self, p: Params) -> None:
        N = self.N = p["sgemm_n"]
        rng = np.random.default_rng(0)
        self.A = rng.random((N, N), dtype=np.float32)
        self.B = rng.random((N, N), dtype=np.float32)
        self.C = np.empty((N, N), dtype=np.float32)
        self.tries = p["sgemm_tries"]
        np.matmul(self.A, self.B, out=self.C)  # first call: thread start-up, buffers

    def prepare(self) -> None:
        pass

    def _one(self) -> None:
        np.matmul(self.A, self.B, out=self.C)

    def run(self) -> dict[str, Any]:
        best = math.inf
        for _ in range(self.tries):
            t0 = time.perf_counter()
            self._one()
            best = min(best, time.perf_counter() - t0)
        return {"best_s": best, "gflops": 2 * self.N**3 / best / 1e9}


class SgemmTorch(SgemmNumpy):
    """The same with ``torch.mm`` (PyTorch's own BLAS): for information."""

    def __init__(self, p: Params) -> None:
        torch = _torch()
        super().__init__(p)
        self.At, self.Bt, self.Ct = (torch.from_numpy(a) for a in (self.A, self.B, self.C))
        torch.mm(self.At, self.Bt, out=self.Ct)

    def _one(self) -> None:
        import torch

        torch.mm(self.At, self.Bt, out=self.Ct)


# -- registry ----------------------------------------------------------------------

def make_task(case: str, peer: str, p: Params) -> Any:
    """The task for ``peer`` in ``case``; raises Skip when its library is missing."""
    table: dict[tuple[str, str], Any] = {
        ("tutorial", "tutorial_loop"): lambda: TutorialLoop(p),
        ("tutorial", "synnet_fit"): lambda: SynnetTutorial(p),
        ("mnist", "synnet_fit"): lambda: SynnetFit(p),
        ("mnist", "synnet_fit_split"): lambda: SynnetFitSplit(p),
        ("mnist", "synnet_mlp"): lambda: SynnetMLP(p),
        ("mnist", "torch"): lambda: TorchLoop(p),
        ("mnist", "sklearn"): lambda: SklearnMLP(p),
        ("mnist", "numpy_loop"): lambda: NumpyLoop(p, deep=False),
        ("mnist", "sgemm_numpy"): lambda: SgemmNumpy(p),
        ("mnist", "sgemm_torch"): lambda: SgemmTorch(p),
        ("deep_train", "synnet_fit"): lambda: SynnetFit(p, deep=True),
        ("deep_train", "torch"): lambda: TorchLoop(p, deep=True),
        ("deep_train", "sklearn"): lambda: SklearnMLP(p, deep=True),
        ("deep_train", "numpy_loop"): lambda: NumpyLoop(p, deep=True),
        ("deep_predict", "synnet_predict"): lambda: SynnetPredict(p),
        ("deep_predict", "torch_predict"): lambda: TorchPredict(p),
        ("deep_predict", "sklearn_predict"): lambda: SklearnPredict(p),
        ("deep_predict", "numpy_predict"): lambda: NumpyPredict(p),
        ("one_row", "synnet_mlp"): lambda: OneRowProba(p, SynnetMLP.estimator_class()),
        ("one_row", "sklearn"): lambda: OneRowProba(p, SklearnMLP.estimator_class()),
    }
    try:
        factory = table[(case, peer)]
    except KeyError:
        raise ValueError(f"no task for peer {peer!r} in case {case!r}") from None
    return factory()
