"""MLPClassifier and MLPRegressor: drop-in replacements for scikit-learn's (the ``sklearn`` extra).

An edge of the package: the only place that imports scikit-learn and scipy,
and nothing else in synnet imports it. ``synnet.MLPClassifier`` loads it on
first use.
"""

from synnet.sklearn.estimators import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
