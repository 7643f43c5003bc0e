"""The ``synnet`` command line: parse, run one command, report errors in a line or two.

The commands live in :mod:`synnet.cli.commands`, the parser in
:mod:`synnet.cli.parser`.

Exit status: 0 on success, 2 for bad input (a message on stderr says what is
wrong and how to fix it; no traceback unless ``--debug``), 1 when training
diverges, 130 on Ctrl-C.
"""

from __future__ import annotations

import errno
import os
import sys
import warnings
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any, TextIO

from synnet._threads import set_threads
from synnet.cli.commands import EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_OK
from synnet.cli.parser import build_parser, unrecognized
from synnet.errors import DivergenceError, SynnetError


def _error_text(exc: BaseException, flags: dict[str, str]) -> tuple[str, str | None]:
    """(what is wrong, how to fix it) for an expected error.

    The library's errors name Python parameters (``exc.params``); the hint names
    the flags that set them.
    """
    if isinstance(exc, OSError) and not isinstance(exc, SynnetError):
        name = exc.filename if exc.filename is not None else ""
        if isinstance(exc, IsADirectoryError):
            return f"{name} is a folder, not a file", "give the path of a file"
        if isinstance(exc, FileNotFoundError):
            return f"no such file: {name}", "check the path and the current folder"
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return (f"no space left on the device to write {name} ({exc.strerror}); the "
                    "previous file, if any, is unchanged",
                    "free some disk space, or write to another disk")
        if isinstance(exc, PermissionError):
            return f"permission denied: {name}", "check the file's permissions"
        return f"cannot access {name}: {exc.strerror or exc}" if name else str(exc), None
    named = [flags[p] for p in getattr(exc, "params", ()) if p in flags]
    if named:
        return str(exc), f"on the command line: {', '.join(named)}"
    return str(exc), None


def _warning_printer(flags: dict[str, str]) -> Any:
    """A ``warnings.showwarning`` that prints one line, plus the flags a warning's
    ``params`` name (as errors get them)."""
    def show(message: Any, category: Any, filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        print(f"synnet: warning: {message}", file=sys.stderr)
        named = [flags[p] for p in getattr(message, "params", ()) if p in flags]
        if named:
            print(f"  hint: on the command line: {', '.join(named)}", file=sys.stderr)
    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    out, err = sys.stdout, sys.stderr
    parser = build_parser()
    try:
        args, extras = parser.parse_known_args(None if argv is None else list(argv))
        if extras:  # a typo in an option: the subcommand's usage, not the top level's
            command_parser = getattr(args, "command_parser", parser)
            command_parser.error(unrecognized(command_parser, extras))
    except SystemExit as exc:  # --help, --version, usage errors (status 2)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    try:
        threads = getattr(args, "threads", None)  # --threads N, for the commands that compute
        with warnings.catch_warnings(), (nullcontext() if threads is None
                                         else set_threads(threads)):
            warnings.showwarning = _warning_printer(getattr(args, "flags", {}))
            return int(args.func(args, out, err))
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("\nsynnet: interrupted", file=err)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. synnet predict ... | head
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_OK
    except (SynnetError, OSError, ImportError) as exc:
        if args.debug:
            raise
        message, hint = _error_text(exc, getattr(args, "flags", {}))
        print(f"synnet: error: {message}", file=err)
        if hint:
            print(f"  hint: {hint}", file=err)
        return EXIT_DIVERGED if isinstance(exc, DivergenceError) else EXIT_BAD_INPUT
    except MemoryError:  # one the library did not name (NotEnoughMemory is a SynnetError)
        if args.debug:
            raise
        print(f"synnet: error: not enough memory to run synnet {args.command}; try a smaller "
              "data file or smaller settings", file=err)
        return EXIT_BAD_INPUT
