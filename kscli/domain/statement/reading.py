"""Reading CSV statements (see the package docstring for the conventions).

``read_csv`` turns the text of an export into a ``Statement`` (all or nothing: one bad
row raises ``StatementError`` naming the line and the column, and nothing is returned);
``CsvStatement`` reads a file of any size as a stream, in two passes and bounded memory
(``decoding`` reads the bytes as text, ``columns`` finds the header).

Conventions chosen here (the README repeats them):

- Which lines are charges (debits): with ``debits="negative"`` the negative amounts,
  with ``"positive"`` the positive ones (card statements); with two amount columns
  (``debit_col``, ``credit_col``) the lines with an amount in the debit column; with a
  type column, the lines whose type is ``debit_value`` (or is not ``credit_value``).
  Without any of these, negative amounts are the debits, and a file in which no amount
  is negative is read as all charges, which the import says. Charges keep their
  absolute value; credits are counted and skipped, lines of zero too.
- Rows that hold neither a date nor an amount (titles, notes, "Posted Transactions",
  balance lines) are skipped and counted; rows whose date is a ``pending_dates`` word
  ("Pending") are not booked yet, skipped and counted. A row shorter than the header
  whose needed columns are there is read.
- Encoding: UTF-8 unless told; byte-order marks of UTF-8 and UTF-16 are recognised.
- Columns are named by their header, or by position (1 is the first) in a file with
  no header row (``header=False``) or where no header cell has that name.
- Without a date format, dates must be ISO 8601 (``2026-11-22``). Forms like
  ``22.11.2026`` or ``11/22/2026`` are read only with a format (``%d.%m.%Y``), never
  guessed, since ``01/02/2026`` means two different days in two countries.
- Group and decimal marks are told apart per number (``1.234,56``, ``1,234.56``,
  ``1 234,56``, ``1'234.56``). A lone ``1,234`` or ``1.234`` follows the decimal mark
  the file's other amounts show (``9,99`` elsewhere makes ``1.234`` a thousand and
  more); in a file that shows none it is read as thousands, except in a currency with
  three decimals (``KWD``).
- The currency of a line is, in this order: its currency column; a code or an
  unambiguous symbol (``€``, ``£``) written in the amount; the default currency given by
  the caller; ``$`` as USD, ``¥`` as JPY.
- Rows before the header (some banks put the account number and a title there) are
  skipped: the header is the first row that holds every column asked for.
"""



from __future__ import annotations

import io
import itertools
import unicodedata
from array import array
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal

from kscli.domain.money import MoneyError
from kscli.domain.statement.columns import (
    _COLUMN_OPTIONS,
    Columns,
    _check_columns,
    _check_default_currency,
    _column_index,
    _description_roles,
    _find_header,
    _names_of,
    _read,
)
from kscli.domain.statement.decoding import TextSource
from kscli.domain.statement.amounts import (
    _AmountError,
    _file_decimal_mark,
    _number_and_mark,
    _number_or_empty,
    currency_code,
    read_amount,
)
from kscli.domain.statement.dates import _parse_date, _try_date
from kscli.domain.statement.lines import (
    Entry,
    Statement,
    StatementError,
    StatementLine,
    Tally,
    _show,
)


def parse_statement(
    text: str, columns: Columns = Columns(), default_currency: str | None = None
) -> list[StatementLine]:
    """Every charge of a CSV statement, in file order; raises StatementError on any bad line."""
    return read_csv(text, columns, default_currency).lines


def read_csv(text: str, columns: Columns = Columns(),
             default_currency: str | None = None) -> Statement:
    """What a CSV statement holds; raises StatementError on any bad row."""
    stream = CsvStatement(lambda: io.StringIO(text, newline=""), columns, default_currency,
                          size=len(text))
    lines = list(stream.lines())
    return replace(stream.summary, lines=lines)


class CsvStatement:
    """A CSV statement read as a stream, in two passes over its text.

    Made, it has read the file once without parsing its values: the header, the
    delimiter, the decimal mark the amounts agree on, how many rows hold data, and
    which rows may equal another (see ``_likeness``). ``lines()`` then reads it again and
    gives its charge lines one at a time; a bad row raises StatementError there, so a
    caller that writes as it reads does so inside a transaction it can drop. Once
    ``lines()`` is done, ``summary`` holds the counts and warnings (with no lines).

    With neither ``debits`` nor a type column, a file with no negative amount is read
    as all charges: ``lines()`` reads it as a bank's first (its lines are then all
    credits, and none is given) and again as a card's when no amount was negative.
    """

    format = "csv"

    def __init__(self, text: TextSource, columns: Columns = Columns(),
                 default_currency: str | None = None, size: int = 0) -> None:
        self._text = text
        self.columns = columns
        self._default = _check_default_currency(default_currency)
        delimiter = _check_columns(columns)
        self._header_line, header, self._delimiter = _find_header(text, columns, delimiter)
        self._index = _column_index(header, self._header_line, columns)
        self._width = len(header)
        self._amount_roles = [role for role in ("amount", "debit", "credit")
                              if role in self._index]
        self._description_roles = _description_roles(self._index)
        self._likeness_at = self._cells_compared(self._index)
        self.summary: Statement | None = None
        self.rows_read = 0
        # the first pass: the decimal mark, the rows, and the rows that may be alike
        bits = 1 << max(16, max(size, 1).bit_length())
        seen = bytearray(bits >> 3)
        mask = bits - 1
        alike: set[int] = set()
        likenesses = array("q")  # each row's, 8 bytes a row while the pass lasts
        marks: dict[str | None, str] = {}
        judged: set[str] = set()  # amount cells whose mark is in marks (a few thousand)
        index, width = self._index, self._width
        amounts = [index[role] for role in self._amount_roles]
        likeness, row_index = self._likeness, self._row_index
        for _, row in self._rows():
            size = len(row)
            for position in amounts:
                if position < size and (cell := row[position]) not in judged:
                    number, mark = _number_and_mark(cell)
                    if mark not in marks:
                        marks[mark] = number
                    if len(judged) >= _AMOUNTS_KEPT:
                        judged.clear()
                    judged.add(cell)
            key = likeness(row, index if size >= width else row_index(row, None))
            likenesses.append(key)
            slot, bit = (key & mask) >> 3, 1 << (key & 7)
            if seen[slot] & bit:
                alike.add(key)
            else:
                seen[slot] |= bit
        self.rows = len(likenesses)
        # the rows (counted from 0) whose likeness another row shares, or may share
        self._alike = {number for number, key in enumerate(likenesses) if key in alike} \
            if alike else set()
        del likenesses, seen
        self._file_mark = _file_decimal_mark(list(marks.values()))

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        """The rows after the header (after ``skip_rows`` without one) that hold
        something."""
        rows = _read(self._text(), self._delimiter)
        if self.columns.header:
            after = self._header_line
            for line_no, row in rows:
                if line_no > after:
                    break
            else:
                return
            rows = itertools.chain([(line_no, row)], rows)
        else:
            rows = itertools.islice(rows, self.columns.skip_rows, None)
        for line_no, row in rows:
            if "".join(row).strip():
                yield line_no, row

    def _row_index(self, row: list[str], warn: list[str] | None,
                   line_no: int = 0) -> dict[str, int]:
        index, width = self._index, self._width
        if self.columns.header and len(row) < width:
            row_index = _short_row_index(row, index, width, self._amount_roles)
            if row_index is not index and warn is not None:
                warn.append(f"note: line {line_no} has {len(row)} of the header's {width} "
                            "fields; its amount and the columns after it were read from "
                            "the end of the line")
            return row_index
        return index

    def _likeness(self, row: list[str], index: dict[str, int]) -> int:
        """What two rows that read as equal charge lines (same day, text, amount and
        currency) have in common, hashed: the words of the description (as
        ``_hash_text`` compares them, spaces left out) and the digits 1 to 9 of the
        amount cells, in order (``1.234,50`` and ``1234.5`` alike). Rows whose
        likeness is found once in the file are equal to no other row."""
        size = len(row)
        words_at, digits_at = self._likeness_at if index is self._index else \
            self._cells_compared(index)
        if len(words_at) == 1 and len(digits_at) == 1:  # the common case, without lists
            (word_at,), (digit_at,) = words_at, digits_at
            if word_at < size and digit_at < size:
                return hash((_words(row[word_at]), _nonzero_digits(row[digit_at])))
        words = [_words(row[position]) if position < size else "" for position in words_at]
        digits = [_nonzero_digits(row[position]) if position < size else ""
                  for position in digits_at]
        return hash(("".join(words), "".join(digits)))

    def _cells_compared(self, index: dict[str, int]) -> tuple[list[int], list[int]]:
        """Where ``_likeness`` reads the description and the amounts of a row read at
        ``index``."""
        return ([index[role] for role in self._description_roles],
                [index[role] for role in self._amount_roles])

    def lines(self) -> Iterator[StatementLine]:
        """The charge lines, in file order (StatementError on the first bad row)."""
        columns, index = self.columns, self._index
        mode = columns.debits
        signs_decide = "amount" in index and "type" not in index
        while True:
            tally = Tally("csv")
            warnings: list[str] = []
            notes = waiting = 0
            negative = False
            self.rows_read = 0
            pending = {word.casefold() for word in columns.pending_dates}
            want = 1 if mode == "positive" else -1
            alike, width = self._alike, self._width
            if not columns.header:
                width = 0
            reader = _RowReader(index, columns, self._default, self._file_mark,
                                want if signs_decide else 0)
            date_at, date_format = index["date"], columns.date_format
            for line_no, row in self._rows():
                self.rows_read += 1
                if width and len(row) > width and "".join(row[width:]).strip():
                    sep = "a TAB" if self._delimiter == "\t" else f"'{self._delimiter}'"
                    raise StatementError(
                        f"{len(row)} fields but the header has {self._width} (a value that "
                        f"holds {sep} must be in quotes, or pick the delimiter with "
                        "--delimiter)",
                        line=line_no,
                    )
                date_text = row[date_at].strip() if date_at < len(row) else None
                if pending and date_text is not None and date_text.casefold() in pending:
                    waiting += 1
                    continue
                posted_on = _try_date(date_text, date_format)
                if posted_on is None and not any(
                        _number_or_empty(_cell(row, index[role]) or "")
                        for role in self._amount_roles):
                    notes += 1
                    continue
                if len(row) >= width:
                    entry, sign = reader.read(line_no, row, posted_on)
                else:
                    row_index = self._row_index(row, warnings, line_no)
                    short = reader if row_index is index else _RowReader(
                        row_index, columns, self._default, self._file_mark, reader.want)
                    entry, sign = short.read(line_no, row, posted_on)
                if sign < 0:
                    negative = True
                if entry.debit and entry.amount:
                    yield tally.add(entry, track=self.rows_read - 1 in alike)
                else:
                    tally.add(entry)
            if signs_decide and mode is None and tally.transactions and not negative:
                mode = "positive"  # no line was a charge: read it again as a card's
                continue
            break
        hint: str | None = None
        if signs_decide:
            if columns.debits is None and mode == "positive":
                warnings.append(
                    "note: no amount in it is negative, so every line was read as a charge "
                    "(if its positive lines are credits, import it with --debits negative)")
            hint = "--debits negative" if mode == "positive" else "--debits positive"
        elif "type" in index:
            hint = "--debit-value (the type that marks a charge)"
        self.summary = tally.statement([], notes=notes, pending=waiting, warnings=warnings,
                                       sign_hint=hint)


def _words(cell: str) -> str:
    """The words of a cell as ``_hash_text`` compares them, without the spaces."""
    if cell.isascii():
        return "".join(cell.lower().split())
    return "".join(unicodedata.normalize("NFC", cell).casefold().split())


_ASCII_NONZERO = {code: None for code in range(128) if chr(code) not in "123456789"}


def _nonzero_digits(cell: str) -> str:
    """The digits 1 to 9 of a cell, in order (any script's digits, as ASCII)."""
    if cell.isascii():
        return cell.translate(_ASCII_NONZERO)
    return "".join(str(unicodedata.decimal(ch)) for ch in cell
                   if ch.isdecimal() and unicodedata.decimal(ch))


def _short_row_index(row: list[str], index: dict[str, int], width: int,
                     amount_roles: list[str]) -> dict[str, int]:
    """Where to read a row shorter than the header: as the header says, unless its
    amount is not there but is where the header's end meets the row's end (an export
    that dropped an empty field in the middle); then the amount and every column after
    it are read from the end."""
    first = min(index[role] for role in amount_roles)
    shift = width - len(row)
    left = _cell(row, first)
    right = _cell(row, first - shift) if first >= shift else None
    if (left and _number_or_empty(left)) or not (right and _number_or_empty(right)):
        return index
    return {role: position - shift if position >= first else position
            for role, position in index.items()}


def _cell(row: list[str], position: int) -> str | None:
    return row[position].strip() if position < len(row) else None


# How many amounts a reader remembers (then it forgets them all and starts again).
_AMOUNTS_KEPT = 4096


class _RowReader:
    """How the rows whose columns are at ``index`` are read (``read``): what each
    row would otherwise work out again (the columns' names, the description's
    columns, where the amounts are), worked out once for a statement (and once for a
    short row whose amount is read from its end)."""

    def __init__(self, index: dict[str, int], columns: Columns, default: str | None,
                 file_mark: str | None, want: int) -> None:
        self.index = index
        self.columns = columns
        self.default = default
        self.file_mark = file_mark
        self.want = want  # the sign of a charge, when the amount's sign decides
        self.names = _names_of(columns)
        self.description_roles = _description_roles(index)
        self.description_at = [index[role] for role in self.description_roles]
        self.currency_at = index.get("currency")
        # a row longer than this holds every column read, whatever its role
        self.reach = max(position for role, position in index.items()
                         if role != "currency")
        # (amount cell, currency cell) -> read_amount's answer: it depends on nothing
        # else (the default currency and the file's decimal mark are the statement's)
        self._amounts: dict[tuple[str, str], tuple[int, Decimal, str]] = {}

    def _cell(self, row: list[str], role: str, line_no: int) -> str:
        position = self.index[role]
        if position >= len(row):
            raise StatementError(
                f"this line has {len(row)} fields, too few to reach the column (check the "
                "delimiter, or pick it with --delimiter)",
                line=line_no,
                column=self.names.get(role, role),
            )
        return row[position].strip()

    def _amount(self, row: list[str], role: str, line_no: int,
                currency_text: str) -> tuple[int, Decimal, str]:
        """``read_amount`` of the cell, remembered by the cell's text and the currency
        column's (a statement writes the same amounts again and again)."""
        text = self._cell(row, role, line_no)
        key = (text, currency_text)
        found = self._amounts.get(key)
        if found is None:
            found = self._read_amount(text, role, line_no, currency_text)
            if len(self._amounts) >= _AMOUNTS_KEPT:
                self._amounts.clear()
            self._amounts[key] = found
        return found

    def _read_amount(self, text: str, role: str, line_no: int,
                     currency_text: str) -> tuple[int, Decimal, str]:
        column = self.names[role]

        def currency_of(marker: str | None, explicit: bool) -> str:
            return _line_currency(currency_text, marker, explicit, self.default, line_no,
                                  self.columns, text, column)

        try:
            return read_amount(text, self.file_mark, currency_of)
        except _AmountError as exc:
            option = _COLUMN_OPTIONS[role]
            message = (f"'{_show(text)}' {exc.reason}" if exc.standalone else
                       f"'{_show(text)}' is not an amount{exc.reason} (use {option} to pick "
                       "another column)")
            raise StatementError(message, line=line_no, column=column) from None

    def read(self, line_no: int, row: list[str], posted_on: date | None) -> tuple[Entry, int]:
        """The row's entry, and the sign its amount was written with. Read by its sign
        (an amount column and no type column), the entry is a debit when that sign is
        ``want``."""
        columns, index = self.columns, self.index
        if posted_on is None:
            posted_on = _parse_date(self._cell(row, "date", line_no), columns.date_format,
                                    line_no, columns.date)
        if len(row) > self.reach and len(self.description_at) == 1:  # (the common case)
            description = " ".join(row[self.description_at[0]].split())
        else:
            if len(row) > self.reach:
                parts = [" ".join(row[position].split()) for position in self.description_at]
            else:
                parts = [" ".join(self._cell(row, role, line_no).split())
                         for role in self.description_roles]
            description = parts[0] if len(parts) == 1 else \
                " ".join(part for part in parts if part)
        currency_at = self.currency_at
        currency_text = row[currency_at].strip() \
            if currency_at is not None and currency_at < len(row) else ""
        names = self.names

        if "debit" in index:
            debit_text = self._cell(row, "debit", line_no)
            credit_text = self._cell(row, "credit", line_no) if "credit" in index else ""
            debit = self._amount(row, "debit", line_no, currency_text) if debit_text else None
            credit = self._amount(row, "credit", line_no, currency_text) \
                if credit_text else None
            if debit is not None and credit is not None and debit[1] and credit[1]:
                raise StatementError(
                    f"an amount in both the debit column ('{_show(debit_text)}') and the credit "
                    f"column ('{_show(credit_text)}'): one line is one or the other",
                    line=line_no, column=names["debit"])
            if debit is not None and (debit[1] or credit is None):
                return Entry(line_no, posted_on, description, debit[1], debit[2], True), 1
            if credit is not None:
                return Entry(line_no, posted_on, description, credit[1], credit[2], False), 1
            currency = _line_currency(currency_text, None, False, self.default, line_no,
                                      columns, "", names["debit"])
            return Entry(line_no, posted_on, description, Decimal(0), currency, True), 1

        sign, size, currency = self._amount(row, "amount", line_no, currency_text)
        if "type" in index:
            kind = self._cell(row, "type", line_no).casefold()
            said_debit = columns.debit_value is not None and \
                kind == columns.debit_value.strip().casefold()
            said_credit = columns.credit_value is not None and \
                kind == columns.credit_value.strip().casefold()
            if columns.debit_value is not None and columns.credit_value is not None \
                    and not (said_debit or said_credit):
                raise StatementError(
                    f"'{_show(self._cell(row, 'type', line_no))}' is neither "
                    f"'{_show(columns.debit_value)}' (a charge) nor "
                    f"'{_show(columns.credit_value)}' (a credit)",
                    line=line_no, column=names["type"])
            debit = said_debit if columns.debit_value is not None else not said_credit
            return Entry(line_no, posted_on, description, size, currency, debit), sign
        return Entry(line_no, posted_on, description, size, currency, sign == self.want), sign


def _line_currency(
    cell: str,
    marker: str | None,
    explicit: bool,
    default: str | None,
    line_no: int,
    columns: Columns,
    amount_text: str,
    amount_column: str,
) -> str:
    if cell:
        try:
            code = currency_code(cell)
        except MoneyError:
            raise StatementError(
                f"'{_show(cell)}' is not an ISO 4217 currency code (write one like USD or EUR, "
                "or pick another column with --currency-col)",
                line=line_no,
                column=columns.currency,
            ) from None
        if explicit and marker != code:
            raise StatementError(
                f"'{_show(amount_text)}' is in {marker} but the currency column says {code}: "
                "correct one of them",
                line=line_no,
                column=amount_column,
            )
        return code
    if marker is not None and explicit:
        return marker
    if default is not None:
        return default
    if marker is not None:
        return marker
    raise StatementError(
        f"'{_show(amount_text)}' has no currency (add a currency column, or give the "
        "statement's currency with --currency)",
        line=line_no,
        column=amount_column,
    )


