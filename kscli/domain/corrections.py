"""Corrections: edit a subscription's facts or a key's, void a mistaken record, resume
a cancellation, a new price or plan from a date.

Like the rules of kscli.domain.subscriptions, each function takes a Subscription and
``now`` and returns a Change (the new record, the event with the fields before and
after, the sentence to print), raises Refused naming the clause or state that forbids
it, or NoChange when there is nothing to do.

A void record is one entered by mistake: it keeps its history (the void event says
why and what it was), and every listing, total, renewal, `sweep` and charge matching
leaves it out. It can no longer change (``refuse_void``, exit 4 naming ``void``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Sequence

from kscli.domain.calendar import iso
from kscli.domain.errors import NoChange, Refused
from kscli.domain.model import VOID, License, Subscription
from kscli.domain.subscriptions import Change, _decided, _day, _descriptors, at_the_partner

if TYPE_CHECKING:
    from kscli.domain.licenses import Change as LicenseChange
    from kscli.domain.policy import Policy

# The facts `sub edit` corrects (the record's field names), in the order shown.
EDITABLE = ("vendor", "product", "account", "region", "partner_name", "partner_portal")


def _matches(sub: Subscription, now: datetime, match: Sequence[str],
             no_match: Sequence[str]) -> dict[str, str] | None:
    """The statement descriptors after adding ``match`` and removing ``no_match`` (any
    case), or None when they do not change. Removing one it does not have is refused."""
    if not match and not no_match:
        return None
    held = {text.casefold(): text for text in sub.matches}
    for text in _descriptors(no_match):
        if text.casefold() not in held:
            raise Refused(f"{sub.id} has no match {text!r} (it has "
                          f"{', '.join(map(repr, sorted(sub.matches))) or 'none'})",
                          code="no-such-match")
    gone = {text.casefold() for text in _descriptors(no_match)}
    kept = {text: at for text, at in sub.matches.items() if text.casefold() not in gone}
    for text in _descriptors(match):
        if text.casefold() not in {t.casefold() for t in kept}:
            kept[text] = iso(now)
    return None if kept == sub.matches else kept


def refuse_void(sub: Subscription) -> None:
    """A void record does not change: exit 4 naming ``void``."""
    if sub.status == VOID:
        raise Refused(
            f"{sub.id} is void: a record voided as entered by mistake cannot change "
            "(add the right one with `kscli sub add`; `kscli sub history "
            f"{sub.id}` shows why it was voided)",
            code="void",
        )


def edit(sub: Subscription, now: datetime, changes: dict[str, Any],
         plan: str | None = None, match: Sequence[str] = (),
         no_match: Sequence[str] = (), terms: dict[str, Any] | None = None) -> Change:
    """The record with the given facts (EDITABLE; None: unchanged) corrected; a partner
    name makes the channel ``partner``. ``plan``: a new plan from the next renewal
    (the current period is not billed again: no proration). ``terms``: the free
    trial, notice period and fixed end set or cleared (subscriptions.edit_terms).
    ``sub`` stands at ``now``."""
    refuse_void(sub)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    new = {name: value for name, value in changes.items()
           if value is not None and getattr(sub, name) != value}
    if new.get("partner_name") and sub.channel != "partner":
        new["channel"] = "partner"
    before = {name: getattr(sub, name) for name in new}
    after = dict(new)
    changed = [f"{name.replace('_', ' ')} {before[name]!r} -> {after[name]!r}" for name in new]
    matches = _matches(sub, now, match, no_match)
    if matches is not None:
        new["matches"] = matches
        before["match"], after["match"] = sorted(sub.matches), sorted(matches)
        changed.append(f"match {sorted(sub.matches)} -> {sorted(matches)}")
    if terms:
        from kscli.domain.subscriptions import edit_terms

        for name, value in edit_terms(sub, terms).items():
            new[name] = value
            was = getattr(sub, name)
            before[name] = iso(was) if isinstance(was, datetime) else was
            after[name] = iso(value) if isinstance(value, datetime) else value
            if name == "period_end":
                changed.append(f"period end {_day(was)} -> {_day(value)}")
            else:
                shown = _day(value) if isinstance(value, datetime) else value
                old = _day(was) if isinstance(was, datetime) else was
                changed.append(f"{name} {old or 'none'} -> {shown or 'none'}")
    detail: dict[str, Any] = {}
    plans = None if plan is None else _next_plan(sub, plan)
    if plans is not None:
        from kscli.domain.timeline import plan_at

        old = plan_at(sub, sub.period_end)  # type: ignore[arg-type]
        before["plan"], after["plan"] = old, plan
        detail["plan_from"] = iso(sub.period_end)
        changed.append(f"plan {old} -> {plan} from the renewal on {_day(sub.period_end)} "
                       "(the current period is not billed again; the price stays "
                       f"{sub.price} {sub.currency} a period unless `kscli sub reprice "
                       f"{sub.id}` records another)")
    if not changed:
        raise NoChange(f"{sub.id}: already so; nothing changed", sub)
    record = sub._replace(**new) if plans is None else sub._replace(**new, plans=plans)
    return Change(record, "edited", f"{sub.id}: edited {', '.join(changed)}",
                  {"before": before, "after": after, **detail})


def _next_plan(sub: Subscription, plan: str) -> dict[str, str] | None:
    """The plan history with ``plan`` from the next renewal; None when that is already
    the plan then."""
    from kscli.domain.errors import BadValue
    from kscli.domain.model import plan_months
    from kscli.domain.timeline import plan_at, plan_length

    if plan_months(plan) is None:
        raise BadValue(f"--plan: only a one-time software sale (--kind software) has plan {plan}")
    if not plan_length(sub) or sub.period_end is None:
        raise Refused(f"{sub.id} is a one-time sale: it has no periods to bill on another plan",
                      code="no-periods")
    if sub.status != "active":
        raise Refused(f"{sub.id} is {sub.status}: it does not renew, so a plan from the next "
                      "renewal would never start", code="not-active")
    if plan_at(sub, sub.period_end) == plan:
        return None
    plans = dict(sub.plans) or {iso(sub.started_at): sub.plan}
    plans[iso(sub.period_end)] = plan
    return plans


def void(sub: Subscription, now: datetime, reason: str) -> Change:
    """The record marked void (entered by mistake), its status before kept in the event."""
    if sub.status == VOID:
        raise NoChange(f"{sub.id} is already void; nothing changed", sub)
    detail = {"reason": reason, "before": {"status": sub.status}, "after": {"status": VOID}}
    return Change(sub._replace(status=VOID, auto_renew=False), "voided",
                  f"{sub.id}: void ({reason}); left out of listings, totals, renewals, "
                  "sweep and charge matching, its history kept", detail)


def resume(sub: Subscription, now: datetime, *, at_partner: str | None = None,
           policy: Policy | None = None) -> Change:
    """Undo a cancellation while service still runs: active again, auto-renew on.

    ``sub`` stands at ``now`` (renewals and expiries due recorded first), so a
    cancellation whose service has ended is expired here and refused with its date.
    A partner purchase is resumed in the partner's portal and recorded with
    ``at_partner`` [cancel.partner], as a cancellation is.
    """
    refuse_void(sub)
    if sub.status == "active":
        raise NoChange(f"{sub.id} is not cancelled; nothing changed", sub)
    if sub.status != "cancelled":
        end = sub.ended_at or sub.period_end
        when = f" on {_day(end)}" if end is not None else ""
        raise Refused(
            f"{sub.id} is {sub.status}: its service ended{when}, so there is no cancellation "
            "to undo (add it again with `kscli sub add`)",
            code="not-cancelled",
        )
    at_the_partner(sub, at_partner, "resume")
    new = sub._replace(status="active", auto_renew=True, cancelled_at=None,
                       ended_at=None)  # (a late cancellation's end goes with it)
    detail: dict[str, Any] = {"clause": "cancel.end-of-term",
                              "before": {"status": sub.status, "cancelled_at": iso(sub.cancelled_at)},
                              "after": {"status": "active", "auto_renew": True}}
    if at_partner:
        detail["partner_reference"] = at_partner
        detail["clause"] = "cancel.partner"
    message = (f"{sub.id}: cancellation undone, active again with auto-renew on, next renewal "
               f"{_day(sub.period_end)} [cancel.end-of-term]")
    return Change(new, "resumed", message, _decided(detail, policy))


def same_subscription(a: Subscription, b: Subscription) -> bool:
    """The same vendor, product and account: the same words, whatever the case, accents
    and punctuation."""
    from kscli.domain.words import words

    return all(words(x) == words(y) for x, y in ((a.vendor, b.vendor), (a.product, b.product),
                                               (a.account, b.account)))


def duplicate_warning(sub: Subscription, others: list[Subscription]) -> str:
    """What `sub add` says when ``others`` (active, the same vendor, product and
    account) were already there: it still adds."""
    ids = ", ".join(o.id for o in others)
    return (f"{ids} ({sub.vendor} {sub.product} for {sub.account}) is already active: "
            f"if {sub.id} is a duplicate, `kscli sub void {sub.id} --reason duplicate` "
            "removes it")


def reprice(sub: Subscription, now: datetime, price_text: str,
            since: datetime | None = None) -> Change:
    """A new price in force from ``since`` (default: the start of the next period),
    kept in the price history (kscli.domain.timeline.price_at). ``sub`` stands at
    ``now``. A date inside the current period is allowed: that period was billed at
    the old price (no re-billing), and the message says so. Refused (exit 2) before
    the subscription started; refused (exit 4) for a plan with no periods or an
    ended subscription."""
    from kscli.domain.errors import BadValue
    from kscli.domain.money import MoneyError, parse_price
    from kscli.domain.timeline import ENDED, billed_price, plan_length, price_at

    refuse_void(sub)
    try:
        price = parse_price(price_text, sub.currency)
    except MoneyError as exc:
        raise BadValue(f"--price: {exc}") from None
    if not plan_length(sub) or sub.period_end is None:
        raise Refused(f"{sub.id} is a one-time sale: it has no periods to bill at a new price",
                      code="no-periods")
    if sub.status in ENDED:
        raise Refused(f"{sub.id} is {sub.status}: it bills no more, so no price is in force "
                      "(add the new terms with `kscli sub add`)", code="not-active")
    when = sub.period_end if since is None else since
    if when < sub.started_at:
        raise BadValue(f"--from {_day(when)} is before {sub.id} started ({_day(sub.started_at)})",
                       hint=f"give a date from {_day(sub.started_at)} on")
    old = price_at(sub, when)
    if old == price:
        raise NoChange(f"{sub.id}: the price from {_day(when)} is already {price} "
                       f"{sub.currency}; nothing changed", sub)
    prices = dict(sub.prices) or {iso(sub.started_at): str(sub.price)}
    prices[iso(when)] = str(price)
    new = sub._replace(prices=prices)
    new = new._replace(price=price_at(new, now))
    message = f"{sub.id}: price {price} {sub.currency} from {_day(when)} (was {old})"
    if when < sub.period_end and when > sub.period_start:
        message += (f"; the current period, from {_day(sub.period_start)}, was billed at "
                    f"{billed_price(sub)} {sub.currency} and is not billed again")
    elif when > sub.period_end:
        message += f"; periods starting before then bill {old} {sub.currency}"
    return Change(new, "repriced", message,
                  {"from": iso(when), "before": {"price": str(old)}, "after": {"price": str(price)},
                   "currency": sub.currency})


def edit_license(lic: License, now: datetime, changes: dict[str, Any]) -> LicenseChange:
    """A key with its account, subscription or seats corrected (None: unchanged). Seats
    never go below the machines it is active on (deactivate one first)."""
    from kscli.domain.licenses import Change as LicenseChange, seats_used  # keys only

    new = {name: value for name, value in changes.items()
           if value is not None and getattr(lic, name) != value}
    if not new:
        raise NoChange(f"{lic.id}: already so; nothing changed", lic)
    used = seats_used(lic)
    if "seats" in new and new["seats"] < used:
        raise Refused(
            f"{lic.id} is active on {used} machines: it cannot have {new['seats']} seat"
            f"{'s' if new['seats'] != 1 else ''} (`kscli license deactivate {lic.id} "
            "--machine NAME` frees one first)", code="seats-in-use")
    before = {name: getattr(lic, name) for name in new}
    changed = ", ".join(f"{name.replace('_id', '')} {before[name]!r} -> {value!r}"
                        for name, value in new.items())
    return LicenseChange(lic._replace(**new), "edited", f"{lic.id}: edited {changed}",
                         {"before": before, "after": dict(new)})
