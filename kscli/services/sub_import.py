"""`sub import`: subscriptions from a CSV list or a Wallos export, all or nothing.

``read_subscriptions`` reads the file (its format given or recognised) and maps every
record (kscli.domain.sub_import) before anything touches the ledger;
``import_subscriptions`` then records them in one write transaction, as `sub add` (and,
for a cancelled one, `sub cancel`) records them, with one event for the import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kscli.domain.errors import BadValue
from kscli.domain.model import Event, Subscription, plan_months
from kscli.domain.sub_import import (
    ROLES,
    WALLOS_FIELDS,
    Mapped,
    map_records,
    wallos_csv_rows,
)
from kscli.store.base import Store

FORMATS = ("auto", "csv", "wallos-json", "wallos-csv")
EVENT_SUBJECT = "subs"
EVENT_ACTION = "subs-imported"


@dataclass(frozen=True)
class Read:
    format: str
    mapped: Mapped


def _format_of(text: str) -> str:
    start = text.lstrip()[:1]
    if start in ("{", "["):
        return "wallos-json"
    first = text.splitlines()[0] if text.strip() else ""
    names = {name.strip() for name in first.split(",")}
    return "wallos-csv" if {"Name", "Payment Cycle", "Price"} <= names else "csv"


def _wallos_json(text: str, source: str) -> list[dict]:
    import json

    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise BadValue(f"{source}: the JSON cannot be read ({exc})",
                       hint="export it again from Wallos") from None
    if isinstance(doc, dict) and isinstance(doc.get("subscriptions"), list):
        doc = doc["subscriptions"]
    if not isinstance(doc, list):
        raise BadValue(f"{source}: a Wallos export is a list of subscriptions (or an object "
                       "with one under \"subscriptions\"); this file holds neither")
    for number, item in enumerate(doc, start=1):
        if not isinstance(item, dict):
            raise BadValue(f"{source}: record {number} is not an object of fields")
    return doc


def _csv_records(text: str, source: str, delimiter: str | None,
                 columns: dict[str, str]) -> list[dict]:
    import io

    from kscli.domain.statement.columns import DELIMITERS, _read

    if not text.strip():
        raise BadValue(f"{source}: the file is empty", hint="give a header line and one line "
                       "per subscription")
    first = text.splitlines()[0]
    used = delimiter or max(DELIMITERS, key=first.count)
    rows = [row for _, row in _read(io.StringIO(text, newline=""), used)]
    header = [cell.strip().casefold() for cell in rows[0]]
    wanted = {role: name.casefold() for role, name in columns.items()}
    for role in ("vendor", "price"):
        if wanted[role] not in header:
            raise BadValue(f"{source}: no column '{columns[role]}' for the {role} (the header "
                           f"has: {', '.join(cell.strip() for cell in rows[0])})",
                           hint=f"name it with --{role}-col")
    return [dict(zip(header, row)) for row in rows[1:] if any(cell.strip() for cell in row)]


def read_subscriptions(data: bytes, source: str, now: datetime, *, fmt: str = "auto",
                       columns: dict[str, str] | None = None, delimiter: str | None = None,
                       encoding: str | None = None, default_currency: str | None = None,
                       date_format: str | None = None) -> Read:
    """Every record of the file mapped (or its problems named); nothing is written."""
    from kscli.domain.statement.decoding import decode_statement
    from kscli.domain.sub_import import CSV_DEFAULTS

    text = decode_statement(data, encoding)
    if fmt == "auto":
        fmt = _format_of(text)
    if fmt == "wallos-json":
        records = _wallos_json(text, source)
    elif fmt == "wallos-csv":
        records = wallos_csv_rows([line.split(",") for line in text.splitlines()])
        if records and "Name" not in records[0]:
            raise BadValue(f"{source}: a Wallos CSV starts with a header naming its fields "
                           f"({', '.join(WALLOS_FIELDS[:3])}, ...)")
    else:
        given = {**CSV_DEFAULTS, **{k: v for k, v in (columns or {}).items() if v}}
        records = _csv_records(text, source, delimiter, given)
        columns = {role: name.casefold() for role, name in given.items() if role in ROLES}
    mapped = map_records(records, wallos=fmt != "csv", columns=columns,
                         default_currency=default_currency, date_format=date_format, now=now,
                         months_of=plan_months)
    return Read(fmt, mapped)


@dataclass(frozen=True)
class Imported:
    subs: list[Subscription]  # as recorded (a cancelled one with its cancellation)
    event: Event | None
    skipped: list[str]  # a line each: no name, or already in the ledger
    records: dict[int, Subscription] = None  # type: ignore[assignment]  # by record number


def _already(ledger, sub: Subscription, now: datetime) -> list[Subscription]:
    """The subscriptions the ledger holds that are this record: one active now with the
    same vendor, product and account (as `sub add` warns of), or one of those started at
    the same time (the same record imported before, cancelled since)."""
    from kscli.domain.corrections import same_subscription
    from kscli.domain.model import LIVE_STATUSES
    from kscli.services.subs import same_active

    found = same_active(ledger, sub, now)
    if found:
        return found
    return [other for other in ledger.subs(status=LIVE_STATUSES, vendor=sub.vendor,
                                           product=sub.product, account=sub.account)
            if same_subscription(other, sub) and other.started_at == sub.started_at]


def _there(ledger, new, now: datetime) -> str | None:
    """The line saying a record is in the ledger already, or None."""
    from kscli.domain import subscriptions as rules

    there = _already(ledger, rules.new_subscription("S-0", now=now, **new.fields), now)
    if not there:
        return None
    return (f"record {new.record} ({new.fields['vendor']}): skipped, {there[0].id} is "
            "already in the ledger")


def already_there(store: Store, now: datetime, read: Read) -> dict[int, str]:
    """For a dry run: the records the ledger holds already (by record number), with the
    line the import would say (read-only; a missing ledger holds none)."""
    if not read.mapped.subs or not store.exists():
        return {}
    with store.read() as ledger:
        found = {new.record: _there(ledger, new, now) for new in read.mapped.subs}
    return {record: line for record, line in found.items() if line}


def import_subscriptions(store: Store, now: datetime, read: Read, source: str) -> Imported:
    """Record every mapped subscription in one transaction (the caller has checked that
    no record has a problem), and one event for the import."""
    from kscli.domain import subscriptions as rules
    from kscli.services.subs import add_in

    if not read.mapped.subs:
        return Imported([], None, list(read.mapped.skipped), {})
    with store.write() as ledger:
        recorded: list[Subscription] = []
        added: dict[int, Subscription] = {}
        notes: dict[str, str] = {}
        skipped = list(read.mapped.skipped)
        for new in read.mapped.subs:
            there = _there(ledger, new, now)
            if there:  # imported before (or added by hand): once is enough
                skipped.append(there)
                continue
            sub = add_in(ledger, now, **new.fields).record
            if new.cancelled_at is not None:
                when = new.cancelled_at
                due = rules.due_transitions(sub, when)
                for step in due:  # the periods it ran before the cancellation
                    ledger.append_event(sub.id, step.action, step.detail, now, step.at)
                if due:
                    sub = due[-1].sub
                change = rules.cancel(sub, when)
                sub = change.sub
                ledger.save(sub)
                ledger.append_event(sub.id, change.action, change.detail, now, when)
            if new.notes:
                notes[sub.id] = new.notes
            recorded.append(sub)
            added[new.record] = sub
        detail = {"source": source, "format": read.format, "count": len(recorded),
                  "subscriptions": [sub.id for sub in recorded][:1000],
                  "skipped": skipped}
        if notes:
            detail["notes"] = notes
        if not recorded:
            return Imported([], None, skipped, {})
        event = ledger.append_event(EVENT_SUBJECT, EVENT_ACTION, detail, now)
    return Imported(recorded, event, skipped, added)
