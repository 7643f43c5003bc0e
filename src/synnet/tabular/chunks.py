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
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import IO, Any

import numpy as np

from synnet.errors import DataError
from synnet.io.atomic import atomic_write
from synnet.tabular.files import (
    PARQUET_SUFFIXES,
    Coded,
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
    text_dtype,
)

#: Rows per chunk: with 40 columns, a few tens of MB.
CHUNK_ROWS = 1 << 16


def read_chunks(path: str | os.PathLike[str], rows: int | None = None,
                sep: str | None = None, stdin: IO[bytes] | None = None, *,
                na_values: Sequence[str] = (), text: Sequence[str] = (),
                select: Select | None = None) -> Iterator[tuple[int, Table]]:
    """(index of the chunk's first row, chunk) for the rows of a table file, in order.

    Opened, decompressed, sniffed and parsed as :func:`~synnet.tabular.files.read_table`
    does (the same code: ``sep``, ``na_values``, only empty cells missing).
    ``"-"`` is standard input; standard input and pipes can be read only once,
    so they are read whole first; files are read a chunk at a time.
    ``select(first_row, n)``, when given, picks the rows kept of each chunk of
    ``n`` rows (positions within it, increasing); Parquet rows are picked
    before they become NumPy columns, so rows left out cost little. A chunk
    with no row kept is not yielded; the index yielded stays that of the
    chunk's first row in the file, kept or not (the rows kept are not
    consecutive: number them from ``select``'s positions). Parquet is decoded
    up to 65,536 rows at a time and cut into chunks.
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
    for n, table in chunks:
        kept = None if select is None else select(start, n)
        if n and (kept is None or len(kept)):
            yield start, table(kept)
        start += n
    if start == 0:
        raise DataError(f"{source} has a header but no data rows")


#: Picks the rows kept of a chunk: (index of its first row, its rows) -> positions kept.
Select = Callable[[int, int], np.ndarray]
#: (rows in the chunk, the chunk as a Table of the rows picked: all for None).
_Chunk = tuple[int, Callable[["np.ndarray | None"], Table]]
#: Cells decoded at a time from Parquet (32 MiB of float64): pyarrow decodes large
#: batches faster (batches of 16,384 rows took 1.4 times as long as of 65,536).
DECODE_CELLS = 1 << 22


def _csv_chunks(pd: Any, opener: _Opener, sep: str, na_values: tuple[str, ...],
                rows: int, text: Sequence[str] = ()) -> Iterator[_Chunk]:
    # The whole-file reader's structure check (ragged rows, names), line by line first:
    # pandas alone would fill short rows with missing values.
    check_structure(opener, opener.source, sep)
    dtype = text_dtype(pd, opener, sep, text)
    for columns, _, coded in csv_chunks(pd, opener, sep, na_values, dtype, rows=rows):
        table = Table(columns, opener.source, coded)
        yield table.n_rows, partial(_taken, table)


def _taken(table: Table, rows: np.ndarray | None) -> Table:
    return table if rows is None else table.take(rows)


def _parquet_chunks(opener: _Opener, rows: int) -> Iterator[_Chunk]:
    path = opener.source
    with parquet_file(opener) as f:  # checks that pyarrow is installed
        import pyarrow.parquet as pq

        footer = pq.ParquetFile(f)
        schema = footer.schema_arrow
        names = [str(c) for c in schema.names]
        _check_names(names, path)
        # Text columns as Arrow dictionaries (Parquet stores them so): their values are
        # made once per label a chunk uses, not once per row (see arrow_text)
        reader = pq.ParquetFile(f, pre_buffer=False, metadata=footer.metadata,
                                read_dictionary=[name for name, kind in
                                                 zip(schema.names, schema.types)
                                                 if _is_text(kind)])
        # a whole number of chunks per decoded batch: no short chunk after each
        decode = rows * max(1, min(CHUNK_ROWS, DECODE_CELLS // max(1, len(names))) // rows)
        for batch in reader.iter_batches(batch_size=decode):
            for start in range(0, batch.num_rows, rows):
                piece = batch.slice(start, rows)
                yield piece.num_rows, partial(arrow_table, piece, names, path)


def arrow_table(batch: Any, names: list[str], path: str,
                rows: np.ndarray | None = None) -> Table:
    """The rows ``rows`` (all for None) of an Arrow record batch or table, as the Table
    :func:`~synnet.tabular.files.frame_to_table` makes of it (see :func:`arrow_column`),
    its text columns also as codes; ``names``: the column names (the caller checks them)."""
    if rows is not None:
        import pyarrow as pa

        batch = batch.take(pa.array(rows))  # an Arrow array: 20 times as fast as NumPy's
    columns: dict[str, np.ndarray] = {}
    coded: dict[str, Coded] = {}
    for i, name in enumerate(names):
        array = batch.column(i)
        text = arrow_text(array)
        if text is None:
            columns[name] = arrow_column(array, name, path)
        else:
            coded[name] = text
            columns[name] = text[1][text[0]]
    return Table(columns, path, coded)


def arrow_text(array: Any) -> Coded | None:
    """A pyarrow text column (plain or dictionary) as (codes, labels), else None; the
    NumPy column is ``labels[codes]`` (see :data:`~synnet.tabular.files.Coded`).

    One Python string is made per distinct value of the chunk, not one per row.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(array, pa.ChunkedArray):  # a table's column
        array = array.combine_chunks()
    kind = array.type
    if _is_text(kind):
        array = pc.dictionary_encode(array)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        kind = array.type
    if not (pa.types.is_dictionary(kind) and _is_text(kind.value_type)):
        return None
    codes = array.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    dictionary = array.dictionary
    if len(dictionary) > len(codes):
        # A slice of a row group keeps the row group's whole dictionary (as does a
        # take): only the labels this chunk uses become Python strings.
        used, codes = np.unique(codes, return_inverse=True)
        missing = used[0] < 0
        dictionary = dictionary.take(pa.array(used[1:] if missing else used))
        codes = codes - 1 if missing else codes  # the missing ones back to -1
    # the last: None, for missing (code -1)
    labels = np.array([*dictionary.to_pylist(), None], dtype=object)
    return codes.astype(np.intp, copy=False), labels


def arrow_column(array: Any, name: str, source: str) -> np.ndarray:
    """A pyarrow column as the NumPy column :func:`~synnet.tabular.files.frame_to_table`
    makes of it through pandas (the same dtype and values), without pandas where it can.

    Numbers go straight to NumPy; text (plain or dictionary) goes through
    :func:`arrow_text`.
    Other types (dates, decimals, unsigned 64-bit, booleans with nulls...) take the
    pandas path.
    """
    import pyarrow as pa

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
    text = arrow_text(array)
    if text is not None:
        return text[1][text[0]]
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
