"""One streaming pass gives the preprocessing and target statistics of the whole table."""

from __future__ import annotations

import numpy as np
import pytest

from synnet.errors import ConfigError, DataError
from synnet.tabular.files import Table
from synnet.tabular.preprocessing import Preprocessor
from synnet.tabular.streaming import Moments, fit_streaming
from synnet.tabular.target import TargetEncoder


def _table(n: int, seed: int = 0, missing: bool = False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    big = rng.normal(1e3, 1.0, n)
    counts = rng.integers(0, 10, n)
    colour = rng.choice(np.array(["red", "green", "blue", "x, y"], dtype=object), n)
    text_numbers = np.array([f"{v:.3f}" for v in rng.normal(size=n)], dtype=object)
    label = rng.choice(np.array(["a", "b", "c"], dtype=object), n)
    value = rng.normal(5.0, 2.0, n)
    if missing:
        big[rng.random(n) < 0.1] = np.nan
        colour[rng.random(n) < 0.1] = None
        text_numbers[rng.random(n) < 0.1] = None
    return {"big": big, "counts": counts, "colour": colour, "text_numbers": text_numbers,
            "label": label, "value": value}


def _chunks(columns: dict[str, np.ndarray], size: int) -> list[Table]:
    n = len(next(iter(columns.values())))
    return [Table({k: v[s:s + size] for k, v in columns.items()})
            for s in range(0, n, size)]


def _close(a: object, b: object) -> None:
    """Equal structures, numbers to 1e-12 relative."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys()
        for k in a:
            _close(a[k], b[k])
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _close(x, y)
    elif isinstance(a, float):
        assert b == pytest.approx(a, rel=1e-12, abs=0.0), (a, b)
    else:
        assert a == b


NAMES = ["big", "counts", "colour", "text_numbers"]


@pytest.mark.parametrize("impute,missing", [(None, False), ("mean", True),
                                            ("most_frequent", True)])
@pytest.mark.parametrize("size", [1, 37, 1000, 5000])
def test_streaming_statistics_equal_the_whole_tables(impute: str | None, missing: bool,
                                                     size: int) -> None:
    columns = _table(3000 if size > 1 else 200, missing=missing)
    for task, target in (("classification", "label"), ("regression", "value")):
        expected = Preprocessor(impute, ["counts"]).fit(columns, NAMES)
        expected_target = TargetEncoder(task, target).fit(columns[target])
        pre, enc, rows, _ = fit_streaming(_chunks(columns, size), NAMES, target, task,
                                       impute=impute, categorical=["counts"])
        assert rows == len(columns["big"])
        _close(expected.to_config(), pre.to_config())
        _close(expected_target.to_config(), enc.to_config())
        # ... and they transform alike
        np.testing.assert_allclose(pre.transform(columns), expected.transform(columns),
                                   rtol=1e-9, atol=1e-9)


def test_merged_moments_are_stable_where_naive_sums_are_not() -> None:
    """A large mean and a tiny spread: sum(x^2) - n mean^2 loses every digit; merging does not."""
    import math

    x = 1e9 + np.random.default_rng(1).normal(0, 1e-2, 100_000)
    m = Moments()
    for s in range(0, len(x), 333):
        m.add(x[s:s + 333])
    mean = math.fsum(x) / len(x)  # correctly rounded sums as the reference
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in x.tolist()) / len(x))
    assert m.mean == pytest.approx(mean, rel=1e-15)
    assert m.std() == pytest.approx(std, rel=1e-6)  # the data's own rounding: ~1e-7
    naive = math.sqrt(max(0.0, float(np.mean(x * x)) - float(np.mean(x)) ** 2))
    assert naive != pytest.approx(std, rel=1e-2)


def test_errors_name_rows_of_the_whole_file() -> None:
    columns = _table(300, missing=True)
    with pytest.raises(DataError, match="missing") as info:
        fit_streaming(_chunks(columns, 50), NAMES, "label", "classification")
    assert "more" in str(info.value)
    columns = _table(300)
    columns["text_numbers"][250] = "oops"
    with pytest.raises(DataError, match=r"row 251: 'oops'"):
        fit_streaming(_chunks(columns, 100), NAMES, "label", "classification")
    columns = _table(300)
    columns["label"][:] = "a"
    with pytest.raises(DataError, match="single class"):
        fit_streaming(_chunks(columns, 100), NAMES, "label", "classification")
    with pytest.raises(ConfigError, match="median"):
        fit_streaming([], NAMES, "label", "classification", impute="median")


def test_features_from_some_rows_and_classes_from_all() -> None:
    """As the in-memory job: preprocessing from the training rows, classes from every row."""
    columns = _table(1000)
    columns["label"][997] = "only-in-validation"
    train = np.arange(1000) % 4 != 0
    train[997] = False
    pre, enc, rows, _ = fit_streaming(_chunks(columns, 128), NAMES, "label", "classification",
                                   feature_rows=lambda ids: train[ids])
    assert rows == int(train.sum())
    expected = Preprocessor().fit({k: v[train] for k, v in columns.items()}, NAMES)
    _close(expected.to_config(), pre.to_config())
    _close(TargetEncoder("classification", "label").fit(columns["label"]).to_config(),
           enc.to_config())
    assert "only-in-validation" in enc.to_config()["classes"]


def test_a_numeric_column_counts_few_distinct_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory stays bounded: past NUMBER_DISTINCT numbers a column is numbers only, so text
    arriving later cannot make categories of them (refused, naming the way out)."""
    from synnet.tabular import streaming

    monkeypatch.setattr(streaming, "NUMBER_DISTINCT", 50)
    n = 300
    columns = _table(n)
    numbers = np.arange(n, dtype=object)
    numbers[100:] = "text"  # later chunks are text: as a whole the column is categorical
    columns["big"] = numbers
    expected = Preprocessor().fit({**columns, "big": numbers}, NAMES)
    assert expected.columns[0]["kind"] == "categorical"  # what the whole table says
    chunked = [Table({k: (v[s:s + 100].astype(np.int64) if k == "big" and s < 100 else
                          v[s:s + 100]) for k, v in columns.items()}) for s in range(0, n, 100)]
    with pytest.raises(DataError, match="declare it categorical"):
        fit_streaming(chunked, NAMES, "label", "classification")
    pre, _, _, _ = fit_streaming(chunked, NAMES, "label", "classification", categorical=["big"])
    _close(Preprocessor(categorical=["big"]).fit(columns, NAMES).to_config(), pre.to_config())


def _rules_table(n: int, seed: int = 3) -> dict[str, np.ndarray]:
    """Columns the in-memory rules act on: a row number, a code per row, rare categories."""
    rng = np.random.default_rng(seed)
    rare = rng.choice(np.array(["a", "b", "c", "d", "e", "f"], dtype=object), n,
                      p=[0.4, 0.3, 0.15, 0.1, 0.03, 0.02])
    return {"row": np.arange(n) * 2 + 7, "code": np.array([f"K{i:05d}" for i in
                                                           rng.permutation(n)], dtype=object),
            "many": np.array([f"t{i % (n // 2 + 3)}" for i in range(n)], dtype=object),
            "rare": rare, "x": rng.normal(size=n), "label": rng.choice(np.array(["p", "q"]), n)}


@pytest.mark.parametrize("max_categories,min_frequency", [(None, None), (3, None), (None, 10),
                                                          (4, 0.05), (1, None)])
@pytest.mark.parametrize("impute", [None, "most_frequent"])
@pytest.mark.parametrize("held_out", [False, True])
def test_streaming_follows_the_column_rules_of_the_in_memory_fit(
        max_categories: int | None, min_frequency: float | None, impute: str | None,
        held_out: bool) -> None:
    from synnet.tabular.preprocessing import ignored_columns

    columns = _rules_table(600)
    if impute:
        columns["rare"][::17] = None
    names = ["row", "code", "many", "rare", "x"]
    train = np.arange(600) % 4 != 0 if held_out else np.ones(600, dtype=bool)
    feature_rows = (lambda ids: ids % 4 != 0) if held_out else None
    pre, _, rows, ignored = fit_streaming(
        _chunks(columns, 64), names, "label", "classification", impute,
        feature_rows=feature_rows, max_categories=max_categories, min_frequency=min_frequency,
        keep=[])
    # The in-memory job: IDs over every row, the preprocessing from the training rows.
    expected_ignored = ignored_columns(columns, names, [])
    assert ignored == expected_ignored and set(ignored) == {"row", "code", "many"}
    kept = [n for n in names if n not in expected_ignored]
    expected = Preprocessor(impute, (), max_categories, min_frequency).fit(
        {k: v[train] for k, v in columns.items()}, kept)
    assert rows == int(train.sum())
    _close(expected.to_config(), pre.to_config())
    if max_categories == 3:
        assert pre.columns[0]["infrequent"]  # the grouping did act


def test_streaming_keeps_named_columns_and_refuses_what_one_pass_cannot_tell(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from synnet.tabular import streaming

    columns = _rules_table(300)
    names = ["row", "code", "rare", "x"]
    pre, _, _, ignored = fit_streaming(_chunks(columns, 50), names, "label", "classification",
                                       keep=["row", "code"])
    assert ignored == {} and pre.input_names == names
    # Unordered whole numbers still all different when counting stops: may be an ID.
    monkeypatch.setattr(streaming, "NUMBER_DISTINCT", 100)
    shuffled = dict(columns, row=np.random.default_rng(0).permutation(300))
    with pytest.raises(ConfigError, match="'row' may be a row ID") as info:
        fit_streaming(_chunks(shuffled, 50), names, "label", "classification", keep=["code"])
    assert info.value.params == ("keep_columns",)
    # A row number in order is known to be all different without counting.
    _, _, _, ignored = fit_streaming(_chunks(columns, 50), names, "label", "classification",
                                     keep=["code"])
    assert list(ignored) == ["row"]


@pytest.mark.parametrize("impute", [None, "mean", "most_frequent"])
@pytest.mark.parametrize("timed", [False, True])
def test_streaming_splits_dates_into_the_parts_of_the_in_memory_fit(impute: str | None,
                                                                    timed: bool) -> None:
    rng = np.random.default_rng(5)
    n = 400
    days = rng.integers(0, 3000, n)
    when = np.array([str(np.datetime64("2015-01-01") + int(d)) for d in days], dtype=object)
    if timed:  # a time of day in a later chunk only: the hour part is known at the end
        when[350:] = [f"{w} {int(h):02d}:30" for w, h in zip(when[350:], days[350:] % 24)]
    if impute:
        when[::13] = None
    columns = {"when": when, "x": rng.normal(size=n), "label": rng.choice(["p", "q"], n)}
    pre, _, _, _ = fit_streaming(_chunks(columns, 64), ["when", "x"], "label",
                                 "classification", impute, keep=[])
    expected = Preprocessor(impute).fit(columns, ["when", "x"])
    assert expected.columns[0]["kind"] == "datetime"
    assert ("hour" in expected.columns[0]["parts"]) == timed
    _close(expected.to_config(), pre.to_config())
    # A value that is no date is named, as in memory.
    columns["when"][200] = "soon"
    with pytest.raises(DataError, match=r"'soon' in row 201"):
        Preprocessor("mean").fit(columns, ["when", "x"])
    with pytest.raises(DataError, match=r"'soon' in row 201"):
        fit_streaming(_chunks(columns, 64), ["when", "x"], "label", "classification", "mean")


def test_streaming_applies_the_category_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    from synnet.tabular import streaming

    monkeypatch.setattr(streaming, "MAX_CATEGORIES", 5)
    columns = _rules_table(300)
    with pytest.raises(DataError, match="a model file holds at most 5"):
        fit_streaming(_chunks(columns, 50), ["rare", "x"], "label", "classification")


def test_streaming_refuses_decimal_commas_as_the_in_memory_fit() -> None:
    rng = np.random.default_rng(2)
    comma = np.array([f"{v:.2f}".replace(".", ",") for v in rng.normal(size=200)],
                     dtype=object)
    comma[::9] = None
    columns = {"comma": comma, "x": rng.normal(size=200), "label": rng.choice(["p", "q"], 200)}
    with pytest.raises(DataError) as whole:
        Preprocessor("mean").fit(columns, ["comma", "x"])
    with pytest.raises(DataError) as streamed:
        fit_streaming(_chunks(columns, 32), ["comma", "x"], "label", "classification", "mean",
                      keep=[])
    assert str(streamed.value) == str(whole.value) and "decimal comma" in str(whole.value)
    assert streamed.value.params == whole.value.params
    pre, _, _, _ = fit_streaming(_chunks(columns, 32), ["comma", "x"], "label",
                                 "classification", "mean", categorical=["comma"], keep=[])
    _close(Preprocessor("mean", ["comma"]).fit(columns, ["comma", "x"]).to_config(),
           pre.to_config())


def _coded(table: Table, rng: np.random.Generator) -> Table:
    """``table`` with its object columns also as (codes, labels), the labels in a
    shuffled order (an Arrow dictionary's order is not the rows' after a ``take``)."""
    coded = {}
    for name, col in table.columns.items():
        if col.dtype.kind != "O":
            continue
        distinct = list(dict.fromkeys(v for v in col.tolist() if v is not None))
        labels = np.array([*rng.permutation(np.array(distinct, dtype=object)).tolist(),
                           None], dtype=object)
        index = {v: i for i, v in enumerate(labels.tolist()[:-1])}
        codes = np.array([-1 if v is None else index[v] for v in col.tolist()], dtype=np.intp)
        assert [labels[c] for c in codes] == col.tolist()
        coded[name] = (codes, labels)
    return Table(table.columns, table.source, coded)


def _mixed_text(n: int, seed: int, missing: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    columns = _table(n, seed, missing=missing)
    codes = np.array(["007", "12", "1,234", "0", "x"], dtype=object)
    columns["code"] = rng.choice(codes, n)
    days = np.array(["2024-01-05", "2023-12-31 10:30", "2024-02-29"], dtype=object)
    columns["day"] = rng.choice(days, n)
    if missing:
        columns["day"][rng.random(n) < 0.1] = None
    return columns


@pytest.mark.parametrize("impute", [None, "mean", "most_frequent", "median"])
@pytest.mark.parametrize("size", [7, 128])
def test_coded_text_gives_the_statistics_of_the_values(impute: str | None, size: int) -> None:
    """Each label parsed and counted once (Table.coded) gives exactly what each row does:
    the Preprocessor, the classes, class counts, left-out columns, and the same errors."""
    columns = _mixed_text(600, 4, missing=impute is not None)
    names = [*NAMES, "code", "day"]
    rng = np.random.default_rng(0)

    def fit(chunks: list[Table]) -> object:
        counts: list[int] = []
        try:
            pre, enc, rows, ignored = fit_streaming(
                chunks, names, "label", "classification", impute, categorical=["code"],
                class_counts=counts, feature_rows=lambda ids: ids % 3 != 0, keep=[],
                reread=lambda text: chunks)
        except (ConfigError, DataError) as exc:
            return type(exc), str(exc)
        assert enc.classes is not None
        return pre.to_config(), enc.classes.tolist(), rows, ignored, counts

    plain = _chunks(columns, size)
    coded = [_coded(t, rng) for t in plain]
    assert coded[0].coded and not plain[0].coded
    found = fit(plain)
    assert fit(coded) == found
    config = found[0]
    assert isinstance(config, dict)
    kinds = {c["name"]: c["kind"] for c in config["columns"]}
    assert kinds["day"] == "datetime" and kinds["code"] == "categorical"
    # text among numbers, or among dates: the same errors, naming the same rows
    for name, value in (("text_numbers", "n/a"), ("day", "soon")):
        broken = {k: v.copy() for k, v in columns.items()}
        broken[name][[5, 300]] = value
        plain = _chunks(broken, size)
        coded = [_coded(t, rng) for t in plain]
        error = fit(plain)
        assert isinstance(error, tuple) and error[0] in (ConfigError, DataError)
        assert "row 6" in error[1], error[1]  # row 301 is a validation row
        assert fit(coded) == error
