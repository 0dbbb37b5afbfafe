"""A long listing in two processes, with the output of one.

`kscli --format jsonl sub list` of a ledger of 200,000 subscriptions spends about 12 us
of CPU on each row (read, state at the moment, JSON line), all of it Python on one
core. Where the system gives kscli two cores, the listing of a large SQLite ledger is
split at the middle id: a child process (forked, so nothing is started again) lists
the second half into a private unlinked temporary file while this process lists the
first half to stdout, then copies the child's lines after its own. The CPU time is
the same; the wall time is a little over half (bench/RESULTS.md).

What the reader sees is exactly what one process prints, whatever happens:

- One snapshot: both processes read in a transaction each, begun after a watch on the
  ledger started (Store.read_watched) and before it is looked at again; if anything
  was committed meanwhile, the child is told to stop and this process lists the whole
  ledger from its own transaction.
- The child's lines are copied only if it ended with exit 0 after writing them all;
  otherwise (a damaged row, a full temporary disk, a kill) this process lists the
  second half itself, from the same transaction, so that any error is its own, said
  the way one process says it, after the same lines.
- The child prints nothing: its stdout is the temporary file and its stderr goes
  nowhere. It is killed if this process stops early (an error, Ctrl-C, `| head`).

KSCLI_JOBS=1 keeps every listing in one process; KSCLI_JOBS=2 splits any listing of
two or more subscriptions, whatever the cores (kscli.paths.ENVIRONMENT).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

AT_LEAST = 20_000  # below this, a listing takes under a quarter of a second: one process

Bounds = dict[str, str]  # {} for every subscription, or {"id_before": K} / {"id_from": K}


def jobs() -> int | None:
    """KSCLI_JOBS: 1 or 2 as asked (more counts as 2), None when unset (kscli chooses)."""
    raw = os.environ.get("KSCLI_JOBS", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        from kscli.domain.errors import BadValue, shown

        raise BadValue(f"KSCLI_JOBS must be a whole number from 1, not {shown(raw)}",
                       hint="unset it to let kscli choose, or set it to 1 for one process")
    return min(int(raw), 2)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # (not Linux)
        return os.cpu_count() or 1


def _can_fork() -> bool:
    try:
        sys.stdout.fileno()  # a real file or pipe behind stdout (not a test's capture)
    except (AttributeError, OSError, ValueError):
        return False
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return False  # a child forked beside a running thread can hang on its locks
    return hasattr(os, "fork")


def list_in_halves(store: Any, emit: Callable[[Any, Bounds], None]) -> None:
    """``emit(ledger, bounds)`` writes the listing of the subscriptions within
    ``bounds`` to sys.stdout, in id order; this writes the whole listing, in two
    processes where that is worth it (see the module's rules), else in one."""
    asked = jobs()
    key = None
    if asked != 1 and _can_fork() and (asked == 2 or _cores() >= 2):
        key = store.split_point(2 if asked == 2 else AT_LEAST)
    if key is not None and _in_two(store, key, emit):
        return
    with store.read() as ledger:
        emit(ledger, {})


def _read_byte(fd: int, timeout: float | None = None) -> bytes:
    """One byte from a pipe; nothing at its end, on an error, or after ``timeout``."""
    try:
        if timeout is not None:
            import select

            if not select.select([fd], [], [], timeout)[0]:
                return b""
        return os.read(fd, 1)
    except OSError:
        return b""


def _send(fd: int, byte: bytes) -> None:
    try:
        os.write(fd, byte)
    except OSError:  # the child is gone: it is reaped, and its half listed here
        pass


def _in_two(store: Any, key: str, emit: Callable[[Any, Bounds], None]) -> bool:
    """The listing, its second half by a child where the two can read one snapshot;
    False, having printed nothing, where no child can be given a temporary file."""
    import tempfile

    try:
        out = tempfile.TemporaryFile(prefix="kscli-")  # private (0600), unlinked already
    except OSError:
        return False
    start_r, start_w = os.pipe()
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child (its lines are checked by the tests)
        for fd in (start_w, ready_r, go_w):
            os.close(fd)
        _child(store, key, emit, out, start_r, ready_w, go_r)
    for fd in (start_r, ready_w, go_r):
        os.close(fd)
    alive = True
    try:
        with store.read_watched() as (ledger, changed):
            _send(start_w, b"s")  # this snapshot is taken: the child takes its own
            # (a child that cannot read the ledger within its busy timeout is let go)
            ready = _read_byte(ready_r, getattr(store, "busy_timeout", 10.0) + 5)
            together = ready == b"r" and not changed()
            _send(go_w, b"g" if together else b"x")
            os.close(go_w)
            go_w = -1
            if not together:  # (the child has printed nothing: let it go at once)
                _stop(pid)
                alive = False
                emit(ledger, {})
                return True
            emit(ledger, {"id_before": key})
            sys.stdout.flush()
            _, status = os.waitpid(pid, 0)
            alive = False
            if os.waitstatus_to_exitcode(status) != 0:
                emit(ledger, {"id_from": key})  # the child's half, as one process lists it
                return True
            import shutil

            out.seek(0)
            shutil.copyfileobj(out, sys.stdout.buffer, 1 << 20)
            return True
    finally:
        if alive:
            _stop(pid)
        for fd in (start_w, ready_r, go_w):
            if fd >= 0:
                os.close(fd)
        out.close()


def _stop(pid: int) -> None:
    """Kill the child (gone already, or told to stop: either way) and reap it."""
    import signal

    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    os.waitpid(pid, 0)


def _child(store: Any, key: str, emit: Callable[[Any, Bounds], None], out: Any,
           start_r: int, ready_w: int, go_r: int) -> None:  # pragma: no cover - see above
    """The second half into ``out``; exit 0 only once every line is written."""
    code = 1
    try:
        quiet = os.open(os.devnull, os.O_WRONLY)
        for fd in {1, sys.stdout.fileno()}:  # (the same but where a test captures it)
            os.dup2(out.fileno(), fd)
        for fd in {2, sys.stderr.fileno()}:
            os.dup2(quiet, fd)
        from kscli.cli import stdout

        stdout.install(line_buffering=False)  # (a file now, even if the parent's is a terminal)
        if _read_byte(start_r) == b"s":
            with store.read() as ledger:
                os.write(ready_w, b"r")
                os.close(ready_w)
                if _read_byte(go_r) == b"g":
                    emit(ledger, {"id_from": key})
                    sys.stdout.flush()
                    code = 0
    except BaseException:  # noqa: BLE001 - whatever it was, the parent lists this half
        code = 1
    os._exit(code)
