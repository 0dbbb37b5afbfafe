"""What every statement reader returns: the charge lines and the counts of what was
left out (credits, note rows, pending and zero lines), and the error that names where a
file cannot be read.

Every reader (CSV, OFX, CAMT.053, MT940) turns its file into ``Entry`` values, one per
transaction, each saying whether it is a debit; ``build_statement`` keeps the debits as
``StatementLine`` records (amounts positive) and counts the rest.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class Entry:
    """One transaction as a reader found it: ``amount`` is its size (zero or more)."""

    line_no: int
    posted_on: date
    description: str
    amount: Decimal
    currency: str
    debit: bool


@dataclass(frozen=True)
class Statement:
    """What a statement file holds: its charges, and what was read but is no charge."""

    format: str  # csv, ofx, camt, mt940
    lines: list[StatementLine]
    transactions: int  # transactions read: charges, credits and lines of zero
    credits: int
    credit_totals: dict[str, Decimal]
    zero: int
    notes: int  # rows that hold no transaction (titles, notes, balance lines)
    pending: int  # rows not booked yet ("Pending" for a date)
    warnings: list[str] = field(default_factory=list)


def line_hash(posted_on: date, description: str, amount: Decimal, currency: str,
              occurrence: int, *, hashed_text: str | None = None) -> str:
    """The identity of a charge line: the same charge read twice hashes the same
    (``hashed_text``: ``_hash_text(description)``, when the caller has it already)."""
    text = _hash_text(description) if hashed_text is None else hashed_text
    key = (posted_on.isoformat(), text, str(amount), currency, str(occurrence))
    return hashlib.sha256("|".join(key).encode("utf-8")).hexdigest()


def build_statement(fmt: str, entries: Iterable[Entry], *, notes: int = 0, pending: int = 0,
                    warnings: Iterable[str] = (), sign_hint: str | None = None) -> Statement:
    """The statement of ``entries``: debits become charge lines, the rest is counted.

    ``sign_hint`` names the option that reads the signs the other way; it is given when
    the reader took the sign convention from an option or a default, and it is said
    when nearly every line came out a credit (a card statement read with the bank's
    sign convention looks like that).
    """
    seen: dict[tuple, int] = {}
    out: list[StatementLine] = []
    credits = zero = transactions = 0
    totals: dict[str, Decimal] = {}
    for entry in entries:
        transactions += 1
        if entry.amount == 0:
            zero += 1
            continue
        if not entry.debit:
            credits += 1
            totals[entry.currency] = totals.get(entry.currency, Decimal(0)) + entry.amount
            continue
        text = _hash_text(entry.description)
        key = (entry.posted_on, text, entry.amount, entry.currency)
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        out.append(StatementLine(entry.line_no, entry.posted_on, entry.description,
                                 entry.amount, entry.currency,
                                 line_hash(entry.posted_on, entry.description, entry.amount,
                                           entry.currency, occurrence, hashed_text=text)))
    said = list(warnings)
    if sign_hint is not None and credits >= 2 and len(out) * 3 <= credits:
        said.append(
            f"warning: {credits} of {transactions} lines were read as credits and skipped, "
            f"{len(out)} as charges: if this statement writes charges the other way round "
            f"(card statements often write them as positive numbers), import it again with "
            f"{sign_hint}")
    return Statement(fmt, out, transactions, credits, totals, zero, notes, pending, said)
