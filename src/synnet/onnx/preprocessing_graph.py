"""A fitted :class:`~synnet.tabular.preprocessing.Preprocessor` as ONNX nodes.

One graph input per column, named as the column, shaped (n, 1): numbers as
``double`` (standardized in double precision, as ``transform`` does), text
as ``string`` (one-hot encoded with ``ai.onnx.ml`` ``OneHotEncoder``; a
category training never saw becomes all zeros, as in ``predict``). The
features are concatenated in the preprocessor's order. Dates and datetimes
are ``string`` too: the ISO 8601 text the CSV holds, read into the parts
``predict`` computes (see :func:`_datetime`; RegexFullMatch, so opset 20).

Each column kind has one exporter in :data:`COLUMN_KINDS`, with the settings
it reads; a new kind is one more function there. A kind without an exporter,
or a setting an exporter does not read (a column fitted by a newer
preprocessing), is refused by name rather than exported wrong.

Missing values: a model that imputes fills a NaN number, or an empty string
in a text column, as ``predict`` fills a missing value. Without imputation
``predict`` refuses missing values, which an ONNX graph cannot do: a NaN then
gives NaN outputs and an empty string is an unseen category.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto

from synnet.errors import ConfigError
from synnet.onnx.graph import MIN_OPSET, ML_DOMAIN, GraphSink, value_info
from synnet.tabular.preprocessing import CATEGORICAL, DATETIME, NUMERIC, Preprocessor

#: The empty string stands for a missing text value (a string tensor holds no None).
MISSING_TEXT = ""

#: (sink, column spec) -> (the graph input, the column's features (n, width) as double).
ColumnExporter = Callable[[GraphSink, dict[str, Any]], tuple[onnx.ValueInfoProto, str]]


def _numeric(sink: GraphSink, spec: dict[str, Any]) -> tuple[onnx.ValueInfoProto, str]:
    """(x - mean) / scale, with NaN filled first when the model imputes."""
    name = spec["name"]
    x = name
    if "fill" in spec:
        fill = sink.const(np.array(spec["fill"], dtype=np.float64), "fill")
        x = sink.node("Where", [sink.node("IsNaN", [x]), fill, x])
    centred = sink.node("Sub", [x, sink.const(np.array(spec["mean"], dtype=np.float64),
                                              "mean")])
    scaled = sink.node("Div", [centred, sink.const(np.array(spec["scale"], dtype=np.float64),
                                                   "scale")])
    return value_info(name, TensorProto.DOUBLE, [None, 1]), scaled


def _categorical(sink: GraphSink, spec: dict[str, Any]) -> tuple[onnx.ValueInfoProto, str]:
    """One-hot over the training categories; unseen ones are all zeros.

    Infrequent categories (grouped at fit) each get a one-hot column, and when
    the model imputes the empty string gets one more; a 0/1 matrix folds them
    into the shared infrequent output and the fill category's (exact).
    """
    name, cats = spec["name"], list(spec["categories"])
    rare = list(spec.get("infrequent", ()))
    width = len(cats) + (1 if rare else 0)
    code = {c: k for k, c in enumerate(cats)} | {c: len(cats) for c in rare}
    fold = "fill" in spec and MISSING_TEXT not in code
    encoded = [*cats, *rare, *([MISSING_TEXT] if fold else [])]
    onehot = sink.node("OneHotEncoder", [name], domain=ML_DOMAIN, cats_strings=encoded, zeros=1)
    flat = sink.node("Reshape", [onehot, sink.const(np.array([-1, len(encoded)], np.int64),
                                                     "shape")])
    features = sink.node("Cast", [flat], to=TensorProto.DOUBLE)
    if len(encoded) != width:
        targets = [code[c] for c in encoded[:len(cats) + len(rare)]]
        if fold:
            targets.append(code[spec["fill"]])
        matrix = np.eye(width)[targets]
        features = sink.node("MatMul", [features, sink.const(matrix, "fold")])
    return value_info(name, TensorProto.STRING, [None, 1]), features


#: The characters Python's ``str.strip`` removes (``str.isspace``; a test checks the
#: list), as an RE2 class, since RE2's ``\s`` is only ASCII space.
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
              + "".join(map(chr, range(0x2000, 0x200b))) + "\u2028\u2029\u202f\u205f\u3000")
_SPACE = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in WHITESPACE) + "]"
#: The text ``parse_datetime`` reads has ``YYYY-MM-DD`` after the leading space, then
#: optionally a separator (any character) and the hour's two digits: so the parts sit at
#: fixed places. Later text (minutes, fractions, offsets) changes no part.
_DATE_SHAPE = f"(?s){_SPACE}*\\d{{4}}-\\d{{2}}-\\d{{2}}(?:.\\d{{2}}.*|{_SPACE}*)"
#: Where each digit of year, month, day and hour is, after the leading space.
_DIGITS = {"year": (0, 1, 2, 3), "month": (5, 6), "day": (8, 9), "hour": (11, 12)}
#: A decimal digit's bits, as the digits with that bit set.
_BITS = {1: "13579", 2: "2367", 4: "4567", 8: "89"}
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.float64)
#: RegexFullMatch came in opset 20.
DATE_OPSET = 20


def _number(sink: GraphSink, text: str, positions: tuple[int, ...]) -> str:
    """The decimal number at ``positions`` (after leading space) of ``text``, (n, 1) double.

    Each digit is read bit by bit with RegexFullMatch (ONNX has no substring op);
    a non-digit there reads as 0. ``\\d`` after the space pins where the text starts.
    """
    value = None
    for k, pos in enumerate(positions):
        scale = 10.0 ** (len(positions) - 1 - k)
        for bit, digits in _BITS.items():
            lead = f"\\d.{{{pos - 1}}}" if pos else ""
            hit = sink.node("RegexFullMatch", [text],
                            pattern=f"(?s){_SPACE}*{lead}[{digits}].*")
            term = sink.node("Mul", [sink.node("Cast", [hit], to=TensorProto.DOUBLE),
                                     _scalar(sink, bit * scale, "weight")])
            value = term if value is None else sink.node("Add", [value, term])
    assert value is not None
    return value


def _scalar(sink: GraphSink, v: float, hint: str) -> str:
    return sink.const(np.array(v, dtype=np.float64), hint)


def _mod(sink: GraphSink, x: str, m: float) -> str:
    return sink.node("Mod", [x, _scalar(sink, m, "modulus")], fmod=1)


def _is_zero(sink: GraphSink, x: str) -> str:
    return sink.node("Equal", [x, _scalar(sink, 0.0, "zero")])


def _date_parts(sink: GraphSink, text: str, parts: list[str]) -> tuple[dict[str, str], str]:
    """({part: (n, 1) double}, (n, 1) bool: the text is no date synnet reads)."""
    y, m, d, h = (_number(sink, text, _DIGITS[p]) for p in ("year", "month", "day", "hour"))
    leap = sink.node("Or", [
        sink.node("And", [_is_zero(sink, _mod(sink, y, 4.0)),
                          sink.node("Not", [_is_zero(sink, _mod(sink, y, 100.0))])]),
        _is_zero(sink, _mod(sink, y, 400.0))])
    leap = sink.node("Cast", [leap], to=TensorProto.DOUBLE)
    # month - 1 as an (n, 1) index (clipped: an invalid month is masked out below)
    index = sink.node("Cast", [sink.node("Clip", [
        sink.node("Sub", [m, _scalar(sink, 1.0, "one")]), _scalar(sink, 0.0, "low"),
        _scalar(sink, 11.0, "high")])], to=TensorProto.INT64)
    after_feb = sink.node("Cast", [sink.node("Greater", [m, _scalar(sink, 2.0, "feb")])],
                          to=TensorProto.DOUBLE)
    before = np.concatenate([[0.0], np.cumsum(_MONTH_DAYS)[:-1]])
    dayofyear = sink.node("Add", [
        sink.node("Add", [sink.node("Gather", [sink.const(before, "days_before"), index]), d]),
        sink.node("Mul", [leap, after_feb])])
    # date.toordinal(), and weekday() = (ordinal + 6) % 7 (Monday 0)
    past = sink.node("Sub", [y, _scalar(sink, 1.0, "one")])
    ordinal = sink.node("Add", [sink.node("Mul", [past, _scalar(sink, 365.0, "year_days")]),
                                dayofyear])
    for divisor, sign in ((4.0, "Add"), (100.0, "Sub"), (400.0, "Add")):
        ordinal = sink.node(sign, [ordinal, sink.node("Floor", [
            sink.node("Div", [past, _scalar(sink, divisor, "divisor")])])])
    dayofweek = _mod(sink, sink.node("Add", [ordinal, _scalar(sink, 6.0, "shift")]), 7.0)
    month_days = sink.node("Add", [
        sink.node("Gather", [sink.const(_MONTH_DAYS, "month_days"), index]),
        sink.node("Mul", [leap, sink.node("Cast", [
            sink.node("Equal", [m, _scalar(sink, 2.0, "feb")])], to=TensorProto.DOUBLE)])])
    checks = [sink.node("RegexFullMatch", [text], pattern=_DATE_SHAPE),
              sink.node("GreaterOrEqual", [y, _scalar(sink, 1.0, "one")]),
              sink.node("GreaterOrEqual", [m, _scalar(sink, 1.0, "one")]),
              sink.node("LessOrEqual", [m, _scalar(sink, 12.0, "december")]),
              sink.node("GreaterOrEqual", [d, _scalar(sink, 1.0, "one")]),
              sink.node("LessOrEqual", [d, month_days]),
              sink.node("LessOrEqual", [h, _scalar(sink, 23.0, "last_hour")])]
    valid = checks[0]
    for check in checks[1:]:
        valid = sink.node("And", [valid, check])
    values = {"year": y, "month": m, "dayofweek": dayofweek, "dayofyear": dayofyear, "hour": h}
    return {p: values[p] for p in parts}, sink.node("Not", [valid])


def _datetime(sink: GraphSink, spec: dict[str, Any]) -> tuple[onnx.ValueInfoProto, str]:
    """The date parts synnet computes, from the same ISO 8601 text, then standardized.

    An empty string is a missing value (filled when the model imputes); text
    ``predict`` refuses as no date gives NaN features when the graph can tell
    (a wrong shape, an impossible day or hour), as it cannot raise.
    """
    name = spec["name"]
    values, invalid = _date_parts(sink, name, spec["parts"])
    parts = sink.node("Concat", list(values.values()), axis=1)
    width = len(values)
    nan = sink.const(np.full((1, width), np.nan), "nan")
    parts = sink.node("Where", [invalid, nan, parts])
    if "fill" in spec:
        empty = sink.node("RegexFullMatch", [name], pattern="")
        fill = sink.const(np.array([spec["fill"]], dtype=np.float64), "fill")
        parts = sink.node("Where", [empty, fill, parts])
    centred = sink.node("Sub", [parts, sink.const(np.array([spec["mean"]], np.float64),
                                                  "mean")])
    scaled = sink.node("Div", [centred, sink.const(np.array([spec["scale"]], np.float64),
                                                   "scale")])
    return value_info(name, TensorProto.STRING, [None, 1]), scaled


@dataclass(frozen=True)
class ColumnKind:
    """How one column kind exports, the column settings it reads, the opset it needs."""

    export: ColumnExporter
    settings: frozenset[str]
    min_opset: int = MIN_OPSET


#: Every column kind the export knows.
COLUMN_KINDS: dict[str, ColumnKind] = {
    NUMERIC: ColumnKind(_numeric, frozenset({"name", "kind", "mean", "scale", "fill"})),
    CATEGORICAL: ColumnKind(_categorical,
                            frozenset({"name", "kind", "categories", "infrequent", "fill"})),
    DATETIME: ColumnKind(_datetime, frozenset({"name", "kind", "parts", "mean", "scale", "fill"}),
                         DATE_OPSET),
}
#: The preprocessing settings (beside the columns) the export reads; the grouping
#: settings only shaped the fit (their result is each column's "infrequent" list).
SETTINGS = frozenset({"impute", "columns", "max_categories", "min_frequency"})


def check_exportable(preprocessor: Preprocessor) -> None:
    """ConfigError naming the first column kind or setting the export does not know."""
    unknown = sorted(set(preprocessor.to_config()) - SETTINGS)
    if unknown:
        raise ConfigError(f"cannot export to ONNX: the preprocessing has the setting "
                          f"{unknown[0]!r}, which the ONNX export does not know")
    for spec in preprocessor.columns:
        kind = COLUMN_KINDS.get(spec["kind"])
        if kind is None:
            raise ConfigError(
                f"cannot export to ONNX: column {spec['name']!r} has the preprocessing kind "
                f"{spec['kind']!r}, which the ONNX export does not know (it covers "
                f"{', '.join(sorted(COLUMN_KINDS))})")
        extra = sorted(set(spec) - kind.settings)
        if extra:
            raise ConfigError(
                f"cannot export to ONNX: column {spec['name']!r} ({spec['kind']}) has the "
                f"setting {extra[0]!r}, which the ONNX export does not know")


def min_opset(preprocessor: Preprocessor) -> int:
    """The lowest opset every column's exporter works in."""
    return max((COLUMN_KINDS[c["kind"]].min_opset for c in preprocessor.columns),
               default=MIN_OPSET)


def add_preprocessing(sink: GraphSink, preprocessor: Preprocessor
                      ) -> tuple[list[onnx.ValueInfoProto], str]:
    """(one graph input per column, the (n, n_features) double feature matrix)."""
    inputs, parts = [], []
    for spec in preprocessor.columns:
        info, features = COLUMN_KINDS[spec["kind"]].export(sink, spec)
        inputs.append(info)
        parts.append(features)
    return inputs, sink.node("Concat", parts, axis=1)
