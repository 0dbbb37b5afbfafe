"""Ledgers of every earlier schema, made by the released code of that version
(tests/fixtures/ledgers, see make.sh there), migrate on every backend and export the
same records; the migration mechanism itself (added columns, indexes, the record of
what was applied).

Version 2 is the oldest schema any released kscli wrote (the first commit already
kept charges); version 1 exists only as the migration that the first one starts with,
and tests/test_faults.py migrates a version-1 ledger made from it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

import pytest

from tests.conftest import Kscli, fresh_pg_store_spec, require_pg

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "ledgers")
OLD = ["v2"]  # every schema an earlier kscli wrote


def _copy(name: str, suffix: str, tmp_path) -> str:
    target = os.path.join(tmp_path, "ledger", f"kscli{suffix}")
    os.makedirs(os.path.dirname(target), mode=0o700)
    shutil.copyfile(os.path.join(FIXTURES, f"{name}{suffix}"), target)
    os.chmod(target, 0o600)
    return target


def _restore_pg(name: str) -> str:
    from psycopg import connect

    spec = fresh_pg_store_spec(require_pg())
    with open(os.path.join(FIXTURES, f"{name}.sql"), encoding="utf-8") as handle:
        script = handle.read()
    with connect(spec, autocommit=True) as conn:
        conn.execute(script)
        conn.execute("SELECT pg_catalog.set_config('search_path', 'public', false)")
    return spec


def _old_ledger(name: str, backend: str, tmp_path) -> str:
    if backend == "postgres":
        return _restore_pg(name)
    return _copy(name, ".db" if backend == "sqlite" else ".json", tmp_path)


BACKENDS = ["sqlite", "json", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("name", OLD)
@pytest.mark.parametrize("backend", BACKENDS)
def test_an_old_ledger_migrates_and_exports_what_its_own_code_exported(tmp_path, backend, name):
    from kscli.store import open_store
    from kscli.store.migrations import MIGRATIONS, SCHEMA_VERSION

    suffix = {"sqlite": ".db", "json": ".json", "postgres": ".sql"}[backend]
    with open(os.path.join(FIXTURES, f"{name}{suffix}.export"), encoding="utf-8") as handle:
        before = json.load(handle)
    spec = _old_ledger(name, backend, tmp_path)
    old_version = before["schema"]
    assert open_store(spec).schema_version() == old_version
    kscli = Kscli(spec)
    after = json.loads(kscli("export").stdout)
    assert after["schema"] == SCHEMA_VERSION
    from kscli.store.schema import TABLES

    added = {name for name, table in TABLES.items() if table.since > old_version}
    assert after["tables"].keys() == before["tables"].keys() | added
    assert all(after["tables"][name] == [] for name in added - before["tables"].keys())
    for table, rows in _with_added_columns(before["tables"], old_version).items():
        assert after["tables"][table] == rows, table
    # the commands work on it (and a change migrates the JSON file too, which a read
    # only migrates in memory)
    kscli.json("renew", "off", "S-1001")
    assert kscli.json("sub", "show", "S-1001")["auto_renew"] is False
    assert open_store(spec).schema_version() == SCHEMA_VERSION
    applied = _applied(spec, backend)
    assert [(v, n) for v, n, _ in applied] == [(m.version, m.name) for m in MIGRATIONS]
    assert all(at is None for v, _, at in applied if v <= old_version)  # before the record
    assert all(at for v, _, at in applied if v > old_version)
    if backend != "postgres":  # a copy of the old ledger beside it (PostgreSQL: one transaction)
        assert os.path.exists(f"{spec}.v{old_version}.bak")


def _applied(spec: str, backend: str) -> list[tuple]:
    if backend == "json":
        with open(spec, encoding="utf-8") as handle:
            return [(m["version"], m["name"], m["applied_at"])
                    for m in json.load(handle)["migrations"]]
    if backend == "sqlite":
        conn = sqlite3.connect(spec)
        try:
            return conn.execute("SELECT version, name, applied_at FROM kscli_migrations "
                                "ORDER BY version").fetchall()
        finally:
            conn.close()
    from psycopg import connect

    with connect(spec) as conn:
        return conn.execute("SELECT version, name, applied_at FROM kscli_migrations "
                            "ORDER BY version").fetchall()


@pytest.mark.parametrize("name", OLD)
def test_an_old_export_imports_as_its_ledger_migrates(tmp_path, name, any_store_spec):
    """An export of an older schema reads with the columns its migrations add."""
    source = os.path.join(FIXTURES, f"{name}.db.export")
    kscli = Kscli(any_store_spec)
    assert kscli("import", source).exit_code == 0
    with open(source, encoding="utf-8") as handle:
        before = json.load(handle)
    after = json.loads(kscli("export").stdout)
    for row in before["tables"]["licenses"]:  # the export left out the keys kept in the file
        if row["secret_store"] == "ledger":
            row["secret_store"] = "missing"
    for table, rows in _with_added_columns(before["tables"], before["schema"]).items():
        assert after["tables"][table] == rows, table


def _with_added_columns(tables: dict, version: int) -> dict:
    """An old export's rows with the columns added since schema ``version``, each
    holding its field's default (as the description stores it), in column order."""
    from kscli.rows import stored
    from kscli.store.schema import TABLES

    out = {}
    for name, rows in tables.items():
        description = TABLES[name].description
        added = [] if description is None else [
            (f.stored_as, stored(f.kind, f.default)) for f in description.fields
            if f.since > version]
        out[name] = [{**row, **{column: default for column, default in added
                                if column not in row}} for row in rows]
    return out


def test_every_index_a_migration_names_exists_in_a_migrated_sqlite_ledger(tmp_path):
    from kscli.store import open_store
    from kscli.store.migrations import index_names
    from kscli.store.schema import TABLES

    spec = _copy("v2", ".db", tmp_path)
    conn = sqlite3.connect(spec)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'ix_subs_anchor'"
                        ).fetchone()[0] == 0  # the old code did not make it
    conn.close()
    with open_store(spec).read() as ledger:
        list(ledger.subs())
    conn = sqlite3.connect(spec)
    found = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    conn.close()
    wanted = {n for table in TABLES for n in index_names(table)}
    assert "ix_subs_anchor" in wanted and wanted <= found


# -- adding a column ----------------------------------------------------------------

def _without(field: str):
    """The subscriptions' description as it was before ``field`` was added (a scratch
    copy: ``field`` added by a migration 99)."""
    from kscli.domain.model import SUBSCRIPTION

    return SUBSCRIPTION._replace(fields=tuple(
        f._replace(since=99) if f.name == field else f for f in SUBSCRIPTION.fields))


@pytest.mark.parametrize("field,stored", [("disputed", 0), ("region", None), ("channel", "direct")])
def test_an_added_column_takes_its_default_in_sql_and_json(tmp_path, field, stored):
    from kscli.store import migrations as m
    from kscli.store.schema import table_of

    old = table_of(_without(field), None, 98)
    assert field not in old.names
    conn = sqlite3.connect(os.path.join(tmp_path, "scratch.db"))
    conn.execute(f"CREATE TABLE subs ({', '.join(old.names)})")
    conn.execute(f"INSERT INTO subs (id) VALUES ('S-1001')")
    step = m.AddColumn("subs", field)
    for statement in m.sql_statements(m.Migration(99, "scratch", (step,)), m.SQLITE):
        conn.execute(statement)
    assert conn.execute(f"SELECT id, {field} FROM subs").fetchall() == [("S-1001", stored)]
    tables = {"subs": [{"id": "S-1001"}, {"id": "S-1002", field: "kept"}]}
    m.apply_to_tables(m.Migration(99, "scratch", (step,)), tables)
    assert tables["subs"] == [{"id": "S-1001", field: stored}, {"id": "S-1002", field: "kept"}]


def test_a_table_is_created_with_the_columns_its_version_had():
    from kscli.store.migrations import POSTGRES, SQLITE, CreateTable, step_statements

    (sql,) = step_statements(CreateTable("charges"), 2, SQLITE)
    assert sql.startswith("CREATE TABLE IF NOT EXISTS charges (id TEXT PRIMARY KEY, ")
    assert "line_hash TEXT UNIQUE" in sql and "sub_id TEXT REFERENCES subs(id)" in sql
    (pg,) = step_statements(CreateTable("events"), 1, POSTGRES)
    assert pg.startswith('CREATE TABLE IF NOT EXISTS events (seq BIGSERIAL PRIMARY KEY, '
                         'reference TEXT COLLATE "C" NOT NULL UNIQUE')
