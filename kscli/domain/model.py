"""The records kscli keeps: plain, immutable data.

Records are NamedTuples: immutable, compared by value, and about ten times cheaper to
define than dataclasses, which matters on every command's start-up. A changed copy is
``record._replace(field=value)``.

Stored fields only. Everything that follows from them and the time of asking (the
date a subscription really ends, whether a key's window has lapsed) is computed by
the functions of the domain modules, never stored twice.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import NamedTuple

from kscli.domain import ids
from kscli.domain.errors import shown
from kscli.domain.currencies import MINOR_DIGITS
from kscli.domain.records import Field, Record, record_type

PLANS = ("monthly", "annual")
KINDS = ("subscription", "support", "software")
VOID = "void"  # entered by mistake (kscli.domain.corrections): kept, left out of everything
SUB_STATUSES = ("active", "cancelled", "expired", "refunded", "suspended", VOID)
LIVE_STATUSES = SUB_STATUSES[:-1]  # every status but void
# As tables show a subscription (timeline.display_status): an active one that will not
# renew is "ending", one whose start is still ahead "not-started".
ENDING = "ending"
NOT_STARTED = "not-started"
# an active one inside its free trial (``trial``) that will convert to paid at its end
TRIAL = "trial"
SUB_SHOWN_STATUSES = (SUB_STATUSES[0], TRIAL, ENDING, NOT_STARTED, *SUB_STATUSES[1:])
LICENSE_STATUSES = ("unactivated", "active", "deactivated", "revoked")
INCIDENT_STATES = ("open", "resolved", "exhausted")

_PLAN_MONTHS = re.compile(r"^([1-9][0-9]?)m$")


class PlanError(ValueError):
    """A plan that kscli does not know."""


def plan_months(plan: str) -> int | None:
    """Months in one billing period: monthly 1, annual 12, ``Nm`` N; ``once`` None."""
    if plan == "monthly":
        return 1
    if plan == "annual":
        return 12
    if plan == "once":
        return None
    match = _PLAN_MONTHS.match(plan)
    if not match:
        raise PlanError(f"{shown(plan)} is not a plan: use monthly, annual, or a number of months like 3m")
    return int(match.group(1))


def parse_plan(text: str) -> str:
    plan = (text or "").strip().lower()
    plan_months(plan)
    if plan == "12m":
        return "annual"
    if plan == "1m":
        return "monthly"
    return plan


def _known_plan(plan: str) -> bool:
    try:
        plan_months(plan)
    except PlanError:
        return False
    return True


def _not_negative(amount: str) -> bool:
    return not amount.startswith("-")


def _key_ending(text: str) -> bool:
    from kscli.domain.keys import ALPHABET

    return len(text) == 4 and set(text) <= set(ALPHABET)


def _duration(text: str) -> bool:
    from kscli.domain.calendar import CalendarError, parse_duration

    try:
        return str(parse_duration(text)) == text
    except CalendarError:
        return False


def _seats(count: int) -> bool:
    return count >= 1


CHANNELS = ("direct", "partner")
BY_HAND = "hand"
MATCHED_BY = (BY_HAND,)  # how a charge was matched, when not by the import (None)
SECRET_STORES = ("keyring", "ledger", "missing")  # where a key is kept (kscli.secrets)

# The records, field by field (kscli.domain.records says what each part means).
SUBSCRIPTION = Record("subs", "id", (
    Field("id", "text", required=True),
    Field("account", "text", required=True),
    Field("vendor", "text", required=True),
    Field("product", "text", required=True),
    Field("plan", "text", required=True, check=_known_plan,
          what="is not a plan: monthly, annual, once or Nm"),
    Field("kind", "text", required=True, choices=KINDS),
    Field("price", "dec", required=True, check=_not_negative, what="is negative"),
    Field("currency", "text", required=True, choices=MINOR_DIGITS),
    Field("started_at", "dt", required=True),
    Field("period_start", "dt", required=True),
    Field("period_end", "dt"),  # None for a one-time software sale
    Field("commitment_end", "dt", sparse=True),
    Field("auto_renew", "bool"),
    Field("status", "text", required=True, choices=SUB_STATUSES),
    Field("channel", "text", "direct", required=True, choices=CHANNELS, sparse=True),
    Field("partner_name", "text", None, sparse=True),
    Field("partner_portal", "text", None, sparse=True),
    Field("region", "text", None, sparse=True),
    Field("disputed", "bool", False, sparse=True),
    Field("cancelled_at", "dt", None, sparse=True),
    Field("ended_at", "dt", None, sparse=True),
    Field("refuse_service", "bool", False, sparse=True),
    Field("created_at", "dt", None, json=None),
    # the price history (`sub reprice`): {from (ISO time): price}, the start's price
    # first; empty while the price never changed (kscli.domain.timeline.price_at)
    Field("prices", "json", {}, json=None, since=4, sparse=True),
    # the plan history (`sub edit --plan`): {from (a renewal, ISO time): plan}, the
    # start's plan first; empty while the plan never changed (timeline.plan_at)
    Field("plans", "json", {}, json=None, since=4, sparse=True),
    # how statements write it (`--match`): {descriptor: when it was added (ISO time)};
    # a line matches by the vendor's name or any of these (public JSON: "match", a list)
    Field("matches", "json", {}, json=None, since=6, sparse=True),
    # the deadlines (kscli.domain.timeline: trial_end, cancel_by, fixed_end):
    # a free trial from ``started_at`` (a duration like 14d or 1m; the first charge is
    # at its end), a cancellation notice period (renew off or a cancellation must come
    # that long before a renewal to stop it), a fixed end (no renewal after it)
    Field("trial", "text", None, check=_duration, what="is not a duration like 14d or 1m",
          since=7, sparse=True),
    Field("notice", "text", None, check=_duration, what="is not a duration like 30d or 1m",
          since=7, sparse=True),
    Field("ends", "dt", None, since=7, sparse=True),
), prefix=ids.SUB, noun="subscription")

LICENSE = Record("licenses", "id", (
    Field("id", "text", required=True),
    Field("product", "text", required=True),
    Field("purchased_at", "dt", required=True),
    Field("key_hash", "text", required=True, json=None),
    Field("key_last4", "text", required=True, check=_key_ending,
          what="is not the last four symbols of a key"),
    Field("fingerprint", "text", required=True),
    Field("status", "text", "unactivated", required=True, choices=LICENSE_STATUSES),
    Field("status_reason", "text", None),
    Field("seats", "int", 1, required=True, check=_seats,
          what="is not a number of seats (1 or more)"),
    Field("activations", "acts", ()),
    Field("account", "text", None),
    Field("sub_id", "text", None),
    Field("issued", "bool", False),  # generated by `license issue` (handed to the customer)
    Field("secret_store", "text", "keyring", required=True, choices=SECRET_STORES),
    Field("created_at", "dt", None),
), prefix=ids.LICENSE, unique=("key_hash",), refs=(("sub_id", "subs"),), noun="license key")

INCIDENT = Record("incidents", "id", (
    Field("id", "text", required=True),
    Field("sub_id", "text", required=True),
    Field("summary", "text", required=True),
    Field("opened_at", "dt", required=True),
    Field("state", "text", "open", required=True, choices=INCIDENT_STATES),
    Field("closed_at", "dt", None),
), prefix=ids.INCIDENT, refs=(("sub_id", "subs"),), noun="incident")

CHARGE = Record("charges", "id", (
    Field("id", "text", required=True),
    Field("posted_on", "date", required=True),
    Field("description", "text", required=True),
    Field("amount", "dec", required=True),
    Field("currency", "text", required=True, choices=MINOR_DIGITS),
    Field("line_hash", "text", required=True, json=None),
    Field("sub_id", "text", None),
    Field("statement", "text", None),
    Field("imported_at", "dt", None),
    # "hand" when a person matched it (`charges match`) or unmatched it (`charges
    # unmatch`): an import then leaves its sub_id as it is; None: matched by the import
    Field("matched_by", "text", None, choices=MATCHED_BY, since=8),
), prefix=ids.CHARGE, unique=("line_hash",), refs=(("sub_id", "subs"),), since=2, noun="charge")

EVENT = Record("events", "reference", (
    Field("reference", "text", required=True),
    Field("at", "dt", required=True),
    Field("subject", "text", required=True),
    Field("action", "text", required=True),
    Field("detail", "json", {}),  # never mutated: events are replaced, not edited
), noun="event")


def _positive(rate: str) -> bool:
    return _not_negative(rate) and rate.strip("0.") != ""


# Euro reference rates (kscli.domain.rates): units of ``currency`` for one euro on ``day``,
# one row per day and currency, ``id`` is "DAY CURRENCY" (an import replaces a day's rate).
RATE = Record("rates", "id", (
    Field("id", "text", required=True),
    Field("day", "date", required=True),
    Field("currency", "text", required=True, choices=MINOR_DIGITS),
    Field("rate", "dec", required=True, check=_positive, what="is not a positive rate"),
    Field("source", "text", required=True),
), since=5, noun="exchange rate")


class Subscription(record_type("Subscription", SUBSCRIPTION)):  # type: ignore[misc]
    __slots__ = ()

    @property
    def months(self) -> int | None:
        return plan_months(self.plan)


class Activation(NamedTuple):
    machine: str
    at: datetime


class License(record_type("License", LICENSE)):  # type: ignore[misc]
    __slots__ = ()


class Incident(record_type("Incident", INCIDENT)):  # type: ignore[misc]
    __slots__ = ()


class Charge(record_type("Charge", CHARGE)):  # type: ignore[misc]
    __slots__ = ()


class Event(record_type("Event", EVENT)):  # type: ignore[misc]
    """One line of a record's history. Events are appended, never edited."""

    __slots__ = ()


class Rate(record_type("Rate", RATE)):  # type: ignore[misc]
    __slots__ = ()


RECORDS = {Subscription: SUBSCRIPTION, License: LICENSE, Incident: INCIDENT, Charge: CHARGE,
           Event: EVENT, Rate: RATE}
