"""Reading and writing tabular files (CSV, TSV, Parquet) for the command line.

The only synnet module that imports pandas, and only inside its functions, so
``import synnet`` never does. A table comes back as plain NumPy columns (see
:class:`Table`) that :mod:`synnet.tabular.preprocessing` understands: float64 (NaN for
missing), int64 and bool arrays for numeric columns, and object arrays of
``str`` (``None`` for missing) for text.

CSV rules: a header row, fields quoted with ``"`` when they contain the
separator, UTF-8 with or without a byte-order mark, LF or CRLF line ends;
``-`` reads standard input. Every row must have as many fields as the header.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from synnet.errors import DataError
from synnet.io.atomic import atomic_write

PARQUET_SUFFIXES = (".parquet", ".pq")
_PARQUET_MAGIC = b"PAR1"


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError("reading and writing data files needs pandas; install it with "
                          "pip install 'synnet[cli]'") from None
    return pandas


@dataclass
class Table:
    """Named columns of equal length, in file order.

    Attributes:
        columns: name -> 1-D array (see the module docstring for the types).
        source: where the table came from, for messages ("iris.csv", "<stdin>").
    """

    columns: dict[str, np.ndarray]
    source: str = "<data>"
    n_rows: int = field(init=False)

    def __post_init__(self) -> None:
        lengths = {len(c) for c in self.columns.values()}
        if len(lengths) > 1:
            raise DataError(f"{self.source}: columns have different lengths {sorted(lengths)}")
        self.n_rows = lengths.pop() if lengths else 0

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def take(self, rows: np.ndarray) -> Table:
        """The given rows (an index array) of every column."""
        return Table({k: v[rows] for k, v in self.columns.items()}, self.source)


def is_parquet(path: str | os.PathLike[str], head: bytes = b"") -> bool:
    """Whether ``path`` names a Parquet file (by suffix, or by its first bytes)."""
    return Path(path).suffix.lower() in PARQUET_SUFFIXES or head[:4] == _PARQUET_MAGIC


def read_table(path: str | os.PathLike[str], stdin: IO[bytes] | None = None) -> Table:
    """Read a CSV/TSV/Parquet file (``"-"``: standard input) into a :class:`Table`.

    Raises:
        DataError: empty file, header only, ragged rows, duplicate or empty
            column names, text that is not UTF-8, unsupported column types.
        OSError: the file cannot be opened (missing, a folder, no permission).
        ImportError: pandas (or pyarrow for Parquet) is not installed.
    """
    pd = _pandas()
    if str(path) == "-":
        source = "<stdin>"
        data = (stdin or sys.stdin.buffer).read()
    else:
        source = str(path)
        with open(path, "rb") as f:  # OSError for missing files, folders, permissions
            data = f.read()
    if not data.strip():
        raise DataError(f"{source} is empty; it needs a header row and at least one data row")
    if is_parquet(source if source != "<stdin>" else "", data):
        frame = _read_parquet(pd, data, source)
    else:
        sep = "\t" if Path(source).suffix.lower() == ".tsv" else ","
        frame = _read_csv(pd, data, source, sep)
    if frame.shape[1] == 0:
        raise DataError(f"{source} has no columns")
    if frame.shape[0] == 0:
        raise DataError(f"{source} has a header but no data rows")
    return frame_to_table(frame, source)


def frame_to_table(frame: Any, source: str = "<DataFrame>") -> Table:
    """A pandas DataFrame as a :class:`Table` of plain NumPy columns (names become str)."""
    return Table({str(name): _column(frame[name], str(name), source)
                  for name in frame.columns}, source)


def _read_parquet(pd: Any, data: bytes, source: str) -> Any:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ImportError("reading Parquet files needs pyarrow; install it with "
                          "pip install pyarrow (or save the data as CSV)") from None
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        raise DataError(f"cannot read {source} as Parquet ({exc})") from None
    names = [str(c) for c in frame.columns]
    _check_names(names, source)
    frame.columns = names
    return frame


def _read_csv(pd: Any, data: bytes, source: str, sep: str) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{source} is not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                        f"position {exc.start}); save it as UTF-8") from None
    _check_structure(text, source, sep)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, skipinitialspace=True,
                            skip_blank_lines=True, low_memory=False)
    except Exception as exc:  # the structure check above catches the usual problems first
        raise DataError(f"cannot parse {source} as CSV ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _check_structure(text: str | IO[str], source: str, sep: str) -> None:
    """Header names present and distinct; every row as many fields as the header.

    ``text``: the file's text, or a text stream (read line by line: chunked readers).
    """
    lines = io.StringIO(text, newline="") if isinstance(text, str) else text
    reader = csv.reader(lines, delimiter=sep, skipinitialspace=True)
    header: list[str] | None = None
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip() and header is not None
                           and len(header) > 1):
                continue  # blank line
            if header is None:
                header = [name.strip() for name in row]
                _check_names(header, source)
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{source}, line {reader.line_num}: {len(row)} field(s) but the header "
                    f"has {len(header)}; give every row one value per column (quote values "
                    "that contain the separator)")
    except csv.Error as exc:
        raise DataError(f"{source}, line {reader.line_num}: malformed CSV ({exc})") from None


def _check_names(names: list[str], source: str) -> None:
    if any(not name for name in names):
        position = [not name for name in names].index(True) + 1
        raise DataError(f"{source}: column {position} of the header has no name; "
                        "give every column a name")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(f"{source}: the header names column {name!r} twice; "
                            "column names must be distinct")
        seen.add(name)


def _column(series: Any, name: str, source: str) -> np.ndarray:
    """A pandas column as a plain NumPy array (see the module docstring)."""
    pd = _pandas()
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) and not series.isna().any():
        return series.to_numpy(dtype=bool)
    if pd.api.types.is_integer_dtype(dtype) and not series.isna().any():
        return series.to_numpy(dtype=np.int64)
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise DataError(f"{source}: column {name!r} holds dates or times ({dtype}); "
                        "convert it to numbers or text first")
    values = series.astype(object).to_numpy()
    missing = series.isna().to_numpy()
    out = np.empty(len(values), dtype=object)
    for i, (v, m) in enumerate(zip(values, missing)):
        if m:
            out[i] = None
        elif isinstance(v, (str, bool, int, float, np.integer, np.floating, np.bool_)):
            out[i] = v
        elif isinstance(v, bytes):
            out[i] = v.decode("utf-8", errors="replace")
        else:
            out[i] = str(v)
    return out


def write_table(columns: dict[str, np.ndarray], path: str | os.PathLike[str] | None,
                stdout: IO[str] | None = None) -> None:
    """Write columns as CSV (to ``stdout`` when ``path`` is None or ``"-"``), TSV or Parquet.

    Files are written atomically: a temporary file in the same folder, then a rename.
    """
    pd = _pandas()
    frame = pd.DataFrame(columns)
    if path is None or str(path) == "-":
        frame.to_csv(stdout or sys.stdout, index=False, lineterminator="\n")
        return
    target = Path(path)
    if target.suffix.lower() in PARQUET_SUFFIXES:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError("writing Parquet files needs pyarrow; install it with "
                              "pip install pyarrow (or write CSV)") from None
        atomic_write(target, lambda f: frame.to_parquet(f, index=False))
        return
    sep = "\t" if target.suffix.lower() == ".tsv" else ","

    def write_csv(f: IO[bytes]) -> None:
        text = io.TextIOWrapper(f, encoding="utf-8", newline="")
        frame.to_csv(text, index=False, sep=sep, lineterminator="\n")
        text.flush()
        text.detach()

    atomic_write(target, write_csv)
