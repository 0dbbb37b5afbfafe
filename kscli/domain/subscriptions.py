"""Subscription rules: create, cancel, auto-renewal, disputes and renewal; the terms of
a free trial, a notice period and a fixed end.

Each function takes a Subscription and ``now`` and returns a Change (the new record,
the event to append, the sentence to print), raises Refused naming the clause that
forbids it, or raises NoChange when there is nothing to do.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

from kscli.domain.calendar import Duration, add_months, iso
from kscli.domain.errors import BadValue, NoChange, Refused
from kscli.domain.model import Subscription, plan_months
from kscli.domain.notice import cancel_by_day, stoppable_from
from kscli.domain.timeline import (  # noqa: F401 - the time rules' one owner, re-exported
    display_status,
    ends_at,
    in_trial,
    period_end_after,
    renews_at,
    state_at,
    trial_end,
)

if TYPE_CHECKING:
    from kscli.domain.policy import Policy

class Change(NamedTuple):
    """A new state for a subscription and the event that records it."""

    sub: Subscription
    action: str
    message: str
    detail: dict[str, Any] = {}
    at: datetime | None = None  # when the change took effect, if not now


def new_subscription(
    sub_id: str,
    *,
    account: str,
    vendor: str,
    product: str,
    plan: str,
    kind: str,
    price: Decimal,
    currency: str,
    started_at: datetime,
    commitment_months: int | None,
    auto_renew: bool,
    partner_name: str | None,
    partner_portal: str | None,
    region: str | None,
    now: datetime,
    matches: Sequence[str] = (),
    trial: Duration | None = None,
    notice: Duration | None = None,
    ends: datetime | None = None,
) -> Subscription:
    """A new subscription. With a free trial the first period is the trial (not
    billed) and the paid periods, and a commitment, count from its end."""
    months = plan_months(plan)
    if kind == "software" or months is None:
        if trial or notice or ends:
            raise BadValue("a one-time software sale has no periods: --trial, --notice and "
                           "--ends are for plans that renew")
        period_end = None
        auto_renew = False
    else:
        period_end = trial.add_to(started_at) if trial else add_months(started_at, months)
    refuse_early_end(ends, started_at)
    first_paid = trial.add_to(started_at) if trial else started_at
    commitment_end = add_months(first_paid, commitment_months) if commitment_months else None
    return Subscription(
        id=sub_id,
        account=account,
        vendor=vendor,
        product=product,
        plan=plan,
        kind=kind,
        price=price,
        currency=currency,
        started_at=started_at,
        period_start=started_at,
        period_end=period_end,
        commitment_end=commitment_end,
        auto_renew=auto_renew,
        status="active",
        channel="partner" if partner_name else "direct",
        partner_name=partner_name,
        partner_portal=partner_portal,
        region=region,
        created_at=now,
        matches=dict.fromkeys(_descriptors(matches), iso(now)) if matches else {},
        trial=str(trial) if trial else None,
        notice=str(notice) if notice else None,
        ends=ends,
    )


def refuse_early_end(ends: datetime | None, start: datetime) -> None:
    """A fixed end must come after the start (exit 2)."""
    if ends is not None and ends <= start:
        raise BadValue(f"--ends {_day(ends)} is not after the start ({_day(start)})",
                       hint="give a date after the subscription starts")


TERMS = ("trial", "notice", "ends")  # `sub edit --trial --notice --ends` (and --no-...)


def edit_terms(sub: Subscription, terms: dict[str, Any]) -> dict[str, Any]:
    """The fields that change when the free trial, notice period or fixed end are set
    (a Duration or datetime) or cleared (None); a key that is absent stays as it is.
    ``sub`` stands at now.

    A trial can change only while the first period has not been billed (the first
    period, or the trial, still runs, and the subscription has not ended): the end of
    the current period moves to the new trial's end (or, cleared, to a whole plan
    period from the start). A fixed end must come after the current period's start."""
    from kscli.domain.timeline import ENDED, plan_length

    if terms and (not plan_length(sub) or sub.period_end is None):
        raise Refused(f"{sub.id} is a one-time sale: it has no periods, so no trial, notice "
                      "period or fixed end", code="no-periods")
    new: dict[str, Any] = {}
    if "notice" in terms:
        text = str(terms["notice"]) if terms["notice"] else None
        if text != sub.notice:
            new["notice"] = text
    if "ends" in terms:
        ends = terms["ends"]
        if ends is not None and ends <= sub.period_start:
            raise Refused(f"--ends {_day(ends)} is not after the start of the current period "
                          f"({_day(sub.period_start)}): a period already billed cannot be "
                          "ended before it began", code="ends-before-period")
        if ends != sub.ends:
            new["ends"] = ends
    if "trial" in terms:
        text = str(terms["trial"]) if terms["trial"] else None
        if text != sub.trial:
            if sub.status in ENDED or sub.period_start != sub.started_at:
                raise Refused(
                    f"{sub.id} has been billed since {_day(sub.period_start)} (or has ended): a "
                    "free trial can be set or cleared only before the first charge",
                    code="trial-over", clause="cancel.trial")
            months = plan_length(sub)
            end = terms["trial"].add_to(sub.started_at) if terms["trial"] else \
                add_months(sub.started_at, months)  # type: ignore[arg-type]
            new.update(trial=text, period_end=end)
    return new


def _descriptors(texts: Sequence[str]) -> list[str]:
    """Statement descriptors as given, spaces trimmed, each once (any case)."""
    seen: dict[str, str] = {}
    for text in texts:
        text = " ".join(text.split())
        if text and text.casefold() not in seen:
            seen[text.casefold()] = text
    return list(seen.values())


def renews_at_period_end(sub: Subscription) -> bool:
    """Whether the current period of the record rolls into another one at ``period_end``.

    Auto-renew turned off inside a commitment takes effect at the commitment's end:
    until then the plan keeps renewing [cancel.commitment].
    """
    return sub.period_end is not None and renews_at(sub, sub.period_end)


def _day(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d") if when else "-"


def _decided(detail: dict[str, Any], policy: Policy | None) -> dict[str, Any]:
    """An event's detail naming the version of the policy whose clause decided it.

    The clause ids are the policy's stable ids; recording the version keeps an old
    explanation tied to the rule that applied then, whatever the policy says later.
    """
    if policy is not None:
        policy.clause(detail["clause"])  # the clause id is one of the policy's
        detail["policy_version"] = policy.version
    return detail


class _Late(NamedTuple):
    """A stop that came after the cancel-by day of the renewal it would have stopped."""

    renewal: datetime  # the renewal it no longer stops (billed)
    cancel_by: str  # that renewal's cancel-by day
    end: datetime  # where the stop takes effect instead


def _too_late(sub: Subscription, stop: datetime | None, now: datetime) -> _Late | None:
    """Whether stopping the renewal at ``stop`` at ``now`` is too late for the notice
    period [cancel.notice]: then the stop takes effect at the first later boundary
    whose cancel-by day has not passed (one period later, or more)."""
    if stop is None or sub.notice is None or not renews_at(sub, stop):
        return None
    end = stoppable_from(sub, stop, now)
    if end == stop:
        return None
    day = cancel_by_day(sub, stop)
    if sub.ends is not None and end > sub.ends:
        end = sub.ends
    return _Late(stop, day.isoformat() if day else "-", end)


def _late_words(sub: Subscription, late: _Late) -> str:
    return (f"too late for the {sub.notice} notice period: the cancel-by day for the renewal on "
            f"{_day(late.renewal)} was {late.cancel_by}, so it takes effect one period later: "
            f"{sub.id} renews on {_day(late.renewal)} and is active until {_day(late.end)} "
            "[cancel.notice]")


def _late_detail(detail: dict[str, Any], late: _Late) -> dict[str, Any]:
    detail.update(clause="cancel.notice", ends_at=iso(late.end), cancel_by=late.cancel_by,
                  renews_at=iso(late.renewal))
    return detail


def renew_off(sub: Subscription, now: datetime, policy: Policy | None = None) -> Change:
    if sub.status != "active" or sub.period_end is None:
        raise NoChange(f"{sub.id} is {sub.status}: it does not renew; nothing changed", sub)
    if not sub.auto_renew:
        raise NoChange(
            f"{sub.id}: auto-renew is already off, active until {_day(ends_at(sub))}; nothing changed",
            sub,
        )
    new = sub._replace(auto_renew=False)
    end = ends_at(new)
    late = _too_late(sub, end, now)
    if late is not None:
        new = new._replace(ended_at=late.end)
        return Change(new, "renew-off", f"{sub.id}: auto-renew off, {_late_words(sub, late)}",
                      _decided(_late_detail({}, late), policy))
    message = f"{sub.id}: auto-renew off, active until {_day(end)}"
    detail: dict[str, Any] = {"clause": "cancel.end-of-term", "ends_at": iso(end)}
    if sub.commitment_end is not None and sub.period_end < sub.commitment_end:
        message += (
            f" (the commitment runs to {_day(sub.commitment_end)}: the plan keeps renewing until then)"
        )
        detail["clause"] = "cancel.commitment"
    elif in_trial(sub, now) and end == trial_end(sub):
        message += ", the end of the free trial: nothing is charged [cancel.trial]"
        detail["clause"] = "cancel.trial"
    return Change(new, "renew-off", message, _decided(detail, policy))


def renew_on(sub: Subscription, now: datetime, policy: Policy | None = None) -> Change:
    if sub.status != "active" or sub.period_end is None:
        again = (f"`kscli sub resume {sub.id}` undoes the cancellation while service runs"
                 if sub.status == "cancelled" else "add it again with `kscli sub add`")
        raise Refused(f"{sub.id} is {sub.status}: only an active subscription can renew ({again})",
                      code="not-active")
    if sub.auto_renew:
        raise NoChange(f"{sub.id}: auto-renew is already on; nothing changed", sub)
    new = sub._replace(auto_renew=True, ended_at=None)  # also lifts a late renew off's end
    return Change(
        new,
        "renew-on",
        f"{sub.id}: auto-renew on, next renewal {_day(sub.period_end)}",
        _decided({"clause": "cancel.end-of-term"}, policy),
    )


def at_the_partner(sub: Subscription, at_partner: str | None, verb: str) -> None:
    """A partner purchase is cancelled (or resumed) in the partner's portal: without the
    partner's reference, refuse and say where [cancel.partner]."""
    if sub.channel == "partner" and not at_partner:
        where = f" at {sub.partner_portal}" if sub.partner_portal else ""
        raise Refused(
            f"{sub.id} was bought through {sub.partner_name or 'a partner'}: {verb} it in the "
            f"partner's portal{where}, then record that with --at-partner REF [cancel.partner]",
            code="partner-channel",
            clause="cancel.partner",
        )


def cancel(
    sub: Subscription,
    now: datetime,
    *,
    immediately: bool = False,
    at_partner: str | None = None,
    policy: Policy | None = None,
) -> Change:
    if sub.status in ("cancelled", "expired", "refunded"):
        if not (immediately and sub.status == "cancelled"):
            raise NoChange(f"{sub.id} is already {sub.status}; nothing changed", sub)
    at_the_partner(sub, at_partner, "cancel")
    if not at_partner and sub.commitment_end is not None and now < sub.commitment_end:
        raise Refused(
            f"{sub.id} has a commitment until {_day(sub.commitment_end)}: it can be cancelled "
            f"from {_day(sub.commitment_end)}; payments continue until then "
            f"(`kscli renew off {sub.id}` stops renewal at the commitment's end) [cancel.commitment]",
            code="commitment-active",
            clause="cancel.commitment",
        )
    detail: dict[str, Any] = {"clause": "cancel.anytime", "refund": False}
    if at_partner:
        detail["partner_reference"] = at_partner
        detail["clause"] = "cancel.partner"
    if immediately:
        new = sub._replace(status="expired", auto_renew=False, cancelled_at=sub.cancelled_at or now,
            ended_at=now,
        )
        detail["immediately"] = True
        detail["ended_at"] = iso(now)
        message = (
            f"{sub.id}: cancelled, service ended now; no refund for unused time [refund.no-proration]"
        )
        return Change(new, "cancelled", message, _decided(detail, policy))
    new = sub._replace(status="cancelled", auto_renew=False, cancelled_at=now)
    end = ends_at(new)
    late = None if sub.status != "active" else _too_late(sub, end, now)
    if late is not None:
        new = new._replace(ended_at=late.end)
        message = (f"{sub.id}: cancelled, {_late_words(sub, late)}; cancelling alone refunds "
                   "nothing [cancel.anytime]")
        return Change(new, "cancelled", message, _decided(_late_detail(detail, late), policy))
    detail["ends_at"] = iso(end)
    if in_trial(sub, now) and end == trial_end(sub):
        detail["clause"] = "cancel.trial"
        message = (f"{sub.id}: cancelled during the free trial, active until {_day(end)} (the "
                   "trial's end); nothing is charged [cancel.trial]")
        return Change(new, "cancelled", message, _decided(detail, policy))
    message = (
        f"{sub.id}: cancelled, active until {_day(end)}; future billing stopped, "
        "cancelling alone refunds nothing [cancel.anytime, cancel.end-of-term]"
    )
    return Change(new, "cancelled", message, _decided(detail, policy))


def dispute(sub: Subscription, now: datetime, note: str | None = None,
            policy: Policy | None = None) -> Change:
    if sub.disputed:
        raise NoChange(f"{sub.id}: a dispute is already recorded; nothing changed", sub)
    new = sub._replace(disputed=True)
    detail: dict[str, Any] = {"clause": "cancel.direct"}
    if note:
        detail["note"] = note
    return Change(
        new,
        "disputed",
        f"{sub.id}: dispute recorded; a bank or card dispute is not a cancellation, "
        f"{sub.id} stays {display_status(sub)} [cancel.direct]",
        _decided(detail, policy),
    )


def due_transitions(sub: Subscription, now: datetime) -> list[Change]:
    """Every renewal or expiry due up to ``now``, in order (catches up missed periods):
    the steps of the subscription's state at ``now`` (kscli.domain.timeline)."""
    changes: list[Change] = []
    for step in state_at(sub, now, steps=True).steps:
        after = step.sub
        if step.action == "renewed":
            changes.append(Change(
                after, "renewed",
                f"{sub.id}: renewed for {_day(step.at)} to {_day(after.period_end)}, "
                f"expected charge {after.price} {after.currency}",
                {"period_start": iso(step.at), "period_end": iso(after.period_end),
                 "expected_charge": str(after.price), "currency": after.currency},
                at=step.at))
        else:
            what = "expired" if sub.status == "active" else "service ended"
            changes.append(Change(after, "expired", f"{sub.id}: {what} on {_day(step.at)}",
                                  {"ended_at": iso(step.at), "clause": "cancel.end-of-term"},
                                  at=step.at))
    return changes
