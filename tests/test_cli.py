"""The command line through its real entry point: main(argv), and a few subprocess runs."""

from __future__ import annotations

import builtins
import csv
import io
import json
import math
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
import types
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synnet
from synnet.cli import commands, main
from synnet.io import load_model, save_model
from synnet.tabular.model import load
from synnet.tabular.target import TargetEncoder

FAST = ["--epochs", "15", "--seed", "1", "-q"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_csv(path: Path, header: list[str], rows: list[list[object]], **kwargs) -> Path:
    with open(path, "w", newline="", encoding=kwargs.pop("encoding", "utf-8")) as f:
        writer = csv.writer(f, lineterminator=kwargs.pop("lineterminator", "\n"))
        writer.writerow(header)
        writer.writerows(rows)
    return path


def table_rows(n: int = 60, seed: int = 0) -> tuple[list[str], list[list[object]]]:
    """Two numeric features, one text feature, a yes/no label and a numeric score."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n).round(3)
    count = rng.integers(0, 10, n)
    colour = rng.choice(["red", "green", "blue"], n)
    label = np.where(x + (colour == "red") > 0.3, "yes", "no")
    score = (2.0 * x + 0.1 * count + (colour == "blue")).round(4)
    rows = [[i, x[i], count[i], colour[i], label[i], score[i]] for i in range(n)]
    return ["id", "x", "count", "colour", "label", "score"], rows


def make_data(folder: Path) -> Path:
    """data.csv of table_rows() in ``folder``."""
    header, rows = table_rows()
    return write_csv(folder / "data.csv", header, rows)


def make_model(folder: Path, data: Path, capsys) -> Path:
    """model.synnet in ``folder``: the label from x, count and colour, trained for FAST."""
    path = folder / "model.synnet"
    code, _, err = run(capsys, "train", data, "--target", "label", "--drop", "id,score",
                       "-o", path, *FAST)
    assert code == 0, err
    return path


@pytest.fixture
def data(tmp_path) -> Path:
    return make_data(tmp_path)


@pytest.fixture
def model(tmp_path, data, capsys) -> Path:
    return make_model(tmp_path, data, capsys)


def assert_bad_input(code: int, err: str, *patterns: str) -> None:
    """Exit 2, one or two lines on stderr, no traceback, the patterns in the message."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 2, err
    assert lines[0].startswith("synnet: error: ")
    assert "Traceback" not in err
    for pattern in patterns:
        assert re.search(pattern, err), (pattern, err)


# -- train ------------------------------------------------------------------------------


def test_train_writes_a_model_and_prints_a_summary(tmp_path, data, capsys):
    out_path = tmp_path / "m.synnet"
    code, out, err = run(capsys, "train", data, "-t", "label", "-o", out_path, "--drop", "id",
                         "--hidden", "8,4", "--dropout", "0.1", "--epochs", "25", "--seed", "3",
                         "--batch-size", "16", "--lr", "0.01", "--patience", "5")
    assert code == 0, err
    assert re.search(r"classification of 'label' \(2 classes: no, yes\)", out)
    assert re.search(r"accuracy\s+\d\.\d{4}\s+\d\.\d{4}", out)  # train and valid columns
    assert re.search(r"log loss\s+\d\.\d{4}\s+\d\.\d{4}", out)
    parameters = int(re.search(r"([\d,]+) parameters", out).group(1).replace(",", ""))
    assert "seed 3" in out and f"model written to {out_path}" in out
    model = load(out_path)
    assert parameters == model.network.count_params()
    assert model.feature_names == ["x", "count", "colour", "score"]
    assert [type(layer).__name__ for layer in model.network.layers] == [
        "Dense", "Dropout", "Dense", "Dropout", "Dense"]
    settings = model.training["settings"]
    assert settings["hidden"] == [8, 4] and settings["lr"] == 0.01 and settings["seed"] == 3
    assert model.training["rows"] == {"train": 48, "valid": 12}
    # Not a terminal: progress comes as a few plain lines.
    lines = err.strip().splitlines()
    assert lines[0].startswith("epoch 1/25") and 2 <= len(lines) <= 12
    assert all(line.startswith("epoch ") for line in lines)


def test_same_seed_gives_the_same_model_file(tmp_path, data, capsys):
    for name in ("a", "b"):
        code, _, err = run(capsys, "train", data, "-t", "label", "-o", tmp_path / name, *FAST)
        assert code == 0, err
    a, b = load_model(tmp_path / "a"), load_model(tmp_path / "b")
    for key, value in a.network.params.items():
        np.testing.assert_array_equal(value, b.network.params[key])


def test_progress_bar_on_a_terminal(tmp_path, data, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert main(["train", str(data), "-t", "label", "-o", str(tmp_path / "m"), "--epochs", "7",
                 "--seed", "0"]) == 0
    assert "7/7" in term.getvalue() and "epoch" in term.getvalue()
    assert "\r" in term.getvalue()  # redrawn in place, not line by line


def test_regression_is_inferred_and_scored(tmp_path, data, capsys):
    path = tmp_path / "r.synnet"
    code, out, err = run(capsys, "train", data, "-t", "score", "-o", path, "--drop", "id",
                         "--epochs", "40", "--seed", "0", "-q", "--lr", "0.01")
    assert code == 0, err
    assert "regression of 'score'" in out and "fractional" in out
    for metric in ("R²", "MAE", "RMSE"):
        assert re.search(rf"{metric}\s+-?\d+\.\d{{4}}\s+-?\d+\.\d{{4}}", out), out
    model = load(path)
    frame = pd.read_csv(data)
    pred = model.predict({c: frame[c].to_numpy() for c in frame.columns})
    assert pred.shape == (60,)
    # In target units: a useful fit of score, not of its standardized version.
    assert np.corrcoef(pred, frame["score"])[0, 1] > 0.8


def test_task_can_be_overridden(tmp_path, capsys):
    rows = [[i % 7, (i % 3)] for i in range(40)]
    path = write_csv(tmp_path / "d.csv", ["x", "y"], rows)
    code, out, _ = run(capsys, "train", path, "-t", "y", "-o", tmp_path / "c", *FAST)
    assert code == 0 and "classification of 'y' (3 classes: 0, 1, 2)" in out
    assert load(tmp_path / "c").classes.tolist() == [0, 1, 2]
    code, out, _ = run(capsys, "train", path, "-t", "y", "-o", tmp_path / "r", "--task",
                       "regression", *FAST)
    assert code == 0 and "regression of 'y'" in out and "set explicitly (task='regression')" in out
    assert load(tmp_path / "r").task == "regression"


def test_impute_fills_missing_values_with_training_statistics(tmp_path, capsys):
    header, rows = table_rows(40)
    rows[3][1] = ""
    rows[5][3] = ""
    path = write_csv(tmp_path / "gaps.csv", header, rows)
    code, _, err = run(capsys, "train", path, "-t", "label", "-o", tmp_path / "m",
                       "--impute", "median", *FAST)
    assert code == 0, err
    columns = {c["name"]: c for c in load(tmp_path / "m").preprocessor.columns}
    assert columns["colour"]["fill"] in ("red", "green", "blue")
    assert math.isfinite(columns["x"]["fill"])


def test_plot_writes_an_image(tmp_path, data, capsys):
    code, out, err = run(capsys, "train", data, "-t", "label", "-o", tmp_path / "m",
                         "--plot", tmp_path / "loss.png", *FAST)
    assert code == 0, err
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "loss curves to" in out


def test_csv_dialect_bom_crlf_quotes_and_stdin(tmp_path, capsys, monkeypatch):
    header, rows = table_rows(40)
    for i, row in enumerate(rows):
        row[3] = "dark, blue" if i % 2 else 'say "red"'
    path = write_csv(tmp_path / "win.csv", header, rows, encoding="utf-8-sig",
                     lineterminator="\r\n")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and b'"dark, blue"' in raw
    code, _, err = run(capsys, "train", path, "-t", "label", "-o", tmp_path / "m",
                       "--keep-columns", "id", *FAST)  # id is an ID, left out by default
    assert code == 0, err
    model = load(tmp_path / "m")
    assert model.feature_names[0] == "id"  # the BOM is not part of the first name
    colour = next(c for c in model.preprocessor.columns if c["name"] == "colour")
    assert colour["categories"] == ["dark, blue", 'say "red"']
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    code, out, err = run(capsys, "predict", tmp_path / "m", "-")
    assert code == 0, err
    assert out.splitlines()[0] == "prediction" and len(out.splitlines()) == 41


def test_tsv_and_parquet_inputs(tmp_path, capsys):
    header, rows = table_rows(40)
    tsv = tmp_path / "d.tsv"
    tsv.write_text("\n".join("\t".join(map(str, r)) for r in [header, *rows]) + "\n")
    code, _, err = run(capsys, "train", tsv, "-t", "label", "-o", tmp_path / "m", *FAST)
    assert code == 0, err
    frame = pd.read_csv(tsv, sep="\t")
    frame.to_parquet(tmp_path / "d.parquet")
    code, _, err = run(capsys, "predict", tmp_path / "m", tmp_path / "d.parquet", "-o",
                       tmp_path / "p.parquet", "--keep", "id")
    assert code == 0, err
    out = pd.read_parquet(tmp_path / "p.parquet")
    assert list(out.columns) == ["id", "prediction"] and len(out) == 40


# -- predict ----------------------------------------------------------------------------


def test_predict_writes_labels_and_probabilities_to_stdout(model, data, capsys):
    code, out, err = run(capsys, "predict", model, data, "--proba")
    assert code == 0, err
    frame = pd.read_csv(io.StringIO(out))
    assert list(frame.columns) == ["prediction", "proba_no", "proba_yes"]
    assert set(frame["prediction"]) <= {"yes", "no"} and len(frame) == 60
    np.testing.assert_allclose(frame["proba_no"] + frame["proba_yes"], 1.0)
    picked = np.where(frame["proba_yes"] > frame["proba_no"], "yes", "no")
    assert (picked == frame["prediction"]).all()
    loaded = load(model)
    source = pd.read_csv(data)
    expected = loaded.predict({c: source[c].to_numpy() for c in source.columns})
    assert (frame["prediction"].to_numpy() == expected).all()


def test_predict_on_data_without_the_target_keeps_columns(tmp_path, model, capsys):
    header, rows = table_rows(10, seed=5)
    path = write_csv(tmp_path / "new.csv", [h for h in header if h != "label"],
                     [[v for h, v in zip(header, r) if h != "label"] for r in rows])
    out_path = tmp_path / "pred.csv"
    code, out, err = run(capsys, "predict", model, path, "-o", out_path, "--keep", "id")
    assert code == 0, err
    assert out == "" and "10 prediction(s) written" in err
    frame = pd.read_csv(out_path)
    assert frame["id"].tolist() == list(range(10))
    assert set(frame["prediction"]) <= {"yes", "no"}


def test_predict_warns_about_unknown_categories(tmp_path, model, capsys):
    header, rows = table_rows(5, seed=9)
    rows[2][3] = "purple"
    path = write_csv(tmp_path / "new.csv", header, rows)
    code, out, err = run(capsys, "predict", model, path)
    assert code == 0
    assert re.search(r"synnet: warning: column 'colour' has 1 value\(s\) not seen in training "
                     r"\('purple'\) in row 3", err)
    assert len(out.splitlines()) == 6


def test_regression_model_has_no_probabilities(tmp_path, data, capsys):
    run(capsys, "train", data, "-t", "score", "-o", tmp_path / "r", *FAST)
    code, _, err = run(capsys, "predict", tmp_path / "r", data, "--proba")
    assert_bad_input(code, err, "--proba needs a classification model")


# -- evaluate ---------------------------------------------------------------------------


def test_evaluate_classification_matches_numpy(model, data, capsys):
    code, out, err = run(capsys, "evaluate", model, data)
    assert code == 0, err
    loaded = load(model)
    frame = pd.read_csv(data)
    columns = {c: frame[c].to_numpy() for c in frame.columns}
    pred = loaded.predict(columns)
    truth = frame["label"].to_numpy()
    proba = loaded.predict_proba(columns)
    accuracy = np.mean(pred == truth)
    log_loss = -np.mean(np.log(proba[np.arange(60), (truth == "yes").astype(int)]))
    assert re.search(rf"accuracy\s+{accuracy:.4f}", out)
    assert re.search(rf"log loss\s+{log_loss:.4f}", out)
    tp = np.sum((pred == "yes") & (truth == "yes"))
    precision_yes = tp / max(1, np.sum(pred == "yes"))
    recall_yes = tp / np.sum(truth == "yes")
    assert re.search(rf"yes\s+{precision_yes:.4f}\s+{recall_yes:.4f}", out)
    assert "confusion matrix" in out
    code, out, _ = run(capsys, "evaluate", model, data, "--json")
    report = json.loads(out)
    cm = np.array(report["confusion_matrix"])
    assert cm.sum() == 60 and np.trace(cm) == round(accuracy * 60)
    assert cm[1, 1] == tp and report["classes"] == ["no", "yes"]


def test_evaluate_counts_unseen_labels_as_wrong(tmp_path, model, capsys):
    header, rows = table_rows(20, seed=4)
    rows[0][4] = "maybe"
    path = write_csv(tmp_path / "new.csv", header, rows)
    code, out, _ = run(capsys, "evaluate", model, path, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["rows"] == 20 and report["unknown_rows"] == 1
    assert np.array(report["confusion_matrix"]).sum() == 19


def test_evaluate_regression(tmp_path, data, capsys):
    path = tmp_path / "r"
    run(capsys, "train", data, "-t", "score", "-o", path, "--drop", "id", *FAST)
    code, out, err = run(capsys, "evaluate", path, data, "--json")
    assert code == 0, err
    report = json.loads(out)
    frame = pd.read_csv(data)
    pred = load(path).predict({c: frame[c].to_numpy() for c in frame.columns})
    y = frame["score"].to_numpy()
    assert report["r2"] == pytest.approx(1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))
    assert report["mae"] == pytest.approx(np.mean(np.abs(y - pred)))
    assert report["rmse"] == pytest.approx(np.sqrt(np.mean((y - pred) ** 2)))
    code, out, _ = run(capsys, "evaluate", path, data)
    assert re.search(r"R²\s+-?\d\.\d{4}", out) and "RMSE" in out


def test_evaluate_needs_the_target_column(tmp_path, model, capsys):
    path = write_csv(tmp_path / "x.csv", ["x", "count", "colour"], [[0.1, 2, "red"]])
    code, _, err = run(capsys, "evaluate", model, path)
    assert_bad_input(code, err, "no target column 'label'", "--target")


# -- inspect ----------------------------------------------------------------------------


def test_inspect_describes_the_model(model, capsys):
    code, out, err = run(capsys, "inspect", model)
    assert code == 0, err
    loaded = load(model)
    for expected in ("synnet-model version 1", "classification of 'label'", "architecture",
                     f"total parameters: {loaded.network.count_params():,}",
                     "Dense(in_features=6", "categorical", "3 categories: blue, green, red",
                     "numeric", "training", "seed", "history", "val_loss"):
        assert expected in out, expected
    code, out, _ = run(capsys, "inspect", model, "--json")
    header = json.loads(out)
    assert header["format"] == "synnet-model" and header["target"]["classes"] == ["no", "yes"]


# -- demo -------------------------------------------------------------------------------


def test_demo_runs_the_tutorial_then_iris(monkeypatch, capsys):
    calls = []
    fake = types.ModuleType("synnet.tutorial")
    fake.main = lambda file: (calls.append(file), print("TUTORIAL TABLE", file=file))
    monkeypatch.setitem(sys.modules, "synnet.tutorial", fake)
    monkeypatch.setattr(synnet, "tutorial", fake, raising=False)
    monkeypatch.setitem(sys.modules, "pandas", None)  # the demo needs no pandas
    code, out, err = run(capsys, "demo", "-q")
    assert code == 0, err
    assert len(calls) == 1 and calls[0] is sys.stdout  # the same stream as the rest
    assert out.index("TUTORIAL TABLE") < out.index("Iris")
    match = re.search(r"held-out accuracy: (\d\.\d{4}) \((\d+) of 30 flowers\)\s*$", out)
    assert match, out
    assert float(match.group(1)) >= 0.8 and int(match.group(2)) == round(
        float(match.group(1)) * 30)


def test_demo_without_the_tutorial_module_still_scores_iris(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "synnet.tutorial", None)
    monkeypatch.delattr(synnet, "tutorial", raising=False)
    code, out, _ = run(capsys, "demo", "-q")
    assert code == 0 and "skipped" in out and "held-out accuracy" in out


# -- bad input --------------------------------------------------------------------------


def _bad_files(tmp: Path) -> dict[str, Path]:
    header, rows = table_rows(30)
    files = {
        "empty": tmp / "empty.csv", "blank": tmp / "blank.csv", "header": tmp / "header.csv",
        "folder": tmp / "folder.csv", "latin1": tmp / "latin1.csv",
    }
    files["empty"].write_bytes(b"")
    files["blank"].write_text("\n\n  \n")
    files["header"].write_text(",".join(header) + "\n")
    files["folder"].mkdir()
    files["latin1"].write_bytes(",".join(header).encode() + b"\n1,0.5,3,caf\xe9,yes,1.0\n")
    ragged = [list(r) for r in rows]
    ragged[4] = ragged[4] + ["extra"]
    files["long_row"] = write_csv(tmp / "long.csv", header, ragged)
    short = [list(r) for r in rows]
    short[6] = short[6][:3]
    files["short_row"] = write_csv(tmp / "short.csv", header, short)
    text = [list(r) for r in rows]
    text[7][1] = "abc"
    files["text"] = write_csv(tmp / "text.csv", header, text)
    inf = [list(r) for r in rows]
    inf[2][1] = "inf"
    files["inf"] = write_csv(tmp / "inf.csv", header, inf)
    single = [[*list(r[:4]), "yes", r[5]] for r in rows]
    files["single"] = write_csv(tmp / "single.csv", header, single)
    gaps = [list(r) for r in rows]
    gaps[1][2] = ""
    gaps[9][3] = ""
    files["gaps"] = write_csv(tmp / "gaps.csv", header, gaps)
    files["dupes"] = write_csv(tmp / "dupes.csv", ["a", "b", "a"], [[1, 2, 3]])
    files["good"] = write_csv(tmp / "good.csv", header, rows)
    return files


TRAIN_BAD = [
    ("missing", ["nope.csv"], r"no such file: .*nope\.csv"),
    ("folder", ["{folder}"], r"is a folder, not a file"),
    ("empty", ["{empty}"], r"empty\.csv is empty"),
    ("blank", ["{blank}"], r"blank\.csv is empty"),
    ("header", ["{header}"], r"has a header but no data rows"),
    ("latin1", ["{latin1}"], r"not UTF-8 text \(byte 0xe9"),
    ("long_row", ["{long_row}"], r"line 6: 7 field\(s\) but the header has 6"),
    ("short_row", ["{short_row}"], r"line 8: 3 field\(s\) but the header has 6"),
    ("text", ["{text}"], r"column 'x' must be numeric .* row 8: 'abc'"),
    ("inf", ["{inf}"], r"column 'x' has infinite values in row 3"),
    ("single", ["{single}"], r"single class \('yes'\)"),
    ("gaps", ["{gaps}"], r"(?s)missing values in column 'count' \(row 2\) and column 'colour' "
                         r"\(row 10\).*impute=.*hint: on the command line: --impute"),
    ("dupes", ["{dupes}", "-t", "b"], r"names column 'a' twice"),
    ("no_target", ["{good}", "-t", "nope"], r"no column 'nope'.*its columns are 'id'"),
    ("bad_feature", ["{good}", "--drop", "nope"], r"no column 'nope'"),
    ("activation", ["{good}", "--activation", "swish"], r"unknown activation 'swish'"),
    ("plot_suffix", ["{good}", "--plot", "curves.txt"], r"--plot .*\.png"),
    ("momentum", ["{good}", "--momentum", "0.9"],
     r"(?s)momentum applies to optimizer 'sgd' only.*command line: --momentum, --optimizer"),
    ("batch", ["{good}", "--batch-size", "0"],
     r"(?s)batch_size must be >= 1.*command line: --batch-size"),
    ("fraction", ["{good}", "--valid-fraction", "1"],
     r"(?s)valid_fraction must be a finite number in \[0.0, 1.0\).*--valid-fraction"),
    ("optimizer", ["{good}", "--optimizer", "lion"],
     r"(?s)unknown optimizer 'lion'; known: adam, rmsprop, sgd.*command line: --optimizer"),
]


@pytest.mark.parametrize("case, args, pattern", TRAIN_BAD, ids=[c[0] for c in TRAIN_BAD])
def test_train_bad_input(tmp_path, capsys, case, args, pattern):
    files = _bad_files(tmp_path)
    argv = [a.format(**{k: str(v) for k, v in files.items()}) for a in args]
    if "-t" not in argv:
        argv += ["-t", "label"]
    out_path = tmp_path / "out.synnet"
    code, _out, err = run(capsys, "train", *argv, "-o", out_path, *FAST)
    assert_bad_input(code, err, pattern)
    assert not out_path.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_unreadable_file(tmp_path, capsys, monkeypatch):
    path = tmp_path / "secret.csv"
    path.write_text("a,b\n1,2\n")
    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):  # what a file without read permission does
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    code, _, err = run(capsys, "train", path, "-t", "b", "-o", tmp_path / "m")
    assert_bad_input(code, err, r"permission denied: .*secret\.csv", "permissions")


def test_output_folder_problems(tmp_path, data, capsys):
    code, _, err = run(capsys, "train", data, "-t", "label", "-o", tmp_path, *FAST)
    assert_bad_input(code, err, "is a folder")
    code, _, err = run(capsys, "train", data, "-t", "label", "-o", tmp_path / "no" / "m", *FAST)
    assert_bad_input(code, err, "does not exist")


def test_failed_train_keeps_the_previous_model(tmp_path, model, capsys):
    files = _bad_files(tmp_path)
    before = model.read_bytes()
    for bad in ("text", "single", "long_row"):
        code, _, _ = run(capsys, "train", files[bad], "-t", "label", "-o", model, *FAST)
        assert code == 2
    code, _, err = run(capsys, "train", files["good"], "-t", "label", "-o", model, "--optimizer",
                       "sgd", "--lr", "1e12", *FAST)
    assert code == 1 and "diverged" in err
    assert model.read_bytes() == before
    assert not [p for p in model.parent.iterdir() if p.name.startswith(".")]


def test_divergence_exits_nonzero_without_writing(tmp_path, data, capsys):
    path = tmp_path / "m.synnet"
    code, out, err = run(capsys, "train", data, "-t", "label", "-o", path, "--optimizer", "sgd",
                         "--lr", "1e12", "--drop", "id", *FAST)
    assert code == 1
    assert err.startswith("synnet: error: training diverged") and "Traceback" not in err
    assert not path.exists() and "model written" not in out


def test_interrupt_exits_130_without_traceback(tmp_path, data, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "train", interrupted)
    code, _, err = run(capsys, "train", data, "-t", "label", "-o", tmp_path / "m")
    assert code == 130 and "interrupted" in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


def _model_files(tmp: Path, good: Path) -> dict[str, Path]:
    data = good.read_bytes()
    files = {"truncated": tmp / "truncated.synnet", "corrupt": tmp / "corrupt.synnet",
             "pickle": tmp / "pickle.synnet", "zip": tmp / "other.zip",
             "newer": tmp / "newer.synnet", "folder": tmp / "dir.synnet"}
    files["truncated"].write_bytes(data[: len(data) // 3])
    flipped = bytearray(data)
    header_at = data.index(b'"format"')
    flipped[header_at + 3] ^= 0x20
    files["corrupt"].write_bytes(bytes(flipped))
    files["pickle"].write_bytes(pickle.dumps({"W": [1.0]}))
    with zipfile.ZipFile(files["zip"], "w") as zf:
        zf.writestr("weights.txt", "1 2 3")
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(files["newer"], "w") as dst:
        for name in src.namelist():
            content = src.read(name)
            if name == "header.json":
                content = content.replace(b'"format_version": 1', b'"format_version": 7')
            dst.writestr(name, content)
    files["folder"].mkdir()
    return files


MODEL_BAD = [
    ("truncated", r"not a valid synnet model file"),
    ("corrupt", r"not a valid synnet model file .*CRC"),
    ("pickle", r"pickle file; synnet model files are never pickles"),
    ("zip", r"no header\.json"),
    ("newer", r"format version 7 .* reads format version 1 and older: upgrade synnet"),
    ("folder", r"is a folder, not a file"),
]


@pytest.mark.parametrize("case, pattern", MODEL_BAD, ids=[c[0] for c in MODEL_BAD])
@pytest.mark.parametrize("command", ["predict", "evaluate", "inspect"])
def test_bad_model_files(tmp_path, model, data, capsys, case, pattern, command):
    bad = _model_files(tmp_path, model)[case]
    argv = [command, bad] + ([] if command == "inspect" else [data])
    code, out, err = run(capsys, *argv)
    assert_bad_input(code, err, pattern)
    assert out == ""


def test_prediction_columns_must_match_the_model(tmp_path, model, capsys):
    path = write_csv(tmp_path / "other.csv", ["x", "colour", "weight"], [[0.5, "red", 3]])
    code, _, err = run(capsys, "predict", model, path)
    assert_bad_input(code, err, r"lacks column 'count' that the model was trained on; "
                                r"the data has 'x', 'colour', 'weight'")
    path = write_csv(tmp_path / "typed.csv", ["x", "count", "colour"], [[0.5, "many", "red"]])
    code, _out, err = run(capsys, "predict", model, path)
    assert_bad_input(code, err, r"column 'count' must be numeric \(the model was trained on "
                                r"numbers\) but has text in row 1: 'many'")


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert main(["train", "data.csv"]) == 2  # --target and -o are required
    assert main(["train", "d.csv", "-t", "y", "-o", "m", "--hidden", "a,b"]) == 2
    err = capsys.readouterr().err
    assert "the following arguments are required" in err and "layer sizes" in err
    assert main(["--version"]) == 0 and capsys.readouterr().out.startswith("synnet ")


def test_debug_shows_the_traceback(tmp_path, capsys):
    with pytest.raises(FileNotFoundError):
        main(["train", str(tmp_path / "nope.csv"), "-t", "y", "-o", str(tmp_path / "m"),
              "--debug"])
    with pytest.raises(FileNotFoundError):
        main(["--debug", "inspect", str(tmp_path / "nope.synnet")])


# -- through real processes -------------------------------------------------------------


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONWARNINGS": "ignore"}


def test_python_dash_m_full_round(tmp_path, data):
    model_path = tmp_path / "m.synnet"
    done = subprocess.run([sys.executable, "-m", "synnet", "train", str(data), "-t", "label",
                           "-o", str(model_path), *FAST], capture_output=True, text=True,
                          env=_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-m", "synnet", "predict", str(model_path), "-"],
                          input=data.read_text(), capture_output=True, text=True, env=_env(),
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "prediction" and len(done.stdout.splitlines()) == 61


def test_console_script_bad_model_is_one_line(tmp_path, data):
    script = shutil.which("synnet")
    if script is None:
        pytest.skip("the synnet console script is not installed")
    bad = tmp_path / "bad.synnet"
    bad.write_bytes(b"\x80\x04not really a pickle")
    done = subprocess.run([script, "predict", str(bad), str(data)], capture_output=True,
                          text=True, env=_env(), timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "pickle" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_ctrl_c_during_training_exits_130(tmp_path, data):
    path = tmp_path / "m.synnet"
    proc = subprocess.Popen(
        [sys.executable, "-m", "synnet", "train", str(data), "-t", "label", "-o", str(path),
         "--epochs", "10000000", "--patience", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # "epoch 1/10000000 ...": training has started
        assert first.startswith("epoch 1/"), first
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    assert not path.exists()


def test_demo_in_a_process_prints_the_published_numbers(tmp_path):
    done = subprocess.run([sys.executable, "-m", "synnet", "demo", "-q"], capture_output=True,
                          text=True, env=_env(), timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "0.0096644899999999995" in done.stdout or "0.00966449" in done.stdout
    assert re.search(r"held-out accuracy: \d\.\d{4}", done.stdout)
    assert list(tmp_path.iterdir()) == []  # the demo writes no files


def test_missing_pandas_names_the_extra(tmp_path, data, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    code, _, err = run(capsys, "train", data, "-t", "label", "-o", tmp_path / "m", *FAST)
    assert_bad_input(code, err, r"needs pandas; install it with pip install 'synnet\[cli\]'")


def test_importing_the_cli_imports_no_optional_dependency():
    code = ("import sys, synnet, synnet.cli, synnet.io, synnet.tabular.model, "
            "synnet.tabular.preprocessing, synnet.tabular.files, synnet.tabular.train; "
            "bad = [m for m in ('pandas', 'matplotlib', 'sklearn', 'pyarrow') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_bare_network_and_sklearn_style_files_work_with_the_cli(tmp_path, capsys):
    net = synnet.Network([synnet.Dense(2, 2, "softmax")], seed=0)
    net.save(tmp_path / "bare.synnet")
    rows = [[0.5, -1.0], [2.0, 0.25]]
    path = write_csv(tmp_path / "x.csv", ["a", "b"], rows)
    code, out, err = run(capsys, "predict", tmp_path / "bare.synnet", path)
    assert code == 0, err
    frame = pd.read_csv(io.StringIO(out))
    np.testing.assert_allclose(frame[["prediction_0", "prediction_1"]].to_numpy(),
                               net.predict(np.array(rows)))
    code, out, _ = run(capsys, "inspect", tmp_path / "bare.synnet")
    assert code == 0 and "no target information" in out and "history      none saved" in out
    code, _, err = run(capsys, "evaluate", tmp_path / "bare.synnet", path)
    assert_bad_input(code, err, "does not record its target")
    save_model(
        tmp_path / "sk.synnet", net,
        target=TargetEncoder.from_config({"task": "classification", "classes": ["cat", "dog"]}),
        metadata={"feature_names": ["b", "a"]})
    swapped = write_csv(tmp_path / "y.csv", ["a", "b", "kind"],
                        [[r[0], r[1], "cat"] for r in rows])
    code, out, err = run(capsys, "evaluate", tmp_path / "sk.synnet", swapped, "-t", "kind",
                         "--json")
    assert code == 0, err
    proba = net.predict(np.array([[r[1], r[0]] for r in rows]))  # columns by name, not position
    expected = np.mean(np.argmax(proba, axis=1) == 0)
    assert json.loads(out)["accuracy"] == pytest.approx(expected)


def test_every_setting_has_a_flag_with_the_settings_default():
    """The train flags fill Settings field for field; defaults come from the dataclass."""
    from dataclasses import MISSING, fields

    from synnet.cli.parser import build_parser
    from synnet.tabular.settings import Settings

    args = build_parser().parse_args(["train", "data.csv", "-t", "y", "-o", "m"])
    built = Settings(**{f.name: getattr(args, f.name) for f in fields(Settings)})
    for f in fields(Settings):
        if f.name == "target":
            continue
        default = f.default_factory() if f.default is MISSING else f.default  # type: ignore[misc]
        assert getattr(built, f.name) == default, f.name
    assert set(args.flags) >= {f.name for f in fields(Settings)}


def test_library_errors_name_python_arguments_and_the_cli_names_flags(tmp_path, capsys):
    from synnet.tabular.preprocessing import Preprocessor

    with pytest.raises(synnet.DataError, match="impute=") as caught:
        Preprocessor().fit({"a": np.array([1.0, np.nan])})
    assert "--" not in str(caught.value) and caught.value.params == ("impute",)
    with pytest.raises(synnet.ConfigError, match="categorical names 'b'") as caught:
        Preprocessor(categorical=["b"]).fit({"a": np.array([1.0, 2.0])})
    assert "--" not in str(caught.value)
