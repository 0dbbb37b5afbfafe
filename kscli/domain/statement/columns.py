"""Which columns of a CSV statement hold what (``Columns``, the options that name
them), and where its header is: the first row that holds every column asked for (rows
before it, an account number or a title, are skipped)."""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kscli.domain.money import MoneyError
from kscli.domain.statement.amounts import currency_code
from kscli.domain.statement.decoding import TextSource
from kscli.domain.statement.lines import StatementError, _show

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
        try:
            for row in reader:
                yield last + 1, row
                last = reader.line_num
        except csv.Error as exc:  # (raised by the reader: the yield raises no csv.Error)
            raise StatementError(
                f"the CSV cannot be read ({exc}): check the quotes on this line",
                line=last + 1,
            ) from None
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
