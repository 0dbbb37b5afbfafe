"""The unexpected-charge check: every recorded charge that should not have happened,
with the reference to show the bank; and the warning for lines dated in the future."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from operator import attrgetter

from kscli.domain import ids
from kscli.domain.calendar import start_of_day
from kscli.domain.model import Charge, Event, Subscription
from kscli.domain.money import MINOR_DIGITS, normalize
from kscli.domain.statement.lines import StatementLine
from kscli.domain.statement.matching import _end_day, _utc_date, price_gap
from kscli.domain.timeline import (SubState, as_it_stands, period_at, period_key, plan_length,
                                   state_at, trial_end)

UTC = timezone.utc

DISPUTE_NOTE = "a dispute with the bank is not a cancellation"



@dataclass(frozen=True, slots=True)
class Finding:
    """A charge that should not have happened (or not at that amount), and why."""

    kind: str  # one of FINDING_KINDS
    sub_id: str
    charge_id: str
    posted_on: date
    amount: Decimal
    currency: str
    service_ended: date | None
    reference: str | None
    message: str
    id: str  # ids.finding: the same finding keeps it across runs and imports
    expected: Decimal | None = None  # price-changed: the price in force that day


FINDING_KINDS = ("after-cancellation", "after-end", "after-refund", "duplicate-in-period",
                 "price-changed", "in-trial")


def _latest(events: Sequence[Event], actions: tuple[str, ...]) -> Event | None:
    chosen: tuple[datetime, int, Event] | None = None
    for position, event in enumerate(events):
        if event.action in actions:
            key = (event.at if event.at.tzinfo else event.at.replace(tzinfo=UTC), position)
            if chosen is None or key >= chosen[:2]:
                chosen = (key[0], key[1], event)
    return chosen[2] if chosen else None


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    end: date  # a charge after this day (on it too when inclusive) is unexpected
    inclusive: bool
    reference: str | None
    what: str  # how the service ended, for the message


def _rule_for(state: SubState, events: Sequence[Event]) -> _Rule | None:
    """Why charges past some day are unexpected for this subscription, if they are."""
    sub = state.sub
    if sub.status == "refunded":
        refund = _latest(events, ("refunded",))
        if refund is not None:
            day = _utc_date(refund.at)
        elif sub.ended_at is not None:
            day = _utc_date(sub.ended_at)
        else:
            return None
        return _Rule("after-refund", day, True, refund.reference if refund else None, "refunded")

    cancelled = _latest(events, ("cancelled",))
    if sub.status in ("cancelled", "expired") and (
        cancelled is not None or sub.cancelled_at is not None or sub.status == "cancelled"
    ):
        end = _end_day(state)
        if end is None:
            return None
        return _Rule("after-cancellation", end[0], end[1],
                     cancelled.reference if cancelled else None, "cancelled")

    if sub.status not in ("active", "expired"):
        return None
    toggle = _latest(events, ("renew-off", "renew-on"))
    renew_off = toggle is not None and toggle.action == "renew-off"
    if not renew_off and not (toggle is None and not sub.auto_renew):
        return None
    end = _end_day(state)
    if end is None:
        return None
    return _Rule("after-end", end[0], end[1],
                 toggle.reference if renew_off and toggle else None, "auto-renew off")


def _period(sub: Subscription, day: date) -> tuple[date, date | None]:
    """The billing period (first day, day the next one starts) that holds ``day``: the
    period that holds the day's last moment, so a renewal day belongs to the period it
    starts (kscli.domain.timeline owns the periods)."""
    if plan_length(sub) is None:
        return _utc_date(sub.started_at), None
    # the day's last moment: start_of_day(day + 1 day) - 1 us, made at once
    start, end = period_at(sub, datetime(day.year, day.month, day.day, 23, 59, 59, 999999, UTC))
    return _utc_date(start), _utc_date(end) if end is not None else None


# What find_unexpected reads of a charge: a stored Charge, or a record of just these
# fields (Ledger.charge_fields) will do.
CHECKED_FIELDS = ("id", "posted_on", "amount", "currency", "line_hash", "sub_id")


def find_unexpected(
    subs: Sequence[Subscription],
    charges: Sequence[Charge],
    events: Sequence[Event],
    *,
    since: date | None = None,
    at: datetime | None = None,
    tolerance: Decimal = Decimal(0),
) -> list[Finding]:
    """Every charge that should not have happened, oldest first.

    A charge on the day service ended is expected (a last renewal may post that day);
    one the day after is not. On a refunded subscription, a charge on or after the day
    of the refund is unexpected. A second charge in one billing period is a duplicate.
    A charge of another amount than the price in force on its day (matching.price_gap,
    ``tolerance`` percent allowed) is ``price-changed``, when nothing else is wrong with
    it and it is posted on or after the subscription's start (the ledger knows no price
    before). A charge matched to no subscription is not a finding. With ``since``, only charges
    posted on or after that day are reported (earlier ones still count as the first
    charge of a period). With ``at``, each subscription is taken as it stands at that
    moment (renewals and expiries due by then count whether or not they were swept;
    what was recorded later is undone), and charges posted after its day are left out;
    without, as its record stands.
    """
    by_id = {sub.id: sub for sub in subs}
    events_of: dict[str, list[Event]] = {}
    for event in events:
        events_of.setdefault(event.subject, []).append(event)
    charges_of: dict[str, list[Charge]] = {}
    last_day = None if at is None else _utc_date(at)
    for charge in charges:  # (a charge matched to no subscription: its sub_id None)
        if charge.sub_id in by_id and (last_day is None or charge.posted_on <= last_day):
            own = charges_of.get(charge.sub_id)
            if own is None:
                charges_of[charge.sub_id] = [charge]
            else:
                own.append(charge)

    findings: list[Finding] = []
    # subscriptions alike (timeline.period_key) share their periods: each worked out once
    periods: dict[tuple, dict[date, tuple[date, date | None]]] = {}
    for sub_id, own in charges_of.items():
        history = events_of.get(sub_id, [])
        state = as_it_stands(by_id[sub_id]) if at is None else state_at(by_id[sub_id], at, history)
        if at is not None:
            history = [event for event in history if event.at <= at]
        sub = state.sub
        rule = _rule_for(state, history)
        started = _utc_date(sub.started_at)
        trial = _trial_days(sub)
        alike = period_key(sub)
        known = None if alike is None else periods.setdefault(alike, {})
        first_in_period: dict[tuple[date, date | None], Charge] = {}
        period: tuple[date, date | None] | None = None
        first: Charge | None = None
        for charge in _in_order(own):
            day = charge.posted_on
            if trial is not None and trial[0] <= day < trial[1]:
                if since is None or day >= since:
                    findings.append(_in_trial(sub, charge, trial[1]))
                continue
            if period is None or period[1] is not None and day >= period[1]:
                # (charges in date order: a period at a time)
                period = None if known is None else known.get(day)
                if period is None:
                    period = _period(sub, day)
                    if known is not None:
                        known[day] = period
                first = first_in_period.setdefault(period, charge)
            if since is not None and day < since:
                continue
            if rule is not None and (day > rule.end or (rule.inclusive and day == rule.end)):
                findings.append(_finding(sub, charge, rule))
            elif first is not charge:
                findings.append(_duplicate(state, charge, first, period))  # type: ignore[arg-type]
            elif charge.currency == sub.currency and day >= started:
                price = price_gap(sub, day, charge.amount, tolerance)
                if price is not None:
                    findings.append(_price_changed(sub, charge, price))
    findings.sort(key=lambda f: (f.posted_on, ids.natural_key(f.sub_id), ids.natural_key(f.charge_id)))
    return findings


_posted_on = attrgetter("posted_on")


def _charge_order(charge: Charge) -> tuple:
    return charge.posted_on, ids.natural_key(charge.id)


def _in_order(charges: list[Charge]) -> list[Charge]:
    """One subscription's charges by date, then id (ids.natural_key): sorted by date
    alone where no two share a day (most), which gives the same order."""
    charges.sort(key=_posted_on)
    if len(set(map(_posted_on, charges))) < len(charges):
        charges.sort(key=_charge_order)
    return charges


def _money(charge: Charge, amount: Decimal | None = None) -> str:
    amount = charge.amount if amount is None else amount
    if charge.currency in MINOR_DIGITS:
        amount = normalize(amount, charge.currency)
    return f"{amount} {charge.currency}"


def _proof(reference: str | None, what: str) -> str:
    if reference is None:
        return f"; no {what} reference is recorded"
    return (
        f"; show reference {reference} to the bank as proof of the {what}; "
        f"{DISPUTE_NOTE}"
    )


def _finding(sub: Subscription, charge: Charge, rule: _Rule) -> Finding:
    money, day, end = _money(charge), charge.posted_on.isoformat(), rule.end.isoformat()
    if rule.kind == "after-refund":
        message = (
            f"{sub.id}: charge of {money} on {day} came on or after the refund on {end}, "
            f"the day service ended" + _proof(rule.reference, "refund")
        )
    else:
        why, proof = (("cancelled", "cancellation") if rule.kind == "after-cancellation"
                      else ("auto-renew was turned off", "renew-off"))
        when = (f"on or after {end}, the day service ended and the next period would have "
                f"started" if rule.inclusive else f"after service ended on {end}")
        message = f"{sub.id}: charge of {money} on {day} came {when} ({why})" + _proof(
            rule.reference, proof)
    return Finding(rule.kind, sub.id, charge.id, charge.posted_on, charge.amount,
                   charge.currency, rule.end, rule.reference, message,
                   ids.finding(rule.kind, charge.line_hash))


def _trial_days(sub: Subscription) -> tuple[date, date] | None:
    """The days (first, the day of the first charge) of a free trial: a charge posted
    before the trial's end day bills a period that costs nothing."""
    end = trial_end(sub)
    return None if end is None else (_utc_date(sub.started_at), _utc_date(end))


def _in_trial(sub: Subscription, charge: Charge, first_charge: date) -> Finding:
    message = (f"{sub.id}: charge of {_money(charge)} on {charge.posted_on.isoformat()} came "
               f"during the free trial, which costs nothing (the first charge is due on "
               f"{first_charge.isoformat()}) [cancel.trial]; no reference: ask the vendor to "
               "refund it")
    return Finding("in-trial", sub.id, charge.id, charge.posted_on, charge.amount,
                   charge.currency, None, None, message, ids.finding("in-trial", charge.line_hash))


def _duplicate(
    state: SubState, charge: Charge, first: Charge, period: tuple[date, date | None]
) -> Finding:
    sub = state.sub
    start, stop = period
    span = f"the billing period from {start.isoformat()}" + (
        f" to {stop.isoformat()}" if stop else ""
    )
    end = state.ends_at
    ended = _utc_date(end) if end is not None and sub.status != "active" else None
    status = f"service ended on {ended.isoformat()}" if ended else "service has not ended"
    message = (
        f"{sub.id}: second charge of {_money(charge)} on {charge.posted_on.isoformat()} in "
        f"{span} (the first, {first.id}, was on {first.posted_on.isoformat()}); {status}; "
        "no reference: ask the vendor to refund one of them"
    )
    return Finding("duplicate-in-period", sub.id, charge.id, charge.posted_on, charge.amount,
                   charge.currency, ended, None, message,
                   ids.finding("duplicate-in-period", charge.line_hash))


def _price_changed(sub: Subscription, charge: Charge, price: Decimal) -> Finding:
    day = charge.posted_on.isoformat()
    message = (
        f"{sub.id}: {sub.vendor} charged {_money(charge)} on {day}, the ledger says "
        f"{_money(charge, price)}; if the price changed, record it with `kscli sub reprice "
        f"{sub.id} --price {charge.amount} --from {day}`, else ask the vendor why"
    )
    return Finding("price-changed", sub.id, charge.id, charge.posted_on, charge.amount,
                   charge.currency, None, None, message,
                   ids.finding("price-changed", charge.line_hash), price)



# The earliest time zone is 14 hours ahead of UTC (Kiribati): a bank there may already
# book a date that is still tomorrow in UTC.
_AHEAD = 14


def latest_date(now: datetime) -> date:
    """The latest calendar date anywhere on Earth at ``now`` (an aware UTC time)."""
    from datetime import timedelta

    return (now + timedelta(hours=_AHEAD)).date()


def dated_after(lines: Sequence[StatementLine], now: datetime) -> list[StatementLine]:
    """The lines of a statement dated in the future, whatever the bank's time zone: a
    bank books nothing ahead, so such a line is most likely read with the wrong date
    format (day and month swapped) or comes from a wrong file; the import names them."""
    latest = latest_date(now)
    return [line for line in lines if line.posted_on > latest]


def future_warning(lines: Sequence[StatementLine], now: datetime, shown: int = 5) -> str | None:
    """The warning naming the lines dated in the future, or None."""
    late = dated_after(lines, now)
    if not late:
        return None
    named = ", ".join(f"line {line.line_no} ({line.posted_on.isoformat()})" for line in late[:shown])
    more = f" and {len(late) - shown} more" if len(late) > shown else ""
    many = "lines are" if len(late) != 1 else "line is"
    return (f"warning: {len(late)} {many} dated in the future (after "
            f"{latest_date(now).isoformat()}, today anywhere): {named}{more}; check the "
            "statement, and --date-format if day and month may be swapped")
