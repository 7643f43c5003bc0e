"""Tabular preprocessing and target encoding (NumPy only), and their JSON round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import synnet
from synnet.errors import ConfigError, DataError
from synnet.tabular.model import Model
from synnet.tabular.preprocessing import Preprocessor, UnknownCategoryWarning
from synnet.tabular.target import TargetEncoder, check_classes, infer_task


def columns() -> dict[str, np.ndarray]:
    return {"age": np.array([20.0, 30.0, 40.0, 50.0]),
            "city": np.array(["Paris", "Oslo", "Paris", "Rome"], dtype=object),
            "n": np.array([1, 2, 3, 4])}


def test_numeric_columns_are_standardized_and_text_one_hot():
    pre = Preprocessor().fit(columns())
    X = pre.transform(columns())
    assert pre.output_names == ["age", "city=Oslo", "city=Paris", "city=Rome", "n"]
    ages = np.array([20, 30, 40, 50])
    np.testing.assert_allclose(X[:, 0], (ages - 35) / np.std(ages))
    np.testing.assert_array_equal(X[:, 1:4], [[0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_allclose(X[:, 4].mean(), 0.0, atol=1e-15)
    np.testing.assert_allclose(X[:, 4].std(), 1.0)


def test_constant_column_gets_scale_one():
    pre = Preprocessor().fit({"c": np.array([5.0, 5.0, 5.0])})
    assert pre.columns[0]["scale"] == 1.0
    np.testing.assert_array_equal(pre.transform({"c": np.array([5.0, 6.0])})[:, 0], [0.0, 1.0])


def test_unknown_categories_become_zeros_with_a_warning():
    pre = Preprocessor().fit(columns())
    new = {"age": np.array([25.0, 35.0]), "city": np.array(["Lima", "Oslo"], dtype=object),
           "n": np.array([1, 1])}
    with pytest.warns(UnknownCategoryWarning, match=r"'city' has 1 value\(s\).*'Lima'.*row 1"):
        X = pre.transform(new)
    np.testing.assert_array_equal(X[:, 1:4], [[0, 0, 0], [1, 0, 0]])


def test_missing_values_name_columns_and_rows():
    data = columns()
    data["age"] = np.array([20.0, np.nan, 40.0, np.nan])
    data["city"] = np.array(["Paris", None, "Paris", "Rome"], dtype=object)
    with pytest.raises(DataError, match=r"column 'age' \(rows 2, 4\) and column 'city' "
                                        r"\(row 2\).*impute='mean'"):
        Preprocessor().fit(data)


@pytest.mark.parametrize("strategy, age_fill", [("mean", 30.0), ("median", 25.0),
                                                 ("most_frequent", 10.0)])
def test_imputation_uses_training_statistics(strategy, age_fill):
    data = {"age": np.array([10.0, np.nan, 10.0, 40.0, 60.0]),
            "city": np.array(["Rome", "Oslo", None, "Rome", "Rome"], dtype=object)}
    pre = Preprocessor(impute=strategy).fit(data)
    age, city = pre.columns
    assert age["fill"] == age_fill and city["fill"] == "Rome"
    X = pre.transform({"age": np.array([np.nan]), "city": np.array([None], dtype=object)})
    assert X[0, 0] == pytest.approx((age_fill - age["mean"]) / age["scale"])
    assert X[0, 1:].tolist() == [0.0, 1.0]  # Oslo, Rome


def test_text_in_a_numeric_column_names_the_row():
    data = {"x": np.array(["1.5", "2", "3", "oops", "4"], dtype=object)}
    with pytest.raises(DataError, match=r"column 'x' must be numeric .* row 4: 'oops'"):
        Preprocessor().fit(data)
    pre = Preprocessor(categorical=["x"]).fit(data)  # unless it is declared categorical
    assert pre.columns[0]["categories"] == ["1.5", "2", "3", "4", "oops"]


def test_numeric_text_is_parsed_and_mostly_text_is_categorical():
    pre = Preprocessor().fit({"a": np.array(["1", "2.5", "4"], dtype=object),
                              "b": np.array(["x", "y", "3"], dtype=object)})
    assert [c["kind"] for c in pre.columns] == ["numeric", "categorical"]


def test_infinite_values_are_an_error():
    with pytest.raises(DataError, match=r"'x' has infinite values in row 2"):
        Preprocessor().fit({"x": np.array([1.0, np.inf, 2.0])})


def test_text_with_nul_characters_keeps_its_categories_and_fill():
    pre = Preprocessor(impute="most_frequent").fit(
        {"w": np.array(["a\x00", "a\x00", "b", None], dtype=object)})
    assert pre.columns[0]["categories"] == ["a\x00", "b"]
    assert pre.columns[0]["fill"] == "a\x00"


def test_numbers_as_categories_match_across_int_and_float():
    pre = Preprocessor(categorical=["zip"]).fit({"zip": np.array([75001, 10115, 75001])})
    assert pre.columns[0]["categories"] == ["10115", "75001"]
    X = pre.transform({"zip": np.array([75001.0, 10115.0])})
    np.testing.assert_array_equal(X, [[0, 1], [1, 0]])


def test_predict_side_checks():
    pre = Preprocessor().fit(columns())
    with pytest.raises(DataError, match=r"lacks column 'n'"):
        pre.transform({"age": np.array([1.0]), "city": np.array(["Oslo"], dtype=object)})
    bad = dict(columns(), age=np.array(["x", "1", "2", "3"], dtype=object))
    with pytest.raises(DataError, match=r"'age' must be numeric \(the model was trained on "
                                        r"numbers\) but has text in row 1"):
        pre.transform(bad)
    with pytest.raises(ConfigError, match="not fitted"):
        Preprocessor().transform(columns())
    with pytest.raises(ConfigError, match="impute"):
        Preprocessor(impute="zero")
    with pytest.raises(ConfigError, match="'nope'"):
        Preprocessor(categorical=["nope"]).fit(columns())


def test_config_round_trips_through_json_exactly():
    pre = Preprocessor(impute="mean").fit({"a": np.array([0.1, 0.2, 0.7, np.nan]),
                                           "b": np.array(["u", "v", None, "u"], dtype=object)})
    again = Preprocessor.from_config(json.loads(json.dumps(pre.to_config())))
    data = {"a": np.array([0.3, np.nan]), "b": np.array(["v", None], dtype=object)}
    np.testing.assert_array_equal(again.transform(data), pre.transform(data))


@pytest.mark.parametrize("column", [
    {"name": "a", "kind": "numeric", "mean": 0.0, "scale": 0.0},
    {"name": "a", "kind": "numeric", "mean": "0", "scale": 1.0},
    {"name": "a", "kind": "numeric", "mean": 0.0, "scale": 1.0, "code": "x"},
    {"name": "a", "kind": "categorical", "categories": ["x", "x"]},
    {"name": "a", "kind": "categorical", "categories": [1, 2]},
    {"name": "", "kind": "categorical", "categories": ["x"]},
    {"name": "a", "kind": "pickle"},
])
def test_from_config_rejects_bad_columns(column):
    with pytest.raises(ValueError):
        Preprocessor.from_config({"impute": None, "columns": [column]})


def test_from_config_rejects_duplicates_and_bad_fill():
    col = {"name": "a", "kind": "numeric", "mean": 0.0, "scale": 1.0}
    with pytest.raises(ValueError, match="duplicate"):
        Preprocessor.from_config({"impute": None, "columns": [col, col]})
    cat = {"name": "c", "kind": "categorical", "categories": ["x"], "fill": "y"}
    with pytest.raises(ValueError, match="fill"):
        Preprocessor.from_config({"impute": "mean", "columns": [cat]})


# -- the target -------------------------------------------------------------------------


@pytest.mark.parametrize("values, task", [
    (np.array(["a", "b"], dtype=object), "classification"),
    (np.array([True, False, True]), "classification"),
    (np.array([0, 1, 2, 1, 0, 2]), "classification"),
    (np.array([1.0, 2.0, 1.0, 2.0]), "classification"),
    (np.array([0.5, 1.25, 3.0]), "regression"),
    (np.arange(100), "regression"),
])
def test_infer_task(values, task):
    assert infer_task(values)[0] == task


def test_classification_target_keeps_original_labels():
    enc = TargetEncoder("classification", "species").fit(
        np.array(["b", "a", "c", "a"], dtype=object))
    assert enc.classes.tolist() == ["a", "b", "c"] and enc.n_outputs == 3
    codes, known = enc.encode(np.array(["c", "z", "a"], dtype=object))
    assert codes.tolist() == [2, -1, 0] and known.tolist() == [True, False, True]
    assert enc.labels(np.array([1, 0])).tolist() == ["b", "a"]
    ints = TargetEncoder("classification").fit(np.array([3, 7, 3]))
    assert ints.classes.tolist() == [3, 7] and ints.n_outputs == 1
    assert ints.encode(np.array([7.0, 3.0]))[0].tolist() == [1, 0]
    assert ints.encode(np.array(["7", "x"], dtype=object))[0].tolist() == [1, -1]


def test_target_errors():
    with pytest.raises(DataError, match=r"single class \('k'\)"):
        TargetEncoder("classification", "y").fit(np.array(["k", "k"], dtype=object))
    with pytest.raises(DataError, match=r"target 'y' is missing in row 2"):
        TargetEncoder("classification", "y").fit(np.array(["a", None, "b"], dtype=object))
    with pytest.raises(DataError, match=r"regression needs numbers.*row 2: 'x'"):
        TargetEncoder("regression", "y").fit(np.array(["1", "x", "2"], dtype=object))
    with pytest.raises(ConfigError):
        TargetEncoder("ranking")


def test_regression_target_standardizes_and_decodes():
    y = np.array([10.0, 20.0, 30.0])
    enc = TargetEncoder("regression", "price").fit(y)
    z, _ = enc.encode(y)
    np.testing.assert_allclose([z.mean(), z.std()], [0.0, 1.0], atol=1e-15)
    np.testing.assert_allclose(enc.decode(z[:, None]), y)
    again = TargetEncoder.from_config(json.loads(json.dumps(enc.to_config())))
    np.testing.assert_array_equal(again.decode(z[:, None]), enc.decode(z[:, None]))


def test_check_classes():
    assert check_classes([2, 1.5]).tolist() == [2.0, 1.5]
    for bad in (["a", 1], [1], [1, 1], [float("inf"), 1.0]):
        with pytest.raises(ValueError):
            check_classes(bad)


# -- property: a fitted preprocessing survives its JSON form and a model file -----------


@settings(max_examples=40, deadline=None)
@given(
    numbers=st.lists(st.floats(-1e6, 1e6, allow_subnormal=False), min_size=2, max_size=12),
    words=st.lists(st.text(min_size=1, max_size=5), min_size=2, max_size=12),
    impute=st.sampled_from([None, "mean", "median", "most_frequent"]),
)
def test_model_file_round_trip_reproduces_predictions(tmp_path_factory, numbers, words, impute):
    n = min(len(numbers), len(words))
    data = {"num": np.array(numbers[:n]), "word": np.array(words[:n], dtype=object)}
    pre = Preprocessor(impute=impute, categorical=["word"]).fit(data)
    target = TargetEncoder("regression", "y").fit(np.arange(n, dtype=float))
    net = synnet.Network([synnet.Dense(pre.n_outputs, 2, "tanh"), synnet.Dense(2, 1)], seed=0)
    model = Model(net, pre, target)
    path = tmp_path_factory.mktemp("rt") / "m.synnet"
    model.save(path)
    loaded = synnet.load(path)
    assert loaded.preprocessor.to_config() == pre.to_config()
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))
