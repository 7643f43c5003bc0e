"""synnet: feed-forward neural networks trained by backpropagation in plain NumPy.

The core API is imported here; scikit-learn estimators (``MLPClassifier``,
``MLPRegressor``) load lazily on first use so that ``import synnet`` imports
nothing beyond NumPy and tqdm.
"""

from __future__ import annotations

from typing import Any

from synnet.activations import (
    Activation,
    Exponential,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from synnet.base import Layer
from synnet.callbacks import (
    Callback,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    PrintEvery,
    ProgressBar,
)
from synnet.checkpoint import Checkpoint, ResumeError
from synnet.errors import ConfigError, DataError, DivergenceError, ModelFileError, SynnetError
from synnet.gradcheck import GradCheckResult, gradcheck
from synnet.layers import Dense, Dropout
from synnet.losses import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    Loss,
    MeanSquaredError,
    Poisson,
    SumSquaredError,
)
from synnet.network import Network
from synnet.optimizers import SGD, Adam, Optimizer, RMSprop
from synnet.serialization import load

__version__ = "0.1.0"

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
]

_LAZY = {"MLPClassifier": "synnet.sklearn_api", "MLPRegressor": "synnet.sklearn_api"}


def __getattr__(name: str) -> Any:
    """Load the scikit-learn estimators only when asked for (PEP 562)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'synnet' has no attribute {name!r}")
