"""Data-parallel training on a Dask cluster (the ``dask`` extra; the only package importing dask).

    from synnet.dask import DaskMLPClassifier, fit

``fit(network, X, y, client=...)`` trains a :class:`synnet.Network` on dask
arrays or dataframes where their partitions live; ``DaskMLPClassifier`` /
``DaskMLPRegressor`` are the scikit-learn estimators' counterparts, with
``to_local()`` returning the plain fitted estimator.
"""

from __future__ import annotations

try:
    import dask  # noqa: F401
    import dask.array  # noqa: F401
    import dask.dataframe  # noqa: F401
    import distributed  # noqa: F401
except ImportError as exc:
    raise ImportError("synnet.dask needs dask and distributed: pip install synnet[dask]"
                      ) from exc

from synnet.dask.estimators import DaskMLPClassifier, DaskMLPRegressor
from synnet.dask.fit import MODES, fit
from synnet.dask.rounds import ClusterError, WorkerLostWarning

__all__ = ["MODES", "ClusterError", "DaskMLPClassifier", "DaskMLPRegressor",
           "WorkerLostWarning", "fit"]
