"""synnet: feed-forward neural networks trained by backpropagation in plain NumPy.

The public API, re-exported from the layers of the package (see
``docs/architecture.md``): :mod:`synnet.core`, :mod:`synnet.training`,
:mod:`synnet.io`, :mod:`synnet.tabular`. The scikit-learn estimators
(``MLPClassifier``, ``MLPRegressor``, in :mod:`synnet.sklearn`) load lazily on
first use, so that ``import synnet`` imports nothing beyond NumPy and tqdm.
"""

from __future__ import annotations

from typing import Any

from synnet._threads import set_threads
from synnet._version import __version__ as __version__
from synnet.core.activations import (
    Activation,
    Exponential,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from synnet.core.callback import Callback
from synnet.core.history import History
from synnet.core.layer import Layer
from synnet.core.layers import Dense, Dropout
from synnet.core.losses import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    Loss,
    MeanSquaredError,
    Poisson,
    SumSquaredError,
)
from synnet.core.network import Network
from synnet.core.optimizers import SGD, Adam, Optimizer, RMSprop
from synnet.errors import (
    ConfigError,
    DataError,
    DivergenceError,
    ModelFileError,
    ResumeError,
    SynnetError,
)
from synnet.tabular.model import load
from synnet.training.callbacks import (
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    PrintEvery,
    ProgressBar,
)
from synnet.training.checkpoint import Checkpoint
from synnet.training.gradcheck import GradCheckResult, gradcheck

__all__ = [
    "SGD",
    "Activation",
    "Adam",
    "BinaryCrossEntropy",
    "Callback",
    "CategoricalCrossEntropy",
    "Checkpoint",
    "ConfigError",
    "DataError",
    "Dense",
    "DivergenceError",
    "Dropout",
    "EarlyStopping",
    "Exponential",
    "GradCheckResult",
    "History",
    "Identity",
    "LambdaCallback",
    "Layer",
    "LeakyReLU",
    "LearningRateScheduler",
    "Loss",
    "MLPClassifier",
    "MLPRegressor",
    "MeanSquaredError",
    "ModelFileError",
    "Network",
    "Optimizer",
    "Poisson",
    "PrintEvery",
    "ProgressBar",
    "RMSprop",
    "ReLU",
    "ResumeError",
    "Sigmoid",
    "Softmax",
    "SumSquaredError",
    "SynnetError",
    "Tanh",
    "gradcheck",
    "load",
    "set_threads",
]

_LAZY = {"MLPClassifier": "synnet.sklearn", "MLPRegressor": "synnet.sklearn"}


def __getattr__(name: str) -> Any:
    """Load the scikit-learn estimators only when asked for (PEP 562)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'synnet' has no attribute {name!r}")
