"""What every statement reader returns: the charge lines and the counts of what was
left out (credits, note rows, pending and zero lines), and the error that names where a
file cannot be read.

Every reader (CSV, OFX, CAMT.053, MT940) turns its file into ``Entry`` values, one per
transaction, each saying whether it is a debit; ``build_statement`` keeps the debits as
``StatementLine`` records (amounts positive) and counts the rest.
"""

from __future__ import annotations

from hashlib import sha256 as _sha256
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import NamedTuple

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



class StatementLine(NamedTuple):
    """One charge of a statement: money paid out, always a positive amount.

    (A named tuple, as ``Entry``: both are made once per line of a statement, 100,000
    and more, and a frozen dataclass takes five times as long to make.)"""

    line_no: int
    posted_on: date
    description: str
    amount: Decimal
    currency: str
    line_hash: str



def _hash_text(description: str) -> str:
    """A description as line hashes compare it (``_folded_text``, the rule): ASCII
    text, the common case, is already NFC and folds as it lower-cases."""
    if description.isascii():
        return " ".join(description.lower().split())
    return _folded_text(description)


def _folded_text(description: str) -> str:
    """The words of a description, NFC-normalised and case-folded, one space apart."""
    return " ".join(unicodedata.normalize("NFC", description).casefold().split())


def _show(text: str, limit: int = 40) -> str:
    """A value as it may appear in a message: one line, printable, short."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


class Entry(NamedTuple):
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
    key = f"{posted_on.isoformat()}|{text}|{str(amount)}|{currency}|{occurrence}"
    return _sha256(key.encode("utf-8")).hexdigest()


def build_statement(fmt: str, entries: Iterable[Entry], *, notes: int = 0, pending: int = 0,
                    warnings: Iterable[str] = (), sign_hint: str | None = None) -> Statement:
    """The statement of ``entries``: debits become charge lines, the rest is counted
    (``Tally`` says how)."""
    tally = Tally(fmt)
    out = [line for line in map(tally.add, entries) if line is not None]
    return tally.statement(out, notes=notes, pending=pending, warnings=warnings,
                           sign_hint=sign_hint)


class Tally:
    """A statement built one entry at a time: debits become charge lines, the rest is
    counted. A reader that streams its file adds each entry as it reads it."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.seen: dict[tuple, int] = {}
        self.charges = self.credits = self.zero = self.transactions = 0
        self.totals: dict[str, Decimal] = {}

    def add(self, entry: Entry, text: str | None = None, *, track: bool = True
            ) -> StatementLine | None:
        """The charge line of ``entry``, or None for a credit or a line of zero.

        Equal lines (same day, text, amount and currency) are told apart by their
        occurrence in the file. ``track=False`` says the caller knows no other line of
        the file is equal to this one (its occurrence is 0, and it is not remembered);
        ``text`` is ``_hash_text(entry.description)`` when the caller has it.
        """
        self.transactions += 1
        if not entry.amount:
            self.zero += 1
            return None
        if not entry.debit:
            self.credits += 1
            self.totals[entry.currency] = self.totals.get(entry.currency, Decimal(0)) \
                + entry.amount
            return None
        if text is None:
            text = _hash_text(entry.description)
        occurrence = 0
        if track:
            key = (entry.posted_on, text, entry.amount, entry.currency)
            occurrence = self.seen.get(key, 0)
            self.seen[key] = occurrence + 1
        self.charges += 1
        return StatementLine(entry.line_no, entry.posted_on, entry.description,
                             entry.amount, entry.currency,
                             line_hash(entry.posted_on, entry.description, entry.amount,
                                       entry.currency, occurrence, hashed_text=text))

    def statement(self, lines: list[StatementLine], *, notes: int = 0, pending: int = 0,
                  warnings: Iterable[str] = (), sign_hint: str | None = None) -> Statement:
        """What was added, as a Statement holding ``lines`` (all of the charge lines, or
        none when they were handed on as they were read).

        ``sign_hint`` names the option that reads the signs the other way; it is given
        when the reader took the sign convention from an option or a default, and it is
        said when nearly every line came out a credit (a card statement read with the
        bank's sign convention looks like that).
        """
        said = list(warnings)
        credits, charges = self.credits, self.charges
        if sign_hint is not None and credits >= 2 and charges * 3 <= credits:
            said.append(
                f"warning: {credits} of {self.transactions} lines were read as credits and "
                f"skipped, {charges} as charges: if this statement writes charges the other "
                f"way round (card statements often write them as positive numbers), import "
                f"it again with {sign_hint}")
        return Statement(self.fmt, lines, self.transactions, credits, dict(self.totals),
                         self.zero, notes, pending, said)
