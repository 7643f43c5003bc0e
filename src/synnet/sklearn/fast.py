"""The estimators' fast path for prediction: a plain array that needs no conversion.

Serving code calls ``predict`` one row at a time, where scikit-learn's
``validate_data`` costs several times the network's forward pass. For the
common input, a C-ordered or F-ordered ``np.ndarray`` (n_samples, n_features_in_)
already in the network's dtype, nothing needs converting, and the checks that
matter are cheap: fitted, 2-D, at least one row, the width seen in fit, every
value finite, and no feature names expected (an estimator fitted on a
DataFrame warns about an unnamed array, which the full path does).

:func:`fast_input` answers with the array when all of that holds and None
otherwise; the estimator then takes its full validation path, which raises
the same errors (and warnings) as it always did. Both paths then run the same
forward pass on the same array, so their results are identical.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def fast_input(estimator: Any, X: Any) -> np.ndarray | None:
    """``X`` itself if it needs no validation beyond these checks, else None.

    Args:
        estimator: a synnet ``MLPClassifier`` or ``MLPRegressor``.
        X: what the caller passed to ``predict`` / ``predict_proba``.
    """
    network = estimator.__dict__.get("network_")
    if (network is None or type(X) is not np.ndarray or X.ndim != 2 or X.shape[0] == 0
            or X.shape[1] != estimator.__dict__.get("n_features_in_")
            or "feature_names_in_" in estimator.__dict__
            or X.dtype != network.param_dtype):
        return None
    # NaN and inf propagate into the sum; an overflowing sum only sends X the long way.
    with np.errstate(all="ignore"):
        total = float(np.add.reduce(X, axis=None))
    return X if math.isfinite(total) else None
