"""The table job on a cluster: the workers read the file, count its statistics, train.

A LocalCluster (2 worker processes x 1 thread) starts once for the module and
is always closed; the command line reaches it through ``--scheduler ADDR``.
The statistics merged from the workers' partitions are checked against the
in-memory Preprocessor fitted on the same file.
"""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
import pandas as pd  # noqa: E402

import dask_cluster  # noqa: E402
import synnet  # noqa: E402
from synnet.cli.main import main  # noqa: E402
from synnet.dask.reading import describe  # noqa: E402
from synnet.dask.table import Split, fit_statistics, read_partitions  # noqa: E402
from synnet.errors import DataError  # noqa: E402
from synnet.tabular.files import Table, read_table  # noqa: E402
from synnet.tabular.preprocessing import Preprocessor, ignored_columns  # noqa: E402
from synnet.tabular.streaming import Stats, fit_streaming  # noqa: E402
from synnet.tabular.target import TargetEncoder  # noqa: E402
from synnet.tabular.train_stream import valid_rows  # noqa: E402
from test_streaming_stats import _close  # noqa: E402 - numbers to 1e-12 relative

client = dask_cluster.client  # the shared LocalCluster fixture

N = 600


def _frame(seed: int = 0) -> pd.DataFrame:
    """Numbers with gaps, whole numbers, rare categories, thousands separators, dates, an ID."""
    rng = np.random.default_rng(seed)
    num = rng.normal(1e3, 5.0, N)
    num[rng.random(N) < 0.1] = np.nan
    colour = rng.choice(["red", "green", "blue", "teal", "puce"], N, p=[.4, .3, .2, .07, .03])
    return pd.DataFrame({
        "id": np.arange(1000, 1000 + N),
        "num": num,
        "count": rng.integers(0, 7, N),
        "colour": colour,
        "amount": [f"{v:,.2f}" for v in rng.uniform(500, 5000, N)],
        "when": [f"2024-{m:02d}-{d:02d}" for m, d in zip(rng.integers(1, 13, N),
                                                         rng.integers(1, 29, N))],
        "label": rng.choice(["a", "b", "c"], N),
    })


def _write(tmp_path: Path, kind: str) -> Path:
    frame = _frame()
    if kind == "parquet":
        path = tmp_path / "data.parquet"
        frame.to_parquet(path, index=False, row_group_size=N // 3)
    else:  # ';' separated, so the separator is sniffed and "1,234.50" needs no quotes
        path = tmp_path / ("data.csv.gz" if kind == "csv.gz" else "data.csv")
        frame.to_csv(path, index=False, sep=";",
                     compression="gzip" if kind == "csv.gz" else None)
    return path


NAMES = ["id", "num", "count", "colour", "amount", "when"]


def _in_memory(path: Path, split: Split | None) -> tuple[Preprocessor, TargetEncoder, list[str]]:
    """The local job's fit on the same file: ID columns from every row, the rest from the
    training rows."""
    table = read_table(path)
    kept = [c for c in NAMES if c not in ignored_columns(table.columns, NAMES, [])]
    rows = np.arange(N) if split is None else np.flatnonzero(split.train_mask(np.arange(N)))
    pre = Preprocessor("mean", [], max_categories=4).fit(
        {c: table.columns[c][rows] for c in kept}, kept)
    return pre, TargetEncoder("classification", "label").fit(table.columns["label"]), kept


@pytest.mark.parametrize("kind", ["csv", "csv.gz", "parquet"])
@pytest.mark.parametrize("fraction", [0.0, 0.25])
def test_statistics_merged_from_the_workers_equal_the_in_memory_fit(
        client: distributed.Client, tmp_path: Path, kind: str, fraction: float) -> None:
    path = _write(tmp_path, kind)
    data = read_partitions(client, str(path), n_parts=4)
    # Compressed: one partition (read from its start); else at least as many as asked
    # (Parquet: each of the 3 row groups cut in 2)
    assert len(data.tables) == {"csv.gz": 1, "csv": 4, "parquet": 6}[kind]
    assert sum(data.rows) == N and data.starts[0] == 0
    split = Split(fraction, 7) if fraction else None
    pre, enc, n_train, ignored = fit_statistics(
        client, data, NAMES, "label", "classification", "mean", (), split,
        max_categories=4, keep=[])
    expected, expected_target, kept = _in_memory(path, split)
    assert list(ignored) == ["id"] and pre.input_names == kept
    assert n_train == (N if split is None else int(split.train_mask(np.arange(N)).sum()))
    _close(expected.to_config(), pre.to_config())
    _close(expected_target.to_config(), enc.to_config())
    assert {c["kind"] for c in pre.columns} == {"numeric", "categorical", "datetime"}


def test_partitions_hold_the_file_rows_in_order(client: distributed.Client,
                                               tmp_path: Path) -> None:
    path = _write(tmp_path, "csv")
    layout = describe(str(path), None, 5)
    assert layout.sep == ";" and len(layout.parts) == 5
    data = read_partitions(client, str(path), n_parts=5)
    parts: list[Table] = client.gather(data.tables)
    whole = read_table(path)
    for name in whole.names:
        joined = np.concatenate([p.columns[name] for p in parts])
        assert joined.dtype == whole.columns[name].dtype
        assert joined.tolist() == whole.columns[name].tolist() or name == "num"
    np.testing.assert_array_equal(np.concatenate([p.columns["num"] for p in parts]),
                                  whole.columns["num"])  # NaN where a cell is empty


def test_merging_counts_equals_counting_in_one_pass() -> None:
    """Stats.merge of chunks counted apart == one pass, including the ID rules (an
    increasing number, all-different text) that look across chunk borders."""
    frame = _frame(3)
    table = Table({c: np.asarray(frame[c].to_numpy(), dtype=object if frame[c].dtype == object
                                 else None) for c in frame.columns})
    args = (NAMES, "label", "classification", "most_frequent", ["count"], False, [], None, 0.05)
    one = fit_streaming([table], NAMES, "label", "classification", "most_frequent", ["count"],
                        keep=[], min_frequency=0.05)
    merged = Stats(*args)
    for start in range(0, N, 97):
        part = Stats(*args)
        part.add(table.take(np.arange(start, min(N, start + 97))), start)
        merged.merge(part)
    got = merged.result()
    _close(one[0].to_config(), got[0].to_config())
    assert one[1:] == got[1:] or (one[2:] == got[2:])
    assert got[3] == {"id": "a different whole number in every row, like an ID"}
    # A repeated whole number across a border is not an ID
    frame.loc[300, "id"] = frame.loc[299, "id"]
    table.columns["id"] = frame["id"].to_numpy()
    merged = Stats(*args)
    for start in (0, 300):
        part = Stats(*args)
        part.add(table.take(np.arange(start, start + 300)), start)
        merged.merge(part)
    assert "id" not in merged.result()[3]


def _cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue() + err.getvalue()


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_cli_scheduler_trains_where_the_workers_read_the_file(
        client: distributed.Client, tmp_path: Path, kind: str) -> None:
    path = _write(tmp_path, kind)
    model_path = tmp_path / "m.synnet"
    extra = ["--class-weight", "balanced"] if kind == "csv" else []
    code, text = _cli("train", str(path), "-t", "label", "--scheduler",
                      client.scheduler.address, "--epochs", "2", "--seed", "3", "-q",
                      "--impute", "mean", "--max-categories", "4", "--valid-fraction", "0.25",
                      "-o", str(model_path), *extra)
    assert code == 0, text
    model = synnet.load(model_path)
    expected, _, _ = _in_memory(path, Split(0.25, 3))
    _close(expected.to_config(), model.preprocessor.to_config())
    rows = model.training["rows"]
    held = int(valid_rows(np.arange(N), 0.25, 3).sum())
    assert rows == {"train": N - held, "valid": held}
    assert model.predict(read_table(path).columns).shape == (N,)


def test_a_path_the_workers_cannot_read_is_a_clear_error(client: distributed.Client,
                                                        tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "data.csv"
    code, text = _cli("train", str(missing), "-t", "label", "--scheduler",
                      client.scheduler.address, "-o", str(tmp_path / "m.synnet"))
    assert code == 2 and "Traceback" not in text
    assert "cannot read" in text and "every worker" in text
    with pytest.raises(DataError, match="readable by each of them"):
        read_partitions(client, str(missing))
    assert not (tmp_path / "m.synnet").exists()


def test_class_weight_on_an_inferred_regression_is_refused(client: distributed.Client,
                                                          tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    frame = _frame().drop(columns=["label"])
    frame["y"] = np.linspace(0.0, 1.0, N) ** 2  # fractions: a regression target
    frame.to_csv(path, index=False)
    code, text = _cli("train", str(path), "-t", "y", "--scheduler", client.scheduler.address,
                      "--class-weight", "balanced", "-o", str(tmp_path / "m.synnet"))
    assert code == 2 and "class_weight needs a classification task" in text
    assert "--class-weight" in text and not (tmp_path / "m.synnet").exists()


def test_a_cluster_without_workers_is_a_clear_error(tmp_path: Path) -> None:
    with distributed.LocalCluster(n_workers=0, processes=False,
                                  dashboard_address=":0") as empty:
        code, text = _cli("train", str(_write(tmp_path, "csv")), "-t", "label",
                          "--scheduler", empty.scheduler_address,
                          "-o", str(tmp_path / "m.synnet"))
    assert code == 2 and "has no workers" in text and "Traceback" not in text
