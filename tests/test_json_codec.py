"""The one JSON codec: every value JSON cannot hold comes back as it went in."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from synnet.errors import ConfigError
from synnet.io.json_codec import decode, encode

scalars = st.one_of(st.none(), st.booleans(), st.text(max_size=8),
                    st.integers(-(2**70), 2**70), st.floats(allow_nan=True))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=20)


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@given(values)
def test_round_trip_through_strict_json(value) -> None:
    text = json.dumps(encode(value), allow_nan=False)  # strict JSON: no NaN literals
    assert same(decode(json.loads(text)), value)


def test_arrays_keep_their_dtype_and_numpy_scalars_become_numbers() -> None:
    for a in (np.arange(4, dtype=np.uint32), np.array([1.5, np.inf]), np.array([True])):
        back = decode(json.loads(json.dumps(encode(a), allow_nan=False)))
        assert back.dtype == a.dtype
        np.testing.assert_array_equal(back, a)
    assert encode(np.float32(0.5)) == 0.5 and encode(np.int64(3)) == 3
    assert encode(np.array(["a", "b"])) == ["a", "b"]  # text arrays are plain lists


@pytest.mark.parametrize("bad", [{"__float__": "1e999"}, {"__int__": 3},
                                 {"__array__": [1], "dtype": "O"},
                                 {"__array__": [1], "dtype": "V100000000"}])
def test_malformed_tags_are_refused(bad) -> None:
    with pytest.raises((ValueError, TypeError)):
        decode(bad)


def test_values_without_a_json_form_name_where_they_are() -> None:
    with pytest.raises(ConfigError, match=r"meta\['f'\] holds a object"):
        encode({"f": object()}, "meta")
    with pytest.raises(ConfigError, match="non-string key"):
        encode({1: 2})


@pytest.mark.parametrize("lookalike", [{"__float__": "abc"}, {"__int__": "12"},
                                       {"__array__": [1], "dtype": "<f8"}, {"__dict__": 1}])
def test_a_dict_that_looks_like_a_tag_comes_back_as_that_dict(lookalike) -> None:
    value = {"x": lookalike, "nested": [lookalike]}
    assert decode(json.loads(json.dumps(encode(value)))) == value
