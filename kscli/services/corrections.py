"""Correcting the ledger: `sub edit`, `sub void`, `sub resume`, and the warning of
`sub add` about a subscription that is already there."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kscli.domain import corrections as rules
from kscli.domain.errors import NoChange
from kscli.services import Outcome
from kscli.services.subs import apply_change
from kscli.store.base import Store


def edit(store: Store, sub_id: str, now: datetime, plan: str | None = None,
         match: tuple[str, ...] = (), no_match: tuple[str, ...] = (),
         terms: dict[str, Any] | None = None, **changes: Any) -> Outcome:
    """Correct a subscription's facts (kscli.domain.corrections.EDITABLE), its statement
    descriptors, its free trial, notice period and fixed end (``terms``), and change
    its plan from the next renewal."""
    return apply_change(store, sub_id, now, lambda sub, when: rules.edit(
        sub, when, changes, plan, match, no_match, terms))


def resume(store: Store, sub_id: str, now: datetime, *, at_partner: str | None = None,
           policy=None) -> Outcome:
    return apply_change(store, sub_id, now, lambda sub, when: rules.resume(
        sub, when, at_partner=at_partner, policy=policy))


def void(store: Store, sub_id: str, now: datetime, reason: str) -> Outcome:
    """Void a subscription entered by mistake.

    Its charges are unmatched (they match the right subscription when their statement
    is imported again, and `charges list --unmatched` shows them); its license keys
    stay tied to it, as real keys handed out. The event names both.
    """
    with store.write() as ledger:
        sub = ledger.require_sub(sub_id)
        try:
            change = rules.void(sub, now, reason)
        except NoChange as nothing:
            return Outcome(sub, nothing.message, None)
        charges = list(ledger.charges(sub_id=sub.id))
        for charge in charges:
            ledger.save(charge._replace(sub_id=None))
        keys = [lic.id for lic in ledger.licenses(sub_id=sub.id)]
        detail = {**change.detail, "charges_unmatched": [c.id for c in charges],
                  "licenses_kept": keys}
        message = change.message
        if charges:
            message += f"; charges {', '.join(c.id for c in charges)} unmatched"
        if keys:
            message += f"; license keys {', '.join(keys)} stay tied to it"
        ledger.save(change.sub)
        event = ledger.append_event(sub.id, change.action, detail, now)
    return Outcome(change.sub, message, event)


def reprice(store: Store, sub_id: str, now: datetime, price: str,
            since: datetime | None = None) -> Outcome:
    """Record a new price in force from ``since`` (default: the next period)."""
    return apply_change(store, sub_id, now,
                        lambda sub, when: rules.reprice(sub, when, price, since))


def edit_license(store: Store, target: Any, now: datetime, *, account: str | None = None,
                 sub_id: str | None = None, seats: int | None = None) -> Outcome:
    """Correct a key's account, subscription or seats. A key moved to a subscription
    takes its account unless ``account`` is given, as `license add` does."""
    from kscli.services.licenses import _record, _sub_account, find

    with store.write() as ledger:
        lic = find(ledger, target)
        if sub_id is not None:
            account = _sub_account(ledger, sub_id, account)  # exit 3 or 4 (void)
        try:
            change = rules.edit_license(lic, now, {"account": account, "sub_id": sub_id,
                                                   "seats": seats})
        except NoChange as nothing:
            return Outcome(lic, nothing.message, None)
        event = _record(ledger, change, now)
    return Outcome(change.license, change.message, event)
