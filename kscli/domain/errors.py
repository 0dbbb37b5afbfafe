"""The errors kscli reports, each with its documented exit code.

Commands never catch these: one boundary on the root command prints
``Error: <what> (<what to do>)`` on stderr and exits with the code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import IntEnum
from functools import cache, partial

_NAMED = {"\n": "\\n", "\t": "\\t"}


def on_first_use(pattern: str) -> Callable[[], re.Pattern[str]]:
    """A regular expression compiled when first asked for, not at import: compiling a
    few character classes took about 3 ms of every start of kscli (`--version`,
    `license validate`), though most runs never print a control character or a key."""
    return cache(partial(re.compile, pattern))


_unprintable = on_first_use(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# What json's encoder leaves raw with ensure_ascii=False and a terminal would act on:
# C1 controls (U+0080-U+009F: U+009B starts an escape sequence on some terminals),
# line and paragraph separators, and the bidirectional overrides and isolates.
_json_raw = on_first_use(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json_escaped(text: str) -> str:
    """JSON text with those characters written as \\u escapes (valid JSON, the same
    value): for every JSON kscli prints or exports. The C0 controls json escapes itself."""
    if text.isascii():  # (a C scan: most lines)
        return text
    raw = _json_raw()
    if raw.search(text) is None:
        return text
    return raw.sub(lambda m: "\\u%04x" % ord(m.group()), text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return ("\\x%02x" if code < 256 else "\\u%04x") % code


def _escape_named(match: re.Match[str]) -> str:
    return _NAMED.get(match.group()) or _escape(match)


def printable(text: str, *, named: bool = False, blank: bool = False) -> str:
    """Text safe for one line of a terminal: the one stripper of control characters.

    Control characters (a newline, a terminal escape, a line or paragraph separator, a
    bidirectional override) are written as visible escapes (``\\x1b``, ``\\u202e``);
    with ``named``, a newline and a tab as ``\\n`` and ``\\t`` (table cells); with
    ``blank``, each as a space (completion descriptions).
    """
    unprintable = _unprintable()
    if not unprintable.search(text):
        return text
    if blank:
        return unprintable.sub(" ", text)
    return unprintable.sub(_escape_named if named else _escape, text)


def shown(value: object, limit: int = 40) -> str:
    """A value given by a user, quoted for a one-line message, long text cut short."""
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    return f"'{printable(text)}'"


class ExitCode(IntEnum):
    """The exit codes of every kscli command (the README's "Exit codes"; EXIT STATUS in
    kscli(1), generated from EXIT_CODE_MEANINGS)."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    NOT_FOUND = 3
    REFUSED = 4
    BUSY = 5
    UNREADABLE = 6
    INTERRUPTED_AFTER_WRITE = 7
    INTERRUPTED = 130


EXIT_CODE_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.FAILURE: "failure, or a check that found problems (charges check, doctor)",
    ExitCode.USAGE: "usage error: a bad option or value",
    ExitCode.NOT_FOUND: "not found: no such subscription, key or incident",
    ExitCode.REFUSED: "refused by the policy or the validator (cancel blocked, refund not "
    "eligible, activation window passed, invalid key)",
    ExitCode.BUSY: "the ledger stayed busy past the timeout",
    ExitCode.UNREADABLE: "the ledger is unreadable, corrupt, or of a newer schema",
    ExitCode.INTERRUPTED_AFTER_WRITE: "interrupted (Ctrl-C, SIGTERM) after the change was "
    "recorded: it stands, stderr names its reference, and the output may be incomplete",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C, SIGTERM) before anything was recorded: "
    "nothing changed",
}


class KscliError(Exception):
    """Base of every error that ends a command with a documented exit code."""

    exit_code = ExitCode.FAILURE
    code = "failure"

    def __init__(self, message: str, *, code: str | None = None, clause: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.clause = clause
        self.hint = hint

    def to_dict(self) -> dict[str, str | None]:
        """The refusal object of --format json: always ``error``, ``message`` and
        ``clause`` (null when no clause decided)."""
        return {"error": self.code, "message": self.message, "clause": self.clause or None}


class Failure(KscliError):
    exit_code = ExitCode.FAILURE


class BadValue(KscliError):
    """A value given on the command line or in a file that cannot be used."""

    exit_code = ExitCode.USAGE
    code = "bad-value"


class NotFound(KscliError):
    exit_code = ExitCode.NOT_FOUND
    code = "not-found"


class Refused(KscliError):
    exit_code = ExitCode.REFUSED
    code = "refused"


class StoreBusy(KscliError):
    exit_code = ExitCode.BUSY
    code = "store-busy"


class StoreUnreadable(KscliError):
    exit_code = ExitCode.UNREADABLE
    code = "store-unreadable"


class NoChange(Exception):
    """A command would change nothing: it says so, exits 0 and adds no event."""

    def __init__(self, message: str, subject: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.subject = subject
