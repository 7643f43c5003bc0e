"""Data bigger than memory (issue 12): peak memory and speed of streaming against file size.

For each ``--size`` (GB of CSV; several sizes are reported side by side) it
writes a synthetic table (32 numeric columns, 2 text columns, a 3-class
target) as CSV and as Parquet, then measures, each job in a fresh process
(peak RSS read from /proc: VmHWM):

- ``synnet predict`` on the whole CSV and the whole Parquet file (it streams);
- ``synnet train --stream --epochs 1`` on the whole CSV and Parquet file
  (rows/s of the epoch from the model file's training record).

Then, on a Parquet subset that fits (``--subset-rows``), the same job streamed
and in memory, for the rows/s ratio:

- ``synnet train --stream`` against ``--no-stream``: the same network, batch
  size (256), epoch, seed and validation split; rows/s is of the epoch
  (``fit``: training plus its validation), the job's wall time besides (the
  in-memory job reads and transforms the file once, before its epoch; the
  streamed one reads it again in every epoch). Once with the command line's
  default network and once with ``--hidden`` of ``--big-hidden``, where each
  row costs more computation, as in a real model;
- the library alone: ``Network.fit`` on a ``ParquetSource`` (with and without
  its read-ahead thread) against ``Network.fit`` on the same rows as arrays,
  transformed by the same preprocessing, with the same network.

And pandas ``read_csv`` of the whole CSV plus ``synnet.MLPClassifier``
(``max_iter=1``), the way a user would write it today, at the sizes up to
``--pandas-max-gb`` (it needs several times the file in memory).

    python benchmarks/bench_stream.py --size 0.05 0.5 2   # the issue's table
    python benchmarks/bench_stream.py --quick             # tiny files, seconds (CI)

Files go to ``--dir`` (default: a temporary folder) and are deleted at the end.
Targets (issue 12): peak RSS <= 512 MB whatever the size; streaming / in-memory
rows/s >= 0.7 for Parquet. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

N_NUMERIC = 32
CITIES = np.array([f"city_{i}" for i in range(40)], dtype=object)
SEGMENTS = np.array(["retail", "online", "partner", "wholesale", "other"], dtype=object)
CLASSES = np.array(["low", "mid", "high"], dtype=object)
NAMES = [f"x{i}" for i in range(N_NUMERIC)] + ["city", "segment"]
BYTES_PER_ROW = 288  # of the CSV, measured on the generator's output (200,000 rows)


def _chunk(rng: np.random.Generator, n: int) -> Any:
    import pandas as pd

    X = rng.normal(size=(n, N_NUMERIC)).round(5)
    city = rng.integers(0, len(CITIES), n)
    segment = rng.integers(0, len(SEGMENTS), n)
    score = X[:, 0] + 0.5 * X[:, 1] - 0.3 * X[:, 2] + 0.02 * city - 0.1 * segment
    label = np.digitize(score, [-0.5, 0.5])
    frame = pd.DataFrame(X, columns=NAMES[:N_NUMERIC])
    frame["city"], frame["segment"] = CITIES[city], SEGMENTS[segment]
    frame["target"] = CLASSES[label]
    return frame


def write_data(folder: Path, rows: int, name: str, chunk_rows: int = 100_000) -> tuple[Path,
                                                                                          Path]:
    """``name``.csv and ``name``.parquet of ``rows`` rows, written chunk by chunk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    csv_path, pq_path = folder / f"{name}.csv", folder / f"{name}.parquet"
    writer = None
    with open(csv_path, "w", newline="") as f:
        for start in range(0, rows, chunk_rows):
            frame = _chunk(rng, min(chunk_rows, rows - start))
            frame.to_csv(f, index=False, header=start == 0, lineterminator="\n")
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(pq_path, table.schema)
            writer.write_table(table, row_group_size=min(chunk_rows, 65536))
    assert writer is not None
    writer.close()
    return csv_path, pq_path


# -- the jobs, each run in its own process -------------------------------------------


def job_predict(model: str, data: str, out: str) -> dict[str, Any]:
    from synnet.cli import main

    code = main(["predict", model, data, "-o", out])
    if code != 0:
        raise SystemExit(f"synnet predict exited {code}")
    return {}


def job_train(data: str, out: str, stream: str, hidden: str = "64") -> dict[str, Any]:
    """One epoch of ``synnet train``; the epoch's seconds from the model's training record."""
    from synnet.cli import main
    from synnet.io import load_model

    code = main(["train", data, "--target", "target", "--epochs", "1", "--patience", "0",
                 "--batch-size", "256", "--seed", "0", "--hidden", hidden, "-q", "-o", out,
                 "--stream" if stream == "stream" else "--no-stream"])
    if code != 0:
        raise SystemExit(f"synnet train exited {code}")
    record = load_model(out).header["training"]
    return {"rows": record["rows"]["train"], "seconds": record["seconds"]}


def job_source(data: str, mode: str, hidden: str) -> dict[str, Any]:
    """One epoch of Network.fit on a ParquetSource (``mode`` "ahead": with its read-ahead
    thread; "plain": without) or, "arrays", on the same rows as arrays; the preprocessing
    is fitted in one streaming pass first, outside the time."""
    import synnet
    from synnet.data import ParquetSource
    from synnet.tabular.chunks import read_chunks
    from synnet.tabular.files import read_table
    from synnet.tabular.streaming import fit_streaming

    pre, target, rows, _ignored = fit_streaming(
        (t for _, t in read_chunks(data)), NAMES, "target", "classification")

    def transform(columns: dict[str, np.ndarray]) -> Any:
        return pre.transform(columns, warn_unknown=False), target.encode(columns["target"])[0], None

    sizes = [pre.n_outputs, *(int(h) for h in hidden.split(",")), 3]
    net = synnet.Network([synnet.Dense(a, b, "relu") for a, b in zip(sizes[:-2], sizes[1:-1])]
                         + [synnet.Dense(sizes[-2], 3, "softmax")], seed=0)
    fit = {"loss": "categorical_crossentropy", "epochs": 1, "batch_size": 256}
    if mode == "arrays":
        X, y, _ = transform(read_table(data).columns)
        started = time.perf_counter()
        net.fit(X, y, **fit)
    else:
        source = ParquetSource(data, columns=[*NAMES, "target"], transform=transform,
                               read_ahead=2 if mode == "ahead" else 0)
        started = time.perf_counter()
        net.fit(source, **fit)
    return {"rows": rows, "seconds": time.perf_counter() - started}


def job_pandas(data: str) -> dict[str, Any]:
    import warnings

    import pandas as pd

    import synnet

    started = time.perf_counter()
    frame = pd.read_csv(data)
    X = pd.get_dummies(frame[NAMES], columns=["city", "segment"]).to_numpy(np.float64)
    y = frame["target"].to_numpy()
    del frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter=1 does not converge, by design
        synnet.MLPClassifier(hidden_layer_sizes=(64,), max_iter=1, batch_size=256,
                             random_state=0).fit(X, y)
    return {"rows": len(y), "seconds": time.perf_counter() - started}


JOBS = {"predict": job_predict, "train": job_train, "source": job_source,
        "pandas": job_pandas}


def _worker(argv: list[str]) -> None:
    result = JOBS[argv[0]](*argv[1:])
    peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")]
    result["peak_mb"] = int(peak[0]) / 1024 if peak else float("nan")
    print("RESULT " + json.dumps(result))


def run_job(*argv: str) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--worker", *argv], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed:\n{done.stderr[-3000:]}")
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1]
    result: dict[str, Any] = json.loads(line[len("RESULT "):])
    result["wall_seconds"] = time.perf_counter() - started
    print(f"{' '.join(Path(a).name for a in argv)}: {json.dumps(result)}", flush=True)
    return result


def _train_model(folder: Path, small_csv: Path) -> Path:
    from synnet.cli import main

    model = folder / "model.synnet"
    code = main(["train", str(small_csv), "--target", "target", "--epochs", "2", "--seed", "0",
                 "-q", "-o", str(model)])
    if code != 0:
        raise SystemExit("training the model for predict failed")
    return model


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=float, nargs="*", default=[2.0],
                        help="GB of CSV, one or more (default 2; none: only the subset)")
    parser.add_argument("--blas-threads", type=int, default=0,
                        help="BLAS threads in every job (default 0: the library's default). "
                             "On a loaded machine, 1 keeps idle BLAS threads from dominating "
                             "the small matrix products")
    parser.add_argument("--quick", action="store_true", help="tiny files (CI)")
    parser.add_argument("--subset-rows", type=int, default=200_000,
                        help="rows of the in-memory comparison (default 200000; 0: none)")
    parser.add_argument("--big-hidden", default="256,256",
                        help="hidden layers of the second comparison (default 256,256)")
    parser.add_argument("--pandas-max-gb", type=float, default=1.0,
                        help="run the pandas + MLPClassifier job only up to this size")
    parser.add_argument("--dir", default=None, help="folder for the files (default: temp)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    if args.blas_threads:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.blas_threads)  # inherited by every job's process
    sizes = [0.0058] if args.quick else sorted(args.size)
    subset = 5_000 if args.quick else args.subset_rows
    folder = Path(tempfile.mkdtemp(prefix="synnet-bench-stream-", dir=args.dir))
    results: dict[str, Any] = {"sizes": [], "subset": {"rows": subset}}
    try:
        small_csv, small_pq = write_data(folder, max(subset, 5_000), "subset")
        model = _train_model(folder, small_csv)
        trained = str(folder / "trained.synnet")
        for gb in sizes:
            rows = 20_000 if args.quick else int(gb * 1e9 / BYTES_PER_ROW)
            csv_path, pq_path = write_data(folder, rows, "big")
            r: dict[str, Any] = {"rows": rows, "csv_gb": csv_path.stat().st_size / 1e9,
                                 "parquet_gb": pq_path.stat().st_size / 1e9}
            out = str(folder / "pred.csv")
            r["predict_csv"] = run_job("predict", str(model), str(csv_path), out)
            r["predict_parquet"] = run_job("predict", str(model), str(pq_path), out)
            r["train_csv"] = run_job("train", str(csv_path), trained, "stream")
            r["train_parquet"] = run_job("train", str(pq_path), trained, "stream")
            if r["csv_gb"] <= args.pandas_max_gb:
                r["pandas_mlp"] = run_job("pandas", str(csv_path))
            csv_path.unlink()
            pq_path.unlink()
            results["sizes"].append(r)
            print(f"done: {r['csv_gb']:.3f} GB", flush=True)
        sub = results["subset"]
        for hidden in ("64", args.big_hidden) if subset else ():
            for mode in ("stream", "memory"):
                sub[f"cli_{mode}_{hidden}"] = run_job("train", str(small_pq), trained, mode,
                                                      hidden)
        for mode in ("ahead", "plain", "arrays") if subset else ():
            sub[f"source_{mode}"] = run_job("source", str(small_pq), mode, "64")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"BLAS threads: {args.blas_threads or 'default'}")
    _report(results, args.big_hidden)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def _rate(job: dict[str, Any]) -> float:
    return float(job["rows"] / job["seconds"])


def _report(results: dict[str, Any], big: str) -> None:
    sizes = results["sizes"]
    if sizes:
        _report_sizes(sizes)
    _report_subset(results["subset"], big)


def _report_sizes(sizes: list[dict[str, Any]]) -> None:
    print("\nStreaming jobs on the whole file: peak RSS in MB (rows/s)\n")
    print("| job | " + " | ".join(f"{r['csv_gb']:.3f} GB ({r['rows']:,} rows)"
                                    for r in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    for key in ("predict_csv", "predict_parquet", "train_csv", "train_parquet", "pandas_mlp"):
        cells = []
        for r in sizes:
            job = r.get(key)
            if job is None:
                cells.append("not run")
                continue
            seconds = job.get("seconds", job["wall_seconds"])
            cells.append(f"{job['peak_mb']:.0f} ({job.get('rows', r['rows']) / seconds:,.0f})")
        print(f"| {key} | " + " | ".join(cells) + " |")
    streaming = [r[k]["peak_mb"] for r in sizes
                 for k in ("predict_csv", "predict_parquet", "train_csv", "train_parquet")]
    print(f"\nlargest streaming peak RSS: {max(streaming):.0f} MB (target <= 512)")
    if len(sizes) > 1:
        growth = max(sizes[-1][k]["peak_mb"] - sizes[0][k]["peak_mb"]
                     for k in ("predict_csv", "predict_parquet", "train_csv", "train_parquet"))
        print(f"largest growth from {sizes[0]['csv_gb']:.3f} to {sizes[-1]['csv_gb']:.3f} GB: "
              f"{growth:+.0f} MB")
    ran = [r for r in sizes if "pandas_mlp" in r]
    if not ran:
        return
    last = ran[-1]
    job = last["pandas_mlp"]
    print(f"pandas read_csv + MLPClassifier at {last['csv_gb']:.3f} GB (the largest size it "
          f"ran at): {job['seconds']:.1f} s, peak {job['peak_mb']:.0f} MB")
    if len(ran) < 2:
        return
    first = ran[-2]
    slope = ((job["peak_mb"] - first["pandas_mlp"]["peak_mb"])
             / (last["csv_gb"] - first["csv_gb"]))  # MB per GB of CSV, the baseline left out
    print(f"  it grows by {slope:,.0f} MB per GB of CSV ({slope / 1000:.1f}x the file), "
          f"measured between {first['csv_gb']:.3f} and {last['csv_gb']:.3f} GB")
    for other in sizes:
        if "pandas_mlp" not in other:
            need = job["peak_mb"] + slope * (other["csv_gb"] - last["csv_gb"])
            print(f"  at {other['csv_gb']:.3f} GB it was not run: it would need about "
                  f"{need / 1000:.1f} GB (extrapolated along that line)")


def _report_subset(sub: dict[str, Any], big: str) -> None:
    if not sub["rows"]:
        return
    print(f"\nThe same one-epoch job on a Parquet subset of {sub['rows']:,} rows: streamed "
          "against in memory\n")
    print("| job | epoch rows/s | epoch s | job wall s | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    for key, job in sub.items():
        if key != "rows":
            print(f"| {key} | {_rate(job):,.0f} | {job['seconds']:.2f} | "
                  f"{job['wall_seconds']:.1f} | {job['peak_mb']:.0f} |")
    print()
    for hidden in ("64", big):
        stream, memory = sub[f"cli_stream_{hidden}"], sub[f"cli_memory_{hidden}"]
        print(f"synnet train, hidden {hidden}: streamed / in-memory epoch rows/s "
              f"{_rate(stream) / _rate(memory):.2f}; whole job (wall) "
              f"{memory['wall_seconds'] / stream['wall_seconds']:.2f} (target >= 0.7)")
    print(f"Network.fit: ParquetSource / arrays rows/s "
          f"{_rate(sub['source_ahead']) / _rate(sub['source_arrays']):.2f} "
          f"(without read-ahead {_rate(sub['source_plain']) / _rate(sub['source_arrays']):.2f})")
    short = [k for k, job in sub.items() if k != "rows" and job["seconds"] < 1.0]
    if short or sub["rows"] < 50_000:
        print(f"note: {sub['rows']:,} rows ({', '.join(short) or 'every epoch'} under 1 s "
              "where the machine is quiet): start-up (the first chunk, the read-ahead "
              "thread, first calls) weighs on these, so their ratios say little; use "
              f"a larger --subset-rows (e.g. {max(200_000, 4 * sub['rows']):,}).")


if __name__ == "__main__":
    main()
