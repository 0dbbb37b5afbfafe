"""Whole-ledger use cases: init (with sample data), export, import."""

from __future__ import annotations

import gc
import json
import os
import re
from collections import deque
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any, Callable, Iterator, Sequence

from kscli.domain import ids
from kscli.domain.errors import BadValue, Failure, shown
from kscli.services.background import checked_meanwhile
from kscli.store.base import Conflict, NotEmpty, Store
from kscli.store.schema import SCHEMA_VERSION, TABLES

EXPORT_FORMAT = "kscli-export"
EXPORT_VERSION = 1
_LONGEST_TEXT = 100_000  # characters in one imported value


def init_ledger(store: Store, now: datetime, *, sample: bool = False) -> str:
    existed = store.exists()
    with store.write() as ledger:
        if sample:
            if ledger.holds_records():
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


def export_chunks(store: Store, *, with_keys: bool = False) -> Iterator[str]:
    """The whole ledger as JSON text, in chunks, in a stable order: one object a row,
    keyed by column name, so that people and tools like jq can read it.

    The license keys kept in the ledger file (table ``secrets``) are included only
    ``with_keys``; an import of an export without them marks those keys as missing."""
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with store.read() as ledger:
        yield ('{\n "format": "%s",\n "version": %d,\n "schema": %d,\n "tables": {'
               % (EXPORT_FORMAT, EXPORT_VERSION, SCHEMA_VERSION))
        first_table = True
        for name, table in TABLES.items():
            if name == "secrets" and not with_keys:
                continue  # keys leave the ledger only when asked for
            yield ("" if first_table else ",") + f'\n  "{name}": ['
            first_table = False
            order = ("seq",) if name == "events" else (table.key,)
            first = True
            names = table.names
            for row in ledger.tx.select(name, (), order=order):
                yield ("\n   " if first else ",\n   ") + encode(dict(zip(names, row)))
                first = False
            yield "\n  ]" if not first else "]"
        yield "\n }\n}\n"


def export_ledger(store: Store, *, with_keys: bool = False) -> str:
    return "".join(export_chunks(store, with_keys=with_keys))


def keys_kept_in_ledger(store: Store) -> int:
    """How many license keys the ledger file itself holds (what ``with_keys`` adds)."""
    with store.read() as ledger:
        return ledger.tx.count("secrets")


def _bad(where: str, what: str) -> BadValue:
    return BadValue(f"{where}: {what}", hint="import only files made by `kscli export`")


def _check_value(kind: str, value: Any, where: str) -> None:
    if value is None:
        return
    if kind in ("int", "bool"):
        if not isinstance(value, int) or isinstance(value, bool) or (kind == "bool" and value not in (0, 1)):
            raise _bad(where, f"expected {'0 or 1' if kind == 'bool' else 'a whole number'}")
        return
    if not isinstance(value, str) or len(value) > _LONGEST_TEXT:
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


# Whole columns are checked at once, in C: the values joined by NUL (which no valid
# time or amount holds), every digit turned into 0, then compared with the one shape
# a value may have; the calendar is checked by datetime itself.
_ZEROS = str.maketrans("123456789", "000000000")
_TIME_SHAPE = "0000-00-00T00:00:00Z"
_AMOUNT_SHAPE = re.compile(r"-?0{1,12}(?:\.0{1,4})?")


def _column_ok(kind: str, values: Sequence[Any]) -> bool:
    """Whether every value of a column that is not null is of its kind."""
    return _judge(kind, values)[0]


def _judge(kind: str, values: Sequence[Any]) -> tuple[bool, bool]:
    """Whether every value of a column that is not null is of its kind, checked in
    bulk (C loops), and whether the column holds a null (found on the way)."""
    if kind in ("int", "bool"):
        types = set(map(type, values))
        nulls = type(None) in types
        types.discard(type(None))
        return types <= {int} and (kind == "int" or set(values) <= {0, 1, None}), nulls
    try:
        return _text_ok(kind, values, "\x00".join(values)), False
    except TypeError:  # a null, or a value that is not text
        present = [v for v in values if v is not None]
        if len(present) == len(values):
            return False, False
        try:
            return _text_ok(kind, present, "\x00".join(present)), True
        except TypeError:
            return False, True


def _text_ok(kind: str, present: Sequence[str], joined: str) -> bool:
    """Whether text values (``joined`` by NUL) are all of their kind."""
    if not present:
        return True
    if kind == "text":
        return len(joined) <= _LONGEST_TEXT or max(map(len, present)) <= _LONGEST_TEXT
    if kind not in ("dt", "dec"):
        return False  # rarer kinds: checked value by value
    if joined.count("\x00") != len(present) - 1:
        return False  # a value holding a NUL
    shapes = joined.translate(_ZEROS)
    if kind == "dec":
        return all(map(_AMOUNT_SHAPE.fullmatch, set(shapes.split("\x00"))))
    if shapes != "\x00".join([_TIME_SHAPE] * len(present)) or "T24" in joined:
        return False  # (some Pythons read hour 24 as the next day's midnight)
    try:  # months, days (29 February), hours, minutes and seconds that exist
        deque(map(datetime.fromisoformat, present), 0)
    except ValueError:
        return False
    return True


def _first_bad(kind: str, values: Sequence[Any]) -> int | None:
    """The index of the first value of a column that is not of its kind, or None.

    An import of 200,000 subscriptions checks millions of cells: the common kinds
    are checked in bulk first, and only a column that fails is walked cell by cell.
    """
    if _column_ok(kind, values):
        return None
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            _check_value(kind, v, "")
        except BadValue:
            return i
        if kind in ("dt", "dec", "text", "int", "bool") and not _column_ok(kind, [v]):
            return i  # (the same rule as the bulk check: one place decides)
    return None


def _table_rows(table, rows: Any, where: str) -> list[dict[str, Any]]:
    """A table's rows: objects keyed by column.

    Rows that do not name every column (an export of an older schema) get the columns
    they lack, empty, and keys this kscli does not know are refused; a row that names
    as many columns as there are but not the same ones is refused by the checks.
    """
    if not isinstance(rows, list):
        raise _bad(where, "expected a list of rows")
    if not set(map(type, rows)) <= {dict}:
        i = next(i for i, row in enumerate(rows) if type(row) is not dict)
        raise _bad(f"{where}, row {i + 1}", "expected an object")
    names = table.names
    if set(map(len, rows)) <= {len(names)}:
        return rows
    _refuse_unknown(table, rows, where)
    return [{c: row.get(c) for c in names} for row in rows]


def _refuse_unknown(table, rows: list[dict[str, Any]], where: str) -> None:
    known = set(table.names)
    for i, row in enumerate(rows):
        unknown = [str(k) for k in row if k not in known]
        if unknown:
            raise _bad(f"{where}, row {i + 1}", f"unknown columns: {', '.join(unknown)}")


def _table_columns(table, rows: list[dict[str, Any]], where: str) -> list[Sequence[Any]]:
    """The rows of ``_table_rows`` as columns, in this kscli's column order."""
    if not rows:
        return [() for _ in table.names]
    try:  # every row names every column: take them all at C speed
        return list(zip(*map(itemgetter(*table.names), rows)))
    except KeyError:
        _refuse_unknown(table, rows, where)
        raise  # pragma: no cover - a row of known columns, as many as there are, has them all


def parse_export(data: bytes, source: str) -> dict[str, list[dict[str, Any]]]:
    """Read and check a whole export; raise BadValue naming the first problem."""
    tables, check = read_export(data, source)
    check()
    return tables


def read_export(data: bytes,
                source: str) -> tuple[dict[str, list[dict[str, Any]]], Callable[[], None]]:
    """The tables of an export (rows keyed by column), and the check of every value in
    them (which raises BadValue naming the first problem), apart: a large import
    checks while it writes, and keeps nothing unless the check passes.

    What cannot be loaded at all (not JSON, not an export, a newer schema, a row that
    is not an object) is refused here.
    """
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadValue(f"{source} is not valid JSON ({exc})",
                       hint="import only files made by `kscli export`") from None
    except RecursionError:
        raise BadValue(f"{source} is JSON nested too deeply to be a kscli export",
                       hint="import only files made by `kscli export`") from None
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise BadValue(f"{source} is not a kscli export", hint="make one with `kscli export`")
    schema = doc.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1 or schema > SCHEMA_VERSION:
        raise BadValue(f"{source} has schema {schema!r}; this kscli reads 1 to {SCHEMA_VERSION}",
                       hint="upgrade kscli to import it")
    given = doc.get("tables")
    if not isinstance(given, dict):
        raise _bad(source, "no tables")
    tables = {name: _table_rows(table, given.get(name, []), f"{source}, table {name}")
              for name, table in TABLES.items()}
    _mark_missing_secrets(tables)
    return tables, lambda: _check_tables(tables, source)


def _mark_missing_secrets(tables: dict[str, list[dict[str, Any]]]) -> None:
    """Keys the old ledger kept in its file, which the export left out: their records
    say so (``secret_store`` "missing"), so that `--reveal` and `doctor` tell the
    truth and say how to restore them."""
    from kscli.secrets import LEDGER, MISSING

    # (before the values are checked: a damaged id is refused by the checks, not here)
    held = {row.get("license_id") for row in tables["secrets"]
            if isinstance(row.get("license_id"), str)}
    for row in tables["licenses"]:
        if row.get("secret_store") == LEDGER and isinstance(row.get("id"), str) \
                and row["id"] not in held:
            row["secret_store"] = MISSING


def _check_tables(tables: dict[str, list[dict[str, Any]]], source: str) -> None:
    """Every value of every table, whole columns at a time; raise BadValue naming the
    first row and column at fault."""
    columns_of = {name: _table_columns(TABLES[name], rows, f"{source}, table {name}")
                  for name, rows in tables.items()}
    by_column: dict[str, dict[str, Sequence[Any]]] = {}
    with_nulls: set[tuple[str, str]] = set()  # (table, column) that holds a null
    ids: dict[str, set] = {}
    for name, columns in columns_of.items():
        table = TABLES[name]
        by_column[name] = dict(zip(table.names, columns))
        for (column, kind), values in zip(table.columns, columns):
            ok, nulls = _judge(kind, values)
            if nulls:
                with_nulls.add((name, column))
            bad = None if ok else _first_bad(kind, values)
            if bad is not None:  # (the rarer kinds are checked cell by cell, and may pass)
                where = f"{source}, {name} row {bad + 1}, {column}"
                _check_value(kind, values[bad], where)
                raise _bad(where, f"not a valid {kind} value")
            if column == table.key:
                ids[name] = set(values)
                if not all(values) or len(ids[name]) != len(values):
                    seen: set = set()
                    for i, v in enumerate(values):
                        if not v or v in seen:
                            raise _bad(f"{source}, {name} row {i + 1}", f"missing or repeated {column}")
                        seen.add(v)
    for name in ("licenses", "incidents", "charges"):
        refs = by_column[name]["sub_id"]
        named = set(refs)
        named.discard(None)
        if not named <= ids["subs"]:
            i = next(i for i, ref in enumerate(refs) if ref is not None and ref not in ids["subs"])
            raise _bad(f"{source}, {name} row {i + 1}", f"sub_id {refs[i]} is not in the file")
    _check_secrets(tables, source)
    _check_meanings(by_column, with_nulls, source)


def _check_secrets(tables: dict[str, list[dict[str, Any]]], source: str) -> None:
    """Each key of an export made with --with-keys belongs to a key of the file kept in
    the ledger, and is that key (its hash matches); no key is ever named in an error."""
    from kscli.domain import keys
    from kscli.secrets import LEDGER

    if not tables["secrets"]:
        return
    hashes = {row["id"]: row["key_hash"] for row in tables["licenses"]
              if row["secret_store"] == LEDGER}
    for i, row in enumerate(tables["secrets"]):
        where = f"{source}, secrets row {i + 1}"
        key = row.get("key")
        if row.get("license_id") not in hashes:
            raise _bad(where, f"license_id {shown(row.get('license_id'))} is not a key kept in the "
                              "ledger in the file")
        try:
            symbols = keys.validate(key) if isinstance(key, str) else None
        except keys.InvalidKey:
            symbols = None
        if symbols is None or keys.key_hash(symbols) != hashes[row["license_id"]]:
            raise _bad(where, f"the key of {row['license_id']} is not the key its record describes")


# What the rows of an export may say beyond the kind of each value, so that every
# command can show, list, sweep and export again whatever an import accepted.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "subs": ("account", "vendor", "product", "plan", "kind", "price", "currency", "started_at",
             "period_start", "status", "channel"),
    "licenses": ("product", "purchased_at", "key_hash", "key_last4", "fingerprint", "status",
                 "seats", "secret_store"),
    "incidents": ("sub_id", "summary", "opened_at", "state"),
    "charges": ("posted_on", "description", "amount", "currency", "line_hash"),
    "events": ("at", "subject", "action"),
    "counters": ("value",),
}


def _check_meanings(tables: dict[str, dict[str, Sequence[Any]]], with_nulls: set[tuple[str, str]],
                    source: str) -> None:
    """Refuse values no command could use: an unknown plan, status or currency, a date
    outside the calendar kscli reckons in, a negative price, a malformed key ending, an
    id the commands cannot name or a counter that would hand it out again.

    ``tables`` holds each table's columns, ``with_nulls`` the (table, column) pairs
    that hold a null. Every check runs over whole columns (sets, min and max) and looks
    for the row at fault only when one fails.
    """
    from kscli.domain.calendar import MAX_YEAR, MIN_YEAR
    from kscli.domain.keys import ALPHABET
    from kscli.domain.model import (INCIDENT_STATES, KINDS, LICENSE_STATUSES, SUB_STATUSES,
                                    PlanError, plan_months)
    from kscli.domain.money import MINOR_DIGITS

    def known_plan(plan: str) -> bool:
        try:
            plan_months(plan)
        except PlanError:
            return False
        return True

    lowest, beyond = f"{MIN_YEAR:04d}", f"{MAX_YEAR + 1:04d}"
    choices = {("subs", "kind"): KINDS, ("subs", "status"): SUB_STATUSES,
               ("subs", "channel"): ("direct", "partner"), ("subs", "currency"): MINOR_DIGITS,
               ("charges", "currency"): MINOR_DIGITS, ("licenses", "status"): LICENSE_STATUSES,
               ("licenses", "secret_store"): ("keyring", "ledger", "missing"),
               ("incidents", "state"): INCIDENT_STATES}
    counters = dict(zip(tables["counters"]["name"], tables["counters"]["value"]))
    for name, columns in tables.items():
        if not columns or not columns[TABLES[name].key]:
            continue

        def fail(column: str, ok, what: str) -> None:
            for i, value in enumerate(columns[column]):
                if value is not None and not ok(value):
                    raise _bad(f"{source}, {name} row {i + 1}, {column}",
                               f"'{str(value)[:40]}' {what}")

        for column in _REQUIRED.get(name, ()):
            if (name, column) in with_nulls:
                i = columns[column].index(None)
                raise _bad(f"{source}, {name} row {i + 1}, {column}", "a value is needed")
        for (where, column), allowed in choices.items():
            if where == name and not set(columns[column]) <= {*allowed, None}:
                shown = ", ".join(allowed) if len(allowed) < 10 else "an ISO 4217 code"
                fail(column, lambda v, allowed=allowed: v in allowed, f"is not one of {shown}")
        for column, kind in TABLES[name].columns:
            if kind not in ("dt", "date", "int"):
                continue
            present = columns[column]
            if (name, column) in with_nulls:
                present = [v for v in present if v is not None]
            if kind in ("dt", "date"):
                if present and (min(present) < lowest or max(present) >= beyond):
                    fail(column, lambda v: lowest <= v < beyond,
                         f"is outside the years {MIN_YEAR} to {MAX_YEAR}")
            elif kind == "int":  # what every backend's INTEGER holds (PostgreSQL: 32 bits)
                if present and (min(present) < -2**31 or max(present) >= 2**31):
                    fail(column, lambda v: -2**31 <= v < 2**31, "is too large a number")
        prefix = ids.BY_TABLE.get(name)
        if prefix is not None:  # ids the commands can name, and a counter past them all
            present_ids = columns["id"]
            id_form = ids.form(prefix)
            if not all(map(id_form.fullmatch, present_ids)):
                fail("id", id_form.fullmatch, f"is not an id like {prefix}1001")
            highest = int(max(present_ids, key=ids.natural_key)[len(prefix):])
            last = counters.get(prefix, ids.FIRST - 1)
            if not isinstance(last, int) or highest > last:
                raise _bad(f"{source}, counters", f"the counter {prefix} ({last}) is below the "
                           f"highest id {prefix}{highest}: new ids would repeat old ones")
        if name == "subs":
            plans = set(columns["plan"])
            if not all(map(known_plan, plans)):
                fail("plan", known_plan, "is not a plan: monthly, annual, once or Nm")
            # a one-time sale (plan once, or software) has no period that could end or renew
            once = {plan for plan in plans if plan_months(plan) is None}
            if once or "software" in columns["kind"]:
                for i, (plan, kind, end) in enumerate(zip(columns["plan"], columns["kind"],
                                                          columns["period_end"])):
                    if end is not None and (plan in once or kind == "software"):
                        raise _bad(f"{source}, subs row {i + 1}, period_end",
                                   f"a one-time sale ({kind}, plan {plan}) has no period end")
            if min(columns["price"]).startswith("-"):  # "-" sorts before every digit
                fail("price", lambda v: not v.startswith("-"), "is negative")
        elif name == "licenses":
            last4 = set(columns["key_last4"])
            if not all(len(v) == 4 and set(v) <= set(ALPHABET) for v in last4):
                fail("key_last4", lambda v: len(v) == 4 and set(v) <= set(ALPHABET),
                     "is not the last four symbols of a key")
            if min(columns["seats"]) < 1:
                fail("seats", lambda v: v >= 1, "is not a number of seats (1 or more)")


def import_ledger(store: Store, data: bytes, source: str) -> dict[str, int]:
    """Import a whole export into an empty ledger; nothing is kept unless every value
    in the file passed the checks."""
    # An export of 200,000 subscriptions is millions of objects, none of them in a
    # cycle: the cyclic garbage collector would walk them all again and again.
    with _collector_paused():
        if not _check_meanwhile(store, data):
            # checked before anything is written; read again (the same bytes, so the
            # same verdict) only if the store needs a second attempt
            checked = [parse_export(data, source)]
            return _import_tables(store, lambda: checked.pop() if checked
                                  else read_export(data, source)[0], _passed, source)
        # A child process reads and checks its own copy of the export while this one
        # reads it and writes (sharing one copy would cost each process a page fault
        # for every page the other touched); the rows are kept only if it says yes.
        with checked_meanwhile(lambda: parse_export(data, source)) as verdict:
            return _import_tables(store, lambda: read_export(data, source)[0], verdict, source)


def _check_meanwhile(store: Store, data: bytes) -> bool:
    """Whether to check in a second process while writing: for an export large enough
    to gain from it (the checks of 10,000 subscriptions take a few milliseconds), into
    a store that can write first and undo, on a system with fork, a second core, and
    the memory for a second copy of the parsed export (about six times its size)."""
    if len(data) < _CHECK_MEANWHILE_FROM or not store.writes_while_checking or not hasattr(os, "fork"):
        return False
    available = _memory_available()
    if available is not None and available < 8 * len(data):
        return False
    try:
        return len(os.sched_getaffinity(0)) > 1
    except AttributeError:  # pragma: no cover - systems without CPU affinity
        return (os.cpu_count() or 1) > 1


_CHECK_MEANWHILE_FROM = 5_000_000  # bytes of export: about 10,000 subscriptions


def _memory_available() -> int | None:
    """Bytes of memory available without swapping (Linux), or None where unknown."""
    try:
        with open("/proc/meminfo", "rb") as meminfo:
            for line in meminfo:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _passed() -> None:
    """The verdict of checks that already passed."""


def restore_keys(store: Store, data: bytes, source: str, now: datetime, keeper: Any) -> tuple[int, int]:
    """Put back the keys an earlier import left out: from an export made with
    `kscli export --with-keys` of the old ledger, each key whose record here says it is
    missing, and that is the key the record describes (its hash matches). Returns how
    many were restored and how many of the file's keys this ledger did not need."""
    from kscli.domain import keys
    from kscli.secrets import MISSING

    tables = parse_export(data, source)
    if not tables["secrets"]:
        raise BadValue(f"{source} holds no license keys",
                       hint="make it with `kscli export --with-keys` on the old ledger")
    restored = 0
    with store.write() as ledger:
        for row in tables["secrets"]:
            lic = ledger.license(row["license_id"])
            symbols = keys.validate(row["key"])
            if lic is None or lic.secret_store != MISSING or lic.key_hash != keys.key_hash(symbols):
                continue
            where = keeper.put(ledger, lic.id, lic.key_hash, keys.format_key(symbols))
            ledger.save(lic._replace(secret_store=where))
            ledger.append_event(lic.id, "key-restored", {"secret_store": where}, now)
            restored += 1
    return restored, len(tables["secrets"]) - restored


def _import_tables(store: Store, read: Callable[[], dict[str, list[dict[str, Any]]]],
                   verdict: Callable[[], None], source: str) -> dict[str, int]:
    try:
        return store.import_tables(read, verdict)
    except NotEmpty:
        raise Failure(
            f"{store.location} already holds records; kscli imports only into an empty ledger",
            hint="pick a new file with --store, or export this one first",
        ) from None
    except Conflict as exc:
        raise _bad(source, f"a value that must be unique is repeated ({exc})") from None


@contextmanager
def _collector_paused() -> Iterator[None]:
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
