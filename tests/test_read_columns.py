"""read_table fills columns sized by the structure check, chunk by chunk (issue 11)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synnet.tabular import files
from synnet.tabular.files import read_table


def _frame(n: int = 90) -> pd.DataFrame:
    return pd.DataFrame({
        "code": ["007"] * 40 + ["A12"] + ["042"] * (n - 41),    # text only in a late chunk
        "x": [1] * 50 + [2.5] * (n - 50),                        # int, then float
        "b": ["True"] * 30 + [""] + ["False"] * (n - 31),        # bools, then a gap
        "t": [f"t{k % 7}" for k in range(n)],
        "n": list(range(n))})


@pytest.mark.parametrize("counted", [None, 0, 1, 10_000])
def test_chunks_fill_the_same_table_whatever_the_row_count(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counted: int | None) -> None:
    path = tmp_path / "d.csv"
    _frame().to_csv(path, index=False)
    whole = read_table(path)  # one chunk
    monkeypatch.setattr(files, "CSV_CHUNK_ROWS", 20)
    monkeypatch.setattr(files, "CSV_MIN_CHUNK_ROWS", 1)
    if counted is not None:  # a wrong count only costs a copy: grow, or trim
        real = files.check_structure
        monkeypatch.setattr(files, "check_structure", lambda *a: (real(*a), counted)[1])
    chunked = read_table(path)
    assert list(chunked.columns) == list(whole.columns)
    for name, column in whole.columns.items():
        assert chunked.columns[name].dtype == column.dtype, name
        assert chunked.columns[name].tolist() == column.tolist(), name
    assert whole.columns["code"][0] == "007" and whole.columns["x"].dtype == np.float64
    assert whole.columns["b"][0] is True and whole.columns["b"][30] is None
    assert chunked.n_rows == 90


def test_structure_check_counts_records_not_lines(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('a,b\n1,"two\nlines"\n\n2,x\n3,y\n')
    opener = files.open_data(path)
    assert files.check_structure(opener, "d.csv", ",") == 3
    assert read_table(path).n_rows == 3
