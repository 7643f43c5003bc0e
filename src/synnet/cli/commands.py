"""The commands behind ``synnet train|predict|evaluate|inspect|demo``: no maths here.

Each reads its files, calls the library (:mod:`synnet.tabular`, :mod:`synnet.io`)
and prints; errors propagate to :func:`synnet.cli.main.main`, which reports them.
"""

from __future__ import annotations

import argparse
import copy
import csv
import io
import json
import os
import tempfile
from dataclasses import fields
from importlib.resources import files
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from synnet._validation import check_int
from synnet.cli import report as reporting
from synnet.cli.plot import check_plot_path, plot_history
from synnet.cli.progress import Note, RowRate, progress_callback
from synnet.data.heap import return_freed_memory
from synnet.errors import ConfigError, DataError
from synnet.io.atomic import atomic_write, output_target, remove_stale_temp_files
from synnet.io.reader import load_model
from synnet.tabular import scores
from synnet.tabular.chunks import read_chunks, write_chunks
from synnet.tabular.files import PARQUET_SUFFIXES, Table, read_table
from synnet.tabular.model import load
from synnet.tabular.settings import Settings
from synnet.tabular.train import (
    Diverged,
    Interrupted,
    checkpoint_seed,
    resolve_task,
    split_rows,
    train,
)
from synnet.tabular.train_stream import should_stream, train_stream

EXIT_OK, EXIT_DIVERGED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


#: What ``predict -o`` writes ('-' is standard output).
OUTPUT_SUFFIXES = (".csv", ".tsv", *PARQUET_SUFFIXES)


def _same_file(a: str, b: str) -> bool:
    """Whether paths ``a`` and ``b`` name one file (same inode, or the same resolved path)."""
    if "-" in (a, b):
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist yet
        return os.path.realpath(a) == os.path.realpath(b)


def _check_writable(path: str, option: str, inputs: dict[str, str] | None = None) -> None:
    """Fail before any work when ``path`` cannot be written or would replace an input.

    ``inputs`` maps what each input is ("DATA") to its path. Symlinks are
    followed (the write goes to their target); anything but a regular file or
    a new name is refused (see :func:`synnet.io.atomic.output_target`).
    """
    if path == "-":
        return
    for what, other in (inputs or {}).items():
        if _same_file(path, other):
            raise ConfigError(f"{option} {path} is the {what} file itself; writing it would "
                              f"replace your {what.lower()}: give another file name")
    if Path(path).is_dir():
        raise ConfigError(f"{option} {path} is a folder; give a file name")
    try:
        target = output_target(path)
    except ConfigError as exc:
        raise ConfigError(f"{option} {exc}") from None
    folder = target.parent
    if not folder.is_dir():
        raise ConfigError(f"{option} {path}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"{option} {path}: the folder {str(folder)!r} is not writable")
    remove_stale_temp_files(folder)  # what runs killed mid-write left there


def _write_model_to(model: Any, path: str, out: TextIO, **kwargs: Any) -> None:
    """``model.save(path)``; ``-`` writes the file's bytes to standard output."""
    if path != "-":
        model.save(path, **kwargs)
        return
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "model.synnet"
        model.save(file, **kwargs)
        binary = out.buffer  # checked in _check_stdout_model
        out.flush()
        binary.write(file.read_bytes())
        binary.flush()


def _check_stdout_model(out: TextIO) -> None:
    """``train -o -`` needs a binary standard output that is not a terminal."""
    if getattr(out, "buffer", None) is None:
        raise ConfigError("-o -: standard output takes no binary data here; give a file name")
    isatty = getattr(out, "isatty", None)
    if isatty is not None and isatty():
        raise ConfigError("-o -: refusing to write a binary model file to a terminal; "
                          "redirect it (synnet train ... -o - > model.synnet) or give a file "
                          "name")


def _cluster_train(args: argparse.Namespace, settings: Settings,
                   progress: list[Any]) -> Any:
    """The table job on a Dask cluster (dask imported only when one is asked for)."""
    try:
        from synnet.dask.cluster import train_on_cluster
    except ImportError as exc:
        raise ConfigError(f"training on a cluster needs dask: pip install synnet[dask] ({exc})",
                          params=["workers" if args.workers is not None else "scheduler"]
                          ) from None
    return train_on_cluster(args.data, settings, progress, workers=args.workers,
                            scheduler=args.scheduler)


def cmd_train(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # Every Settings field has the flag of the same name: build it field for field.
    settings = Settings(**{f.name: getattr(args, f.name) for f in fields(Settings)})
    settings.check()
    _check_writable(args.output, "-o", {"DATA": args.data})
    stdout = out
    if args.output == "-":
        _check_stdout_model(out)
        out = err  # the summary goes beside the progress; stdout holds the model
    if args.plot:
        check_plot_path(args.plot)
        _check_writable(args.plot, "--plot", {"DATA": args.data, "MODEL": args.output})
    if settings.resume and settings.seed is None:
        # The split and the preprocessing depend on the seed: reuse the checkpoint's.
        settings.seed = checkpoint_seed(settings.checkpoint_dir)
    on_cluster = args.workers is not None or args.scheduler is not None
    if on_cluster and args.stream:
        raise ConfigError("--stream and a Dask cluster (--workers/--scheduler) do not go "
                          "together; on a cluster the workers read DATA in partitions "
                          "themselves, so memory here does not grow with it: drop --stream",
                          params=["stream"])
    streaming = not on_cluster and should_stream(args.data, args.stream)
    if args.valid and not streaming:
        raise ConfigError("--valid FILE goes with --stream (in memory, --valid-fraction "
                          "holds rows out)")
    check_int("shuffle_buffer", args.shuffle_buffer, 1)
    progress = [] if args.quiet else [progress_callback(settings.epochs, err)]
    try:
        if on_cluster:
            source = args.data
            result = _cluster_train(args, settings, progress)
        elif streaming:
            source = args.data
            progress += [] if args.quiet else [RowRate(err)]
            result = train_stream(args.data, settings, progress, args.valid,
                                  args.shuffle_buffer)
        else:
            table = read_table(args.data, sep=args.sep, na_values=args.na_values)
            source = table.source
            if progress and resolve_task(table, settings)[0] == "regression":
                progress.insert(0, Note(
                    f"(the loss shown is the mean squared error of the standardized target "
                    f"{settings.target!r}, in units of its variance; the scores at the end are "
                    "in its own units)", err))
            result = train(table, settings, progress)
    except Interrupted as exc:
        return _interrupted(exc, settings, err)
    except Diverged as exc:
        if not args.keep_last_good:
            raise
        _write_model_to(exc.model, args.output, stdout,
                        training={"command": "synnet train", "diverged": str(exc)})
        print(f"synnet: error: {exc}", file=err)
        print(f"  the model with the last finite weights was written to {args.output} "
              "(--keep-last-good)", file=err)
        return EXIT_DIVERGED
    return _trained(args, result, source, stdout, out, err)


def _interrupted(exc: Interrupted, settings: Settings, err: TextIO) -> int:
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


def _trained(args: argparse.Namespace, result: Any, source: str, stdout: TextIO,
             out: TextIO, err: TextIO) -> int:
    """Write the model (and plot) of a finished run and print its summary."""
    settings = result.settings
    if result.resumed_from is not None:
        inside = (f" and {result.resumed_batches} batches of epoch {result.resumed_from + 1}"
                  if result.resumed_batches else "")
        print(f"resumed from the checkpoint after epoch {result.resumed_from}{inside} in "
              f"{settings.checkpoint_dir}", file=err)
    model = result.model
    _write_model_to(model, args.output, stdout, training=result.training_record(source))
    if args.plot:
        assert model.network.history is not None
        plot_history(model.network.history.history, args.plot,
                                title=f"{Path(args.data).name} -> {args.target}",
                                best_epoch=result.best_epoch)
    print(reporting.train_summary(result), file=out)
    where = "standard output" if args.output == "-" else args.output
    print(f"model written to {where}" + (f", loss curves to {args.plot}"
                                                if args.plot else ""), file=out)
    return EXIT_OK


def _model_input(model: Any, table: Any) -> Any:
    """What Model.transform takes: the table (named columns, some also as codes), or a
    numeric matrix of every column."""
    if model.feature_names is not None:
        return table
    target = model.target.name if model.target is not None else None
    cols = [np.asarray(v) for k, v in table.columns.items() if k != target]
    if any(c.dtype.kind not in "fiub" for c in cols):
        raise DataError("this model has no preprocessing, so every data column must be "
                        "numeric; drop or encode the text columns")
    return np.column_stack(cols).astype(np.float64)


def cmd_predict(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.output and args.output != "-":
        _check_writable(args.output, "-o", {"DATA": args.data, "MODEL": args.model})
        if not args.output.lower().endswith(OUTPUT_SUFFIXES):
            raise ConfigError(f"-o {args.output}: synnet writes predictions as "
                              f"{', '.join(OUTPUT_SUFFIXES)} files or '-' (standard output); "
                              "give a name with one of these extensions")
    model = load(args.model)
    if args.proba and model.task != "classification":
        raise ConfigError("--proba needs a classification model; this one does "
                          f"{model.task or 'not know its task'}")
    clash = [c for c in args.keep if c.startswith(("prediction", "proba_"))]
    if clash:
        raise ConfigError(f"--keep {clash[0]!r} clashes with an output column name")
    # Chunk by chunk: read, predict, write; memory does not grow with the file. Columns
    # read as training read them; kept ones copied to CSV as written ("007" in any chunk).
    text = model.text_columns()
    if not (args.output or "-").lower().endswith(PARQUET_SUFFIXES):
        inputs = set(model.feature_names or ())
        text += [c for c in args.keep if c not in inputs and c not in text]
    return_freed_memory()
    chunks = (_prediction_columns(model, table, args, start)
              for start, table in read_chunks(args.data, sep=args.sep, na_values=args.na_values,
                                              text=text))
    rows = write_chunks(chunks, args.output, stdout=out)
    if args.output and args.output != "-":
        print(f"{rows} prediction(s) written to {args.output}", file=err)
    return EXIT_OK


def _prediction_columns(model: Any, table: Any, args: argparse.Namespace,
                        start: int) -> dict[str, np.ndarray]:
    """The columns ``synnet predict`` writes for ``table``, rows ``start``... of the file."""
    absent = [c for c in args.keep if c not in table.columns]
    if absent:
        raise DataError(f"--keep: {table.source} has no column {', '.join(map(repr, absent))}")
    pred, proba = model.predict_with_proba(_model_input(model, table), first_row=start + 1)
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
    return columns


def cmd_evaluate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    model = load(args.model)
    if model.target is None:
        raise ConfigError(f"{args.model} does not record its target, so it cannot be "
                          "evaluated; use synnet predict and score the output yourself")
    if model.multilabel:
        raise ConfigError("synnet evaluate does not score multilabel models yet; use "
                          "synnet predict and score the label columns yourself")
    name = args.target or model.target.name
    target = copy.copy(model.target)
    target.name = name  # messages name the column read, which --target may have changed
    # Chunk by chunk, into running sums: memory does not grow with the file (but for
    # two classes' ROC AUC, which ranks every row's score: 8 bytes a row).
    sums = (scores.ClassificationSums(len(model.classes)) if model.classes is not None
            else scores.RegressionSums())
    source = str(args.data)
    for start, table in read_chunks(args.data, sep=args.sep, na_values=args.na_values,
                                    text=model.text_columns(name)):
        source = table.source
        if name is None or name not in table.columns:
            raise DataError(f"{table.source} has no target column {name!r}; pass --target COL "
                            "to name the column with the true values")
        raw = table.columns[name]
        pred, proba = model.predict_with_proba(_model_input(model, table), first_row=start + 1)
        if isinstance(sums, scores.ClassificationSums):
            assert proba is not None
            sums.add(target.encode(raw, start + 1, table.coded.get(name))[0], proba)
        else:
            sums.add(target.values(raw, start + 1, context="evaluate"),
                     np.asarray(pred, dtype=np.float64))
    if isinstance(sums, scores.ClassificationSums):
        assert model.classes is not None
        if not sums.known:
            shown = ", ".join(repr(str(c)) for c in model.classes[:10])
            raise DataError(f"no label in column {name!r} of {source} is one of the "
                            f"model's classes ({shown}{', ...' if len(model.classes) > 10 else ''}"
                            "): the labels do not match; check that --target names the column "
                            "of true labels", params=["target"])
        report = sums.report()
        report["classes"] = [str(c) for c in model.classes]
        text = reporting.classification_text(report, model.classes)
    else:
        report = sums.report()
        text = reporting.regression_text(report)
    if args.json:
        print(json.dumps(report, indent=1, allow_nan=True), file=out)
    else:
        print(f"{reporting.describe_target(model)} on {source}", file=out)
        print(text, file=out)
    return EXIT_OK


def cmd_inspect(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    loaded = load_model(args.model)
    if args.json:
        print(json.dumps(loaded.header, indent=1), file=out)
    else:
        print(reporting.inspect_text(args.model, loaded), file=out)
    return EXIT_OK


def cmd_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    _check_writable(args.output, "-o", {"MODEL": args.model})
    if args.output == "-":
        _check_stdout_model(out)
    model = load(args.model)
    kwargs = {} if args.opset is None else {"opset": args.opset}
    if args.output == "-":
        proto = model.to_onnx(**kwargs)
        out.flush()
        out.buffer.write(proto.SerializeToString())
        out.buffer.flush()
    else:
        proto = model.to_onnx(args.output, **kwargs)
    inputs = ", ".join(i.name for i in proto.graph.input)
    outputs = ", ".join(o.name for o in proto.graph.output)
    print(f"ONNX model written to {args.output} (inputs: {inputs}; outputs: {outputs})",
          file=err)
    return EXIT_OK


def _iris() -> Any:
    """The built-in Iris table, read with the csv module (the demo needs no pandas)."""
    text = files("synnet").joinpath("datasets/iris.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    header, body = rows[0], rows[1:]
    columns = {name: np.array([float(r[j]) for r in body]) for j, name in enumerate(header[:-1])}
    columns[header[-1]] = np.array([r[-1] for r in body], dtype=object)
    return Table(columns, "iris.csv (built in)")


def _iris_split() -> tuple[Table, np.ndarray, np.ndarray]:
    """The Iris table and the demo's fixed split: (table, 120 training rows, 30 test rows)."""
    table = _iris()
    _classes, strata = np.unique(table.columns["species"].astype(str), return_inverse=True)
    fit_rows, test_rows = split_rows(table.n_rows, 0.2, np.random.default_rng(0), strata)
    return table, fit_rows, test_rows


#: The files ``synnet demo --write-data`` writes, the README's example data.
DEMO_FILES = ("iris.csv", "test.csv", "new_flowers.csv")


def write_demo_data(folder: str | os.PathLike[str]) -> list[Path]:
    """Write the README's example files into ``folder`` (created if missing); same every time.

    iris.csv: the demo's 120 training flowers; test.csv: the 30 held-out flowers;
    new_flowers.csv: the first 5 held-out flowers without their species. Existing
    files are never replaced.
    """
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise ConfigError(f"--write-data {folder} is a file; give a folder")
    paths = [target / name for name in DEMO_FILES]
    existing = [str(p) for p in paths if os.path.lexists(p)]
    if existing:
        raise ConfigError(f"--write-data: {', '.join(existing)} already exist(s); give a new "
                          "or empty folder")
    target.mkdir(parents=True, exist_ok=True)
    table, fit_rows, test_rows = _iris_split()
    names = table.names
    parts = [(fit_rows, names), (test_rows, names), (test_rows[:5], names[:-1])]
    for path, (rows, columns) in zip(paths, parts):
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([table.columns[c][i] for c in columns] for i in rows)
        data = text.getvalue().encode("utf-8")
        atomic_write(path, lambda f, data=data: f.write(data))  # type: ignore[misc]
    return paths


def cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.write_data is not None:
        for path in write_demo_data(args.write_data):
            print(f"wrote {path}", file=out)
        return EXIT_OK
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
    table, fit_rows, test_rows = _iris_split()
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
