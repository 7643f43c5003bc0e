"""The settings of a table training job: what ``synnet train`` can be told.

One dataclass, validated in one place (:meth:`Settings.check`), with its choices
taken from the registries. The command line builds it from its parsed flags,
field for field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synnet._validation import check_choice, check_fraction, check_int, check_number
from synnet.core.activations import get_activation
from synnet.core.optimizers import SGD, Optimizer, get_optimizer
from synnet.errors import ConfigError
from synnet.tabular.columns import IMPUTE_STRATEGIES
from synnet.tabular.files import check_reading
from synnet.tabular.preprocessing import check_grouping
from synnet.tabular.target import TASKS

TASK_CHOICES = ("auto", *TASKS)
DTYPES = ("float32", "float64")
CLASS_WEIGHTS = ("balanced",)


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
    keep_columns: list[str] = field(default_factory=list)
    max_categories: int | None = 32
    min_frequency: int | float | None = None
    sep: str | None = None
    na_values: list[str] = field(default_factory=list)
    dtype: str = "float64"
    checkpoint_dir: str | None = None
    checkpoint_every: int = 1
    checkpoint_every_batches: int | None = None
    keep_checkpoints: int = 3
    resume: bool = False
    class_weight: str | None = None

    def check(self) -> None:
        """Fail on bad settings before any data is read: the one place they are checked.

        Errors name the field (``epochs``, ``impute``, ...) in ``params``, so the
        command line can name its flag.
        """
        for size in self.hidden:
            check_int("hidden", size, 1)
        get_activation(self.activation)
        check_fraction("dropout", self.dropout)
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        if self.lr is not None:
            check_number("lr", self.lr, 0.0, low_open=True)  # lr 0 would train nothing
        check_number("momentum", self.momentum, 0.0, 1.0, high_open=False)
        check_number("l2", self.l2, 0.0)
        check_int("seed", self.seed, 0, allow_none=True)
        check_fraction("valid_fraction", self.valid_fraction)
        check_int("patience", self.patience, 0)
        check_choice("task", self.task, TASK_CHOICES)
        if self.impute is not None:
            check_choice("impute", self.impute, IMPUTE_STRATEGIES)
        check_choice("dtype", self.dtype, DTYPES)
        check_grouping(self.max_categories, self.min_frequency)
        check_reading(self.sep, self.na_values)
        if self.class_weight is not None:
            check_choice("class_weight", self.class_weight, CLASS_WEIGHTS)
            if self.task == "regression":
                raise ConfigError("class_weight needs a classification task",
                                  params=["class_weight", "task"])
        check_int("checkpoint_every", self.checkpoint_every, 1)
        check_int("checkpoint_every_batches", self.checkpoint_every_batches, 1, allow_none=True)
        check_int("keep_checkpoints", self.keep_checkpoints, 1)
        if self.features and self.drop:
            raise ConfigError("pass features or drop, not both", params=["features", "drop"])
        if self.resume and not self.checkpoint_dir:
            raise ConfigError("resume needs checkpoint_dir, the folder to resume from",
                              params=["resume", "checkpoint_dir"])
        if self.checkpoint_dir and Path(self.checkpoint_dir).is_file():
            raise ConfigError(f"checkpoint_dir {self.checkpoint_dir} is a file; give a folder",
                              params=["checkpoint_dir"])
        self.make_optimizer()

    def make_optimizer(self) -> Optimizer:
        """The optimizer these settings name, from the registry."""
        cls = type(get_optimizer(self.optimizer))
        kwargs: dict[str, Any] = {} if self.lr is None else {"lr": self.lr}
        if self.momentum:
            if cls is not SGD:
                raise ConfigError("momentum applies to optimizer 'sgd' only",
                                  params=["momentum", "optimizer"])
            kwargs["momentum"] = self.momentum
        return cls(**kwargs)
