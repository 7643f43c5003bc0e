"""Where synnet's time goes per step: ``python benchmarks/_bench_profile.py [1] [2] [--cprofile]``.

Times each piece of one training step in isolation (best of several repeats,
microseconds) next to the same piece written by hand in NumPy, for case 1 (the
tutorial's 3-4-1 network, full batch of 4 rows) and case 2 (784-128-10, batch
of 128 float32 rows, Adam). The pieces call synnet's own methods on the state
a real step leaves behind, so the sum of the pieces can be compared with the
per-step time of ``Network.fit``; the difference is the loop's own overhead.

``--cprofile`` adds a cProfile listing of ``Network.fit`` for each case
(cProfile inflates small Python calls; use it for call counts, not for times).

It is a developer's tool, not part of the benchmark table. It pins BLAS to
one thread (unless OPENBLAS_NUM_THREADS is set) and measures CPU time, so its
figures are per-step work, steady even on a busy machine.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
import timeit
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads OpenBLAS
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np


def us(fn: Callable[[], Any], number: int = 200, repeat: int = 7) -> float:
    """Best CPU time of one call of ``fn`` in microseconds.

    CPU time, not wall time: on a shared machine a descheduled process loses
    wall time but not CPU time, so with one BLAS thread (the default here) these
    figures hold still under load. (With more threads, OpenBLAS's spinning
    helpers would count too.)
    """
    return min(timeit.repeat(fn, number=number, repeat=repeat,
                             timer=time.process_time)) / number * 1e6


def wall_us(fn: Callable[[], Any], threads: int) -> float:
    """Best wall time of ``fn`` in microseconds with ``set_update_threads(threads)``: the
    split update only pays in wall time, and only when a second core is free."""
    from synnet.core.optimizers import set_update_threads

    old = set_update_threads(threads)
    try:
        return min(timeit.repeat(fn, number=50, repeat=7)) / 50 * 1e6
    finally:
        set_update_threads(old)


def show(title: str, rows: list[tuple[str, float, float | None]]) -> None:
    print(f"\n{title}")
    print(f"  {'piece':<52} {'synnet us':>10} {'by hand us':>11}")
    for name, a, b in rows:
        print(f"  {name:<52} {a:>10.2f} {'' if b is None else f'{b:>11.2f}'}")


def case1(steps: int, profile: bool) -> None:
    from synnet import SGD, Dense, Network, SumSquaredError

    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
    y = np.array([[0, 0, 1, 1]], dtype=float).T

    def make() -> Network:
        return Network([Dense(3, 4, "sigmoid", bias=False), Dense(4, 1, "sigmoid", bias=False)],
                       init="tutorial", seed=np.random.RandomState(1))

    def fit(n: int) -> float:
        best = float("inf")
        for _ in range(5):
            net = make()
            t0 = time.process_time()
            net.fit(X, y, loss="sse", optimizer=SGD(lr=1.0), epochs=n, batch_size=None,
                    shuffle=False)
            best = min(best, (time.process_time() - t0) / n * 1e6)
        return best

    def nonlin(x: np.ndarray, deriv: bool = False) -> np.ndarray:
        if deriv:
            return x * (1 - x)
        return 1 / (1 + np.exp(-x))

    rs = np.random.RandomState(1)
    syn0, syn1 = 2 * rs.random_sample((3, 4)) - 1, 2 * rs.random_sample((4, 1)) - 1

    def tutorial_step() -> None:
        l1 = nonlin(np.dot(X, syn0))
        l2 = nonlin(np.dot(l1, syn1))
        l2_delta = (y - l2) * nonlin(l2, deriv=True)
        l1_delta = l2_delta.dot(syn1.T) * nonlin(l1, deriv=True)
        syn1.__iadd__(l1.T.dot(l2_delta) * 0)  # same work; the weights stay put
        syn0.__iadd__(X.T.dot(l1_delta) * 0)

    def tutorial_forward() -> None:
        nonlin(np.dot(nonlin(np.dot(X, syn0)), syn1))

    net = make()
    net.astype(np.float64)
    loss = SumSquaredError()
    opt = SGD(lr=0.0)  # same work as lr=1, weights stay put
    net.fit(X, y, loss=loss, optimizer=opt, epochs=1, batch_size=None, shuffle=False)
    d0, d1 = net.layers
    z = np.dot(X, syn0)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        h = d0.forward(X, True)
        out = d1.forward(h, True)
        g = np.subtract(out, y)
        rows = [
            ("Network.fit, per step (epoch of 1 full batch)", fit(steps), us(tutorial_step)),
            ("  Network.train_step (forward + loss + backward)",
             us(lambda: net.train_step(X, y, loss, fused=False)), None),
            ("    forward, both layers", us(lambda: net.forward(X, True)),
             us(tutorial_forward)),
            ("      Dense.forward_linear (x @ W)", us(lambda: d0.forward_linear(X, True)),
             us(lambda: np.dot(X, syn0))),
            ("      Sigmoid._apply, in place (6 ufuncs; tutorial 4 ops)",
             us(lambda: d0.activation._apply(z.copy(), None)), us(lambda: nonlin(z))),
            ("    SumSquaredError.evaluate", us(lambda: loss.evaluate(out, y)),
             us(lambda: y - out)),
            ("    backward, both layers", us(lambda: net.backward(g, False)), None),
            ("      Sigmoid._grad", us(lambda: d1.activation._grad(g, out)),
             us(lambda: g * nonlin(out, deriv=True))),
            ("      Dense.backward_linear, with dL/dx",
             us(lambda: d1.backward_linear(g, True)),
             us(lambda: (h.T.dot(g), g.dot(syn1.T)))),
            ("  SGD.step (2 params)", us(lambda: opt.step(net.params, net.grads)),
             us(lambda: (syn1.__iadd__(syn1 * 0), syn0.__iadd__(syn0 * 0)))),
            ("  np.errstate enter+exit (fit sets it once)", us(lambda: _errstate()), None),
        ]
        # The planned step (synnet.training.plan) that Network.fit takes for full batches,
        # next to the tutorial's loop written with out= buffers (no temporaries).
        from synnet.core.batch import Batch
        from synnet.training.plan import plan_full_batch

        pnet = make()
        plan = plan_full_batch(pnet, loss, SGD(lr=1.0), Batch(X, y, None), 0.0, False)
        assert plan is not None
        plan.update()  # builds the update's calls

        def planned_step() -> None:
            plan.gradients()
            plan.update()

        s0, s1 = syn0.copy(), syn1.copy()
        b1, b2 = np.empty((4, 4)), np.empty((4, 1))
        t1, t2, e1, g0, g1 = (np.empty((4, 4)), np.empty((4, 1)), np.empty((4, 4)),
                              np.empty((3, 4)), np.empty((4, 1)))

        def tutorial_out_step() -> None:
            for x, w, b in ((X, s0, b1), (b1, s1, b2)):
                np.dot(x, w, out=b)
                np.negative(b, out=b)
                np.exp(b, out=b)
                np.add(b, 1.0, out=b)
                np.divide(1.0, b, out=b)
            np.subtract(y, b2, out=t2)
            np.subtract(1.0, b2, out=g1)
            np.multiply(g1, b2, out=g1)
            np.multiply(t2, g1, out=t2)
            np.dot(t2, s1.T, out=e1)
            np.subtract(1.0, b1, out=t1)
            np.multiply(t1, b1, out=t1)
            np.multiply(t1, e1, out=t1)
            np.dot(b1.T, t2, out=g1)
            np.dot(X.T, t1, out=g0)
            np.add(s1, g1, out=s1)
            np.add(s0, g0, out=s0)

        n_calls = len(plan._forward) + 2 + len(plan._backward) + len(plan._update)
        rows.append((f"  planned step, one epoch ({n_calls} NumPy calls; tutorial with out= 22)",
                     us(planned_step), us(tutorial_out_step)))
        # What Network.fit runs when no callback watches each epoch: the steps in a row.
        rows.append(("  planned steps in a row (FullBatchPlan.run), per step",
                     us(lambda: plan.run(100, [], True), number=20) / 100, None))
    show(f"case 1: 3-4-1 sigmoid, full batch of 4 rows ({steps} steps for the fit line)", rows)
    step = rows[0][1]
    print(f"  -> loop overhead per step (fit - steps in a row): {step - rows[-1][1]:.2f} us")
    if profile:
        cprofile(lambda: make().fit(X, y, loss="sse", optimizer=SGD(lr=1.0), epochs=steps,
                                    batch_size=None, shuffle=False))


def _errstate() -> None:
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        pass


def case2(n: int, profile: bool) -> None:
    from synnet import Adam, CategoricalCrossEntropy, Dense, Network

    rng = np.random.default_rng(0)
    d, hdim, k, bs = 784, 128, 10, 128
    X = rng.random((n, d), dtype=np.float32)
    y = rng.integers(0, k, n)

    def make() -> Network:
        return Network([Dense(d, hdim, "relu"), Dense(hdim, k, "softmax")], seed=0)

    def fit() -> float:
        best = float("inf")
        for _ in range(3):
            net = make()
            t0 = time.process_time()
            net.fit(X, y, loss="categorical_crossentropy", optimizer=Adam(1e-3), epochs=1,
                    batch_size=bs, shuffle=True)
            best = min(best, (time.process_time() - t0) / (-(-n // bs)) * 1e6)
        return best

    net = make()
    opt = Adam(1e-3)
    net.fit(X[:512], y[:512], loss="categorical_crossentropy", optimizer=opt, epochs=1,
            batch_size=bs)
    loss = CategoricalCrossEntropy()
    d0, d1 = net.layers
    idx = rng.permutation(n)[:bs]
    xb = np.empty((bs, d), dtype=np.float32)
    np.take(X, idx, axis=0, out=xb)
    yb = y[idx]
    W1, W2 = net.params["0.W"], net.params["1.W"]
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        z1 = d0.forward_linear(xb, True)
        h = d0.activation.forward(z1.copy(), True)
        z2 = d1.forward_linear(h, True)
        _, g2 = loss.evaluate(z2.copy(), yb, logits=True)
        assert g2 is not None
        gh = g2 @ W2.T
        m, v, tmp = np.zeros_like(W1), np.zeros_like(W1), np.empty_like(W1)
        gW1 = np.ones_like(W1)

        def adam_by_hand() -> None:
            m.__imul__(0.9)
            np.multiply(gW1, 0.1, out=tmp)
            m.__iadd__(tmp)
            v.__imul__(0.999)
            np.multiply(gW1, gW1, out=tmp)
            tmp.__imul__(0.001)
            v.__iadd__(tmp)
            np.sqrt(v, out=tmp)
            tmp.__iadd__(1e-8)
            np.divide(m, tmp, out=tmp)
            tmp.__imul__(1e-3)
            W1.__isub__(tmp * 0)

        def adam_step() -> None:
            opt.step(net.params, net.grads)

        gemm_fwd = us(lambda: xb @ W1)
        gemm_dw = us(lambda: xb.T @ gh)
        rows = [
            ("Network.fit, per batch (one epoch / batches)", fit(), None),
            ("  gather 128 shuffled rows (np.take into a buffer)",
             us(lambda: np.take(X, idx, axis=0, out=xb)), None),
            ("  Network.train_step (forward + loss + backward)",
             us(lambda: net.train_step(xb, yb, loss, fused=True)), None),
            ("    layer 1 forward_linear: x @ W1 + b1 (128x784x128)",
             us(lambda: d0.forward_linear(xb, True)), gemm_fwd),
            ("    layer 1 ReLU forward (in place)",
             us(lambda: d0.activation._apply(z1, z1)), us(lambda: np.maximum(z1, 0, out=z1))),
            ("    layer 2 forward_linear: h @ W2 + b2 (128x128x10)",
             us(lambda: d1.forward_linear(h, True)), us(lambda: h @ W2)),
            ("    softmax cross-entropy on logits (value + gradient)",
             us(lambda: loss.evaluate(z2.copy(), yb, logits=True)), None),
            ("    layer 2 backward_linear, with dL/dx",
             us(lambda: d1.backward_linear(g2, True)), us(lambda: (h.T @ g2, g2 @ W2.T))),
            ("    layer 1 ReLU backward: grad * (y > 0)",
             us(lambda: d0.activation._grad(gh, h)), None),
            ("    layer 1 backward_linear, no dL/dx: x.T @ g (784x128x128)",
             us(lambda: d0.backward_linear(gh, False)), gemm_dw),
            ("  Adam.step (4 params; W1 has 100,352)", us(lambda: opt.step(net.params, net.grads),
                                                        number=50), None),
            ("    Adam on W1 alone, the same 11 passes by hand", us(adam_by_hand, number=50), None),
            ("  Adam.step, WALL time, in one piece", wall_us(adam_step, 1), None),
            ("  Adam.step, WALL time, large params in 2 halves on 2 threads",
             wall_us(adam_step, 2), None),
            ("  the two big GEMMs alone (lower bound, by hand)", gemm_fwd + gemm_dw, None),
        ]
    show(f"case 2: 784-128-10 ReLU/softmax, batch {bs}, Adam ({n} rows for the fit line)", rows)
    parts = rows[1][1] + rows[2][1] + rows[10][1]
    print(f"  -> loop overhead per batch (fit - gather - train_batch - step): "
          f"{rows[0][1] - parts:.2f} us")
    if profile:
        cprofile(lambda: make().fit(X, y, loss="categorical_crossentropy", optimizer=Adam(1e-3),
                                    epochs=1, batch_size=bs, shuffle=True))


def cprofile(fn: Callable[[], Any]) -> None:
    pr = cProfile.Profile()
    pr.enable()
    fn()
    pr.disable()
    pstats.Stats(pr, stream=sys.stdout).sort_stats("tottime").print_stats(15)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", nargs="*", default=["1", "2"])
    ap.add_argument("--cprofile", action="store_true")
    ap.add_argument("--steps", type=int, default=5_000, help="case 1 fit steps")
    ap.add_argument("--rows", type=int, default=60_000, help="case 2 fit rows")
    args = ap.parse_args()
    if "1" in args.cases:
        case1(args.steps, args.cprofile)
    if "2" in args.cases:
        case2(args.rows, args.cprofile)


if __name__ == "__main__":
    main()
