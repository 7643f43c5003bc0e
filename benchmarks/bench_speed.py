"""synnet against its peers, side by side: ``python benchmarks/bench_speed.py``.

Cases (issue 6; full sizes, ``--quick`` shrinks every one to seconds):

1. the tutorial's 3-4-1 sigmoid network, 60,000 full-batch steps: synnet
   against the tutorial's own NumPy loop;
2. MNIST-shaped classification (60,000 x 784 float32, 128 ReLU, 10 classes,
   softmax cross-entropy, Adam lr 1e-3, batch 128, one epoch): synnet's
   ``Network.fit`` and ``MLPClassifier`` against PyTorch (CPU), scikit-learn
   and a hand-written NumPy loop, plus the float32 matmul peak of this machine;
3. a deeper network (784-512-256-10, batch 256), one epoch of training, and
   prediction on 60,000 rows;
4. memory: peak RSS added by fitting case 2, each peer in a fresh process;
5. one-row latency (issue 15): ``predict_proba`` on one row at a time with
   synnet's ``MLPClassifier`` against scikit-learn's (case 2's network).

How it measures: every library runs in its own worker process
(``_bench_worker.py``), all with the same thread count (threadpoolctl for the
BLAS and OpenMP pools, ``torch.set_num_threads``, and the usual environment
variables). Within a case the peers run interleaved, A, B, C, A, B, C, ...,
after one untimed warm-up each; the table shows the median of the
repetitions, and each ratio is the median of the per-repetition ratios of runs
made back to back. On a busy machine absolute times mean little; these ratios
do. The machine, its load, and the versions and BLAS of every library are
printed with the table.

OpenBLAS: where the environment sets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (this
workplace does, for old OpenBLAS builds), a full run unsets both in its worker
processes only, because they slow a current NumPy; the table then reports the
kernel threadpoolctl shows. ``--quick`` (what tests and CI run) leaves the
environment untouched unless asked (``--unset-openblas-env``).

The peers (PyTorch CPU, scikit-learn, threadpoolctl) are benchmark-only
requirements: ``pip install -r benchmarks/requirements.txt``. A missing peer is
reported as skipped; the synnet paths always run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from _bench_peers import GROUPS, LABELS, NEEDS  # noqa: E402

FULL: dict[str, Any] = {
    "tutorial_steps": 60_000, "n": 60_000, "d": 784, "classes": 10, "hidden": [128],
    "batch": 128, "deep_hidden": [512, 256], "deep_batch": 256, "lr": 1e-3,
    "sgemm_n": 2048, "sgemm_tries": 5, "reps": 5, "settle_s": 0.3,
    "quiet_busy": 0.25, "quiet_wait_s": 30.0, "one_row_calls": 2_000,
}
QUICK: dict[str, Any] = {
    **FULL, "tutorial_steps": 500, "n": 1_024, "sgemm_n": 256, "sgemm_tries": 3, "reps": 2,
    "settle_s": 0.0, "quiet_wait_s": 0.0, "one_row_calls": 50,
}

# (key, label in the tables, peers in the order they run in each repetition)
CASES: list[tuple[str, str, list[str]]] = [
    ("tutorial", "1 tutorial 3-4-1", ["synnet_fit", "tutorial_loop"]),
    ("mnist", "2 MNIST-shaped", ["synnet_fit", "synnet_fit_split", "synnet_mlp", "torch",
                                 "sklearn", "numpy_loop", "sgemm_numpy", "sgemm_torch"]),
    ("deep_train", "3 deep train", ["synnet_fit", "torch", "sklearn", "numpy_loop"]),
    ("deep_predict", "3 deep predict", ["synnet_predict", "torch_predict", "sklearn_predict",
                                        "numpy_predict"]),
    ("one_row", "5 one-row predict_proba", ["synnet_mlp", "sklearn"]),
]
MEMORY_LABEL = "4 memory (case 2 fit)"
MEMORY_PEERS = ["synnet_fit", "synnet_mlp", "torch", "sklearn", "numpy_loop"]
QUICK_MEMORY_PEERS = ["synnet_fit", "synnet_mlp"]  # each fresh process costs its imports
CASE_NUMBERS = {"tutorial": 1, "mnist": 2, "deep_train": 3, "deep_predict": 3, "one_row": 5}

# (case, numerator peer, denominator peer, target ratio): the targets.
RATIO_TARGETS: list[tuple[str, str, str, float | None]] = [
    ("tutorial", "synnet_fit", "tutorial_loop", 0.8),
    ("mnist", "synnet_fit", "torch", 0.6),
    ("mnist", "synnet_fit", "sklearn", 0.5),
    ("mnist", "synnet_fit", "numpy_loop", None),
    ("mnist", "synnet_fit_split", "synnet_fit", None),  # is the 2-thread update worth it?
    ("mnist", "synnet_mlp", "torch", 0.6),
    ("mnist", "synnet_mlp", "sklearn", 0.5),
    ("deep_train", "synnet_fit", "torch", 1.0),
    ("deep_train", "synnet_fit", "sklearn", None),
    ("deep_train", "synnet_fit", "numpy_loop", None),
    ("deep_predict", "synnet_predict", "torch_predict", 1.0),
    ("deep_predict", "synnet_predict", "numpy_predict", None),
    ("one_row", "synnet_mlp", "sklearn", 0.5),
]
PEAK_TARGET = 0.65  # synnet's case-2 GFLOP/s over the float32 matmul peak
MEMORY_TARGET_MB = 16.0


# -- worker processes -------------------------------------------------------------

def child_env(threads: int, unset_openblas: bool) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    if unset_openblas:
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    src = os.path.join(ROOT, "src")  # measure the working tree's synnet
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env["PYTHONWARNINGS"] = "ignore"
    return env


class PeerError(RuntimeError):
    """A task raised inside its worker: that peer is reported as failed, the run goes on."""


class Worker:
    """One library's worker process, driven one JSON line at a time."""

    def __init__(self, group: str, threads: int, env: dict[str, str]) -> None:
        self.group = group
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "_bench_worker.py"), "--threads", str(threads),
             "--group", group],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)

    def ask(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            raise RuntimeError(f"{self.group} worker died:\n{self.log.read()[-4000:]}")
        reply = json.loads(line)
        if "error" in reply:
            raise PeerError(f"{self.group} worker failed on {cmd}:\n{reply['error']}")
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
        self.log.close()


# -- running the cases ---------------------------------------------------------------

def _cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat; None elsewhere."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def machine_busy(interval: float = 0.5) -> float | None:
    """Fraction of all CPUs busy over ``interval`` seconds (our workers are idle then)."""
    a = _cpu_ticks()
    time.sleep(interval)
    b = _cpu_ticks()
    if a is None or b is None or b[1] == a[1]:
        return None
    return (b[0] - a[0]) / (b[1] - a[1])


def wait_quiet(p: dict[str, Any], say: Any) -> float | None:
    """Before a round, wait (at most ``quiet_wait_s``) until other processes leave the
    CPUs mostly idle; returns the busy fraction the round started with."""
    busy = machine_busy()
    waited = 0.0
    while busy is not None and busy > p["quiet_busy"] and waited < p["quiet_wait_s"]:
        if waited == 0.0:
            say(f"  waiting for a quieter machine ({100 * busy:.0f}% of the CPUs busy)")
        time.sleep(2.0)
        waited += 2.5
        busy = machine_busy()
    return busy


def run_case(case: str, peer_names: list[str], workers: dict[str, Worker], p: dict[str, Any],
             reps: int, without: set[str], say: Any) -> dict[str, Any]:
    """Set up every peer, warm each up once, then ``reps`` interleaved rounds."""
    out: dict[str, Any] = {}
    ready: list[str] = []
    for peer in peer_names:
        if NEEDS.get(peer) in without:
            out[peer] = {"skipped": f"--without {NEEDS[peer]}"}
            continue
        reply = workers[GROUPS[peer]].ask(op="setup", id=f"{case}/{peer}", case=case, peer=peer,
                                          params=p)
        if reply.get("ok"):
            ready.append(peer)
            out[peer] = {"times": [], "extras": []}
        else:
            out[peer] = {"skipped": reply.get("skip", "unavailable")}
            say(f"  {case}: {peer} skipped: {out[peer]['skipped']}")
    def failed(peer: str, exc: PeerError) -> None:
        last = str(exc).strip().splitlines()[-1]
        out[peer] = {"skipped": f"failed: {last}", "error": str(exc)}
        ready.remove(peer)
        say(f"  {case}: {peer} FAILED: {last}")

    for peer in list(ready):  # warm-up: first-call costs (threads, buffers, lazy imports)
        try:
            workers[GROUPS[peer]].ask(op="run", id=f"{case}/{peer}")
        except PeerError as exc:
            failed(peer, exc)
    out["busy_before_round"] = []
    for rep in range(reps):
        if p["quiet_wait_s"]:
            out["busy_before_round"].append(wait_quiet(p, say))
        for peer in list(ready):
            # BLAS threads of the peer that just ran keep spinning for a while (OpenBLAS:
            # ~0.1 s) and would take a core from this one: let them go to sleep first.
            time.sleep(p["settle_s"])
            try:
                reply = workers[GROUPS[peer]].ask(op="run", id=f"{case}/{peer}")
            except PeerError as exc:
                failed(peer, exc)
                continue
            out[peer]["times"].append(reply.pop("seconds"))
            out[peer]["extras"].append(reply)
        say(f"  {case}: round {rep + 1}/{reps}: " + ", ".join(
            f"{peer} {out[peer]['times'][-1]:.3g}s" for peer in ready))
    for group in {GROUPS[peer] for peer in ready}:
        workers[group].ask(op="clear")
    return out


def run_memory(peers: list[str], p: dict[str, Any], threads: int, env: dict[str, str],
               without: set[str], quick: bool, say: Any) -> dict[str, Any]:
    """Each peer's case-2 fit in a fresh process: peak RSS beyond imports and data.

    """
    out: dict[str, Any] = {}
    for peer in peers:
        if NEEDS.get(peer) in without:
            out[peer] = {"skip": f"--without {NEEDS[peer]}"}
        elif quick and peer not in QUICK_MEMORY_PEERS:
            out[peer] = {"skip": "--quick measures synnet's memory only"}
    peers = [peer for peer in peers if peer not in out]
    def start(peer: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, os.path.join(HERE, "_bench_worker.py"), "--threads", str(threads),
             "--memory", peer, "--params", json.dumps(p)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    # Quick runs start them all at once (RSS does not depend on the neighbours); full
    # runs one after the other, so a 2-core machine is not flooded with 10 threads.
    procs = {peer: start(peer) for peer in peers} if quick else dict.fromkeys(peers)
    for peer in peers:
        proc = procs[peer] or start(peer)
        stdout, stderr = proc.communicate()
        lines = stdout.strip().splitlines()
        reply = json.loads(lines[-1]) if lines else {"error": stderr[-4000:]}
        if proc.returncode or "error" in reply:
            error = reply.get("error") or stderr[-4000:]
            last = error.strip().splitlines()[-1] if error.strip() else f"exit {proc.returncode}"
            reply = {"skip": f"failed: {last}", "error": error}
        out[peer] = reply
        if "skip" in out[peer]:
            say(f"  memory: {peer} skipped: {out[peer]['skip']}")
        else:
            say(f"  memory: {peer} +{out[peer]['extra_kb'] / 1024:.1f} MB")
    return out


# -- the machine -----------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_gb() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def _git() -> str:
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + (" + uncommitted changes in src/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine(threads: int, unset_openblas: bool) -> dict[str, Any]:
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {
        "cpu": _cpu_model(), "logical_cpus": os.cpu_count(), "usable_cpus": affinity,
        "memory_gb": _mem_total_gb(), "os": platform.platform(), "python": sys.version.split()[0],
        "threads": threads, "synnet_git": _git(),
        "openblas_env": {v: os.environ.get(v) for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
        "openblas_env_unset_for_workers": unset_openblas,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# -- summarising ----------------------------------------------------------------------------

def _fmt_s(t: float) -> str:
    return f"{t:.3g}" if t >= 0.01 else f"{t:.2e}"


def _blas(pools: Any) -> str:
    if not isinstance(pools, list):
        return str(pools)
    parts = []
    for pool in pools:
        desc = f"{pool.get('internal_api')} {pool.get('version') or ''}".strip()
        extra = [f"{pool.get('num_threads')} threads"]
        if pool.get("architecture"):
            extra.insert(0, f"{pool['architecture']} kernel")
        if pool.get("threading_layer"):
            extra.append(pool["threading_layer"])
        parts.append(f"{desc} ({pool.get('prefix')}: {', '.join(extra)})")
    return "; ".join(parts)


def summarize(results: dict[str, Any], quick: bool) -> dict[str, Any]:
    """Medians, GFLOP/s, % of peak, paired ratios and targets."""
    peak = None
    mnist = results.get("cases", {}).get("mnist", {})
    sg = mnist.get("sgemm_numpy", {})
    if sg.get("extras"):
        peak = max(e["gflops"] for e in sg["extras"])
    torch_peak = None
    if mnist.get("sgemm_torch", {}).get("extras"):
        torch_peak = max(e["gflops"] for e in mnist["sgemm_torch"]["extras"])
    timing_rows = []
    for case, label, peers in CASES:
        data = results.get("cases", {}).get(case)
        if data is None:
            continue
        for peer in peers:
            if peer.startswith("sgemm"):
                continue
            r = data[peer]
            row: dict[str, Any] = {"case": label, "peer": LABELS[peer], "key": peer}
            if "skipped" in r:
                row["skipped"] = r["skipped"]
            else:
                med = statistics.median(r["times"])
                row.update(median=med, min=min(r["times"]), max=max(r["times"]))
                row["cpu_per_wall"] = statistics.median(
                    e["cpu_s"] / t for e, t in zip(r["extras"], r["times"]))
                flops = r["extras"][0].get("flops")
                if flops:
                    row["gflops"] = flops / med / 1e9
                    if peak:
                        row["pct_peak"] = 100 * row["gflops"] / peak
                if case == "tutorial":
                    row["note"] = f"{1e6 * med / results['params']['tutorial_steps']:.1f} us/step"
                elif case == "one_row":
                    row["note"] = f"{1e6 * med / r['extras'][0]['calls']:.1f} us/call"
                elif case == "deep_predict":
                    row["note"] = f"{r['extras'][0]['rows'] / med / 1e3:,.0f}k rows/s"
                elif "loss" in r["extras"][0]:
                    row["note"] = f"loss {r['extras'][-1]['loss']:.3f}"
            timing_rows.append(row)

    target_rows = []
    for case, num, den, target in RATIO_TARGETS:
        data = results.get("cases", {}).get(case)
        if data is None:
            continue
        label = next(lbl for key, lbl, _ in CASES if key == case)
        row = {"case": label, "what": f"{LABELS[num]} / {LABELS[den]}", "target": target,
               "kind": "ratio"}
        a, b = data.get(num, {}), data.get(den, {})
        if "skipped" in a or "skipped" in b:
            row["skipped"] = a.get("skipped") or b.get("skipped")
        else:
            ratios = [x / y for x, y in zip(a["times"], b["times"])]
            row["value"] = statistics.median(ratios)
            row["spread"] = [min(ratios), max(ratios)]
            row["best_ratio"] = min(a["times"]) / min(b["times"])
        target_rows.append(row)
        if case == "tutorial" and "skipped" not in a and "skipped" not in b:
            wa, wb = a["extras"][-1]["weights"], b["extras"][-1]["weights"]
            diff = max(abs(x - y) for la, lb in zip(wa, wb) for x, y in zip(la, lb))
            results["tutorial_weights_max_abs_diff"] = diff
    for peer in ("synnet_fit", "synnet_fit_split", "synnet_mlp"):
        r = mnist.get(peer)
        if r is None:
            continue
        row = {"case": "2 MNIST-shaped", "what": f"{LABELS[peer]}: share of float32 matmul peak",
               "target": PEAK_TARGET, "kind": "peak"}
        if "skipped" in r:
            row["skipped"] = r["skipped"]
        elif peak:
            flops = r["extras"][0]["flops"]
            row["value"] = flops / statistics.median(r["times"]) / 1e9 / peak
        target_rows.append(row)
    mem = results.get("memory", {})
    for peer in ("synnet_fit", "synnet_mlp"):
        if peer not in mem:
            continue
        row = {"case": MEMORY_LABEL, "what": f"{LABELS[peer]}: peak RSS beyond data and imports",
               "target": MEMORY_TARGET_MB, "kind": "memory"}
        if "skip" in mem[peer]:
            row["skipped"] = mem[peer]["skip"]
        else:
            row["value"] = mem[peer]["extra_kb"] / 1024
        target_rows.append(row)
    for row in target_rows:
        if "value" in row and row["target"] is not None and not quick:
            if row["kind"] == "peak":
                row["met"] = row["value"] >= row["target"]
            else:
                row["met"] = row["value"] <= row["target"]
    return {"peak_gflops": peak, "torch_peak_gflops": torch_peak, "timings": timing_rows,
            "targets": target_rows}


def render(results: dict[str, Any], summary: dict[str, Any]) -> str:
    m, p, quick = results["machine"], results["params"], results["quick"]
    w = results.get("workers", {})
    L: list[str] = []
    mode = "quick, tiny sizes: the numbers mean nothing" if quick else "full"
    L.append(f"## synnet benchmark ({mode})")
    L.append("")
    L.append(f"- command: `{results['command']}`; {m['date']}; "
             f"{p['reps']} interleaved repetitions after one warm-up, median shown; "
             f"wall time {results['wall_s']:.0f} s")
    L.append(f"- machine: {m['cpu']}, {m['logical_cpus']} logical CPUs "
             f"({m['usable_cpus']} usable), "
             f"{m['memory_gb']:.0f} GB RAM, {m['os']}; load average "
             f"{results['load_before']} before, {results['load_after']} after")
    L.append(f"- threads: {m['threads']} for every peer (threadpoolctl + torch.set_num_threads)")
    npw = w.get("numpy", {})
    if npw:
        L.append(f"- Python {npw.get('python')}, NumPy {npw.get('numpy')}, synnet "
                 f"{npw.get('synnet')} (git {m['synnet_git']}); NumPy BLAS: "
                 f"{_blas(npw.get('threadpools'))}")
    tw = w.get("torch", {})
    if tw:
        t = tw.get("torch")
        if isinstance(t, dict):
            L.append(f"- PyTorch {t['version']} ({t['blas']} BLAS, {t['cpu_capability']}, "
                     f"{t['threads']} threads, {t['interop_threads']} inter-op)")
        else:
            L.append(f"- PyTorch: {t}")
    if npw.get("sklearn"):
        L.append(f"- scikit-learn {npw['sklearn']} (same process and BLAS as NumPy)")
    env = m["openblas_env"]
    set_vars = {k: v for k, v in env.items() if v is not None}
    if set_vars:
        what = "unset for the worker processes" if m["openblas_env_unset_for_workers"] else \
            "left set"
        L.append(f"- environment: {', '.join(f'{k}={v}' for k, v in set_vars.items())} "
                 f"({what}; the kernel in use is the one shown above)")
    if summary["peak_gflops"]:
        extra = (f"; PyTorch's torch.mm: {summary['torch_peak_gflops']:.0f} GFLOP/s"
                 if summary["torch_peak_gflops"] else "")
        L.append(f"- float32 matmul peak (NumPy, {p['sgemm_n']}^3, best of "
                 f"{p['sgemm_tries']} x {p['reps']}): {summary['peak_gflops']:.0f} GFLOP/s{extra}")
    if "tutorial_weights_max_abs_diff" in results:
        L.append(f"- case 1 same result check: synnet and the tutorial loop end with weights "
                 f"that differ by at most {results['tutorial_weights_max_abs_diff']:.1e}")
    busy = {case: [b for b in data.get("busy_before_round", []) if b is not None]
            for case, data in results.get("cases", {}).items()}
    if any(busy.values()):
        L.append("- CPUs busy with other processes just before each round: " + "; ".join(
            f"case {CASE_NUMBERS[c]} {c} {', '.join(f'{100 * b:.0f}%' for b in v)}"
            for c, v in busy.items() if v))
    L.append("")
    L.append("| case | peer | median s | min s | max s | GFLOP/s | % of peak | CPU/wall | note |")
    L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in summary["timings"]:
        if "skipped" in r:
            L.append(f"| {r['case']} | {r['peer']} | skipped | | | | | | {r['skipped']} |")
            continue
        gf = f"{r['gflops']:.1f}" if "gflops" in r else ""
        pct = f"{r['pct_peak']:.0f}%" if "pct_peak" in r else ""
        L.append(f"| {r['case']} | {r['peer']} | {_fmt_s(r['median'])} | {_fmt_s(r['min'])} | "
                 f"{_fmt_s(r['max'])} | {gf} | {pct} | {r['cpu_per_wall']:.2f} | "
                 f"{r.get('note', '')} |")
    mem = results.get("memory")
    if mem:
        for peer in MEMORY_PEERS:
            r = mem.get(peer)
            if r is None:
                continue
            if "skip" in r:
                L.append(f"| {MEMORY_LABEL} | {LABELS[peer]} | skipped | | | | | | {r['skip']} |")
                continue
            second = ("" if r.get("second_extra_kb") is None else
                      f", second fit +{r['second_extra_kb'] / 1024:.1f} MB")
            L.append(f"| {MEMORY_LABEL} | {LABELS[peer]} | | | | | | | "
                     f"+{r['extra_kb'] / 1024:.1f} MB peak RSS over a "
                     f"{r['baseline_kb'] / 1024:.0f} MB baseline (data "
                     f"{r['data_kb'] / 1024:.0f} MB){second} |")
    L.append("")
    L.append("| case | ratio or figure | measured | ratio of best times | target | met |")
    L.append("| --- | --- | ---: | ---: | ---: | --- |")
    for r in summary["targets"]:
        target = "" if r["target"] is None else (
            f">= {100 * r['target']:.0f}%" if r["kind"] == "peak" else
            f"<= {r['target']:g} MB" if r["kind"] == "memory" else f"<= {r['target']:g}")
        if "skipped" in r:
            L.append(f"| {r['case']} | {r['what']} | skipped | | {target} | {r['skipped']} |")
            continue
        if "value" not in r:
            continue
        if r["kind"] == "peak":
            val = f"{100 * r['value']:.0f}%"
        elif r["kind"] == "memory":
            val = f"{r['value']:.1f} MB"
        else:
            val = f"{r['value']:.2f} ({r['spread'][0]:.2f}-{r['spread'][1]:.2f})"
        met = "" if r["target"] is None else ("quick run" if quick else
                                              ("yes" if r.get("met") else "**no**"))
        best = f"{r['best_ratio']:.2f}" if "best_ratio" in r else ""
        L.append(f"| {r['case']} | {r['what']} | {val} | {best} | {target} | {met} |")
    L.append("")
    L.append("Ratios are medians of per-repetition ratios (runs made back to back), with "
             "their range, and the ratio of the best times; below 1 means synnet is faster. "
             "GFLOP/s count 6 x samples x weights per training epoch and 2 x rows x weights per "
             "prediction (biases not counted); % of peak is against the NumPy float32 matmul "
             "peak above. CPU/wall is CPU seconds of the peer's process per wall second: near "
             "the thread count when the run had the cores to itself, lower when it shared them.")
    return "\n".join(L)


# -- main ------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="every case on tiny sizes (seconds)")
    ap.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    ap.add_argument("--reps", type=int, help="repetitions per case (default 5; quick: 3)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="threads for every peer (default: all CPUs)")
    ap.add_argument("--cases", default="1,2,3,4,5", help="which cases, e.g. 1,2 (default all)")
    ap.add_argument("--unset-openblas-env", dest="unset_openblas", action="store_true",
                    default=None, help="unset OPENBLAS_CORETYPE/L2_SIZE in the workers "
                    "(default for full runs)")
    ap.add_argument("--keep-openblas-env", dest="unset_openblas", action="store_false",
                    help="leave them as they are (default for --quick)")
    ap.add_argument("--without", default="", metavar="LIBS",
                    help="treat these optional peers as missing, e.g. torch,sklearn")
    ap.add_argument("-q", "--silent", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args(argv)

    p = dict(QUICK if args.quick else FULL)
    if args.reps:
        p["reps"] = args.reps
    unset = (not args.quick) if args.unset_openblas is None else args.unset_openblas
    wanted = {int(c) for c in args.cases.split(",") if c.strip()}
    without = {lib.strip() for lib in args.without.split(",") if lib.strip()}

    def say(msg: str) -> None:
        if not args.silent:
            print(msg, file=sys.stderr, flush=True)

    t_start = time.perf_counter()
    env = child_env(args.threads, unset)
    results: dict[str, Any] = {
        "quick": args.quick, "params": p, "machine": machine(args.threads, unset),
        "command": " ".join(["python benchmarks/bench_speed.py", *(argv or sys.argv[1:])]),
        "load_before": _loadavg(), "cases": {}, "workers": {},
    }
    cases = [c for c in CASES if CASE_NUMBERS[c[0]] in wanted]
    groups = sorted({GROUPS[peer] for _, _, peers in cases for peer in peers
                     if NEEDS.get(peer) not in without} | ({"numpy"} if cases else set()))
    workers = {g: Worker(g, args.threads, env) for g in groups}  # they import in parallel
    try:
        for g, wk in workers.items():
            results["workers"][g] = wk.ask(op="info")
        for case, label, peers in cases:
            say(f"case {label}")
            results["cases"][case] = run_case(case, peers, workers, p, p["reps"], without, say)
    finally:
        for wk in workers.values():
            wk.close()
    if 4 in wanted:
        say(f"case {MEMORY_LABEL}")
        results["memory"] = run_memory(MEMORY_PEERS, p, args.threads, env, without, args.quick,
                                       say)
    results["load_after"] = _loadavg()
    results["wall_s"] = time.perf_counter() - t_start
    summary = summarize(results, args.quick)
    results["summary"] = summary
    print(render(results, summary))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
