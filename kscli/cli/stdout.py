"""Standard output that never loses the end of what a command prints in silence.

Python's own stdout can drop what a short write left over (a file-size limit, a full
disk): `kscli export > ledger.json` then exited 0 with half a file. Here every write
goes out whole through ``os.write`` in a loop, and one that fails raises, so the
command ends with one line on stderr and exit 1 instead.
"""

from __future__ import annotations

import errno
import io
import os
import sys


class _WholeWrites(io.RawIOBase):
    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            view = view[os.write(self._fd, view):]
        return total


def install(line_buffering: bool | None = None) -> None:
    """Put a whole-writes stdout in place of Python's (real processes only), line
    buffered as the current one unless ``line_buffering`` says."""
    current = sys.stdout
    try:
        fd = current.fileno()
    except (AttributeError, OSError, ValueError):
        return  # no real file behind it: leave it as it is
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(_WholeWrites(fd), buffer_size=1 << 16),
        encoding=current.encoding, errors=current.errors,
        line_buffering=current.line_buffering if line_buffering is None else line_buffering)


def failed_write(exc: OSError) -> str | None:
    """The one line for an output write that failed, or None if it is not one."""
    from kscli.store.fs import WRITE_ERRORS  # only now: off every command's start-up path

    known = WRITE_ERRORS.get(exc.errno)  # type: ignore[arg-type]
    if known is None or exc.errno == errno.EPIPE:
        return None
    why, hint = known
    return (f"Error: cannot write the output: {why}; what was printed is incomplete "
            f"({hint})")


def quiet() -> None:
    """`kscli sub list | head`: the reader left; what is still buffered goes nowhere,
    so that the exit is quiet, without a traceback (nor Python's exit 120)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def finish() -> str | None:
    """Flush what is left; the failure line if that fails."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        quiet()
        return None
    except OSError as exc:
        return failed_write(exc)
    return None
