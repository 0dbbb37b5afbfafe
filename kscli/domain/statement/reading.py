"""Reading CSV statements (see the package docstring for the conventions).

``decode_statement`` turns the bytes of an export into text, ``read_csv`` the text into
a ``Statement`` (all or nothing: one bad row raises ``StatementError`` naming the line
and the column, and nothing is returned).

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

import codecs
import csv
import functools
import io
import itertools
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import BinaryIO

from kscli.domain.money import MoneyError
from kscli.domain.statement.amounts import (
    _AmountError,
    _file_decimal_mark,
    _mark_of,
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
    _hash_text,
    _show,
)

DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
DEBIT_SIGNS = ("negative", "positive")

# The command-line options named in advice (kscli charges import).
_COLUMN_OPTIONS = {
    "date": "--date-col",
    "description": "--description-col",
    "amount": "--amount-col",
    "currency": "--currency-col",
    "debit": "--debit-col",
    "credit": "--credit-col",
    "type": "--type-col",
}

_CURRENCY_COLUMN = "currency"  # optional in the file under this default name


@dataclass(frozen=True, slots=True)
class Columns:
    """Which columns of a CSV statement hold what, and how it is written.

    ``currency`` is optional in the file when left at its default; a currency column
    named explicitly must exist; None ignores any currency column. ``description``
    may name several columns, joined with a space. A name of digits that no header
    cell has is a position (1 is the first column).
    """

    date: str = "date"
    description: str | tuple[str, ...] = "description"
    amount: str = "amount"
    currency: str | None = _CURRENCY_COLUMN
    date_format: str | None = None  # a strptime format; None = ISO 8601
    delimiter: str | None = None  # None = sniff among , ; TAB |
    debits: str | None = None  # negative | positive; None = negative, or all if none is
    debit_col: str | None = None
    credit_col: str | None = None
    type_col: str | None = None
    debit_value: str | None = None
    credit_value: str | None = None
    encoding: str | None = None  # None = UTF-8 (byte-order marks recognised)
    header: bool = True
    skip_rows: int = 0
    pending_dates: tuple[str, ...] = ()

    @property
    def descriptions(self) -> tuple[str, ...]:
        return (self.description,) if isinstance(self.description, str) else self.description


_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))


def decode_statement(data: bytes, encoding: str | None = None) -> str:
    """The text of a statement file: UTF-8, or UTF-16 with its byte-order mark, or in
    ``encoding`` (a byte-order mark is dropped either way)."""
    name, skip = statement_encoding(data[:4], encoding)
    try:
        return data[skip:].decode(name)
    except UnicodeDecodeError as exc:
        raise _undecodable(exc, data.count(b"\n", skip, skip + exc.start), encoding) from None


def statement_encoding(head: bytes, encoding: str | None = None) -> tuple[str, int]:
    """The codec of a statement whose file starts with ``head`` (its first 4 bytes or
    more), and the length of the byte-order mark to skip."""
    name, skip = None, 0
    for bom, bom_name in _BOMS:
        if head.startswith(bom):
            name, skip = bom_name, len(bom)
            break
    if encoding is not None:
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            raise StatementError(
                f"'{_show(encoding)}' is not an encoding Python knows: use one like utf-8, "
                "latin-1, cp1252 or utf-16") from None
    return name or "utf-8", skip


def _undecodable(exc: UnicodeDecodeError, newlines_before: int,
                 encoding: str | None) -> StatementError:
    """The error of a byte the codec cannot read (``newlines_before`` it in the file)."""
    line = newlines_before + 1
    bad = exc.object[exc.start : exc.start + 1].hex()
    if encoding is None:
        advice = ("it may be Latin-1 or Windows-1252): import it with --encoding latin-1 "
                  "(or cp1252), or re-save it as UTF-8")
        return StatementError(f"the statement is not UTF-8 (byte 0x{bad} cannot be read; "
                              + advice, line=line)
    return StatementError(
        f"the statement is not {encoding} (byte 0x{bad} cannot be read): give its "
        "encoding with --encoding", line=line)


# How many bytes a streamed statement is decoded at a time when an undecodable byte
# is looked for.
_CHUNK = 1 << 20


def statement_text(open_binary: Callable[[], BinaryIO], head: bytes,
                   encoding: str | None = None) -> TextSource:
    """A statement file read as text, a line at a time, as often as asked: each call of
    the answer opens the file again (``open_binary``) and gives its lines, split and
    decoded as ``decode_statement`` would (a byte the codec cannot read raises its
    StatementError, naming the line)."""
    name, skip = statement_encoding(head, encoding)
    error = _first_undecodable(open_binary, skip, name, encoding)
    if error is not None:  # said before anything else, as decode_statement does
        raise error

    def lines() -> Iterator[str]:
        handle = open_binary()
        handle.read(skip)
        text = io.TextIOWrapper(handle, encoding=name, newline="")
        try:
            yield from text
        except UnicodeDecodeError:  # the file changed since it was checked
            raise _first_undecodable(open_binary, skip, name, encoding) or \
                StatementError("the statement cannot be decoded") from None
        finally:
            text.close()

    return lines


def _first_undecodable(open_binary: Callable[[], BinaryIO], skip: int, name: str,
                       encoding: str | None) -> StatementError | None:
    """The error of the first byte of the file the codec cannot read, or None."""
    decoder = codecs.getincrementaldecoder(name)()
    newlines = 0
    with open_binary() as handle:
        handle.read(skip)
        while True:
            chunk = handle.read(_CHUNK)
            pending = decoder.getstate()[0]
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                before = newlines - pending.count(b"\n") + exc.object.count(b"\n", 0, exc.start)
                return _undecodable(exc, before, encoding)
            if not chunk:
                return None
            newlines += chunk.count(b"\n")


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


# A statement file's lines, read again from its start at each call.
TextSource = Callable[[], Iterable[str]]


class CsvStatement:
    """A CSV statement read as a stream, in two passes over its text.

    Made, it has read the file once without parsing its values: the header, the
    delimiter, the decimal mark the amounts agree on, how many rows hold data, and
    which rows may equal another (see ``_alike``). ``lines()`` then reads it again and
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
        self.summary: Statement | None = None
        self.rows_read = 0
        # the first pass: the decimal mark, the rows, and the rows that may be alike
        bits = 1 << max(16, max(size, 1).bit_length())
        seen = bytearray(bits >> 3)
        mask = bits - 1
        self._alike: set[int] = set()
        marks: dict[str | None, str] = {}
        self.rows = 0
        for _, row in self._rows():
            self.rows += 1
            for role in self._amount_roles:
                position = self._index[role]
                if position < len(row):
                    number = _number_or_empty(row[position])
                    marks.setdefault(_mark_of(number), number)
            row_index = self._row_index(row, None)
            key = self._likeness(row, row_index, _hash_text(_description(row, row_index)))
            slot, bit = (key & mask) >> 3, 1 << (key & 7)
            if seen[slot] & bit:
                self._alike.add(key)
            else:
                seen[slot] |= bit
        self._file_mark = _file_decimal_mark(list(marks.values()))

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        """The rows after the header (after ``skip_rows`` without one) that hold
        something."""
        rows = _read(self._text(), self._delimiter)
        if self.columns.header:
            after = self._header_line
            rows = ((line_no, row) for line_no, row in rows if line_no > after)
        else:
            rows = itertools.islice(rows, self.columns.skip_rows, None)
        return ((line_no, row) for line_no, row in rows if any(cell.strip() for cell in row))

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

    def _likeness(self, row: list[str], index: dict[str, int], text: str) -> int:
        """What two rows that read as equal charge lines (same day, text, amount and
        currency) have in common, hashed: the text of the description and the digits
        1 to 9 of the amount cells, in order (``1.234,50`` and ``1234.5`` alike). Rows
        whose likeness is found once in the file are equal to no other row."""
        return hash((text, "".join(_nonzero_digits(row[index[role]]) for role in
                                   self._amount_roles if index[role] < len(row))))

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
            alike = self._alike
            for line_no, row in self._rows():
                self.rows_read += 1
                if columns.header and len(row) > self._width and \
                        any(cell.strip() for cell in row[self._width:]):
                    sep = "a TAB" if self._delimiter == "\t" else f"'{self._delimiter}'"
                    raise StatementError(
                        f"{len(row)} fields but the header has {self._width} (a value that "
                        f"holds {sep} must be in quotes, or pick the delimiter with "
                        "--delimiter)",
                        line=line_no,
                    )
                date_text = _cell(row, index["date"])
                if pending and date_text is not None and date_text.casefold() in pending:
                    waiting += 1
                    continue
                posted_on = _try_date(date_text, columns.date_format)
                if posted_on is None and not any(
                        _number_or_empty(_cell(row, index[role]) or "")
                        for role in self._amount_roles):
                    notes += 1
                    continue
                row_index = self._row_index(row, warnings, line_no)
                entry, sign = _parse_row(line_no, row, row_index, columns, self._default,
                                         self._file_mark, posted_on)
                if signs_decide:
                    negative = negative or sign < 0
                    entry = Entry(entry.line_no, entry.posted_on, entry.description,
                                  entry.amount, entry.currency, sign == want)
                text = _hash_text(entry.description)
                line = tally.add(entry, text,
                                 track=self._likeness(row, row_index, text) in alike)
                if line is not None:
                    yield line
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


def _description(row: list[str], index: dict[str, int]) -> str:
    """The description a row's cells make (``_parse_row`` reads it so)."""
    parts = [" ".join(row[index[role]].split()) if index[role] < len(row) else ""
             for role in _description_roles(index)]
    return " ".join(part for part in parts if part)


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


def _check_default_currency(code: str | None) -> str | None:
    if code is None:
        return None
    try:
        return currency_code(code)
    except MoneyError:
        raise StatementError(
            f"the default currency '{_show(code)}' is not an ISO 4217 code: use one like USD, "
            "EUR or JPY"
        ) from None


def _check_columns(columns: Columns) -> str | None:
    for role, name in (("date", columns.date), ("description", columns.descriptions[:1]
                                                 and columns.descriptions[0]),
                       ("amount", columns.amount if columns.debit_col is None else "-")):
        if not (name or "").strip():
            raise StatementError(
                f"the {role} column has no name: name it with {_COLUMN_OPTIONS[role]}"
            )
    if columns.debits is not None and columns.debits not in DEBIT_SIGNS:
        raise StatementError(f"--debits takes negative or positive, not '{_show(columns.debits)}'")
    if columns.credit_col is not None and columns.debit_col is None:
        raise StatementError("--credit-col needs --debit-col: name the column of the charges too")
    if columns.type_col is not None and not (columns.debit_value or columns.credit_value):
        raise StatementError(
            "--type-col needs --debit-value: say which text in that column marks a charge")
    if (columns.debit_value or columns.credit_value) and columns.type_col is None:
        raise StatementError("--debit-value needs --type-col: name the column that holds it")
    if columns.type_col is not None and columns.debit_col is not None:
        raise StatementError("use either --type-col or --debit-col/--credit-col, not both")
    if columns.skip_rows < 0:
        raise StatementError("--skip-rows takes a number of rows, 0 or more")
    if not columns.header:
        for name in _names(columns).values():
            if not _position(name):
                raise StatementError(
                    f"without a header row, columns are named by position (1 is the first): "
                    f"'{_show(name)}' is not a position, e.g. --date-col 1")
    if columns.delimiter is None:
        return None
    delimiter = _DELIMITER_NAMES.get(columns.delimiter.lower(), columns.delimiter)
    if len(delimiter) != 1 or delimiter in "\"\r\n" or delimiter.isalnum():
        raise StatementError(
            f"'{_show(columns.delimiter)}' cannot separate columns: use one character such as "
            ", ; | or 'tab'"
        )
    return delimiter


def _names(columns: Columns) -> dict[str, str]:
    """role -> column name, for every column the statement must have."""
    names = {"date": columns.date}
    for number, name in enumerate(columns.descriptions):
        names[f"description{number}" if number else "description"] = name
    if columns.debit_col is not None:
        names["debit"] = columns.debit_col
        if columns.credit_col is not None:
            names["credit"] = columns.credit_col
    else:
        names["amount"] = columns.amount
    if columns.type_col is not None:
        names["type"] = columns.type_col
    return names


@functools.lru_cache(maxsize=8)
def _names_of(columns: Columns) -> dict[str, str]:
    """``_names``, worked out once per statement rather than once per row."""
    return _names(columns)


def _description_roles(index: dict[str, int]) -> list[str]:
    return [role for role in index if role.startswith("description")]


def _position(name: str) -> int | None:
    text = name.strip()
    return int(text) if text.isdigit() and 0 < int(text) <= 1000 else None


def _key(name: str) -> str:
    return name.replace("\ufeff", "").strip().casefold()


def _read(lines: Iterable[str], delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(first file line of the row, fields) for every row; StatementError on broken CSV."""
    reader = csv.reader(lines, delimiter=delimiter, quotechar='"',
                        skipinitialspace=True, strict=True)
    last = 0
    try:
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise StatementError(
                    f"the CSV cannot be read ({exc}): check the quotes on this line",
                    line=last + 1,
                ) from None
            yield last + 1, row
            last = reader.line_num
    finally:
        close = getattr(lines, "close", None)
        if close is not None:
            close()


def _is_header(row: list[str], wanted: set[str]) -> bool:
    return wanted <= {_key(cell) for cell in row} if wanted else any(c.strip() for c in row)


def _find_header(text: TextSource, columns: Columns,
                 delimiter: str | None) -> tuple[int, list[str], str]:
    """The header's line, its names, and the delimiter.

    Without a header row, the header is empty (its line is the first data row's) and
    the delimiter is the candidate that splits the first row after ``skip_rows`` most.
    """
    if not any(line.strip() for line in _closing(text())):
        raise StatementError(
            "the statement is empty: export it again with a header line and one line per "
            "transaction",
            line=1,
        )
    wanted = {_key(name) for name in _names(columns).values() if not _position(name)}
    candidates = [delimiter] if delimiter else list(DELIMITERS)
    broken: StatementError | None = None
    found: list[tuple[int, int, str]] = []
    for candidate in candidates:
        skipped = 0
        try:
            for line_no, row in _read(text(), candidate):
                if skipped < columns.skip_rows:
                    skipped += 1
                elif not columns.header:
                    if any(c.strip() for c in row):
                        found.append((len(row), line_no, candidate))
                        break
                elif _is_header(row, wanted):
                    return line_no, row, candidate
            else:
                if not columns.header:
                    found.append((0, 1, candidate))
        except StatementError as exc:
            broken = broken or exc  # before any header: this delimiter cannot be it
            continue
    if found:
        _, line_no, candidate = max(found, key=lambda item: item[0])
        return line_no, [], candidate

    # No row names every column: report the first non-blank line's names, split the
    # way that gives the most columns.
    best: tuple[int, list[str]] | None = None
    for candidate in candidates:
        try:
            for line_no, row in _read(text(), candidate):
                if any(cell.strip() for cell in row):
                    if best is None or len(row) > len(best[1]):
                        best = (line_no, row)
                    break
        except StatementError:
            continue
    if best is None and broken is not None:
        raise broken
    line_no, row = best if best is not None else (1, [])
    _column_index(row, line_no, columns)  # raises, naming the missing column
    raise StatementError("the header cannot be read", line=line_no)  # pragma: no cover


def _closing(lines: Iterable[str]) -> Iterator[str]:
    """``lines``, closed when left early."""
    try:
        yield from lines
    finally:
        close = getattr(lines, "close", None)
        if close is not None:
            close()


def _column_index(header: list[str], line_no: int, columns: Columns) -> dict[str, int]:
    """role -> position; description roles are description, description1, ..."""
    keys = [_key(cell) for cell in header]
    shown = ", ".join(_show(cell.strip()) for cell in header if cell.strip()) or "none"
    index: dict[str, int] = {}
    for role, name in _names(columns).items():
        if _key(name) in keys:
            index[role] = keys.index(_key(name))
            continue
        position = _position(name)
        if position is not None:
            index[role] = position - 1
            continue
        option = _COLUMN_OPTIONS[role.rstrip("0123456789")]
        raise StatementError(
            f"the statement has no column '{_show(name)}' (its columns are: {shown}): "
            f"name it with {option}",
            line=line_no,
            column=name,
            column_in_message=True,
        )
    if columns.currency is not None and columns.currency.strip():
        position = _position(columns.currency)
        if _key(columns.currency) in keys:
            index["currency"] = keys.index(_key(columns.currency))
        elif position is not None:
            index["currency"] = position - 1
        elif _key(columns.currency) != _key(_CURRENCY_COLUMN):
            raise StatementError(
                f"the statement has no column '{_show(columns.currency)}' (its columns are: "
                f"{shown}): name it with --currency-col, or leave that out to read the "
                "currency from the amounts",
                line=line_no,
                column=columns.currency,
                column_in_message=True,
            )
    return index


def _parse_row(
    line_no: int,
    row: list[str],
    index: dict[str, int],
    columns: Columns,
    default: str | None,
    file_mark: str | None,
    posted_on: date | None,
) -> tuple[Entry, int]:
    """The row's entry, and the sign its amount was written with."""
    names = _names_of(columns)

    def cell(role: str) -> str:
        position = index[role]
        if position >= len(row):
            raise StatementError(
                f"this line has {len(row)} fields, too few to reach the column (check the "
                "delimiter, or pick it with --delimiter)",
                line=line_no,
                column=names.get(role, role),
            )
        return row[position].strip()

    if posted_on is None:
        posted_on = _parse_date(cell("date"), columns.date_format, line_no, columns.date)
    parts = [" ".join(cell(role).split()) for role in _description_roles(index)]
    description = " ".join(part for part in parts if part)
    currency_text = ""
    if "currency" in index and index["currency"] < len(row):
        currency_text = row[index["currency"]].strip()

    def amount(role: str) -> tuple[int, Decimal, str]:
        text = cell(role)
        column = names[role]

        def currency_of(marker: str | None, explicit: bool) -> str:
            return _line_currency(currency_text, marker, explicit, default, line_no, columns,
                                  text, column)

        try:
            return read_amount(text, file_mark, currency_of)
        except _AmountError as exc:
            option = _COLUMN_OPTIONS[role]
            message = (f"'{_show(text)}' {exc.reason}" if exc.standalone else
                       f"'{_show(text)}' is not an amount{exc.reason} (use {option} to pick "
                       "another column)")
            raise StatementError(message, line=line_no, column=column) from None

    if "debit" in index:
        debit_text = cell("debit")
        credit_text = cell("credit") if "credit" in index else ""
        debit = amount("debit") if debit_text else None
        credit = amount("credit") if credit_text else None
        if debit is not None and credit is not None and debit[1] and credit[1]:
            raise StatementError(
                f"an amount in both the debit column ('{_show(debit_text)}') and the credit "
                f"column ('{_show(credit_text)}'): one line is one or the other",
                line=line_no, column=names["debit"])
        if debit is not None and (debit[1] or credit is None):
            return Entry(line_no, posted_on, description, debit[1], debit[2], True), 1
        if credit is not None:
            return Entry(line_no, posted_on, description, credit[1], credit[2], False), 1
        currency = _line_currency(currency_text, None, False, default, line_no, columns, "",
                                  names["debit"])
        return Entry(line_no, posted_on, description, Decimal(0), currency, True), 1

    sign, size, currency = amount("amount")
    if "type" in index:
        kind = cell("type").casefold()
        said_debit = columns.debit_value is not None and \
            kind == columns.debit_value.strip().casefold()
        said_credit = columns.credit_value is not None and \
            kind == columns.credit_value.strip().casefold()
        if columns.debit_value is not None and columns.credit_value is not None \
                and not (said_debit or said_credit):
            raise StatementError(
                f"'{_show(cell('type'))}' is neither '{_show(columns.debit_value)}' (a "
                f"charge) nor '{_show(columns.credit_value)}' (a credit)",
                line=line_no, column=names["type"])
        debit = said_debit if columns.debit_value is not None else not said_credit
        return Entry(line_no, posted_on, description, size, currency, debit), sign
    return Entry(line_no, posted_on, description, size, currency, False), sign


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


