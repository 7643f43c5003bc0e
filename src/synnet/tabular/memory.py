"""Running out of memory as an error that says what ran out and what to try.

A ``MemoryError`` from NumPy or pandas names neither the work nor a way out;
:func:`memory_guard` turns it into :class:`NotEnoughMemory`, a
:class:`~synnet.errors.SynnetError` (so the command line reports it in a line
and exits 2) that is still a ``MemoryError`` for ``except MemoryError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from synnet.errors import SynnetError


class NotEnoughMemory(SynnetError, MemoryError):
    """The machine had not enough memory for a step; the message says which and what to try."""


@contextmanager
def memory_guard(doing: str, advice: str, params: Iterable[str] = ()) -> Iterator[None]:
    """Re-raise a MemoryError inside as "not enough memory to <doing>; try <advice>"."""
    try:
        yield
    except NotEnoughMemory:
        raise
    except MemoryError:
        raise NotEnoughMemory(f"not enough memory to {doing}; try {advice}",
                              params=params) from None
