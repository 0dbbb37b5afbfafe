"""The public JSON shapes of kscli's records (DESIGN section 7).

snake_case keys, ISO 8601 UTC times with ``Z``, money as decimal strings beside its
currency. Scripts depend on these shapes: add keys, never rename or remove one.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from kscli.domain.calendar import iso
from kscli.domain.model import Charge, Event, Incident, Subscription
from kscli.domain.subscriptions import display_status, ends_at


def sub_view(sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "account": sub.account,
        "vendor": sub.vendor,
        "product": sub.product,
        "plan": sub.plan,
        "kind": sub.kind,
        "price": str(sub.price),
        "currency": sub.currency,
        "started_at": iso(sub.started_at),
        "period_start": iso(sub.period_start),
        "period_end": iso(sub.period_end),
        "commitment_end": iso(sub.commitment_end),
        "auto_renew": sub.auto_renew,
        "status": sub.status,
        "display_status": display_status(sub),
        "ends_at": iso(ends_at(sub)),
        "channel": sub.channel,
        "partner_name": sub.partner_name,
        "partner_portal": sub.partner_portal,
        "region": sub.region,
        "disputed": sub.disputed,
        "cancelled_at": iso(sub.cancelled_at),
        "ended_at": iso(sub.ended_at),
        "refuse_service": sub.refuse_service,
    }


def event_view(event: Event) -> dict[str, Any]:
    return {
        "reference": event.reference,
        "at": iso(event.at),
        "subject": event.subject,
        "action": event.action,
        "detail": event.detail,
    }


def incident_view(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "sub_id": incident.sub_id,
        "summary": incident.summary,
        "opened_at": iso(incident.opened_at),
        "state": incident.state,
        "closed_at": iso(incident.closed_at),
    }


def charge_view(charge: Charge) -> dict[str, Any]:
    return {
        "id": charge.id,
        "posted_on": charge.posted_on.isoformat(),
        "description": charge.description,
        "amount": str(charge.amount),
        "currency": charge.currency,
        "sub_id": charge.sub_id,
        "statement": charge.statement,
        "imported_at": iso(charge.imported_at),
    }


def day(value: datetime | date | None) -> str:
    """A date as people read it in tables: 2026-11-22, or - for none."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    return value.isoformat()
