"""Reading and writing tabular files (CSV, TSV, Parquet) for the command line.

The only synnet module that imports pandas, and only inside its functions, so
``import synnet`` never does. A table comes back as plain NumPy columns (see
:class:`Table`) that :mod:`synnet.tabular.preprocessing` understands: float64 (NaN for
missing), int64 and bool arrays for numeric columns, and object arrays of
``str`` (``None`` for missing) for text.

CSV rules: a header row, fields quoted with ``"`` when they contain the
separator, UTF-8 with or without a byte-order mark, LF or CRLF line ends;
``-`` reads standard input. Every row must have as many fields as the header.
The separator is sniffed (comma, semicolon, tab, ``|``) unless given; gzip,
bzip2, xz and zstd files are decompressed on the fly. Only an empty cell is a
missing value unless ``na_values`` names more tokens. Dates in Parquet
files become ISO 8601 text.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import lzma
import os
import stat
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from synnet.errors import ConfigError, DataError
from synnet.io.atomic import atomic_write
from synnet.tabular.memory import memory_guard

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
        coded: for some text columns (those read from Arrow dictionaries), the same
            values as codes into their distinct labels (see :data:`Coded`): code
            that handles each distinct value once, not each row, uses them.
    """

    columns: dict[str, np.ndarray]
    source: str = "<data>"
    coded: dict[str, Coded] = field(default_factory=dict)
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
        return Table({k: v[rows] for k, v in self.columns.items()}, self.source,
                     {k: (codes[rows], labels) for k, (codes, labels) in self.coded.items()})


#: A text column as (codes (n,) intp, labels (k,) object): the column is
#: ``labels[codes]``, so code -1 is the last label (None: a missing value, in Arrow's).
Coded = tuple[np.ndarray, np.ndarray]


def is_parquet(path: str | os.PathLike[str], head: bytes = b"") -> bool:
    """Whether ``path`` names a Parquet file (by suffix, or by its first bytes)."""
    return Path(path).suffix.lower() in PARQUET_SUFFIXES or head[:4] == _PARQUET_MAGIC


def check_reading(sep: Any, na_values: Any) -> None:
    """ConfigError unless ``sep`` is None or one character (no quote, no line end) and
    ``na_values`` is a list of strings."""
    if sep is not None and (not isinstance(sep, str) or len(sep) != 1 or sep in '"\r\n'):
        raise ConfigError(f"sep must be one character (not a quote or a line end), got {sep!r}",
                          params=["sep"])
    if (not isinstance(na_values, (list, tuple))
            or not all(isinstance(v, str) for v in na_values)):
        raise ConfigError(f"na_values must be a list of strings, got {na_values!r}",
                          params=["na_values"])


def read_table(path: str | os.PathLike[str], stdin: IO[bytes] | None = None, *,
               sep: str | None = None, na_values: Sequence[str] = (),
               text: Sequence[str] = ()) -> Table:
    """Read a CSV/TSV/Parquet file (``"-"``: standard input) into a :class:`Table`.

    Files compressed with gzip, bzip2, xz or zstd are recognised by their first
    bytes. ``sep``: the CSV separator (default: tab for ``.tsv``, else sniffed
    among comma, semicolon, tab and ``|``). ``na_values``: text that marks a
    missing value, besides an empty cell (nothing else is missing by default).
    ``text``: CSV columns to read as text whatever they hold (a file of all-digit
    codes keeps "007"); ``read_table(path, text=model.text_columns())`` reads new
    data as the model's training read its own.
    Files are read as streams: no copy of the whole file is held beside the table.

    Raises:
        DataError: empty file, header only, ragged rows, duplicate or empty
            column names, text that is not UTF-8, damaged compressed data,
            unsupported column types.
        NotEnoughMemory: the table does not fit in memory.
        OSError: the file cannot be opened (missing, a folder, no permission).
        ImportError: pandas (or pyarrow for Parquet, zstandard for .zst) is not installed.
    """
    check_reading(sep, na_values)
    if isinstance(text, str) or not all(isinstance(name, str) for name in text):
        raise ConfigError(f"text must be a list of column names, got {text!r}",
                          params=["text"])
    pd = _pandas()
    opener = open_data(path, stdin)
    with memory_guard(f"read {opener.source}", "a smaller file (fewer rows or columns), or the "
                      "data as Parquet, which stores numbers compactly"):
        return _read(pd, opener, sep, tuple(na_values), tuple(text))


def open_data(path: str | os.PathLike[str], stdin: IO[bytes] | None = None) -> _Opener:
    """The data at ``path`` (``"-"``: standard input) as an opener that reads it in passes;
    standard input and pipes can be read only once, so they are read whole first.

    Raises OSError when the file cannot be opened (missing, a folder, no permission).
    """
    data: bytes | None = None
    if str(path) == "-":
        source = "<stdin>"
        data = (stdin or sys.stdin.buffer).read()
    else:
        source = str(path)
        with open(path, "rb") as f:  # OSError for missing files, folders, permissions
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                data = f.read()  # a pipe (<(zcat ...)) can be read only once

    def raw() -> IO[bytes]:
        return open(path, "rb") if data is None else io.BytesIO(data)
    return _Opener(raw, source)


class _Opener:
    """Opens the data afresh as a stream of decompressed bytes (the file is read in passes)."""

    def __init__(self, raw: Callable[[], IO[bytes]], source: str) -> None:
        self.raw, self.source = raw, source
        with raw() as f:
            head = f.read(8)
        self.compression = next((name for magic, name in _COMPRESSED.items()
                                 if head.startswith(magic)), None)
        name = Path(source)
        # "d.tsv.gz" is a .tsv file
        self.name = name.with_suffix("") if name.suffix.lower() in _SUFFIXES else name

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        with self.raw() as f:
            if self.compression is None:
                yield f
            elif self.compression == "zstd":
                yield io.BufferedReader(_ZstdReader(f))
            else:
                module = {"gzip": gzip, "bz2": bz2, "xz": lzma}[self.compression]
                with module.open(f, "rb") as z:
                    yield z

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Damaged compressed data as a DataError naming the file."""
        try:
            yield
        except (EOFError, gzip.BadGzipFile, zlib.error, lzma.LZMAError) as exc:
            raise self.damaged(exc) from None
        except Exception as exc:
            if self.compression == "zstd" and isinstance(exc, _zstandard().ZstdError):
                raise self.damaged(exc) from None
            raise

    def damaged(self, exc: BaseException) -> DataError:
        return DataError(f"cannot decompress {self.source} ({self.compression}: "
                         f"{str(exc) or type(exc).__name__}); the file is damaged or truncated")


#: First bytes of the compressed formats read_table opens, and their names.
_COMPRESSED = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz",
               b"\x28\xb5\x2f\xfd": "zstd"}
_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")
#: Separators tried when none is given, in order of preference on a tie.
SEPARATORS = (",", ";", "\t", "|")
_SNIFF_BYTES = 1 << 16


class _ZstdReader(io.RawIOBase):
    """A zstd stream's decompressed bytes, frame after frame; ending inside a frame
    is an error (zstandard's own stream reader ends silently there)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._zstd = _zstandard()
        self._raw = raw
        self._frame = self._zstd.ZstdDecompressor().decompressobj()
        self._left = b""  # decompressed, not yet returned

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            chunk = self._frame.unused_data if self._frame.eof else b""
            if self._frame.eof:
                self._frame = self._zstd.ZstdDecompressor().decompressobj()
            chunk += self._raw.read(1 << 16)
            if not chunk:
                if self._frame_started:
                    raise EOFError("compressed data ended before the end of a frame")
                return 0
            self._frame_started = True
            self._left = self._frame.decompress(chunk)  # with _pos 0
            if self._frame.eof and not self._frame.unused_data:
                self._frame_started = False
        n = min(len(buffer), len(self._left) - self._pos)
        buffer[:n] = self._left[self._pos:self._pos + n]
        self._pos += n
        if self._pos == len(self._left):
            self._left, self._pos = b"", 0
        return n

    _pos = 0  # how much of _left was returned

    _frame_started = False


def _zstandard() -> Any:
    try:
        import zstandard
    except ImportError:
        raise ImportError("reading .zst files needs zstandard; install it with "
                          "pip install 'synnet[cli]'") from None
    return zstandard


def _read(pd: Any, opener: _Opener, sep: str | None, na_values: tuple[str, ...],
          text: tuple[str, ...] = ()) -> Table:
    source = opener.source
    sep = data_format(opener, sep)
    if sep is None:
        table = _frame_to_table(_read_parquet(pd, opener, source), source, consume=True)
    else:
        table = _read_csv(pd, opener, source, sep, na_values, text)
    if not table.columns:
        raise DataError(f"{source} has no columns")
    if table.n_rows == 0:
        raise DataError(f"{source} has a header but no data rows")
    return table


def data_format(opener: _Opener, sep: str | None) -> str | None:
    """None for a Parquet file; else the CSV separator: ``sep`` if given, tab for
    ``.tsv``, else sniffed from the first lines. DataError for an empty file."""
    with opener.errors(), opener.open() as f:
        head = f.read(_SNIFF_BYTES)
    if not head.strip():
        raise DataError(f"{opener.source} is empty; it needs a header row and at least one "
                        "data row")
    if is_parquet(opener.name if opener.source != "<stdin>" else "", head):
        return None
    if sep is None:
        sep = "\t" if opener.name.suffix.lower() == ".tsv" else _sniff(head)
    return sep


@contextmanager
def parquet_file(opener: _Opener) -> Iterator[IO[bytes]]:
    """The Parquet data as a seekable file (a plain file read in place, a compressed one
    decompressed into memory); errors while it is read as DataError naming the file.

    Raises ImportError when pyarrow is not installed.
    """
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ImportError("reading Parquet files needs pyarrow; install it with "
                          "pip install pyarrow (or save the data as CSV)") from None
    try:
        with opener.errors(), opener.open() as f:
            yield f if opener.compression is None else io.BytesIO(f.read())
    except (DataError, MemoryError):
        raise
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        raise DataError(f"cannot read {opener.source} as Parquet ({exc})") from None


def frame_to_table(frame: Any, source: str = "<DataFrame>") -> Table:
    """A pandas DataFrame as a :class:`Table` of plain NumPy columns (names become str)."""
    return _frame_to_table(frame, source, consume=False)


def _frame_to_table(frame: Any, source: str, consume: bool) -> Table:
    """As frame_to_table; ``consume``: drop each column from ``frame`` once converted, so
    the frame and the table are never both whole in memory."""
    columns = {}
    for name in list(frame.columns):
        columns[str(name)] = _column(frame[name], str(name), source)
        if consume:
            del frame[name]
    return Table(columns, source)


def _read_parquet(pd: Any, opener: _Opener, source: str) -> Any:
    with parquet_file(opener) as f:
        frame = pd.read_parquet(f)
    names = [str(c) for c in frame.columns]
    _check_names(names, source)
    frame.columns = names
    return frame


def _sniff(head: bytes) -> str:
    """The separator that splits the first lines into the same number (> 1) of fields."""
    lines = head.decode("utf-8-sig", errors="replace").splitlines()
    if len(lines) > 1 and not head.endswith((b"\n", b"\r")):
        lines = lines[:-1]  # cut off by the sample's end
    lines = [line for line in lines if line.strip()][:100]
    best, width = ",", 1
    for sep in SEPARATORS:
        try:
            widths = {len(row) for row in csv.reader(lines, delimiter=sep)}
        except csv.Error:
            continue
        if len(widths) == 1 and (w := widths.pop()) > width:
            best, width = sep, w
    return best


def _read_csv(pd: Any, opener: _Opener, source: str, sep: str,
              na_values: tuple[str, ...], text: tuple[str, ...] = ()) -> Table:
    """The CSV file as a Table, parsed by pandas in chunks of rows: each chunk is
    written into columns sized for the whole file (the structure check counts the
    rows) and let go, so memory is the table plus one chunk's parse."""
    rows = check_structure(opener, source, sep)
    named = text_dtype(pd, opener, sep, text)
    columns, mixed = _fill_columns(pd, opener, sep, na_values, named, rows)
    # A column that is numbers in some chunks and text in others is text, as in a
    # whole-file read, with every value as written ("007", not 7): read it again as text.
    if mixed:
        del columns
        columns, _ = _fill_columns(pd, opener, sep, na_values, {**named, **mixed}, rows)
    return Table(columns, source)


def text_dtype(pd: Any, opener: _Opener, sep: str, text: Sequence[str]) -> dict[Any, type]:
    """pandas' ``dtype`` that reads the CSV columns named in ``text`` as text: keyed by
    their labels as the header writes them (read from the file)."""
    if not text:
        return {}
    with opener.errors(), opener.open() as f:
        header = pd.read_csv(f, sep=sep, encoding="utf-8-sig", skipinitialspace=True,
                             nrows=0).columns
    names = set(text)
    return {label: object for label in header if str(label).strip() in names}


#: Rows pandas parses at a time (see _read_csv): a sixteenth of the file, within these
#: bounds. A chunk's parse takes about four times its share of the table, so smaller
#: files get smaller chunks (the peak stays near the table plus a quarter).
CSV_CHUNK_ROWS = 1 << 16
CSV_MIN_CHUNK_ROWS = 1 << 12


def _fill_columns(pd: Any, opener: _Opener, sep: str, na_values: tuple[str, ...],
                  dtype: dict[Any, Any], rows: int,
                  ) -> tuple[dict[str, np.ndarray], dict[Any, type]]:
    """({name: column}, {pandas' label: object} for the columns whose chunks mix numbers
    and text: those are left out, to be read again as text)."""
    filled: dict[str, _Column] = {}
    mixed: dict[Any, type] = {}
    chunk = min(CSV_CHUNK_ROWS, max(CSV_MIN_CHUNK_ROWS, rows // 16))
    for columns, labels, _ in csv_chunks(pd, opener, sep, na_values, dtype, chunk):
        for name, values in columns.items():
            column = filled.setdefault(name, _Column(rows))
            if not column.add(values):
                mixed[labels[name]] = object
    return {name: column.array() for name, column in filled.items()
            if column.data is not None}, mixed


class _Column:
    """One column, filled chunk by chunk into an array of the expected length, typed as
    a whole-file read types it: int and float chunks give float64; True/False beside
    gaps or numbers give objects; numbers in some chunks and text in others are to be
    read again as text."""

    def __init__(self, rows: int) -> None:
        self.rows = rows  # expected; more or fewer rows only cost a copy
        self.data: np.ndarray | None = None
        self.n = 0
        self.kinds: set[str] = set()

    def add(self, values: np.ndarray) -> bool:
        """Append a chunk; False (and nothing kept) once the column mixes numbers and text."""
        if (values.dtype.kind == "f" and self.data is not None and self.data.dtype.kind in "bO"
                and np.isnan(values).all()):  # pandas types a chunk of gaps as floats
            values = np.full(len(values), None, dtype=object)
        kinds = self.kinds
        kinds.add(values.dtype.kind)
        if kinds & {"i", "f"} and "O" in kinds:
            self.data = None
            return False
        if "O" in kinds or ("b" in kinds and len(kinds) > 1):
            dtype = np.dtype(object)  # True/False beside gaps (or numbers): objects
        elif "f" in kinds:
            dtype = np.dtype(np.float64)  # int64 and float64 -> float64, as pandas
        else:
            dtype = values.dtype
        end = self.n + len(values)
        if self.data is None:
            self.data = np.empty(max(self.rows, end), dtype=dtype)
        elif self.data.dtype != dtype:  # int chunks, then a float chunk (or bools, gaps)
            self.data = self.data.astype(dtype)
        if end > len(self.data):  # more rows than counted: grow
            grown = np.empty(max(end, 2 * len(self.data)), dtype=dtype)
            grown[:self.n] = self.data[:self.n]
            self.data = grown
        self.data[self.n:end] = values if values.dtype == dtype else values.astype(dtype)
        self.n = end
        return True

    def array(self) -> np.ndarray:
        """The column's values (n,), trimmed to the rows read."""
        assert self.data is not None
        return self.data if len(self.data) == self.n else self.data[:self.n].copy()


def csv_chunks(pd: Any, opener: _Opener, sep: str, na_values: tuple[str, ...],
               dtype: dict[Any, Any] | None = None, rows: int = CSV_CHUNK_ROWS,
               ) -> Iterator[tuple[dict[str, np.ndarray], dict[str, Any], dict[str, Coded]]]:
    """The CSV data ``rows`` rows at a time: ({name: column}, {name: pandas' label},
    {name: the column as codes, for text columns}).

    The one CSV parse of read_table and the chunked readers: only empty cells
    (and ``na_values``) are missing; numbers with thousands separators stay text
    for the preprocessing to read. The caller runs the structure check first.
    """
    source = opener.source
    try:
        with opener.errors(), opener.open() as f:
            for chunk in pd.read_csv(f, sep=sep, encoding="utf-8-sig", skipinitialspace=True,
                                     skip_blank_lines=True, keep_default_na=False,
                                     na_values=["", *na_values], dtype=dtype or None,
                                     chunksize=rows):
                columns: dict[str, np.ndarray] = {}
                labels: dict[str, Any] = {}
                coded: dict[str, Coded] = {}
                for column in chunk.columns:
                    name = str(column).strip()
                    labels[name] = column
                    columns[name], codes = _coded_column(chunk[column], name, source)
                    if codes is not None:
                        coded[name] = codes
                yield columns, labels, coded
    except (DataError, MemoryError):
        raise
    except Exception as exc:  # the structure check catches the usual problems first
        raise DataError(f"cannot parse {source} as CSV ({exc})") from None


def check_structure(opener: _Opener, source: str, sep: str) -> int:
    """Header names present and distinct; every row as many fields as the header.
    Returns the number of data rows (blank lines left out).

    Streams the file (line by line through the decoder): no copy of its text.
    """
    header: list[str] | None = None
    line = rows = 0
    try:
        with opener.errors(), opener.open() as f:
            text = io.TextIOWrapper(f, encoding="utf-8-sig", newline="")
            reader = csv.reader(text, delimiter=sep, skipinitialspace=True)
            for row in reader:
                line = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip() and header is not None
                               and len(header) > 1):
                    continue  # blank line
                if header is None:
                    header = [name.strip() for name in row]
                    _check_names(header, source)
                    _check_single_column(header, source, sep)
                    continue
                if len(row) != len(header):
                    raise DataError(
                        f"{source}, line {line}: {len(row)} field(s) but the header "
                        f"has {len(header)}; give every row one value per column (quote values "
                        "that contain the separator)")
                rows += 1
            text.detach()
    except csv.Error as exc:
        raise DataError(f"{source}, line {line + 1}: malformed CSV ({exc})") from None
    except UnicodeDecodeError:
        raise _utf8_error(opener) from None
    return rows


def _check_single_column(header: list[str], source: str, sep: str) -> None:
    if len(header) != 1:
        return
    inside = [s for s in SEPARATORS if s != sep and s in header[0]]
    if inside:
        raise DataError(f"{source}: the only column name, {header[0]!r}, contains "
                        f"{inside[0]!r}: the file seems to be separated by {inside[0]!r}, not "
                        f"{sep!r}; pass sep={inside[0]!r}", params=["sep"])


def _utf8_error(opener: _Opener) -> DataError:
    """The error naming the first byte that is not UTF-8 (found in a second, exact pass)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with opener.errors(), opener.open() as f:
        while chunk := f.read(1 << 20):
            pending = decoder.getstate()[0]
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                position = offset - len(pending) + exc.start
                return DataError(f"{opener.source} is not UTF-8 text (byte "
                                 f"0x{exc.object[exc.start]:02x} at position {position}); "
                                 "save it as UTF-8")
            offset += len(chunk)
    return DataError(f"{opener.source} is not UTF-8 text (it ends inside a character); "
                     "save it as UTF-8")


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
    return _coded_column(series, name, source)[0]


def _coded_column(series: Any, name: str, source: str) -> tuple[np.ndarray, Coded | None]:
    """(:func:`_column`, and for a text column the same values as codes into its
    distinct labels: see :data:`Coded`; else None)."""
    pd = _pandas()
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) and not series.isna().any():
        return series.to_numpy(dtype=bool), None
    if pd.api.types.is_integer_dtype(dtype) and not series.isna().any():
        return series.to_numpy(dtype=np.int64), None
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan), None
    if pd.api.types.is_datetime64_any_dtype(dtype):
        # As ISO 8601 text, which the preprocessing splits into date parts
        dates_only = bool((series.dropna() == series.dropna().dt.normalize()).all())
        return np.array([None if pd.isna(t) else (t.date() if dates_only else t).isoformat()
                         for t in series], dtype=object), None
    if pd.api.types.is_timedelta64_dtype(dtype):
        raise DataError(f"{source}: column {name!r} holds durations ({dtype}); "
                        "convert it to numbers first")
    text = pd.api.types.infer_dtype(series, skipna=True) == "string"
    if text:
        # One Python object per distinct text, shared by its rows: a text column
        # costs a pointer a row, not a string a row (and converts once per value).
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        values = np.asarray(uniques, dtype=object)
    else:  # mixed objects: 1, 1.0 and True are one key to factorize, so value by value
        values = series.astype(object).to_numpy()
        codes = np.where(series.isna().to_numpy(), -1, np.arange(len(values)))
    distinct = np.empty(len(values) + 1, dtype=object)  # the last: None, for missing
    for k, v in enumerate(values):
        if isinstance(v, (str, bool, int, float, np.integer, np.floating, np.bool_)):
            distinct[k] = v
        elif isinstance(v, bytes):
            distinct[k] = v.decode("utf-8", errors="replace")
        else:
            distinct[k] = str(v)
    # code -1 (missing) picks the last: None
    return distinct[codes], ((codes.astype(np.intp), distinct) if text else None)


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
