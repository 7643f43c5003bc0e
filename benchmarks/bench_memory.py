"""Peak memory of reading, training and predicting against the size of a CSV file (issue 11).

Each measure runs in a fresh Python process: it imports what it needs (and
warms pandas up on a two-line table, so lazy imports are not counted), resets
the kernel's peak-RSS mark (``/proc/self/clear_refs``), does the work, and
reports how far the peak rose above the resident size after the imports
(``extra``). pandas' own ``read_csv`` on the same file is the peer: reading a
CSV should cost synnet at most about twice the table it produces, and not much
more than pandas.

    python benchmarks/bench_memory.py             # 20 and 80 MB files
    python benchmarks/bench_memory.py --quick     # 1 and 3 MB files, in seconds
    python benchmarks/bench_memory.py --sizes 10,50 --json out.json

The last case trains with ``--max-categories none`` on a file whose text column
holds 100,000 categories (200,000 rows; ``--categories ROWS,CATEGORIES``): with
rows x categories floats that is 160 GB; encoded, a few times the file.

Linux only (it reads /proc). Sizes are of the uncompressed CSV; a .gz copy of
the largest file is read too.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

_MANY = "synnet train --max-categories none"

# The work each measure does, after its imports; ``path`` is the CSV file.
_WORK = {
    "pandas read_csv": (
        "import pandas as pd",
        "frame = pd.read_csv(path)\ntable_bytes = int(frame.memory_usage(deep=True).sum())"),
    "synnet read_table": (
        "from synnet.tabular.files import read_table\nimport sys",
        "table = read_table(path)\n"
        "table_bytes = sum(c.nbytes + (sum(map(sys.getsizeof, {id(v): v for v in c}.values()))"
        " if c.dtype == object else 0) for c in table.columns.values())"),
    "synnet train": (
        "from synnet.cli import main",
        "assert main(['train', path, '-t', 'label', '-o', path + '.synnet', '--epochs', '1',"
        " '--hidden', '16', '--batch-size', '256', '--patience', '0', '--seed', '0', '-q',"
        " '--valid-fraction', '0.1']) == 0\ntable_bytes = None"),
    # Issue 11: 100k categories one-hot are rows x 100k floats unless rows stay encoded.
    _MANY: (
        "from synnet.cli import main",
        "exit_code = main(['train', path, '-t', 'label', '-o', path + '.synnet', '--epochs',"
        " '1', '--hidden', '16', '--batch-size', '256', '--patience', '0', '--seed', '0',"
        " '-q', '--valid-fraction', '0.1', '--max-categories', 'none', '--keep-columns',"
        " 'key'])\ntable_bytes = None"),
    "synnet predict": (
        "from synnet.cli import main",
        "assert main(['predict', path + '.synnet', path, '-o', path + '.pred.csv']) == 0\n"
        "table_bytes = None"),
}

_CHILD = """
import io, json, time, warnings
warnings.simplefilter("ignore")
import pandas
pandas.read_csv(io.StringIO("a,b\\n1,x\\n"))  # pandas and its lazy imports are not the work
{imports}
def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))
path = {path!r}
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak-RSS mark to the current resident size
base = status("VmRSS")
t = time.perf_counter()
{work}
seconds = time.perf_counter() - t
print(json.dumps({{"base": base, "peak": status("VmHWM"), "seconds": seconds,
                  "table_bytes": table_bytes, "exit": globals().get("exit_code")}}))
"""


def make_csv(path: Path, megabytes: float, seed: int = 0) -> int:
    """A churn-like CSV of about ``megabytes`` MB; returns its size in bytes.

    Columns: 4 float features, a whole-number count, a 12-value and a 300-value
    (Zipf) text column, an ISO date, and a yes/no label.
    """
    rng = np.random.default_rng(seed)
    n = max(200, int(megabytes * 1e6 / 75))  # about 75 bytes a row
    x = rng.normal(size=(n, 4)).round(4)
    plan = np.array([f"plan{k}" for k in range(12)])[rng.integers(0, 12, n)]
    city = np.array([f"city{k}" for k in range(300)])[np.minimum(rng.zipf(1.3, n), 300) - 1]
    dates = (np.datetime64("2020-01-01") + rng.integers(0, 1500, n)).astype(str)
    count = rng.integers(0, 50, n)
    label = np.where(x[:, 0] + 0.1 * count > 2.5, "yes", "no")
    with open(path, "w") as f:
        f.write("x1,x2,x3,x4,count,plan,city,signup,label\n")
        for start in range(0, n, 100_000):
            rows = slice(start, start + 100_000)
            lines = [",".join(map(str, r)) for r in zip(
                *x[rows].T, count[rows], plan[rows], city[rows], dates[rows], label[rows])]
            f.write("\n".join(lines) + "\n")
    return path.stat().st_size


def make_categories_csv(path: Path, rows: int, categories: int, seed: int = 0) -> int:
    """``rows`` rows of a text column drawn from ``categories`` values, a number and a
    yes/no label; returns the file size in bytes."""
    rng = np.random.default_rng(seed)
    key = rng.integers(0, categories, rows)
    x = rng.normal(size=rows).round(4)
    label = np.where(x + (key % 2) > 0.5, "yes", "no")
    with open(path, "w") as f:
        f.write("key,x,label\n")
        f.write("".join(f"k{k},{v},{lab}\n" for k, v, lab in zip(key, x, label)))
    return path.stat().st_size


def measure(name: str, path: Path) -> dict[str, float]:
    imports, work = _WORK[name]
    code = _CHILD.format(imports=imports, work=work, path=str(path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["extra"] = result["peak"] - result["base"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 and 3 MB files")
    parser.add_argument("--sizes", help="comma-separated CSV sizes in MB (default 20,80)")
    parser.add_argument("--categories", help="ROWS,CATEGORIES of the many-categories "
                        "training case (default 200000,100000; 5000,2000 with --quick)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    args.categories = args.categories or ("5000,2000" if args.quick else "200000,100000")
    if not Path("/proc/self/clear_refs").exists():
        print("bench_memory needs Linux (/proc/self/clear_refs)", file=sys.stderr)
        return 1
    sizes = ([1.0, 3.0] if args.quick else
             [float(s) for s in (args.sizes or "20,80").split(",")])
    mb = 1e6
    print(f"peak memory above the imports, per file size ({platform.platform()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()})\n")
    print("| file | case | file MB | table MB | extra MB | extra / file | extra / table "
          "| seconds |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    results = []
    folder = Path(tempfile.mkdtemp(prefix="bench_memory_"))
    try:
        runs = []
        for size in sizes:
            path = folder / f"data_{size:g}mb.csv"
            runs.append((path, make_csv(path, size), [c for c in _WORK if c != _MANY]))
            if size == sizes[-1]:
                packed = folder / f"data_{size:g}mb.csv.gz"
                packed.write_bytes(gzip.compress(path.read_bytes(), compresslevel=1))
                runs.append((packed, runs[-1][1], ["synnet read_table"]))
        rows, cats = (int(v) for v in args.categories.split(","))
        path = folder / f"categories_{rows}x{cats}.csv"
        runs.append((path, make_categories_csv(path, rows, cats), [_MANY]))
        table_bytes = None
        for file, file_bytes, cases in runs:
            for case in cases:
                r = measure(case, file)
                label = file.name
                if "error" in r:
                    print(f"| {label} | {case} | {file_bytes / mb:.1f} | | failed: "
                          f"{r['error']} | | | |")
                    results.append({"file": label, "case": case, **r})
                    continue
                if case == "synnet read_table":
                    table_bytes = r["table_bytes"]
                shown = r["table_bytes"] or (table_bytes if case != _MANY else None)
                per_table = "" if not shown else f"{r['extra'] / shown:.2f}"
                note = "" if not r.get("exit") else f" (exit {r['exit']})"
                print(f"| {label} | {case}{note} | {file_bytes / mb:.1f} | "
                      f"{(shown or 0) / mb:.1f} | {r['extra'] / mb:.1f} | "
                      f"{r['extra'] / file_bytes:.2f} | {per_table} | {r['seconds']:.1f} |",
                      flush=True)
                results.append({"file": label, "case": case, "file_bytes": file_bytes, **r})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"quick": args.quick, "results": results},
                                              indent=1))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
