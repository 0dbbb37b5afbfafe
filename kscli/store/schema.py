"""The ledger's tables, their columns, and the codecs between rows and records.

One description serves every backend: the SQL backends create tables from it and the
JSON backend keeps rows under the same column names. A row is a tuple of str, int or
None in column order; times are ISO 8601 UTC text (which sorts as time does), money is
decimal text, flags are 0 or 1.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, NamedTuple

from kscli.domain.calendar import from_iso, iso
from kscli.domain.model import Activation, Charge, Event, Incident, License, Subscription


class Table(NamedTuple):
    name: str
    key: str
    columns: tuple[tuple[str, str], ...]  # (column, kind)
    record: type | None
    unique: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    since: int = 1  # the schema version that added the table
    refs: tuple[tuple[str, str], ...] = ()  # (column, table it refers to)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


SUBS = Table(
    "subs",
    "id",
    (
        ("id", "text"), ("account", "text"), ("vendor", "text"), ("product", "text"),
        ("plan", "text"), ("kind", "text"), ("price", "dec"), ("currency", "text"),
        ("started_at", "dt"), ("period_start", "dt"), ("period_end", "dt"),
        ("commitment_end", "dt"), ("auto_renew", "bool"), ("status", "text"),
        ("channel", "text"), ("partner_name", "text"), ("partner_portal", "text"),
        ("region", "text"), ("disputed", "bool"), ("cancelled_at", "dt"), ("ended_at", "dt"),
        ("refuse_service", "bool"), ("created_at", "dt"),
    ),
    Subscription,
    indexes=(("status", "period_end"), ("vendor",), ("account",)),
)

LICENSES = Table(
    "licenses",
    "id",
    (
        ("id", "text"), ("product", "text"), ("purchased_at", "dt"), ("key_hash", "text"),
        ("key_last4", "text"), ("fingerprint", "text"), ("status", "text"),
        ("status_reason", "text"), ("seats", "int"), ("activations", "acts"),
        ("account", "text"), ("sub_id", "text"), ("issued", "bool"), ("secret_store", "text"),
        ("created_at", "dt"),
    ),
    License,
    unique=("key_hash",),
    indexes=(("status", "purchased_at"), ("sub_id",)),
    refs=(("sub_id", "subs"),),
)

INCIDENTS = Table(
    "incidents",
    "id",
    (
        ("id", "text"), ("sub_id", "text"), ("summary", "text"), ("opened_at", "dt"),
        ("state", "text"), ("closed_at", "dt"),
    ),
    Incident,
    indexes=(("sub_id",),),
    refs=(("sub_id", "subs"),),
)

CHARGES = Table(
    "charges",
    "id",
    (
        ("id", "text"), ("posted_on", "date"), ("description", "text"), ("amount", "dec"),
        ("currency", "text"), ("line_hash", "text"), ("sub_id", "text"), ("statement", "text"),
        ("imported_at", "dt"),
    ),
    Charge,
    unique=("line_hash",),
    indexes=(("sub_id",),),
    since=2,
    refs=(("sub_id", "subs"),),
)

EVENTS = Table(
    "events",
    "reference",
    (("reference", "text"), ("at", "dt"), ("subject", "text"), ("action", "text"),
     ("detail", "json")),
    Event,
    indexes=(("subject",), ("at",)),
)

SECRETS = Table("secrets", "license_id", (("license_id", "text"), ("key", "text")), None)
COUNTERS = Table("counters", "name", (("name", "text"), ("value", "int")), None)

TABLES: dict[str, Table] = {
    t.name: t for t in (SUBS, LICENSES, INCIDENTS, CHARGES, EVENTS, SECRETS, COUNTERS)
}
RECORD_TABLES = {Subscription: SUBS, License: LICENSES, Incident: INCIDENTS, Charge: CHARGES,
                 Event: EVENTS}

# The newest schema this code writes. Version 1 held subscriptions, keys, incidents and
# events; version 2 added bank statement charges.
SCHEMA_VERSION = 2


def _acts_out(acts: tuple[Activation, ...]) -> str:
    return json.dumps([[a.machine, iso(a.at)] for a in acts], separators=(",", ":"))


def _acts_in(text: str | None) -> tuple[Activation, ...]:
    if not text:
        return ()
    return tuple(Activation(m, datetime.fromisoformat(at)) for m, at in json.loads(text))


_OUT: dict[str, Callable[[Any], Any]] = {
    "text": lambda v: v,
    "int": lambda v: v,
    "bool": lambda v: 1 if v else 0,
    "dec": lambda v: None if v is None else str(v),
    "dt": iso,
    "date": lambda v: None if v is None else v.isoformat(),
    "json": lambda v: json.dumps(v, sort_keys=True, separators=(",", ":")),
    "acts": _acts_out,
}
_IN: dict[str, Callable[[Any], Any]] = {
    "text": lambda v: v,
    "int": lambda v: v,
    "bool": bool,
    "dec": lambda v: None if v is None else Decimal(v),
    "dt": from_iso,
    "date": lambda v: None if v is None else date.fromisoformat(v),
    "json": lambda v: json.loads(v) if v else {},
    "acts": _acts_in,
}


def _compile(table: Table) -> tuple[Callable[[Any], tuple], Callable[[tuple], Any]]:
    """Build fast row codecs for a table (generated once, at import).

    Reading is on the path of every listing (200,000 rows for a large ledger): the
    common kinds are converted inline rather than through a function call each, and
    the record is made the way NamedTuple's own _make makes it.
    """
    env: dict[str, Any] = {"R": table.record, "NEW": tuple.__new__, "D": Decimal,
                           "FI": datetime.fromisoformat}
    outs, ins = [], []
    for i, (name, kind) in enumerate(table.columns):
        env[f"o{i}"], env[f"i{i}"] = _OUT[kind], _IN[kind]
        outs.append(f"o.{name}" if kind in ("text", "int") else f"o{i}(o.{name})")
        ins.append({"text": f"c{i}", "int": f"c{i}", "bool": f"(True if c{i} else False)",
                    "dec": f"(None if c{i} is None else D(c{i}))",
                    "dt": f"(None if c{i} is None else FI(c{i}))"}.get(kind, f"i{i}(c{i})"))
    to_row = eval(f"lambda o: ({', '.join(outs)},)", env)  # noqa: S307 - built from our schema
    exec(f"def from_row(r):\n    {''.join(f'c{i}, ' for i in range(len(ins)))}= r\n"  # noqa: S102
         f"    return NEW(R, ({', '.join(ins)},))\n", env)
    return to_row, env["from_row"]


CODECS = {t.name: _compile(t) for t in TABLES.values() if t.record is not None}


def to_row(record: Any) -> tuple:
    return CODECS[RECORD_TABLES[type(record)].name][0](record)


def from_row(table: str, row: tuple) -> Any:
    return CODECS[table][1](row)
