"""Subscription use cases: add, cancel, auto-renewal, disputes, states at a time."""

from __future__ import annotations

from datetime import datetime
from itertools import chain
from decimal import Decimal
from typing import Callable, Iterator

from kscli.domain import ids
from kscli.domain import subscriptions as rules
from kscli.domain.corrections import refuse_void
from kscli.domain.errors import NoChange
from kscli.domain.model import Subscription
from kscli.domain.timeline import SubState
from kscli.services import Outcome
from kscli.store.base import Ledger, Store
from kscli.views import sub_view

def add_subscription(store: Store, now: datetime, **fields) -> Outcome:
    with store.write() as ledger:
        return add_in(ledger, now, **fields)


def add_in(ledger: Ledger, now: datetime, **fields) -> Outcome:
    """`sub add` inside a write transaction the caller holds (several added at once)."""
    sub = rules.new_subscription(ledger.next_id(ids.SUB), now=now, **fields)
    ledger.add(sub)
    event = ledger.append_event(sub.id, "created", {"subscription": sub_view(sub)}, now)
    warnings = _already_there(ledger, sub, now)
    return Outcome(sub, f"{sub.id}: added {sub.vendor} {sub.product}", event, warnings)


def _already_there(ledger: Ledger, sub: Subscription, now: datetime) -> tuple[str, ...]:
    from kscli.domain.corrections import duplicate_warning

    others = same_active(ledger, sub, now)
    return (duplicate_warning(sub, others),) if others else ()


def same_active(ledger: Ledger, sub: Subscription, now: datetime) -> list[Subscription]:
    """The other subscriptions active at ``now`` with the same vendor, product and
    account as ``sub`` (whatever the case and accents)."""
    from kscli.domain.corrections import same_subscription
    from kscli.domain.timeline import state_at

    found = ledger.subs(status=("active",), vendor=sub.vendor, product=sub.product,
                        account=sub.account)
    return [other for other in found if other.id != sub.id and same_subscription(other, sub)
            and state_at(other, now).status == "active"]


def apply_change(store: Store, sub_id: str, now: datetime,
                 rule: Callable[[Subscription, datetime], rules.Change]) -> Outcome:
    """Load a subscription, apply a rule, save it with its event; or report no change."""
    with store.write() as ledger:
        sub = ledger.require_sub(sub_id)
        refuse_void(sub)  # a record voided as a mistake does not change
        # The rule acts on the subscription as it stands now: renewals or an expiry
        # due but not swept yet are recorded first, as `sweep` would have.
        due = rules.due_transitions(sub, now)
        if due:
            for step in due:
                ledger.append_event(sub.id, step.action, step.detail, now, step.at)
            sub = due[-1].sub
            ledger.save(sub)
        try:
            change = rule(sub, now)
        except NoChange as nothing:
            return Outcome(sub, nothing.message, None)
        ledger.save(change.sub)
        event = ledger.append_event(sub.id, change.action, change.detail, now, change.at)
    return Outcome(change.sub, change.message, event)


# `policy` (the effective Policy): when given, the event records its version.
def renew_off(store: Store, sub_id: str, now: datetime, policy=None) -> Outcome:
    return apply_change(store, sub_id, now, lambda sub, when: rules.renew_off(sub, when, policy))


def renew_on(store: Store, sub_id: str, now: datetime, policy=None) -> Outcome:
    return apply_change(store, sub_id, now, lambda sub, when: rules.renew_on(sub, when, policy))


def cancel(store: Store, sub_id: str, now: datetime, *, immediately: bool = False,
           at_partner: str | None = None, policy=None) -> Outcome:
    return apply_change(
        store, sub_id, now,
        lambda sub, when: rules.cancel(sub, when, immediately=immediately, at_partner=at_partner,
                                       policy=policy),
    )


def dispute(store: Store, sub_id: str, now: datetime, note: str | None = None,
            policy=None) -> Outcome:
    return apply_change(store, sub_id, now,
                        lambda sub, when: rules.dispute(sub, when, note, policy))


def states_at(ledger: Ledger, at: datetime, *, past: bool = False, renewing_until=None,
              **filters) -> Iterator[tuple[SubState, tuple]]:
    """Every subscription (matching the stored ``filters``) as it stands at ``at``, with
    its row. ``past``: ``at`` is earlier than now, so what was recorded after it is
    undone (from the events). ``renewing_until`` keeps only the active ones whose
    period (at ``at``) ends from ``at`` up to it, read through the index: a row can
    qualify only if its stored period ends by then (or, in the past, if it started
    by then)."""
    from kscli.views import states

    histories = ledger.histories_after(at) if past else None
    if renewing_until is not None:
        if past:
            filters["started_before"] = renewing_until
        else:  # a renewal or expiry recorded later cannot end a period earlier
            filters.update(status=("active",), period_end_before=renewing_until)
    found = states(ledger.subs_stored(**filters), at, histories)
    if renewing_until is None:
        return found
    return ((state, row) for state, row in found
            if state.status == "active" and state.period_end is not None
            and at <= state.period_end <= renewing_until)


def renewing(store: Store, since: datetime, until: datetime, *,
             past: bool = False) -> list[SubState]:
    """Active subscriptions whose period (as of ``since``) ends between ``since`` and
    ``until``, soonest first.

    From now on, two index lookups find them: the records whose stored period ends in
    the window, and those whose stored period ended before it (not swept since) and
    whose start's day of the month can bring a renewal into it
    (timeline.boundary_days); only those are worked out."""
    from kscli.domain.timeline import boundary_days
    from kscli.views import states

    with store.read() as ledger:
        if past:
            found = [state for state, _ in states_at(ledger, since, past=True,
                                                     renewing_until=until)]
        else:
            recorded = ledger.subs_stored(status=("active",), period_end_from=since,
                                          period_end_before=until)
            days = boundary_days(since, until)
            unswept = ((sub, row) for sub, row in ledger.subs_stored(
                status=("active",), period_end_before=since, started_on_days=days)
                if sub.period_end != since)
            if days is not None:  # a free trial's paid periods fall on its end's day
                trials = ((sub, row) for sub, row in ledger.subs_stored(
                    status=("active",), period_end_before=since, with_trial=True)
                    if sub.period_end != since and sub.started_at.day not in days)
                unswept = chain(unswept, trials)
            found = [state for state, _ in states(chain(recorded, unswept), since)
                     if state.status == "active" and state.period_end is not None
                     and since <= state.period_end <= until]
    found.sort(key=lambda state: (state.period_end, ids.natural_key(state.sub.id)))
    return found


def total_by_currency(states) -> dict[str, tuple[Decimal, Decimal, int]]:
    """Monthly and yearly cost of the subscriptions that will bill again, per currency
    (``states``: SubState at the moment asked about; one not started by then does not
    count yet)."""
    from kscli.domain.money import monthly_cost, yearly_cost

    totals: dict[str, list] = {}
    for state in states:
        sub = state.sub
        if not state.renews or not state.started or not sub.months:
            continue
        entry = totals.setdefault(sub.currency, [Decimal(0), Decimal(0), 0])
        entry[0] += sub.price / sub.months
        entry[1] += sub.price * 12 / sub.months
        entry[2] += 1
    return {
        cur: (monthly_cost(m, 1, cur), yearly_cost(y, 12, cur), n)
        for cur, (m, y, n) in sorted(totals.items())
    }
