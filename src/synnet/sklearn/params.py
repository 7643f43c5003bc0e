"""scikit-learn's MLP parameter table as synnet's estimators accept it, and their shared docs.

The constraints are scikit-learn 1.9's (checked against the installed
scikit-learn by the tests), widened only where synnet accepts more (activation
may be a list), plus synnet's own parameters.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from scipy.special import expit, softmax
from sklearn.utils._param_validation import Interval, Options, StrOptions

HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
# scikit-learn's names for output activations -> synnet's.
OUT_ACTIVATIONS = {"identity": "identity", "logistic": "logistic", "softmax": "softmax",
                    "exp": "exponential"}


def _softmax(z: np.ndarray) -> np.ndarray:
    return softmax(z, axis=1)


def _identity(z: np.ndarray) -> np.ndarray:
    return z


# scikit-learn's output functions on the logits (n, n_outputs), computed as it computes
# them for predictions: far out, probabilities are exactly 0 or 1 and exp overflows to
# inf, where synnet's own activations clip their input to stay finite.
OUTPUT_FUNCTIONS = {"identity": _identity, "logistic": expit, "softmax": _softmax,
                    "exp": np.exp}

CONSTRAINTS: dict[str, list[Any]] = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions(set(HIDDEN_ACTIVATIONS)), "array-like"],
    "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [Interval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "momentum": [Interval(Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="left")],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
    "max_fun": [Interval(Integral, 1, None, closed="left")],
    "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
    "callbacks": ["array-like", None],
}

SHARED_DOC = """
    Parameters shared with scikit-learn have its defaults and meanings; see
    ``sklearn.neural_network.{sk}``: hidden_layer_sizes, activation, solver,
    alpha, batch_size, learning_rate, learning_rate_init, power_t, max_iter,
    shuffle, random_state, tol, verbose, warm_start, momentum,
    nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2,
    epsilon, n_iter_no_change, max_fun{extra_shared}. Differences:

    - ``activation`` may also be a list with one name per hidden layer, e.g.
      ``["relu", "tanh"]``.
    - ``random_state=None`` draws fresh entropy; NumPy's global random state
      is never used (so ``np.random.seed`` does not make a fit reproducible:
      pass an int).
    - Training that diverges without ``early_stopping`` stops at once with
      scikit-learn's ``ValueError`` (a ``synnet.errors.NonFiniteWeightsError``),
      keeping the weights of the last finite step.

    Parameters synnet adds (their defaults keep scikit-learn's behaviour):

    dropout : float or list of float, default=0.0
        Dropout rate after each hidden layer (one rate, or one per hidden
        layer), in [0, 1). Active in training only; needs solver 'adam' or
        'sgd'.{class_weight}
    callbacks : list of synnet.Callback, default=None
        Passed to ``Network.fit`` after the estimator's own (solver 'adam' or
        'sgd'). They see the logs "loss" and, with early stopping, "val_loss";
        ``self.network.stop_training = True`` ends training.

    Fitted attributes are scikit-learn's (classes_, loss_, best_loss_,
    loss_curve_, validation_scores_, best_validation_score_, t_, coefs_,
    intercepts_, n_features_in_, feature_names_in_, n_iter_, n_layers_,
    n_outputs_, out_activation_), plus:

    validation_loss_curve_ : list of float or None
        Loss on the early-stopping validation split after each epoch (the data
        term, without the L2 penalty); None without early stopping.
    network_ : synnet.Network
        The trained network. ``coefs_[i]`` and ``intercepts_[i]`` are its
        arrays ``network_.params["<j>.W"]`` / ``["<j>.b"]`` themselves.
"""

CLASS_WEIGHT_DOC = """
    class_weight : dict, 'balanced' or None, default=None
        Weights per class, multiplied into ``sample_weight``: ``{label:
        weight}``, or 'balanced' for n_samples / (n_classes * count(label)).
        Not for multilabel targets, and 'balanced' not with partial_fit."""
