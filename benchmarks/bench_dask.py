"""synnet.dask on a LocalCluster (2 workers x 1 thread) against one process (1 and 2 threads).

The MNIST-shaped problem (784 features, 10 classes, a 784-128-10 network: 406 KB
of float32 weights) on synthetic data (class means + noise, so accuracy means
something). Printed as markdown:

1. time per epoch and test accuracy: one process with 1 and 2 BLAS threads, and
   the cluster in gradient and local-SGD mode (cluster start-up and loading the
   partitions are excluded; the rounds are not);
2. the overhead share of a round: 1 - (the round's compute, from the measured
   one-thread compute per sample, split over the workers) / (the round's time);
3. measured exchange costs against the weight size: one gradient all-reduce
   (up and down the tree of actors, one per worker) and one local-SGD round
   (tasks, state out, average back);
4. a scaling *model* (a projection, not a measurement) of epoch time for 1-64
   workers: compute per sample x rows / workers, plus per step (gradient) or per
   round (local SGD) the measured exchange cost at this weight size, grown with
   the worker count: the all-reduce with the tree's depth, floor(log2(workers))
   levels each way, each costing what the one level of 2 workers costs (a
   parent's two children send and receive at once); the local-SGD round
   linearly (one client averages every worker's state).

    python benchmarks/bench_dask.py            # 20,000 rows, 3 epochs
    python benchmarks/bench_dask.py --quick    # a few thousand rows, 1 epoch, for CI

This machine's cores are shared: the figures are noisy, and a 2-core machine
cannot show a cluster speed-up. The projection is only as good as its inputs.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from typing import Any

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster
from threadpoolctl import threadpool_limits

import synnet
from synnet.core.optimizers import Adam
from synnet.dask import fit as dask_fit
from synnet.dask.reducer import start_tree

FEATURES, HIDDEN, CLASSES = 784, 128, 10


def data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    means = np.random.default_rng(12345).normal(0.0, 1.0, (CLASSES, FEATURES)).astype(np.float32)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    X = means[y] + rng.normal(0.0, 4.0, (n, FEATURES)).astype(np.float32)
    return X, y


def network() -> synnet.Network:
    return synnet.Network([synnet.Dense(FEATURES, HIDDEN, "relu"),
                           synnet.Dense(HIDDEN, CLASSES, "softmax")], seed=0, dtype="float32")


def accuracy(net: synnet.Network, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(net.predict(X).argmax(1) == y))


def one_process(X: Any, y: Any, Xt: Any, yt: Any, threads: int, epochs: int,
                batch: int) -> dict[str, float]:
    net = network()
    with threadpool_limits(threads):
        start = time.perf_counter()
        net.fit(X, y, "categorical_crossentropy", Adam(1e-3), epochs=epochs, batch_size=batch)
        seconds = time.perf_counter() - start
    return {"epoch_s": seconds / epochs, "accuracy": accuracy(net, Xt, yt)}


def on_cluster(client: Client, Xd: Any, yd: Any, Xt: Any, yt: Any, mode: str, epochs: int,
               batch: int, steps_per_round: int) -> dict[str, float]:
    net = network()
    start = time.perf_counter()
    dask_fit(net, Xd, yd, client=client, loss="categorical_crossentropy",
             optimizer=Adam(1e-3), epochs=epochs, batch_size=batch, mode=mode,
             steps_per_round=steps_per_round, seed=0)
    seconds = time.perf_counter() - start
    return {"epoch_s": seconds / epochs, "accuracy": accuracy(net, Xt, yt)}


def _allreduce_loop(reducer: Any, rank: int, size: int, steps: int) -> float:
    grads = {"w": np.ones(size, np.float32)}
    start = time.perf_counter()
    for step in range(steps):
        reducer.allreduce(step, rank, (grads, 0.0, 1.0)).result()
    return (time.perf_counter() - start) / steps


def exchange_costs(client: Client, sizes: list[int], steps: int) -> dict[int, dict[str, float]]:
    """Seconds per gradient all-reduce, and per local-SGD-like round, per weight count."""
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    out = {}
    for size in sizes:
        tree = start_tree(client, workers, 60.0)
        per_step = max(client.gather([
            client.submit(_allreduce_loop, tree[r], r, size, steps, workers=[w], pure=False)
            for r, w in enumerate(workers)]))
        state = np.ones(size * 3, np.float32)  # weights + two Adam moments
        start = time.perf_counter()
        for _ in range(steps):
            shared = client.scatter(state, workers=workers, broadcast=True, hash=False)
            parts = [client.submit(np.copy, shared, workers=[w], pure=False) for w in workers]
            client.gather(client.submit(_mean, *parts, pure=False))
        out[size] = {"allreduce_s": per_step, "round_s": (time.perf_counter() - start) / steps}
    return out


def _mean(*arrays: np.ndarray) -> np.ndarray:
    return sum(arrays[1:], arrays[0].copy()) / len(arrays)


def projection(compute_per_sample: float, cost: dict[str, float], n: int, batch: int,
               steps_per_round: int, measured_workers: int) -> list[tuple[int, float, float]]:
    """(workers, gradient epoch s, local-SGD epoch s): a model, see the module docstring."""
    steps = -(-n // batch)
    rows = []
    for w in (1, 2, 4, 8, 16, 32, 64):
        grow = w / measured_workers
        levels = math.floor(math.log2(w)) / math.floor(math.log2(measured_workers))
        compute = n * compute_per_sample / w
        gradient = compute + (steps * cost["allreduce_s"] * levels if w > 1 else 0.0)
        local = compute + (-(-steps // steps_per_round) * cost["round_s"] * grow
                           if w > 1 else 0.0)
        rows.append((w, gradient, local))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI")
    args = parser.parse_args()
    n, epochs = (3000, 1) if args.quick else (20000, 3)
    batch, steps_per_round = 128, 100
    X, y = data(n)
    Xt, yt = data(2000 if not args.quick else 500, seed=1)
    Y = np.eye(CLASSES, dtype=np.float32)[y]
    size = FEATURES * HIDDEN + HIDDEN * CLASSES + HIDDEN + CLASSES
    print(f"MNIST-shaped synthetic data: {n} rows x {FEATURES}, batch {batch}, "
          f"{epochs} epoch(s), weights {size * 4 / 1e3:.0f} KB\n")
    rows = {f"one process, {t} thread(s)": one_process(X, Y, Xt, yt, t, epochs, batch)
            for t in (1, 2)}
    compute_per_sample = rows["one process, 1 thread(s)"]["epoch_s"] / n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's start-up chatter
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=":0")
    try:
        with Client(cluster) as client:
            chunk = -(-n // 4)
            Xd = da.from_array(X, chunks=(chunk, FEATURES)).persist()
            Yd = da.from_array(Y, chunks=(chunk, CLASSES)).persist()
            for mode in ("gradient", "local_sgd"):
                rows[f"LocalCluster 2x1, {mode}"] = on_cluster(
                    client, Xd, Yd, Xt, yt, mode, epochs, batch, steps_per_round)
            costs = exchange_costs(client, [size // 16, size // 4, size, size * 4],
                                   5 if args.quick else 20)
    finally:
        cluster.close()
    print("| run | time per epoch (s) | overhead share | test accuracy |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        ideal = n * compute_per_sample / (2 if "Cluster" in name else 1)
        share = f"{max(0.0, 1 - ideal / r['epoch_s']):.0%}" if "Cluster" in name else "-"
        print(f"| {name} | {r['epoch_s']:.3f} | {share} | {r['accuracy']:.3f} |")
    print("\n| weights | KB | gradient all-reduce per step (ms) | local-SGD round (ms) |")
    print("|---|---|---|---|")
    for s, c in costs.items():
        print(f"| {s} | {s * 4 / 1e3:.0f} | {c['allreduce_s'] * 1e3:.1f} | "
              f"{c['round_s'] * 1e3:.1f} |")
    print(f"\nProjection (a model, not a measurement): 60,000 rows, batch {batch}, local SGD "
          f"every {steps_per_round} steps, compute {compute_per_sample * 1e6:.1f} us/sample "
          "(measured, 1 thread), exchange costs measured at 2 workers, grown with the "
          "tree's depth (gradient all-reduce) or linearly (local-SGD round) with the "
          "worker count.\n")
    print("| workers | gradient mode epoch (s) | local-SGD epoch (s) |")
    print("|---|---|---|")
    for w, g, loc in projection(compute_per_sample, costs[size], 60000, batch,
                                steps_per_round, 2):
        print(f"| {w} | {g:.2f} | {loc:.2f} |")


if __name__ == "__main__":
    main()
