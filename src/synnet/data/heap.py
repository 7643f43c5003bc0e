"""Freed memory back to the system while streaming (glibc's malloc, on Linux).

glibc serves an allocation above its *mmap threshold* from a mapping of its
own, unmapped when freed; smaller ones come from heaps that keep freed memory
for reuse. The threshold starts at 128 KiB but rises to the size of every
mapping freed (up to 32 MiB), so a streaming job, which allocates and frees
arrays of a chunk (several MiB) over and over, soon takes them from the heaps,
one per thread (the read-ahead thread has its own), where fragmentation keeps
freed memory in the process: peak RSS of ``synnet train --stream`` on a 200,000
row Parquet file was about 100 MB higher than with the threshold fixed.
Fixing it at 1 MiB keeps chunk-sized arrays in mappings and minibatch-sized
ones (256 rows) in the heaps, where reuse is fast.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys

#: mallopt's parameter number for the mmap threshold (glibc's malloc.h)
_M_MMAP_THRESHOLD = -3
THRESHOLD_BYTES = 1 << 20


def return_freed_memory(threshold: int = THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes for this process.

    True when set; False where malloc is not glibc's (nothing is changed).
    The command line calls it before streaming; a program streaming through
    the library may call it too.
    """
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, int(threshold)))
    except (OSError, AttributeError):
        return False
