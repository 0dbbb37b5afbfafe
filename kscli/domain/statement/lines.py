"""What every statement reader returns: a charge line, and the error that names where a
file cannot be read."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from kscli.domain.errors import BadValue

class StatementError(BadValue, ValueError):
    """A statement that cannot be read; names the file line and the column.

    ``line`` is the 1-based line of the file (the header is line 1 when it comes
    first), or None when the problem is not on a line; ``column`` is the column's name
    as the caller configured it, or None.
    """

    code = "bad-statement"

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: str | None = None,
        column_in_message: bool = False,
    ) -> None:
        where = []
        if line is not None:
            where.append(f"line {line}")
        if column is not None and not column_in_message:
            where.append(f"column '{column}'")
        text = f"{', '.join(where)}: {message}" if where else message
        super().__init__(text)
        self.line = line
        self.column = column



@dataclass(frozen=True, slots=True)
class StatementLine:
    """One charge of a statement: money paid out, always a positive amount."""

    line_no: int
    posted_on: date
    description: str
    amount: Decimal
    currency: str
    line_hash: str



def _hash_text(description: str) -> str:
    return " ".join(unicodedata.normalize("NFC", description).casefold().split())


def _show(text: str, limit: int = 40) -> str:
    """A value as it may appear in a message: one line, printable, short."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"

