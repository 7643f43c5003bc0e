"""The commands behind ``synnet train|predict|evaluate|inspect|demo``: no maths here.

Each reads its files, calls the library (:mod:`synnet.tabular`, :mod:`synnet.io`)
and prints; errors propagate to :func:`synnet.cli.main.main`, which reports them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from dataclasses import fields
from importlib.resources import files
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from synnet.cli import report as reporting
from synnet.cli.plot import check_plot_path, plot_history
from synnet.cli.progress import progress_callback
from synnet.errors import ConfigError, DataError
from synnet.io.reader import load_model
from synnet.tabular import scores
from synnet.tabular.files import Table, read_table, write_table
from synnet.tabular.model import load
from synnet.tabular.settings import Settings
from synnet.tabular.train import (
    Diverged,
    Interrupted,
    checkpoint_seed,
    split_rows,
    train,
)

EXIT_OK, EXIT_DIVERGED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def _check_writable(path: str, option: str) -> None:
    """Fail before any work when ``path`` cannot be written."""
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{option} {path} is a folder; give a file name")
    folder = target.parent
    if not folder.is_dir():
        raise ConfigError(f"{option} {path}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"{option} {path}: the folder {str(folder)!r} is not writable")


def cmd_train(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # Every Settings field has the flag of the same name: build it field for field.
    settings = Settings(**{f.name: getattr(args, f.name) for f in fields(Settings)})
    settings.check()
    _check_writable(args.output, "-o")
    if args.plot:
        check_plot_path(args.plot)
        _check_writable(args.plot, "--plot")
    if settings.resume and settings.seed is None:
        # The split and the preprocessing depend on the seed: reuse the checkpoint's.
        settings.seed = checkpoint_seed(settings.checkpoint_dir)
    table = read_table(args.data, sep=args.sep, na_values=args.na_values)
    progress = [] if args.quiet else [progress_callback(settings.epochs, err)]
    try:
        result = train(table, settings, progress)
    except Interrupted as exc:
        if exc.checkpoint is not None:
            print(f"\nsynnet: interrupted; progress saved in {exc.checkpoint}; resume with "
                  "the same command plus --resume", file=err)
        elif settings.checkpoint_dir:
            print("\nsynnet: interrupted before the first checkpoint; nothing was saved",
                  file=err)
        else:
            print("\nsynnet: interrupted; progress was not saved (train with "
                  "--checkpoint-dir DIR to make runs resumable)", file=err)
        return EXIT_INTERRUPTED
    except Diverged as exc:
        if not args.keep_last_good:
            raise
        exc.model.save(args.output, training={"command": "synnet train", "diverged": str(exc)})
        print(f"synnet: error: {exc}", file=err)
        print(f"  the model with the last finite weights was written to {args.output} "
              "(--keep-last-good)", file=err)
        return EXIT_DIVERGED
    if result.resumed_from is not None:
        print(f"resumed from the checkpoint after epoch {result.resumed_from} in "
              f"{settings.checkpoint_dir}", file=err)
    model = result.model
    model.save(args.output, training=result.training_record(table.source))
    if args.plot:
        assert model.network.history is not None
        plot_history(model.network.history.history, args.plot,
                                title=f"{Path(args.data).name} -> {args.target}",
                                best_epoch=result.best_epoch)
    print(reporting.train_summary(result), file=out)
    print(f"model written to {args.output}" + (f", loss curves to {args.plot}"
                                                if args.plot else ""), file=out)
    return EXIT_OK


def _model_input(model: Any, table: Any) -> Any:
    """What Model.transform takes: named columns, or a numeric matrix of every column."""
    if model.feature_names is not None:
        return table.columns
    target = model.target.name if model.target is not None else None
    cols = [np.asarray(v) for k, v in table.columns.items() if k != target]
    if any(c.dtype.kind not in "fiub" for c in cols):
        raise DataError("this model has no preprocessing, so every data column must be "
                        "numeric; drop or encode the text columns")
    return np.column_stack(cols).astype(np.float64)


def cmd_predict(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.output:
        _check_writable(args.output, "-o")
    model = load(args.model)
    if args.proba and model.task != "classification":
        raise ConfigError("--proba needs a classification model; this one does "
                          f"{model.task or 'not know its task'}")
    table = read_table(args.data, sep=args.sep, na_values=args.na_values)
    absent = [c for c in args.keep if c not in table.columns]
    if absent:
        raise DataError(f"--keep: {table.source} has no column {', '.join(map(repr, absent))}")
    pred, proba = model.predict_with_proba(_model_input(model, table))
    columns: dict[str, np.ndarray] = {c: table.columns[c] for c in args.keep}
    if pred.ndim == 1:
        columns["prediction"] = pred
    else:  # multilabel (one 0/1 column per class) or several regression targets
        names = model.classes if model.multilabel else range(pred.shape[1])
        assert names is not None
        columns.update({f"prediction_{name}": pred[:, j] for j, name in enumerate(names)})
    if args.proba:
        assert proba is not None and model.classes is not None
        columns.update({f"proba_{label}": proba[:, j] for j, label in enumerate(model.classes)})
    clash = [c for c in args.keep if c.startswith(("prediction", "proba_"))]
    if clash:
        raise ConfigError(f"--keep {clash[0]!r} clashes with an output column name")
    write_table(columns, args.output, stdout=out)
    if args.output:
        print(f"{table.n_rows} prediction(s) written to {args.output}", file=err)
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    model = load(args.model)
    if model.target is None:
        raise ConfigError(f"{args.model} does not record its target, so it cannot be "
                          "evaluated; use synnet predict and score the output yourself")
    if model.multilabel:
        raise ConfigError("synnet evaluate does not score multilabel models yet; use "
                          "synnet predict and score the label columns yourself")
    name = args.target or model.target.name
    table = read_table(args.data, sep=args.sep, na_values=args.na_values)
    if name is None or name not in table.columns:
        raise DataError(f"{table.source} has no target column {name!r}; pass --target COL to "
                        "name the column with the true values")
    raw = table.columns[name]
    X = _model_input(model, table)
    if model.task == "classification":
        assert model.classes is not None
        codes, known = model.target.encode(raw)
        proba = model.predict_proba(X)
        report = scores.classification_report(codes[known], proba[known])
        if not known.all():
            correct = int(np.sum(np.argmax(proba[known], axis=1) == codes[known]))
            report.update(rows=len(codes), accuracy=correct / len(codes),
                          unknown_rows=int((~known).sum()))
        report["classes"] = [str(c) for c in model.classes]
        text = reporting.classification_text(report, model.classes)
    else:
        report = scores.regression_report(model.target.values(raw),
                                                np.asarray(model.predict(X), dtype=np.float64))
        text = reporting.regression_text(report)
    if args.json:
        print(json.dumps(report, indent=1, allow_nan=True), file=out)
    else:
        print(f"{reporting.describe_target(model)} on {table.source}", file=out)
        print(text, file=out)
    return EXIT_OK


def cmd_inspect(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    loaded = load_model(args.model)
    if args.json:
        print(json.dumps(loaded.header, indent=1), file=out)
    else:
        print(reporting.inspect_text(args.model, loaded), file=out)
    return EXIT_OK


def _iris() -> Any:
    """The built-in Iris table, read with the csv module (the demo needs no pandas)."""
    text = files("synnet").joinpath("datasets/iris.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    header, body = rows[0], rows[1:]
    columns = {name: np.array([float(r[j]) for r in body]) for j, name in enumerate(header[:-1])}
    columns[header[-1]] = np.array([r[-1] for r in body], dtype=object)
    return Table(columns, "iris.csv (built in)")


def cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    print("1. The tutorial networks (iamtrask, 2015): published numbers beside synnet's\n",
          file=out)
    try:
        from synnet import tutorial
    except ModuleNotFoundError as exc:
        if exc.name != "synnet.tutorial":
            raise
        print("   (synnet.tutorial is not part of this installation; skipped)", file=out)
    else:
        tutorial.main(out)
    out.flush()

    print("\n2. Iris flowers: 150 measured flowers of 3 species, built into synnet\n", file=out)
    table = _iris()
    species = table.columns["species"]
    _classes, strata = np.unique(species.astype(str), return_inverse=True)
    rng = np.random.default_rng(0)
    fit_rows, test_rows = split_rows(table.n_rows, 0.2, rng, strata)
    settings = Settings(target="species", hidden=[8], epochs=500, lr=0.01, seed=0,
                                   batch_size=16, valid_fraction=0.2, patience=50)
    print(f"training on {len(fit_rows)} flowers, keeping {len(test_rows)} aside for the final "
          f"score: {settings.hidden[0]} hidden ReLU units, Adam with lr {settings.lr}", file=out)
    out.flush()
    progress = [] if args.quiet else [progress_callback(settings.epochs, err)]
    result = train(table.take(fit_rows), settings, progress)
    print(reporting.train_summary(result), file=out)
    model = result.model
    test = table.take(test_rows)
    codes, _ = model.target.encode(test.columns["species"])  # type: ignore[union-attr]
    proba = model.predict_proba(test)
    report = scores.classification_report(codes, proba)
    assert model.classes is not None
    print(f"\nheld-out flowers (never seen in training):\n"
          f"{reporting.classification_text(report, model.classes)}", file=out)
    correct = round(report["accuracy"] * report["rows"])
    print(f"\nheld-out accuracy: {report['accuracy']:.4f} ({correct} of {report['rows']} "
          "flowers)", file=out)
    return EXIT_OK
