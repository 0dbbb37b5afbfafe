"""Whole-ledger use cases: init (with sample data), export, import."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator

from kscli.domain.errors import BadValue, Failure
from kscli.store.base import Conflict, Store
from kscli.store.schema import SCHEMA_VERSION, TABLES

EXPORT_FORMAT = "kscli-export"
EXPORT_VERSION = 1


def init_ledger(store: Store, now: datetime, *, sample: bool = False) -> str:
    existed = store.exists()
    with store.write() as ledger:
        if sample:
            if ledger.tx.count("subs") or ledger.tx.count("licenses"):
                raise Failure(
                    f"{ledger.location} already holds records; sample data goes into a new ledger",
                    hint="pick another file with --store",
                )
            from kscli.services.sample import fill_sample

            fill_sample(ledger, now)
    where = store.location
    if sample:
        return f"created {where} with sample data"
    return f"{'ledger ready' if existed else 'created'}: {where}"


def export_chunks(store: Store) -> Iterator[str]:
    """The whole ledger as JSON text, in chunks, in a stable order."""
    with store.read() as ledger:
        yield ('{\n "format": "%s",\n "version": %d,\n "schema": %d,\n "tables": {'
               % (EXPORT_FORMAT, EXPORT_VERSION, SCHEMA_VERSION))
        first_table = True
        for name, table in TABLES.items():
            if name == "secrets":
                continue
            yield ("" if first_table else ",") + f'\n  "{name}": ['
            first_table = False
            order = ("seq",) if name == "events" else (table.key,)
            first = True
            names = table.names
            for row in ledger.tx.select(name, (), order=order):
                yield ("\n   " if first else ",\n   ") + json.dumps(
                    dict(zip(names, row)), ensure_ascii=False, separators=(",", ":"))
                first = False
            yield "\n  ]" if not first else "]"
        yield "\n }\n}\n"


def export_ledger(store: Store) -> str:
    return "".join(export_chunks(store))


def _bad(where: str, what: str) -> BadValue:
    return BadValue(f"{where}: {what}", hint="import only files made by `kscli export`")


def _check_value(kind: str, value: Any, where: str) -> None:
    if value is None:
        return
    if kind in ("int", "bool"):
        if not isinstance(value, int) or isinstance(value, bool) or (kind == "bool" and value not in (0, 1)):
            raise _bad(where, f"expected {'0 or 1' if kind == 'bool' else 'a whole number'}")
        return
    if not isinstance(value, str) or len(value) > 100_000:
        raise _bad(where, "expected text")
    try:
        if kind == "dec":
            if not Decimal(value).is_finite():
                raise ValueError
        elif kind == "dt":
            if not value.endswith("Z") or len(value) != 20:
                raise ValueError
            datetime.fromisoformat(value)
        elif kind == "date":
            date.fromisoformat(value)
        elif kind in ("json", "acts"):
            parsed = json.loads(value)
            if kind == "json" and not isinstance(parsed, dict):
                raise ValueError
            if kind == "acts":
                if not isinstance(parsed, list):
                    raise ValueError
                for item in parsed:
                    if (not isinstance(item, list) or len(item) != 2
                            or not all(isinstance(x, str) for x in item)):
                        raise ValueError
                    datetime.fromisoformat(item[1])
    except (ValueError, InvalidOperation, TypeError):
        raise _bad(where, f"'{value[:40]}' is not a valid {kind} value") from None


def parse_export(data: bytes, source: str) -> dict[str, list[dict[str, Any]]]:
    """Check a whole export before anything is written; raise BadValue naming the problem."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadValue(f"{source} is not valid JSON ({exc})",
                       hint="import only files made by `kscli export`") from None
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise BadValue(f"{source} is not a kscli export", hint="make one with `kscli export`")
    schema = doc.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1 or schema > SCHEMA_VERSION:
        raise BadValue(f"{source} has schema {schema!r}; this kscli reads 1 to {SCHEMA_VERSION}",
                       hint="upgrade kscli to import it")
    tables = doc.get("tables")
    if not isinstance(tables, dict):
        raise _bad(source, "no tables")
    out: dict[str, list[dict[str, Any]]] = {}
    for name, table in TABLES.items():
        rows = tables.get(name, [])
        if name == "secrets":
            continue
        if not isinstance(rows, list):
            raise _bad(f"{source}, table {name}", "expected a list of rows")
        kinds = table.columns
        keys: set = set()
        for i, row in enumerate(rows):
            where = f"{source}, {name} row {i + 1}"
            if not isinstance(row, dict):
                raise _bad(where, "expected an object")
            for column, kind in kinds:
                _check_value(kind, row.get(column), f"{where}, {column}")
            key = row.get(table.key)
            if not isinstance(key, str) or not key or key in keys:
                raise _bad(where, f"missing or repeated {table.key}")
            keys.add(key)
        out[name] = rows
    subs = {row["id"] for row in out.get("subs", [])}
    for name in ("licenses", "incidents", "charges"):
        for i, row in enumerate(out.get(name, [])):
            if row.get("sub_id") is not None and row["sub_id"] not in subs:
                raise _bad(f"{source}, {name} row {i + 1}", f"sub_id {row['sub_id']} is not in the file")
    return out


def import_ledger(store: Store, data: bytes, source: str) -> dict[str, int]:
    rows = parse_export(data, source)
    with store.write() as ledger:
        if any(ledger.tx.count(name) for name in ("subs", "licenses", "incidents", "charges", "events")):
            raise Failure(
                f"{ledger.location} already holds records; kscli imports only into an empty ledger",
                hint="pick a new file with --store, or export this one first",
            )
        try:
            return ledger.load_rows(rows)
        except Conflict as exc:
            raise _bad(source, f"a value that must be unique is repeated ({exc})") from None
