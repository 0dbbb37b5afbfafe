"""Helpers that several test files use: one copy each (fixtures are in conftest.py)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from kscli.domain.model import Subscription

UTC = timezone.utc
T0 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)

# An event reference as kscli prints it: KS-20261122-7Q2K9M (Crockford base 32).
REF = re.compile(r"KS-\d{8}-[0-9A-HJKMNP-TV-Z]{6}")


def at(text: str) -> datetime:
    """An instant from ISO text; a ``Z`` or no offset at all means UTC."""
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def day_n(n: int, start: datetime) -> datetime:
    """Noon UTC of day N of a period that started at ``start``."""
    return datetime.combine(start.date() + timedelta(days=n), datetime.min.time(), UTC) \
        + timedelta(hours=12)


def make_sub(sub_id: str = "S-1001", *, started: datetime = T0, plan: str = "monthly",
             kind: str = "subscription", commitment: int | None = None, auto_renew: bool = True,
             partner: str | None = None, **changes) -> Subscription:
    """A new subscription as `sub add` makes it (Acme Cloud, 9.99 USD a month, account ada,
    started at ``started``), with any field then replaced by ``changes``."""
    from kscli.domain.subscriptions import new_subscription

    sub = new_subscription(
        sub_id, account="ada", vendor="Acme", product="Cloud", plan=plan, kind=kind,
        price=Decimal("9.99"), currency="USD", started_at=started, commitment_months=commitment,
        auto_renew=auto_renew, partner_name=partner,
        partner_portal="https://p.example" if partner else None, region=None, now=started,
    )
    return sub._replace(**changes) if changes else sub


def machine_zone(zone: str):
    """A generator for a fixture: the machine's time zone (TZ) is ``zone`` until the test
    ends, then what it was."""
    import os
    import time

    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    yield zone
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()
