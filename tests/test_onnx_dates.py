"""ONNX export of date and datetime columns, run in onnxruntime beside ``predict``.

The graph reads the same ISO 8601 text the CSV holds; every format synnet's
``parse_datetime`` accepts must give the same parts (year, month, day of week,
day of year, hour), imputation and standardization as ``predict``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

import synnet  # noqa: E402
from synnet.cli import main  # noqa: E402
from synnet.errors import ConfigError  # noqa: E402
from synnet.onnx import preprocessing_graph  # noqa: E402
from synnet.onnx.graph import Builder, value_info  # noqa: E402
from synnet.tabular.columns import parse_datetime  # noqa: E402
from synnet.tabular.files import read_table  # noqa: E402
from synnet.tabular.preprocessing import Preprocessor  # noqa: E402
from test_onnx import assert_close, feed, session, write_csv  # noqa: E402

#: Text synnet reads as dates, in every shape parse_datetime accepts.
FORMATS = [
    "2024-02-29", "2023-12-31", "2024-01-01", "1900-03-01", "2000-02-29", "0001-01-01",
    "9999-12-31", "  2024-03-31  ", "\t2024-03-31\n", "\u30002020-06-15\u3000",
    "2024-03-31T14", "2024-03-31 14", "2024-03-31x14", "2024-03-31514", "2024-03-31é14",
    "2024-03-31T1405", "2024-03-31T14:05", "2024-03-31T140500", "2024-03-31T14:05:00.1",
    "2024-03-31T14:05:00,123456789", "2024-03-31T14:05:00Z", "2024-03-31T14Z",
    "2024-03-31T14+02", "2024-03-31T14:05+0200", "2024-03-31T23:59:59-02:00:30.5",
    "2024-03-31T14.5", "2024-03-31T14:05:00 +02:00", "2023-12-31T23:59:59.999999+23:59",
    "1999-12-31 00:00", " 2016-02-29T09:30:00Z ", "2024-03-31\n14", "2024-03-31\x0014",
]
#: Text synnet refuses as dates (predict raises); the graph gives NaN features.
NOT_DATES = ["2023-02-29", "1900-02-29", "2024-13-01", "2024-00-10", "2024-04-31",
             "0000-01-01", "2024-03-31T24", "2024-03-31T", "x", "  ", "2024-3-31",
             "\uff12\uff10\uff12\uff14-03-31", "2024/03/31"]


def features(pre: Preprocessor, text: list[str]) -> np.ndarray:
    """The preprocessing graph alone, run in onnxruntime on one text column ``d``."""
    builder = Builder(preprocessing_graph.min_opset(pre))
    inputs, out = preprocessing_graph.add_preprocessing(builder, pre)
    proto = builder.model(inputs, [value_info(out, onnx.TensorProto.DOUBLE, [None, None])], "t")
    return session(proto).run(None, {"d": np.array(text, dtype=object).reshape(-1, 1)})[0]


@pytest.mark.parametrize("impute", [None, "median"])
def test_every_accepted_format_gives_the_parts_predict_computes(impute):
    assert all(parse_datetime(t) is not None for t in FORMATS)
    days = [str(date(1999, 12, 1) + timedelta(days=k)) for k in range(0, 20000, 37)]
    train = np.array([*days, "2024-03-31 07:00", None], dtype=object)
    if impute is None:
        train = train[:-1]
    pre = Preprocessor(impute=impute).fit({"d": train})
    assert pre.columns[0]["parts"][-1] == "hour"
    text = [*FORMATS, *days]
    got = features(pre, text)
    want = pre.transform({"d": np.array(text, dtype=object)})
    np.testing.assert_array_equal(got, want)
    if impute is not None:
        np.testing.assert_array_equal(features(pre, [""]),
                                      pre.transform({"d": np.array([None], dtype=object)}))
    assert np.isnan(features(pre, NOT_DATES)).all()
    for text_value in NOT_DATES:
        assert parse_datetime(text_value) is None


def test_the_whitespace_list_is_what_str_strip_removes():
    assert preprocessing_graph.WHITESPACE == "".join(
        chr(c) for c in range(0x110000) if chr(c).isspace())


def table(n: int, seed: int) -> tuple[list[str], list[list[Any]]]:
    rng = np.random.default_rng(seed)
    start = date(2019, 12, 20)
    day = [start + timedelta(days=int(k)) for k in rng.integers(0, 900, n)]
    hour = rng.integers(0, 24, n)
    x = rng.normal(size=n).round(3)
    label = np.where((np.array([d.weekday() for d in day]) >= 5) ^ (x > 0.5), "yes", "no")
    score = (x + 0.1 * hour + np.array([d.month for d in day]) / 6).round(4)
    rows = [[str(day[i]), f"{day[i]}T{hour[i]:02d}:{i % 60:02d}:00", x[i], label[i], score[i]]
            for i in range(n)]
    return ["day", "when", "x", "label", "score"], rows


@pytest.mark.parametrize("target, drop, extra", [("label", "score", ["--impute", "median"]),
                                                 ("score", "label", [])])
def test_cli_model_with_date_and_datetime_columns(tmp_path: Path, capsys, target, drop, extra):
    header, rows = table(150, 0)
    if extra:
        for i in range(0, 150, 13):
            rows[i][0] = rows[i + 1][1] = ""  # missing, imputed
    train = write_csv(tmp_path / "train.csv", header, rows)
    _, new_rows = table(40, 1)
    edge = ["2024-02-29", "2023-12-31", "2024-01-01", "2000-02-29", "1900-03-01"]
    for i, text in enumerate(edge):
        new_rows[i][0] = text
        new_rows[i + 5][1] = f"{text}T23:59:59+02:00"
        new_rows[i + 10][1] = f" {text} 00"
    if extra:
        new_rows[20][0] = new_rows[21][1] = ""
    new = write_csv(tmp_path / "new.csv", header, new_rows)
    model_path, onnx_path = tmp_path / "m.synnet", tmp_path / "m.onnx"
    assert main(["train", str(train), "-t", target, "--drop", drop, "-o", str(model_path),
                 "--epochs", "5", "--seed", "1", "-q", *extra]) == 0
    assert main(["export", str(model_path), "-o", str(onnx_path)]) == 0
    capsys.readouterr()
    model = synnet.load(model_path)
    assert [c["kind"] for c in model.preprocessor.columns] == ["datetime", "datetime", "numeric"]
    assert "hour" in model.preprocessor.columns[1]["parts"]
    assert "hour" not in model.preprocessor.columns[0]["parts"]
    proto = onnx.load(onnx_path)
    assert ("", 20) in {(o.domain, o.version) for o in proto.opset_import}
    data = read_table(new).columns
    want = model.predict_with_proba(data)
    got = session(proto).run(None, feed(proto, data))
    if target == "label":
        np.testing.assert_array_equal(got[0], want[0].astype(object))
        assert_close(got[1], want[1])
    else:
        assert_close(got[0], want[0])


def test_a_lower_opset_is_refused_naming_the_one_needed(tmp_path, capsys):
    train = write_csv(tmp_path / "train.csv", *table(40, 0))
    model_path = tmp_path / "m.synnet"
    assert main(["train", str(train), "-t", "label", "--drop", "score", "-o", str(model_path),
                 "--epochs", "1", "-q"]) == 0
    capsys.readouterr()
    assert main(["export", str(model_path), "-o", str(tmp_path / "m.onnx"),
                 "--opset", "17"]) == 2
    err = capsys.readouterr().err
    assert "opset 20" in err and "--opset" in err and "Traceback" not in err
    assert not (tmp_path / "m.onnx").exists()
    model = synnet.load(model_path)
    with pytest.raises(ConfigError, match="opset 20") as info:
        model.to_onnx(opset=19)
    assert info.value.params == ("opset",)
    assert {(o.domain, o.version) for o in model.to_onnx(opset=21).opset_import} >= {("", 21)}


TIMES = ["", "%H", "%H:%M", "%H%M", "%H:%M:%S", "%H%M%S", "%H:%M:%S.%f", "%H:%M:%S,%f",
         "%H:%M:%SZ", "%H%z", "%H:%M%z", "%H:%M:%S.%f%z", "%H.%f", "%H:%M.%f"]


@pytest.fixture(scope="module")
def datetime_graph() -> tuple[Preprocessor, Any]:
    pre = Preprocessor(impute="mean").fit(
        {"d": np.array(["1999-12-31 07", "2024-02-29T23:00", None, "2010-06-15"], dtype=object)})
    builder = Builder(preprocessing_graph.min_opset(pre))
    inputs, out = preprocessing_graph.add_preprocessing(builder, pre)
    proto = builder.model(inputs, [value_info(out, onnx.TensorProto.DOUBLE, [None, None])], "t")
    return pre, session(proto)


@settings(max_examples=150, deadline=None)
@given(day=st.dates(min_value=date(1, 1, 1)), hour=st.integers(0, 23),
       minute=st.integers(0, 59), fmt=st.sampled_from(TIMES),
       sep=st.characters(exclude_categories=["Cs"]),
       lead=st.text(preprocessing_graph.WHITESPACE, max_size=2),
       trail=st.text(preprocessing_graph.WHITESPACE, max_size=2))
def test_generated_iso_text_matches_predict(datetime_graph, day, hour, minute, fmt, sep, lead,
                                            trail):
    """Any text parse_datetime accepts (any separator, time form, offset, spaces around)
    gives exactly predict's features."""
    pre, sess = datetime_graph
    when = datetime(day.year, day.month, day.day, hour, minute, 7, 120000,
                    timezone(timedelta(hours=2)))
    text = lead + str(day) + (sep + when.strftime(fmt) if fmt else "") + trail
    got = sess.run(None, {"d": np.array([[text]], dtype=object)})[0]
    if parse_datetime(text) is not None:
        np.testing.assert_array_equal(got, pre.transform({"d": np.array([text], dtype=object)}))
