"""ISO 20022 CAMT.053 bank-to-customer statements (versions 001.02 to 001.08; the
CAMT.054 debit and credit notifications read the same way).

Each ``Ntry`` (entry) of each ``Stmt`` is one transaction: its booked amount, its
``CdtDbtInd`` (``DBIT`` is money out, a charge; ``CRDT`` a credit), its booking date
(``BookgDt``, else the value date). Entries with status ``PDNG`` (pending) are not
booked yet and are counted, not read; balances (``Bal``) and summaries
(``TxsSummry``) are not transactions. The description is the other party's name
(creditor for a debit, debtor for a credit), the remittance text and the entry's
additional information. Element names are matched without their namespace, so every
version reads alike.

The XML is parsed with defusedxml: a file with a DTD, an entity (a "billion laughs")
or an external reference is refused before anything is read. Entries are numbered
from 1 in the file; errors name the entry.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from kscli.domain.money import MoneyError
from kscli.domain.statement.amounts import STATEMENT_DIGITS, currency_code, round_to
from kscli.domain.statement.lines import Entry, Statement, StatementError, _show, build_statement


def looks_like_camt(head: str) -> bool:
    text = head.lstrip()[:4096]
    return text.startswith("<") and ("camt.05" in text or "BkToCstmr" in text)


def parse_xml(data: bytes, what: str):
    """The root element of an XML file, parsed without DTDs, entities or external
    references (StatementError, exit 2, for a file that has any)."""
    try:
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import ParseError, fromstring
    except ImportError:  # pragma: no cover - the statements extra is not installed
        raise StatementError(
            f"reading {what} needs defusedxml: pip install 'kscli[statements]'") from None
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True,
                          forbid_external=True)
    except DefusedXmlException as exc:
        raise StatementError(
            f"the {what} file holds a DTD, an entity or an external reference ({exc}), "
            "which kscli does not read: nothing was read from outside the file") from None
    except ParseError as exc:
        raise StatementError(f"the {what} file is not well-formed XML ({exc})",
                             line=getattr(exc, "position", (None,))[0]) from None


def _name(element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element, *path: str):
    for step in path:
        if element is None:
            return None
        element = next((c for c in element if _name(c) == step), None)
    return element


def _text(element, *path: str) -> str:
    found = _child(element, *path)
    return " ".join((found.text or "").split()) if found is not None else ""


def _all(element, name: str):
    return [e for e in element.iter() if _name(e) == name]


def read_camt(data: bytes) -> Statement:
    """Every booked entry of every statement in a CAMT.053 (or .054) file."""
    root = parse_xml(data, "CAMT")
    statements = [e for e in root.iter() if _name(e) in ("Stmt", "Ntfctn")]
    if not statements:
        raise StatementError("the XML file holds no CAMT statement (no <Stmt> element): is it "
                             "a camt.053 export?")
    entries: list[Entry] = []
    pending = 0
    number = 0
    for statement in statements:
        account_currency = _text(statement, "Acct", "Ccy")
        for entry in (c for c in statement if _name(c) == "Ntry"):
            number += 1
            status = _text(entry, "Sts") or _text(entry, "Sts", "Cd")
            if status.upper() == "PDNG":
                pending += 1
                continue
            entries.append(_entry(entry, number, account_currency))
    return build_statement("camt", entries, pending=pending)


def _entry(entry, number: int, account_currency: str) -> Entry:
    amount_element = _child(entry, "Amt")
    text = _text(entry, "Amt")
    try:
        amount = Decimal(text)
        if not amount.is_finite() or amount < 0:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        raise StatementError(f"entry {number}: Amt '{_show(text)}' is not an amount") from None
    code = (amount_element.get("Ccy") if amount_element is not None else None) or \
        account_currency
    try:
        currency = currency_code(code or "")
    except MoneyError:
        raise StatementError(f"entry {number}: '{_show(code or '')}' is not an ISO 4217 "
                             "currency code") from None
    if round_to(amount, currency) != amount:
        raise StatementError(f"entry {number}: Amt '{text}' has more decimals than {currency} "
                             f"has ({STATEMENT_DIGITS[currency]})")
    indicator = _text(entry, "CdtDbtInd").upper()
    if indicator not in ("DBIT", "CRDT"):
        raise StatementError(f"entry {number}: CdtDbtInd '{_show(indicator)}' is neither DBIT "
                             "nor CRDT")
    posted_on = _date(entry, number)
    debit = indicator == "DBIT"
    party = "Cdtr" if debit else "Dbtr"
    names: list[str] = []
    for details in _all(entry, "TxDtls"):
        for path in ((party, "Nm"), (party, "Pty", "Nm")):
            name = _text(_child(details, "RltdPties"), *path)
            if name and name not in names:
                names.append(name)
        for line in _all(details, "Ustrd"):
            words = " ".join((line.text or "").split())
            if words and words not in names:
                names.append(words)
    extra = _text(entry, "AddtlNtryInf")
    if extra and extra not in names:
        names.append(extra)
    return Entry(number, posted_on, " ".join(names), round_to(amount, currency), currency,
                 debit)


def _date(entry, number: int) -> date:
    for holder in ("BookgDt", "ValDt"):
        for kind in ("Dt", "DtTm"):
            text = _text(entry, holder, kind)
            if not text:
                continue
            try:
                if kind == "Dt":
                    return date.fromisoformat(text[:10])
                return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
            except ValueError:
                raise StatementError(
                    f"entry {number}: {holder} '{_show(text)}' is not an ISO 8601 date") from None
    raise StatementError(f"entry {number}: no booking date (BookgDt) or value date (ValDt)")
