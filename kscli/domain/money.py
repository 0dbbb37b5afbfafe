"""Money: Decimal amounts in a currency's own minor units. Never a float.

Totals are kept per currency; nothing here adds amounts in different currencies.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from kscli.domain.errors import shown

# ISO 4217 active codes and their minor digits (0, 2, 3 or 4). Codes not listed
# here are refused, so a typo like "USDD" or "EURO" never reaches the ledger.
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD "
    "BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD "
    "EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR "
    "IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP "
    "MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN "
    "QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB "
    "TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
)

MINOR_DIGITS: dict[str, int] = {}
for _codes, _digits in ((_ZERO, 0), (_TWO, 2), (_THREE, 3), (_FOUR, 4)):
    for _code in _codes.split():
        MINOR_DIGITS[_code] = _digits

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
    return amount.quantize(quantum(currency))


def normalize(amount: Decimal, currency: str) -> Decimal:
    """Round an amount to the currency's minor unit (banker's rounding)."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_EVEN)


def fmt(amount: Decimal, currency: str) -> str:
    return f"{normalize(amount, currency)} {currency}"


def monthly_cost(price: Decimal, months: int, currency: str) -> Decimal:
    return normalize(price / months, currency)


def yearly_cost(price: Decimal, months: int, currency: str) -> Decimal:
    return normalize(price * 12 / months, currency)
