"""Bank and card statements: read them, match their lines, find unexpected charges.

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
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from kscli.domain.calendar import start_of_day
from kscli.domain.errors import BadValue
from kscli.domain.model import Charge, Event, Subscription
from kscli.domain.timeline import SubState, as_it_stands, period_at, plan_length, state_at
from kscli.domain.money import MAX_AMOUNT, MINOR_DIGITS, MoneyError, normalize, parse_currency

UTC = timezone.utc

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

DISPUTE_NOTE = "a dispute with the bank is not a cancellation"


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


# ---------------------------------------------------------------------------
# Parsing


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


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One charge of a statement: money paid out, always a positive amount."""

    line_no: int
    posted_on: date
    description: str
    amount: Decimal
    currency: str
    line_hash: str


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


# Amounts --------------------------------------------------------------------

_SIGNS = {"-": -1, "+": 1, "\u2212": -1, "\u2013": -1}
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_EXPLICIT_SYMBOLS = {"€", "£"}  # "$" and "¥" are several countries' signs
_GROUP_SPACES = " \u00a0\u202f\u2009"
_APOSTROPHES = "'\u2019"
_NUMBER = re.compile(r"^[0-9](?:[0-9.,'\u2019 \u00a0\u202f\u2009]*[0-9])?$")
_CODE_START = re.compile(r"^([A-Za-z]{3})(?![A-Za-z])")
_CODE_END = re.compile(r"(?<![A-Za-z])([A-Za-z]{3})$")


class _AmountError(Exception):
    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


def _split_amount(text: str) -> tuple[int, str, str | None, bool]:
    """(sign, the number's text, currency written with it, whether that is unambiguous)."""
    if not text:
        raise _AmountError(": the amount is empty")
    if len(text) > 64:
        raise _AmountError(": it is too long")
    rest = text
    sign: int | None = None
    marker: str | None = None
    explicit = False
    if rest.startswith("(") and rest.endswith(")"):
        sign = -1
        rest = rest[1:-1].strip()

    def take_sign(value: int) -> None:
        nonlocal sign
        if sign is not None:
            raise _AmountError(": it has two signs")
        sign = value

    def take_currency(code: str, is_explicit: bool) -> None:
        nonlocal marker, explicit
        if marker is not None:
            raise _AmountError(": it names two currencies")
        marker, explicit = code, is_explicit

    changed = True
    while changed and rest:
        changed = False
        head, tail = rest[0], rest[-1]
        if head in _SIGNS:
            take_sign(_SIGNS[head])
            rest, changed = rest[1:].strip(), True
        elif head in _SYMBOLS:
            take_currency(_SYMBOLS[head], head in _EXPLICIT_SYMBOLS)
            rest, changed = rest[1:].strip(), True
        elif (match := _CODE_START.match(rest)) is not None:
            take_currency(_code(match.group(1)), True)
            rest, changed = rest[3:].strip(), True
        if changed or not rest:
            continue
        if tail in _SIGNS:
            take_sign(_SIGNS[tail])
            rest, changed = rest[:-1].strip(), True
        elif tail in _SYMBOLS:
            take_currency(_SYMBOLS[tail], tail in _EXPLICIT_SYMBOLS)
            rest, changed = rest[:-1].strip(), True
        elif (match := _CODE_END.search(rest)) is not None:
            take_currency(_code(match.group(1)), True)
            rest, changed = rest[:-3].strip(), True
    if not _NUMBER.match(rest):
        raise _AmountError()
    return (sign if sign is not None else 1), rest, marker, explicit


def _number_or_empty(cell: str) -> str:
    try:
        return _split_amount(cell.strip())[1]
    except _AmountError:
        return ""


def _code(text: str) -> str:
    try:
        return parse_currency(text)
    except MoneyError:
        raise _AmountError(f": '{text}' is not a currency code") from None


def _clean_number(text: str) -> str:
    for space in _GROUP_SPACES:
        text = text.replace(space, " ")
    return text.replace("\u2019", "'")


def _decimal_mark(text: str) -> tuple[int | None, str | None]:
    """Where the decimal mark is, and which mark a number shows the file uses.

    Returns (position of the decimal mark or None, the decimal mark this number proves
    or None). ``1,234`` proves nothing: it is 1234 in one country and 1.234 in another.
    """
    seps = [(i, ch) for i, ch in enumerate(text) if not ch.isdigit()]
    if not seps:
        return None, None
    last_at, last = seps[-1]
    if last not in ".,":
        return None, None  # 1 234 / 1'234: only thousands
    other = "," if last == "." else "."
    kinds = {ch for _, ch in seps}
    if kinds != {last}:
        return last_at, last  # 1.234,56 / 1,234.56 / 1 234,56 / 1'234.56
    if len(seps) > 1:
        return None, other  # 1,234,567: the commas group, so a dot would be decimal
    after = len(text) - last_at - 1
    before = text[:last_at]
    if after != 3 or len(before) > 3 or before[0] == "0":
        return last_at, last  # 9.99 / 9,99 / 1234,567 / 0,125
    return None, None


def _file_decimal_mark(numbers: Sequence[str]) -> str | None:
    """The decimal mark the file's unambiguous amounts agree on, if they agree."""
    marks = {_decimal_mark(_clean_number(number))[1] for number in numbers} - {None}
    return marks.pop() if len(marks) == 1 else None


def _parse_number(text: str, minor_digits: int, file_mark: str | None = None) -> Decimal:
    """The value of a number written with group and decimal separators, e.g. 1.234,56.

    A lone ``1,234`` or ``1.234`` follows the file's decimal mark when the file shows
    one; otherwise it is read as thousands, except in a currency with three decimals.
    """
    text = _clean_number(text)
    decimal_at, _ = _decimal_mark(text)
    seps = [(i, ch) for i, ch in enumerate(text) if not ch.isdigit()]
    if decimal_at is None and len(seps) == 1 and seps[0][1] in ".,":
        mark = seps[0][1]
        if file_mark == mark or (file_mark is None and minor_digits == 3):
            decimal_at = seps[0][0]
    whole = text if decimal_at is None else text[:decimal_at]
    fraction = "" if decimal_at is None else text[decimal_at + 1 :]
    if decimal_at is not None and not fraction.isdigit():
        raise _AmountError()
    group_chars = {ch for ch in whole if not ch.isdigit()}
    if len(group_chars) > 1:
        raise _AmountError(": it mixes thousands separators")
    if group_chars:
        groups = whole.split(group_chars.pop())
        if not (1 <= len(groups[0]) <= 3 and len(groups[-1]) == 3
                and all(len(group) in (2, 3) for group in groups[1:-1])):
            raise _AmountError(": its thousands separators are misplaced")
    digits = "".join(ch for ch in whole if ch.isdigit())
    try:
        return Decimal(f"{digits}.{fraction}" if fraction else digits)
    except InvalidOperation:  # pragma: no cover - the pattern admits digits only
        raise _AmountError() from None


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


def _hash_text(description: str) -> str:
    return " ".join(unicodedata.normalize("NFC", description).casefold().split())


def _show(text: str, limit: int = 40) -> str:
    """A value as it may appear in a message: one line, printable, short."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


# ---------------------------------------------------------------------------
# Matching


def _match_text(text: str) -> str:
    """Lower case, accents and punctuation and spaces dropped: 'Acme, Inc.' -> 'acmeinc'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(
        ch for ch in decomposed.casefold() if ch.isalnum() and not unicodedata.combining(ch)
    )


def _natural(ident: str) -> tuple:
    """Sort key for ids: S-999 before S-1042."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.split(r"(\d+)", ident) if part)


def _utc_date(when: datetime) -> date:
    return when.date() if when.tzinfo is None else when.astimezone(UTC).date()


def _end_day(state: SubState) -> tuple[date, bool] | None:
    """The UTC day from which service is over, and whether that day itself is past it.

    At the end of a term (a cancellation, auto-renew turned off) the end is the
    boundary at which the next period would have started, and the renewal day belongs
    to that next period: a charge on it is past the service. Service ended early (a
    cancellation --immediately) ends during its day: a charge that day may still be
    the last one due. None while the subscription keeps renewing.
    """
    end = state.ends_at
    if end is None:
        return None
    return _utc_date(end), not state.ended_early


def _in_service(sub: Subscription, day: date) -> bool:
    if day < _utc_date(sub.started_at):
        return False
    end = _end_day(as_it_stands(sub))
    return end is None or day < end[0] or (day == end[0] and not end[1])


def match_line(line: StatementLine, subs: Sequence[Subscription]) -> str | None:
    """The id of the subscription a statement line pays for, or None.

    The vendor's name must appear in the description (case, accents, spaces and
    punctuation ignored), the price must equal the amount and the currencies must be
    the same. The longest vendor name wins; then one in service on the line's date;
    then the lowest id.
    """
    from kscli.domain.timeline import prices_on  # the price in force that day

    text = _match_text(line.description)
    candidates: list[tuple[int, bool, Subscription]] = []
    for sub in subs:
        vendor = _match_text(sub.vendor)
        if not vendor or vendor not in text:
            continue
        if sub.currency != line.currency or line.amount not in prices_on(sub, line.posted_on):
            continue
        candidates.append((len(vendor), _in_service(sub, line.posted_on), sub))
    if not candidates:
        return None
    best = min(candidates, key=lambda c: (-c[0], not c[1], _natural(c[2].id)))
    return best[2].id


# ---------------------------------------------------------------------------
# Check


@dataclass(frozen=True, slots=True)
class Finding:
    """A charge that should not have happened, and why."""

    kind: str  # after-cancellation, after-renew-off, after-refund, duplicate
    sub_id: str
    charge_id: str
    posted_on: date
    amount: Decimal
    currency: str
    service_ended: date | None
    reference: str | None
    message: str


FINDING_KINDS = ("after-cancellation", "after-renew-off", "after-refund", "duplicate")


def _latest(events: Sequence[Event], actions: tuple[str, ...]) -> Event | None:
    chosen: tuple[datetime, int, Event] | None = None
    for position, event in enumerate(events):
        if event.action in actions:
            key = (event.at if event.at.tzinfo else event.at.replace(tzinfo=UTC), position)
            if chosen is None or key >= chosen[:2]:
                chosen = (key[0], key[1], event)
    return chosen[2] if chosen else None


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    end: date  # a charge after this day (on it too when inclusive) is unexpected
    inclusive: bool
    reference: str | None
    what: str  # how the service ended, for the message


def _rule_for(state: SubState, events: Sequence[Event]) -> _Rule | None:
    """Why charges past some day are unexpected for this subscription, if they are."""
    sub = state.sub
    if sub.status == "refunded":
        refund = _latest(events, ("refunded",))
        if refund is not None:
            day = _utc_date(refund.at)
        elif sub.ended_at is not None:
            day = _utc_date(sub.ended_at)
        else:
            return None
        return _Rule("after-refund", day, True, refund.reference if refund else None, "refunded")

    cancelled = _latest(events, ("cancelled",))
    if sub.status in ("cancelled", "expired") and (
        cancelled is not None or sub.cancelled_at is not None or sub.status == "cancelled"
    ):
        end = _end_day(state)
        if end is None:
            return None
        return _Rule("after-cancellation", end[0], end[1],
                     cancelled.reference if cancelled else None, "cancelled")

    if sub.status not in ("active", "expired"):
        return None
    toggle = _latest(events, ("renew-off", "renew-on"))
    renew_off = toggle is not None and toggle.action == "renew-off"
    if not renew_off and not (toggle is None and not sub.auto_renew):
        return None
    end = _end_day(state)
    if end is None:
        return None
    return _Rule("after-renew-off", end[0], end[1],
                 toggle.reference if renew_off and toggle else None, "auto-renew off")


def _period(sub: Subscription, day: date) -> tuple[date, date | None]:
    """The billing period (first day, day the next one starts) that holds ``day``: the
    period that holds the day's last moment, so a renewal day belongs to the period it
    starts (kscli.domain.timeline owns the periods)."""
    if plan_length(sub) is None:
        return _utc_date(sub.started_at), None
    start, end = period_at(sub, start_of_day(day + timedelta(days=1)) - timedelta(microseconds=1))
    return _utc_date(start), _utc_date(end) if end is not None else None


def find_unexpected(
    subs: Sequence[Subscription],
    charges: Sequence[Charge],
    events: Sequence[Event],
    *,
    since: date | None = None,
    at: datetime | None = None,
) -> list[Finding]:
    """Every charge that should not have happened, oldest first.

    A charge on the day service ended is expected (a last renewal may post that day);
    one the day after is not. On a refunded subscription, a charge on or after the day
    of the refund is unexpected. A second charge in one billing period is a duplicate.
    A charge matched to no subscription is not a finding. With ``since``, only charges
    posted on or after that day are reported (earlier ones still count as the first
    charge of a period). With ``at``, each subscription is taken as it stands at that
    moment (renewals and expiries due by then count whether or not they were swept;
    what was recorded later is undone), and charges posted after its day are left out;
    without, as its record stands.
    """
    by_id = {sub.id: sub for sub in subs}
    events_of: dict[str, list[Event]] = {}
    for event in events:
        events_of.setdefault(event.subject, []).append(event)
    charges_of: dict[str, list[Charge]] = {}
    for charge in charges:
        if charge.sub_id is not None and charge.sub_id in by_id and (
                at is None or charge.posted_on <= _utc_date(at)):
            charges_of.setdefault(charge.sub_id, []).append(charge)

    findings: list[Finding] = []
    for sub_id, own in charges_of.items():
        history = events_of.get(sub_id, [])
        state = as_it_stands(by_id[sub_id]) if at is None else state_at(by_id[sub_id], at, history)
        if at is not None:
            history = [event for event in history if event.at <= at]
        sub = state.sub
        rule = _rule_for(state, history)
        first_in_period: dict[tuple[date, date | None], Charge] = {}
        for charge in sorted(own, key=lambda c: (c.posted_on, _natural(c.id))):
            period = _period(sub, charge.posted_on)
            first = first_in_period.setdefault(period, charge)
            if since is not None and charge.posted_on < since:
                continue
            if rule is not None and (
                charge.posted_on > rule.end or (rule.inclusive and charge.posted_on == rule.end)
            ):
                findings.append(_finding(sub, charge, rule))
            elif first is not charge:
                findings.append(_duplicate(state, charge, first, period))
    findings.sort(key=lambda f: (f.posted_on, _natural(f.sub_id), _natural(f.charge_id)))
    return findings


def _money(charge: Charge) -> str:
    amount = normalize(charge.amount, charge.currency) if charge.currency in MINOR_DIGITS \
        else charge.amount
    return f"{amount} {charge.currency}"


def _proof(reference: str | None, what: str) -> str:
    if reference is None:
        return f"; no {what} reference is recorded"
    return (
        f"; show reference {reference} to the bank as proof of the {what}; "
        f"{DISPUTE_NOTE}"
    )


def _finding(sub: Subscription, charge: Charge, rule: _Rule) -> Finding:
    money, day, end = _money(charge), charge.posted_on.isoformat(), rule.end.isoformat()
    if rule.kind == "after-refund":
        message = (
            f"{sub.id}: charge of {money} on {day} came on or after the refund on {end}, "
            f"the day service ended" + _proof(rule.reference, "refund")
        )
    else:
        why, proof = (("cancelled", "cancellation") if rule.kind == "after-cancellation"
                      else ("auto-renew was turned off", "renew-off"))
        when = (f"on or after {end}, the day service ended and the next period would have "
                f"started" if rule.inclusive else f"after service ended on {end}")
        message = f"{sub.id}: charge of {money} on {day} came {when} ({why})" + _proof(
            rule.reference, proof)
    return Finding(rule.kind, sub.id, charge.id, charge.posted_on, charge.amount,
                   charge.currency, rule.end, rule.reference, message)


def _duplicate(
    state: SubState, charge: Charge, first: Charge, period: tuple[date, date | None]
) -> Finding:
    sub = state.sub
    start, stop = period
    span = f"the billing period from {start.isoformat()}" + (
        f" to {stop.isoformat()}" if stop else ""
    )
    end = state.ends_at
    ended = _utc_date(end) if end is not None and sub.status != "active" else None
    status = f"service ended on {ended.isoformat()}" if ended else "service has not ended"
    message = (
        f"{sub.id}: second charge of {_money(charge)} on {charge.posted_on.isoformat()} in "
        f"{span} (the first, {first.id}, was on {first.posted_on.isoformat()}); {status}; "
        "no reference: ask the vendor to refund one of them"
    )
    return Finding("duplicate", sub.id, charge.id, charge.posted_on, charge.amount,
                   charge.currency, ended, None, message)



# The earliest time zone is 14 hours ahead of UTC (Kiribati): a bank there may already
# book a date that is still tomorrow in UTC.
_AHEAD = 14


def latest_date(now: datetime) -> date:
    """The latest calendar date anywhere on Earth at ``now`` (an aware UTC time)."""
    from datetime import timedelta

    return (now + timedelta(hours=_AHEAD)).date()


def dated_after(lines: Sequence[StatementLine], now: datetime) -> list[StatementLine]:
    """The lines of a statement dated in the future, whatever the bank's time zone: a
    bank books nothing ahead, so such a line is most likely read with the wrong date
    format (day and month swapped) or comes from a wrong file; the import names them."""
    latest = latest_date(now)
    return [line for line in lines if line.posted_on > latest]


def future_warning(lines: Sequence[StatementLine], now: datetime, shown: int = 5) -> str | None:
    """The warning naming the lines dated in the future, or None."""
    late = dated_after(lines, now)
    if not late:
        return None
    named = ", ".join(f"line {line.line_no} ({line.posted_on.isoformat()})" for line in late[:shown])
    more = f" and {len(late) - shown} more" if len(late) > shown else ""
    many = "lines are" if len(late) != 1 else "line is"
    return (f"warning: {len(late)} {many} dated in the future (after "
            f"{latest_date(now).isoformat()}, today anywhere): {named}{more}; check the "
            "statement, and --date-format if day and month may be swapped")
