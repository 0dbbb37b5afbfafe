"""Amounts as statements write them: signs, currency codes and symbols, group and
decimal marks (``1.234,56``, ``1,234.56``, ``1 234,56``, ``1'234.56``, ``(9.99)``).

A statement may be years old: besides the codes in use (kscli.domain.money owns them,
for prices), every code ISO 4217 has withdrawn is read here (``HRK`` until 2023, ``DEM``,
``VEF``, ...), and so are the fund, metal and test codes of the list (``XAU``, ``XDR``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from kscli.domain.money import MAX_AMOUNT, MINOR_DIGITS, MoneyError, parse_currency

# ISO 4217 list three (codes withdrawn since 1978), with the minor digits each had;
# most had two, these had none.
_HISTORIC_ZERO = (
    "ADP BEF BYR ESA ESB ESP GRD GNS ITL LUF MGF PTE ROK TPE TRL XEU XFO YUN ZRN ZRZ"
)
_HISTORIC_TWO = (
    "AFA ALK AOK AON AOR ARA ARP ARY ATS AYM AZM BAD BEC BEL BGJ BGK BGL BOP BRB BRC BRE "
    "BRN BRR BUK BYB CHC CSD CSJ CSK CUC CYP DDM DEM ECS ECV EEK FIM FRF GEK GHC GHP GNE "
    "GQE GWE GWP HRD HRK IEP ILP ILR ISJ LAJ LSM LTL LTT LUC LUL LVL LVR MLF MRO MTL MTP "
    "MVQ MXP MZE MZM NIC NLG PEH PEI PES PLZ RHD ROL RUR SDD SDP SIT SKK SLL SRG STD SUR "
    "TJR TMM UAK UGS UGW USS UYN UYP VEB VEF VNC XFU YDD YUD YUM ZAL ZMK ZWC ZWD ZWL ZWN ZWR "
    "ANG"
)
# Current codes with no minor unit in the list (funds, metals, testing): read with up
# to four decimals, as a price list of gold or drawing rights writes them.
_NO_MINOR_UNIT = "XAG XAU XBA XBB XBC XBD XDR XPD XPT XSU XTS XUA XXX"

STATEMENT_DIGITS: dict[str, int] = {
    **{code: 0 for code in _HISTORIC_ZERO.split()},
    **{code: 2 for code in _HISTORIC_TWO.split()},
    **{code: 4 for code in _NO_MINOR_UNIT.split()},
    **MINOR_DIGITS,
}


@functools.lru_cache(maxsize=256)
def currency_code(text: str) -> str:
    """An ISO 4217 code, current or historic, upper-cased; MoneyError otherwise."""
    code = (text or "").strip().upper()
    if code in STATEMENT_DIGITS:
        return code
    return parse_currency(text)  # raises with the message prices use

_SIGNS = {"-": -1, "+": 1, "\u2212": -1, "\u2013": -1}
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_EXPLICIT_SYMBOLS = {"€", "£"}  # "$" and "¥" are several countries' signs
_GROUP_SPACES = " \u00a0\u202f\u2009"
_APOSTROPHES = "'\u2019"
_NUMBER = re.compile(r"^[0-9](?:[0-9.,'\u2019 \u00a0\u202f\u2009]*[0-9])?$")
_CODE_START = re.compile(r"^([A-Za-z]{3})(?![A-Za-z])")
_CODE_END = re.compile(r"(?<![A-Za-z])([A-Za-z]{3})$")


class _AmountError(Exception):
    """``reason`` follows "is not an amount"; a ``standalone`` one follows the value."""

    def __init__(self, reason: str = "", standalone: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.standalone = standalone


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


# The common case, read without the general rules (which give it the same value): an
# optional sign, digits, and a decimal mark with one or two decimals.
_PLAIN = re.compile(r"^([+-]?)([0-9]{1,15})(?:([.,])([0-9]{1,2}))?$")


def _number_or_empty(cell: str) -> str:
    plain = _PLAIN.match(cell)
    if plain is not None:
        return cell.lstrip("+-")
    try:
        return _split_amount(cell.strip())[1]
    except _AmountError:
        return ""


def _number_and_mark(cell: str) -> tuple[str, str | None]:
    """``_number_or_empty(cell)`` and the decimal mark it shows (``_mark_of``), a plain
    amount matched once."""
    plain = _PLAIN.match(cell)
    if plain is not None:
        return cell.lstrip("+-"), plain.group(3)
    number = _number_or_empty(cell)
    return number, _mark_of(number)


def _code(text: str) -> str:
    try:
        return currency_code(text)
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


def _mark_of(number: str) -> str | None:
    plain = _PLAIN.match(number)
    if plain is not None:
        return plain.group(3)
    return _decimal_mark(_clean_number(number))[1]


def _file_decimal_mark(numbers: Sequence[str]) -> str | None:
    """The decimal mark the file's unambiguous amounts agree on, if they agree."""
    marks = {_mark_of(number) for number in numbers} - {None}
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




# The smallest amount of each currency (1, 0.01, 0.001, ...), made once.
_QUANTUM = {code: Decimal(1).scaleb(-digits) for code, digits in STATEMENT_DIGITS.items()}


def round_to(amount: Decimal, code: str) -> Decimal:
    """``amount`` with the currency's minor digits (it must have no more)."""
    return amount.quantize(_QUANTUM[code])


def read_amount(text: str, file_mark: str | None, currency_of) -> tuple[int, Decimal, str]:
    """(sign, size, currency) of an amount cell; raises _AmountError with the reason.

    ``currency_of(marker, explicit)`` decides the line's currency from the code or
    symbol written with the amount (None) and whether that one is unambiguous.

    A plain amount (``-12.99``: a sign, digits, a mark and no more decimals than the
    currency has) is read here directly; ``_read_any_amount``, the rule, gives it the
    same answer (tests/test_statement_fast_paths.py).
    """
    plain = _PLAIN.match(text)
    if plain is not None:
        currency = currency_of(None, False)
        whole, fraction = plain.group(2, 4)
        digits = STATEMENT_DIGITS[currency]
        places = len(fraction) if fraction else 0
        if places <= digits:
            size = Decimal(f"{whole}.{fraction or ''}{'0' * (digits - places)}"
                           if digits else whole)
            if size < MAX_AMOUNT:
                return (-1 if plain.group(1) == "-" else 1), size, currency
    return _read_any_amount(text, file_mark, currency_of)


def _read_any_amount(text: str, file_mark: str | None,
                     currency_of) -> tuple[int, Decimal, str]:
    """``read_amount``, for any amount a statement writes (the rule)."""
    sign, number, marker, explicit = _split_amount(text)
    currency = currency_of(marker, explicit)
    size = _parse_number(number, STATEMENT_DIGITS[currency], file_mark)
    if size >= MAX_AMOUNT:
        raise _AmountError(f"is too large for an amount (the limit is {MAX_AMOUNT - 1})", True)
    rounded = round_to(size, currency)
    if rounded != size:
        raise _AmountError(
            f"has more decimals than {currency} has ({STATEMENT_DIGITS[currency]}): "
            "check the amount column and the currency", True)
    return sign, rounded, currency
