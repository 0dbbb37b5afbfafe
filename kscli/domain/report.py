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
from kscli.domain.ids import natural_key
from kscli.domain.model import Charge, Event, Subscription, plan_months
from kscli.domain.money import normalize, yearly_cost
from kscli.domain.rates import RateBook
from kscli.domain.timeline import SubState, period_starts, plan_length, state_at, plan_at, price_at

GROUPS = ("month", "vendor", "account", "kind", "subscription")
TOP = 10  # subscriptions in the top list
RENEWING_DAYS = 30
RENEWING_SHOWN = 50  # the soonest renewals listed (all are counted)
ZERO = Decimal(0)


def billed_terms(state: SubState, start: datetime) -> tuple[Decimal, str]:
    """The price and plan billed for the period starting at ``start``: those in force
    then (the price and plan histories: timeline.price_at and plan_at)."""
    return price_at(state.sub, start), plan_at(state.sub, start)


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
    for start in period_starts(sub, since, until):
        if end is not None and start >= end:
            break
        price, plan = billed_terms(state, start)
        found.append(Bill(start, price, plan, start > at))
    return found


class _Sum:
    """Billed and projected sums of one row (a month or group, in one currency)."""

    __slots__ = ("billed", "projected", "sources")

    def __init__(self) -> None:
        self.billed = ZERO
        self.projected = ZERO
        self.sources: set[str] = set()


class Converter:
    """Amounts in a target currency, at the rate of a day (nearest earlier), the
    latest for projections; remembers the rates it used."""

    def __init__(self, book: RateBook, target: str) -> None:
        self.book = book
        self.target = target
        self.latest = book.latest_day()
        self._cache: dict[tuple[str, date], Decimal | None] = {}
        self.used: dict[str, dict] = {}  # currency -> first/last day, source

    def convert(self, amount: Decimal, currency: str, when: date, projected: bool) -> Decimal | None:
        """``amount`` in the target currency, at the rate of ``when`` (a day or a
        moment), or the latest when ``projected``; None without a rate."""
        if currency == self.target:
            return amount
        if projected:
            if self.latest is None:
                return None
            day = self.latest
        else:
            day = when.date() if isinstance(when, datetime) else when
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
    return {"vendor": sub.vendor, "account": sub.account, "kind": sub.kind,
            "subscription": sub.id}[by]


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
    first_key = since.year * 12 + since.month
    current = month_of(at)
    convert = Converter(book or RateBook(()), target) if target else None
    totals: dict[tuple, _Sum] = {}  # (month key or group, currency) -> sums
    apart: dict[tuple, _Sum] = {}  # the same, for amounts without a rate
    top: dict[str, list] = {}  # currency -> heap of (yearly, id, row)
    soon_until = at + timedelta(days=RENEWING_DAYS)
    soon: list = []  # heap of (-time, id, row): the soonest kept
    soon_count = 0
    soon_totals: dict[str, Decimal] = {}
    count = bill_count = 0
    labels: dict[str, dict] = {}  # with --by subscription: each one's vendor and product
    charges = charges or {}
    histories = histories or {}
    by_month = by == "month"
    for sub in subs:
        count += 1
        state = state_at(sub, at, histories.get(sub.id))
        found = bills(state, since, until)
        bill_count += len(found)
        per_month: dict[int, list] = {}  # year * 12 + month -> [amount, projected, when, source]
        for bill in found:
            when = bill.at
            key = when.year * 12 + when.month
            entry = per_month.get(key)
            if entry is None:
                per_month[key] = [bill.amount, bill.projected, when, "ledger"]
            else:
                entry[0] += bill.amount
        for charge in charges.get(sub.id, ()):
            posted = charge.posted_on
            key = posted.year * 12 + posted.month
            if not 0 <= key - first_key < len(names) or charge.currency != sub.currency:
                continue
            entry = per_month.get(key)
            if entry is None or entry[3] != "charges":
                entry = per_month[key] = [ZERO, False, posted, "charges"]
            entry[0] += charge.amount
        group = None if by_month else _group_of(sub, by)
        if by == "subscription":
            labels[sub.id] = {"vendor": sub.vendor, "product": sub.product}
        currency = sub.currency
        for key, (amount, projected, when, source) in per_month.items():
            into = totals
            shown_in = currency
            if convert is not None and currency != target:
                converted = convert.convert(amount, currency, when, projected)
                if converted is None:
                    into = apart
                else:
                    amount, shown_in = converted, target  # type: ignore[assignment]
            row_key = (key if by_month else group, shown_in)
            sums = into.get(row_key)
            if sums is None:
                sums = into[row_key] = _Sum()
            if projected:
                sums.projected += amount
            else:
                sums.billed += amount
            sums.sources.add(source)
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
            item = (shown_yearly, natural_key(sub.id), row)
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
    rows = _rows(totals, names, first_key, current, by, labels)
    apart_rows = _rows(apart, names, first_key, current, by, labels)
    top_rows = [row for heap in top.values() for _, _, row in heap]
    top_rows.sort(key=lambda r: (r["yearly_in"], -Decimal(r["yearly_converted"]),
                                 natural_key(r["sub_id"])))
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


def _negated(sub_id: str) -> tuple[int, ...]:
    """Orders ids in reverse natural order (a max-heap key)."""
    return tuple(-ord(c) for c in sub_id.rjust(24, "\0"))


def _rows(totals: dict[tuple, _Sum], names: list[str], first_key: int, current: str,
          by: str, labels: Mapping[str, dict]) -> list[dict]:
    """Rows per currency, then per month (every month of the report, empty ones too)
    or per group, each with its billed and projected sums and its source."""
    currencies = sorted({currency for _, currency in totals})
    if by == "month":
        keys = [(first_key + i, name) for i, name in enumerate(names)]
    else:
        groups = sorted({group for group, _ in totals},
                        key=natural_key if by == "subscription" else lambda g: (g.casefold(), g))
        keys = [(g, g) for g in groups]
    rows = []
    for currency in currencies:
        for key, name in keys:
            sums = totals.get((key, currency))
            if sums is None and by != "month":
                continue
            billed = sums.billed if sums else ZERO
            projected = sums.projected if sums else ZERO
            row = {by: name, **labels.get(name, {}), "currency": currency,
                   "billed": str(normalize(billed, currency)),
                   "projected": str(normalize(projected, currency)),
                   "total": str(normalize(billed + projected, currency)),
                   "source": "+".join(sorted(sums.sources)) if sums else "none"}
            if by == "month":
                row["when"] = "past" if name < current else "current" if name == current \
                    else "forecast"
            rows.append(row)
    return rows
