"""The ``synnet`` command line: train, predict, evaluate, inspect, demo.

No maths here: the training job lives in :mod:`synnet._cli_train`, metrics in
:mod:`synnet._cli_metrics`, reports in :mod:`synnet._cli_report`, files in
:mod:`synnet.tabular_io` and :mod:`synnet.serialization`.

Exit status: 0 on success, 2 for bad input (a message on stderr says what is
wrong and how to fix it; no traceback unless ``--debug``), 1 when training
diverges, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from synnet.errors import ConfigError, DataError, DivergenceError, SynnetError

EXIT_OK, EXIT_DIVERGED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


# -- argument types ---------------------------------------------------------------------


def _hidden(text: str) -> list[int]:
    """'64,32' -> [64, 32]; '' / '0' / 'none' -> [] (no hidden layer)."""
    if text.strip().lower() in ("", "0", "none"):
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of layer sizes like 64,32") from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be >= 1, got {text!r}")
    return sizes


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _nonnegative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


# -- the parser -------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from synnet import __version__

    parser = argparse.ArgumentParser(
        prog="synnet", description="Train feed-forward neural networks on CSV files and use "
        "them. Run 'synnet demo' to see it work, 'synnet COMMAND -h' for each command.")
    parser.add_argument("--version", action="version", version=f"synnet {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks for errors")

    p = sub.add_parser("train", parents=[common], help="train a model on a data file",
                       description="Train a network on DATA (CSV, TSV or Parquet; '-' for "
                       "stdin) to predict the --target column, and write the model file.")
    p.add_argument("data", metavar="DATA")
    p.add_argument("-t", "--target", required=True, metavar="COL", help="the column to predict")
    p.add_argument("-o", "--output", required=True, metavar="MODEL",
                   help="the model file to write (e.g. model.synnet)")
    g = p.add_argument_group("data")
    g.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                   help="default: inferred from the target (text or few whole numbers: "
                   "classification)")
    g.add_argument("--features", type=_names, default=[], metavar="COLS",
                   help="comma-separated feature columns (default: all but the target)")
    g.add_argument("--drop", type=_names, default=[], metavar="COLS",
                   help="comma-separated columns to leave out (ids, leaks)")
    g.add_argument("--categorical", type=_names, default=[], metavar="COLS",
                   help="treat these numeric-looking columns as categories")
    g.add_argument("--impute", choices=("mean", "median", "most_frequent"),
                   help="fill missing values (default: missing values are an error)")
    g.add_argument("--valid-fraction", type=_fraction, default=0.2, metavar="F",
                   help="fraction of rows held out for validation (default 0.2; 0: none)")
    g = p.add_argument_group("network")
    g.add_argument("--hidden", type=_hidden, default=[64], metavar="SIZES",
                   help="hidden layer sizes, e.g. 64,32 (default 64; 0 for none)")
    g.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    g.add_argument("--dropout", type=float, default=0.0, metavar="RATE",
                   help="dropout rate after each hidden layer (default 0)")
    g.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=_positive_int, default=200, help="default 200")
    g.add_argument("--batch-size", type=_positive_int, default=32, help="default 32")
    g.add_argument("--optimizer", choices=("adam", "sgd", "rmsprop"), default="adam")
    g.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: the optimizer's, 0.001 for adam)")
    g.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    g.add_argument("--l2", type=float, default=0.0, help="L2 penalty (default 0)")
    g.add_argument("--patience", type=_nonnegative_int, default=20, metavar="N",
                   help="stop after N epochs without a better validation loss and keep the "
                   "best weights (default 20; 0: train all epochs)")
    g.add_argument("--seed", type=int, default=None, help="random seed (default: random, "
                   "and recorded in the model file)")
    g = p.add_argument_group("checkpoints")
    g.add_argument("--checkpoint-dir", metavar="DIR",
                   help="write a checkpoint to DIR at the end of epochs (see --checkpoint-every)")
    g.add_argument("--checkpoint-every", type=_positive_int, default=1, metavar="N",
                   help="checkpoint every N epochs (default 1)")
    g.add_argument("--keep-checkpoints", type=_positive_int, default=3, metavar="N",
                   help="keep the newest N checkpoints (default 3)")
    g.add_argument("--resume", action="store_true",
                   help="continue from the newest valid checkpoint in --checkpoint-dir")
    g.add_argument("--keep-last-good", action="store_true",
                   help="if training diverges, still write the model with its last finite "
                   "weights (the exit status stays 1)")
    g = p.add_argument_group("output")
    g.add_argument("--plot", metavar="FILE.png", help="save the loss curves (.png/.svg/.pdf)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", parents=[common], help="predict with a model",
                       description="Write predictions for DATA (the target column may be "
                       "absent) as CSV to stdout or to -o.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="where to write (.csv, .tsv or .parquet; default stdout)")
    p.add_argument("--proba", action="store_true", help="add one probability column per class")
    p.add_argument("--keep", type=_names, default=[], metavar="COLS",
                   help="copy these input columns (e.g. an id) into the output")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", parents=[common], help="score a model on labelled data",
                       description="Print accuracy, log loss, per-class precision/recall and "
                       "the confusion matrix (classification) or R², MAE and RMSE (regression).")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("-t", "--target", metavar="COL",
                   help="the target column (default: the one the model was trained on)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("inspect", parents=[common], help="describe a model file",
                       description="Print the architecture, parameter counts, training "
                       "settings, data schema and training history of a model file.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--json", action="store_true", help="print the file's JSON header")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("demo", parents=[common], help="see synnet work on built-in data",
                       description="Run the tutorial networks beside their published numbers, "
                       "then train on the built-in Iris data and score held-out flowers.")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_demo)
    return parser


# -- commands ---------------------------------------------------------------------------


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
    from synnet import _cli_report, _cli_train
    from synnet.tabular_io import read_table

    settings = _cli_train.Settings(
        target=args.target, hidden=args.hidden, activation=args.activation,
        dropout=args.dropout, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        optimizer=args.optimizer, momentum=args.momentum, l2=args.l2, seed=args.seed,
        valid_fraction=args.valid_fraction, patience=args.patience, task=args.task,
        impute=args.impute, categorical=args.categorical, features=args.features,
        drop=args.drop, dtype=args.dtype, checkpoint_dir=args.checkpoint_dir,
        checkpoint_every=args.checkpoint_every, keep_checkpoints=args.keep_checkpoints,
        resume=args.resume)
    settings.check()
    _check_writable(args.output, "-o")
    if args.plot:
        _cli_train.check_plot_path(args.plot)
        _check_writable(args.plot, "--plot")
    if settings.resume and settings.seed is None:
        # The split and the preprocessing depend on the seed: reuse the checkpoint's.
        settings.seed = _cli_train.checkpoint_seed(settings.checkpoint_dir)
    table = read_table(args.data)
    try:
        result = _cli_train.train(table, settings, progress=None if args.quiet else err)
    except _cli_train.Interrupted as exc:
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
    except _cli_train.Diverged as exc:
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
        _cli_train.plot_history(model.network.history.history, args.plot,
                                title=f"{Path(args.data).name} -> {args.target}",
                                best_epoch=result.best_epoch)
    print(_cli_report.train_summary(result), file=out)
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
    from synnet.serialization import load
    from synnet.tabular_io import read_table, write_table

    if args.output:
        _check_writable(args.output, "-o")
    model = load(args.model)
    if args.proba and model.task != "classification":
        raise ConfigError("--proba needs a classification model; this one does "
                          f"{model.task or 'not know its task'}")
    table = read_table(args.data)
    absent = [c for c in args.keep if c not in table.columns]
    if absent:
        raise DataError(f"--keep: {table.source} has no column {', '.join(map(repr, absent))}")
    X = _model_input(model, table)
    columns: dict[str, np.ndarray] = {c: table.columns[c] for c in args.keep}
    if model.multilabel:
        assert model.classes is not None
        proba = model.predict_proba(X)
        columns.update({f"prediction_{label}": (proba[:, j] > 0.5).astype(np.int64)
                        for j, label in enumerate(model.classes)})
        if args.proba:
            columns.update({f"proba_{label}": proba[:, j]
                            for j, label in enumerate(model.classes)})
    elif model.task == "classification":
        proba = model.predict_proba(X)
        assert model.classes is not None
        columns["prediction"] = model.classes[np.argmax(proba, axis=1)]
        if args.proba:
            for j, label in enumerate(model.classes):
                columns[f"proba_{label}"] = proba[:, j]
    else:
        pred = model.predict(X)
        if pred.ndim == 1:
            columns["prediction"] = pred
        else:
            columns.update({f"prediction_{j}": pred[:, j] for j in range(pred.shape[1])})
    clash = [c for c in args.keep if c.startswith(("prediction", "proba_"))]
    if clash:
        raise ConfigError(f"--keep {clash[0]!r} clashes with an output column name")
    write_table(columns, args.output, stdout=out)
    if args.output:
        print(f"{table.n_rows} prediction(s) written to {args.output}", file=err)
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from synnet import _cli_metrics, _cli_report
    from synnet.serialization import load
    from synnet.tabular_io import read_table

    model = load(args.model)
    if model.target is None:
        raise ConfigError(f"{args.model} does not record its target, so it cannot be "
                          "evaluated; use synnet predict and score the output yourself")
    if model.multilabel:
        raise ConfigError("synnet evaluate does not score multilabel models yet; use "
                          "synnet predict and score the label columns yourself")
    name = args.target or model.target.name
    table = read_table(args.data)
    if name is None or name not in table.columns:
        raise DataError(f"{table.source} has no target column {name!r}; pass --target COL to "
                        "name the column with the true values")
    raw = table.columns[name]
    X = _model_input(model, table)
    if model.task == "classification":
        assert model.classes is not None
        codes, known = model.target.encode(raw)
        proba = model.predict_proba(X)
        report = _cli_metrics.classification_report(codes[known], proba[known])
        if not known.all():
            correct = int(np.sum(np.argmax(proba[known], axis=1) == codes[known]))
            report.update(rows=len(codes), accuracy=correct / len(codes),
                          unknown_rows=int((~known).sum()))
        report["classes"] = [str(c) for c in model.classes]
        text = _cli_report.classification_text(report, model.classes)
    else:
        report = _cli_metrics.regression_report(model.target.values(raw),
                                                np.asarray(model.predict(X), dtype=np.float64))
        text = _cli_report.regression_text(report)
    if args.json:
        print(json.dumps(report, indent=1, allow_nan=True), file=out)
    else:
        print(f"{_cli_report.describe_target(model)} on {table.source}", file=out)
        print(text, file=out)
    return EXIT_OK


def cmd_inspect(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from synnet import _cli_report
    from synnet.serialization import load_model

    loaded = load_model(args.model)
    if args.json:
        print(json.dumps(loaded.header, indent=1), file=out)
    else:
        print(_cli_report.inspect_text(args.model, loaded), file=out)
    return EXIT_OK


def _iris() -> Any:
    """The built-in Iris table, read with the csv module (the demo needs no pandas)."""
    from importlib.resources import files

    from synnet.tabular_io import Table

    text = files("synnet").joinpath("data/iris.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    header, body = rows[0], rows[1:]
    columns = {name: np.array([float(r[j]) for r in body]) for j, name in enumerate(header[:-1])}
    columns[header[-1]] = np.array([r[-1] for r in body], dtype=object)
    return Table(columns, "iris.csv (built in)")


def cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from synnet import _cli_metrics, _cli_report, _cli_train

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
    fit_rows, test_rows = _cli_train.split_rows(table.n_rows, 0.2, rng, strata)
    settings = _cli_train.Settings(target="species", hidden=[8], epochs=500, lr=0.01, seed=0,
                                   batch_size=16, valid_fraction=0.2, patience=50)
    print(f"training on {len(fit_rows)} flowers, keeping {len(test_rows)} aside for the final "
          f"score: {settings.hidden[0]} hidden ReLU units, Adam with lr {settings.lr}", file=out)
    out.flush()
    result = _cli_train.train(table.take(fit_rows), settings,
                              progress=None if args.quiet else err)
    print(_cli_report.train_summary(result), file=out)
    model = result.model
    test = table.take(test_rows)
    codes, _ = model.target.encode(test.columns["species"])  # type: ignore[union-attr]
    proba = model.predict_proba(test)
    report = _cli_metrics.classification_report(codes, proba)
    assert model.classes is not None
    print(f"\nheld-out flowers (never seen in training):\n"
          f"{_cli_report.classification_text(report, model.classes)}", file=out)
    correct = round(report["accuracy"] * report["rows"])
    print(f"\nheld-out accuracy: {report['accuracy']:.4f} ({correct} of {report['rows']} "
          "flowers)", file=out)
    return EXIT_OK


# -- entry point ------------------------------------------------------------------------


def _error_text(exc: BaseException) -> tuple[str, str | None]:
    """(what is wrong, how to fix it) for an expected error."""
    if isinstance(exc, OSError) and not isinstance(exc, SynnetError):
        name = exc.filename if exc.filename is not None else ""
        if isinstance(exc, IsADirectoryError):
            return f"{name} is a folder, not a file", "give the path of a file"
        if isinstance(exc, FileNotFoundError):
            return f"no such file: {name}", "check the path and the current folder"
        if isinstance(exc, PermissionError):
            return f"permission denied: {name}", "check the file's permissions"
        return f"cannot access {name}: {exc.strerror or exc}", None
    return str(exc), None


def _show_warning(message: Any, category: Any, filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    print(f"synnet: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    out, err = sys.stdout, sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # --help, --version, usage errors (status 2)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return int(args.func(args, out, err))
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("\nsynnet: interrupted", file=err)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. synnet predict ... | head
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_OK
    except (SynnetError, OSError, ImportError) as exc:
        if args.debug:
            raise
        message, hint = _error_text(exc)
        print(f"synnet: error: {message}", file=err)
        if hint:
            print(f"  hint: {hint}", file=err)
        return EXIT_DIVERGED if isinstance(exc, DivergenceError) else EXIT_BAD_INPUT
