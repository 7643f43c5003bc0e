"""The training job behind ``synnet train`` and ``synnet demo``.

From a :class:`synnet.tabular_io.Table` and settings to a fitted
:class:`synnet.model.Model`: pick the target and features, infer the task,
split off validation rows, fit the preprocessing on the training rows, build
and train the network with early stopping, and score it.
"""

from __future__ import annotations

import math
import secrets
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from synnet import _cli_metrics as metrics
from synnet.activations import get_activation
from synnet.callbacks import Callback, EarlyStopping, ProgressBar
from synnet.checkpoint import Checkpoint
from synnet.errors import ConfigError, DataError, DivergenceError
from synnet.layers import Dense, Dropout
from synnet.model import Model
from synnet.network import Network
from synnet.optimizers import OPTIMIZERS, SGD, Optimizer
from synnet.preprocessing import IMPUTE_STRATEGIES, Preprocessor, TargetEncoder, infer_task
from synnet.tabular_io import Table

PLOT_FORMATS = (".png", ".svg", ".pdf")


@dataclass
class Settings:
    """Everything ``synnet train`` can be told; stored in the model file as JSON."""

    target: str
    hidden: list[int] = field(default_factory=lambda: [64])
    activation: str = "relu"
    dropout: float = 0.0
    epochs: int = 200
    batch_size: int = 32
    lr: float | None = None
    optimizer: str = "adam"
    momentum: float = 0.0
    l2: float = 0.0
    seed: int | None = None
    valid_fraction: float = 0.2
    patience: int = 20
    task: str = "auto"
    impute: str | None = None
    categorical: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    dtype: str = "float64"
    checkpoint_dir: str | None = None
    checkpoint_every: int = 1
    keep_checkpoints: int = 3
    resume: bool = False

    def check(self) -> None:
        """Fail on bad settings before any data is read."""
        if any(h < 1 for h in self.hidden):
            raise ConfigError(f"--hidden sizes must be >= 1, got {self.hidden}")
        get_activation(self.activation)
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.epochs < 1:
            raise ConfigError(f"--epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {self.batch_size}")
        self.make_optimizer()
        if not (math.isfinite(self.l2) and self.l2 >= 0):
            raise ConfigError(f"--l2 must be a finite number >= 0, got {self.l2}")
        if not 0.0 <= self.valid_fraction < 1.0:
            raise ConfigError(f"--valid-fraction must be in [0, 1), got {self.valid_fraction}")
        if self.patience < 0:
            raise ConfigError(f"--patience must be >= 0, got {self.patience}")
        if self.task not in ("auto", "classification", "regression"):
            raise ConfigError(f"--task must be auto, classification or regression, "
                              f"got {self.task!r}")
        if self.impute is not None and self.impute not in IMPUTE_STRATEGIES:
            raise ConfigError(f"--impute must be one of {', '.join(IMPUTE_STRATEGIES)}")
        if self.features and self.drop:
            raise ConfigError("pass --features or --drop, not both")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"--dtype must be float32 or float64, got {self.dtype!r}")
        if self.resume and not self.checkpoint_dir:
            raise ConfigError("--resume needs --checkpoint-dir DIR, the folder to resume from")
        if self.checkpoint_dir and Path(self.checkpoint_dir).is_file():
            raise ConfigError(f"--checkpoint-dir {self.checkpoint_dir} is a file; give a folder")

    def make_optimizer(self) -> Optimizer:
        cls = OPTIMIZERS.get(self.optimizer)
        if cls is None:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; known: "
                              f"{', '.join(sorted(OPTIMIZERS))}")
        kwargs: dict[str, Any] = {} if self.lr is None else {"lr": self.lr}
        if self.momentum:
            if cls is not SGD:
                raise ConfigError("--momentum applies to --optimizer sgd only")
            kwargs["momentum"] = self.momentum
        return cls(**kwargs)


@dataclass
class Result:
    """What a training run produced."""

    model: Model
    settings: Settings
    task_reason: str
    scores: dict[str, dict[str, Any]]
    seconds: float
    epochs_run: int
    best_epoch: int | None
    n_train: int
    n_valid: int
    resumed_from: int | None = None

    def training_record(self, source: str) -> dict[str, Any]:
        """The JSON stored as the model file's ``training`` section."""
        return {"command": "synnet train", "data": source, "settings": asdict(self.settings),
                "task_reason": self.task_reason, "rows": {"train": self.n_train,
                                                          "valid": self.n_valid},
                "epochs_run": self.epochs_run, "best_epoch": self.best_epoch,
                "seconds": round(self.seconds, 3), "scores": self.scores}


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training; ``checkpoint`` is the newest checkpoint written, if any."""

    def __init__(self, checkpoint: Path | None) -> None:
        super().__init__()
        self.checkpoint = checkpoint


class Diverged(DivergenceError):
    """Training diverged; ``model`` holds the last finite weights (for --keep-last-good)."""

    def __init__(self, message: str, model: Model) -> None:
        super().__init__(message)
        self.model = model


def checkpoint_seed(directory: str | None) -> int | None:
    """The seed recorded in the newest valid checkpoint in ``directory`` (None if none)."""
    from synnet.checkpoint import latest_checkpoint

    found = None if directory is None else latest_checkpoint(directory)
    if found is None:
        return None
    seed = found[1].training.get("settings", {}).get("seed")
    return seed if isinstance(seed, int) else None


class PlainProgress(Callback):
    """Progress as plain lines (for logs and pipes): about ten lines per run."""

    def __init__(self, epochs: int, file: TextIO) -> None:
        self.epochs, self.file = epochs, file
        self.every = max(1, math.ceil(epochs / 10))
        self.start = 0

    def on_train_begin(self, logs: dict[str, float]) -> None:
        self.start = self.network.epochs_trained

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        done = epoch - self.start + 1
        if done == 1 or done % self.every == 0 or done == self.epochs or \
                self.network.stop_training:
            values = "  ".join(f"{k} {v:.4g}" for k, v in logs.items())
            print(f"epoch {done}/{self.epochs}  {values}", file=self.file, flush=True)


def progress_callback(epochs: int, file: TextIO) -> Callback:
    """A progress bar on a terminal, plain lines otherwise."""
    isatty = getattr(file, "isatty", None)
    if isatty is not None and isatty():
        return ProgressBar(total=epochs, file=file)
    return PlainProgress(epochs, file)


def split_rows(n: int, fraction: float, rng: np.random.Generator,
               strata: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows); stratified by ``strata`` (class indices) when given.

    Each class keeps at least one training row. The validation part may come
    out empty for tiny data.
    """
    if fraction == 0.0:
        return np.arange(n), np.arange(0)
    groups = [np.arange(n)] if strata is None else [np.flatnonzero(strata == c)
                                                     for c in np.unique(strata)]
    train, valid = [], []
    for rows in groups:
        rows = rng.permutation(rows)
        n_valid = min(len(rows) - 1, math.floor(len(rows) * fraction + 0.5))
        valid.append(rows[:n_valid])
        train.append(rows[n_valid:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(valid))


def feature_names(table: Table, settings: Settings) -> list[str]:
    """The feature columns: --features, or every column but the target and --drop."""
    names = table.names
    if settings.target not in table.columns:
        raise DataError(f"{table.source} has no column {settings.target!r} (the --target); "
                        f"its columns are {', '.join(map(repr, names))}")
    asked = settings.features or settings.drop
    unknown = [c for c in asked if c not in table.columns]
    if unknown:
        raise DataError(f"{table.source} has no column {', '.join(map(repr, unknown))}; "
                        f"its columns are {', '.join(map(repr, names))}")
    if settings.features:
        if settings.target in settings.features:
            raise ConfigError(f"the target {settings.target!r} cannot also be a feature")
        return list(settings.features)
    features = [c for c in names if c != settings.target and c not in settings.drop]
    if not features:
        raise DataError(f"{table.source} has no feature columns besides the target "
                        f"{settings.target!r}")
    return features


def build_network(n_inputs: int, n_outputs: int, task: str, settings: Settings,
                  seed: int) -> tuple[Network, str]:
    """The MLP and its loss: hidden Dense(+Dropout) layers, then the output layer."""
    layers: list[Any] = []
    size = n_inputs
    for h in settings.hidden:
        layers.append(Dense(size, h, settings.activation))
        if settings.dropout:
            layers.append(Dropout(settings.dropout))
        size = h
    if task == "regression":
        layers.append(Dense(size, n_outputs))
        loss = "mse"
    elif n_outputs == 1:
        layers.append(Dense(size, 1, "sigmoid"))
        loss = "binary_crossentropy"
    else:
        layers.append(Dense(size, n_outputs, "softmax"))
        loss = "categorical_crossentropy"
    return Network(layers, seed=seed, dtype=settings.dtype), loss


def score(model: Model, X: np.ndarray, y: np.ndarray, raw_y: np.ndarray) -> dict[str, Any]:
    """Accuracy and log loss, or R², MAE and RMSE in target units, on prepared data."""
    out = model.network.predict(X)
    if model.task == "classification":
        proba = model._proba_from_output(out)
        report = metrics.classification_report(y, proba)
        return {"rows": report["rows"], "accuracy": report["accuracy"],
                "log_loss": report["log_loss"]}
    assert model.target is not None
    return metrics.regression_report(model.target.values(raw_y), model.target.decode(out))


def train(table: Table, settings: Settings, progress: TextIO | None = sys.stderr) -> Result:
    """Train a model on ``table``; see the module docstring."""
    settings.check()
    features = feature_names(table, settings)
    raw_y = table.columns[settings.target]
    if settings.task == "auto":
        task, reason = infer_task(raw_y)
    else:
        task, reason = settings.task, "set with --task"
    target = TargetEncoder(task, settings.target).fit(raw_y)
    y_all, _ = target.encode(raw_y)
    seed = settings.seed if settings.seed is not None else secrets.randbelow(2**31)
    settings.seed = seed
    split_rng, net_seed = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0]), seed
    strata = y_all if task == "classification" else None
    train_rows, valid_rows = split_rows(table.n_rows, settings.valid_fraction, split_rng, strata)
    if task == "classification" and len(np.unique(y_all[train_rows])) < 2:
        raise DataError("the training rows hold a single class; add data or lower "
                        "--valid-fraction")
    preprocessor = Preprocessor(settings.impute, settings.categorical)
    preprocessor.fit(table.columns, features)  # checks every row: messages name file rows
    preprocessor.fit({c: table.columns[c][train_rows] for c in features}, features)
    dtype = np.dtype(settings.dtype)
    X_train = preprocessor.transform(table.take(train_rows).columns).astype(dtype, copy=False)
    y_train = y_all[train_rows]
    n_outputs = target.n_outputs
    if task == "classification" and n_outputs == 1:
        y_train = y_train.astype(dtype)
    network, loss = build_network(X_train.shape[1], n_outputs, task, settings, net_seed)
    callbacks: list[Callback] = []
    validation = None
    early: EarlyStopping | None = None
    if len(valid_rows):
        X_valid = preprocessor.transform(table.take(valid_rows).columns,
                                         warn_unknown=False).astype(dtype, copy=False)
        y_valid = y_all[valid_rows]
        if task == "classification" and n_outputs == 1:
            y_valid = y_valid.astype(dtype)
        validation = (X_valid, y_valid)
        if settings.patience:
            early = EarlyStopping("val_loss", patience=settings.patience,
                                  restore_best_weights=True)
            callbacks.append(early)
    model = Model(network, preprocessor, target,
                  metadata={"feature_names": features, "target_name": settings.target})
    checkpoint = None
    if settings.checkpoint_dir:
        checkpoint = Checkpoint(
            settings.checkpoint_dir, every=settings.checkpoint_every,
            keep=settings.keep_checkpoints, resume=settings.resume,
            save_kwargs={"preprocessor": preprocessor, "target": target,
                         "metadata": model.metadata,
                         "training": {"command": "synnet train (checkpoint)",
                                      "settings": asdict(settings)}})
        callbacks.append(checkpoint)
    if progress is not None:
        callbacks.append(progress_callback(settings.epochs, progress))
    started = time.perf_counter()
    try:
        history = network.fit(
            X_train, y_train, loss, settings.make_optimizer(), epochs=settings.epochs,
            batch_size=settings.batch_size, validation_data=validation,
            callbacks=callbacks, metrics=["accuracy"] if task == "classification" else [],
            l2=settings.l2)
    except KeyboardInterrupt:
        raise Interrupted(None if checkpoint is None else checkpoint.last_path) from None
    except DivergenceError as exc:
        raise Diverged(f"{exc} (--lr sets the learning rate)", model) from exc
    seconds = time.perf_counter() - started
    scores = {"train": score(model, X_train, y_all[train_rows], raw_y[train_rows])}
    if validation is not None:
        scores["valid"] = score(model, validation[0], y_all[valid_rows], raw_y[valid_rows])
    best = None if early is None or early.best_epoch is None else early.best_epoch + 1
    return Result(model, settings, reason, scores, seconds, len(history.epoch), best,
                  len(train_rows), len(valid_rows),
                  None if checkpoint is None else checkpoint.resumed_from)


def check_plot_path(path: str) -> None:
    """Fail before training when --plot cannot work (format, folder, matplotlib)."""
    if Path(path).suffix.lower() not in PLOT_FORMATS:
        raise ConfigError(f"--plot {path}: the file must end in {', '.join(PLOT_FORMATS)}")
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise ImportError("--plot needs matplotlib; install it with pip install 'synnet[plot]'")


def plot_history(history: dict[str, list[float]], path: str, title: str = "",
                 best_epoch: int | None = None) -> None:
    """Loss curves (train and validation) per epoch, written atomically to ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from synnet.serialization import atomic_write

    fig = Figure(figsize=(6.4, 4.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for key, label in (("loss", "train"), ("val_loss", "validation")):
        if key in history:
            values = history[key]
            ax.plot(range(1, len(values) + 1), values, label=label)
    if best_epoch is not None:
        ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best (epoch {best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if title:
        ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fmt = Path(path).suffix.lower().lstrip(".")
    atomic_write(path, lambda f: fig.savefig(f, format=fmt))
