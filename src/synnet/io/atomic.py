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
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from synnet.errors import ConfigError

#: The temporary files of atomic_write: ``.<name>.synnet-tmp-<pid>-<12 hex digits>``.
_TEMP_NAME = re.compile(r"\..+\.synnet-tmp-([1-9][0-9]{0,9})-[0-9a-f]{12}")


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in ((stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def output_target(path: str | os.PathLike[str]) -> Path:
    """The file a write to ``path`` replaces: symlinks followed to their final target.

    Raises IsADirectoryError for a folder, and ConfigError when the file
    exists but is not a regular file (a device node such as /dev/null, a FIFO,
    a socket): replacing it with a regular file would destroy it, and writing
    into it is not atomic.
    """
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    except NotADirectoryError:
        raise ConfigError(f"{os.fspath(path)}: a part of the path is a file, not a folder") \
            from None
    if info is None:
        _check_not_special(path, target)
        return target
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", os.fspath(path))
    if not stat.S_ISREG(info.st_mode):
        shown = os.fspath(path) + ("" if target == Path(path) else f" (a link to {target})")
        raise ConfigError(f"{shown} is {file_kind(info.st_mode)}; synnet only replaces regular "
                          "files: give another path")
    _check_not_special(path, target)
    return target


def _check_not_special(path: str | os.PathLike[str], target: Path) -> None:
    """Refuse /dev and /proc paths: /dev/stdout may lead to a file of the shell's (>>)."""
    for name in (os.path.abspath(path), os.path.realpath(path), str(target)):
        if name.startswith(("/dev/", "/proc/")):
            raise ConfigError(f"{os.fspath(path)} is a system path; synnet writes only to "
                              "files of yours: give a file name, or '-' for standard output")


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(f)`` on a temporary file next to ``path``, then rename it to ``path``.

    The temporary file is flushed and fsynced before ``os.replace``, so
    ``path`` holds either its old content or the complete new one, never a
    partial file; on any error the temporary file is removed and ``path`` is
    untouched. A symlink is written through: its target is replaced, the link
    stays. A replaced file keeps its permission bits. Anything but a regular
    file (a folder, /dev/null, a FIFO) is refused (see :func:`output_target`).
    OSErrors (a full disk) name ``path``.
    """
    target = output_target(path)
    try:
        old_mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        old_mode = None
    folder = target.parent
    tmp = folder / f".{target.name}.synnet-tmp-{os.getpid()}-{secrets.token_hex(6)}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            if old_mode is not None and hasattr(os, "fchmod"):  # 0600 stays 0600
                os.fchmod(f.fileno(), old_mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename in (None, str(tmp)):
            raise _naming(exc, path) from exc  # the user's path, not the temporary one
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


def _naming(exc: OSError, path: str | os.PathLike[str]) -> OSError:
    """``exc`` as an OSError of the same kind naming ``path`` (ENOSPC has no file name)."""
    if exc.errno is None:
        return exc
    # OSError(errno, ...) picks the subclass of that errno (FileNotFoundError, ...).
    return OSError(exc.errno, exc.strerror or os.strerror(exc.errno), os.fspath(path))
