"""Real-world tables through the command line (issue 11, "data that silently goes wrong").

ID-like and high-cardinality columns, dates, rare categories, a hostile model
file, missing-value tokens, thousands separators, compressed files, other
separators and running out of memory. Every bad case exits 2 with a message and
no traceback, and leaves no file behind.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import re
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zstandard

import synnet
from synnet.cli import commands, main
from synnet.tabular.model import load
from synnet.tabular.preprocessing import MAX_CATEGORIES, Preprocessor

FAST = ["--epochs", "3", "--seed", "1", "-q", "--patience", "0"]


def run(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_bad_input(code: int, err: str, *patterns: str) -> None:
    """Exit 2, one or two lines on stderr, no traceback, the patterns in the message."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 2, err
    assert lines[0].startswith("synnet: error: ") and "Traceback" not in err
    for pattern in patterns:
        assert re.search(pattern, err), (pattern, err)


def customers(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """A churn-like table: an ID, a free-text note, a date, a country code, a spend."""
    rng = np.random.default_rng(seed)
    spend = rng.gamma(2.0, 50.0, n).round(2)
    country = rng.choice(["FR", "NA", "DE", "US"], n, p=[0.4, 0.2, 0.2, 0.2])
    days = rng.integers(0, 900, n)
    signup = (np.datetime64("2022-01-01") + days).astype(str)
    return pd.DataFrame({
        "customer_id": [f"C{100000 + 7 * i}" for i in range(n)],
        "number": 1000 + rng.permutation(n),
        "note": [f"called on {d} about plan {i % 97}" for i, d in enumerate(days)],
        "signup": signup, "country": country, "spend": spend,
        "churn": np.where(spend + 40 * (country == "NA") > 110, "yes", "no")})


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    customers().to_csv(path, index=False)
    return path


# -- columns that name rows ------------------------------------------------------------


def test_id_like_and_high_cardinality_columns_are_left_out_with_a_warning(tmp_path, table,
                                                                          capsys):
    out = tmp_path / "m.synnet"
    code, _, err = run(capsys, "train", table, "-t", "churn", "-o", out, *FAST)
    assert code == 0, err
    assert "Traceback" not in err
    warning = next(line for line in err.splitlines() if line.startswith("synnet: warning:"))
    for name in ("'customer_id' (a different text in every row",
                 "'number' (a different whole number in every row", "'note' ("):
        assert name in warning, warning
    assert "keep_columns=['customer_id', 'number', 'note']" in warning
    assert "hint: on the command line: --keep-columns" in err
    model = load(out)
    assert model.feature_names == ["signup", "country", "spend"]
    assert model.header["training"]["ignored_columns"].keys() == {"customer_id", "number",
                                                                   "note"}
    # Kept on request (and then grouped: at most --max-categories inputs, not 120)
    code, _, err = run(capsys, "train", table, "-t", "churn", "-o", out, "--keep-columns",
                       "customer_id,number", "--max-categories", "5", *FAST)
    assert code == 0, err
    model = load(out)
    assert model.feature_names == ["customer_id", "number", "signup", "country", "spend"]
    block = [n for n in model.preprocessor.output_names if n.startswith("customer_id=")]
    assert len(block) == 5 and block[-1] == "customer_id=<infrequent>"
    code, text, err = run(capsys, "inspect", out)
    assert code == 0, err
    # 96 training rows, each ID once: 4 keep an input (ties: the last in order, as
    # scikit-learn breaks them), 92 share one
    assert re.search(r"customer_id +categorical +4 categories: C1\d+, .*; 92 infrequent, "
                     r"as one input", text), text
    assert re.search(r"signup +datetime +parts: year, month, dayofweek, dayofyear", text)


def test_only_id_like_columns_is_an_error(tmp_path, capsys):
    path = tmp_path / "ids.csv"
    frame = customers()[["customer_id", "churn"]]
    frame.to_csv(path, index=False)
    code, _, err = run(capsys, "train", path, "-t", "churn", "-o", tmp_path / "m", *FAST)
    assert_bad_input(code, err, r"no feature columns are left after leaving out 'customer_id'",
                     "--keep-columns")
    assert not (tmp_path / "m").exists()


# -- dates ----------------------------------------------------------------------------


def test_dates_become_numeric_parts_stored_in_the_model(tmp_path, table, capsys):
    out = tmp_path / "m.synnet"
    code, _, err = run(capsys, "train", table, "-t", "churn", "-o", out, *FAST)
    assert code == 0, err
    model = load(out)
    spec = next(c for c in model.preprocessor.columns if c["name"] == "signup")
    assert spec["kind"] == "datetime"
    assert spec["parts"] == ["year", "month", "dayofweek", "dayofyear"]  # no time of day
    frame = customers()
    X = model.transform(frame)
    names = model.preprocessor.output_names
    dates = pd.to_datetime(frame["signup"])
    expected = {"year": dates.dt.year, "month": dates.dt.month,
                "dayofweek": dates.dt.day_of_week, "dayofyear": dates.dt.day_of_year}
    for k, part in enumerate(spec["parts"]):
        got = X[:, names.index(f"signup.{part}")] * spec["scale"][k] + spec["mean"][k]
        np.testing.assert_allclose(got, expected[part].to_numpy(), atol=1e-9)
    # predict reads the same column the same way
    code, out_text, err = run(capsys, "predict", out, table)
    assert code == 0, err
    assert len(out_text.splitlines()) == len(frame) + 1


def test_datetimes_with_hours_and_parquet_dates(tmp_path, capsys):
    frame = customers()[["spend", "churn"]].copy()
    frame["seen"] = pd.Timestamp("2024-03-30 22:15") + pd.to_timedelta(
        np.arange(len(frame)) * 5, unit="h")
    path = tmp_path / "d.parquet"
    frame.to_parquet(path)
    out = tmp_path / "m.synnet"
    code, _, err = run(capsys, "train", path, "-t", "churn", "-o", out, *FAST)
    assert code == 0, err
    model = load(out)
    spec = next(c for c in model.preprocessor.columns if c["name"] == "seen")
    assert spec["parts"][-1] == "hour"
    hours = model.transform(frame)[:, model.preprocessor.output_names.index("seen.hour")]
    np.testing.assert_allclose(hours * spec["scale"][-1] + spec["mean"][-1],
                               frame["seen"].dt.hour.to_numpy(), atol=1e-9)
    typo = customers()[["spend", "churn"]].assign(seen=frame["seen"].astype(str))
    typo.loc[[4, 70], "seen"] = "2024-02-30"
    typo_path = tmp_path / "typo.csv"
    typo.to_csv(typo_path, index=False)
    code, _, err = run(capsys, "train", typo_path, "-t", "churn", "-o", tmp_path / "x", *FAST)
    assert_bad_input(code, err, r"column 'seen' must hold ISO 8601 dates .*rows 5, 71")
    assert not (tmp_path / "x").exists()
    bad = frame.astype({"seen": str})
    bad.loc[3, "seen"] = "yesterday"
    bad_path = tmp_path / "bad.csv"
    bad.to_csv(bad_path, index=False)
    code, _, err = run(capsys, "predict", out, bad_path, "-o", tmp_path / "p.csv")
    assert_bad_input(code, err, r"column 'seen' must hold ISO 8601 dates .*'yesterday' in row 4")
    assert not (tmp_path / "p.csv").exists()


# -- rare categories -------------------------------------------------------------------


@pytest.mark.parametrize("max_categories,min_frequency", [
    (None, None), (4, None), (None, 5), (None, 0.1), (3, 4), (1, None), (10, 0.05), (2, 30)])
def test_rare_categories_group_as_scikit_learn_does(max_categories, min_frequency):
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(3)
    weights = rng.dirichlet(np.full(12, 0.6))
    train = rng.choice([f"c{k:02d}" for k in range(12)], 300, p=weights)
    test = np.concatenate([rng.choice(train, 50), ["never-seen"]])
    ours = Preprocessor(max_categories=max_categories, min_frequency=min_frequency).fit(
        {"c": train})
    theirs = OneHotEncoder(max_categories=max_categories, min_frequency=min_frequency,
                           handle_unknown="ignore", sparse_output=False).fit(train[:, None])
    spec = ours.columns[0]
    grouping = max_categories is not None or min_frequency is not None
    rare = theirs.infrequent_categories_[0] if grouping else None  # absent otherwise
    assert spec.get("infrequent", []) == ([] if rare is None else list(rare))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'never-seen' is unknown to both
        np.testing.assert_array_equal(ours.transform({"c": test}),
                                      theirs.transform(test[:, None].astype(object)))


def test_grouping_is_stored_and_checked(tmp_path, capsys):
    path = tmp_path / "d.csv"
    frame = customers(300)
    frame["plan"] = [f"p{int(k)}" for k in np.random.default_rng(1).zipf(1.6, len(frame))]
    frame.to_csv(path, index=False)
    out = tmp_path / "m.synnet"
    code, _, err = run(capsys, "train", path, "-t", "churn", "-o", out, "--drop",
                       "customer_id,number,note", "--keep-columns", "plan",
                       "--min-frequency", "10", *FAST)
    assert code == 0, err
    model = load(out)
    plan = next(c for c in model.preprocessor.columns if c["name"] == "plan")
    counts = frame["plan"].value_counts()
    assert plan["infrequent"] and all(counts[c] < 14 for c in plan["infrequent"])
    assert model.preprocessor.to_config()["min_frequency"] == 10
    code, _, err = run(capsys, "predict", out, path, "-o", tmp_path / "p.csv")
    assert code == 0, err
    for flag, value, pattern in [("--max-categories", "0", r"max_categories must be >= 1"),
                                 ("--min-frequency", "1.5", r"min_frequency must be"),
                                 ("--min-frequency", "0", r"min_frequency must be >= 1")]:
        code, _, err = run(capsys, "train", path, "-t", "churn", "-o", tmp_path / "x", flag,
                           value, *FAST)
        assert_bad_input(code, err, pattern, f"hint: on the command line: {flag}")
    assert not (tmp_path / "x").exists()


def _with_preprocessing(path: Path, target: Path, edit) -> None:
    """Copy a model file, changing its header's preprocessing section with ``edit``."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "header.json":
                header = json.loads(data)
                edit(header["preprocessing"])
                data = json.dumps(header).encode()
            dst.writestr(info.filename, data)


def test_a_model_file_declaring_too_many_categories_is_refused(tmp_path, table, capsys):
    out = tmp_path / "m.synnet"
    code, _, err = run(capsys, "train", table, "-t", "churn", "-o", out, *FAST)
    assert code == 0, err
    hostile = tmp_path / "hostile.synnet"

    def many(pre):  # fewer JSON values than the reader's bound on the header
        country = next(c for c in pre["columns"] if c["name"] == "country")
        country["categories"] = [f"{k:07d}" for k in range(400_000)]

    _with_preprocessing(out, hostile, many)
    assert hostile.stat().st_size > 3_000_000
    code, _, err = run(capsys, "predict", hostile, table, "-o", tmp_path / "p.csv")
    assert_bad_input(code, err, rf"declares 400,000 categories; at most {MAX_CATEGORIES:,}")
    assert not (tmp_path / "p.csv").exists()
    for name, edit in [
        ("empty infrequent", lambda pre: pre["columns"][1].update(infrequent=[])),
        ("bad part", lambda pre: pre["columns"][0].update(parts=["year", "era", "month",
                                                                 "dayofyear"])),
        ("short mean", lambda pre: pre["columns"][0].update(mean=[0.0])),
        ("bad grouping", lambda pre: pre.update(max_categories=0, min_frequency=None)),
    ]:
        _with_preprocessing(out, hostile, edit)
        code, _, err = run(capsys, "predict", hostile, table)
        assert_bad_input(code, err, r"hostile\.synnet: preprocessing"), name


def test_prediction_is_computed_in_blocks(tmp_path, table, capsys, monkeypatch):
    out = tmp_path / "m.synnet"
    code, _, err = run(capsys, "train", table, "-t", "churn", "-o", out, *FAST)
    assert code == 0, err
    model = load(out)
    frame = customers()
    whole = model.network.predict(model.transform(frame))
    monkeypatch.setattr("synnet.tabular.preprocessing.CHUNK_CELLS", 50)  # 7 rows a block
    assert model.preprocessor.chunk_rows < len(frame) / 10
    calls = []
    predict = model.network.predict
    monkeypatch.setattr(model.network, "predict", lambda X: calls.append(len(X)) or predict(X))
    np.testing.assert_allclose(model._output(frame), whole, rtol=1e-12)  # BLAS: batch sizes
    assert max(calls) == model.preprocessor.chunk_rows and sum(calls) == len(frame)


# -- missing-value tokens --------------------------------------------------------------


def test_only_empty_cells_are_missing_by_default(tmp_path, capsys):
    frame = customers()[["country", "spend", "churn"]].copy()
    frame.loc[[2, 5], "country"] = ""
    frame["churn"] = np.where(frame["spend"] > 100, "NA", "None")  # labels, not gaps
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "m.synnet"
    code, _, err = run(capsys, "train", path, "-t", "churn", "-o", out, "--impute",
                       "most_frequent", *FAST)
    assert code == 0, err
    model = load(out)
    country = model.preprocessor.columns[0]
    assert "NA" in country["categories"] and country["fill"] == "FR"
    assert list(model.classes) == ["NA", "None"]
    # With --na-values the token is a gap: then imputed, and a missing target is an error
    code, _, err = run(capsys, "train", path, "-t", "churn", "-o", tmp_path / "n",
                       "--na-values", "NA", "--na-values", "null,None", *FAST)
    assert_bad_input(code, err, r"target .* is missing in rows")
    frame["churn"] = "x"
    frame.loc[::2, "churn"] = "y"
    frame["spend"] = frame["spend"].astype(object)
    frame.loc[1, "spend"] = "n/a"
    frame.to_csv(path, index=False)
    code, _, err = run(capsys, "train", path, "-t", "churn", "-o", tmp_path / "n", "--impute",
                       "median", *FAST)
    assert_bad_input(code, err, r"column 'spend' must be numeric .*'n/a'.*na_values=\['n/a'\]",
                     "--na-values")
    code, _, err = run(capsys, "train", path, "-t", "churn", "-o", tmp_path / "n",
                       "--na-values", "n/a", "--impute", "median", *FAST)
    assert code == 0, err
    model = load(tmp_path / "n")
    country, spend = model.preprocessor.columns
    assert "NA" in country["categories"] and spend["kind"] == "numeric" and "fill" in spend


# -- numbers as text --------------------------------------------------------------------


def test_thousands_separators_are_numbers_and_decimal_commas_are_refused(tmp_path, capsys):
    frame = customers()[["spend", "churn"]].copy()
    frame["income"] = [f"{v:,}" for v in (frame["spend"] * 1000).round().astype(int)]
    assert frame["income"].str.contains(",").sum() > 100
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "m.synnet"
    code, _, err = run(capsys, "train", path, "-t", "churn", "-o", out, *FAST)
    assert code == 0, err
    model = load(out)
    income = model.preprocessor.columns[-1]
    assert income["kind"] == "numeric"
    got = model.transform(frame)[:, -1] * income["scale"] + income["mean"]
    np.testing.assert_allclose(got, (frame["spend"] * 1000).round(), rtol=1e-12)
    frame["income"] = [f"{v:.2f}".replace(".", ",") for v in frame["spend"]]
    frame.to_csv(path, index=False)
    code, _, err = run(capsys, "train", path, "-t", "churn", "-o", tmp_path / "x", *FAST)
    assert_bad_input(code, err, r"column 'income' holds numbers written with a decimal comma",
                     "--categorical")
    assert not (tmp_path / "x").exists()


# -- compressed files and separators ------------------------------------------------------


COMPRESSORS = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress,
               ".zst": zstandard.ZstdCompressor().compress}


@pytest.mark.parametrize("suffix", list(COMPRESSORS))
def test_compressed_files(tmp_path, table, capsys, suffix):
    packed = tmp_path / f"customers.csv{suffix}"
    packed.write_bytes(COMPRESSORS[suffix](table.read_bytes()))
    out = tmp_path / "m.synnet"
    code, _, err = run(capsys, "train", packed, "-t", "churn", "-o", out, *FAST)
    assert code == 0, err
    code, text, err = run(capsys, "predict", out, packed, "--keep", "customer_id")
    assert code == 0, err
    assert len(text.splitlines()) == 121
    damaged = tmp_path / f"damaged.csv{suffix}"
    damaged.write_bytes(packed.read_bytes()[:len(packed.read_bytes()) // 2])
    code, _, err = run(capsys, "predict", out, damaged, "-o", tmp_path / "p.csv")
    assert_bad_input(code, err, r"cannot decompress .*damaged.*damaged or truncated")
    assert not (tmp_path / "p.csv").exists()


def test_compressed_stdin_and_tsv(tmp_path, table, capsys, monkeypatch):
    tsv = tmp_path / "customers.tsv.gz"
    frame = customers()
    tsv.write_bytes(gzip.compress(frame.to_csv(sep="\t", index=False).encode()))
    out = tmp_path / "m.synnet"
    code, _, err = run(capsys, "train", tsv, "-t", "churn", "-o", out, *FAST)
    assert code == 0, err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(tsv.read_bytes())))
    code, text, err = run(capsys, "predict", out, "-")
    assert code == 0, err
    assert len(text.splitlines()) == 121


@pytest.mark.parametrize("sep,name", [(";", "d.csv"), ("\t", "d.txt"), ("|", "d.csv")])
def test_separators_are_sniffed(tmp_path, capsys, sep, name):
    path = tmp_path / name
    customers().to_csv(path, sep=sep, index=False)
    code, _, err = run(capsys, "train", path, "-t", "churn", "-o", tmp_path / "m", *FAST)
    assert code == 0, err
    assert load(tmp_path / "m").feature_names == ["signup", "country", "spend"]


def test_sep_flag_and_a_single_column_named_with_separators(tmp_path, capsys):
    path = tmp_path / "d.csv"
    customers().to_csv(path, sep=";", index=False)
    code, _, err = run(capsys, "train", path, "-t", "churn", "-o", tmp_path / "m", "--sep",
                       ";", *FAST)
    assert code == 0, err
    code, _, err = run(capsys, "train", path, "-t", "churn", "-o", tmp_path / "x", "--sep",
                       ",", *FAST)
    assert_bad_input(code, err, r"the only column name, 'customer_id;number;.*', contains ';'"
                     r".*pass sep=';'", "hint: on the command line: --sep")
    code, _, err = run(capsys, "predict", tmp_path / "m", path, "--sep", "tab")
    assert_bad_input(code, err, r"contains ';'", "--sep")
    code, _, err = run(capsys, "train", path, "-t", "churn", "-o", tmp_path / "x", "--sep",
                       "ab", *FAST)
    assert_bad_input(code, err, r"sep must be one character", "--sep")
    assert not (tmp_path / "x").exists()


def test_chunked_reading_types_columns_as_a_whole_file_read(tmp_path, monkeypatch):
    from synnet.tabular.files import read_table

    n = 50
    frame = pd.DataFrame({
        "code": ["007"] * 20 + ["A12"] + ["042"] * (n - 21),   # text only in chunk 2
        "x": [1] * 30 + [2.5] * (n - 30),                        # int, then float
        "flag": ["True", "False"] * 20 + [""] + ["True"] * (n - 41),  # a gap in chunk 3
        "n": list(range(n))})
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    whole = read_table(path)
    monkeypatch.setattr("synnet.tabular.files.CSV_CHUNK_ROWS", 20)
    chunked = read_table(path)
    for name in frame:
        assert chunked.columns[name].dtype == whole.columns[name].dtype, name
        assert chunked.columns[name].tolist() == whole.columns[name].tolist(), name
    assert whole.columns["code"][0] == "007" and whole.columns["x"].dtype == np.float64


def test_utf8_errors_name_the_byte_in_streamed_files(tmp_path, capsys):
    path = tmp_path / "d.csv.gz"
    text = customers().to_csv(index=False).encode()
    bad = text[:3000] + b"\xe9" + text[3000:]
    path.write_bytes(gzip.compress(bad))
    code, _, err = run(capsys, "train", path, "-t", "churn", "-o", tmp_path / "m", *FAST)
    assert_bad_input(code, err, r"not UTF-8 text \(byte 0xe9 at position 3000\)")


# -- memory ---------------------------------------------------------------------------


def test_memory_errors_are_messages(tmp_path, table, capsys, monkeypatch):
    out = tmp_path / "m.synnet"
    out.write_bytes(b"keep me")

    def no_memory(*args, **kwargs):
        raise MemoryError

    # Unnamed by the library: the command line still says it in a line
    monkeypatch.setattr(commands, "read_table", no_memory)
    code, _, err = run(capsys, "train", table, "-t", "churn", "-o", out, *FAST)
    assert_bad_input(code, err, r"not enough memory to run synnet train; try")
    monkeypatch.undo()
    # Named: which step, and what to try
    monkeypatch.setattr("synnet.tabular.files._fill_columns", no_memory)
    code, _, err = run(capsys, "train", table, "-t", "churn", "-o", out, *FAST)
    assert_bad_input(code, err, r"not enough memory to read .*customers\.csv; try a smaller")
    monkeypatch.undo()
    monkeypatch.setattr("synnet.tabular.preprocessing.Preprocessor.transform", no_memory)
    code, _, err = run(capsys, "train", table, "-t", "churn", "-o", out, "--drop",
                       "customer_id,number,note", *FAST)
    assert_bad_input(code, err, r"not enough memory to train on .*\(120 rows\); try",
                     "--max-categories, --dtype, --hidden, --batch-size")
    assert out.read_bytes() == b"keep me"


def test_a_real_memory_error_in_a_subprocess(tmp_path, table):
    """A network too big for the address space: exit 2 and a line, not a traceback."""
    code = ("import resource, sys; from synnet.cli import main; "
            "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30)); "
            "sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run(
        [sys.executable, "-c", code, "train", str(table), "-t", "churn", "-o",
         str(tmp_path / "m"), "--hidden", "4000000000", *FAST],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert re.search(r"not enough memory to train on .*; try", proc.stderr), proc.stderr
    assert not (tmp_path / "m").exists()


# -- the same through the Python API ----------------------------------------------------


def test_preprocessor_config_round_trip_and_old_configs():
    frame = customers()
    pre = Preprocessor(impute="median", max_categories=3).fit(
        {k: frame[k].to_numpy() for k in ("signup", "country", "spend")})
    config = pre.to_config()
    assert config["max_categories"] == 3 and config["columns"][1]["infrequent"]
    again = Preprocessor.from_config(json.loads(json.dumps(config)))
    data = {k: frame[k].to_numpy() for k in ("signup", "country", "spend")}
    np.testing.assert_array_equal(again.transform(data), pre.transform(data))
    # A configuration written before grouping and dates existed still loads, as it was
    old = {"impute": None, "columns": [
        {"name": "country", "kind": "categorical", "categories": ["DE", "FR"]},
        {"name": "spend", "kind": "numeric", "mean": 1.0, "scale": 2.0}]}
    loaded = Preprocessor.from_config(old)
    assert loaded.max_categories is None and loaded.output_names == [
        "country=DE", "country=FR", "spend"]
    with pytest.warns(UserWarning, match="'NA'"):
        X = loaded.transform({"country": np.array(["FR", "NA"], dtype=object),
                              "spend": np.array([3.0, 1.0])})
    np.testing.assert_array_equal(X, [[0, 1, 1], [0, 0, 0]])


def test_categories_beyond_the_cap_are_refused_at_fit(monkeypatch):
    monkeypatch.setattr("synnet.tabular.preprocessing.MAX_CATEGORIES", 50)
    with pytest.raises(synnet.DataError, match=r"holds at most 50: leave out") as caught:
        Preprocessor().fit({"c": np.array([f"v{k}" for k in range(60)], dtype=object)})
    assert caught.value.params == ("drop",)


def test_id_detection_needs_enough_rows_and_skips_measurements():
    from synnet.tabular.preprocessing import ignored_columns

    n = 19
    few = {"id": np.arange(n), "name": np.array([f"n{k}" for k in range(n)], dtype=object)}
    assert ignored_columns(few, ["id", "name"]) == {}
    rng = np.random.default_rng(0)
    many = {"id": np.arange(200) * 3.0, "height": rng.normal(170, 10, 200),
            "city": np.array(["a", "b"] * 100, dtype=object)}
    assert ignored_columns(many, ["id", "height", "city"]) == {
        "id": "a different whole number in every row, like an ID"}
    assert ignored_columns(many, ["id", "height", "city"], keep=["id"]) == {}


def test_a_pipe_is_read_once(tmp_path, table):
    """<(zcat data.csv.gz): a path that is a pipe, read in one pass (not reopened)."""
    packed = tmp_path / "c.csv.gz"
    packed.write_bytes(gzip.compress(table.read_bytes()))
    script = (f"'{sys.executable}' -m synnet train <(cat '{packed}') -t churn "
              f"-o '{tmp_path / 'm'}' -q --epochs 2 --seed 0")
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert load(tmp_path / "m").feature_names == ["signup", "country", "spend"]
