"""impute='median' on streamed data: the exact median (np.median's, bit for bit) in bounded
memory, by histogram narrowing over extra passes (synnet.tabular.median)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from synnet.tabular import median
from synnet.tabular.model import load
from test_cli import run


def _medians(x: np.ndarray, chunk: int) -> tuple[float, int]:
    passes = 0

    def again() -> list[dict[str, np.ndarray]]:
        nonlocal passes
        passes += 1
        return [{"x": x[s:s + chunk]} for s in range(0, len(x), chunk)]

    found = median.exact_medians({"x": (len(x), float(x.min()), float(x.max()))}, again)
    return found["x"], passes


@settings(max_examples=150, deadline=None)
@given(arrays(np.float64, st.integers(1, 300),
              elements=st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                                 st.sampled_from([0.0, -0.0, 1.0, 1.5, -2.0]))),
       st.integers(1, 64))
def test_equals_np_median_with_small_bins(x: np.ndarray, chunk: int) -> None:
    """Tiny BINS and COLLECT force several narrowing passes (ties, signs, huge ranges)."""
    old = median.BINS, median.COLLECT
    median.BINS, median.COLLECT = 4, 3
    try:
        with np.errstate(over="ignore"):  # the mean of two huge numbers may overflow, in both
            expected = float(np.median(x))
            got, _ = _medians(x, chunk)
    finally:
        median.BINS, median.COLLECT = old
    assert got == expected or (got == 0.0 and expected == 0.0)  # -0.0 counts as 0.0


def test_default_sizes_take_one_pass_or_two() -> None:
    rng = np.random.default_rng(0)
    small = rng.normal(size=5001)
    assert _medians(small, 1000) == (float(np.median(small)), 1)  # collected at once
    big = rng.lognormal(size=200_001)
    got, passes = _medians(big, 50_000)
    assert got == float(np.median(big)) and passes == 2  # one histogram, one collection
    ties = np.repeat([3.0, 7.0], [100_000, 100_001])
    assert _medians(ties, 30_000) == (7.0, 1)  # its bin holds one key: no collecting pass


@pytest.mark.parametrize("chunk_rows", [16, 1000])
def test_stream_median_equals_the_in_memory_job(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        chunk_rows: int) -> None:
    from synnet.tabular import train_stream

    rng = np.random.default_rng(3)
    lines = ["x,count,when,colour,label"]
    for i in range(240):
        x = "" if i % 9 == 0 else f"{rng.lognormal():.6f}"
        count = "" if i % 13 == 0 else str(int(rng.integers(0, 5)))
        when = "" if i % 11 == 0 else f"2021-{1 + i % 12:02d}-{1 + i % 27:02d}"
        colour = "" if i % 17 == 0 else ["red", "blue"][i % 2]
        lines.append(f"{x},{count},{when},{colour},{['no', 'yes'][i % 3 == 0]}")
    data = tmp_path / "d.csv"
    data.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(train_stream, "TRAIN_CHUNK_ROWS", chunk_rows)
    monkeypatch.setattr(median, "COLLECT", 20)  # narrowing passes, not one collection
    configs = []
    for mode in ("--stream", "--no-stream"):
        model = tmp_path / f"m{mode}.synnet"
        code, _, err = run(capsys, "train", data, "--target", "label", "-o", model, mode,
                           "--impute", "median", "--valid-fraction", "0", "--epochs", "1",
                           "--seed", "1", "-q")
        assert code == 0, err
        configs.append(load(model).preprocessor.to_config())  # type: ignore[union-attr]
    streamed, in_memory = configs
    for a, b in zip(in_memory["columns"], streamed["columns"], strict=True):
        assert a.get("fill") == b.get("fill"), a["name"]  # the median itself: exactly
        for key in ("mean", "scale"):
            if key in a:
                assert b[key] == pytest.approx(a[key], rel=1e-12), (a["name"], key)
        assert {k: v for k, v in a.items() if k not in ("mean", "scale")} == {
            k: v for k, v in b.items() if k not in ("mean", "scale")}
