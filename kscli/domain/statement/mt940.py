"""SWIFT MT940 statements, read with the mt-940 library (wolph/mt940, whose own test
files are among kscli's fixtures); imported only when an MT940 file is read.

Each ``:61:`` statement line is one transaction: ``D`` (debit) and ``RC`` (reversal of
a credit) are money out, charges; ``C`` and ``RD`` are credits. Balances (``:60F:``,
``:62F:``, ``:64:``) are not transactions. The description is the ``:86:`` text (its
name, posting text and purpose where the :86: is structured, as German banks write it). Transactions are
numbered from 1 in the file; errors name the transaction.
"""

from __future__ import annotations

from datetime import date

from kscli.domain.money import MoneyError
from kscli.domain.statement.amounts import currency_code, round_to
from kscli.domain.statement.lines import Entry, Statement, StatementError, _show, build_statement


# The parts of a structured (German SEPA) :86: that say who was paid and for what.
_DESCRIBED = ("applicant_name", "posting_text", "purpose", "additional_purpose")


def looks_like_mt940(head: str) -> bool:
    text = head.lstrip("\x01\r\n \t")[:4096]
    return ":20:" in text and (":25:" in text or ":60F:" in text or ":61:" in text)


def decode_mt940(data: bytes) -> str:
    """MT940 is ASCII in SWIFT's character set; banks write UTF-8 or Latin-1."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_mt940(text: str) -> Statement:
    """Every transaction of every statement in an MT940 file."""
    try:
        import mt940
    except ImportError:  # pragma: no cover - the statements extra is not installed
        raise StatementError(
            "reading MT940 needs the mt-940 library: pip install 'kscli[statements]'") from None
    try:
        transactions = mt940.models.Transactions()
        transactions.parse(text)
    except Exception as exc:  # the library raises several kinds on a broken file
        raise StatementError(f"the MT940 file cannot be read ({_show(str(exc), 120)})") from None
    entries: list[Entry] = []
    for number, transaction in enumerate(transactions, start=1):
        data = transaction.data
        amount = data.get("amount")
        posted_on = data.get("date")
        if amount is None or not isinstance(posted_on, date):
            raise StatementError(f"transaction {number}: no amount or date in its :61: line")
        try:
            currency = currency_code(amount.currency or "")
        except MoneyError:
            raise StatementError(f"transaction {number}: '{_show(str(amount.currency))}' is "
                                 "not an ISO 4217 currency code") from None
        size = abs(amount.amount)
        status = (data.get("status") or "").upper()
        debit = status in ("D", "RC") if status else amount.amount < 0
        parts = [data.get(key) or "" for key in _DESCRIBED]
        if not any(part.strip() for part in parts):
            parts = [data.get("transaction_details") or "", data.get("extra_details") or ""]
        description = " ".join(" ".join(part.split()) for part in parts if part.strip())
        entries.append(Entry(number, posted_on, description, round_to(size, currency),
                             currency, debit))
    return build_statement("mt940", entries)
