"""ISO 4217 currency codes and their minor digits: text only, so that the records'
descriptions (kscli.domain.model) can name the allowed codes without loading Decimal on
the start-up path of every command."""

from __future__ import annotations

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
