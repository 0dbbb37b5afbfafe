"""Exchange rates: import the ECB's euro reference rates, read them back."""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple

from kscli.domain.model import Event, Rate
from kscli.domain.rates import RateBook, entries, parse_rates
from kscli.store.base import Ledger, Store

EVENT_SUBJECT = "rates"
EVENT_ACTION = "rates-imported"


class RatesImport(NamedTuple):
    source: str
    days: int
    currencies: list[str]
    first: date
    last: date
    added: int
    replaced: int
    event: Event | None


def import_rates(store: Store, now: datetime, data: bytes, source: str) -> RatesImport:
    """Read a whole ECB file (RateError, exit 2, before anything is written), then store
    its rates in one transaction: a day and currency already held takes the file's rate."""
    rates = parse_rates(data)
    rows = entries(rates)
    days = sorted(rates)
    currencies = sorted({code for _, code, _ in rows})
    with store.write() as ledger:
        held = {rate.id: rate for rate in ledger._select("rates", order=("id",))}
        new, replaced = [], 0
        for day, code, value in rows:
            rate = Rate(f"{day.isoformat()} {code}", day, code, value, source)
            old = held.get(rate.id)
            if old is None:
                new.append(rate)
            elif old.rate != value or old.source != source:
                ledger.save(rate)
                replaced += 1
        if new:
            ledger.add_many(new, "rates")
        event = None
        if new or replaced:
            event = ledger.append_event(EVENT_SUBJECT, EVENT_ACTION, {
                "source": source, "days": len(days), "currencies": currencies,
                "first_day": days[0].isoformat(), "last_day": days[-1].isoformat(),
                "added": len(new), "replaced": replaced}, now)
    return RatesImport(source, len(days), currencies, days[0], days[-1], len(new), replaced,
                       event)


def rate_book_of(ledger: Ledger) -> RateBook:
    return RateBook((r.day, r.currency, r.rate, r.source)
                    for r in ledger._select("rates", order=("id",)))


def rate_book(store: Store) -> RateBook:
    with store.read() as ledger:
        return rate_book_of(ledger)
