"""A table file read by the cluster's workers, partition by partition, with synnet's rules.

:func:`describe` (run on a worker) finds the file's format and cuts it into
partitions: byte ranges of a CSV file that start and end at line breaks
(``fsspec.utils.read_block``, as ``dask.dataframe.read_csv`` cuts them), one
partition for a compressed file (it can only be read from its start), and
row ranges of a Parquet file's row groups. :func:`read_part` (run on each
worker) reads one partition into a :class:`~synnet.tabular.files.Table`
with the parser of :func:`~synnet.tabular.files.read_table`: the separator
given or sniffed, only empty cells (and ``na_values``) missing, text kept as
text (numbers with thousands separators too, for the preprocessing to
read), every row as wide as the header.

The path is opened with fsspec on the workers, never on the client: it must
be readable by every worker (a shared filesystem, or a URL dask reads, such as
``s3://bucket/data.csv`` with s3fs installed). A worker that cannot read it
raises a DataError saying so. As in ``dask.dataframe.read_csv``, a quoted
field must not hold a line break in a CSV file cut into several partitions.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import fsspec
from fsspec.utils import read_block

from synnet.errors import DataError, SynnetError
from synnet.tabular.chunks import arrow_table
from synnet.tabular.files import (
    Table,
    _check_names,
    _Opener,
    _pandas,
    _read_csv,
    data_format,
    parquet_file,
)

#: The largest CSV partition, in bytes of the file.
BLOCK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Layout:
    """A file cut into partitions.

    ``sep``: the CSV separator, or None for Parquet. ``parts``: per partition,
    (first byte, bytes) of a CSV file, or (row group, first row, end row) of a
    Parquet file. ``header``: a CSV file's first line, put before every
    partition but the first.
    """

    path: str
    sep: str | None
    parts: list[tuple[int, ...]]
    header: bytes = b""


def absolute(path: str) -> str:
    """``path`` as the workers should open it: local paths made absolute (a worker's
    working folder may differ), URLs (``s3://...``) as they are."""
    return path if "://" in path else os.path.abspath(path)


def describe(path: str, sep: str | None, n_parts: int) -> Layout:
    """The format and partitions of ``path`` (at least ``n_parts`` where the file allows)."""
    with _reading(path):
        opener = _opener(path)
        sep = data_format(opener, sep)  # DataError for an empty file
        if sep is None:
            with parquet_file(opener) as f:
                import pyarrow.parquet as pq

                meta = pq.ParquetFile(f).metadata
                groups = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
            per_group = max(1, -(-n_parts // max(1, len(groups))))
            parts: list[tuple[int, ...]] = []
            for g, n in enumerate(groups):
                cuts = sorted({n * k // per_group for k in range(per_group + 1)})
                parts += [(g, a, b) for a, b in zip(cuts[:-1], cuts[1:])] or [(g, 0, 0)]
            return Layout(path, None, parts)
        if opener.compression is not None:  # one partition: no header to put before others
            return Layout(path, sep, [(0, -1)])
        with opener.open() as f:
            header = f.readline()
        fs, name = _filesystem(path)
        size = fs.size(name)
        block = min(BLOCK_BYTES, max(1, -(-size // max(1, n_parts))))
        return Layout(path, sep, [(start, min(block, size - start))
                                  for start in range(0, size, block)], header)


def read_part(layout: Layout, k: int, na_values: Sequence[str] = ()) -> Table:
    """Partition ``k`` of the file, parsed as read_table parses a whole file."""
    path = layout.path
    with _reading(path):
        if layout.sep is None:
            return _parquet_part(layout, k)
        opener = _opener(path)
        if len(layout.parts) > 1:
            start, length = layout.parts[k]
            fs, name = _filesystem(path)
            with fs.open(name, "rb") as f:
                data = read_block(f, start, length, delimiter=b"\n")
            data = data if start == 0 else layout.header + data
            try:
                return _read_csv(_pandas(), _Opener(lambda: io.BytesIO(data), path), path,
                                 layout.sep, tuple(na_values))
            except DataError as exc:
                raise DataError(
                    f"{exc} [in partition {k + 1} of {len(layout.parts)}, from byte {start} "
                    "of the file; its lines are counted from there, after the header. If a "
                    "quoted value holds a line break, the file cannot be cut at line breaks: "
                    "compress it (one partition) or save it as Parquet]",
                    params=exc.params) from None
        return _read_csv(_pandas(), opener, path, layout.sep, tuple(na_values))


def _parquet_part(layout: Layout, k: int) -> Table:
    group, first, end = layout.parts[k]
    with parquet_file(_opener(layout.path)) as f:
        import pyarrow.parquet as pq

        data = pq.ParquetFile(f).read_row_group(group).slice(first, end - first)
    names = [str(c) for c in data.column_names]
    _check_names(names, layout.path)
    return arrow_table(data, names, layout.path)


def _filesystem(path: str) -> tuple[Any, str]:
    return fsspec.core.url_to_fs(path)


def _opener(path: str) -> _Opener:
    fs, name = _filesystem(path)

    def raw() -> IO[bytes]:
        return fs.open(name, "rb")
    return _Opener(raw, path)


@contextmanager
def _reading(path: str) -> Iterator[None]:
    """A worker's failure to open ``path`` as a DataError saying where the data must be."""
    try:
        yield
    except (OSError, ImportError, ValueError) as exc:
        if isinstance(exc, SynnetError):
            raise
        raise DataError(
            f"the Dask worker {_worker_name()} cannot read {path} ({type(exc).__name__}: "
            f"{exc}); on a cluster every worker reads the data itself, so DATA must be "
            "readable by each of them: a shared filesystem, or a URL dask reads (such as "
            "s3://bucket/data.csv, with s3fs installed)", params=["data"]) from None


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except ValueError:  # not on a worker
        return "(none)"
