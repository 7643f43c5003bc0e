"""The table training job behind ``synnet train`` and ``synnet demo``.

From a :class:`synnet.tabular.files.Table` and :class:`Settings` to a fitted
:class:`synnet.tabular.model.Model`: pick the target and features, infer the
task, split off validation rows, fit the preprocessing on the training rows,
build and train the network with early stopping, and score it.
"""

from __future__ import annotations

import math
import secrets
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synnet.core.callback import Callback
from synnet.core.layer import Layer
from synnet.core.layers import Dense, Dropout
from synnet.core.network import Network
from synnet.errors import ConfigError, DataError, DivergenceError
from synnet.tabular import scores as metrics
from synnet.tabular.columns import names_text
from synnet.tabular.files import Table
from synnet.tabular.memory import memory_guard
from synnet.tabular.model import Model
from synnet.tabular.preprocessing import Preprocessor, ignored_columns
from synnet.tabular.settings import Settings
from synnet.tabular.target import TargetEncoder, infer_task
from synnet.training.callbacks import EarlyStopping
from synnet.training.checkpoint import Checkpoint, latest_checkpoint

#: In-memory training builds the whole (rows, inputs) feature matrix, the fastest to
#: train on, unless its one-hot part would take more than this many bytes: then the
#: categorical columns stay integer codes and each minibatch is expanded on its own.
ONE_HOT_BUDGET = 64 << 20


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
    ignored: dict[str, str] | None = None
    resumed_batches: int = 0  # of the epoch after resumed_from, for a mid-epoch checkpoint

    def training_record(self, source: str) -> dict[str, Any]:
        """The JSON stored as the model file's ``training`` section."""
        return {"command": "synnet train", "data": source, "settings": asdict(self.settings),
                "ignored_columns": self.ignored or {},
                "task_reason": self.task_reason, "rows": {"train": self.n_train,
                                                          "valid": self.n_valid},
                "epochs_run": self.epochs_run, "best_epoch": self.best_epoch,
                "seconds": round(self.seconds, 3), "scores": self.scores}


class IgnoredColumnWarning(UserWarning):
    """Feature columns left out because they look like IDs or high-cardinality text."""

    params = ("keep_columns",)  # how to keep them; the command line names its flag


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training; ``checkpoint`` is the newest checkpoint written, if any."""

    def __init__(self, checkpoint: Path | None) -> None:
        super().__init__()
        self.checkpoint = checkpoint


class Diverged(DivergenceError):
    """Training diverged; ``model`` holds the last finite weights (to save them anyway)."""

    def __init__(self, message: str, model: Model) -> None:
        super().__init__(message, params=["lr"])  # the usual fix is a smaller learning rate
        self.model = model


def checkpoint_seed(directory: str | None) -> int | None:
    """The seed recorded in the newest valid checkpoint in ``directory`` (None if none)."""
    with warnings.catch_warnings():  # the resume itself warns about damaged checkpoints
        warnings.simplefilter("ignore")
        found = None if directory is None else latest_checkpoint(directory)
    if found is None:
        return None
    settings = found[1].training.get("settings")
    seed = settings.get("seed") if isinstance(settings, dict) else None
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


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
    """The feature columns: ``features``, or every column but the target and ``drop``."""
    names = table.names
    if settings.target not in table.columns:
        raise DataError(f"{table.source} has no column {settings.target!r} (the target); "
                        f"its columns are {', '.join(map(repr, names))}", params=["target"])
    for param in ("features", "drop", "keep_columns"):
        unknown = [c for c in getattr(settings, param) if c not in table.columns]
        if unknown:
            raise DataError(f"{table.source} has no column {', '.join(map(repr, unknown))}; "
                            f"its columns are {', '.join(map(repr, names))}", params=[param])
    if settings.features:
        if settings.target in settings.features:
            raise ConfigError(f"the target {settings.target!r} cannot also be a feature",
                              params=["features"])
        return list(settings.features)
    features = [c for c in names if c != settings.target and c not in settings.drop]
    if not features:
        raise DataError(f"{table.source} has no feature columns besides the target "
                        f"{settings.target!r}")
    return features


def resolve_task(table: Table, settings: Settings) -> tuple[str, str]:
    """(task, why): ``settings.task``, or inferred from the target column. A ConfigError
    when ``settings.class_weight`` asks for classes and the task is not classification."""
    if settings.task != "auto":
        task, reason = settings.task, f"set explicitly (task={settings.task!r})"
    else:
        if settings.target not in table.columns:
            feature_names(table, settings)  # raises the error naming the columns
        task, reason = infer_task(table.columns[settings.target])
    if settings.class_weight is not None and task != "classification":
        raise ConfigError(f"class_weight needs a classification task; the target "
                          f"{settings.target!r} is {reason}", params=["class_weight"])
    return task, reason


def job_seed(settings: Settings) -> int:
    """``settings.seed``, or a new one drawn and stored there (the model file records it)."""
    if settings.seed is None:
        settings.seed = secrets.randbelow(2**31)
    return settings.seed


def balanced_weights(y: np.ndarray, k: int) -> np.ndarray:
    """Sample weights n / (classes present * count(class)) for class indices ``y`` (n,).

    The weights of scikit-learn's ``class_weight='balanced'``
    (``compute_sample_weight``): every class weighs the same in total.
    """
    return balanced_from_counts(np.bincount(y, minlength=k), y)


def balanced_from_counts(counts: Any, y: np.ndarray) -> np.ndarray:
    """:func:`balanced_weights` of the rows ``y`` (n,) of a larger set whose classes were
    counted apart: ``counts`` (k,) over every training row (chunks, a cluster's parts)."""
    per_class = np.asarray(counts, dtype=np.float64)
    return per_class.sum() / (np.count_nonzero(per_class) * per_class[y])


def build_network(n_inputs: int, n_outputs: int, task: str, settings: Settings,
                  seed: int) -> tuple[Network, str]:
    """The MLP and its loss: hidden Dense(+Dropout) layers, then the output layer."""
    layers: list[Layer] = []
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


def encode_categories(preprocessor: Preprocessor, n_rows: int, dtype: np.dtype[Any],
                      batch_size: int) -> bool:
    """Whether to train on :class:`synnet.tabular.encoded.EncodedRows` (categories kept
    as codes, one-hot rows built per minibatch) rather than the whole feature matrix:
    when the one-hot part of ``n_rows`` rows would exceed ONE_HOT_BUDGET bytes, and the
    batches are smaller than the data (a full batch is the whole matrix anyway)."""
    one_hot = preprocessor.n_outputs - preprocessor.n_outputs_dense
    return batch_size < n_rows and n_rows * one_hot * dtype.itemsize > ONE_HOT_BUDGET


def score(model: Model, X: Any, y: np.ndarray, raw_y: np.ndarray) -> dict[str, Any]:
    """Accuracy and log loss, or R², MAE and RMSE in target units, on prepared data."""
    out = model.network.predict(X)
    if model.task == "classification":
        proba = model.proba_from_output(out)
        report = metrics.classification_report(y, proba)
        return {"rows": report["rows"], "accuracy": report["accuracy"],
                "log_loss": report["log_loss"]}
    assert model.target is not None
    return metrics.regression_report(model.target.values(raw_y), model.target.decode(out))


def job_callbacks(settings: Settings, model: Model, validation: bool,
                  ) -> tuple[list[Callback], EarlyStopping | None, Checkpoint | None]:
    """The job's own callbacks: early stopping (with validation data) and checkpoints."""
    out: list[Callback] = []
    early = checkpoint = None
    if validation and settings.patience:
        early = EarlyStopping("val_loss", patience=settings.patience, restore_best_weights=True)
        out.append(early)
    if settings.checkpoint_dir:
        checkpoint = Checkpoint(
            settings.checkpoint_dir, every=settings.checkpoint_every,
            keep=settings.keep_checkpoints, resume=settings.resume,
            every_batches=settings.checkpoint_every_batches,
            save_kwargs={"preprocessor": model.preprocessor, "target": model.target,
                         "metadata": model.metadata,
                         "training": {"command": "synnet train (checkpoint)",
                                      "settings": asdict(settings)}})
        out.append(checkpoint)
    return out, early, checkpoint


def usable_features(table: Table, features: list[str],
                    settings: Settings) -> tuple[list[str], dict[str, str]]:
    """(features to train on, {left-out column: why}): ID-like and high-cardinality text
    columns are left out with an :class:`IgnoredColumnWarning`, unless named in
    ``keep_columns``, ``features`` or ``categorical``."""
    keep = [*settings.keep_columns, *settings.features, *settings.categorical]
    ignored = ignored_columns(table.columns, features, keep)
    kept = [c for c in features if c not in ignored]
    if not kept:
        raise DataError(f"no feature columns are left after leaving out "
                        f"{names_text(list(ignored))} (they look like IDs or high-cardinality "
                        "text); keep some with keep_columns=[...]", params=["keep_columns"])
    return kept, ignored


def warn_ignored(ignored: dict[str, str]) -> None:
    """The IgnoredColumnWarning naming the left-out columns, why, and how to keep them."""
    if ignored:
        listed = "; ".join(f"{name!r} ({why})" for name, why in ignored.items())
        warnings.warn(f"leaving out column{'s' if len(ignored) > 1 else ''} {listed}: such "
                      "columns name rows rather than describe them; to use them anyway, pass "
                      f"keep_columns={list(ignored)!r}", IgnoredColumnWarning, stacklevel=4)


def train(table: Table, settings: Settings, callbacks: Sequence[Callback] = ()) -> Result:
    """Train a model on ``table``; see the module docstring.

    ``callbacks`` (progress display, ...) are passed to ``Network.fit`` after the
    job's own early stopping and checkpoints. Running out of memory raises
    :class:`synnet.tabular.memory.NotEnoughMemory` saying what to try.
    """
    settings.check()
    with memory_guard(f"train on {table.source} ({table.n_rows:,} rows)",
                      "fewer rows or columns, a lower max_categories, dtype='float32', or "
                      "smaller hidden layers and batch_size",
                      params=["max_categories", "dtype", "hidden", "batch_size"]):
        return _train(table, settings, callbacks)


def _train(table: Table, settings: Settings, callbacks: Sequence[Callback]) -> Result:
    features, ignored = usable_features(table, feature_names(table, settings), settings)
    raw_y = table.columns[settings.target]
    task, reason = resolve_task(table, settings)
    target = TargetEncoder(task, settings.target).fit(raw_y)
    y_all, _ = target.encode(raw_y)
    seed = job_seed(settings)
    split_rng, net_seed = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0]), seed
    strata = y_all if task == "classification" else None
    train_rows, valid_rows = split_rows(table.n_rows, settings.valid_fraction, split_rng, strata)
    if task == "classification" and len(np.unique(y_all[train_rows])) < 2:
        raise DataError("the training rows hold a single class; add data or lower "
                        "valid_fraction", params=["valid_fraction"])
    preprocessor = Preprocessor(settings.impute, settings.categorical,
                                settings.max_categories, settings.min_frequency)
    preprocessor.fit(table.columns, features)  # checks every row: messages name file rows
    warn_ignored(ignored)  # once the data passed its checks
    train_columns = {c: table.columns[c][train_rows] for c in features}
    preprocessor.fit(train_columns, features)
    dtype = np.dtype(settings.dtype)
    compact = encode_categories(preprocessor, len(train_rows), dtype, settings.batch_size)
    to_matrix = preprocessor.encode if compact else preprocessor.transform
    X_train: Any = to_matrix(train_columns, dtype=dtype)  # built block by block
    del train_columns
    y_train = y_all[train_rows]
    n_outputs = target.n_outputs
    if task == "classification" and n_outputs == 1:
        y_train = y_train.astype(dtype)
    network, loss = build_network(X_train.shape[1], n_outputs, task, settings, net_seed)
    validation = None
    if len(valid_rows):
        X_valid = to_matrix({c: table.columns[c][valid_rows] for c in features},
                            warn_unknown=False, dtype=dtype)
        y_valid = y_all[valid_rows]
        if task == "classification" and n_outputs == 1:
            y_valid = y_valid.astype(dtype)
        validation = (X_valid, y_valid)
    model = Model(network, preprocessor, target,
                  metadata={"feature_names": features, "target_name": settings.target})
    own, early, checkpoint = job_callbacks(settings, model, validation is not None)
    weights = None
    if settings.class_weight == "balanced":
        assert target.classes is not None
        weights = balanced_weights(y_all[train_rows], len(target.classes))
    started = time.perf_counter()
    try:
        history = network.fit(
            X_train, y_train, loss, settings.make_optimizer(), epochs=settings.epochs,
            batch_size=settings.batch_size, validation_data=validation,
            callbacks=[*own, *callbacks],
            metrics=["accuracy"] if task == "classification" else [],
            sample_weight=weights, l2=settings.l2)
    except KeyboardInterrupt:
        raise Interrupted(None if checkpoint is None else checkpoint.last_path) from None
    except DivergenceError as exc:
        raise Diverged(str(exc), model) from exc
    seconds = time.perf_counter() - started
    scores = {"train": score(model, X_train, y_all[train_rows], raw_y[train_rows])}
    if validation is not None:
        scores["valid"] = score(model, validation[0], y_all[valid_rows], raw_y[valid_rows])
    best = None if early is None or early.best_epoch is None else early.best_epoch + 1
    return Result(model, settings, reason, scores, seconds, len(history.epoch), best,
                  len(train_rows), len(valid_rows),
                  None if checkpoint is None else checkpoint.resumed_from, ignored,
                  0 if checkpoint is None else checkpoint.resumed_batches)


