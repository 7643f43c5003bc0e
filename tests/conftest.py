"""Test-wide settings: every test runs with NumPy floating-point errors raising."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _raise_on_float_errors() -> Iterator[None]:
    """Overflow, invalid operations, division by zero and underflow all raise."""
    old = np.seterr(all="raise")
    try:
        yield
    finally:
        np.seterr(**old)
