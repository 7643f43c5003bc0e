"""The ``synnet`` argument parser.

Flags only parse; their values are checked once, by the settings they fill
(:meth:`synnet.tabular.settings.Settings.check`), so a bad value gets the same
one-line error as in Python plus the flag to change. Defaults come from the
Settings dataclass and the names listed in the help from the registries.
"""

from __future__ import annotations

import argparse
import difflib
from dataclasses import MISSING, fields
from typing import Any

from synnet._version import __version__
from synnet.cli import commands
from synnet.core.activations import ACTIVATIONS
from synnet.core.optimizers import OPTIMIZERS
from synnet.tabular.columns import IMPUTE_STRATEGIES
from synnet.tabular.settings import CLASS_WEIGHTS, DTYPES, TASK_CHOICES, Settings


def _default(f: Any) -> Any:
    return f.default_factory() if f.default is MISSING else f.default


#: Every Settings field's default (the target has none: it is required).
DEFAULTS: dict[str, Any] = {f.name: _default(f) for f in fields(Settings) if f.name != "target"}


def _hidden(text: str) -> list[int]:
    """'64,32' -> [64, 32]; '' / '0' / 'none' -> [] (no hidden layer)."""
    if text.strip().lower() in ("", "0", "none"):
        return []
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of layer sizes like 64,32") from None


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The ``synnet`` parser: one subcommand per job, each calling a function in commands."""
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
    p.add_argument("data", metavar="DATA",
                   help="the training data: a .csv, .tsv or .parquet file, or - for stdin")
    p.add_argument("-t", "--target", required=True, metavar="COL", help="the column to predict")
    p.add_argument("-o", "--output", required=True, metavar="MODEL",
                   help="the model file to write (e.g. model.synnet; - for stdout)")
    g = p.add_argument_group("data")
    g.add_argument("--task", default=DEFAULTS["task"], metavar="|".join(TASK_CHOICES),
                   help="default: inferred from the target (text or few whole numbers: "
                   "classification)")
    g.add_argument("--features", type=_names, default=DEFAULTS["features"], metavar="COLS",
                   help="comma-separated feature columns (default: all but the target)")
    g.add_argument("--drop", type=_names, default=DEFAULTS["drop"], metavar="COLS",
                   help="comma-separated columns to leave out (ids, leaks)")
    g.add_argument("--categorical", type=_names, default=DEFAULTS["categorical"],
                   metavar="COLS",
                   help="treat these numeric-looking columns as categories")
    g.add_argument("--impute", default=DEFAULTS["impute"], metavar="|".join(IMPUTE_STRATEGIES),
                   help="fill missing values (default: missing values are an error)")
    g.add_argument("--valid-fraction", type=float, default=DEFAULTS["valid_fraction"],
                   metavar="F",
                   help="fraction of rows held out for validation (default 0.2; 0: none)")
    g = p.add_argument_group("network")
    g.add_argument("--hidden", type=_hidden, default=DEFAULTS["hidden"], metavar="SIZES",
                   help="hidden layer sizes, e.g. 64,32 (default 64; 0 for none)")
    g.add_argument("--activation", default=DEFAULTS["activation"], metavar="NAME",
                   help="hidden activation: "
                   f"{', '.join(sorted(ACTIVATIONS))} (default {DEFAULTS['activation']})")
    g.add_argument("--dropout", type=float, default=DEFAULTS["dropout"], metavar="RATE",
                   help="dropout rate after each hidden layer (default 0)")
    g.add_argument("--dtype", default=DEFAULTS["dtype"], metavar="|".join(DTYPES),
                   help="the network's float type (default float64; float32 is faster "
                   "and half the size)")
    g.add_argument("--class-weight", default=DEFAULTS["class_weight"],
                   metavar="|".join(CLASS_WEIGHTS),
                   help="classification: weight each training row by n / (classes * rows of "
                   "its class), so rare classes count as much as common ones (default: "
                   "every row weighs 1)")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=DEFAULTS["epochs"],
                   help=f"passes over the training rows (default {DEFAULTS['epochs']})")
    g.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"],
                   help=f"rows per update (default {DEFAULTS['batch_size']})")
    g.add_argument("--optimizer", default=DEFAULTS["optimizer"],
                   metavar="|".join(sorted(OPTIMIZERS)),
                   help=f"the update rule (default {DEFAULTS['optimizer']})")
    g.add_argument("--lr", type=float, default=DEFAULTS["lr"],
                   help="learning rate, > 0 (default: the optimizer's, 0.001 for adam)")
    g.add_argument("--momentum", type=float, default=DEFAULTS["momentum"],
                   help="SGD momentum (default 0)")
    g.add_argument("--l2", type=float, default=DEFAULTS["l2"], help="L2 penalty (default 0)")
    g.add_argument("--patience", type=int, default=DEFAULTS["patience"], metavar="N",
                   help="stop after N epochs without a better validation loss and keep the "
                   "best weights (default 20; 0: train all epochs)")
    g.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                   help="random seed (default: random, "
                   "and recorded in the model file)")
    g = p.add_argument_group("checkpoints")
    g.add_argument("--checkpoint-dir", metavar="DIR", default=DEFAULTS["checkpoint_dir"],
                   help="write a checkpoint to DIR at the end of epochs (see --checkpoint-every)")
    g.add_argument("--checkpoint-every", type=int, default=DEFAULTS["checkpoint_every"],
                   metavar="N",
                   help="checkpoint every N epochs (default 1)")
    g.add_argument("--checkpoint-every-batches", type=int, metavar="N",
                   default=DEFAULTS["checkpoint_every_batches"],
                   help="also checkpoint every N batches inside an epoch, so a killed run "
                   "resumes where it stood (default: at epoch ends only)")
    g.add_argument("--keep-checkpoints", type=int, default=DEFAULTS["keep_checkpoints"],
                   metavar="N",
                   help="keep the newest N checkpoints (default 3)")
    g.add_argument("--resume", action="store_true",
                   help="continue from the newest valid checkpoint in --checkpoint-dir")
    g.add_argument("--stream", action=argparse.BooleanOptionalAction, default=None,
                   help="read DATA in chunks while training, so memory does not grow with it "
                   "(default: only for files over 256 MiB)")
    g.add_argument("--valid", metavar="FILE", default=None,
                   help="validation rows from FILE instead of --valid-fraction of DATA "
                   "(with --stream)")
    g.add_argument("--shuffle-buffer", type=int, default=65536, metavar="ROWS",
                   help="with --stream: rows mixed at a time (default 65536; more mixes "
                   "better, holds more in memory)")
    g.add_argument("--keep-last-good", action="store_true",
                   help="if training diverges, still write the model with its last finite "
                   "weights (the exit status stays 1)")
    g = p.add_argument_group("cluster (the dask extra)")
    g.add_argument("--workers", type=int, metavar="N",
                   help="train data-parallel on a local Dask cluster of N worker processes")
    g.add_argument("--scheduler", metavar="ADDR",
                   help="train on the Dask cluster at ADDR (tcp://host:8786)")
    g = p.add_argument_group("output")
    g.add_argument("--plot", metavar="FILE.png", help="save the loss curves (.png/.svg/.pdf)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=commands.cmd_train, flags=flags_of(p), command_parser=p)

    p = sub.add_parser("predict", parents=[common], help="predict with a model",
                       description="Write predictions for DATA (the target column may be "
                       "absent) as CSV to stdout or to -o.")
    p.add_argument("model", metavar="MODEL", help="a model file (from synnet train)")
    p.add_argument("data", metavar="DATA",
                   help="the rows to predict: a .csv, .tsv or .parquet file, or - for stdin")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="where to write (.csv, .tsv or .parquet; - or default: stdout, "
                   "as CSV)")
    p.add_argument("--proba", action="store_true", help="add one probability column per class")
    p.add_argument("--keep", type=_names, default=[], metavar="COLS",
                   help="copy these input columns (e.g. an id) into the output")
    p.set_defaults(func=commands.cmd_predict, flags=flags_of(p), command_parser=p)

    p = sub.add_parser("evaluate", parents=[common], help="score a model on labelled data",
                       description="Print accuracy, log loss, per-class precision/recall and "
                       "the confusion matrix (classification) or R², MAE and RMSE (regression).")
    p.add_argument("model", metavar="MODEL", help="a model file (from synnet train)")
    p.add_argument("data", metavar="DATA", help="labelled rows: a .csv, .tsv or .parquet "
                   "file, or - for stdin")
    p.add_argument("-t", "--target", metavar="COL",
                   help="the target column (default: the one the model was trained on)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=commands.cmd_evaluate, flags=flags_of(p), command_parser=p)

    p = sub.add_parser("inspect", parents=[common], help="describe a model file",
                       description="Print the architecture, parameter counts, training "
                       "settings, data schema and training history of a model file.")
    p.add_argument("model", metavar="MODEL", help="a model file")
    p.add_argument("--json", action="store_true", help="print the file's JSON header")
    p.set_defaults(func=commands.cmd_inspect, flags=flags_of(p), command_parser=p)

    p = sub.add_parser("export", parents=[common], help="write a model as ONNX",
                       description="Write MODEL, preprocessing included, as an ONNX model "
                       "(one input per column) for onnxruntime and other ONNX runtimes.")
    p.add_argument("model", metavar="MODEL", help="a model file (from synnet train)")
    p.add_argument("-o", "--output", required=True, metavar="FILE.onnx",
                   help="the ONNX file to write (- for stdout)")
    p.add_argument("--opset", type=int, metavar="N",
                   help="the ONNX opset (default 17, with ai.onnx.ml 3; 20 for date columns)")
    p.set_defaults(func=commands.cmd_export, flags=flags_of(p), command_parser=p)

    p = sub.add_parser("demo", parents=[common], help="see synnet work on built-in data",
                       description="Run the tutorial networks beside their published numbers, "
                       "then train on the built-in Iris data and score held-out flowers.")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("--write-data", metavar="DIR",
                   help="instead, write the README's example files (iris.csv, test.csv, "
                   "new_flowers.csv, from the built-in Iris data) into DIR and stop")
    p.set_defaults(func=commands.cmd_demo, flags=flags_of(p), command_parser=p)

    # Reading the data (train, predict, evaluate) and choosing columns (train), issue 11.
    readers = [sub.choices[name] for name in ("train", "predict", "evaluate")]
    for p in readers:
        g = p.add_argument_group("reading DATA")
        g.add_argument("--sep", type=_sep, default=DEFAULTS["sep"], metavar="CHAR",
                       help="the CSV separator, e.g. ';' or tab (default: tab for .tsv, "
                       "else sniffed among , ; tab |)")
        g.add_argument("--na-values", type=_names, action="extend", metavar="TOKENS",
                       default=list(DEFAULTS["na_values"]),
                       help="comma-separated text that marks a missing value, e.g. NA,null "
                       "(repeatable; default: only an empty cell is missing)")
    g = readers[0].add_argument_group("columns")
    g.add_argument("--keep-columns", type=_names, default=DEFAULTS["keep_columns"],
                   metavar="COLS", help="use these columns even though they look like IDs "
                   "or high-cardinality text (left out by default, with a warning)")
    g.add_argument("--max-categories", type=_optional(int), default=DEFAULTS["max_categories"],
                   metavar="N", help="at most N one-hot inputs per text column, the rarer "
                   f"categories grouped into one (default {DEFAULTS['max_categories']}; "
                   "'none': no limit)")
    g.add_argument("--min-frequency", type=_optional(_int_or_float),
                   default=DEFAULTS["min_frequency"], metavar="N|F",
                   help="group categories seen fewer than N times (or in less than a "
                   "fraction F of the rows) into one input (default: none)")

    # --threads N for the commands that compute (main applies it: synnet.set_threads).
    for name in ("train", "predict", "evaluate"):
        p = sub.choices[name]
        p.add_argument("--threads", type=int, default=None, metavar="N",
                       help="BLAS threads (default: one per core; needs threadpoolctl)")
        p.set_defaults(flags=flags_of(p))
    return parser


def _sep(text: str) -> str:
    """'tab' or a typed backslash-t means a tab; anything else is taken as it is."""
    return "\t" if text in ("tab", "\\t") else text


def _int_or_float(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def _optional(convert: Any) -> Any:
    """A flag type that also takes 'none' (no limit)."""
    def parse(text: str) -> Any:
        return None if text.strip().lower() == "none" else convert(text)
    parse.__name__ = getattr(convert, "__name__", "value")  # argparse names it in errors
    return parse


def unrecognized(parser: argparse.ArgumentParser, extras: list[str]) -> str:
    """The usage error for options ``parser`` does not know, with the closest known ones."""
    known = [o for action in parser._actions for o in action.option_strings]
    parts = []
    for extra in extras:
        close = difflib.get_close_matches(extra.split("=", 1)[0], known, n=1, cutoff=0.75)
        parts.append(f"{extra} (did you mean {close[0]}?)" if close else extra)
    return f"unrecognized arguments: {' '.join(parts)}"


def flags_of(parser: argparse.ArgumentParser) -> dict[str, str]:
    """{parameter name: flag} of a (sub)parser, e.g. {"valid_fraction": "--valid-fraction"}.

    argparse has no public way to list a parser's options; ``_actions`` is the
    documented-in-practice one.
    """
    return {action.dest: action.option_strings[-1]
            for action in parser._actions if action.option_strings}
