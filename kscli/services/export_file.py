"""The export file: read one and check every value in it before an import keeps
anything (what `kscli export` writes, what `kscli import` accepts).

The checks come from the records' descriptions (kscli.domain.model): the kind of each
stored value, values needed, allowed values, each field's rule; and the few rules
between fields and tables (ids and their counters, references, one-time sales).
"""

from __future__ import annotations

import json
from operator import itemgetter
from typing import Any, Callable, Sequence

from kscli.checks import check_fields, first_bad, judge, wrong
from kscli.domain import ids
from kscli.domain.errors import BadValue, shown
from kscli.store.migrations import SCHEMA_VERSION, apply_to_tables, pending
from kscli.store.schema import TABLES

EXPORT_FORMAT = "kscli-export"
EXPORT_VERSION = 1


def _bad(where: str, what: str) -> BadValue:
    return BadValue(f"{where}: {what}", hint="import only files made by `kscli export`")


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
    try:  # every row names every column: take each at C speed (one column at a time,
        # so that no row-sized tuples are made on the way: an import's peak memory)
        return [tuple(map(itemgetter(name), rows)) for name in table.names]
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
    for migration in pending(schema):  # an older export: its columns as a migration adds them
        apply_to_tables(migration, given)
    tables = {name: _table_rows(table, given.get(name, []), f"{source}, table {name}")
              for name, table in TABLES.items()}
    _mark_missing_secrets(tables)
    return tables, lambda: check_tables(tables, source)


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


def check_tables(tables: dict[str, list[dict[str, Any]]], source: str) -> None:
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
            ok, nulls = judge(kind, values)
            if nulls:
                with_nulls.add((name, column))
            bad = None if ok else first_bad(kind, values)
            if bad is not None:
                raise _bad(f"{source}, {name} row {bad + 1}, {column}", wrong(kind, values[bad]))
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


def _check_meanings(tables: dict[str, dict[str, Sequence[Any]]], with_nulls: set[tuple[str, str]],
                    source: str) -> None:
    """Refuse values no command could use: what each record's description allows (a
    value needed, one of its choices, the rule of its field: a known plan, a price
    that is not negative, a key ending of key symbols...), a date outside the
    calendar kscli reckons in, an id the commands cannot name or a counter that would
    hand it out again, and a one-time sale with a period.

    ``tables`` holds each table's columns, ``with_nulls`` the (table, column) pairs
    that hold a null. Every check runs over whole columns (sets, min and max) and looks
    for the row at fault only when one fails.
    """
    counters = dict(zip(tables["counters"]["name"], tables["counters"]["value"]))
    if ("counters", "value") in with_nulls:
        i = tables["counters"]["value"].index(None)
        raise _bad(f"{source}, counters row {i + 1}, value", "a value is needed")
    for name, columns in tables.items():
        record = TABLES[name].description
        if record is None or not columns or not columns[TABLES[name].key]:
            continue

        def fail(column: str, ok, what: str, columns=columns, name=name) -> None:
            for i, value in enumerate(columns[column]):
                if value is not None and not ok(value):
                    raise _bad(f"{source}, {name} row {i + 1}, {column}",
                               f"'{str(value)[:40]}' {what}")

        check_fields(record, columns, {c for t, c in with_nulls if t == name},
                     lambda i, column, name=name: f"{source}, {name} row {i + 1}, {column}", _bad)
        if record.prefix is not None:
            _check_ids(record.prefix, columns["id"], counters, fail, source)
        if name == "subs":
            _check_one_time_sales(columns, source)


def _check_ids(prefix: str, present: Sequence[str], counters: dict[str, Any], fail: Callable,
               source: str) -> None:
    """Ids the commands can name, and a counter past them all."""
    id_form = ids.form(prefix)
    if not all(map(id_form.fullmatch, present)):
        fail("id", id_form.fullmatch, f"is not an id like {prefix}{ids.FIRST}")
    highest = int(ids.last(present)[len(prefix):])  # (every id is of the form now)
    last = counters.get(prefix, ids.FIRST - 1)
    if not isinstance(last, int) or highest > last:
        raise _bad(f"{source}, counters", f"the counter {prefix} ({last}) is below the "
                   f"highest id {prefix}{highest}: new ids would repeat old ones")


def _check_one_time_sales(columns: dict[str, Sequence[Any]], source: str) -> None:
    """A one-time sale (plan once, or software) has no period that could end or renew."""
    from kscli.domain.model import plan_months

    once = {plan for plan in set(columns["plan"]) if plan_months(plan) is None}
    if once or "software" in columns["kind"]:
        for i, (plan, kind, end) in enumerate(zip(columns["plan"], columns["kind"],
                                                  columns["period_end"])):
            if end is not None and (plan in once or kind == "software"):
                raise _bad(f"{source}, subs row {i + 1}, period_end",
                           f"a one-time sale ({kind}, plan {plan}) has no period end")
