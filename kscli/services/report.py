"""The spend report over a ledger, read-only (kscli.domain.report computes it)."""

from __future__ import annotations

from datetime import datetime

from kscli.domain.report import Report, compute, month_starts
from kscli.store.base import Store


def spend_report(store: Store, at: datetime, now: datetime, *, months: int, forecast: int,
                 by: str, target: str | None) -> Report:
    """The report as of ``at`` (a moment before ``now`` undoes what was recorded later).
    The subscriptions stream from the ledger; the charges matched to them in the
    report's months and the rates are read first."""
    from kscli.services.rates import rate_book_of

    since = month_starts(at, months, forecast)[0]
    with store.read() as ledger:
        histories = ledger.histories_after(at) if at < now else None
        charges: dict = {}
        for charge in ledger.charges(since=since.date()):
            if charge.sub_id is not None and charge.posted_on <= at.date():
                charges.setdefault(charge.sub_id, []).append(charge)
        book = rate_book_of(ledger) if target else None
        subs = (sub for sub, _ in ledger.subs_stored())
        return compute(subs, at, months=months, forecast=forecast, by=by, target=target,
                       book=book, charges=charges, histories=histories)
