"""Scores of a model on a table, in NumPy (no scikit-learn): what ``synnet evaluate`` prints.

Classification metrics take class indices ``y`` (n,) in [0, k) and predicted
probabilities ``proba`` (n, k); regression metrics take true and predicted
values (n,). Every function returns plain Python floats / lists.
:class:`ClassificationSums` and :class:`RegressionSums` give the same reports
from data seen a chunk at a time (``synnet evaluate``, the streamed job's scores).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from synnet.tabular.streaming import Moments

#: Probabilities are clipped to [EPS, 1] before the log in log loss.
EPS = 1e-15


def accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    """Fraction of rows where the predicted class index equals the true one."""
    return float(np.mean(y == pred)) if len(y) else math.nan


def log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    """Mean of -log p(true class), probabilities clipped to [1e-15, 1]."""
    return -log_likelihood(y, proba) / len(y) if len(y) else math.nan


def log_likelihood(y: np.ndarray, proba: np.ndarray) -> float:
    """Sum of log p(true class), probabilities clipped to [1e-15, 1]."""
    picked = proba[np.arange(len(y)), y]
    with np.errstate(under="ignore"):
        return float(np.sum(np.log(np.clip(picked, EPS, 1.0))))


def confusion_matrix(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """(k, k) counts: row = true class, column = predicted class."""
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (y, pred), 1)
    return m


def per_class(confusion: np.ndarray) -> dict[str, list[float]]:
    """Precision, recall, F1 and support per class (0 where undefined: no predictions/rows)."""
    tp = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0).astype(np.float64)
    support = confusion.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore", under="ignore"):
        precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), 0.0)
        recall = np.where(support > 0, tp / np.maximum(support, 1), 0.0)
        total = precision + recall
        f1 = np.where(total > 0, 2 * precision * recall / np.where(total > 0, total, 1), 0.0)
    return {"precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist(),
            "support": support.astype(int).tolist()}


def classification_report(y: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """Accuracy, the majority-class baseline, log loss, per-class scores and the confusion
    matrix; for two classes also ROC AUC and average precision of the second class
    (``y`` (n,) class indices, all known; ``proba`` (n, k))."""
    sums = ClassificationSums(proba.shape[1])
    sums.add(y, proba)
    return sums.report()


def majority_baseline(y: np.ndarray, k: int) -> float:
    """Accuracy of always predicting the most frequent class of ``y``."""
    return float(np.bincount(y, minlength=k).max() / len(y)) if len(y) else math.nan


#: Positives scored at a time in the ranking sums: bounds their temporaries.
RANK_BLOCK = 1 << 16


def split_scores(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The scores of the positives and of the negatives, each sorted ascending."""
    positive = np.asarray(positive, dtype=bool)
    return np.sort(score[positive]), np.sort(score[~positive])


def roc_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties half.

    ``positive`` (n,) bool, ``score`` (n,) float; NaN unless both kinds are present.
    """
    return roc_auc_sorted(*split_scores(positive, score))


def roc_auc_sorted(pos: np.ndarray, neg: np.ndarray) -> float:
    """:func:`roc_auc` from the sorted scores of the positives and of the negatives:
    the Mann-Whitney U (negatives below each positive, ties half) over n_pos * n_neg.
    Exact counts; temporaries of RANK_BLOCK rows, whatever the number of scores."""
    if not len(pos) or not len(neg):
        return math.nan
    below = ties = 0
    for start in range(0, len(pos), RANK_BLOCK):
        block = pos[start:start + RANK_BLOCK]
        left = np.searchsorted(neg, block, "left")
        below += int(left.sum())
        ties += int((np.searchsorted(neg, block, "right") - left).sum())
    return (below + 0.5 * ties) / (len(pos) * len(neg))


def average_precision(positive: np.ndarray, score: np.ndarray) -> float:
    """Σ (R_i - R_{i-1}) P_i over the distinct score thresholds, highest first.

    The step-wise area under the precision-recall curve (no interpolation), as
    scikit-learn's ``average_precision_score``; NaN when there is no positive.
    """
    return average_precision_sorted(*split_scores(positive, score))


def average_precision_sorted(pos: np.ndarray, neg: np.ndarray) -> float:
    """:func:`average_precision` from the sorted scores of the positives and of the
    negatives: recall rises by 1/n_pos at each positive, and the precision there is
    that of the threshold at its score (every row scored at least as high)."""
    n_pos = len(pos)
    if not n_pos:
        return math.nan
    total = 0.0
    for start in range(0, n_pos, RANK_BLOCK):
        block = pos[start:start + RANK_BLOCK]
        hits = n_pos - np.searchsorted(pos, block, "left")  # positives scored >= each
        misses = len(neg) - np.searchsorted(neg, block, "left")
        total += float(np.sum(hits / (hits + misses)))
    return total / n_pos


def r2_score(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot (NaN when y is constant)."""
    if y.size and np.all(y == y.flat[0]):  # SS_tot is 0, but a rounded mean makes it tiny
        return math.nan
    with np.errstate(under="ignore"):
        ss_res = float(np.sum((y - pred) ** 2))
        ss_tot = float(np.sum((y - np.mean(y)) ** 2))
    if ss_tot == 0.0:
        return math.nan
    return 1.0 - ss_res / ss_tot


def mae(y: np.ndarray, pred: np.ndarray) -> float:
    with np.errstate(under="ignore"):
        return float(np.mean(np.abs(y - pred)))


def rmse(y: np.ndarray, pred: np.ndarray) -> float:
    with np.errstate(under="ignore"):
        return float(np.sqrt(np.mean((y - pred) ** 2)))


def regression_report(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """R², MAE and RMSE in the target's units."""
    return {"rows": len(y), "r2": r2_score(y, pred), "mae": mae(y, pred),
            "rmse": rmse(y, pred)}


class ClassificationSums:
    """The classification report (:func:`classification_report`) of rows added a chunk at
    a time, from running counts.

    Memory: a (k, k) confusion matrix; with two classes (and ``ranks``), also each
    row's positive-class score (8 bytes a row, kept apart for positive and negative
    rows), since ROC AUC and average precision rank every score. Rows whose true
    class is unknown (index -1) count as wrong in :meth:`report`'s ``accuracy`` and
    ``majority_baseline``.
    """

    def __init__(self, k: int, ranks: bool = True) -> None:
        self.k = k
        self.confusion = np.zeros((k, k), dtype=np.int64)
        self.log_sum = 0.0  # of log p(true class), clipped as log_loss clips
        self.unknown = 0
        # two classes: the scores of the positive rows and of the negative ones
        self._ranked: tuple[list[np.ndarray], list[np.ndarray]] | None = \
            ([], []) if ranks and k == 2 else None

    @property
    def known(self) -> int:
        """Rows added whose true class is known."""
        return int(self.confusion.sum())

    @property
    def rows(self) -> int:
        """Rows added."""
        return self.known + self.unknown

    def add(self, y: np.ndarray, proba: np.ndarray) -> None:
        """Add rows: class indices ``y`` (n,), -1 where unknown; probabilities (n, k)."""
        known = y >= 0
        if not known.all():
            self.unknown += len(y) - int(np.count_nonzero(known))
            y, proba = y[known], proba[known]
        self.confusion += confusion_matrix(y, np.argmax(proba, axis=1), self.k)
        self.log_sum += log_likelihood(y, proba)
        if self._ranked is not None:
            positive = y == 1
            # (the positive class is the second, as in predict_proba's columns)
            self._ranked[0].append(proba[positive, 1].astype(np.float64, copy=False))
            self._ranked[1].append(proba[~positive, 1].astype(np.float64, copy=False))

    def report(self) -> dict[str, Any]:
        """:func:`classification_report` of the known rows; with unknown rows, ``rows``,
        ``accuracy`` and ``majority_baseline`` over every row, and ``unknown_rows``."""
        n, total = self.known, self.rows
        support = self.confusion.sum(axis=1)
        report: dict[str, Any] = {
            "rows": total, "accuracy": int(np.trace(self.confusion)) / total if total
            else math.nan, "majority_baseline": int(support.max()) / total if total
            else math.nan, "log_loss": -self.log_sum / n if n else math.nan}
        if self._ranked is not None:
            for part in self._ranked:  # one sorted array each, in place of the chunks'
                whole = np.concatenate(part) if part else np.empty(0)
                whole.sort()
                part[:] = [whole]
            pos, neg = (part[0] for part in self._ranked)
            report.update(roc_auc=roc_auc_sorted(pos, neg),
                          average_precision=average_precision_sorted(pos, neg))
        report.update(per_class=per_class(self.confusion),
                      confusion_matrix=self.confusion.tolist())
        if self.unknown:
            report["unknown_rows"] = self.unknown
        return report


class RegressionSums:
    """:func:`regression_report` of rows added a chunk at a time: running sums, and
    the true values' running mean and squared deviations (for R², numerically stable)."""

    def __init__(self) -> None:
        self.rows = 0
        self.abs_sum = 0.0
        self.square_sum = 0.0
        # Of every true value (all outputs), as r2_score's mean, less the first value:
        # a mean far from 0 (values 1e6 +- 1) would lose digits in the merged means.
        self.spread = Moments()
        self.shift: float | None = None

    def add(self, y: np.ndarray, pred: np.ndarray) -> None:
        """Add rows: true and predicted values, (n,) or (n, k)."""
        values = np.ravel(y)
        if self.shift is None and len(values):
            self.shift = float(values[0])
        with np.errstate(under="ignore"):
            error = y - pred
            self.abs_sum += float(np.sum(np.abs(error)))
            self.square_sum += float(np.sum(error * error))
            self.spread.add(values - (self.shift or 0.0))
        self.rows += len(y)

    def report(self) -> dict[str, Any]:
        """R², MAE and RMSE in the target's units, as :func:`regression_report`."""
        values = self.spread.n
        if not values:
            return {"rows": self.rows, "r2": math.nan, "mae": math.nan, "rmse": math.nan}
        r2 = 1.0 - self.square_sum / self.spread.m2 if self.spread.m2 != 0.0 else math.nan
        return {"rows": self.rows, "r2": r2, "mae": self.abs_sum / values,
                "rmse": math.sqrt(self.square_sum / values)}
