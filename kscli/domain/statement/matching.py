"""When a subscription is in service, and which subscription a statement line pays for."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timezone
from decimal import Decimal

from kscli.domain.ids import natural_key
from kscli.domain.model import BY_HAND, Charge, Subscription
from kscli.domain.statement.lines import StatementLine
from kscli.domain.timeline import SubState, as_it_stands, every_price, prices_on
from kscli.domain.words import words

UTC = timezone.utc


def _utc_date(when: datetime) -> date:
    zone = when.tzinfo
    return when.date() if zone is None or zone is UTC else when.astimezone(UTC).date()


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
    """The subscriptions by the words of their vendor names and descriptors, so that a
    line is looked up by its words, not held against every subscription.

    A subscription's name is its vendor's name or one of its descriptors (``matches``,
    ``sub add|edit --match``); it matches a line when its words appear, consecutive and
    whole, among the words of the description (kscli.domain.words owns the words:
    case and accents folded, split on spaces, punctuation and ``*``): ``PINEAPPLE CAFE``
    does not name ``Apple``, ``PAYPAL *NETFLIX`` names ``Netflix``. The currencies
    must be the same. The longest name (in words, then letters) wins; among the
    subscriptions it names, one whose price in force on the line's day
    (timeline.prices_on, within ``tolerance`` percent: ``price_gap``) is the amount
    comes first (one in service on the line's date before one not, then the lowest id),
    then, the amount not a price in force, one started by the line's date: in service
    first, then the closest price, then the lowest id. A line of another amount is
    still matched (`charges check` reports it as ``price-changed``), unless it is dated
    before every such subscription started. A lookup reads the
    description's runs of words of the lengths the names have: its cost does not grow
    with the ledger.
    """

    def __init__(self, subs: Sequence[Subscription], tolerance: Decimal = Decimal(0)) -> None:
        self._tolerance = tolerance
        # name (its words) -> currency -> {price it had: [subscriptions]}, and every
        # subscription of that name and currency
        self._names: dict[tuple[str, ...], dict[str, tuple[dict[Decimal, list[Subscription]],
                                                           list[Subscription]]]] = {}
        # in id order once, so that every list below is in id order as it is filled
        subs = sorted(subs, key=lambda sub: natural_key(sub.id))
        named: dict[str, tuple[str, ...]] = {}  # the words of each name, read once
        for sub in subs:
            names = set()
            for name in (sub.vendor, *sub.matches):
                found = named.get(name)
                if found is None:
                    found = named[name] = words(name)
                if found:
                    names.add(found)
            for name in names:
                by_price, every = self._names.setdefault(name, {}).setdefault(
                    sub.currency, ({}, []))
                every.append(sub)
                for price in every_price(sub):  # each price it had: the one in force is checked
                    by_price.setdefault(price, []).append(sub)
        self._lengths = sorted({len(name) for name in self._names}, reverse=True)
        # every word of every name: a line holding none of them is named by no name
        self._vocabulary = frozenset(word for name in self._names for word in name)
        # the day each subscription started, and (worked out when a line first asks,
        # once) the days it is in service
        self._starts = {sub.id: _utc_date(sub.started_at) for sub in subs}
        self._service: dict[str, tuple[date, tuple[date, bool] | None]] = {}

    def _in_service(self, sub: Subscription, day: date) -> bool:
        """In service on ``day`` (``_end_day`` owns when service ends)."""
        service = self._service.get(sub.id)
        if service is None:
            service = self._service[sub.id] = (self._starts[sub.id],
                                               _end_day(as_it_stands(sub)))
        return _within(*service, day)

    def match(self, line: StatementLine) -> str | None:
        """The id of the subscription ``line`` pays for, or None."""
        have = words(line.description)
        if self._vocabulary.isdisjoint(have):  # (most lines of a statement: at once)
            return None
        for length in self._lengths:  # the longest name wins
            runs = {have[i:i + length] for i in range(len(have) - length + 1)}
            found = sorted(name for name in runs if name in self._names)
            found.sort(key=lambda name: -len("".join(name)))
            for name in found:
                chosen = self._choose(self._names[name].get(line.currency), line)
                if chosen is not None:
                    return chosen
        return None

    def _choose(self, subs, line: StatementLine) -> str | None:
        """Of one name's subscriptions in the line's currency (None: none), the one it
        pays for."""
        if subs is None:
            return None
        by_price, every = subs
        day, amount = line.posted_on, line.amount
        priced = by_price.get(amount, ())  # in id order: the first in service wins
        for sub in priced:
            if self._in_service(sub, day) and amount in prices_on(sub, day):
                return sub.id
        for sub in priced:
            if amount in prices_on(sub, day):
                return sub.id
        # another amount than a price in force: only a subscription started by then (a
        # charge from before it began at another price is not its own, and stays
        # unmatched for `charges discover`)
        started = [sub for sub in every if self._starts[sub.id] <= day]
        if not started:
            return None
        near = [sub for sub in started
                if price_gap(sub, day, amount, self._tolerance) is None] \
            if self._tolerance else []
        return min(near or started, key=lambda sub: (not self._in_service(sub, day),
                                                     abs(_nearest(sub, day, amount) - amount),
                                                     natural_key(sub.id))).id


def _nearest(sub: Subscription, day: date, amount: Decimal) -> Decimal:
    """Of the prices in force on ``day``, the one closest to ``amount``."""
    return min(prices_on(sub, day), key=lambda price: (abs(price - amount), price))


def price_gap(sub: Subscription, day: date, amount: Decimal,
              tolerance: Decimal = Decimal(0)) -> Decimal | None:
    """None when ``amount`` is what ``sub`` charges on ``day`` (a price in force that
    day, timeline.prices_on, or within ``tolerance`` percent of one: card exchange
    noise); else the price in force it should have been (the closest)."""
    if not sub.prices:  # (most have no price history: one price in force)
        if amount == sub.price:
            return None
        price = sub.price
    else:
        price = _nearest(sub, day, amount)
    if amount == price or abs(amount - price) * 100 <= price * tolerance:
        return None
    return price


def may_rematch(charge: Charge) -> bool:
    """Whether an import may match a stored charge again: not when a person matched or
    unmatched it by hand (`charges match|unmatch`)."""
    return charge.matched_by != BY_HAND


def match_line(line: StatementLine, subs: Sequence[Subscription],
               tolerance: Decimal = Decimal(0)) -> str | None:
    """The id of the subscription a statement line pays for, or None (the rule is
    ``VendorIndex``'s)."""
    return VendorIndex(subs, tolerance).match(line)
