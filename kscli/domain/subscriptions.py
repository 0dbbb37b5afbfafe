"""Subscription rules: create, cancel, auto-renewal, disputes and renewal.

Each function takes a Subscription and ``now`` and returns a Change (the new record,
the event to append, the sentence to print), raises Refused naming the clause that
forbids it, or raises NoChange when there is nothing to do.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

from kscli.domain.calendar import add_months, iso
from kscli.domain.errors import NoChange, Refused
from kscli.domain.model import Subscription, plan_months
from kscli.domain.timeline import (  # noqa: F401 - the time rules' one owner, re-exported
    display_status,
    ends_at,
    period_end_after,
    renews_at,
    state_at,
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
) -> Subscription:
    months = plan_months(plan)
    if kind == "software" or months is None:
        period_end = None
        auto_renew = False
    else:
        period_end = add_months(started_at, months)
    commitment_end = add_months(started_at, commitment_months) if commitment_months else None
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
    )


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
    message = f"{sub.id}: auto-renew off, active until {_day(end)}"
    detail: dict[str, Any] = {"clause": "cancel.end-of-term", "ends_at": iso(end)}
    if sub.commitment_end is not None and sub.period_end < sub.commitment_end:
        message += (
            f" (the commitment runs to {_day(sub.commitment_end)}: the plan keeps renewing until then)"
        )
        detail["clause"] = "cancel.commitment"
    return Change(new, "renew-off", message, _decided(detail, policy))


def renew_on(sub: Subscription, now: datetime, policy: Policy | None = None) -> Change:
    if sub.status != "active" or sub.period_end is None:
        again = (f"`kscli sub resume {sub.id}` undoes the cancellation while service runs"
                 if sub.status == "cancelled" else "add it again with `kscli sub add`")
        raise Refused(f"{sub.id} is {sub.status}: only an active subscription can renew ({again})",
                      code="not-active")
    if sub.auto_renew:
        raise NoChange(f"{sub.id}: auto-renew is already on; nothing changed", sub)
    new = sub._replace(auto_renew=True)
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
    detail["ends_at"] = iso(end)
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
