"""Parquet chunks without pandas (chunks.arrow_column) against the pandas path they replace."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synnet.tabular.chunks import arrow_column, read_chunks
from synnet.tabular.files import frame_to_table
from synnet.tabular.preprocessing import Preprocessor


def _same_column(fast: np.ndarray, slow: np.ndarray) -> None:
    assert fast.dtype == slow.dtype
    if fast.dtype.kind == "O":  # every value, and its type (no str where None was)
        assert [(type(v), v) for v in fast] == [(type(v), v) for v in slow]
    else:
        np.testing.assert_array_equal(fast.view(np.uint8), slow.view(np.uint8))  # bitwise


def _slow(batch: pa.RecordBatch) -> dict[str, np.ndarray]:
    """The path before arrow_column: pandas, then frame_to_table."""
    return frame_to_table(batch.to_pandas(), "f.parquet").columns


def _hostile() -> pa.Table:
    n = 12
    text = ["a", None, "b", "a", "ü", "", "b", None, "zz", "a", "b", "a"]
    return pa.table({
        "i64": pa.array(range(n), pa.int64()),
        "i64_null": pa.array([1, None, 3, -(2**62), 5, None, 7, 8, 9, 10, 11, 12], pa.int64()),
        "i8": pa.array([1, -2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -128], pa.int8()),
        "u32_null": pa.array([None, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 2**32 - 1], pa.uint32()),
        "u64": pa.array([2**64 - 1, *range(n - 1)], pa.uint64()),
        "f64": pa.array([0.1, None, float("nan"), -0.0, 1e308, 2.5, 3, 4, 5, 6, 7, 8],
                        pa.float64()),
        "f32": pa.array([0.1, None, 1.5, 2, 3, 4, 5, 6, 7, 8, 9, 1e-7], pa.float32()),
        "flag": pa.array([True, False] * 6),
        "flag_null": pa.array([True, None] * 6),
        "text": pa.array(text, pa.string()),
        "large": pa.array(text, pa.large_string()),
        "dict": pa.array(text, pa.string()).dictionary_encode(),
        "all_null": pa.array([None] * n, pa.string()),
        "day": pa.array([None, *range(n - 1)], pa.date32()),
    })


def test_arrow_column_equals_the_pandas_path() -> None:
    table = _hostile()
    for batch in table.to_batches(max_chunksize=5):  # chunks with and without nulls
        slow = _slow(batch)
        for i, name in enumerate(batch.schema.names):
            _same_column(arrow_column(batch.column(i), name, "f.parquet"), slow[name])


def test_read_chunks_equals_the_pandas_path_and_transforms_bitwise(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 3000
    cities = np.array([f"c{i}" for i in range(30)], dtype=object)
    city = cities[rng.integers(0, 30, n)]
    city[rng.random(n) < 0.1] = None
    city[:500] = None  # a whole chunk of missing text
    x = rng.normal(size=n)
    x[rng.random(n) < 0.1] = np.nan
    k = pd.array(rng.integers(-5, 5, n), dtype="Int64")
    k[rng.random(n) < 0.1] = pd.NA
    frame = pd.DataFrame({"x": x, "k": k, "n": rng.integers(0, 9, n), "city": city,
                          "seg": pd.Categorical(rng.choice(["p", "q", "r"], n)),
                          "y": rng.choice(["lo", "hi"], n)})
    path = tmp_path / "h.parquet"
    frame.to_parquet(path, row_group_size=700)
    fit_rows = frame.iloc[1000:2000]  # categories unseen in training come later
    fit_rows = fit_rows[~fit_rows.city.isin(["c0", "c1", "c2"])]
    pre = Preprocessor(impute="most_frequent", categorical=["n"], max_categories=8).fit(
        frame_to_table(fit_rows.drop(columns="y")).columns)

    reader = pq.ParquetFile(path)
    # decoded a row group at a time here (700 rows), cut in chunks of at most 500 rows
    slow = [_slow(b.slice(s, 500)) for b in reader.iter_batches(batch_size=1 << 16)
            for s in range(0, b.num_rows, 500)]
    fast = [t.columns for _, t in read_chunks(path, 500)]
    assert len(fast) == len(slow) == 9
    for f, s in zip(fast, slow):
        assert list(f) == list(s)
        for name in f:
            _same_column(f[name], s[name])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            X_fast = pre.transform(f, warn_unknown=False)
            X_slow = pre.transform(s, warn_unknown=False)
        np.testing.assert_array_equal(X_fast.view(np.uint8), X_slow.view(np.uint8))
        # train --stream builds float32 features in float32 (as the in-memory job does)
        # instead of converting float64 ones after: the same bits
        X32 = pre.transform(f, warn_unknown=False, dtype=np.float32)
        np.testing.assert_array_equal(X32.view(np.uint8),
                                      X_slow.astype(np.float32).view(np.uint8))


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_dictionaries_differ_between_chunks(tmp_path: Path, kind: pa.DataType) -> None:
    # Each row group of a file may carry its own dictionary: codes are per chunk.
    path = tmp_path / "d.parquet"
    with pq.ParquetWriter(path, pa.schema({"t": pa.dictionary(pa.int32(), kind)})) as w:
        for values in (["b", "a", None], ["z", "b", "b"]):
            w.write_table(pa.table({"t": pa.array(values, kind).dictionary_encode()}))
    got = [t.columns["t"].tolist() for _, t in read_chunks(path, 3)]
    assert got == [["b", "a", None], ["z", "b", "b"]]


def _coded_file(tmp_path: Path, missing_target: bool = False, fmt: str = "parquet") -> Path:
    rng = np.random.default_rng(3)
    n = 900
    city = np.array([f"c{i}" for i in range(25)], dtype=object)[rng.integers(0, 25, n)]
    city[rng.random(n) < 0.1] = None
    seg = np.array(["p", "q", "r", None], dtype=object)[rng.integers(0, 4, n)]
    y = np.array(["lo", "mid", "hi"], dtype=object)[rng.integers(0, 3, n)]
    if missing_target:
        y[700] = None
    frame = pd.DataFrame({"x": rng.normal(size=n), "city": city, "seg": seg, "y": y})
    if fmt == "csv":
        frame.to_csv(tmp_path / "c.csv", index=False)
        return tmp_path / "c.csv"
    path = tmp_path / "c.parquet"
    frame.to_parquet(path, row_group_size=300)
    return path


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("impute", ["most_frequent", None])
def test_coded_text_transforms_and_warns_as_the_values_do(tmp_path: Path,
                                                          impute: str | None,
                                                          fmt: str) -> None:
    """Table.coded (each distinct label looked up once) against the plain columns (each
    row): the same bits, the same unknown-category warnings, the same errors."""
    path = _coded_file(tmp_path, fmt=fmt)
    chunks = [t for _, t in read_chunks(path, 128)]
    assert all(set(t.coded) == {"city", "seg", "y"} for t in chunks)
    for t in chunks:
        for name, (codes, labels) in t.coded.items():
            assert labels[codes].tolist() == t.columns[name].tolist()
    fit = pd.read_parquet(_coded_file(tmp_path)).iloc[:400]
    fit = fit[~fit.city.isin(["c0", "c1"])]  # unseen in training: all-zero blocks later
    if impute is None:
        fit = fit.dropna()
    pre = Preprocessor(impute=impute, max_categories=12).fit(
        frame_to_table(fit.drop(columns="y")).columns)
    for k, table in enumerate(chunks):
        part = table.take(np.arange(0, table.n_rows, 2))  # coded rows taken with the rows
        for t in (table, part):
            with warnings.catch_warnings(record=True) as plain_warnings:
                warnings.simplefilter("always")
                try:
                    plain = pre.transform(t.columns, first_row=10 * k + 1)
                except Exception as exc:
                    plain = exc
            with warnings.catch_warnings(record=True) as coded_warnings:
                warnings.simplefilter("always")
                try:
                    coded = pre.transform(t.columns, first_row=10 * k + 1, coded=t.coded)
                except Exception as exc:
                    coded = exc
            assert [str(w.message) for w in plain_warnings] == \
                [str(w.message) for w in coded_warnings]
            if isinstance(plain, Exception):
                assert impute is None and type(plain) is type(coded)
                assert str(plain) == str(coded)
            else:
                assert isinstance(coded, np.ndarray)
                np.testing.assert_array_equal(plain.view(np.uint8), coded.view(np.uint8))


def test_coded_targets_encode_as_the_values_do(tmp_path: Path) -> None:
    from synnet.tabular.target import TargetEncoder

    path = _coded_file(tmp_path, missing_target=True)
    target = TargetEncoder("classification", name="y").fit(
        np.array(["lo", "mid"], dtype=object))  # "hi" is unknown: code -1
    for _, t in read_chunks(path, 256):
        raw, coded = t.columns["y"], t.coded["y"]
        try:
            want = target.encode(raw)
        except Exception as exc:
            assert "is missing in row" in str(exc)
            with pytest.raises(type(exc)) as same:
                target.encode(raw, coded=coded)
            assert str(same.value) == str(exc)
            continue
        got = target.encode(raw, coded=coded)
        assert all(np.array_equal(a, b) for a, b in zip(want, got))


def test_a_model_predicts_coded_chunks_as_their_values(tmp_path: Path) -> None:
    """Model.predict_with_proba on a Table (its text columns also as codes, as synnet
    predict hands them) equals it on the plain columns: outputs and warnings."""
    from synnet.cli import main
    from synnet.tabular.model import Model

    path = _coded_file(tmp_path)
    train = pd.read_parquet(path).dropna().iloc[:500]
    train = train[~train.city.isin(["c3", "c4"])]  # unknown when predicting
    train.to_csv(tmp_path / "train.csv", index=False)
    assert main(["train", str(tmp_path / "train.csv"), "--target", "y", "--epochs", "2",
                 "--impute", "most_frequent", "--seed", "0", "-q",
                 "-o", str(tmp_path / "m.synnet")]) == 0
    model = Model.load(tmp_path / "m.synnet")
    for start, table in read_chunks(path, 200):
        assert table.coded
        runs = []
        for X in (table, table.columns):
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                pred, proba = model.predict_with_proba(X, first_row=start + 1)
            runs.append((pred, proba, [str(w.message) for w in seen]))
        (pred_a, proba_a, warn_a), (pred_b, proba_b, warn_b) = runs
        assert np.array_equal(pred_a, pred_b) and warn_a == warn_b
        assert proba_a is not None and proba_b is not None
        np.testing.assert_array_equal(proba_a.view(np.uint8), proba_b.view(np.uint8))
        assert any("c3" in w or "c4" in w for w in warn_a)


def test_a_chunk_makes_strings_of_the_labels_it_uses_only(tmp_path: Path) -> None:
    """A row group of 20,000 different texts (an ID) read in 1,000-row chunks: each
    chunk's labels are its own texts, not the row group's whole dictionary, with
    missing values and picked rows too."""
    ids = np.array([f"id{i}" for i in range(20_000)], dtype=object)
    ids[::7] = None
    path = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"id": pa.array(ids.tolist(), pa.string())}), path,
                   row_group_size=20_000)
    keep = np.arange(0, 1000, 3)
    for select in (None, lambda start, n: keep[keep < n]):
        got = []
        for _, t in read_chunks(path, 1000, select=select):
            codes, labels = t.coded["id"]
            assert len(labels) <= t.n_rows + 1 and labels[-1] is None
            assert labels[codes].tolist() == t.columns["id"].tolist()
            got.extend(t.columns["id"].tolist())
        rows = np.arange(20_000) if select is None else \
            (np.arange(0, 20_000, 1000)[:, None] + keep).ravel()
        assert got == ids[rows].tolist()
