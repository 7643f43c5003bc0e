"""Atomic file writes: a crash or an error never leaves a half-written file behind.

The temporary file is named ``.<name>.synnet-tmp-<pid>-<random>`` in the
target's folder: recognisably ours, and naming the process that writes it, so
that :func:`remove_stale_temp_files` can delete the ones a killed process left.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

#: The temporary files of atomic_write: ``.<name>.synnet-tmp-<pid>-<12 hex digits>``.
_TEMP_NAME = re.compile(r"\..+\.synnet-tmp-([1-9][0-9]{0,9})-[0-9a-f]{12}")


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(f)`` on a temporary file next to ``path``, then rename it to ``path``.

    The temporary file is flushed and fsynced before ``os.replace``, so
    ``path`` holds either its old content or the complete new one, never a
    partial file; on any error the temporary file is removed and ``path`` is
    untouched.
    """
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(target))
    folder = target.parent
    tmp = folder / f".{target.name}.synnet-tmp-{os.getpid()}-{secrets.token_hex(6)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def remove_stale_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files that atomic_write left in ``folder`` when its process died.

    Only regular files named by atomic_write whose writing process no longer
    runs on this machine are deleted; files of live processes (and of this one)
    are kept. Returns the deleted paths; a folder that cannot be read deletes
    nothing.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.fullmatch(entry.name)
        try:
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
        except OSError:
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or _process_alive(pid):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` (> 0) exists on this machine (a zombie counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process (or no pid at all): keep
        return True
    return True
