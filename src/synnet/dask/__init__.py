"""Data-parallel training on a Dask cluster (the ``dask`` extra; the only package importing dask).

    from synnet.dask import DaskMLPClassifier, fit

``fit(network, X, y, client=...)`` trains a :class:`synnet.Network` on dask
arrays or dataframes where their partitions live; ``DaskMLPClassifier`` /
``DaskMLPRegressor`` are the scikit-learn estimators' counterparts, with
``to_local()`` returning the plain fitted estimator (they load scikit-learn on
first use; ``fit`` does not need it).
"""

from __future__ import annotations

try:
    import dask
    import dask.array
    import dask.dataframe  # noqa: F401
    import distributed  # noqa: F401
except ImportError as exc:
    raise ImportError("synnet.dask needs dask and distributed: pip install synnet[dask]"
                      ) from exc

from typing import Any

from synnet.dask.fit import MODES, fit
from synnet.dask.rounds import ClusterError, WorkerLostWarning

__all__ = ["MODES", "ClusterError", "DaskMLPClassifier", "DaskMLPRegressor",
           "WorkerLostWarning", "fit"]


def __getattr__(name: str) -> Any:
    # The estimators need scikit-learn; fit on a Network (and the CLI) does not.
    if name in ("DaskMLPClassifier", "DaskMLPRegressor"):
        from synnet.dask import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'synnet.dask' has no attribute {name!r}")
