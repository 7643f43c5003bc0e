"""The error types synnet raises.

Every error synnet raises on purpose derives from :class:`SynnetError`, and also
from the built-in type a user would expect (``ValueError`` for bad values,
``TypeError`` for wrong types), so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class SynnetError(Exception):
    """Base class of every error synnet raises on purpose."""


class ConfigError(SynnetError, ValueError):
    """A bad setting: unknown name, out-of-range hyperparameter, mismatched layers."""


class DataError(SynnetError, ValueError):
    """Bad training or prediction data: wrong shape, NaN/inf, empty, wrong labels."""


class DivergenceError(SynnetError, ArithmeticError):
    """Training produced a non-finite loss; the network keeps its last finite weights."""


class ModelFileError(SynnetError, ValueError):
    """A model or checkpoint file that is corrupt, truncated, foreign or too new."""
