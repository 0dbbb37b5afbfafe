"""A check run in a child process while the parent goes on writing.

An import of 200,000 subscriptions spends about as long checking every value as
writing the rows, both in Python, so threads would take turns on one core. On a
system that can fork, the check runs in a child process while the parent writes
inside a transaction it keeps only once the child said yes. Only the verdict comes
back through a pipe.
"""

from __future__ import annotations

import json
import os
import signal
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from kscli.domain.errors import BadValue

_PASSED = b"ok"


@contextmanager
def checked_meanwhile(check: Callable[[], None]) -> Iterator[Callable[[], None]]:
    """Run ``check`` (which raises BadValue on bad data) in a child process, and give
    a verdict function that waits for it and raises what it raised; the verdict may be
    asked again. A child that ends without a verdict (killed, out of memory, a bug) is
    not trusted: the check then runs again here, so a verdict is never guessed. If the
    block ends without asking, the child is stopped."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child (coverage does not follow a fork)
        _child(check, reader, writer)
    os.close(writer)
    state: dict[str, Any] = {}

    def verdict() -> None:
        if "report" not in state:
            state["report"] = _collect(pid, reader)  # (the child is reaped there)
        if "outcome" not in state:
            state["outcome"] = _judge(check, *state["report"])
        if state["outcome"] is not None:
            raise state["outcome"]

    try:
        yield verdict
    finally:
        if "report" not in state:  # never asked (or interrupted): stop the child
            try:
                os.close(reader)
            except OSError:
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # pragma: no cover - it ended just now
                pass
            os.waitpid(pid, 0)


def _child(check: Callable[[], None], reader: int, writer: int) -> None:  # pragma: no cover
    """Check, send the verdict, and leave at once: the child must not run the parent's
    clean-up (buffered output, open transactions, temporary files)."""
    status = 1
    try:
        os.close(reader)
        try:
            check()
            report = _PASSED
        except BadValue as exc:
            report = json.dumps([exc.message, exc.hint]).encode()
        while report:
            report = report[os.write(writer, report):]
        status = 0
    finally:
        os._exit(status)


def _collect(pid: int, reader: int) -> tuple[bytes, int]:
    """The child's report and exit status, once it ended."""
    with os.fdopen(reader, "rb") as pipe:
        report = pipe.read()
    return report, os.waitpid(pid, 0)[1]


def _judge(check: Callable[[], None], report: bytes, status: int) -> BadValue | None:
    if status == 0 and report == _PASSED:
        return None
    if status == 0 and report:
        message, hint = json.loads(report)
        return BadValue(message, hint=hint)
    try:  # no verdict came back: check here instead
        check()
    except BadValue as exc:
        return exc
    return None
