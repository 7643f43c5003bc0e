"""scikit-learn's early-stopping split: the same rows held out, the same errors.

scikit-learn's MLP (``_fit_stochastic``) holds out ``validation_fraction`` of
the rows with ``train_test_split``, drawing from the estimator's random state
right after the initial weights, stratified by the binarized labels when the
network has a single output unit (binary classification, or one class), and
then refuses a validation set of fewer than 2 rows. This module does exactly
that, so the estimators hold out the same rows and raise the same errors (e.g.
"The least populated classes in y have only 1 member ...").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import _check_sample_weight


@dataclass
class Part:
    """Rows of the data: X (n, n_features), the training targets, the labels, the weights."""

    X: Any
    targets: np.ndarray
    labels: Any
    sample_weight: np.ndarray | None


def early_stopping_split(data: Part, *, validation_fraction: float, stratify: np.ndarray | None,
                         rng: np.random.RandomState) -> tuple[Part, Part]:
    """(train, validation) as scikit-learn splits them; ``rng`` advances as scikit-learn's.

    ``stratify`` is what scikit-learn stratifies by: the (n, 1) 0/1 targets as
    bools for a single-output classifier, else None.
    """
    arrays = [data.X, data.targets, data.labels]
    if data.sample_weight is not None:
        arrays.append(data.sample_weight)
    parts = train_test_split(*arrays, random_state=rng, test_size=validation_fraction,
                             stratify=stratify)
    if parts[1].shape[0] < 2:
        raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                         "or the size of your dataset.")
    train, val = parts[0::2], parts[1::2]
    if data.sample_weight is None:
        train.append(None)
        val.append(None)
    else:
        # scikit-learn's scores refuse a validation split whose weights are all zero
        # (after its first epoch); the same check and error, before any work here.
        _check_sample_weight(val[3], val[0])
    return Part(*train), Part(*val)


def stratify_by(targets: np.ndarray, single_output_classifier: bool) -> np.ndarray | None:
    """scikit-learn's ``stratify``: the 0/1 targets as bools when it stratifies, else None.

    (Bools, as scikit-learn has them, so its error messages name the classes
    'True' and 'False' as scikit-learn's do.)
    """
    return targets.astype(bool) if single_output_classifier else None
