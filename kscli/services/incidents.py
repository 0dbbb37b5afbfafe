"""Support incidents: open, resolve, exhaust, list.

Incidents belong to support plans; their states (open, resolved, exhausted) are what
the refund rules of support plans judge [refund.not-started, refund.initial-incident].
"""

from __future__ import annotations

from datetime import datetime

from kscli.domain import ids
from kscli.domain.calendar import iso
from kscli.domain.corrections import refuse_void
from kscli.domain.errors import NoChange, Refused
from kscli.domain.model import Incident
from kscli.services import Outcome
from kscli.store.base import Store


# state -> (event action, past tense for messages)
_CLOSING = {
    "resolved": ("incident-resolved", "resolved"),
    "exhausted": ("incident-exhausted", "marked exhausted (every option tried, unresolved)"),
}


def open_incident(store: Store, sub_id: str, now: datetime, summary: str) -> Outcome:
    with store.write() as ledger:
        sub = ledger.require_sub(sub_id)
        refuse_void(sub)  # a record voided as a mistake takes nothing more
        if sub.kind != "support":
            raise Refused(
                f"{sub.id} is a {_kind_words(sub.kind)}, not a support plan: incidents are "
                "recorded on support plans only",
                code="not-support-plan",
                hint="add the plan with `kscli sub add --kind support`",
            )
        if sub.status in ("expired", "refunded", "suspended"):
            raise Refused(
                f"{sub.id} is {sub.status}: an incident can be opened only while the support "
                "plan is in service",
                code="not-in-service",
            )
        incident = Incident(ledger.next_id(ids.INCIDENT), sub.id, summary, now)
        ledger.add(incident)
        event = ledger.append_event(
            incident.id, "incident-opened", {"sub_id": sub.id, "summary": summary}, now
        )
    return Outcome(incident, f"{incident.id}: opened on {sub.id} ({sub.vendor} {sub.product})",
                   event)


def close_incident(store: Store, incident_id: str, now: datetime, state: str) -> Outcome:
    """Move an open incident to ``resolved`` or ``exhausted``; a closed one stays closed."""
    action, words = _CLOSING[state]
    with store.write() as ledger:
        incident = ledger.require_incident(incident_id)
        try:
            changed = _close(incident, state, now)
        except NoChange as nothing:
            return Outcome(incident, nothing.message, None)
        ledger.save(changed)
        event = ledger.append_event(
            incident.id, action, {"sub_id": incident.sub_id, "state": state}, now
        )
    return Outcome(changed, f"{incident.id}: {words}", event)


def _close(incident: Incident, state: str, now: datetime) -> Incident:
    if incident.state == state:
        raise NoChange(f"{incident.id} is already {state}; nothing changed", incident)
    if incident.state != "open":
        when = f" on {iso(incident.closed_at)[:10]}" if incident.closed_at else ""
        raise Refused(
            f"{incident.id} was already closed as {incident.state}{when}: a closed incident "
            f"cannot become {state}",
            code="incident-closed",
            hint=f"open a new incident on {incident.sub_id} with `kscli incident open`",
        )
    return incident._replace(state=state, closed_at=now)


def list_incidents(store: Store, sub_id: str | None = None,
                   states: tuple[str, ...] = ()) -> list[Incident]:
    with store.read() as ledger:
        if sub_id:
            ledger.require_sub(sub_id)
        incidents = list(ledger.incidents(sub_id))
    if states:
        incidents = [inc for inc in incidents if inc.state in states]
    return sorted(incidents, key=lambda inc: (inc.opened_at, ids.natural_key(inc.id)))


def _kind_words(kind: str) -> str:
    return {"subscription": "subscription (recurring service)",
            "software": "one-time software sale"}.get(kind, kind)
