"""The examples print the tutorial's lines with the tutorial's numbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synnet import tutorial

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(name: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args],
                          capture_output=True, text=True, check=True, timeout=300)
    return done.stdout


def test_two_layer_example_prints_the_published_output() -> None:
    lines = _run("two_layer.py").splitlines()
    assert lines[0] == "Output After Training:"
    printed = [float(line.strip(" []")) for line in lines[1:]]
    np.testing.assert_allclose(printed, tutorial.PUBLISHED_2LAYER_OUTPUT, rtol=1e-6)


@pytest.mark.parametrize("args,published", [((), tutorial.PUBLISHED_3LAYER_ERRORS),
                                            (("--xor",), tutorial.PUBLISHED_XOR_ERRORS)])
def test_three_layer_example_prints_the_error_trace(args: tuple[str, ...], published) -> None:  # type: ignore[no-untyped-def]
    lines = _run("three_layer.py", *args).splitlines()
    assert all(line.startswith("Error:") for line in lines) and len(lines) == 6
    np.testing.assert_allclose([float(line[6:]) for line in lines], published, rtol=1e-10)


def test_dropout_example_learns_xor() -> None:
    out = _run("dropout.py")
    rows = [float(line.strip(" []")) for line in out.split("prediction):")[1].split("\n") if line]
    assert np.round(rows).tolist() == [0, 1, 1, 0]
