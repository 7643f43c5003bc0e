"""Shuffled minibatches gathered from column-major arrays (pandas' ``to_numpy()``)."""

from __future__ import annotations

import numpy as np
import pytest

import synnet


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_column_major_input_trains_exactly_as_row_major(dtype: type) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(301, 7)).astype(dtype)
    Y = np.eye(3)[rng.integers(0, 3, 301)].astype(dtype)

    def fit(X: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray]:
        net = synnet.Network([synnet.Dense(7, 5, activation="tanh"),
                              synnet.Dense(5, 3, activation="softmax")], seed=3)
        net.fit(X, Y, epochs=3, batch_size=32, optimizer="adam", loss="cross_entropy")
        return net.get_weights()

    c = fit(np.ascontiguousarray(X), np.ascontiguousarray(Y))
    f = fit(np.asfortranarray(X), np.asfortranarray(Y))
    assert np.asfortranarray(X).flags.f_contiguous and not np.asfortranarray(X).flags.c_contiguous
    for name, value in c.items():
        np.testing.assert_array_equal(f[name], value, err_msg=name)
