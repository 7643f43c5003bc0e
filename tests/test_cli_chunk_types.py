"""Streamed predict/evaluate type each chunk's columns as training typed them: a code
column of "007"-style text stays text in a chunk that happens to be all digits."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synnet.errors import ConfigError, DataError
from synnet.tabular import chunks
from synnet.tabular.columns import written_as_number
from synnet.tabular.files import read_table
from synnet.tabular.model import load
from synnet.tabular.preprocessing import UnknownCategoryWarning
from test_cli import run, write_csv

#: Codes with leading zeros (a number read makes "007" the number 7) and one with a letter.
CODES = ["007", "070", "700", "0070", "A07"]


def _rows(n: int, seed: int, letters_from: int) -> tuple[list[str], list[list[object]]]:
    """A label that depends on the code; codes with a letter only from row ``letters_from``."""
    rng = np.random.default_rng(seed)
    codes = rng.choice(CODES[:4], n).astype(object)
    codes[letters_from:] = rng.choice(CODES, n - letters_from)
    x = rng.normal(size=n).round(3)
    label = np.where((np.isin(codes, ["007", "0070"])) ^ (x > 1.0), "yes", "no")
    return ["x", "code", "label"], [[x[i], codes[i], label[i]] for i in range(n)]


@pytest.fixture
def model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    header, rows = _rows(200, 0, 0)
    data = write_csv(tmp_path / "train.csv", header, rows)
    path = tmp_path / "m.synnet"
    code, _, err = run(capsys, "train", data, "--target", "label", "--categorical", "code",
                       "-o", path, "--epochs", "40", "--seed", "1", "-q")
    assert code == 0, err
    return path


def test_written_as_number() -> None:
    assert all(map(written_as_number, ["7", "-2", "1.5", "0", "12345678901234567891"]))
    assert not any(map(written_as_number, ["007", "+7", "1.50", " 7", "7.0", "1_000", "A07",
                                           "", "seven"]))


def test_streamed_predict_keeps_codes_as_text_in_an_all_digit_chunk(
        tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(model).text_columns() == ["code", "label"]
    header, rows = _rows(300, 1, letters_from=150)
    data = write_csv(tmp_path / "new.csv", header, rows)
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 50)
    # Typed per chunk, the first chunks' codes would be numbers: 7, 70, 700.
    assert next(chunks.read_chunks(data))[1].columns["code"].dtype.kind == "i"
    out = tmp_path / "out.csv"
    code, _, err = run(capsys, "predict", model, data, "-o", out, "--proba", "--keep", "code")
    assert code == 0, err
    assert "not seen in training" not in err  # no code became an unknown category
    got = pd.read_csv(out, dtype={"code": str})
    table = read_table(data)  # the whole file: 'A07' makes the column text
    assert table.columns["code"].dtype.kind == "O"
    expected, proba = load(model).predict_with_proba(table)
    assert proba is not None
    assert got["code"].tolist() == [r[1] for r in rows]
    assert got["prediction"].tolist() == expected.tolist()
    # to rounding: BLAS may sum a 50-row chunk's products in another order than 300 rows'
    np.testing.assert_allclose(got[["proba_no", "proba_yes"]].to_numpy(), proba, rtol=1e-12)
    # The codes matter: read as numbers, the first chunk's predictions would differ.
    with pytest.warns(UnknownCategoryWarning, match="'7', '70'"):
        as_numbers = load(model).predict(next(chunks.read_chunks(data))[1])
    assert as_numbers.tolist() != expected[:50].tolist()


def test_evaluate_reads_text_labels_as_text_in_an_all_digit_chunk(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Class labels "01", "02", "x3": a chunk of only "01"/"02" read as numbers would find
    no class for any of its rows."""
    rng = np.random.default_rng(3)
    x = np.sort(rng.normal(size=240)).round(3)
    labels = np.where(x < -0.5, "01", np.where(x < 0.5, "02", "x3"))
    data = write_csv(tmp_path / "d.csv", ["x", "label"], [[a, b] for a, b in zip(x, labels)])
    path = tmp_path / "m.synnet"
    code, _, err = run(capsys, "train", data, "--target", "label", "-o", path, "--epochs", "30",
                       "--seed", "1", "-q")
    assert code == 0, err
    assert load(path).text_columns() == ["label"]
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 40)
    assert next(chunks.read_chunks(data))[1].columns["label"].dtype.kind == "i"
    code, out, err = run(capsys, "evaluate", path, data, "--json")
    assert code == 0, err
    assert '"unknown_rows"' not in out and '"rows": 240' in out


def test_a_categorical_column_of_numbers_stays_numbers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Declared categorical, all digits in training: read as numbers there, so "07" is the
    category "7" in a whole-file read, and in every chunk too (not read as text)."""
    rng = np.random.default_rng(4)
    count = rng.integers(0, 10, 200)
    label = np.where(count > 4, "yes", "no")
    data = write_csv(tmp_path / "d.csv", ["count", "label"],
                     [[c, lab] for c, lab in zip(count, label)])
    path = tmp_path / "m.synnet"
    code, _, err = run(capsys, "train", data, "--target", "label", "--categorical", "count",
                       "-o", path, "--epochs", "30", "--seed", "1", "-q")
    assert code == 0, err
    assert load(path).text_columns() == ["label"]
    new = write_csv(tmp_path / "new.csv", ["count"], [[f"{c:02d}"] for c in count[:90]])
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 40)
    code, out, err = run(capsys, "predict", path, new)
    assert code == 0, err
    assert "not seen in training" not in err
    expected = load(path).predict(read_table(new))
    assert pd.read_csv(io.StringIO(out))["prediction"].tolist() == expected.tolist()


def test_kept_columns_are_copied_as_written(
        tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """--keep ref: "0012" in an all-digit chunk is written "0012" (not 12), as in later
    chunks where a letter makes the column text; to Parquet, columns keep their types."""
    header, rows = _rows(200, 6, letters_from=0)
    refs = [f"{i:04d}" if i < 150 else f"R{i}" for i in range(200)]
    data = write_csv(tmp_path / "d.csv", [*header, "ref"], [[*r, f] for r, f in zip(rows, refs)])
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 50)
    code, out, err = run(capsys, "predict", model, data, "--keep", "ref,x")
    assert code == 0, err
    got = pd.read_csv(io.StringIO(out), dtype=str)
    assert got["ref"].tolist() == refs
    assert got["x"].tolist() == [str(r[0]) for r in rows]
    parquet = tmp_path / "out.parquet"
    head = write_csv(tmp_path / "head.csv", [*header, "ref"],
                     [[*r, i] for i, r in enumerate(rows[:120])])
    code, _, err = run(capsys, "predict", model, head, "--keep", "ref", "-o", parquet)
    assert code == 0, err
    assert pd.read_parquet(parquet)["ref"].tolist() == list(range(120))


def test_a_file_of_all_digit_codes_read_whole_or_in_chunks(
        tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The in-memory sibling: a whole file whose codes are all digits reads them as
    numbers (unknown categories, with a warning) unless told the model's text columns."""
    header, rows = _rows(120, 5, letters_from=120)
    data = write_csv(tmp_path / "digits.csv", header, rows)
    code, out, err = run(capsys, "predict", model, data)  # one chunk
    assert code == 0, err
    streamed = pd.read_csv(io.StringIO(out))["prediction"].tolist()
    m = load(model)
    table = read_table(data, text=m.text_columns())
    assert table.columns["code"].tolist() == [r[1] for r in rows]
    assert m.predict(table).tolist() == streamed
    with pytest.warns(UnknownCategoryWarning):
        m.predict(read_table(data))
    with pytest.raises(ConfigError, match="list of column names"):
        read_table(data, text="code")  # type: ignore[arg-type]


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_stray_text_in_a_numeric_column_is_the_whole_file_error(
        tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    """The message a whole-file read gives (the same row number), and no output file."""
    header, rows = _rows(300, 2, letters_from=0)
    rows[263][0] = "12.5kg"
    data = write_csv(tmp_path / "bad.csv", header, rows)
    with pytest.raises(DataError) as whole:
        load(model).predict(read_table(data))
    assert "row 264" in str(whole.value)
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 50)  # the bad row is in the 6th chunk
    out = tmp_path / "out.csv"
    more = ["-o", out] if command == "predict" else []
    code, stdout, err = run(capsys, command, model, data, *more)
    assert code == 2 and stdout == ""
    assert str(whole.value) in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left
