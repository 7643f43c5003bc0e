"""A benchmark worker process: runs tasks of one library on the parent's command.

Two modes:

``python _bench_worker.py --threads T``
    serve: read one JSON command per line on stdin, answer one JSON line on
    stdout. Commands: ``info``, ``setup`` (build a task: data, model factory),
    ``run`` (prepare untimed, then time one run), ``clear``, ``quit``. The
    parent keeps one worker per library alive for the whole benchmark and
    interleaves their runs, so every peer runs warm, in its own process, under
    the same load as the others.

``python _bench_worker.py --threads T --memory PEER --params JSON``
    memory: in this fresh process, import the peer's library, create the case-2
    data, then reset the kernel's peak-RSS mark so that it equals the current
    RSS (the *baseline*), fit one epoch, and report ``ru_maxrss`` minus the
    baseline: what fitting added beyond the imports and the data.

Anything the libraries print goes to stderr; stdout carries only the protocol.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import sys
import time
import traceback
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _bench_peers as peers
import numpy as np

_LIMITS: Any = None  # the threadpoolctl limiter, kept alive for the whole process


def pin_threads(threads: int, group: str | None) -> None:
    """Same thread count for NumPy's BLAS and OpenMP (threadpoolctl) and for PyTorch."""
    global _LIMITS
    try:
        from threadpoolctl import threadpool_limits

        _LIMITS = threadpool_limits(limits=threads)
    except ImportError:  # the environment variables set by the parent still apply
        pass
    if group == "torch":
        try:
            import torch

            torch.set_num_threads(threads)
            if _LIMITS is not None:  # torch brought its own OpenMP: limit that one too
                from threadpoolctl import threadpool_limits

                threadpool_limits(limits=threads)
        except ImportError:
            pass


def info(group: str) -> dict[str, Any]:
    """Versions, BLAS and thread counts as this process sees them."""
    out: dict[str, Any] = {"python": platform.python_version(), "numpy": np.__version__}
    try:
        from threadpoolctl import threadpool_info

        out["threadpools"] = [
            {k: v for k, v in pool.items() if k in (
                "user_api", "internal_api", "prefix", "version", "num_threads",
                "threading_layer", "architecture")}
            for pool in threadpool_info()]
    except ImportError:
        out["threadpools"] = "threadpoolctl not installed"
    try:
        import synnet

        out["synnet"] = synnet.__version__
    except ImportError:
        out["synnet"] = None
    if group == "torch":
        try:
            import torch

            config = torch.__config__.show()
            blas = [part.split("=", 1)[1] for part in config.replace(",", "\n").split()
                    if part.startswith("BLAS_INFO=")]
            out["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads(),
                            "interop_threads": torch.get_num_interop_threads(),
                            "blas": blas[0] if blas else "?",
                            "cpu_capability": torch.backends.cpu.get_cpu_capability()}
        except ImportError as exc:
            out["torch"] = f"not installed ({exc})"
    if group == "numpy":
        try:
            import sklearn

            out["sklearn"] = sklearn.__version__
        except ImportError as exc:
            out["sklearn"] = f"not installed ({exc})"
    return out


def serve(group: str, threads: int, proto: Any) -> None:
    tasks: dict[str, Any] = {}
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        try:
            if op == "quit":
                break
            if op == "info":
                reply: dict[str, Any] = info(group)
            elif op == "setup":
                try:
                    tasks[cmd["id"]] = peers.make_task(cmd["case"], cmd["peer"], cmd["params"])
                    # Libraries loaded by the task (scipy brings its own OpenBLAS) get limited too.
                    pin_threads(threads, group)
                    # Everything alive now (modules, data) is never garbage: freezing it keeps
                    # the collection before each run short (it takes 0.5 s with torch loaded).
                    gc.collect()
                    gc.freeze()
                    reply = {"ok": True}
                except peers.Skip as exc:
                    reply = {"ok": False, "skip": str(exc)}
            elif op == "run":
                task = tasks[cmd["id"]]
                task.prepare()
                gc.collect()
                c0, t0 = time.process_time(), time.perf_counter()
                extra = task.run()
                seconds = time.perf_counter() - t0
                # CPU time of all this process's threads over wall time: near the thread
                # count when the run had the cores to itself, lower when it had to share.
                reply = {"seconds": seconds, "cpu_s": time.process_time() - c0, **(extra or {})}
            elif op == "clear":
                tasks.clear()
                peers.clear_data()
                gc.unfreeze()
                gc.collect()
                reply = {"ok": True}
            else:
                reply = {"error": f"unknown op {op!r}"}
        except Exception:
            reply = {"error": traceback.format_exc()}
        proto.write(json.dumps(reply) + "\n")
        proto.flush()


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0); False if not."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def memory(peer: str, params: dict[str, Any], threads: int) -> dict[str, Any]:
    """Peak RSS added by fitting one epoch of case 2 (KiB, Linux), cold then again.

    Baseline: this process after importing the peer's library and creating the
    data (X float32 and y int64, drawn in place, no temporaries) and building
    one model (which loads what the library imports lazily, as PyTorch's
    optimizers do), then ``gc.collect()`` and a reset of the kernel's peak mark to the current RSS
    (without the reset, ``ru_maxrss`` would still hold any higher peak from the
    imports, hiding growth below it). Measured: model construction and one
    epoch of fit. ``extra_kb`` is that first, cold fit (it includes first-use
    costs: thread start-up, BLAS buffers, lazily imported modules);
    ``second_extra_kb`` repeats the measure for a second fresh model in the same
    process, whose allocations can reuse what the first one freed.
    """
    try:
        task = peers.make_task("mnist", peer, params)  # imports the library, creates the data
    except peers.Skip as exc:
        return {"skip": str(exc)}
    pin_threads(threads, peers.GROUPS[peer])
    task.prepare()  # builds a model once: modules the library imports lazily load now
    gc.collect()
    peak_before_reset = _peak_kb()
    reset = _reset_peak()
    baseline, rss_baseline = _peak_kb(), _status_kb("VmRSS")
    task.prepare()
    task.run()
    peak = _peak_kb()
    gc.collect()
    _reset_peak()
    baseline2 = _peak_kb()
    task.prepare()
    task.run()
    peak2 = _peak_kb()
    return {
        "baseline_kb": baseline, "peak_kb": peak, "extra_kb": peak - baseline,
        "second_extra_kb": peak2 - baseline2 if reset else None,
        "rss_at_baseline_kb": rss_baseline, "peak_before_reset_kb": peak_before_reset,
        "peak_reset": reset, "data_kb": (task.X.nbytes + task.y.nbytes) / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--group", default=None)
    ap.add_argument("--memory", default=None, help="peer whose case-2 fit to measure")
    ap.add_argument("--params", default="{}")
    args = ap.parse_args()
    # The protocol gets the real stdout; everything else printed goes to stderr.
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    group = args.group or (peers.GROUPS.get(args.memory) if args.memory else None)
    pin_threads(args.threads, group)
    if args.memory:
        try:
            reply = memory(args.memory, json.loads(args.params), args.threads)
        except Exception:
            reply = {"error": traceback.format_exc()}
        proto.write(json.dumps(reply) + "\n")
        proto.flush()
    else:
        serve(group or "numpy", args.threads, proto)


if __name__ == "__main__":
    main()
