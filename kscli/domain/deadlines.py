"""Deadlines: every decision date ahead, from the ledger's records and the policy.

A deadline is a day on which something happens to a subscription or a key if nobody
acts before it: a renewal charges, service ends, a commitment ends, a money-back
window closes, a key's activation window closes. Each one says what happens that day
if nothing is done, the command that acts on it, and the policy clause that decides it.

Pure: the states come from kscli.domain.timeline (the one owner of periods, renewals
and ends), the money-back window from kscli.domain.refund (what `refund check`
answers), the activation window from kscli.domain.licenses. ``now`` is a parameter.

The window: a deadline counts when its UTC day is from the day of ``now`` up to the
day of ``until`` (both included) and it has not happened by ``now``. `--within 7d` on
2026-12-02 at 15:00 lists 2026-12-09 whole, whatever the hour of the event that day.

Each kind is one function ``(facts, window, policy) -> Iterable[Deadline]``, listed in
``SUB_KINDS`` or ``LICENSE_KINDS``; :func:`upcoming` runs them all and sorts.

The uid: a deadline keeps its uid when its date moves, so that a calendar imported
again updates the event instead of adding a second one. It is made of the kind, the
record's id, and which occurrence it is, never the date itself:

- a renewal and a money-back window belong to a billing period, named by its number
  counted from the start (the renewal that starts period 4 is ``renewal-S-1003-4``).
  A repricing changes that renewal's amount, a plan change (which starts at a
  renewal) the later renewals' dates, a corrected start date every date: the period
  numbers stay, so each event is updated in place;
- a cancel-by day belongs to the renewal it stops, named by that period's number
  (``cancel-by-S-1011-3``);
- a commitment end, a service end, a fixed end, a trial's end and a key's last day to
  activate happen once per record: ``commitment-end-S-1001``, ``end-S-1004``,
  ``fixed-end-S-1012``, ``trial-end-S-1010``, ``activation-L-1002``.

Ids are per ledger: two ledgers both holding S-1003 give the same uids, so give each
calendar application one ledger's file per calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence

from kscli.domain import ids
from kscli.domain import licenses as keys_rules
from kscli.domain.calendar import UTC, iso
from kscli.domain.model import Event, License, Subscription
from kscli.domain.policy import Policy
from kscli.domain.notice import cancel_by_day, notice_closes_at
from kscli.domain.refund import decide_refund
from kscli.domain.timeline import (SubState, duration_of, fixed_end, period_starts, plan_length,
                                   price_at, state_at, trial_end)

# The kinds of today (other modules may add theirs, see SUB_KINDS).
RENEWAL = "renewal"
SERVICE_END = "end"
COMMITMENT_END = "commitment-end"
MONEY_BACK = "money-back"
ACTIVATION = "activation"
TRIAL_END = "trial-end"
CANCEL_BY = "cancel-by"
FIXED_END = "fixed-end"

# A few words for each kind, in a calendar's summary (a kind not listed shows its name).
TITLES = {RENEWAL: "renews", SERVICE_END: "service ends", COMMITMENT_END: "commitment ends",
          MONEY_BACK: "last day of the money-back window", ACTIVATION: "last day to activate",
          TRIAL_END: "free trial ends", CANCEL_BY: "last day to cancel before the renewal",
          FIXED_END: "fixed end"}

# Several deadlines on one day: in this order (a kind not listed goes last).
KIND_ORDER = (ACTIVATION, CANCEL_BY, MONEY_BACK, TRIAL_END, COMMITMENT_END, FIXED_END,
              SERVICE_END, RENEWAL)


@dataclass(frozen=True)
class Deadline:
    """One decision date."""

    uid: str  # stable: kind, record id and occurrence, never the date (module docstring)
    day: date  # the UTC day it happens on
    at: datetime  # the moment it happens (a renewal's boundary; the end of a last day)
    kind: str
    subject: str  # S-... or L-...
    vendor: str | None
    product: str
    account: str | None
    happens: str  # what happens that day if nothing is done
    command: str  # the command that acts on it
    clause: str  # the policy clause where it is decided
    amount: Decimal | None = None  # what a renewal charges
    currency: str | None = None

    @property
    def title(self) -> str:
        """One line: ``Acme Cloud Pro (S-1001) renews: 24.00 USD``."""
        what = " ".join(x for x in (self.vendor, self.product) if x)
        words = TITLES.get(self.kind, self.kind)
        charge = f": {self.amount} {self.currency}" if self.amount is not None else ""
        return f"{what} ({self.subject}) {words}{charge}"

    def days_from(self, now: datetime) -> int:
        """Whole UTC days from ``now``'s day to this deadline's day (0: today)."""
        return (self.day - now.astimezone(UTC).date()).days

    def to_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "uid": self.uid, "date": self.day.isoformat(), "at": iso(self.at),
            "days": self.days_from(now), "kind": self.kind, "subject": self.subject,
            "vendor": self.vendor, "product": self.product, "account": self.account,
            "happens": self.happens, "command": self.command, "clause": self.clause,
            "amount": None if self.amount is None else str(self.amount),
            "currency": self.currency,
        }


def in_days(days: int) -> str:
    """``today``, ``tomorrow``, ``in 3 days``."""
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    return f"in {days} days"


class Window(NamedTuple):
    """From ``now`` up to the whole UTC day of ``until``."""

    now: datetime
    until: datetime

    @property
    def last_day(self) -> date:
        return self.until.astimezone(UTC).date()

    def holds(self, day: date, at: datetime) -> bool:
        """A deadline on ``day`` happening at ``at`` is ahead and inside the window."""
        return at > self.now and day <= self.last_day


class SubFacts(NamedTuple):
    """A subscription as it stands at the window's start, and its events (a refund
    recorded in a period closes its money-back window)."""

    state: SubState
    events: Sequence[Event] = ()


class LicenseFacts(NamedTuple):
    license: License
    vendor: str | None = None  # of the subscription it belongs to, if any


def _day(when: datetime) -> date:
    return when.astimezone(UTC).date()


def _of_sub(sub: Subscription, uid: str, at: datetime, kind: str, happens: str, command: str,
            clause: str, day: date | None = None, amount: Decimal | None = None) -> Deadline:
    return Deadline(uid, day or _day(at), at, kind, sub.id, sub.vendor, sub.product, sub.account,
                    happens, command, clause, amount, sub.currency if amount is not None else None)


def period_number(sub: Subscription, start: datetime) -> int:
    """Which billing period starts at ``start``: 1 for the first (at ``started_at``),
    2 for the one the first renewal starts, ..."""
    months = plan_length(sub)
    if not months or start <= sub.started_at:
        return 1
    if not sub.plans:  # every boundary a whole number of periods from the start
        first = sub.started_at
        return ((start.year - first.year) * 12 + start.month - first.month) // months + 1
    return sum(1 for _ in period_starts(sub, sub.started_at, start)) + 1


def periods_ahead(state: SubState, until: datetime) -> Iterator[SubState]:
    """The subscription at each renewal from its state's period end up to ``until``:
    each the state at the boundary, its new period just begun (timeline's rules)."""
    current = state
    while current.renews and current.period_end is not None and current.period_end <= until:
        current = state_at(current.sub, current.period_end)
        yield current


def _charge(sub: Subscription) -> str:
    return f"{sub.price} {sub.currency}"


# --- the kinds ---------------------------------------------------------------------

def renewals(facts: SubFacts, window: Window, policy: Policy) -> Iterator[Deadline]:
    """Each renewal ahead: the next period starts and is charged."""
    for renewed in periods_ahead(facts.state, window.until):
        sub, at = renewed.sub, renewed.period_start
        if not window.holds(_day(at), at) or at == trial_end(sub):  # a trial's end: its own
            continue
        number = period_number(sub, at)
        happens = f"renews and charges {_charge(sub)} for the next {sub.plan} period"
        if renewed.in_commitment and not sub.auto_renew:
            happens += " (auto-renew is off, but the commitment runs on)"
        yield _of_sub(sub, f"{RENEWAL}-{sub.id}-{number}", at, RENEWAL, happens,
                      f"kscli renew off {sub.id}", "cancel.end-of-term", amount=sub.price)


def service_ends(facts: SubFacts, window: Window, policy: Policy) -> Iterator[Deadline]:
    """Service ends (auto-renew off, or cancelled): nothing more is billed."""
    state = facts.state
    sub, end = state.sub, state.ends_at
    if end is None or sub.status not in ("active", "cancelled") or not window.holds(_day(end), end):
        return
    kind, uid = SERVICE_END, f"{SERVICE_END}-{sub.id}"
    if end == trial_end(sub):  # a trial that will not convert: trial_ends says it
        return
    if sub.status == "cancelled":
        happens, command = "service ends (cancelled): nothing more is billed", \
            f"kscli sub resume {sub.id}"
    elif end == fixed_end(sub):
        kind, uid = FIXED_END, f"{FIXED_END}-{sub.id}"
        happens, command = "service ends on its fixed end date: no renewal after it", \
            f"kscli sub edit {sub.id} --no-ends"
    elif not plan_length(sub):
        happens, command = "service ends: the plan has no renewal", f"kscli sub show {sub.id}"
    else:
        happens, command = "service ends (auto-renew is off): nothing more is billed", \
            f"kscli renew on {sub.id}"
    yield _of_sub(sub, uid, end, kind, happens, command, "cancel.end-of-term")


def trial_ends(facts: SubFacts, window: Window, policy: Policy) -> Iterator[Deadline]:
    """A free trial ends (timeline.trial_end): the first charge, unless the subscription
    was cancelled or auto-renew turned off before it; then service ends, costing nothing."""
    state = facts.state
    sub, end = state.sub, trial_end(state.sub)
    if end is None or sub.status not in ("active", "cancelled") or not window.holds(_day(end), end):
        return
    if sub.status == "active" and sub.auto_renew and (sub.ends is None or end < sub.ends):
        price = price_at(sub, end)
        happens = (f"the free trial ends and the first {sub.plan} period is charged: "
                   f"{price} {sub.currency}")
        yield _of_sub(sub, f"{TRIAL_END}-{sub.id}", end, TRIAL_END, happens,
                      f"kscli sub cancel {sub.id}", "cancel.trial", amount=price)
    else:
        yield _of_sub(sub, f"{TRIAL_END}-{sub.id}", end, TRIAL_END,
                      "the free trial ends, and with it the service: nothing is charged",
                      f"kscli renew on {sub.id}" if sub.status == "active"
                      else f"kscli sub resume {sub.id}", "cancel.trial")


def cancel_by_days(facts: SubFacts, window: Window, policy: Policy) -> Iterator[Deadline]:
    """The last day to stop each renewal ahead with a notice period (notice.cancel_by_day):
    after it, that renewal is billed [cancel.notice]. Renewals inside a commitment and a
    trial's end (no notice applies to it) have none."""
    state = facts.state
    notice = duration_of(state.sub.notice)
    if notice is None or not state.renews or state.period_end is None:
        return
    # a cancel-by day inside the window may belong to a renewal up to a notice later
    ahead = [state] + list(periods_ahead(state, notice.add_to(window.until)))
    for current in ahead:
        sub, renewal = current.sub, current.period_end
        if renewal is None or not current.renews or not sub.auto_renew:
            break
        if sub.commitment_end is not None and renewal < sub.commitment_end:
            continue
        day, closes = cancel_by_day(sub, renewal), notice_closes_at(sub, renewal)
        if day is None or closes is None or not window.holds(day, closes):
            continue
        price = price_at(sub, renewal)
        happens = (f"last day to stop the renewal of {_day(renewal).isoformat()} "
                   f"({sub.notice} notice): from tomorrow it is billed, {price} {sub.currency}")
        yield _of_sub(sub, f"{CANCEL_BY}-{sub.id}-{period_number(sub, renewal)}", closes,
                      CANCEL_BY, happens, f"kscli renew off {sub.id}", "cancel.notice", day=day,
                      amount=price)


def commitment_ends(facts: SubFacts, window: Window, policy: Policy) -> Iterator[Deadline]:
    """A commitment term ends: from that day the plan may be cancelled."""
    state = facts.state
    sub, end = state.sub, state.sub.commitment_end
    if end is None or sub.status != "active" or not window.holds(_day(end), end):
        return
    if sub.auto_renew:
        happens = "the commitment ends: the plan keeps renewing, and can be cancelled from this day"
        command = f"kscli sub cancel {sub.id}"
    else:
        happens = "the commitment ends, and with it the service (auto-renew is off)"
        command = f"kscli renew on {sub.id}"
    yield _of_sub(sub, f"{COMMITMENT_END}-{sub.id}", end, COMMITMENT_END, happens, command,
                  "cancel.commitment")


def money_back_windows(facts: SubFacts, window: Window, policy: Policy) -> Iterator[Deadline]:
    """The last day of a money-back window: of the current period (as `refund check`
    answers it now) and of each period a renewal ahead starts (as it will answer then)."""
    state = facts.state
    moments = [(state, window.now)] + [(ahead, ahead.period_start)
                                      for ahead in periods_ahead(state, window.until)]
    for current, at in moments:
        sub = current.sub
        decision = decide_refund(sub, now=at, policy=policy, events=facts.events)
        if not decision.eligible or decision.clause != "refund.money-back" \
                or decision.deadline is None:
            continue
        last_day = decision.deadline
        closes = keys_rules.closes_after(last_day)  # the whole last day counts
        if not window.holds(last_day, closes):
            continue
        number = period_number(sub, sub.period_start)
        yield _of_sub(sub, f"{MONEY_BACK}-{sub.id}-{number}", closes, MONEY_BACK,
                      f"last day of the money-back window: from tomorrow the period's "
                      f"{_charge(sub)} is no longer refunded",
                      f"kscli refund request {sub.id}", "refund.money-back", day=last_day)


def activation_last_days(facts: LicenseFacts, window: Window, policy: Policy) -> Iterator[Deadline]:
    """The last day to activate a key that is still unactivated."""
    lic = facts.license
    years = policy.activation_years()
    if not keys_rules.due_by(lic, window.now, window.until, years=years):
        return
    last_day = keys_rules.activation_deadline(lic.purchased_at, years=years)
    closes = keys_rules.closes_after(last_day)
    if not window.holds(last_day, closes):
        return
    yield Deadline(f"{ACTIVATION}-{lic.id}", last_day, closes, ACTIVATION, lic.id, facts.vendor,
                   lic.product, lic.account,
                   f"last day to activate: from tomorrow the key is deactivated "
                   f"({keys_rules.LAPSED})",
                   f"kscli license activate {lic.id} --machine NAME", keys_rules.CLAUSE)


SubKind = Callable[[SubFacts, Window, Policy], Iterable[Deadline]]
LicenseKind = Callable[[LicenseFacts, Window, Policy], Iterable[Deadline]]

# Every kind, in one place: a new kind is one function added here.
SUB_KINDS: tuple[SubKind, ...] = (renewals, service_ends, commitment_ends, money_back_windows,
                                  trial_ends, cancel_by_days)
LICENSE_KINDS: tuple[LicenseKind, ...] = (activation_last_days,)


def sort_key(deadline: Deadline) -> tuple:
    """Soonest first; on one day by kind (KIND_ORDER), record id, then uid."""
    rank = KIND_ORDER.index(deadline.kind) if deadline.kind in KIND_ORDER else len(KIND_ORDER)
    return (deadline.day, rank, ids.natural_key(deadline.subject), deadline.uid)


def upcoming(subs: Iterable[SubFacts], licenses: Iterable[LicenseFacts], window: Window,
             policy: Policy, *, sub_kinds: Sequence[SubKind] = SUB_KINDS,
             license_kinds: Sequence[LicenseKind] = LICENSE_KINDS) -> list[Deadline]:
    """Every deadline of the records in ``window``, sorted (:func:`sort_key`)."""
    found: list[Deadline] = []
    for facts in subs:
        for kind in sub_kinds:
            found.extend(kind(facts, window, policy))
    for lic in licenses:
        for lkind in license_kinds:
            found.extend(lkind(lic, window, policy))
    found.sort(key=sort_key)
    return found
