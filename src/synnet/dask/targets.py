"""Targets and features of dask collections, checked and encoded partition by partition."""

from __future__ import annotations

from functools import partial
from typing import Any

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd

from synnet.errors import DataError


def data_dtype(X: Any) -> np.dtype[Any]:
    """float32 data trains in float32, anything else in float64 (as Network.fit does)."""
    dtypes = list(X.dtypes) if isinstance(X, dd.DataFrame) else [X.dtype]
    return np.dtype(np.float32 if all(d == np.float32 for d in dtypes) else np.float64)


def check_features(X: Any) -> None:
    """Refuse dataframe columns that are not numbers, saying what to do instead."""
    if not isinstance(X, dd.DataFrame):
        if isinstance(X, da.Array) and X.ndim != 2:
            raise DataError(f"X must be 2-D (n_samples, n_features), got {X.ndim}-D",
                            params=["X"])
        return
    bad = [str(c) for c, t in X.dtypes.items()
           if isinstance(t, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(t)]
    if bad:
        raise DataError(f"X has non-numeric columns {bad}; one-hot encode them first, e.g. "
                        "X = dd.get_dummies(X.categorize(columns=[...]), dtype=float)",
                        params=["X"])


def unique_labels(y: Any) -> np.ndarray:
    """The sorted distinct labels of a dask array or series (computed on the cluster)."""
    if isinstance(y, dd.Series):
        if isinstance(y.dtype, pd.CategoricalDtype):
            y = y.cat.as_unknown()  # the labels present, not every declared category
        values = np.asarray(y.dropna().unique().compute())
        if len(values) != len(np.asarray(y.unique().compute())):
            raise DataError("y has missing labels; drop those rows or fill them",
                            params=["y"])
    elif isinstance(y, da.Array):
        if y.ndim != 1:
            raise DataError(f"y must be 1-D class labels, got shape {y.shape} "
                            "(multilabel targets are not supported on Dask yet)", params=["y"])
        values = np.asarray(da.unique(y).compute())
    else:
        raise DataError(f"y must be a dask array or series, not {type(y).__name__}",
                        params=["y"])
    return np.sort(values)


def encode_labels(y: Any, classes: np.ndarray) -> Any:
    """Labels -> class codes (multiclass) or 0/1 (binary), blockwise, same partitions as y."""
    fn = partial(_codes, classes)
    if isinstance(y, dd.Series):
        return y.map_partitions(_series_codes, classes, meta=(y.name, _code_dtype(classes)))
    return y.map_blocks(fn, dtype=_code_dtype(classes))


def _code_dtype(classes: np.ndarray) -> np.dtype[Any]:
    return np.dtype(np.float64 if len(classes) == 2 else np.int64)


def _codes(classes: np.ndarray, values: Any) -> np.ndarray:
    values = np.asarray(values)
    if len(classes) == 2:
        return (values == classes[1]).astype(np.float64)
    return np.searchsorted(classes, values)


def _series_codes(s: pd.Series, classes: np.ndarray) -> pd.Series:
    return pd.Series(_codes(classes, s.to_numpy()), index=s.index, name=s.name)


def as_rows(x: Any) -> Any:
    """A dask array with one block across the columns and known row chunks.

    A dataframe's partition lengths are counted (one pass), so results line up
    with other collections partitioned alike (y in ``score``).
    """
    if isinstance(x, dd.Series) and not pd.api.types.is_numeric_dtype(x.dtype):
        x = x.astype(object)  # labels (strings, categories) compare as Python objects
    if isinstance(x, (dd.DataFrame, dd.Series)):
        return x.to_dask_array(lengths=True)
    return x.rechunk({1: -1}) if x.ndim == 2 and x.numblocks[1] > 1 else x
