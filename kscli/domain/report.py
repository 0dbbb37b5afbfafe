"""The spend report: what was billed per month, what will be, per subscription and in
total. Pure: subscriptions, charges and rates in, plain numbers out.

The rules, once:

- A subscription is billed at the start of each of its periods (``timeline``: the one
  owner of periods, states and ends), from ``started_at`` until service ends
  (``state_at(...).ends_at``: a cancellation, a refund, the end after `renew off`, the
  end of a commitment); a suspended one is not billed again after its recorded period.
  A refund is not subtracted (the ledger does not record its amount).
- The months are ``months`` calendar months up to the month of ``at`` (billed: periods
  started by ``at``), and ``forecast`` months after it (projected: periods starting
  after ``at``, in the current month too).
- A subscription with imported charges in a month: that month's figure for it is the
  sum of those charges (source ``charges``) instead of its price (source ``ledger``).
- Amounts are kept per currency and never added across currencies. With a target
  currency, a billed amount converts at the rate of its day (the nearest earlier
  published day), a projected one at the latest rate; an amount in a currency with no
  rate stays apart, in its own currency, named.
"""

from __future__ import annotations

import heapq
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Iterable, Mapping, NamedTuple, Sequence

from kscli.domain.calendar import add_months
from kscli.domain.model import Charge, Event, Subscription, plan_months
from kscli.domain.money import normalize, yearly_cost
from kscli.domain.rates import RateBook
from kscli.domain.timeline import SubState, period_at, plan_length, state_at

GROUPS = ("month", "vendor", "account", "kind")
TOP = 10  # subscriptions in the top list
RENEWING_DAYS = 30
RENEWING_SHOWN = 50  # the soonest renewals listed (all are counted)
ZERO = Decimal(0)


def billed_terms(state: SubState, start: datetime) -> tuple[Decimal, str]:
    """The price and plan billed for the period starting at ``start``."""
    return state.sub.price, state.sub.plan


def month_of(when: datetime | date) -> str:
    return f"{when.year:04d}-{when.month:02d}"


def month_starts(at: datetime, months: int, forecast: int) -> list[datetime]:
    """The first instants (UTC) of the report's months, and of the month after them."""
    first = datetime(at.year, at.month, 1, tzinfo=timezone.utc)
    return [add_months(first, k) for k in range(1 - months, forecast + 2)]


class Bill(NamedTuple):
    """One billing of one subscription: a period's start and its price."""

    at: datetime
    amount: Decimal
    plan: str
    projected: bool


def bills(state: SubState, since: datetime, until: datetime) -> list[Bill]:
    """The period starts of a subscription from ``since`` up to (not including) ``until``
    while it is in service; ``state`` is the subscription at the report's moment."""
    sub = state.sub
    at = state.at
    end = state.ends_at
    if sub.status == "suspended":
        end = state.period_end or sub.period_start
    found: list[Bill] = []
    if not plan_length(sub):  # one sale, on its start
        if since <= sub.started_at < until and (end is None or sub.started_at <= end):
            price, plan = billed_terms(state, sub.started_at)
            found.append(Bill(sub.started_at, price, plan, sub.started_at > at))
        return found
    start = max(period_at(sub, since)[0], sub.started_at)
    while start < until and (end is None or start < end):
        if start >= since:
            price, plan = billed_terms(state, start)
            found.append(Bill(start, price, plan, start > at))
        start = period_at(sub, start)[1]  # type: ignore[assignment]
    return found


class Amounts:
    """Billed and projected sums per currency (and per converted total)."""

    __slots__ = ("billed", "projected", "subs", "sources")

    def __init__(self) -> None:
        self.billed: dict[str, Decimal] = {}
        self.projected: dict[str, Decimal] = {}
        self.subs: dict[str, int] = {}
        self.sources: dict[str, set[str]] = {}

    def add(self, currency: str, amount: Decimal, projected: bool, source: str) -> None:
        into = self.projected if projected else self.billed
        into[currency] = into.get(currency, ZERO) + amount
        self.subs[currency] = self.subs.get(currency, 0) + 1
        self.sources.setdefault(currency, set()).add(source)


class Converter:
    """Amounts in a target currency, at the rate of a day (nearest earlier), the
    latest for projections; remembers the rates it used."""

    def __init__(self, book: RateBook, target: str) -> None:
        self.book = book
        self.target = target
        self.latest = book.latest_day()
        self._cache: dict[tuple[str, date], Decimal | None] = {}
        self.used: dict[str, dict] = {}  # currency -> first/last day, source

    def convert(self, amount: Decimal, currency: str, day: date, projected: bool) -> Decimal | None:
        if currency == self.target:
            return amount
        if projected:
            if self.latest is None:
                return None
            day = self.latest
        key = (currency, day)
        if key not in self._cache:
            rate = self.book.rate(currency, self.target, day)
            self._cache[key] = None if rate is None else rate.rate
            if rate is not None:
                seen = self.used.setdefault(currency, {
                    "currency": currency, "first_day": rate.day, "last_day": rate.day,
                    "sources": set()})
                seen["first_day"] = min(seen["first_day"], rate.day)
                seen["last_day"] = max(seen["last_day"], rate.day)
                seen["sources"].add(rate.source)
        factor = self._cache[key]
        return None if factor is None else amount * factor


class Report(NamedTuple):
    at: datetime
    months: list[str]  # every month of the report, in order
    current: str  # the month of ``at``
    by: str
    target: str | None
    rows: list[dict]  # per month (or group) and currency
    apart: list[dict]  # amounts in currencies without a rate (with a target)
    top: list[dict]
    renewing: dict
    rates: list[dict]
    subscriptions: int
    bills: int


def _group_of(sub: Subscription, by: str) -> str:
    return {"vendor": sub.vendor, "account": sub.account, "kind": sub.kind}[by]


def compute(subs: Iterable[Subscription], at: datetime, *, months: int = 12,
            forecast: int = 12, by: str = "month", target: str | None = None,
            book: RateBook | None = None,
            charges: Mapping[str, Sequence[Charge]] | None = None,
            histories: Mapping[str, list[Event]] | None = None) -> Report:
    """The report over ``subs`` (streamed: one subscription at a time is held), as of
    ``at``. ``charges`` are the imported charges matched to subscriptions, by id;
    ``histories`` the events of those with something recorded after ``at``."""
    starts = month_starts(at, months, forecast)
    since, until = starts[0], starts[-1]
    names = [month_of(s) for s in starts[:-1]]
    current = month_of(at)
    convert = Converter(book or RateBook(()), target) if target else None
    totals: dict[str, Amounts] = {}  # month or group -> amounts
    apart: dict[str, Amounts] = {}  # month or group -> amounts without a rate
    top: dict[str, list] = {}  # currency -> heap of (yearly, id, row)
    soon_until = at + timedelta(days=RENEWING_DAYS)
    soon: list = []  # heap of (-time, id, row): the soonest kept
    soon_count = 0
    soon_totals: dict[str, Decimal] = {}
    count = bill_count = 0
    charges = charges or {}
    histories = histories or {}
    for sub in subs:
        count += 1
        state = state_at(sub, at, histories.get(sub.id))
        found = bills(state, since, until)
        bill_count += len(found)
        per_month: dict[str, list] = {}
        for bill in found:
            key = month_of(bill.at)
            entry = per_month.setdefault(key, [ZERO, bill.projected, bill.at.date()])
            entry[0] += bill.amount
        sources = dict.fromkeys(per_month, "ledger")
        for charge in charges.get(sub.id, ()):
            key = month_of(charge.posted_on)
            if key not in names or charge.currency != sub.currency:
                continue
            if sources.get(key) != "charges":
                per_month[key] = [ZERO, False, charge.posted_on]
                sources[key] = "charges"
            per_month[key][0] += charge.amount
        for key, (amount, projected, day) in per_month.items():
            group = key if by == "month" else _group_of(sub, by)
            currency = sub.currency
            if convert is not None:
                converted = convert.convert(amount, currency, day, projected)
                if converted is None:
                    apart.setdefault(group, Amounts()).add(currency, amount, projected,
                                                           sources[key])
                    continue
                amount, currency = converted, target  # type: ignore[assignment]
            totals.setdefault(group, Amounts()).add(currency, amount, projected, sources[key])
        months_of_plan = plan_length(sub)
        if months_of_plan and (state.renews or not state.started) and state.sub.status == "active":
            price, plan = billed_terms(state, state.next_renewal or sub.started_at)
            yearly = yearly_cost(price, plan_months(plan) or 12, sub.currency)
            shown_currency, shown_yearly = sub.currency, yearly
            if convert is not None:
                converted = convert.convert(yearly, sub.currency, at.date(), True)
                if converted is not None:
                    shown_currency, shown_yearly = target, normalize(converted, target)
            row = {"sub_id": sub.id, "vendor": sub.vendor, "product": sub.product,
                   "plan": plan, "price": str(price), "currency": sub.currency,
                   "yearly": str(yearly), "yearly_in": shown_currency,
                   "yearly_converted": str(shown_yearly)}
            heap = top.setdefault(shown_currency, [])
            item = (shown_yearly, _natural(sub.id), row)
            if len(heap) < TOP:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
        renewal = state.next_renewal
        if renewal is not None and at <= renewal <= soon_until:
            price, plan = billed_terms(state, renewal)
            soon_count += 1
            soon_totals[sub.currency] = soon_totals.get(sub.currency, ZERO) + price
            row = {"sub_id": sub.id, "vendor": sub.vendor, "product": sub.product,
                   "renews_at": renewal, "price": str(price), "currency": sub.currency}
            item = (-renewal.timestamp(), _negated(sub.id), row)
            if len(soon) < RENEWING_SHOWN:
                heapq.heappush(soon, item)
            elif item > soon[0]:
                heapq.heapreplace(soon, item)
    rows = _rows(totals, names, current, by)
    apart_rows = _rows(apart, names, current, by)
    top_rows = [row for heap in top.values() for _, _, row in heap]
    top_rows.sort(key=lambda r: (r["yearly_in"], -Decimal(r["yearly_converted"]),
                                 _natural(r["sub_id"])))
    renew_rows = [row for _, _, row in sorted(soon, reverse=True)]
    renewing = {"within_days": RENEWING_DAYS, "count": soon_count, "items": renew_rows,
                "totals": [{"currency": c, "amount": str(normalize(a, c))}
                           for c, a in sorted(soon_totals.items())]}
    used = []
    if convert is not None:
        used = [{"currency": u["currency"], "first_day": u["first_day"].isoformat(),
                 "last_day": u["last_day"].isoformat(),
                 "source": ", ".join(sorted(u["sources"]))}
                for _, u in sorted(convert.used.items())]
    return Report(at, names, current, by, target, rows, apart_rows, top_rows, renewing, used,
                  count, bill_count)


def _natural(sub_id: str) -> tuple[int, str]:
    return len(sub_id), sub_id


def _negated(sub_id: str) -> tuple[int, ...]:
    """Orders ids in reverse natural order (a max-heap key)."""
    return tuple(-ord(c) for c in sub_id.rjust(24, "\0"))


def _rows(totals: dict[str, Amounts], names: list[str], current: str, by: str) -> list[dict]:
    """Rows per month (every month of the report, empty ones too, for each currency
    seen) or per group, each with its billed and projected sums and its source."""
    currencies = sorted({c for a in totals.values() for c in (*a.billed, *a.projected)})
    keys = names if by == "month" else sorted(totals, key=lambda g: (g.casefold(), g))
    rows = []
    for currency in currencies:
        for key in keys:
            amounts = totals.get(key)
            billed = amounts.billed.get(currency, ZERO) if amounts else ZERO
            projected = amounts.projected.get(currency, ZERO) if amounts else ZERO
            if by != "month" and amounts is not None and currency not in amounts.subs:
                continue
            sources = sorted(amounts.sources.get(currency, ())) if amounts else []
            row = {by: key, "currency": currency,
                   "billed": str(normalize(billed, currency)),
                   "projected": str(normalize(projected, currency)),
                   "total": str(normalize(billed + projected, currency)),
                   "source": "+".join(sources) if sources else "none"}
            if by == "month":
                row["when"] = "past" if key < current else "current" if key == current \
                    else "forecast"
            rows.append(row)
    return rows
