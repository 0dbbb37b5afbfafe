"""`charges discover`: the recurring charges that match no subscription, and recording
them as subscriptions (the rule is kscli.domain.statement.discover's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kscli.domain import ids
from kscli.domain.calendar import start_of_day
from kscli.domain.model import Event, Subscription
from kscli.domain.statement.discover import READ_FIELDS, Proposal, discover
from kscli.store.base import Store

EVENT_SUBJECT = "charges"

ADDED_ACTION = "discovered-added"


def proposals(store: Store) -> list[Proposal]:
    """The proposals for the stored charges that match no subscription (read-only)."""
    with store.read() as ledger:
        # discover's answer does not depend on the charges' order
        return discover(ledger.charge_fields(READ_FIELDS, unmatched=True))


@dataclass(frozen=True)
class Added:
    """What `charges discover --add` recorded."""

    added: list[tuple[Proposal, Subscription, Event]]  # each with its `created` event
    skipped: list[Proposal]  # those that cannot be recorded (Proposal.why_not)
    matched: list[str]  # the charges that now match one of the new subscriptions
    event: Event | None  # the discovery's own event (None when nothing was added)
    warnings: tuple[str, ...] = ()  # as `sub add` gives them (one like it is active)


def add_proposals(store: Store, now: datetime, account: str = "default") -> Added:
    """Record every proposal (worked out again inside the write transaction, so that
    what is recorded is what the ledger holds) as a subscription, as `sub add` does:
    started at its first charge, the plan from the cadence, the vendor's text as its
    statement descriptor; then the unmatched charges are matched again against the new
    subscriptions (as an import re-matches), all in one transaction."""
    from kscli.domain.statement import StatementLine
    from kscli.domain.statement.matching import VendorIndex
    from kscli.services.subs import add_in

    with store.write() as ledger:
        unmatched = ledger.charges(unmatched=True, in_order=False)
        found = discover(unmatched)
        added: list[tuple[Proposal, Subscription, Event]] = []
        skipped: list[Proposal] = []
        warnings: list[str] = []
        for proposal in found:
            if proposal.plan is None:
                skipped.append(proposal)
                continue
            outcome = add_in(
                ledger, now, account=account, vendor=proposal.vendor, product=proposal.vendor,
                plan=proposal.plan, kind="subscription", price=proposal.amount,
                currency=proposal.currency, started_at=start_of_day(proposal.first),
                commitment_months=None, auto_renew=True, partner_name=None,
                partner_portal=None, region=None, matches=(proposal.vendor,))
            added.append((proposal, outcome.record, outcome.event))
            warnings.extend(outcome.warnings or ())
        if not added:
            return Added([], skipped, [], None)
        match = VendorIndex([sub for _, sub, _ in added]).match
        matched: list[str] = []
        for charge in unmatched:
            sub_id = match(StatementLine(0, charge.posted_on, charge.description,
                                         charge.amount, charge.currency, charge.line_hash))
            if sub_id is not None:
                ledger.save(charge._replace(sub_id=sub_id))
                matched.append(charge.id)
        matched.sort(key=ids.natural_key)
        event = ledger.append_event(EVENT_SUBJECT, ADDED_ACTION, {
            "subscriptions": [sub.id for _, sub, _ in added],
            "matched": len(matched), "charges": matched[:1000],
            "skipped": len(skipped)}, now)
    return Added(added, skipped, matched, event, tuple(warnings))
