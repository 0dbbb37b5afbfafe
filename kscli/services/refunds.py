"""Refund use cases: check eligibility (read-only) and record a refund request.

Both load the subscription with its incidents, license keys and events, and let the
pure policy engine (kscli.domain.refund) decide. A request decides again inside its
write transaction, so what is recorded is what the policy said at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kscli.domain import subscriptions as rules
from kscli.domain.calendar import iso
from kscli.domain.corrections import refuse_void
from kscli.domain.errors import BadValue, Refused
from kscli.domain.model import Event, Incident, License, Subscription
from kscli.domain.policy import Policy, normalize_ground
from kscli.domain.refund import ALREADY_REFUNDED, RefundDecision, decide_refund, discretion_override
from kscli.domain.timeline import state_at
from kscli.services import check_clock
from kscli.store.base import Ledger, Store

REFUSE_SERVICE_CLAUSE = "refund.not-started"
REFUSE_SERVICE_NOTE = "the customer may be refused further service [refund.not-started]"


@dataclass(frozen=True)
class Facts:
    """What the policy decides on: a subscription as it stands at ``now``, and its records."""

    sub: Subscription
    incidents: tuple[Incident, ...]
    licenses: tuple[License, ...]
    events: tuple[Event, ...]
    transitions: tuple[rules.Change, ...] = ()  # renewals or expiry due but not yet swept


@dataclass(frozen=True)
class RefundOutcome:
    """A refund request: the decision, and what was recorded if it was granted."""

    sub: Subscription
    decision: RefundDecision
    event: Event | None = None
    revoked: tuple[str, ...] = ()  # ids of the license keys revoked
    overrides: RefundDecision | None = None  # the policy's own answer, for a discretion refund

    @property
    def changed(self) -> bool:
        return self.event is not None


def facts_at(ledger: Ledger, sub_id: str, now: datetime, *, past: bool = True) -> Facts:
    """The facts about a subscription as they stood (or will stand) at ``now``.

    The subscription is its state at ``now`` (kscli.domain.timeline): renewals and
    expiry due by ``now`` count whether or not `sweep` has run. With ``past`` (a
    question, which may be asked --as-of an earlier time), a ``now`` in an earlier
    billing period asks about that period, and a cancellation, refund, incident, key
    or event recorded after ``now`` was not a fact yet. So the same facts
    always give the same answer, whatever the time the question is asked. A request
    (``past=False``) acts on the ledger as it is.
    """
    sub = ledger.require_sub(sub_id)
    refuse_void(sub)  # a record voided as a mistake takes nothing more
    if now < sub.started_at and now < (sub.created_at or sub.started_at):
        raise BadValue(
            f"{iso(now)[:10]} is before {sub.id} started ({iso(sub.started_at)[:10]}) and before "
            "it was recorded: there is nothing to decide yet",
            hint="ask about a date from the start of the subscription on",
        )
    history = list(ledger.events(sub_id))
    if not past:
        transitions = tuple(rules.due_transitions(sub, now))
        sub = transitions[-1].sub if transitions else sub
        return Facts(sub, tuple(ledger.incidents(sub_id)),
                     tuple(ledger.licenses(sub_id=sub_id)), tuple(history), transitions)
    sub = state_at(sub, now, history).sub

    incidents = []
    for incident in ledger.incidents(sub_id):
        if incident.opened_at > now:
            continue
        if incident.closed_at is not None and incident.closed_at > now:
            incident = incident._replace(state="open", closed_at=None)
        incidents.append(incident)
    licenses = [
        lic for lic in ledger.licenses(sub_id=sub_id)
        if (lic.created_at or lic.purchased_at) <= now
    ]
    events = [event for event in history if event.at <= now]
    return Facts(sub, tuple(incidents), tuple(licenses), tuple(events))


def decide(facts: Facts, now: datetime, policy: Policy, ground: str | None) -> RefundDecision:
    return decide_refund(
        facts.sub, now=now, policy=policy, incidents=facts.incidents, licenses=facts.licenses,
        events=facts.events, ground=ground,
    )


def check_refund(store: Store, sub_id: str, now: datetime, policy: Policy,
                 ground: str | None = None) -> tuple[Subscription, RefundDecision]:
    """Whether a refund of ``sub_id`` would be granted at ``now``; changes nothing."""
    with store.read() as ledger:
        facts = facts_at(ledger, sub_id, now)
    return facts.sub, decide(facts, now, policy, ground)


def request_refund(store: Store, sub_id: str, now: datetime, policy: Policy, *,
                   ground: str | None = None, reason: str | None = None,
                   discretion: bool = False) -> RefundOutcome:
    """Decide and, if eligible, record the refund, all in one write transaction.

    Granted: the subscription becomes ``refunded`` and its service ends now, its license
    keys are revoked, and one event keeps the amount, the clause, the reasons, the
    expected credit dates and the policy version. Not granted: nothing changes.
    ``discretion`` records a manual override under refund.discretion; it needs a reason
    (``discretion_reason``: refused before anything is written).
    """
    why = (reason or "").strip()
    with store.write() as ledger:
        check_clock(ledger, now, trust_clock=False)  # a clock set back reopens windows
        facts = facts_at(ledger, sub_id, now, past=False)
        verdict = decide(facts, now, policy, ground)
        overrides = None
        if discretion:
            if verdict.error == ALREADY_REFUNDED:
                raise Refused(f"{sub_id}: {verdict.message}", code=ALREADY_REFUNDED,
                              clause=verdict.clause)
            overrides = verdict
            verdict = discretion_override(facts.sub, now=now, policy=policy, reason=why)
        if not verdict.eligible:
            return RefundOutcome(facts.sub, verdict)

        # Renewals or expiry that fell due before the request are recorded first, as
        # `sweep` would have, so the history shows the period that was refunded.
        for change in facts.transitions:
            ledger.append_event(sub_id, change.action, change.detail, now, change.at)

        refunded = facts.sub._replace(
            status="refunded", auto_renew=False, ended_at=now,
            refuse_service=facts.sub.refuse_service or verdict.clause == REFUSE_SERVICE_CLAUSE,
        )
        ledger.save(refunded)
        revoked = _revoke_licenses(ledger, facts.licenses, now)
        detail = _event_detail(verdict, refunded, now, ground, why, overrides, revoked)
        event = ledger.append_event(sub_id, "refunded", detail, now)
    return RefundOutcome(refunded, verdict, event, revoked, overrides)


def _revoke_licenses(ledger: Ledger, licenses: tuple[License, ...],
                     now: datetime) -> tuple[str, ...]:
    """Revoke every key of the refunded subscription not revoked yet; their ids.

    Each revocation is recorded the way `kscli license` records it (an event on the key).
    """
    from kscli.services.licenses import revoke_in

    return tuple(
        lic.id for lic in licenses if revoke_in(ledger, lic.id, now, reason="refunded") is not None
    )


def _event_detail(decision: RefundDecision, sub: Subscription, now: datetime, ground: str | None,
                  reason: str, overrides: RefundDecision | None,
                  revoked: tuple[str, ...]) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "clause": decision.clause,
        "amount": str(decision.to_dict()["amount"]),
        "currency": decision.currency,
        "period_start": iso(sub.period_start),
        "policy_version": decision.policy_version,
        "credit_from": decision.credit_from.isoformat() if decision.credit_from else None,
        "credit_by": decision.credit_by.isoformat() if decision.credit_by else None,
        "reasons": [finding.to_dict() for finding in decision.reasons],
        "ended_at": iso(now),
    }
    if ground:
        detail["ground"] = normalize_ground(ground)
    if reason:
        detail["reason"] = reason
    if overrides is not None:
        detail["manual"] = True
        detail["overrides"] = {"clause": overrides.clause, "eligible": overrides.eligible}
    if decision.clause == REFUSE_SERVICE_CLAUSE:
        detail["refuse_service"] = True
        detail["note"] = REFUSE_SERVICE_NOTE
    if revoked:
        detail["revoked_licenses"] = list(revoked)
    return detail
