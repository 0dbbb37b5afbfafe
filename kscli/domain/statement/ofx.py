"""OFX and QFX statements (OFX 1.x SGML and 2.x XML): the transactions of every bank
and card statement in the file.

OFX 1.x is SGML whose leaf elements need no closing tag, and real files break the
rules in small ways (an unclosed ``BANKTRANLIST``, empty leaf elements, blank lines
before the header, a ``CHARSET`` that is not the one the file is written in). A strict
parser refuses such files (ofxtools does, for three of the eight real exports in the
test fixtures) while the transactions in them are plain: this reader takes each
``STMTTRN`` aggregate and its leaf values, for both versions, with no XML parser at
all, so no entity is expanded and nothing outside the file is read. A file that
declares a DTD or an entity is refused.

The sign of ``TRNAMT`` is the direction of the money (OFX defines a negative amount
as money out of the account, for bank and card statements alike): negative lines are
the charges.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from kscli.domain.money import MoneyError
from kscli.domain.statement.amounts import STATEMENT_DIGITS, currency_code, round_to
from kscli.domain.statement.lines import Entry, Statement, StatementError, _show, build_statement

_STATEMENT = re.compile(r"<(STMTRS|CCSTMTRS)>", re.IGNORECASE)
_TRANSACTION = re.compile(r"<STMTTRN>", re.IGNORECASE)
_END_OF_TRANSACTION = re.compile(r"</STMTTRN>|<STMTTRN>|</BANKTRANLIST>|<LEDGERBAL>",
                                 re.IGNORECASE)
_LEAF = re.compile(r"<([A-Z0-9.]+)>([^<]*)", re.IGNORECASE)
_DECLARATION = re.compile(r"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def looks_like_ofx(head: str) -> bool:
    start = head.lstrip().upper()
    return start.startswith("OFXHEADER") or "<OFX>" in head.upper()[:4096]


def decode_ofx(data: bytes) -> str:
    """UTF-8 where the bytes are UTF-8 (whatever ``CHARSET`` says: exports often say 1252
    and write UTF-8), else Windows-1252, the charset OFX 1.x files use."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def read_ofx(text: str, default_currency: str | None = None) -> Statement:
    """Every transaction of every statement in an OFX file; StatementError names the
    line of a transaction that cannot be read."""
    if _DECLARATION.search(text):
        raise StatementError("the OFX file declares a DTD or an entity, which kscli does not "
                             "read: export the statement again from the bank")
    if not looks_like_ofx(text):
        raise StatementError("this is not an OFX file (no OFX header or <OFX> element): "
                             "pick the format with --input-format")
    starts = [match.start() for match in _STATEMENT.finditer(text)]
    entries: list[Entry] = []
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(text)
        block = text[start:end]
        head = block[:_first(_TRANSACTION, block)]
        currency = _leaf(head, "CURDEF") or default_currency
        for match in _TRANSACTION.finditer(block):
            body_start = match.end()
            stop = _END_OF_TRANSACTION.search(block, body_start)
            body = block[body_start: stop.start() if stop else len(block)]
            line_no = text.count("\n", 0, start + match.start()) + 1
            entries.append(_entry(body, line_no, currency))
    return build_statement("ofx", entries)


def _first(pattern: re.Pattern, text: str) -> int:
    match = pattern.search(text)
    return match.start() if match else len(text)


def _leaf(text: str, tag: str) -> str:
    for name, value in _LEAF.findall(text):
        if name.upper() == tag:
            return " ".join(value.split())
    return ""


def _entry(body: str, line_no: int, statement_currency: str | None) -> Entry:
    values: dict[str, str] = {}
    for name, value in _LEAF.findall(body):
        values.setdefault(name.upper(), " ".join(value.split()))
    amount_text = values.get("TRNAMT", "")
    try:
        amount = Decimal(amount_text.replace(",", ".") if "." not in amount_text
                         else amount_text)
        if not amount.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        raise StatementError(f"TRNAMT '{_show(amount_text)}' is not an amount",
                             line=line_no, column="TRNAMT") from None
    posted_on = _ofx_date(values.get("DTPOSTED", ""), line_no)
    code = (values.get("CURRENCY") or values.get("ORIGCURRENCY") or values.get("CURSYM")
            or statement_currency)
    if not code:
        raise StatementError("the statement names no currency (CURDEF): give it with "
                             "--currency", line=line_no)
    try:
        currency = currency_code(code)
    except MoneyError:
        raise StatementError(f"'{_show(code)}' is not an ISO 4217 currency code",
                             line=line_no, column="CURDEF") from None
    size = abs(amount)
    if round_to(size, currency) != size:
        raise StatementError(
            f"TRNAMT '{_show(amount_text)}' has more decimals than {currency} has "
            f"({STATEMENT_DIGITS[currency]})", line=line_no, column="TRNAMT")
    parts = [values.get("NAME", ""), values.get("MEMO", "")]
    description = " ".join(part for part in parts if part) or values.get("TRNTYPE", "")
    return Entry(line_no, posted_on, description, round_to(size, currency), currency,
                 amount < 0)


def _ofx_date(text: str, line_no: int) -> date:
    digits = text[:8]
    try:
        if len(digits) != 8 or not digits.isdigit():
            raise ValueError
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise StatementError(f"DTPOSTED '{_show(text)}' is not an OFX date (YYYYMMDD...)",
                             line=line_no, column="DTPOSTED") from None
