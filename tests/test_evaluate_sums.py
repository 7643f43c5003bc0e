"""``synnet evaluate`` scores from running sums, chunk by chunk: the numbers of the report
functions on the whole arrays (to float rounding)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synnet.tabular import chunks, scores
from synnet.tabular.files import read_table
from synnet.tabular.model import load
from test_cli import run, table_rows, write_csv


def assert_same(got: Any, expected: Any, where: str = "report") -> None:
    """Equal keys, lists and ints; floats to 1e-12 relative (NaN equals NaN)."""
    if isinstance(expected, dict):
        assert list(got) == list(expected), where
        for key in expected:
            assert_same(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(got) == len(expected), where
        for i, (a, b) in enumerate(zip(got, expected)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert isinstance(got, float), where
        assert got == pytest.approx(expected, rel=1e-12, nan_ok=True), where
    else:
        assert type(got) is type(expected) and got == expected, where


def whole_classification(codes: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """What evaluate reports on the whole arrays: the report of the known rows; rows with
    an unknown label (-1) count as wrong in the accuracy and the majority baseline."""
    known = codes >= 0
    report = scores.classification_report(codes[known], proba[known])
    if not known.all():
        correct = int(np.sum(np.argmax(proba[known], axis=1) == codes[known]))
        majority = int(np.bincount(codes[known]).max())
        report.update(rows=len(codes), accuracy=correct / len(codes),
                      majority_baseline=majority / len(codes),
                      unknown_rows=int((~known).sum()))
    return report


def _pieces(n: int, cuts: list[int]) -> list[slice]:
    edges = sorted({0, n, *(c % (n + 1) for c in cuts)})
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


@settings(max_examples=60, deadline=None)
@given(k=st.integers(2, 4), n=st.integers(1, 300), seed=st.integers(0, 2**31),
       cuts=st.lists(st.integers(0, 300), max_size=6), unknown=st.booleans(),
       ties=st.booleans())
def test_classification_sums_equal_the_report_of_the_whole(
        k: int, n: int, seed: int, cuts: list[int], unknown: bool, ties: bool) -> None:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k))
    if ties:  # few distinct scores: ROC AUC's ranks share ties
        logits = logits.round(0)
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    codes = rng.integers(-1 if unknown else 0, k, n)
    if not (codes >= 0).any():
        codes[0] = 0
    sums = scores.ClassificationSums(k)
    for part in _pieces(n, cuts):
        sums.add(codes[part], proba[part])
    assert sums.rows == n
    assert_same(sums.report(), whole_classification(codes, proba))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), outputs=st.integers(0, 2), seed=st.integers(0, 2**31),
       cuts=st.lists(st.integers(0, 300), max_size=6), offset=st.sampled_from([0.0, 1e6]),
       constant=st.booleans())
def test_regression_sums_equal_the_report_of_the_whole(
        n: int, outputs: int, seed: int, cuts: list[int], offset: float,
        constant: bool) -> None:
    rng = np.random.default_rng(seed)
    shape = (n,) if outputs == 0 else (n, outputs)
    y = rng.normal(size=shape) + offset  # far from 0: R² needs the stable running mean
    if constant:
        y[...] = offset + 0.1  # R² is undefined, whatever the rounding of the mean
    pred = y + 0.3 * rng.normal(size=shape)
    sums = scores.RegressionSums()
    for part in _pieces(n, cuts):
        sums.add(y[part], pred[part])
    whole = scores.regression_report(y, pred)
    got = sums.report()
    if constant or y.size == 1:
        assert math.isnan(whole["r2"]) and math.isnan(got["r2"])
    assert_same(got, whole)


def test_only_two_classes_keep_a_score_per_row() -> None:
    """Three classes: counts only; two: the positive class's score (8 bytes a row)."""
    three, two = scores.ClassificationSums(3), scores.ClassificationSums(2)
    rng = np.random.default_rng(0)
    for sums, k in ((three, 3), (two, 2)):
        proba = rng.dirichlet(np.ones(k), size=1000)
        sums.add(rng.integers(0, k, 1000), proba)
    assert three._ranked is None
    assert two._ranked is not None
    kept = sum(a.nbytes for part in two._ranked for a in part)
    assert kept == 8 * 1000
    two.report()  # sorts them, one array for each kind
    assert sum(a.nbytes for part in two._ranked for a in part) == kept
    assert scores.ClassificationSums(2, ranks=False)._ranked is None


def _model(tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str) -> Path:
    header, rows = table_rows(80)
    data = write_csv(tmp_path / "train.csv", header, rows)
    drop = {"label": "id,score", "colour": "id,label", "score": "id,label"}[target]
    path = tmp_path / "m.synnet"
    code, _, err = run(capsys, "train", data, "--target", target, "--drop", drop, "-o", path,
                       "--epochs", "20", "--seed", "1", "-q")
    assert code == 0, err
    return path


@pytest.mark.parametrize("case", ["2 classes", "3 classes", "unknown labels", "regression"])
def test_evaluate_json_equals_the_report_functions_on_the_whole_arrays(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        case: str) -> None:
    target = {"2 classes": "label", "unknown labels": "label", "3 classes": "colour",
              "regression": "score"}[case]
    path = _model(tmp_path, capsys, target)
    header, rows = table_rows(700, seed=5)
    if case == "unknown labels":
        for row in rows[::9]:
            row[4] = "maybe"
    data = write_csv(tmp_path / "d.csv", header, rows)
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 64)  # 11 chunks
    assert len(list(chunks.read_chunks(data))) == 11
    code, out, err = run(capsys, "evaluate", path, data, "--json")
    assert code == 0, err
    got = json.loads(out)
    model = load(path)
    table = read_table(data)
    assert model.target is not None
    if case == "regression":
        expected = scores.regression_report(model.target.values(table.columns[target]),
                                            model.predict(table))
    else:
        codes = model.target.encode(table.columns[target])[0]
        expected = whole_classification(codes, model.predict_proba(table))
        expected["classes"] = [str(c) for c in model.classes]  # type: ignore[union-attr]
        assert ("roc_auc" in got) == (case != "3 classes")
        assert ("unknown_rows" in got) == (case == "unknown labels")
    assert_same(got, expected)


@settings(max_examples=60, deadline=None)
@given(truth=st.lists(st.booleans(), min_size=2, max_size=80), seed=st.integers(0, 2**31),
       distinct=st.integers(1, 50), block=st.integers(1, 7))
def test_ranking_scores_in_blocks_are_scikit_learns(truth: list[bool], seed: int,
                                                    distinct: int, block: int) -> None:
    """ROC AUC and average precision from sorted scores, a few positives at a time."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    positive = np.array(truth)
    score = np.random.default_rng(seed).integers(0, distinct, len(truth)) / distinct
    old, scores.RANK_BLOCK = scores.RANK_BLOCK, block
    try:
        auc, ap = scores.roc_auc(positive, score), scores.average_precision(positive, score)
    finally:
        scores.RANK_BLOCK = old
    if positive.all() or not positive.any():
        assert math.isnan(auc)
    else:
        assert auc == pytest.approx(roc_auc_score(positive, score), abs=1e-12)
        assert ap == pytest.approx(average_precision_score(positive, score), abs=1e-12)
