"""The command line streams: predict reads, predicts and writes chunk by chunk."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synnet.tabular import chunks
from synnet.tabular.files import read_table
from synnet.tabular.model import load
from test_cli import make_model, run, table_rows, write_csv


@pytest.fixture
def model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    header, rows = table_rows(60)
    return make_model(tmp_path, write_csv(tmp_path / "train.csv", header, rows), capsys)


def _big(tmp_path: Path, n: int) -> Path:
    header, rows = table_rows(n, seed=1)
    return write_csv(tmp_path / "big.csv", header, rows)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", "-"])
def test_predict_in_chunks_writes_every_row_in_order(tmp_path: Path, model: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     suffix: str) -> None:
    data = _big(tmp_path, 1000)
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 64)  # 16 chunks
    assert len(list(chunks.read_chunks(data))) == 16
    out = "-" if suffix == "-" else tmp_path / f"out{suffix}"
    code, stdout, err = run(capsys, "predict", model, data, "-o", out, "--keep", "id",
                            "--proba")
    assert code == 0, err
    if suffix == "-":
        import io

        got = pd.read_csv(io.StringIO(stdout))
    elif suffix == ".parquet":
        got = pd.read_parquet(out)
    else:
        got = pd.read_csv(out, sep="\t" if suffix == ".tsv" else ",")
        assert "1000 prediction(s) written" in err
    # The whole table at once, through the library: the same rows, labels, probabilities.
    table = read_table(data)
    expected, proba = load(model).predict_with_proba(
        {k: v for k, v in table.columns.items() if k not in ("label", "score")})
    assert proba is not None
    assert got["id"].tolist() == list(range(1000))
    assert got["prediction"].astype(str).tolist() == [str(v) for v in expected]
    np.testing.assert_array_equal(got[["proba_no", "proba_yes"]].to_numpy(), proba)


def test_a_bad_row_in_a_later_chunk_is_named_and_nothing_is_written(
        tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    header, rows = table_rows(300, seed=2)
    rows[250][1] = "not a number"
    data = write_csv(tmp_path / "bad.csv", header, rows)
    out = tmp_path / "out.csv"
    out.write_text("old\n")
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 100)
    code, _, err = run(capsys, "predict", model, data, "-o", out)
    assert code == 2
    assert "251" in err and "not a number" in err
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# The peak from /proc (VmHWM): getrusage's ru_maxrss survives exec, so a child would
# report the parent's peak at the time it forked.
def test_predict_refuses_a_ragged_row_anywhere(tmp_path: Path, model: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The structure check of the whole-file reader runs before the first chunk is written."""
    data = _big(tmp_path, 300)
    lines = data.read_text().splitlines()
    lines[280] = ",".join(lines[280].split(",")[:3])  # a short row, which pandas would pad
    data.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 50)
    code, out, err = run(capsys, "predict", model, data)
    assert code == 2 and out == ""
    assert "line 281: 3 field(s) but the header has 6" in err


@pytest.mark.parametrize("target", ["label", "score"])
def test_evaluate_in_chunks_equals_one_chunk(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch,
                                             target: str) -> None:
    header, rows = table_rows(60)
    train = write_csv(tmp_path / "train.csv", header, rows)
    model = tmp_path / "m.synnet"
    drop = "id,score" if target == "label" else "id,label"
    code, _, err = run(capsys, "train", train, "--target", target, "--drop", drop, "-o", model,
                       "--epochs", "5", "--seed", "1", "-q")
    assert code == 0, err
    data = _big(tmp_path, 500)
    reports = []
    for rows_per_chunk in (10**6, 37):
        monkeypatch.setattr(chunks, "CHUNK_ROWS", rows_per_chunk)
        code, out, err = run(capsys, "evaluate", model, data, "--json")
        assert code == 0, err
        reports.append(json.loads(out))
    assert reports[0].keys() == reports[1].keys()
    for key, value in reports[0].items():
        if isinstance(value, float):
            assert reports[1][key] == pytest.approx(value, rel=1e-12), key
        else:
            assert reports[1][key] == value, key


_PEAK = """
import sys
from synnet.tabular import chunks
chunks.CHUNK_ROWS = 2000
from synnet.cli import main
code = main(["predict", sys.argv[1], sys.argv[2], "-o", sys.argv[3], "--keep", "id"])
peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")]
print(code, peak[0])
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_predict_memory_does_not_grow_with_the_file(tmp_path: Path, model: Path) -> None:
    """Peak RSS on a file 8x larger than another stays within a few MB (chunks of 2000 rows);
    reading either file whole would take tens of MB more."""
    peaks = []
    for n in (25_000, 200_000):
        data = _big(tmp_path, n)
        done = subprocess.run([sys.executable, "-c", _PEAK, str(model), str(data),
                               str(tmp_path / "out.csv")], capture_output=True, text=True,
                              timeout=300, check=True)
        code, peak_kb = done.stdout.split()
        assert code == "0", done.stderr
        assert len(pd.read_csv(tmp_path / "out.csv")) == n
        peaks.append(int(peak_kb) / 1024)
    assert peaks[1] - peaks[0] < 20, peaks


def test_train_stream_fits_the_preprocessing_of_its_training_rows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from synnet.tabular import train_stream
    from synnet.tabular.preprocessing import Preprocessor

    header, rows = table_rows(1500, seed=4)
    data = write_csv(tmp_path / "d.csv", header, rows)
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 200)
    monkeypatch.setattr(train_stream, "MEMORY_BUDGET_BYTES", 0)  # streams by itself
    monkeypatch.setattr(train_stream, "TRAIN_CHUNK_ROWS", 200)
    model = tmp_path / "m.synnet"
    code, out, err = run(capsys, "train", data, "--target", "label", "--drop", "id,score",
                         "-o", model, "--epochs", "3", "--seed", "5", "--valid-fraction", "0.25")
    assert code == 0, err
    assert "(from the first 200 rows)" in out
    table = read_table(data)
    held = train_stream.valid_rows(np.arange(1500), 0.25, 5)
    assert 0.2 < held.mean() < 0.3
    rows_train = np.flatnonzero(~held)
    expected = Preprocessor().fit({k: v[rows_train] for k, v in table.columns.items()},
                                  ["x", "count", "colour"])
    got = load(model).preprocessor
    assert got is not None
    for a, b in zip(expected.to_config()["columns"], got.to_config()["columns"]):
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], float):
                assert b[key] == pytest.approx(a[key], rel=1e-12)
            else:
                assert b[key] == a[key]
    record = load_model_header(model)["training"]
    assert record["rows"] == {"train": len(rows_train), "valid": int(held.sum())}
    # The same run again gives the same model: the split and the batches come from the seed.
    again = tmp_path / "again.synnet"
    code, _, err = run(capsys, "train", data, "--target", "label", "--drop", "id,score",
                       "-o", again, "--epochs", "3", "--seed", "5", "--valid-fraction", "0.25")
    assert code == 0, err
    a_w, b_w = load(model).network.get_weights(), load(again).network.get_weights()
    assert all(np.array_equal(a_w[k], b_w[k]) for k in a_w)


def test_train_stream_with_a_validation_file_and_refusals(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header, rows = table_rows(400, seed=6)
    data = write_csv(tmp_path / "d.csv", header, rows)
    valid = write_csv(tmp_path / "v.csv", header, table_rows(100, seed=7)[1])
    model = tmp_path / "m.synnet"
    code, _, err = run(capsys, "train", data, "--target", "label", "--drop", "id,score",
                       "-o", model, "--epochs", "2", "--stream", "--valid", valid, "-q")
    assert code == 0, err
    assert load_model_header(model)["training"]["rows"] == {"train": 400, "valid": 100}
    code, _, err = run(capsys, "train", data, "--target", "label", "-o", model, "--valid",
                       valid, "--no-stream")
    assert code == 2 and "--valid FILE goes with --stream" in err
    code, _, err = run(capsys, "train", data, "--target", "label", "-o", model, "--stream",
                       "--shuffle-buffer", "0")
    assert code == 2 and "--shuffle-buffer" in err


def load_model_header(path: Path) -> dict:
    from synnet.io import load_model

    return load_model(path).header


def test_row_rate_shows_rows_per_second_and_time_left() -> None:
    import io

    import synnet
    from synnet.cli.progress import RowRate
    from synnet.data import IterableSource

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 3)), rng.normal(size=200)
    source = IterableSource([(X[:120], y[:120]), (X[120:], y[120:])])
    source.n_rows = 200
    out = io.StringIO()
    net = synnet.Network([synnet.Dense(3, 1)], seed=0)
    net.fit(source, loss="mse", epochs=2, batch_size=50, callbacks=[RowRate(out, interval=0)])
    lines = out.getvalue().splitlines()
    assert len(lines) == 8  # one per batch with interval 0
    assert lines[0].startswith("  50 rows, ") and "rows/s, about" in lines[0]
    assert lines[-1].startswith("  400 rows, ") and lines[-1].endswith("about 0s left")


def test_train_stream_resumes_to_the_weights_of_an_uninterrupted_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header, rows = table_rows(600, seed=8)
    data = write_csv(tmp_path / "d.csv", header, rows)
    common = ["train", data, "--target", "label", "--drop", "id,score", "--stream", "--seed",
              "3", "--patience", "0", "-q"]
    code, _, err = run(capsys, *common, "-o", tmp_path / "full.synnet", "--epochs", "4")
    assert code == 0, err
    ckpt = tmp_path / "ckpt"
    code, _, err = run(capsys, *common, "-o", tmp_path / "a.synnet", "--epochs", "2",
                       "--checkpoint-dir", ckpt)
    assert code == 0, err
    code, _, err = run(capsys, *common, "-o", tmp_path / "b.synnet", "--epochs", "4",
                       "--checkpoint-dir", ckpt, "--resume")
    assert code == 0, err
    assert "resumed from the checkpoint after epoch 2" in err
    full = load(tmp_path / "full.synnet").network.get_weights()
    resumed = load(tmp_path / "b.synnet").network.get_weights()
    for k in full:
        np.testing.assert_array_equal(resumed[k], full[k], err_msg=k)


@pytest.mark.parametrize("ext", [".gz", ".bz2", ".xz", ".zst"])
def test_predict_streams_compressed_csv(tmp_path: Path, model: Path, ext: str,
                                        capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import bz2
    import gzip
    import lzma

    zstandard = pytest.importorskip("zstandard")
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open, ".zst": zstandard.open}[ext]
    plain = _big(tmp_path, 300)
    packed = tmp_path / f"big.csv{ext}"
    with opener(packed, "wb") as f:
        f.write(plain.read_bytes())
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 64)
    outs = []
    for data in (plain, packed):
        code, out, err = run(capsys, "predict", model, data, "--proba")
        assert code == 0, err
        outs.append(out)
    assert outs[0] == outs[1] and len(outs[0].splitlines()) == 301


def _awkward_rows(n: int, seed: int) -> list[str]:
    """';'-separated lines: 'NA' as text, thousands separators in some chunks only."""
    rng = np.random.default_rng(seed)
    lines = ["amount;city;x;label"]
    for i in range(n):
        amount = int(rng.integers(0, 5000))
        text = f"{amount:,}" if i >= n // 2 and i % 3 == 0 else str(amount)  # "1,234"
        city = ["NA", "Paris", "Oslo", "Rome"][int(rng.integers(0, 4))]
        if i % 11 == 5:
            city = ""  # the only missing value by default
        lines.append(f"{text};{city};{rng.normal():.4f};{['no', 'yes'][amount > 2500]}")
    return lines


@pytest.mark.parametrize("na_values", [[], ["NA"]])
@pytest.mark.parametrize("gz", [False, True])
def test_streamed_predict_reads_values_as_the_in_memory_reader(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        na_values: list[str], gz: bool) -> None:
    import gzip

    na = ["--na-values", ",".join(na_values)] if na_values else []
    train_csv = tmp_path / "train.csv"
    train_csv.write_text("\n".join(_awkward_rows(300, 0)) + "\n")
    model = tmp_path / "m.synnet"
    code, _, err = run(capsys, "train", train_csv, "--target", "label", "-o", model,
                       "--impute", "most_frequent", *na, "--epochs", "5", "--seed", "1", "-q")
    assert code == 0, err
    text = "\n".join(_awkward_rows(500, 1)) + "\n"
    data = tmp_path / ("new.csv.gz" if gz else "new.csv")
    data.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 64)  # "1,234" only from row 250 on
    assert [t.columns["amount"].dtype.kind for _, t in
            chunks.read_chunks(data, na_values=na_values)][:3] == ["i"] * 3
    code, out, err = run(capsys, "predict", model, data, "--proba", "--keep", "city", *na)
    assert code == 0, err
    got = pd.read_csv(io.StringIO(out), keep_default_na=False)
    # The in-memory reader and the library on the whole table.
    table = read_table(data, na_values=na_values)
    assert table.columns["amount"].dtype.kind == "O"  # text: "1,234" among the numbers
    expected, proba = load(model).predict_with_proba(
        {k: v for k, v in table.columns.items() if k != "label"})
    assert proba is not None and len(got) == 500
    assert got["prediction"].tolist() == [str(v) for v in expected]
    np.testing.assert_array_equal(got[["proba_no", "proba_yes"]].to_numpy(), proba)
    cities = [c if c is not None else "" for c in table.columns["city"]]
    assert got["city"].tolist() == cities
    assert ("NA" in cities) == (not na_values)  # 'NA' is text unless named missing


def test_train_stream_fits_the_preprocessing_of_the_in_memory_job(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from synnet.tabular import train_stream

    lines = _awkward_rows(400, 2)
    data = tmp_path / "d.csv"  # a row number to leave out, 'NA' text, "1,234", ';'
    data.write_text("\n".join([f"id;{lines[0]};when"] + [
        f"{i};{line};2020-{1 + i % 12:02d}-{1 + i * 7 % 28:02d}"  # dates become parts
        for i, line in enumerate(lines[1:])]) + "\n")
    monkeypatch.setattr(train_stream, "TRAIN_CHUNK_ROWS", 64)
    configs = []
    for mode in ("--stream", "--no-stream"):
        model = tmp_path / f"m{mode}.synnet"
        code, _, err = run(capsys, "train", data, "--target", "label", "-o", model, mode,
                           "--impute", "most_frequent", "--max-categories", "3",
                           "--valid-fraction", "0", "--epochs", "2", "--seed", "1", "-q")
        assert code == 0, err
        assert "synnet: warning: leaving out column 'id' (a different whole number" in err
        assert load(model).header["training"]["ignored_columns"].keys() == {"id"}
        pre = load(model).preprocessor
        assert pre is not None and pre.input_names == ["amount", "city", "x", "when"]
        configs.append(pre.to_config())
    streamed, in_memory = configs
    assert in_memory["columns"][1]["infrequent"]  # grouping acted
    assert in_memory["columns"][3]["kind"] == "datetime"
    assert streamed.keys() == in_memory.keys()
    for a, b in zip(in_memory["columns"], streamed["columns"]):
        assert a.keys() == b.keys()
        for key in a:
            numbers = isinstance(a[key], float) or (isinstance(a[key], list) and all(
                isinstance(v, float) for v in a[key]))  # a date's parts
            assert b[key] == (pytest.approx(a[key], rel=1e-12) if numbers else a[key])
    code, _, err = run(capsys, "train", data, "--target", "label", "-o", tmp_path / "w.synnet",
                       "--stream", "--workers", "2")
    assert code == 2 and "--stream" in err


@pytest.mark.parametrize("target", ["label", "score"])
def test_streamed_scores_equal_the_scores_of_the_whole_part(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str) -> None:
    """train --stream scores chunk by chunk from running sums; they equal the whole-part report."""
    from synnet.tabular import scores
    from synnet.tabular.chunks import read_chunks
    from synnet.tabular.train_stream import _scores

    header, rows = table_rows(700, seed=6)
    data = write_csv(tmp_path / "d.csv", header, rows)
    path = tmp_path / "m.synnet"
    code, _, err = run(capsys, "train", data, "--target", target, "--drop", "id", "-o", path,
                       "--stream", "--epochs", "2", "--seed", "3", "-q")
    assert code == 0, err
    model = load(path)
    pre, encoder = model.preprocessor, model.target
    assert pre is not None and encoder is not None
    got = _scores(model, target, lambda: (t for _, t in read_chunks(data, 64)))
    columns = read_table(data).columns
    out = model.network.predict(pre.transform(columns, warn_unknown=False))
    if target == "label":
        whole = scores.classification_report(encoder.encode(columns[target])[0],
                                             model.proba_from_output(out))
    else:
        whole = scores.regression_report(encoder.values(columns[target]), encoder.decode(out))
    assert got.keys() <= whole.keys() and len(got) >= 3
    for key, value in got.items():
        assert value == pytest.approx(whole[key], rel=1e-12), key
