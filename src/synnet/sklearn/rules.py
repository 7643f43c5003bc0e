"""scikit-learn's per-epoch MLP rules as synnet callbacks.

The rules keep their state in a :class:`Progress` (the estimator exposes its
fields as the fitted attributes ``n_iter_``, ``loss_curve_``, ``best_loss_``,
...), so that state carries over between warm-started fits and
``partial_fit`` calls exactly as in scikit-learn, and their settings in a
frozen :class:`RuleSettings`. They never touch the estimator itself. The
estimator passes them to ``Network.fit`` in this order, which is the order of
scikit-learn's epoch end:

1. :class:`EpochLog` -- ``n_iter``, ``t``, ``loss``, ``loss_curve``,
   ``validation_loss_curve``; prints "Iteration k, loss = ..." when verbose.
2. :class:`ValidationScore` (``early_stopping``) or :class:`TrainingLossTol`
   -- counts epochs without an improvement of at least ``tol``.
3. :class:`InvScaling` (``learning_rate='invscaling'``, sgd) --
   lr = learning_rate_init / (t + 1) ** power_t.
4. :class:`StopWhenStuck` -- after more than ``n_iter_no_change`` such epochs,
   stop; or with ``learning_rate='adaptive'`` (sgd) divide lr by 5 and go on,
   until lr <= 1e-6.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

from synnet._validation import check_int
from synnet.core.callback import Callback, Logs
from synnet.training.checkpoint_state import check_keys, check_weights

Weights = dict[str, np.ndarray]


@dataclass
class Progress:
    """What the rules track from epoch to epoch; ``present`` names the fields that are set.

    A field not in ``present`` is an attribute the estimator does not have (yet):
    ``loss_curve_`` after an lbfgs fit, ``validation_scores_`` before any fit.
    """

    n_iter: int = 0
    t: int = 0
    loss: float | None = None
    loss_curve: list[float] | None = None
    validation_loss_curve: list[float] | None = None
    validation_scores: list[float] | None = None
    best_validation_score: float | None = None
    best_loss: float | None = None
    no_improvement_count: int = 0
    best_weights: Weights | None = None
    present: set[str] = field(default_factory=set)

    def set(self, **values: Any) -> None:
        """Set fields and mark them present."""
        for name, value in values.items():
            setattr(self, name, value)
        self.present.update(values)

    def forget(self, *names: str) -> None:
        """Mark fields absent (their attributes disappear from the estimator)."""
        self.present.difference_update(names)


#: Progress fields that are public fitted attributes (``loss_curve`` -> ``loss_curve_``).
PUBLIC = ("n_iter", "t", "loss", "loss_curve", "validation_loss_curve", "validation_scores",
          "best_validation_score", "best_loss")


@dataclass(frozen=True)
class RuleSettings:
    """The estimator parameters the rules read."""

    tol: float
    n_iter_no_change: float
    verbose: bool
    early_stopping: bool
    learning_rate_init: float
    power_t: float


class _Rule(Callback):
    def __init__(self, progress: Progress, settings: RuleSettings) -> None:
        self.progress, self.settings = progress, settings

    def get_config(self) -> dict[str, Any]:
        """The settings a checkpoint's run must share (verbose changes nothing)."""
        config = asdict(self.settings)
        del config["verbose"]
        return config


class EpochLog(_Rule):
    """Record the epoch: counters, loss curves, and the verbose line.

    It also carries the rules' state through checkpoints (:meth:`get_state`),
    which is all the state these rules keep.
    """

    #: checkpoint keys (the fitted attributes' names) -> Progress fields
    STATE: ClassVar[dict[str, str]] = {**{f"{name}_": name for name in PUBLIC},
             "_no_improvement_count": "no_improvement_count"}

    def __init__(self, progress: Progress, settings: RuleSettings, n_train: int) -> None:
        super().__init__(progress, settings)
        self.n_train = n_train

    def get_state(self) -> dict[str, Any]:
        p = self.progress
        state = {key: getattr(p, name) if name in p.present or name == "no_improvement_count"
                 else None for key, name in self.STATE.items()}
        state["best_weights"] = p.best_weights
        return state

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n_train": self.n_train}

    def set_state(self, state: dict[str, Any]) -> None:
        state = check_keys(state, {*self.STATE, "best_weights"}, "EpochLog")
        values: dict[str, Any] = {}
        for key, name in self.STATE.items():
            value = state[key]
            if name in ("n_iter", "t", "no_improvement_count"):
                values[name] = check_int(key, value, 0)
            elif name.endswith("curve") or name == "validation_scores":
                if value is not None and not (isinstance(value, list) and all(
                        _is_number(v) for v in value)):
                    raise ValueError(f"EpochLog {key} must be a list of numbers or null")
                values[name] = None if value is None else [float(v) for v in value]
            elif value is not None and not _is_number(value):
                raise ValueError(f"EpochLog {key} must be a number or null")
            else:
                values[name] = None if value is None else float(value)
        weights = state["best_weights"]
        best = None if weights is None else check_weights(self.network, weights,
                                                          "EpochLog best_weights")
        p = self.progress
        p.set(**values)
        p.best_weights = best

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        p = self.progress
        loss = float(logs["loss"])
        p.set(n_iter=p.n_iter + 1, t=p.t + self.n_train, loss=loss)
        assert p.loss_curve is not None
        p.loss_curve.append(loss)
        if "val_loss" in logs and p.validation_loss_curve is not None:
            p.validation_loss_curve.append(float(logs["val_loss"]))
        if self.settings.verbose:
            print(f"Iteration {p.n_iter}, loss = {loss:.8f}")


class ValidationScore(_Rule):
    """early_stopping: score the held-out split, count non-improving epochs, keep the best.

    ``score(X, y, sample_weight)`` is the estimator's own score (accuracy or
    R^2). At the end of training the weights of the best-scoring epoch are put
    back, as scikit-learn does.
    """

    def __init__(self, progress: Progress, settings: RuleSettings,
                 score: Callable[[Any, Any, Any], float], X_val: Any, y_val: Any,
                 sw_val: Any) -> None:
        super().__init__(progress, settings)
        self.score = score
        self.X_val, self.y_val, self.sw_val = X_val, y_val, sw_val

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        p, s = self.progress, self.settings
        score = self.score(self.X_val, self.y_val, self.sw_val)
        assert p.validation_scores is not None and p.best_validation_score is not None
        p.validation_scores.append(score)
        if s.verbose:
            print(f"Validation score: {score:f}")
        if score < p.best_validation_score + s.tol:
            p.no_improvement_count += 1
        else:
            p.no_improvement_count = 0
        if score > p.best_validation_score:
            p.best_validation_score = score
            p.best_weights = self.network.get_weights()

    def on_train_end(self, logs: Logs) -> None:
        if self.progress.best_weights is not None:
            self.network.set_weights(self.progress.best_weights)


class TrainingLossTol(_Rule):
    """Without early stopping: count epochs whose loss is not ``tol`` below the best."""

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        p = self.progress
        assert p.loss_curve is not None and p.best_loss is not None
        loss = p.loss_curve[-1]
        if loss > p.best_loss - self.settings.tol:
            p.no_improvement_count += 1
        else:
            p.no_improvement_count = 0
        p.best_loss = min(p.best_loss, loss)


class InvScaling(_Rule):
    """lr = learning_rate_init / (t + 1) ** power_t, t counting samples seen."""

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        s = self.settings
        assert self.network.optimizer is not None
        self.network.optimizer.lr = s.learning_rate_init / (self.progress.t + 1) ** s.power_t


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class StopWhenStuck(_Rule):
    """Stop after more than ``n_iter_no_change`` epochs without improvement.

    With ``adapt=True`` (sgd with ``learning_rate='adaptive'``) divide the
    learning rate by 5 instead, and stop only once it is at most 1e-6.
    """

    def __init__(self, progress: Progress, settings: RuleSettings, adapt: bool) -> None:
        super().__init__(progress, settings)
        self.adapt = adapt

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "adapt": self.adapt}

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        p, s = self.progress, self.settings
        if not p.no_improvement_count > s.n_iter_no_change:
            return
        what = "Validation score" if s.early_stopping else "Training loss"
        msg = (f"{what} did not improve more than tol={s.tol:f} for "
               f"{s.n_iter_no_change} consecutive epochs.")
        optimizer = self.network.optimizer
        assert optimizer is not None
        if self.adapt:
            if optimizer.lr > 1e-6:
                optimizer.lr /= 5.0
                p.no_improvement_count = 0
                if s.verbose:
                    print(f"{msg} Setting learning rate to {optimizer.lr:f}")
                return
            msg += " Learning rate too small."
        if s.verbose:
            print(f"{msg} Stopping.")
        self.network.stop_training = True


class Tracked:
    """A fitted attribute stored in the estimator's :class:`Progress` (``loss_curve_``, ...).

    Reading an attribute whose field is absent raises AttributeError, as for
    any fitted attribute the estimator does not have.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name, self.field = name, name[:-1]

    def __get__(self, est: Any, owner: type | None = None) -> Any:
        if est is None:
            return self
        progress = est.__dict__.get("_progress")
        if progress is None or self.field not in progress.present:
            raise AttributeError(f"{type(est).__name__!r} object has no attribute {self.name!r}")
        return getattr(progress, self.field)

    def __set__(self, est: Any, value: Any) -> None:
        est.__dict__.setdefault("_progress", Progress()).set(**{self.field: value})

    def __delete__(self, est: Any) -> None:
        progress = est.__dict__.get("_progress")
        if progress is not None:
            progress.forget(self.field)

