"""One run at a time per checkpoint folder: an advisory lock file, ``.synnet-lock``.

The lock is an ``flock`` on the file, so the operating system releases it when
its process ends, however it ends. The file holds the owner's process id for
messages: a file left by a killed process is a stale lock, taken over with a
warning. Where ``fcntl`` does not exist (Windows) no lock is taken.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

from synnet.errors import ConfigError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".synnet-lock"


class FolderLock:
    """An exclusive lock on ``folder`` for this process; :meth:`release` lets go."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or ConfigError if another live process holds it."""
        if fcntl is None or self._fd is not None:  # pragma: no cover - Windows
            return
        for _ in range(100):  # the holder may unlink the file between our open and flock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read_owner(fd)
                os.close(fd)
                raise ConfigError(
                    f"the checkpoint folder {self.path.parent} is in use by another run "
                    f"(process {owner or 'unknown'}); wait for it to finish, or give this run "
                    "another folder") from None
            except OSError as exc:  # a file system without locks (some network mounts)
                os.close(fd)
                warnings.warn(f"cannot lock the checkpoint folder {self.path.parent} ({exc}); "
                              "make sure no other run uses it", stacklevel=4)
                return
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            previous = _read_owner(fd)
            # A holder that released would have removed the file: its process died.
            if previous and previous != str(os.getpid()):
                warnings.warn(f"taking over the lock of the checkpoint folder "
                              f"{self.path.parent}: process {previous}, which held it, no "
                              "longer runs", stacklevel=4)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._fd = fd
            return
        raise ConfigError(  # pragma: no cover - a hundred lost races in a row
            f"could not lock the checkpoint folder {self.path.parent}: other runs keep "
            "replacing its lock file")

    def release(self) -> None:
        """Remove the lock file and let go (no-op when not held)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # while still locked: no one else holds this inode
        os.close(self._fd)
        self._fd = None


def _read_owner(fd: int) -> str:
    """The process id written in the lock file ('' if none or unreadable)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""
