"""The error types synnet raises.

Every error synnet raises on purpose derives from :class:`SynnetError`, and also
from the built-in type a user would expect (``ValueError`` for bad values,
``TypeError`` for wrong types), so ``except ValueError`` keeps working.

An error may name the Python parameters it is about (``params``): the library's
messages speak of ``impute=`` or ``epochs``, and the command line, which knows
which flag sets which parameter, adds its own hint (``--impute``, ``--epochs``).
"""

from __future__ import annotations

from collections.abc import Iterable


class SynnetError(Exception):
    """Base class of every error synnet raises on purpose.

    Args:
        message: what is wrong and what to do.
        params: names of the Python parameters the error is about, if any.
    """

    def __init__(self, message: str = "", *, params: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.params: tuple[str, ...] = tuple(params)


class ConfigError(SynnetError, ValueError):
    """A bad setting: unknown name, out-of-range hyperparameter, mismatched layers."""


class DataError(SynnetError, ValueError):
    """Bad training or prediction data: wrong shape, NaN/inf, empty, wrong labels."""


class DivergenceError(SynnetError, ArithmeticError):
    """Training produced a non-finite loss; the network keeps its last finite weights."""


class NonFiniteWeightsError(DivergenceError, ValueError):
    """scikit-learn's estimators: training diverged (a ``ValueError`` there, as in scikit-learn)."""


class ModelFileError(SynnetError, ValueError):
    """A model or checkpoint file that is corrupt, truncated, foreign or too new."""


class ResumeError(SynnetError, ValueError):
    """A checkpoint exists but cannot continue this run (other data or settings)."""
