"""Reading CSV statements (see the package docstring for the conventions).

Three pure steps behind ``kscli charges``:

- ``decode_statement`` and ``parse_statement`` turn the bytes of a CSV export into
  ``StatementLine`` records (all or nothing: one bad line raises ``StatementError``
  naming the line and the column, and nothing is returned);
- ``match_line`` finds the subscription a line pays for (vendor name in the
  description, same amount, same currency);
- ``find_unexpected`` holds the recorded charges against the ledger and reports every
  charge that should not have happened, with the reference to show the bank.

Conventions chosen here (the README repeats them):

- Amounts are positive for money paid out. When any amount in a file is negative, the
  file writes debits as negative numbers: those lines are the charges (their absolute
  value is kept) and the positive lines are credits, which are skipped. When no amount
  is negative, every line is a charge. Lines of zero are skipped either way.
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

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from kscli.domain.money import MAX_AMOUNT, MINOR_DIGITS, MoneyError, normalize, parse_currency
from kscli.domain.statement.amounts import (
    _AmountError,
    _file_decimal_mark,
    _number_or_empty,
    _parse_number,
    _split_amount,
)
from kscli.domain.statement.lines import StatementError, StatementLine, _hash_text, _show

DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}

# The command-line options named in advice (kscli charges import).
_COLUMN_OPTIONS = {
    "date": "--date-col",
    "description": "--description-col",
    "amount": "--amount-col",
    "currency": "--currency-col",
}

_CURRENCY_COLUMN = "currency"  # optional in the file under this default name



@dataclass(frozen=True, slots=True)
class Columns:
    """Which columns of a statement hold what, and how it is written.

    ``currency`` is optional in the file when left at its default; a currency column
    named explicitly must exist; None ignores any currency column.
    """

    date: str = "date"
    description: str = "description"
    amount: str = "amount"
    currency: str | None = _CURRENCY_COLUMN
    date_format: str | None = None  # a strptime format; None = ISO 8601
    delimiter: str | None = None  # None = sniff among , ; TAB |



def decode_statement(data: bytes) -> str:
    """The text of a statement file, which must be UTF-8 (a byte-order mark is dropped)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise StatementError(
            "the statement is UTF-16, not UTF-8: re-save it as UTF-8 "
            "(in a spreadsheet: CSV UTF-8) and import it again",
            line=1,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise StatementError(
            f"the statement is not UTF-8 (byte 0x{bad} cannot be read; it may be Latin-1 or "
            "Windows-1252): re-save it as UTF-8 (in a spreadsheet: CSV UTF-8) and import it again",
            line=line,
        ) from None


def parse_statement(
    text: str, columns: Columns = Columns(), default_currency: str | None = None
) -> list[StatementLine]:
    """Every charge of a CSV statement, in file order; raises StatementError on any bad line."""
    default = _check_default_currency(default_currency)
    delimiter = _check_columns(columns)
    if not text.strip():
        raise StatementError(
            "the statement is empty: export it again with a header line and one line per "
            "transaction",
            line=1,
        )
    header_line, header, rows, used = _find_header(text, columns, delimiter)
    index = _column_index(header, header_line, columns)
    width = len(header)

    rows = [(line_no, row) for line_no, row in rows if any(cell.strip() for cell in row)]
    file_mark = _file_decimal_mark(
        [_number_or_empty(row[index["amount"]]) for _, row in rows if index["amount"] < len(row)]
    )
    parsed: list[tuple[int, date, str, Decimal, str]] = []
    for line_no, row in rows:
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            sep = "a TAB" if used == "\t" else f"'{used}'"
            raise StatementError(
                f"{len(row)} fields but the header has {width} (a value that holds {sep} "
                "must be in quotes, or pick the delimiter with --delimiter)",
                line=line_no,
            )
        parsed.append(_parse_row(line_no, row, index, columns, default, file_mark))

    negative = any(amount < 0 for _, _, _, amount, _ in parsed)
    seen: dict[tuple[str, str, str, str], int] = {}
    out: list[StatementLine] = []
    for line_no, posted_on, description, amount, currency in parsed:
        if amount == 0 or (negative and amount > 0):
            continue  # nothing paid, or a credit in a file that writes debits negative
        amount = abs(amount)
        key = (posted_on.isoformat(), _hash_text(description), str(amount), currency)
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        digest = hashlib.sha256("|".join((*key, str(occurrence))).encode("utf-8")).hexdigest()
        out.append(StatementLine(line_no, posted_on, description, amount, currency, digest))
    return out


def _check_default_currency(code: str | None) -> str | None:
    if code is None:
        return None
    try:
        return parse_currency(code)
    except MoneyError:
        raise StatementError(
            f"the default currency '{_show(code)}' is not an ISO 4217 code: use one like USD, "
            "EUR or JPY"
        ) from None


def _check_columns(columns: Columns) -> str | None:
    for role in ("date", "description", "amount"):
        if not (getattr(columns, role) or "").strip():
            raise StatementError(
                f"the {role} column has no name: name it with {_COLUMN_OPTIONS[role]}"
            )
    if columns.delimiter is None:
        return None
    delimiter = _DELIMITER_NAMES.get(columns.delimiter.lower(), columns.delimiter)
    if len(delimiter) != 1 or delimiter in "\"\r\n" or delimiter.isalnum():
        raise StatementError(
            f"'{_show(columns.delimiter)}' cannot separate columns: use one character such as "
            ", ; | or 'tab'"
        )
    return delimiter


def _key(name: str) -> str:
    return name.replace("\ufeff", "").strip().casefold()


def _required(columns: Columns) -> list[str]:
    return [columns.date, columns.description, columns.amount]


def _read(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(first file line of the row, fields) for every row; StatementError on broken CSV."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"',
                        skipinitialspace=True, strict=True)
    last = 0
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


def _find_header(
    text: str, columns: Columns, delimiter: str | None
) -> tuple[int, list[str], list[tuple[int, list[str]]], str]:
    """The header's line, its names, the data rows after it, and the delimiter."""
    wanted = {_key(name) for name in _required(columns)}
    candidates = [delimiter] if delimiter else list(DELIMITERS)
    broken: StatementError | None = None
    for candidate in candidates:
        rows: list[tuple[int, list[str]]] = []
        header: tuple[int, list[str]] | None = None
        try:
            for line_no, row in _read(text, candidate):
                if header is None:
                    if wanted <= {_key(cell) for cell in row}:
                        header = (line_no, row)
                else:
                    rows.append((line_no, row))
        except StatementError as exc:
            if header is not None:
                raise
            broken = broken or exc  # before any header: this delimiter cannot be it
            continue
        if header is not None:
            return header[0], header[1], rows, candidate

    # No row names every column: report the first non-blank line's names, split the
    # way that gives the most columns.
    best: tuple[int, list[str]] | None = None
    for candidate in candidates:
        try:
            for line_no, row in _read(text, candidate):
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


def _column_index(header: list[str], line_no: int, columns: Columns) -> dict[str, int]:
    keys = [_key(cell) for cell in header]
    shown = ", ".join(_show(cell.strip()) for cell in header if cell.strip()) or "none"
    index: dict[str, int] = {}
    for role in ("date", "description", "amount"):
        name = getattr(columns, role)
        if _key(name) not in keys:
            raise StatementError(
                f"the statement has no column '{_show(name)}' (its columns are: {shown}): "
                f"name it with {_COLUMN_OPTIONS[role]}",
                line=line_no,
                column=name,
                column_in_message=True,
            )
        index[role] = keys.index(_key(name))
    if columns.currency is not None and columns.currency.strip():
        if _key(columns.currency) in keys:
            index["currency"] = keys.index(_key(columns.currency))
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
) -> tuple[int, date, str, Decimal, str]:
    def cell(role: str) -> str:
        position = index[role]
        if position >= len(row):
            raise StatementError(
                f"this line has {len(row)} fields, too few to reach the column (check the "
                "delimiter, or pick it with --delimiter)",
                line=line_no,
                column=getattr(columns, role),
            )
        return row[position].strip()

    date_text = cell("date")
    amount_text = cell("amount")
    description = " ".join(cell("description").split())
    currency_text = cell("currency") if "currency" in index else ""

    posted_on = _parse_date(date_text, columns.date_format, line_no, columns.date)

    try:
        sign, number, marker, explicit = _split_amount(amount_text)
    except _AmountError as exc:
        raise StatementError(
            f"'{_show(amount_text)}' is not an amount{exc.reason} (use --amount-col to pick "
            "another column)",
            line=line_no,
            column=columns.amount,
        ) from None

    currency = _line_currency(currency_text, marker, explicit, default, line_no, columns,
                              amount_text)

    try:
        magnitude = _parse_number(number, MINOR_DIGITS[currency], file_mark)
    except _AmountError as exc:
        raise StatementError(
            f"'{_show(amount_text)}' is not an amount{exc.reason} (use --amount-col to pick "
            "another column)",
            line=line_no,
            column=columns.amount,
        ) from None
    if magnitude >= MAX_AMOUNT:
        raise StatementError(
            f"'{_show(amount_text)}' is too large for an amount (the limit is {MAX_AMOUNT - 1})",
            line=line_no,
            column=columns.amount,
        )
    rounded = normalize(magnitude, currency)
    if rounded != magnitude:
        raise StatementError(
            f"'{_show(amount_text)}' has more decimals than {currency} has "
            f"({MINOR_DIGITS[currency]}): check the amount column and the currency",
            line=line_no,
            column=columns.amount,
        )
    return line_no, posted_on, description, sign * rounded, currency


def _parse_date(text: str, date_format: str | None, line_no: int, column: str) -> date:
    if not text:
        raise StatementError("the date is empty: every line needs one", line=line_no,
                             column=column)
    if date_format:
        try:
            return datetime.strptime(text, date_format).date()
        except (ValueError, TypeError, OverflowError, IndexError):
            iso = _iso_date(text)
            if iso is not None:
                return iso
            raise StatementError(
                f"'{_show(text)}' is not a date in the form {date_format} (give the "
                "statement's form with --date-format, or pick another column with --date-col)",
                line=line_no,
                column=column,
            ) from None
    iso = _iso_date(text)
    if iso is None:
        raise StatementError(
            f"'{_show(text)}' is not an ISO 8601 date like 2026-11-22 (give the statement's "
            "form with --date-format, e.g. %d.%m.%Y or %m/%d/%Y)",
            line=line_no,
            column=column,
        )
    return iso


def _iso_date(text: str) -> date | None:
    """An ISO 8601 date, or the date written in an ISO 8601 datetime (as written)."""
    if len(text) > 40 or not text.isascii():
        return None
    try:
        if len(text) <= 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("z", "Z")).date()
    except ValueError:
        return None


def _line_currency(
    cell: str,
    marker: str | None,
    explicit: bool,
    default: str | None,
    line_no: int,
    columns: Columns,
    amount_text: str,
) -> str:
    if cell:
        try:
            code = parse_currency(cell)
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
                column=columns.amount,
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
        column=columns.amount,
    )


