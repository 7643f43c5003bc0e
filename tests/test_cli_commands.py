"""The commands themselves: evaluate's column and labels, binary scores against
scikit-learn, --class-weight, output extensions, --lr, usage for typos, help
texts, the regression progress note, and demo --write-data."""

from __future__ import annotations

import argparse
import csv
import json
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.utils.class_weight import compute_sample_weight

import synnet
from synnet.cli import commands
from synnet.cli.parser import build_parser
from synnet.tabular import scores
from synnet.tabular.train import balanced_weights
from test_cli import FAST, assert_bad_input, make_data, run, table_rows, write_csv


@pytest.fixture
def data(tmp_path) -> Path:
    return make_data(tmp_path)


def _train(capsys, data: Path, out: Path, *extra: str) -> Path:
    code, _, err = run(capsys, "train", data, "--drop", "id", "-o", out, *FAST, *extra)
    assert code == 0, err
    return out


# -- evaluate -------------------------------------------------------------------------------


def test_evaluate_with_another_target_names_that_column(tmp_path, data, capsys):
    model = _train(capsys, data, tmp_path / "r.synnet", "-t", "score")
    code, _, err = run(capsys, "evaluate", model, data, "-t", "label")
    assert_bad_input(code, err, r"column 'label' must be numeric \(the model does regression\)",
                     r"check that the target column holds the true values",
                     r"hint: on the command line: --target")
    assert "score" not in err and "--task" not in err and "task=" not in err


def test_evaluate_refuses_labels_that_match_no_class(tmp_path, data, capsys):
    model = _train(capsys, data, tmp_path / "c.synnet", "-t", "label")
    code, out, err = run(capsys, "evaluate", model, data, "-t", "colour")
    assert_bad_input(code, err, r"no label in column 'colour' of .* is one of the model's "
                                r"classes \('no', 'yes'\): the labels do not match",
                     r"hint: on the command line: --target")
    assert out == ""


def test_binary_evaluate_reports_auc_average_precision_and_baseline(tmp_path, data, capsys):
    model = _train(capsys, data, tmp_path / "c.synnet", "-t", "label")
    code, out, err = run(capsys, "evaluate", model, data, "--json")
    assert code == 0, err
    report = json.loads(out)
    code, out, err = run(capsys, "predict", model, data, "--proba")
    assert code == 0, err
    rows = list(csv.DictReader(out.splitlines()))
    truth = np.array([r[4] for r in table_rows()[1]]) == "yes"
    p_yes = np.array([float(r["proba_yes"]) for r in rows])
    assert report["roc_auc"] == pytest.approx(roc_auc_score(truth, p_yes), abs=1e-12)
    assert report["average_precision"] == pytest.approx(
        average_precision_score(truth, p_yes), abs=1e-12)
    assert report["majority_baseline"] == pytest.approx(max(truth.mean(), 1 - truth.mean()))
    code, out, _ = run(capsys, "evaluate", model, data)
    assert "ROC AUC (yes vs no)" in out and "average precision" in out
    assert "majority class" in out


def test_multiclass_evaluate_has_the_baseline_but_no_auc(tmp_path, capsys):
    folder = tmp_path / "iris"
    commands.write_demo_data(folder)
    model = tmp_path / "iris.synnet"
    code, _, err = run(capsys, "train", folder / "iris.csv", "-t", "species", "-o", model, *FAST)
    assert code == 0, err
    code, out, err = run(capsys, "evaluate", model, folder / "test.csv", "--json")
    report = json.loads(out)
    assert report["majority_baseline"] == pytest.approx(10 / 30)  # 10 flowers per species
    assert "roc_auc" not in report


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 6)), min_size=2, max_size=40))
def test_binary_scores_match_scikit_learn(pairs):
    truth = np.array([t for t, _ in pairs])
    score = np.array([s / 6 for _, s in pairs])  # few distinct values: many ties
    if truth.all() or not truth.any():
        assert np.isnan(scores.roc_auc(truth, score))
        return
    assert scores.roc_auc(truth, score) == pytest.approx(roc_auc_score(truth, score), abs=1e-12)
    assert scores.average_precision(truth, score) == pytest.approx(
        average_precision_score(truth, score), abs=1e-12)


# -- --class-weight -------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=50))
def test_balanced_weights_are_scikit_learns(labels):
    y = np.array(labels)
    np.testing.assert_allclose(balanced_weights(y, 4), compute_sample_weight("balanced", y),
                               rtol=1e-12)


def test_class_weight_balanced_reaches_the_fit(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.normal(size=200).round(3)
    label = np.where(x > 1.0, "churn", "stay")  # about 16% minority
    data = write_csv(tmp_path / "d.csv", ["x", "label"], [[a, b] for a, b in zip(x, label)])
    seen = []
    real_fit = synnet.Network.fit

    def spy(self, X, y, *args, **kwargs):
        seen.append((np.asarray(y).copy(), kwargs.get("sample_weight")))
        return real_fit(self, X, y, *args, **kwargs)

    monkeypatch.setattr(synnet.Network, "fit", spy)
    code, _, err = run(capsys, "train", data, "-t", "label", "-o", tmp_path / "m.synnet",
                       "--class-weight", "balanced", *FAST)
    assert code == 0, err
    (y, weights), = seen
    np.testing.assert_allclose(weights, compute_sample_weight("balanced", y), rtol=1e-12)
    assert weights.max() > 2 * weights.min()
    training = synnet.io.load_model(tmp_path / "m.synnet").training
    assert training["settings"]["class_weight"] == "balanced"
    seen.clear()
    code, _, err = run(capsys, "train", data, "-t", "label", "-o", tmp_path / "m.synnet", *FAST)
    assert code == 0 and seen[0][1] is None


def test_class_weight_needs_classification(tmp_path, data, capsys):
    code, _, err = run(capsys, "train", data, "-t", "score", "--drop", "id", "-o",
                       tmp_path / "m", "--class-weight", "balanced", *FAST)
    assert_bad_input(code, err, r"class_weight needs a classification task",
                     r"--class-weight")
    code, _, err = run(capsys, "train", data, "-t", "label", "-o", tmp_path / "m",
                       "--class-weight", "even", *FAST)
    assert_bad_input(code, err, r"unknown class_weight 'even'; known: balanced",
                     r"--class-weight")
    assert not (tmp_path / "m").exists()


# -- options --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["out.xlsx", "out.json", "out", "out.csv.txt"])
def test_predict_refuses_extensions_it_does_not_write(tmp_path, data, capsys, name):
    model = _train(capsys, data, tmp_path / "c.synnet", "-t", "label")
    code, _, err = run(capsys, "predict", model, data, "-o", tmp_path / name)
    assert_bad_input(code, err, r"synnet writes predictions as \.csv, \.tsv, \.parquet, \.pq "
                                r"files or '-' \(standard output\)")
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("name", ["out.CSV", "out.tsv", "out.parquet"])
def test_predict_writes_the_extensions_it_knows(tmp_path, data, capsys, name):
    model = _train(capsys, data, tmp_path / "c.synnet", "-t", "label")
    code, _, err = run(capsys, "predict", model, data, "-o", tmp_path / name)
    assert code == 0, err
    assert (tmp_path / name).stat().st_size > 0


@pytest.mark.parametrize("lr, pattern", [("0", r"lr must be a finite number in \(0\.0, inf\)"),
                                         ("-1", r"lr must be .* got -1\.0")])
def test_learning_rate_must_be_positive(tmp_path, data, capsys, lr, pattern):
    code, _, err = run(capsys, "train", data, "-t", "label", "-o", tmp_path / "m", "--lr", lr)
    assert_bad_input(code, err, pattern, r"hint: on the command line: --lr")
    assert not (tmp_path / "m").exists()


def test_a_typo_prints_the_subcommands_usage(tmp_path, data, capsys):
    code, _, err = run(capsys, "train", data, "-t", "label", "-o", tmp_path / "m",
                       "--imputer", "mean")
    assert code == 2
    assert err.startswith("usage: synnet train ")
    assert "synnet train: error: unrecognized arguments: --imputer (did you mean --impute?)" \
        in err
    code, _, err = run(capsys, "predict", "m", "d", "--probas")
    assert code == 2 and err.startswith("usage: synnet predict ") and "--proba?" in err
    code, _, err = run(capsys, "--bogus", "inspect", "m")
    assert code == 2 and "unrecognized arguments: --bogus" in err


def test_every_argument_has_help_text():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [f"{name} {action.dest}" for name, sub in subparsers.choices.items()
               for action in sub._actions
               if not action.help and not isinstance(action, argparse._HelpAction)]
    assert missing == []


def test_regression_progress_says_which_loss_it_shows(tmp_path, data, capsys):
    code, _, err = run(capsys, "train", data, "-t", "score", "--drop", "id", "-o",
                       tmp_path / "m", "--epochs", "3", "--seed", "1")
    assert code == 0, err
    assert "the loss shown is the mean squared error of the standardized target 'score'" in err
    code, _, err = run(capsys, "train", data, "-t", "label", "-o", tmp_path / "m", "--epochs",
                       "3", "--seed", "1")
    assert code == 0 and "standardized" not in err


# -- demo --write-data ----------------------------------------------------------------------


def test_demo_writes_the_readme_data_deterministically(tmp_path, capsys):
    code, out, err = run(capsys, "demo", "--write-data", tmp_path / "a" / "b")
    assert code == 0, err
    assert out.count("wrote ") == 3
    commands.write_demo_data(tmp_path / "c")
    for name in commands.DEMO_FILES:
        assert (tmp_path / "a" / "b" / name).read_bytes() == (tmp_path / "c" / name).read_bytes()
    read = {name: list(csv.reader((tmp_path / "c" / name).open())) for name in
            commands.DEMO_FILES}
    assert [len(rows) - 1 for rows in read.values()] == [120, 30, 5]
    assert read["new_flowers.csv"][0] == read["iris.csv"][0][:-1]  # no species
    assert read["new_flowers.csv"][1:] == [r[:-1] for r in read["test.csv"][1:6]]
    # Together, iris.csv and test.csv are the built-in file's 150 rows, each once.
    builtin = files("synnet").joinpath("datasets/iris.csv").read_text().splitlines()
    written = [",".join(r) for r in read["iris.csv"][1:] + read["test.csv"][1:]]
    assert sorted(written) == sorted(builtin[1:])


def test_demo_never_replaces_existing_files(tmp_path, capsys):
    (tmp_path / "test.csv").write_text("mine\n")
    code, _, err = run(capsys, "demo", "--write-data", tmp_path)
    assert_bad_input(code, err, r"test\.csv already exist")
    assert (tmp_path / "test.csv").read_text() == "mine\n"
    assert not (tmp_path / "iris.csv").exists()
