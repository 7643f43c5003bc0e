"""The benchmark must not rot: its quick mode runs every case and prints every row.

No timing is checked here (speed is for the benchmark itself, not for tests).
PyTorch is left out (``--without torch``): CI does not install it, and its
import alone takes seconds; the skipped rows prove that a missing peer is
reported instead of breaking the run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_speed.py"


def test_bench_quick_runs_every_case(tmp_path: Path) -> None:
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--without", "torch", "--silent",
         "--json", str(out_json)],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    for label in ("1 tutorial 3-4-1", "2 MNIST-shaped", "3 deep train", "3 deep predict",
                  "4 memory (case 2 fit)"):
        assert any(row.startswith(f"| {label} | synnet") for row in rows), label
    # synnet's own paths ran (they never depend on an optional peer) ...
    timed = {row.split(" | ")[1] for row in rows if "skipped" not in row}
    assert {"synnet Network.fit", "synnet Network.predict"} <= timed
    # ... and an excluded peer is a skipped row, not a failure.
    assert any("PyTorch" in row and "skipped" in row for row in rows)
    results = json.loads(out_json.read_text())
    assert results["quick"] is True
    assert results["cases"]["tutorial"]["synnet_fit"]["times"]
    assert results["tutorial_weights_max_abs_diff"] < 1e-9  # same numbers as the tutorial
    assert "extra_kb" in results["memory"]["synnet_fit"]
    assert "machine" in results and results["machine"]["cpu"]
