"""Table files in chunks of rows: read a chunk, work on it, write it, so memory does not grow.

:func:`read_chunks` yields the rows of a CSV, TSV or Parquet file as
:class:`~synnet.tabular.files.Table` chunks of at most ``rows`` rows, in file
order, with the same column types :func:`~synnet.tabular.files.read_table`
gives; :func:`write_chunks` writes chunks of columns as one file, atomically
(or to standard output as they come).
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from synnet.errors import DataError
from synnet.io.atomic import atomic_write
from synnet.tabular.files import (
    PARQUET_SUFFIXES,
    Table,
    _check_names,
    _check_structure,
    _pandas,
    frame_to_table,
    is_parquet,
)

#: Rows per chunk: with 40 columns, a few tens of MB.
CHUNK_ROWS = 1 << 16


def read_chunks(path: str | os.PathLike[str], rows: int | None = None,
                sep: str | None = None, stdin: IO[bytes] | None = None,
                ) -> Iterator[tuple[int, Table]]:
    """(index of the chunk's first row, chunk) for the rows of a table file, in order.

    ``"-"`` is standard input. Standard input and pipes can be read only once,
    so they are read whole first; files are read a chunk at a time.
    Raises DataError for a file with no data rows (before yielding anything) or
    one that cannot be parsed; OSError when it cannot be opened.
    """
    pd = _pandas()
    rows = rows or CHUNK_ROWS
    source = "<stdin>" if str(path) == "-" else str(path)
    data: Any = path
    if str(path) == "-":
        data = io.BytesIO((stdin or sys.stdin.buffer).read())
    else:
        with open(path, "rb") as f:  # OSError for missing files, folders, permissions
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                data = io.BytesIO(f.read())  # a pipe (<(zcat ...)) can be read only once
    if isinstance(data, io.BytesIO):
        head = data.getvalue()[:4096]
    else:
        with open(path, "rb") as f:
            head = f.read(4096)
    if not head.strip():
        raise DataError(f"{source} is empty; it needs a header row and at least one data row")
    name = "" if source == "<stdin>" else source
    chunks = (_parquet_chunks(data, source, rows) if is_parquet(name, head)
              else _csv_chunks(pd, data, source, rows, sep))
    start = 0
    for frame in chunks:
        if not len(frame):
            continue
        table = frame_to_table(frame, source)
        yield start, table
        start += table.n_rows
    if start == 0:
        raise DataError(f"{source} has a header but no data rows")


def _csv_chunks(pd: Any, data: Any, path: str, rows: int, sep: str | None) -> Iterator[Any]:
    if sep is None:
        sep = "\t" if path.lower().endswith((".tsv", ".tsv.gz")) else ","
    # The whole-file reader's structure check (ragged rows, names), line by line first:
    # pandas alone would fill short rows with missing values.
    with _text(data, path) as text:
        _check_structure(text, path, sep)
    if isinstance(data, io.BytesIO):
        data.seek(0)
    try:
        reader = pd.read_csv(data, sep=sep, skipinitialspace=True, skip_blank_lines=True,
                             chunksize=rows, compression="infer", encoding="utf-8-sig")
        for frame in reader:
            frame.columns = [str(c).strip() for c in frame.columns]
            _check_names(list(frame.columns), path)
            yield frame
    except (DataError, MemoryError):
        raise
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    except Exception as exc:  # pandas' parser errors have many types
        raise DataError(f"cannot parse {path} as CSV ({exc})") from None


@contextlib.contextmanager
def _text(data: Any, path: str) -> Iterator[IO[str]]:
    """The file (or in-memory bytes) as text, decompressed as pandas' 'infer' would."""
    suffix = Path(path).suffix.lower()
    opener: Any = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(suffix, open)
    if suffix == ".zst":  # pandas reads these through zstandard too
        try:
            import zstandard
        except ImportError:
            raise ImportError("reading .zst files needs zstandard: pip install zstandard") \
                from None
        opener = zstandard.open
    raw = data if isinstance(data, io.BytesIO) else opener(data, "rb")
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    try:
        yield text
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    finally:
        text.detach()
        if raw is not data:
            raw.close()


def _parquet_chunks(data: Any, path: str, rows: int) -> Iterator[Any]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("reading Parquet files needs pyarrow; install it with "
                          "pip install pyarrow (or save the data as CSV)") from None
    try:
        reader = pq.ParquetFile(data, pre_buffer=False)  # one row group at a time
        for batch in reader.iter_batches(batch_size=rows):
            yield batch.to_pandas()
    except (DataError, MemoryError):
        raise
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        raise DataError(f"cannot read {path} as Parquet ({exc})") from None


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
