"""A subscription at a moment: the one owner of its periods, status and end.

``state_at(sub, at)`` answers every time question about a subscription from its
recorded facts and the instant ``at``, whatever `sweep` has or has not recorded yet:
the billing period that holds ``at``, its status and display status, when service
ends (``ends_at``), the next renewal, whether a commitment is running, whether the
subscription has started. `sweep` records the steps it reports (``state.steps``), so a
sweep at ``at`` leaves the ledger showing exactly what the reads at ``at`` show.

The rules, once:

- Periods count from ``started_at``: boundary k is ``started_at + k * plan months``
  (31 January, 28 February, 31 March, ...). A free trial (``trial``, a duration) is
  the first period, from ``started_at`` to its end (``trial_end``); it is not billed,
  and the paid periods count from its end instead (the first charge is there). A
  period runs from one boundary up to, not including, the next: the last second of a
  period is the second before the boundary, and the boundary itself belongs to the
  next period.
- At a boundary an active subscription renews when auto-renew is on, or when its
  commitment runs past that boundary (renew off during a commitment takes effect at
  ``commitment_end``); otherwise it expires there. A cancelled one expires at the end
  of its period (or at its recorded end). A fixed end (``ends``) stops every renewal
  at or after it, and service ends there (or at the end of the last period, if
  sooner). A renew off or cancellation made too late for a notice period
  (``notice``, see kscli.domain.notice) records the end it takes effect at as
  ``ended_at``: the subscription renews at the boundaries before it, not after. A
  suspended one neither renews nor ends (the provider lifts or ends a suspension); a
  refunded or expired one has ended.
- Before ``started_at`` a subscription has not started: its first period is shown,
  and ``started`` is false.
- The price at a moment is the one in force then (``price_at``: the price history
  ``prices`` kept by `sub reprice`); a period is billed at the price in force at its
  start (``billed_price``). The state's record carries the price in force at ``at``,
  and each renewal step the price in force at its boundary (its expected charge).
  The plan works the same way (``plan_at``, the plan history ``plans``): a new plan
  starts at a renewal, and its periods count on from there, a whole number of months
  from ``started_at``.
- Given its ``history`` (the events of the subscription), a moment in the past is
  answered with the facts recorded by then: a cancellation, expiry, refund, change
  of auto-renew or resumption (`sub resume`) recorded later is undone. Corrections
  (`sub edit`, `sub void`) mend a record that was wrong: the past shows them too.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Iterable, Iterator, NamedTuple

from kscli.domain.calendar import Duration, add_months, from_iso, iso, parse_duration, start_of_day
from kscli.domain.model import (ENDING, NOT_STARTED, TRIAL, Event, PlanError, Subscription,
                                plan_months)

_ONE_DAY = timedelta(days=1)
ENDED = ("expired", "refunded")


class Step(NamedTuple):
    """A transition due by the moment asked about: what `sweep` records."""

    action: str  # "renewed" or "expired"
    at: datetime  # when it took effect (a period boundary, or the recorded end)
    sub: Subscription  # the record after it


class SubState(NamedTuple):
    """A subscription as it stands at ``at``."""

    sub: Subscription  # the record as it stands: status and period at ``at``
    at: datetime
    started: bool
    renews: bool  # the period holding ``at`` rolls into another at its end
    ends_at: datetime | None  # when service ends (or ended) if nothing changes
    in_commitment: bool
    display_status: str
    steps: tuple[Step, ...] = ()  # due since the record was last written

    @property
    def period_start(self) -> datetime:
        return self.sub.period_start

    @property
    def period_end(self) -> datetime | None:
        return self.sub.period_end

    @property
    def status(self) -> str:
        return self.sub.status

    @property
    def next_renewal(self) -> datetime | None:
        """When the next period starts and is billed; None when none will."""
        return self.sub.period_end if self.renews else None

    @property
    def ended_early(self) -> bool:
        """Service ended (or ends) before the end of its period: cancelled immediately,
        or refunded, or a sale with no period. A charge on that day may still have
        been due."""
        sub = self.sub
        return sub.ended_at is not None and (sub.period_end is None
                                             or sub.ended_at < sub.period_end)


_LENGTHS: dict[str, int | None] = {"monthly": 1, "annual": 12, "once": None}


def _state(*values) -> SubState:
    return tuple.__new__(SubState, values)


def plan_length(sub: Subscription) -> int | None:
    """Months in one billing period, None for a plan with no periods (or unknown)."""
    try:
        return _LENGTHS[sub.plan]
    except KeyError:
        pass
    try:
        months = plan_months(sub.plan)
    except PlanError:
        months = None
    if len(_LENGTHS) < 256:  # plans are few: remember each one's length
        _LENGTHS[sub.plan] = months
    return months


_DURATIONS: dict[str, Duration] = {}


def duration_of(text: str | None) -> Duration | None:
    """A stored duration (``trial``, ``notice``), read once; None for none."""
    if text is None:
        return None
    found = _DURATIONS.get(text)
    if found is None:
        found = parse_duration(text)
        if len(_DURATIONS) < 256:
            _DURATIONS[text] = found
    return found


def trial_end(sub: Subscription) -> datetime | None:
    """When the free trial ends: ``started_at`` plus ``trial`` (14d, 1m: months clamp to
    a month's end, so a month's trial from 31 January ends on 28 or 29 February); None
    without a trial.

    As a deadline: the first charge (the price in force then) falls at this moment,
    which starts the first paid period, unless the subscription is cancelled or
    auto-renew turned off before it; cancelling before it costs nothing, and service
    runs to it [cancel.trial]. No notice period applies to it. Listed on its UTC date;
    after it the trial is over, whatever happened."""
    trial = duration_of(sub.trial)
    if trial is None or not plan_length(sub):
        return None
    return trial.add_to(sub.started_at)


def in_trial(sub: Subscription, at: datetime) -> bool:
    """Whether ``at`` falls inside the free trial (from ``started_at``, up to, not
    including, its end): nothing is billed for it."""
    end = trial_end(sub)
    return end is not None and sub.started_at <= at < end


def fixed_end(sub: Subscription) -> datetime | None:
    """The fixed end (``ends``, `sub add|edit --ends`): no renewal at or after it, and
    service ends there if a period runs past it. As a deadline: service stops on that
    UTC date whatever auto-renew says; `sub edit ID --no-ends` lifts it. None without
    one (or for a plan with no periods)."""
    return sub.ends if plan_length(sub) else None


def period_at(sub: Subscription, at: datetime) -> tuple[datetime, datetime | None]:
    """The billing period (start, end) counted from ``started_at`` that holds ``at``;
    the first period when ``at`` is before the start; (start, None) with no periods.
    With a free trial, the trial is the first period and the paid ones count from its
    end."""
    months = _LENGTHS.get(sub.plan) or plan_length(sub)  # (the lengths met, at once)
    start = sub.started_at
    if not months:
        return start, sub.period_end
    if sub.trial is not None:
        first_paid = trial_end(sub)
        if at < first_paid:  # type: ignore[operator]
            return start, first_paid
        start = first_paid  # type: ignore[assignment]
    offset = 0  # months from the start to the boundary where the plan in force began
    if sub.plans:
        offset, months = _plan_in_force(sub, at)
    # whole months from the start to ``at`` (an earlier day of the month has not yet
    # reached its month's boundary); the loops below settle a clamped month end and a
    # boundary on ``at``'s own day
    elapsed = (at.year - start.year) * 12 + at.month - start.month - (at.day < start.day)
    k = max((elapsed - offset) // months, 0)
    low = add_months(start, offset + k * months)
    while k > 0 and low > at:  # a later time of the day, or a clamped month end
        k -= 1
        low = add_months(start, offset + k * months)
    high = add_months(start, offset + (k + 1) * months)
    while high <= at:
        k += 1
        low, high = high, add_months(start, offset + (k + 1) * months)
    return low, high


def period_key(sub: Subscription) -> tuple | None:
    """What ``period_at`` reads of a subscription with periods, as a key: two with the
    same key have the same periods (the zone too: equal moments in two zones count
    months apart). None when it reads more (a plan history). Keep it in step with
    ``period_at``."""
    if sub.plans:
        return None
    return sub.plan, sub.started_at, sub.started_at.tzinfo, sub.trial


def plan_at(sub: Subscription, at: datetime) -> str:
    """The plan in force at ``at`` (the plan history ``plans``; `sub edit --plan` starts
    a plan at a renewal)."""
    plan = sub.plan
    if sub.plans:
        moment = iso(at)
        for since, name in sorted(sub.plans.items()):  # ISO texts in UTC: in time order
            if since > moment:
                break
            plan = name
    return plan


def _plan_in_force(sub: Subscription, at: datetime) -> tuple[int, int]:
    """(months from ``started_at`` to the boundary where the plan in force at ``at``
    began, its months per period). Every boundary stays a whole number of months from
    the start, so it falls on the start's day of the month (or a shorter month's end)."""
    start, since, plan = anchor(sub), None, None
    moment = iso(at)
    for text, name in sorted(sub.plans.items()):
        if text > moment:
            break
        since, plan = text, name
    months = plan_months(plan) if plan is not None else plan_length(sub)
    if since is None or not months:
        return 0, months or 1
    began = from_iso(since)
    offset = (began.year - start.year) * 12 + began.month - start.month
    if add_months(start, offset) > began:  # a boundary on a clamped month end
        offset -= 1
    return max(offset, 0), months


def anchor(sub: Subscription) -> datetime:
    """Where the paid periods count from: ``started_at``, or the end of a free trial."""
    return (trial_end(sub) or sub.started_at) if sub.trial is not None else sub.started_at


def period_starts(sub: Subscription, since: datetime, until: datetime) -> Iterator[datetime]:
    """The starts of the billed periods (boundaries counted from ``started_at``, or
    from the end of a free trial: the trial is not billed) from ``since`` up to, not
    including, ``until``; a plan with no periods starts once, at ``started_at``."""
    months = plan_length(sub)
    if not months:
        start = sub.started_at
        if since <= start < until:
            yield start
        return
    start = anchor(sub)
    first = period_at(sub, since)[0]
    if first < since:
        first = period_at(sub, first)[1]  # type: ignore[assignment]
    first = max(first, start)
    if sub.plans:  # a plan changed at a renewal: each period as period_at counts it
        boundary = first
        while boundary < until:
            yield boundary
            boundary = period_at(sub, boundary)[1]  # type: ignore[assignment]
        return
    k = ((first.year - start.year) * 12 + first.month - start.month) // months
    boundary = first
    while boundary < until:
        yield boundary
        k += 1
        boundary = add_months(start, k * months)


def period_end_after(sub: Subscription, boundary: datetime) -> datetime:
    """The end of the billing period that starts at ``boundary`` (the first boundary
    after it)."""
    if not plan_length(sub):
        raise ValueError(f"{sub.id}: a {sub.plan} plan has no next period")
    return period_at(sub, boundary)[1]  # type: ignore[return-value]


def boundary_days(since: datetime, until: datetime) -> frozenset[int] | None:
    """The days of the month (of ``started_at``, in UTC) of the subscriptions that can
    have a period boundary from ``since`` to ``until``; None when every day can. (The
    paid periods of a free trial count from its end: a store looks those up apart.)

    Every boundary falls on the start's day of the month, or on a month's last day
    when that month is shorter: so a boundary on a date x means a start on x's day,
    or, when x is the last day of its month, on any later day. A store can find the
    few subscriptions renewing in a week without working out every one's periods.
    """
    first, last = since.date(), until.date()  # times are in UTC
    if (last - first).days >= 31:
        return None
    days: set[int] = set()
    day = first
    while day <= last:
        days.add(day.day)
        if (day + _ONE_DAY).month != day.month:  # a month's last day takes the later days
            days.update(range(day.day + 1, 32))
        day += _ONE_DAY
    return frozenset(days)


def renews_at(sub: Subscription, boundary: datetime) -> bool:
    """Whether the subscription starts another period at ``boundary``: an active one
    with auto-renew on or inside its commitment, never at or after a fixed end; and one
    whose renew off or cancellation came too late for its notice period, up to the end
    recorded then (``ended_at``)."""
    if sub.status not in ("active", "cancelled") or not plan_length(sub):
        return False
    if sub.ends is not None and boundary >= sub.ends:
        return False
    if sub.ended_at is not None and boundary < sub.ended_at:  # held by a notice period
        return True
    if sub.status != "active":
        return False
    return sub.auto_renew or (sub.commitment_end is not None and boundary < sub.commitment_end)


def _capped(end: datetime | None, ends: datetime | None) -> datetime | None:
    return ends if ends is not None and end is not None and ends < end else end


def ends_at(sub: Subscription) -> datetime | None:
    """When service ends if nothing changes, for a record as it stands; None while it
    keeps renewing, and for a suspended one (no end is scheduled)."""
    if sub.status in ENDED:
        return sub.ended_at or sub.period_end
    if sub.status == "cancelled":
        return _capped(sub.ended_at or sub.period_end, sub.ends)
    if sub.status != "active" or sub.period_end is None:
        return None
    if not plan_length(sub):  # a one-time sale given a period: that period is the end
        return sub.period_end
    if sub.auto_renew and sub.ends is None:
        return None
    end = sub.period_end
    while renews_at(sub, end):  # inside a commitment: it renews until the commitment ends
        end = period_end_after(sub, end)
    return _capped(end, sub.ends)


def display_status(sub: Subscription, started: bool = True) -> str:
    """The status as tables show it: never plain "active" when it will not renew; an
    active one inside its free trial that will convert to paid is "trial"."""
    if sub.status == "active":
        if not started:
            return NOT_STARTED
        if sub.period_end is not None and (
                not sub.auto_renew or (sub.ends is not None and sub.period_end >= sub.ends)):
            return ENDING
        if sub.trial is not None and sub.period_start == sub.started_at and plan_length(sub):
            return TRIAL
    return sub.status


_START = Subscription._fields.index("period_start")
assert Subscription._fields[_START + 1] == "period_end"


def _with_period(sub: Subscription, start: datetime, end: datetime | None) -> Subscription:
    """``sub._replace(period_start=start, period_end=end)``, several times faster (a
    listing of a ledger not swept for a while does it for many rows)."""
    return tuple.__new__(Subscription, (*sub[:_START], start, end, *sub[_START + 2:]))


def _advance(sub: Subscription, at: datetime, steps: list[Step] | None) -> Subscription:
    """The record after every renewal and expiry due by ``at``, in order (each one
    appended to ``steps`` when given; without, renewals that all renew are jumped)."""
    current = sub
    if current.status in ("active", "cancelled") and current.period_end is not None:
        while current.period_end is not None and current.period_end <= at:
            boundary = current.period_end
            if not renews_at(current, boundary):
                break
            if steps is None and current.auto_renew and current.ends is None \
                    and current.ended_at is None:  # renews at every boundary up to ``at``
                start, end = period_at(current, at)
                return _with_period(current, max(start, boundary), end)
            current = _with_period(current, boundary, period_end_after(current, boundary))
            if steps is not None:
                steps.append(Step("renewed", boundary, current))
    if current.status == "active" and current.period_end is not None \
            and not renews_at(current, current.period_end):
        end = _capped(current.period_end, current.ends)
        if end <= at:  # type: ignore[operator]
            current = current._replace(status="expired", ended_at=end)
            if steps is not None:
                steps.append(Step("expired", end, current))  # type: ignore[arg-type]
            return current
    if current.status == "cancelled":
        end = _capped(current.ended_at or current.period_end, current.ends)
        if end is not None and end <= at:
            current = current._replace(status="expired", ended_at=end)
            if steps is not None:
                steps.append(Step("expired", end, current))
    return current


def price_at(sub: Subscription, at: datetime) -> Decimal:
    """The price in force at ``at``: the last of the price history from ``at`` or
    before (the record's price when it has none)."""
    if not sub.prices:
        return sub.price
    moment, price = iso(at), None
    for since, amount in sorted(sub.prices.items()):  # ISO texts in UTC: in time order
        if since > moment:
            break
        price = amount
    return sub.price if price is None else Decimal(price)


def every_price(sub: Subscription) -> set[Decimal]:
    """Every price the subscription has had or will have (its price history)."""
    return {sub.price, *(Decimal(p) for p in sub.prices.values())}


def prices_on(sub: Subscription, day: date) -> set[Decimal]:
    """The prices in force at some moment of a day (in UTC): what a charge posted on
    that day may have billed."""
    if not sub.prices:
        return {sub.price}
    start = start_of_day(day)
    found = {price_at(sub, start), price_at(sub, start + _ONE_DAY - timedelta(seconds=1))}
    found.update(Decimal(p) for since, p in sub.prices.items() if since[:10] == day.isoformat())
    return found


def billed_price(sub: Subscription) -> Decimal:
    """The price its current period was billed at: the one in force at its start
    (nothing for a free trial)."""
    if sub.trial is not None and in_trial(sub, sub.period_start):
        return sub.price * 0
    return price_at(sub, sub.period_start)


def _priced(sub: Subscription, at: datetime) -> Subscription:
    """The record with the price and plan in force at ``at``."""
    price, plan = price_at(sub, at), plan_at(sub, at)
    if price == sub.price and plan == sub.plan:
        return sub
    return sub._replace(price=price, plan=plan)


def as_recorded_at(sub: Subscription, history: Iterable[Event], at: datetime) -> Subscription:
    """The record with what was recorded after ``at`` undone: a cancellation, an expiry,
    a refund, a change of auto-renew. ``history`` is the subscription's events."""
    status, cancelled_at, ended_at = sub.status, sub.cancelled_at, sub.ended_at
    if status in ENDED and ended_at is not None and ended_at > at:
        status, ended_at = "cancelled", None
    if status == "cancelled" and (cancelled_at is None or cancelled_at > at):
        status, cancelled_at = "active", None
    auto_renew, later = sub.period_end is not None, False
    cancelled_then: datetime | None = None  # a cancellation by ``at`` not resumed by then
    for event in history:
        if event.action == "created":
            auto_renew = bool(event.detail.get("subscription", {}).get("auto_renew", auto_renew))
        elif event.action in ("renew-off", "renew-on", "cancelled", "resumed"):
            if event.at <= at:
                auto_renew = event.action in ("renew-on", "resumed")
                cancelled_then = event.at if event.action == "cancelled" else (
                    None if event.action == "resumed" else cancelled_then)
            else:
                later = True
    if status == "active" and cancelled_then is not None:  # resumed after ``at``
        status, cancelled_at = "cancelled", cancelled_then
    if status == "active" and auto_renew and ended_at is not None and later:
        ended_at = None  # an end set by a late renew off recorded after ``at``
    changed = (status, cancelled_at, ended_at) != (sub.status, sub.cancelled_at, sub.ended_at)
    if not changed and not later:
        return sub
    return sub._replace(status=status, cancelled_at=cancelled_at, ended_at=ended_at,
                        auto_renew=auto_renew and status == "active")


def state_at(sub: Subscription, at: datetime, history: Iterable[Event] | None = None, *,
             steps: bool = False) -> SubState:
    """The subscription at ``at`` (see the module's rules). ``history`` (its events)
    undoes what was recorded after ``at``; ``steps`` lists the transitions due, as
    `sweep` records them."""
    if history is None:
        end, commitment = sub.period_end, sub.commitment_end
        if sub.auto_renew and sub.status == "active" and end is not None \
                and sub.period_start <= at and sub.started_at <= at \
                and (_LENGTHS.get(sub.plan) or plan_length(sub)) \
                and sub.ends is None and sub.ended_at is None and not sub.prices \
                and not sub.plans:  # (a price or plan history: the one in force at ``at``)
            if at < end and (sub.trial is None or sub.period_start != sub.started_at):
                # most records of a listing: renewing, inside the period recorded; this
                # is as_it_stands(sub, at) for them, without working each part out
                return _state(sub, at, True, True, None,
                              commitment is not None and at < commitment, "active", ())
            if end <= at and not steps and sub.trial is None:
                # renewing at every boundary since the period recorded (a ledger not
                # swept for a while): what the steps below work out, the period that
                # holds ``at`` found at once (_advance jumps the same way)
                start, end = period_at(sub, at)
                if start < sub.period_end:  # (max(), inline: this runs for many rows)
                    start = sub.period_end
                return _state(_with_period(sub, start, end), at, True,
                              True, None, commitment is not None and at < commitment,
                              "active", ())
        if _stands(sub, at):  # nothing to work out: the record holds
            return as_it_stands(sub, at)
    return _worked_out(sub, at, history, steps)


def _worked_out(sub: Subscription, at: datetime, history: Iterable[Event] | None,
                steps: bool) -> SubState:
    """state_at without its shortcuts: every part worked out from the rules."""
    current = sub if history is None else as_recorded_at(sub, history, at)
    months = plan_length(current)
    if months and current.period_end is not None and at < current.period_start \
            and current.status not in ENDED:  # an earlier period: counted from the start
        start, end = period_at(current, at)
        current = current._replace(period_start=start, period_end=end)
    found: list[Step] | None = [] if steps else None
    current = _advance(current, at, found)
    if current.prices or current.plans:
        current = _priced(current, at)
        if found:
            found = [step._replace(sub=_priced(step.sub, step.at)) for step in found]
    started = at >= current.started_at
    renews = current.period_end is not None and renews_at(current, current.period_end)
    return _state(current, at, started, renews, ends_at(current),
                  current.commitment_end is not None and at < current.commitment_end,
                  display_status(current, started), tuple(found) if found else ())


def _stands(sub: Subscription, at: datetime) -> bool:
    """Whether the record already stands at ``at``: started, inside its recorded period,
    with no renewal or expiry due (most records of a swept ledger)."""
    if at < sub.period_start or at < sub.started_at:
        return False
    if sub.status == "active":
        return sub.period_end is None or at < _capped(sub.period_end, sub.ends)  # type: ignore[operator]
    if sub.status == "cancelled":
        end = _capped(sub.ended_at or sub.period_end, sub.ends)
        return end is None or at < end and (sub.period_end is None or at < sub.period_end)
    return True


def as_it_stands(sub: Subscription, at: datetime | None = None) -> SubState:
    """The record's own state, nothing projected: what an event or a changed record
    shows (as of ``at``, by default the start of its period), and the state at any
    moment at which the record stands."""
    if at is None:
        at = sub.period_start
    if sub.prices or sub.plans:
        sub = _priced(sub, at)
    end = sub.period_end
    # positional: a listing makes one for every row
    return _state(sub, at, True, end is not None and renews_at(sub, end), ends_at(sub),
                  sub.commitment_end is not None and at < sub.commitment_end,
                  display_status(sub), ())
