"""onnxruntime running synnet's ONNX export against synnet's own predict (issue 13).

Two workloads, each exported with ``to_onnx`` and run by both sides in the same
process, with the same number of threads (BLAS through threadpoolctl,
onnxruntime through ``intra_op_num_threads``):

- ``network``: a ``Network`` 784-256-128-10 (relu, softmax), float32, the
  MNIST shape; ``Network.predict`` against the exported graph.
- ``model``: a CLI-style ``Model`` over 8 numeric and 2 text columns (64-32
  hidden, 3 classes): ``Model.predict_with_proba`` (preprocessing included)
  against the exported graph with one input per column.

For each: the latency of one row (median over many calls) and the throughput
on 60,000 rows (best of a few calls). Outputs are compared before timing (the
tests hold the tolerances; here a mismatch stops the benchmark).

    python benchmarks/bench_onnx.py            # full sizes
    python benchmarks/bench_onnx.py --quick    # tiny sizes, seconds, for CI
    python benchmarks/bench_onnx.py --threads 1
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from threadpoolctl import threadpool_limits

import synnet
from synnet import Dense, Network
from synnet.tabular.model import Model
from synnet.tabular.preprocessing import Preprocessor
from synnet.tabular.target import TargetEncoder, check_classes


def timed(fns: list[Callable[[], Any]], reps: int, stat: Callable[[list[float]], float]
          ) -> list[float]:
    """stat of each function's times; the functions take turns, so a noisy moment on a
    shared machine hits both sides alike."""
    for fn in fns:
        fn()  # warm up (first-call allocations, onnxruntime's lazy set-up)
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(reps):
        for fn, spent in zip(fns, times):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return [stat(t) for t in times]


def session(proto: Any, threads: int) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(proto.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def network_case(rows: int, threads: int) -> tuple[Callable[..., Any], Callable[..., Any],
                                                    Any, Any]:
    """(synnet predict, onnxruntime run, one-row input, many-rows input)."""
    net = Network([Dense(784, 256, "relu"), Dense(256, 128, "relu"), Dense(128, 10, "softmax")],
                  seed=0, dtype=np.float32)
    sess = session(net.to_onnx(), threads)
    X = np.random.default_rng(0).random((rows, 784), dtype=np.float32)
    check(sess.run(None, {"X": X})[0], net.predict(X))
    return net.predict, lambda x: sess.run(None, {"X": x}), X[:1], X


def columns(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {f"x{j}": rng.normal(j, 1.0 + j, n) for j in range(8)}
    data["city"] = rng.choice(np.array([f"city{k}" for k in range(20)], dtype=object), n)
    data["kind"] = rng.choice(np.array(["a", "b", "c"], dtype=object), n)
    return data


def model_case(rows: int, threads: int) -> tuple[Callable[..., Any], Callable[..., Any],
                                                  Any, Any]:
    data = columns(rows, 0)
    pre = Preprocessor().fit(data)
    net = Network([Dense(pre.n_outputs, 64, "relu"), Dense(64, 32, "relu"),
                   Dense(32, 3, "softmax")], seed=0, dtype=np.float32)
    target = TargetEncoder("classification", "y")
    target.classes = check_classes(["low", "mid", "high"])
    model = Model(net, pre, target)
    proto = model.to_onnx()
    sess = session(proto, threads)
    text = {i.name for i in proto.graph.input
            if i.type.tensor_type.elem_type == onnx.TensorProto.STRING}

    def feeds(d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: (v.astype(object) if k in text else v.astype(np.float64)).reshape(-1, 1)
                for k, v in d.items()}

    many = feeds(data)
    one = feeds({k: v[:1] for k, v in data.items()})
    check(sess.run(None, many)[1], model.predict_with_proba(data)[1])
    return (lambda d: model.predict_with_proba(d), lambda f: sess.run(None, f),
            ({k: v[:1] for k, v in data.items()}, one), (data, many))


def check(got: np.ndarray, want: np.ndarray) -> None:
    tol = 1e-5 if want.dtype == np.float32 else 1e-9
    with np.errstate(under="ignore"):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * float(np.abs(want).max()))


def run(rows: int, reps_one: int, reps_many: int, threads: int) -> list[tuple[str, ...]]:
    table = []
    for name, make in (("network 784-256-128-10", network_case),
                       ("model 10 columns", model_case)):
        predict, ort_run, one, many = make(rows, threads)
        if name.startswith("model"):  # inputs differ per side: (synnet's, onnxruntime's)
            pairs = [(predict, one[0], many[0]), (ort_run, one[1], many[1])]
        else:
            pairs = [(predict, one, many), (ort_run, one, many)]
        s1, o1 = timed([lambda fn=fn, x=x1: fn(x) for fn, x1, _ in pairs], reps_one,
                       statistics.median)
        sn, on = timed([lambda fn=fn, x=xn: fn(x) for fn, _, xn in pairs], reps_many, min)
        table.append((name, "synnet predict", f"{s1 * 1e6:,.0f}", f"{rows / sn:,.0f}", "1.00",
                      "1.00"))
        table.append((name, "onnxruntime", f"{o1 * 1e6:,.0f}", f"{rows / on:,.0f}",
                      f"{s1 / o1:.2f}", f"{sn / on:.2f}"))
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="threads for both sides (default: all CPUs)")
    args = parser.parse_args(argv)
    rows, reps_one, reps_many = (2_000, 20, 2) if args.quick else (60_000, 2_000, 5)
    with threadpool_limits(args.threads):
        table = run(rows, reps_one, reps_many, args.threads)
    print(f"synnet {synnet.__version__}, onnxruntime {ort.__version__}, NumPy {np.__version__}, "
          f"Python {platform.python_version()}, {platform.machine()}, {args.threads} thread(s)"
          f"{', QUICK sizes' if args.quick else ''}\n")
    print(f"| workload | runs | 1 row latency (µs, median) | {rows:,} rows: rows/s | "
          "latency speed-up | throughput speed-up |")
    print("|---|---|---:|---:|---:|---:|")
    for row in table:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
