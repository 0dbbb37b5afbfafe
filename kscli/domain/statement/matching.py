"""When a subscription is in service, and which subscription a statement line pays for."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime, timezone
from decimal import Decimal

from kscli.domain.model import Subscription
from kscli.domain.statement.lines import StatementLine
from kscli.domain.timeline import SubState, as_it_stands, every_price, prices_on

UTC = timezone.utc


def _match_text(text: str) -> str:
    """Lower case, accents and punctuation and spaces dropped: 'Acme, Inc.' -> 'acmeinc'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(
        ch for ch in decomposed.casefold() if ch.isalnum() and not unicodedata.combining(ch)
    )


def _natural(ident: str) -> tuple:
    """Sort key for ids: S-999 before S-1042."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.split(r"(\d+)", ident) if part)


def _utc_date(when: datetime) -> date:
    return when.date() if when.tzinfo is None else when.astimezone(UTC).date()


def _end_day(state: SubState) -> tuple[date, bool] | None:
    """The UTC day from which service is over, and whether that day itself is past it.

    At the end of a term (a cancellation, auto-renew turned off) the end is the
    boundary at which the next period would have started, and the renewal day belongs
    to that next period: a charge on it is past the service. Service ended early (a
    cancellation --immediately) ends during its day: a charge that day may still be
    the last one due. None while the subscription keeps renewing.
    """
    end = state.ends_at
    if end is None:
        return None
    return _utc_date(end), not state.ended_early


def _within(start: date, end: tuple[date, bool] | None, day: date) -> bool:
    """Whether ``day`` is a day of service that starts on ``start`` and ends at ``end``
    (``_end_day``'s answer)."""
    return start <= day and (end is None or day < end[0] or (day == end[0] and not end[1]))



class VendorIndex:
    """The subscriptions by price and currency, and within those by vendor name, so
    that a line is looked up, not held against every subscription.

    The vendor's name (or one of its descriptors, ``matches``) must appear in the description (case, accents, spaces and
    punctuation ignored), the price in force on the line's day (timeline.prices_on: a
    price history counts) must equal the amount and the currencies must be the same. The longest vendor name wins; then one in service on the line's date;
    then the lowest id. A lookup reads the description's substrings of the lengths the
    vendor names of that price have: its cost does not grow with the ledger.
    """

    def __init__(self, subs: Sequence[Subscription]) -> None:
        # (currency, price) -> {name length: {name: [subscriptions]}}
        self._by_price: dict[tuple[str, Decimal], dict[int, dict[str, list[Subscription]]]] = {}
        for sub in subs:
            # the vendor's name, and each way statements write it (`sub add --match`)
            names = {name for name in (_match_text(sub.vendor), *map(_match_text, sub.matches))
                     if name}
            for price in every_price(sub):  # each price it had: the one in force is checked
                lengths = self._by_price.setdefault((sub.currency, price), {})
                for name in names:
                    lengths.setdefault(len(name), {}).setdefault(name, []).append(sub)
        # each name's subscriptions in id order, with the days they are in service
        # (worked out once here, not once per line)
        self._service: dict[str, tuple[date, tuple[date, bool] | None]] = {}
        for lengths in self._by_price.values():
            for names in lengths.values():
                for name, found in names.items():
                    found.sort(key=lambda sub: _natural(sub.id))
                    for sub in found:
                        self._service[sub.id] = (_utc_date(sub.started_at),
                                                 _end_day(as_it_stands(sub)))

    def _in_service(self, sub: Subscription, day: date) -> bool:
        """In service on ``day`` (``_end_day`` owns when service ends)."""
        return _within(*self._service[sub.id], day)

    def match(self, line: StatementLine) -> str | None:
        """The id of the subscription ``line`` pays for, or None."""
        lengths = self._by_price.get((line.currency, line.amount))
        if not lengths:
            return None
        text = _match_text(line.description)
        for length in sorted(lengths, reverse=True):  # the longest name wins
            names = lengths[length]
            found = {text[i:i + length] for i in range(len(text) - length + 1)} & names.keys()
            if not found:
                continue
            subs = [sub for name in sorted(found) for sub in names[name]
                    if line.amount in prices_on(sub, line.posted_on)]  # the price that day
            if not subs:
                continue
            if len(found) > 1:
                subs.sort(key=lambda sub: _natural(sub.id))
            return next((sub.id for sub in subs if self._in_service(sub, line.posted_on)),
                        subs[0].id)
        return None


def match_line(line: StatementLine, subs: Sequence[Subscription]) -> str | None:
    """The id of the subscription a statement line pays for, or None (the rule is
    ``VendorIndex``'s)."""
    return VendorIndex(subs).match(line)
