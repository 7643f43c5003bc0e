"""Data bigger than memory (issue 12): peak memory and speed of streaming against file size.

Writes a synthetic table (32 numeric columns, 2 text columns, a 3-class
target) as CSV and as Parquet of about ``--size`` GB each, then measures, each
job in a fresh process (peak RSS read from /proc: VmHWM):

- ``synnet predict`` on the whole CSV and the whole Parquet file (it streams);
- ``synnet train --stream --epochs 1`` on the whole CSV and Parquet file
  (rows/s of the epoch from the model file's training record);
- on a subset that fits (``--subset-rows``): the same epoch ``--no-stream``
  (in memory) and ``--stream``, for the rows/s ratio, and the library's
  ``ParquetSource`` with and without its read-ahead thread;
- pandas ``read_csv`` of the whole CSV plus ``synnet.MLPClassifier``
  (``max_iter=1``), the way a user would write it today (skipped above
  ``--pandas-max-gb``, as it needs several times the file in memory).

    python benchmarks/bench_stream.py --size 0.5     # then --size 2 to compare peaks
    python benchmarks/bench_stream.py --quick        # tiny files, seconds (CI)

Files go to ``--dir`` (default: a temporary folder) and are deleted at the end.
Targets (issue 12): peak RSS <= 512 MB whatever the size; streaming / in-memory
rows/s >= 0.7 for Parquet. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
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
BYTES_PER_ROW = 370  # of the CSV, measured on the generator's output


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


def job_train(data: str, out: str, stream: str) -> dict[str, Any]:
    """One epoch of ``synnet train``; the epoch's seconds from the model's training record."""
    from synnet.cli import main
    from synnet.io import load_model

    code = main(["train", data, "--target", "target", "--epochs", "1", "--patience", "0",
                 "--batch-size", "256", "--seed", "0", "-q", "-o", out,
                 "--stream" if stream == "stream" else "--no-stream"])
    if code != 0:
        raise SystemExit(f"synnet train exited {code}")
    record = load_model(out).header["training"]
    return {"rows": record["rows"]["train"], "seconds": record["seconds"]}


def job_source(data: str, read_ahead: str) -> dict[str, Any]:
    """One epoch of Network.fit on a ParquetSource (preprocessing fitted in one pass first)."""
    import synnet
    from synnet.data import ParquetSource
    from synnet.tabular.chunks import read_chunks
    from synnet.tabular.streaming import fit_streaming

    pre, target, rows, _ignored = fit_streaming(
        (t for _, t in read_chunks(data)), NAMES, "target", "classification")

    def transform(columns: dict[str, np.ndarray]) -> Any:
        return pre.transform(columns), target.encode(columns["target"])[0], None

    source = ParquetSource(data, columns=[*NAMES, "target"], transform=transform,
                           read_ahead=int(read_ahead))
    net = synnet.Network([synnet.Dense(pre.n_outputs, 64, "relu"),
                          synnet.Dense(64, 3, "softmax")], seed=0)
    started = time.perf_counter()
    net.fit(source, loss="categorical_crossentropy", epochs=1, batch_size=256)
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
    parser.add_argument("--size", type=float, default=2.0, help="GB of CSV (default 2)")
    parser.add_argument("--quick", action="store_true", help="tiny files (CI)")
    parser.add_argument("--subset-rows", type=int, default=200_000,
                        help="rows of the in-memory comparison (default 200000)")
    parser.add_argument("--pandas-max-gb", type=float, default=1.0,
                        help="run the pandas + MLPClassifier job only up to this size")
    parser.add_argument("--dir", default=None, help="folder for the files (default: temp)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    rows = 20_000 if args.quick else int(args.size * 1e9 / BYTES_PER_ROW)
    subset = 5_000 if args.quick else min(args.subset_rows, rows)
    folder = Path(tempfile.mkdtemp(prefix="synnet-bench-stream-", dir=args.dir))
    results: dict[str, Any] = {"rows": rows}
    try:
        csv_path, pq_path = write_data(folder, rows, "big")
        results["csv_gb"] = csv_path.stat().st_size / 1e9
        results["parquet_gb"] = pq_path.stat().st_size / 1e9
        small_csv, small_pq = write_data(folder, subset, "subset")
        model = _train_model(folder, small_csv)
        out = str(folder / "pred.csv")
        results["predict_csv"] = run_job("predict", str(model), str(csv_path), out)
        results["predict_parquet"] = run_job("predict", str(model), str(pq_path), out)
        trained = str(folder / "trained.synnet")
        results["train_csv"] = run_job("train", str(csv_path), trained, "stream")
        results["train_parquet"] = run_job("train", str(pq_path), trained, "stream")
        results["subset_stream"] = run_job("train", str(small_pq), trained, "stream")
        results["subset_memory"] = run_job("train", str(small_pq), trained, "memory")
        results["subset_source"] = run_job("source", str(small_pq), "2")
        results["subset_source_no_read_ahead"] = run_job("source", str(small_pq), "0")
        if args.quick or results["csv_gb"] <= args.pandas_max_gb:
            results["pandas_mlp"] = run_job("pandas", str(csv_path))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def _report(r: dict[str, Any]) -> None:
    print(f"data: {r['rows']:,} rows; CSV {r['csv_gb']:.3f} GB, Parquet {r['parquet_gb']:.3f} GB")
    print("| job | rows/s | seconds | peak RSS (MB) |")
    print("|---|---|---|---|")
    for key in ("predict_csv", "predict_parquet", "train_csv", "train_parquet", "subset_stream",
                "subset_memory", "subset_source", "subset_source_no_read_ahead", "pandas_mlp"):
        if key not in r:
            print(f"| {key} | skipped | | |")
            continue
        job = r[key]
        seconds = job.get("seconds", job["wall_seconds"])
        rate = job.get("rows", r["rows"]) / seconds
        print(f"| {key} | {rate:,.0f} | {seconds:.1f} | {job['peak_mb']:.0f} |")
    ratio = ((r["subset_stream"]["rows"] / r["subset_stream"]["seconds"])
             / (r["subset_memory"]["rows"] / r["subset_memory"]["seconds"]))
    print(f"streaming / in-memory training rows/s on the subset (Parquet): {ratio:.2f} "
          "(target >= 0.7)")
    ahead = r["subset_source_no_read_ahead"]["seconds"] / r["subset_source"]["seconds"]
    print(f"read-ahead thread: epoch {ahead:.2f}x as fast as without it")
    peak = max(r[k]["peak_mb"] for k in ("predict_csv", "predict_parquet", "train_csv",
                                         "train_parquet"))
    print(f"largest streaming peak RSS: {peak:.0f} MB (target <= 512)")


if __name__ == "__main__":
    main()
