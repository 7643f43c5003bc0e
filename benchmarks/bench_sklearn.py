"""synnet's MLPClassifier/MLPRegressor against scikit-learn's, side by side.

On scikit-learn's bundled datasets (breast cancer, wine, digits, diabetes), with
the same hyperparameters and the same cross-validation folds, every fold is fit
by scikit-learn and then by synnet in the same process, and the script prints a
markdown table of mean CV scores (accuracy, or R^2 for diabetes) and total fit
times. Targets: synnet's score >= scikit-learn's - 0.01 on every row, and total
fit time <= 0.7x scikit-learn's.

    python benchmarks/bench_sklearn.py            # 5 folds, max_iter=200
    python benchmarks/bench_sklearn.py --quick    # a few seconds, for CI
    python benchmarks/bench_sklearn.py --check    # exit 1 if a target is missed

BLAS runs on one thread for both libraries (threadpoolctl) unless --threads is
given: the networks are small, so thread start-up would only add noise.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sklearn
from sklearn import datasets
from sklearn import neural_network as sk
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import synnet

SCORE_TOLERANCE = 0.01
TIME_TARGET = 0.7

DATASETS: dict[str, tuple[Callable[..., Any], bool]] = {
    "breast_cancer": (datasets.load_breast_cancer, True),
    "wine": (datasets.load_wine, True),
    "digits": (datasets.load_digits, True),
    "diabetes": (datasets.load_diabetes, False),
}


@dataclass
class Row:
    dataset: str
    solver: str
    scores: dict[str, list[float]] = field(default_factory=lambda: {"sklearn": [], "synnet": []})
    seconds: dict[str, float] = field(default_factory=lambda: {"sklearn": 0.0, "synnet": 0.0})

    def score(self, lib: str) -> float:
        return float(np.mean(self.scores[lib]))

    @property
    def ok(self) -> bool:
        return self.score("synnet") >= self.score("sklearn") - SCORE_TOLERANCE


def make_model(module: Any, classification: bool, params: dict[str, Any]) -> Any:
    """StandardScaler + MLP; regression targets are standardized too."""
    if classification:
        return make_pipeline(StandardScaler(), module.MLPClassifier(**params))
    regressor = make_pipeline(StandardScaler(), module.MLPRegressor(**params))
    return TransformedTargetRegressor(regressor, transformer=StandardScaler())


def run(solvers: list[str], folds: int, max_iter: int) -> list[Row]:
    rows = []
    for name, (load, classification) in DATASETS.items():
        X, y = load(return_X_y=True)
        splitter = (StratifiedKFold if classification else KFold)(folds, shuffle=True,
                                                                 random_state=0)
        splits = list(splitter.split(X, y))
        for solver in solvers:
            row = Row(name, solver)
            params = dict(solver=solver, max_iter=max_iter, random_state=0)
            for train, test in splits:
                for lib, module in (("sklearn", sk), ("synnet", synnet)):
                    model = clone(make_model(module, classification, params))
                    start = time.perf_counter()
                    model.fit(X[train], y[train])
                    row.seconds[lib] += time.perf_counter() - start
                    row.scores[lib].append(model.score(X[test], y[test]))
            rows.append(row)
    return rows


def table(rows: list[Row], folds: int, max_iter: int) -> str:
    lines = [
        "| dataset | solver | metric | sklearn | synnet | diff | sklearn fit s | synnet fit s "
        "| time ratio |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        metric = "R^2" if r.dataset == "diabetes" else "accuracy"
        diff = r.score("synnet") - r.score("sklearn")
        lines.append(
            f"| {r.dataset} | {r.solver} | {metric} | {r.score('sklearn'):.4f} | "
            f"{r.score('synnet'):.4f} | {diff:+.4f}{'' if r.ok else ' (!)'} | "
            f"{r.seconds['sklearn']:.2f} | {r.seconds['synnet']:.2f} | "
            f"{r.seconds['synnet'] / r.seconds['sklearn']:.2f}x |")
    total_sk = sum(r.seconds["sklearn"] for r in rows)
    total_syn = sum(r.seconds["synnet"] for r in rows)
    lines.append(f"| **total** | | | | | | **{total_sk:.2f}** | **{total_syn:.2f}** | "
                 f"**{total_syn / total_sk:.2f}x** |")
    lines.append("")
    lines.append(f"{folds}-fold CV (same folds for both), max_iter={max_iter}, random_state=0, "
                 "StandardScaler on X (and on y for diabetes); other parameters at their "
                 "defaults. scikit-learn "
                 f"{sklearn.__version__}, synnet {synnet.__version__}, NumPy {np.__version__}, "
                 f"Python {platform.python_version()}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 folds, max_iter=20, adam only: a few seconds")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    args = parser.parse_args(argv)
    folds, max_iter = (3, 20) if args.quick else (5, 200)
    solvers = ["adam"] if args.quick else ["adam", "sgd", "lbfgs"]
    with warnings.catch_warnings(), threadpool_limits(limits=args.threads, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        rows = run(solvers, folds, max_iter)
    print(table(rows, folds, max_iter))
    total = sum(r.seconds["synnet"] for r in rows) / sum(r.seconds["sklearn"] for r in rows)
    missed = [f"{r.dataset}/{r.solver} score" for r in rows if not r.ok]
    if total > TIME_TARGET:
        missed.append(f"time ratio {total:.2f}x > {TIME_TARGET}x")
    if missed:
        print(f"\nmissed targets: {', '.join(missed)}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
