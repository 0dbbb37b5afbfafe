"""Money: Decimal amounts in a currency's own minor units. Never a float.

Totals are kept per currency; nothing here adds amounts in different currencies.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from kscli.domain.currencies import MINOR_DIGITS  # noqa: F401 - (the codes, re-exported)
from kscli.domain.errors import shown

MAX_AMOUNT = Decimal("1000000000")


class MoneyError(ValueError):
    """An amount or currency that cannot be used."""


def parse_currency(text: str) -> str:
    code = (text or "").strip().upper()
    if code not in MINOR_DIGITS:
        raise MoneyError(f"{shown(text)} is not an ISO 4217 currency code: use one like USD, EUR or JPY")
    return code


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-MINOR_DIGITS[currency])


def parse_price(text: str, currency: str) -> Decimal:
    """A non-negative amount with no more decimals than the currency has."""
    raw = (text or "").strip()
    try:
        amount = Decimal(raw)
    except (InvalidOperation, ValueError):
        raise MoneyError(f"{shown(text)} is not an amount: write a number like 9.99") from None
    if not amount.is_finite():
        raise MoneyError(f"{shown(text)} is not an amount: write a number like 9.99")
    if amount < 0:
        raise MoneyError(f"price {raw} is negative: a price is zero or more")
    if amount >= MAX_AMOUNT:
        raise MoneyError(f"price {shown(raw)[1:-1]} is too large: the limit is {MAX_AMOUNT - 1}")
    digits = MINOR_DIGITS[currency]
    if amount != amount.quantize(quantum(currency), rounding=ROUND_HALF_EVEN):
        raise MoneyError(
            f"price {shown(raw)[1:-1]} has more decimals than {currency} has ({digits}): round it to {digits}"
        )
    amount = amount.quantize(quantum(currency))
    return amount.copy_abs() if amount == 0 else amount  # -0 is 0 (stored as 0.00)


def normalize(amount: Decimal, currency: str) -> Decimal:
    """Round an amount to the currency's minor unit (banker's rounding)."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_EVEN)


def fmt(amount: Decimal, currency: str) -> str:
    return f"{normalize(amount, currency)} {currency}"


def monthly_cost(price: Decimal, months: int, currency: str) -> Decimal:
    return normalize(price / months, currency)


def yearly_cost(price: Decimal, months: int, currency: str) -> Decimal:
    return normalize(price * 12 / months, currency)
