"""Table files in chunks of rows: read a chunk, work on it, write it, so memory does not grow.

:func:`read_chunks` yields the rows of a CSV, TSV or Parquet file as
:class:`~synnet.tabular.files.Table` chunks of at most ``rows`` rows, in file
order, with the same column types :func:`~synnet.tabular.files.read_table`
gives; :func:`write_chunks` writes chunks of columns as one file, atomically
(or to standard output as they come).
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from synnet.errors import DataError
from synnet.io.atomic import atomic_write
from synnet.tabular.files import (
    PARQUET_SUFFIXES,
    Table,
    _check_names,
    _Opener,
    _pandas,
    check_reading,
    check_structure,
    csv_chunks,
    data_format,
    frame_to_table,
    open_data,
    parquet_file,
)

#: Rows per chunk: with 40 columns, a few tens of MB.
CHUNK_ROWS = 1 << 16


def read_chunks(path: str | os.PathLike[str], rows: int | None = None,
                sep: str | None = None, stdin: IO[bytes] | None = None, *,
                na_values: Sequence[str] = (),
                text: Sequence[str] = ()) -> Iterator[tuple[int, Table]]:
    """(index of the chunk's first row, chunk) for the rows of a table file, in order.

    Opened, decompressed, sniffed and parsed as :func:`~synnet.tabular.files.read_table`
    does (the same code: ``sep``, ``na_values``, only empty cells missing).
    ``"-"`` is standard input; standard input and pipes can be read only once,
    so they are read whole first; files are read a chunk at a time.
    Raises DataError for a file with no data rows (before yielding anything) or
    one that cannot be parsed; OSError when it cannot be opened.

    One difference from a whole-file read remains: a column of numbers in one
    chunk and text in another is typed per chunk (a whole-file read makes it all
    text, every value as written: "007", not 7). Name such columns in ``text``
    to read them as a whole-file read does (a CSV file's; Parquet columns are
    typed by the file).
    """
    check_reading(sep, na_values)
    pd = _pandas()
    rows = rows or CHUNK_ROWS
    opener = open_data(path, stdin)
    source = opener.source
    sep = data_format(opener, sep)
    chunks = (_parquet_chunks(opener, rows) if sep is None
              else _csv_chunks(pd, opener, sep, tuple(na_values), rows, text))
    start = 0
    for table in chunks:
        if not table.n_rows:
            continue
        yield start, table
        start += table.n_rows
    if start == 0:
        raise DataError(f"{source} has a header but no data rows")


def _csv_chunks(pd: Any, opener: _Opener, sep: str, na_values: tuple[str, ...],
                rows: int, text: Sequence[str] = ()) -> Iterator[Table]:
    # The whole-file reader's structure check (ragged rows, names), line by line first:
    # pandas alone would fill short rows with missing values.
    check_structure(opener, opener.source, sep)
    dtype: dict[Any, Any] = {}
    if text:  # pandas names columns by their labels as written: read the header for them
        with opener.errors(), opener.open() as f:
            header = pd.read_csv(f, sep=sep, encoding="utf-8-sig", skipinitialspace=True,
                                 nrows=0).columns
        dtype = {label: object for label in header if str(label).strip() in set(text)}
    for columns, _ in csv_chunks(pd, opener, sep, na_values, dtype, rows=rows):
        yield Table(columns, opener.source)


def _parquet_chunks(opener: _Opener, rows: int) -> Iterator[Table]:
    path = opener.source
    with parquet_file(opener) as f:  # checks that pyarrow is installed
        import pyarrow.parquet as pq

        reader = pq.ParquetFile(f, pre_buffer=False)  # one row group at a time
        names = [str(c) for c in reader.schema_arrow.names]
        _check_names(names, path)
        for batch in reader.iter_batches(batch_size=rows):
            yield Table({name: arrow_column(batch.column(i), name, path)
                         for i, name in enumerate(names)}, path)


def arrow_column(array: Any, name: str, source: str) -> np.ndarray:
    """A pyarrow column as the NumPy column :func:`~synnet.tabular.files.frame_to_table`
    makes of it through pandas (the same dtype and values), without pandas where it can.

    Numbers go straight to NumPy; text (plain or dictionary) is dictionary-encoded,
    so one Python string is made per distinct value of the chunk, not one per row.
    Other types (dates, decimals, unsigned 64-bit, booleans with nulls...) take the
    pandas path.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    nulls = array.null_count
    if pa.types.is_boolean(kind) and not nulls:
        return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_integer(kind) and kind != pa.uint64():
        if not nulls:
            return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.int64)
        # pandas turns integers with nulls into float64 with NaN: the same here
        values = array.fill_null(0).to_numpy(zero_copy_only=False).astype(np.float64)
        values[array.is_null().to_numpy(zero_copy_only=False)] = np.nan
        return values
    if kind in (pa.float32(), pa.float64()):
        values = array.fill_null(np.nan) if nulls else array
        return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    if pa.types.is_dictionary(kind) and _is_text(kind.value_type):
        array = array.dictionary_decode()  # chunks of one file may have other dictionaries
        kind = array.type
    if _is_text(kind):
        encoded = pc.dictionary_encode(array)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        # the last: None, for missing (code -1)
        distinct = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        return distinct[codes]
    frame = pa.table({name: array}).to_pandas()
    return frame_to_table(frame, source).columns[name]


def _is_text(kind: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def write_chunks(chunks: Iterable[dict[str, np.ndarray]], path: str | os.PathLike[str] | None,
                 stdout: IO[str] | None = None) -> int:
    """Write chunks of columns (the same names in each) as one file; the rows written.

    CSV to ``stdout`` when ``path`` is None or ``"-"`` (chunk by chunk, as they
    come); else CSV, TSV or Parquet by the suffix, atomically: an error in any
    chunk leaves ``path`` as it was.
    """
    count = [0]
    if path is None or str(path) == "-":
        _write_csv(chunks, stdout or sys.stdout, ",", count)
        return count[0]
    target = Path(path)
    if target.suffix.lower() in PARQUET_SUFFIXES:
        atomic_write(target, lambda f: _write_parquet(chunks, f, count))
        return count[0]
    sep = "\t" if target.suffix.lower() == ".tsv" else ","

    def write(f: IO[bytes]) -> None:
        text = io.TextIOWrapper(f, encoding="utf-8", newline="")
        _write_csv(chunks, text, sep, count)
        text.flush()
        text.detach()

    atomic_write(target, write)
    return count[0]


def _write_csv(chunks: Iterable[dict[str, np.ndarray]], out: IO[str], sep: str,
               count: list[int]) -> None:
    pd = _pandas()
    for chunk in chunks:
        frame = pd.DataFrame(chunk)
        frame.to_csv(out, index=False, sep=sep, lineterminator="\n", header=count[0] == 0)
        count[0] += len(frame)


def _write_parquet(chunks: Iterable[dict[str, np.ndarray]], f: IO[bytes],
                   count: list[int]) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("writing Parquet files needs pyarrow; install it with "
                          "pip install pyarrow (or write CSV)") from None
    pd = _pandas()
    writer = None
    try:
        for chunk in chunks:
            table = pa.Table.from_pandas(pd.DataFrame(chunk), preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(f, table.schema)
            elif table.schema != writer.schema:
                try:
                    table = table.cast(writer.schema)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise DataError(f"rows from {count[0] + 1} on have other column types "
                                    f"than the rows before ({exc}); write CSV instead") from None
            writer.write_table(table)
            count[0] += table.num_rows
    finally:
        if writer is not None:
            writer.close()
