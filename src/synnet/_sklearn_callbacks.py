"""scikit-learn's per-epoch MLP rules as synnet callbacks.

Each callback reads and writes fitted attributes of the estimator it serves
(``loss_curve_``, ``best_loss_``, ...), so that state carries over between
warm-started fits and ``partial_fit`` calls exactly as in scikit-learn. The
estimator passes them to ``Network.fit`` in this order, which is the order of
scikit-learn's epoch end:

1. :class:`EpochLog` -- ``n_iter_``, ``t_``, ``loss_``, ``loss_curve_``,
   ``validation_loss_curve_``; prints "Iteration k, loss = ..." when verbose.
2. :class:`ValidationScore` (``early_stopping``) or :class:`TrainingLossTol`
   -- counts epochs without an improvement of at least ``tol``.
3. :class:`InvScaling` (``learning_rate='invscaling'``, sgd) --
   lr = learning_rate_init / (t_ + 1) ** power_t.
4. :class:`StopWhenStuck` -- after more than ``n_iter_no_change`` such epochs,
   stop; or with ``learning_rate='adaptive'`` (sgd) divide lr by 5 and go on,
   until lr <= 1e-6.
"""

from __future__ import annotations

from typing import Any

from synnet.callbacks import Callback, Logs


class _EstimatorCallback(Callback):
    def __init__(self, estimator: Any) -> None:
        self.est = estimator


class EpochLog(_EstimatorCallback):
    """Record the epoch: counters, loss curves, and the verbose line.

    It also carries the estimator's training state through checkpoints
    (:meth:`get_state`), which is all the state these rules keep.
    """

    #: estimator attributes that evolve epoch by epoch (restored on resume)
    STATE = ("n_iter_", "t_", "loss_", "loss_curve_", "validation_loss_curve_",
             "validation_scores_", "best_validation_score_", "best_loss_",
             "_no_improvement_count")

    def __init__(self, estimator: Any, n_train: int) -> None:
        super().__init__(estimator)
        self.n_train = n_train

    def get_state(self) -> dict[str, Any]:
        est = self.est
        state = {name: getattr(est, name, None) for name in self.STATE}
        state["best_weights"] = est._best_weights
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        for name in self.STATE:
            setattr(self.est, name, state[name])
        self.est._best_weights = state["best_weights"]

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        est = self.est
        est.n_iter_ += 1
        est.t_ += self.n_train
        est.loss_ = float(logs["loss"])
        est.loss_curve_.append(est.loss_)
        if "val_loss" in logs and est.validation_loss_curve_ is not None:
            est.validation_loss_curve_.append(float(logs["val_loss"]))
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}")


class ValidationScore(_EstimatorCallback):
    """early_stopping: score the held-out split, count non-improving epochs, keep the best.

    The score is the estimator's own (accuracy or R^2). At the end of training
    the weights of the best-scoring epoch are put back, as scikit-learn does.
    """

    def __init__(self, estimator: Any, X_val: Any, y_val: Any, sw_val: Any) -> None:
        super().__init__(estimator)
        self.X_val, self.y_val, self.sw_val = X_val, y_val, sw_val

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        est = self.est
        score = est._validation_score(self.X_val, self.y_val, self.sw_val)
        est.validation_scores_.append(score)
        if est.verbose:
            print(f"Validation score: {score:f}")
        if score < est.best_validation_score_ + est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if score > est.best_validation_score_:
            est.best_validation_score_ = score
            est._best_weights = self.network.get_weights()

    def on_train_end(self, logs: Logs) -> None:
        if self.est._best_weights is not None:
            self.network.set_weights(self.est._best_weights)


class TrainingLossTol(_EstimatorCallback):
    """Without early stopping: count epochs whose loss is not ``tol`` below the best."""

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        est = self.est
        loss = est.loss_curve_[-1]
        if loss > est.best_loss_ - est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        est.best_loss_ = min(est.best_loss_, loss)


class InvScaling(_EstimatorCallback):
    """lr = learning_rate_init / (t_ + 1) ** power_t, t_ counting samples seen."""

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        est = self.est
        assert self.network.optimizer is not None
        self.network.optimizer.lr = est.learning_rate_init / (est.t_ + 1) ** est.power_t


class StopWhenStuck(_EstimatorCallback):
    """Stop after more than ``n_iter_no_change`` epochs without improvement.

    With ``adapt=True`` (sgd with ``learning_rate='adaptive'``) divide the
    learning rate by 5 instead, and stop only once it is at most 1e-6.
    """

    def __init__(self, estimator: Any, adapt: bool) -> None:
        super().__init__(estimator)
        self.adapt = adapt

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        est = self.est
        if not est._no_improvement_count > est.n_iter_no_change:
            return
        what = "Validation score" if est.early_stopping else "Training loss"
        msg = (f"{what} did not improve more than tol={est.tol:f} for "
               f"{est.n_iter_no_change} consecutive epochs.")
        optimizer = self.network.optimizer
        assert optimizer is not None
        if self.adapt:
            if optimizer.lr > 1e-6:
                optimizer.lr /= 5.0
                est._no_improvement_count = 0
                if est.verbose:
                    print(f"{msg} Setting learning rate to {optimizer.lr:f}")
                return
            msg += " Learning rate too small."
        if est.verbose:
            print(f"{msg} Stopping.")
        self.network.stop_training = True

