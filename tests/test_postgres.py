"""The PostgreSQL ledger: what only a server-backed ledger has to get right.

The shared contract suite (test_store_contract.py) runs this backend too; here are the
CLI round trips on a real server, the writers' lock, the schema version, the masked
DSN, and the errors for a missing driver, an unreachable server and a dropped
connection. Tests that need a server read KSCLI_TEST_PG_DSN (`.ci/postgres.sh`
starts one) and skip without it locally; in CI a missing server fails them.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

from kscli.store.migrations import SCHEMA_VERSION

from tests.conftest import Kscli, fresh_pg_store_spec, ledger_path, require_pg, require_psycopg
from tests.helpers import T0, make_sub

PASSWORD = "s3cret-Pw"
SUB = ["sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan", "monthly",
       "--price", "9.99", "--currency", "USD"]


@pytest.fixture
def pg_url():
    """A new, empty database on the test server."""
    return fresh_pg_store_spec(require_pg())


@pytest.fixture
def pg(pg_url):
    return Kscli(pg_url)


def with_password(url: str, password: str = PASSWORD) -> str:
    """The URL with a password in it (the test server trusts loopback, so any will do)."""
    scheme, rest = url.split("://", 1)
    user, at, tail = rest.partition("@")
    return f"{scheme}://{user}:{password}@{tail}"


def connect(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def edit_rows(doc: dict, table: str, edit) -> None:
    """Change one table of an export through ``edit(rows as dicts) -> rows``, in whichever
    shape the export keeps its rows (a list of objects, or columns and rows)."""
    held = doc["tables"].get(table, [])
    if isinstance(held, dict):
        columns = held["columns"]
        rows = edit([dict(zip(columns, row)) for row in held["rows"]])
        held["rows"] = [[row.get(c) for c in columns] for row in rows]
    else:
        doc["tables"][table] = edit(held)


# -- the DSN never shows a password -------------------------------------------------------

@pytest.mark.parametrize("url, shown", [
    ("postgresql://ada:pw@db.example:5433/kscli", "postgresql://ada:***@db.example:5433/kscli"),
    ("postgresql://ada@db.example/kscli", "postgresql://ada@db.example/kscli"),
    ("postgres://ada:p%40ss@h1:5432,h2:5433/k?sslmode=require",
     "postgres://ada:***@h1:5432,h2:5433/k?sslmode=require"),
    ("postgresql:///kscli?user=ada&password=pw&sslmode=verify-full",
     "postgresql:///kscli?user=ada&password=***&sslmode=verify-full"),
    ("postgresql:///?service=team", "postgresql:///?service=team"),
])
def test_the_location_masks_any_password_in_the_url(url, shown):
    from kscli.store import open_store

    store = open_store(url)
    assert store.kind == "postgres"
    assert store.location == shown


# -- errors without a server or a driver ----------------------------------------------------

def test_without_psycopg_kscli_names_the_extra_and_exits_6(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` now fails
    result = Kscli(f"postgresql://ada:{PASSWORD}@127.0.0.1:1/kscli")("sub", "list")
    assert result.exit_code == 6
    assert 'pip install "kscli[postgres]"' in result.stderr
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
    assert PASSWORD not in result.stderr


def test_an_unreachable_server_exits_5_naming_host_and_port_but_not_the_password():
    require_psycopg()
    port = free_port()
    kscli = Kscli(f"postgresql://ada:{PASSWORD}@127.0.0.1:{port}/kscli")
    for argv in (["sub", "list"], SUB):
        result = kscli(*argv)
        assert result.exit_code == 5, result.stderr
        assert f"127.0.0.1:{port}" in result.stderr
        assert PASSWORD not in result.stderr + result.stdout
        assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr


def test_a_url_libpq_cannot_parse_exits_2_without_echoing_the_password():
    require_psycopg()
    result = Kscli(f"postgresql://ada:{PASSWORD}%zz@127.0.0.1:1/kscli")("sub", "list")
    assert result.exit_code == 2
    assert "not valid" in result.stderr and PASSWORD not in result.stderr


def test_doctor_reports_an_unreachable_server_as_a_failed_check():
    port = free_port()
    result = Kscli(f"postgresql://ada:{PASSWORD}@127.0.0.1:{port}/kscli")("doctor")
    assert result.exit_code == 1
    assert f"127.0.0.1:{port}" in result.stdout and PASSWORD not in result.stdout


# -- the CLI on a real server ------------------------------------------------------------------

@pytest.mark.postgres
def test_a_missing_database_reads_as_empty_and_a_read_never_creates_it(pg_url):
    from tests.pg_util import drop_database, with_database

    server = require_pg()
    name = pg_url.rsplit("/", 1)[1] + "_new"
    kscli = Kscli(with_database(server, name))
    listing = kscli("sub", "list", fmt="json")
    assert listing.exit_code == 0 and listing.json() == []
    assert kscli("sub", "show", "S-1001").exit_code == 3
    with connect(server) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s",
                            (name,)).fetchone()[0] == 0
    try:
        assert kscli.json(*SUB)["id"] == "S-1001"  # the first write creates it
    finally:
        drop_database(server, name)


@pytest.mark.postgres
@freeze_time("2026-11-22T10:00:00Z")
def test_init_add_list_renew_off_cancel_and_sweep(pg, pg_url):
    init = pg("init")
    assert init.exit_code == 0 and "created" in init.stderr
    with connect(pg_url) as conn:
        assert conn.execute("SELECT value FROM kscli_meta WHERE key = 'schema_version'"
                            ).fetchone()[0] == str(SCHEMA_VERSION)
    first = pg.json(*SUB)
    second = pg.json(*SUB[:3], "Globex", *SUB[4:])
    assert (first["id"], second["id"]) == ("S-1001", "S-1002")
    assert first["reference"] != second["reference"]
    assert [s["id"] for s in pg.json("sub", "list")] == ["S-1001", "S-1002"]
    assert [s["id"] for s in pg.json("sub", "list", "--vendor", "GLOBEX")] == ["S-1002"]
    off = pg.json("renew", "off", "S-1001")
    assert off["auto_renew"] is False and off["status"] == "active"
    again = pg("renew", "off", "S-1001", fmt="json")
    assert again.exit_code == 0 and again.json()["changed"] is False
    cancelled = pg.json("sub", "cancel", "S-1002", "--yes")
    assert cancelled["status"] == "cancelled"
    assert pg("sub", "show", "S-9999").exit_code == 3
    with freeze_time("2027-01-30T10:00:00Z"):
        swept = pg.json("sweep")
        assert {(c["subject"], c["action"]) for c in swept} == {("S-1001", "expired"),
                                                                ("S-1002", "expired")}
        assert pg.json("sweep") == []  # idempotent
        assert {s["status"] for s in pg.json("sub", "list")} == {"expired"}
    history = [e["action"] for e in pg.json("sub", "history", "S-1001")]
    assert history == ["created", "renew-off", "expired"]


@pytest.mark.postgres
@freeze_time("2026-11-22T10:00:00Z")
def test_export_from_sqlite_import_into_postgres_and_back_is_exact(tmp_path, pg, pg_url):
    sqlite = Kscli(ledger_path(tmp_path, "sqlite"))
    assert sqlite("init", "--sample").exit_code == 0
    sqlite.json(*SUB[:3], "Ünïcode & Co", *SUB[4:], "--account", "zed")
    sqlite.json(*SUB[:3], "acme", *SUB[4:], "--account", "Zed")
    sqlite.json("renew", "off", "S-1001")
    exported = sqlite("export", "--with-keys")  # the sample's keys are kept in the ledger
    assert exported.exit_code == 0
    source = tmp_path / "all.json"
    source.write_text(exported.stdout)

    imported = pg("import", str(source))
    assert imported.exit_code == 0, imported.stderr
    assert pg("export", "--with-keys").stdout == exported.stdout
    for argv in (["sub", "list"], ["sub", "list", "--sort", "account"],
                 ["sub", "list", "--sort", "vendor"], ["renew", "due", "--within", "400d"],
                 ["sub", "history", "S-1001"]):
        assert pg(*argv, fmt="json").stdout == sqlite(*argv, fmt="json").stdout, argv
    assert pg("import", str(source)).exit_code == 1  # only into an empty ledger

    back = Kscli(str(tmp_path / "back.db"))
    (tmp_path / "pg.json").write_text(pg("export", "--with-keys").stdout)
    assert back("import", str(tmp_path / "pg.json")).exit_code == 0
    assert back("export", "--with-keys").stdout == exported.stdout


@pytest.mark.postgres
def test_doctor_checks_connection_server_and_schema_and_never_prints_the_password(pg_url):
    kscli = Kscli(with_password(pg_url))
    assert kscli("init").exit_code == 0
    result = kscli("doctor", fmt="json")
    assert result.exit_code in (0, 1)  # 1 only for checks outside the store
    checks = {c["check"]: c for c in result.json()}
    for name in ("store", "connection", "server", "schema", "references"):
        assert checks[name]["result"] == "ok", checks[name]
    assert "PostgreSQL 1" in checks["server"]["detail"]
    assert f"schema version {SCHEMA_VERSION}" in checks["schema"]["detail"]
    assert ":***@" in checks["store"]["detail"]
    missing = kscli("sub", "show", "S-4242")
    shown = kscli("doctor").stdout + result.stdout + missing.stderr + kscli("init").stderr
    assert ":***@" in missing.stderr
    assert PASSWORD not in shown


@pytest.mark.postgres
def test_a_service_name_from_the_service_file_picks_the_server(pg_url, tmp_path, monkeypatch):
    from urllib.parse import urlsplit

    parts = urlsplit(pg_url)
    (tmp_path / "pg_service.conf").write_text(
        f"[kscli-team]\nhost={parts.hostname}\nport={parts.port}\nuser={parts.username}\n"
        f"dbname={parts.path.lstrip('/')}\n")
    monkeypatch.setenv("PGSERVICEFILE", str(tmp_path / "pg_service.conf"))
    kscli = Kscli("postgresql:///?service=kscli-team")
    assert kscli.json(*SUB)["id"] == "S-1001"
    assert [s["id"] for s in Kscli(pg_url).json("sub", "list")] == ["S-1001"]


# -- schema versions -----------------------------------------------------------------------------

@pytest.mark.postgres
def test_a_newer_schema_is_refused_with_exit_6_and_left_untouched(pg, pg_url):
    assert pg.json(*SUB)["id"] == "S-1001"
    with connect(pg_url) as conn:
        conn.execute("UPDATE kscli_meta SET value = '99' WHERE key = 'schema_version'")
    before = pg_dump(pg_url)
    for argv in (["sub", "list"], SUB, ["renew", "off", "S-1001"], ["init"]):
        result = pg(*argv)
        assert result.exit_code == 6, (argv, result.stderr)
        assert "newer" in result.stderr and "upgrade kscli" in result.stderr
    assert pg_dump(pg_url) == before


@pytest.mark.postgres
def test_a_database_with_a_foreign_subs_table_is_not_taken_for_a_ledger(pg, pg_url):
    with connect(pg_url) as conn:
        conn.execute("CREATE TABLE subs (name text)")
    for argv in (["sub", "list"], SUB):
        result = pg(*argv)
        assert result.exit_code == 6 and "not a kscli ledger" in result.stderr
    with connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('kscli_meta')").fetchone()[0] is None


@pytest.mark.postgres
def test_a_version_1_ledger_is_migrated_in_place_on_first_use(pg_url):
    from kscli.store.migrations import SCHEMA_VERSION
    from kscli.store.postgres import migration_statements

    with connect(pg_url) as conn:
        conn.execute("CREATE TABLE kscli_meta (key text PRIMARY KEY, value text NOT NULL)")
        conn.execute("INSERT INTO kscli_meta VALUES ('schema_version', '1')")
        for statement in migration_statements(0, 1):
            conn.execute(statement)
        conn.execute("INSERT INTO subs (id, vendor, status) VALUES ('S-1001', 'Acme', 'active')")
        assert conn.execute("SELECT to_regclass('charges')").fetchone()[0] is None
    with _store(pg_url).read() as ledger:  # a read migrates once, then reads
        assert [s.id for s in ledger.subs()] == ["S-1001"]
        assert list(ledger.charges()) == []
    with connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('charges')").fetchone()[0] == "charges"
        assert conn.execute("SELECT value FROM kscli_meta").fetchone()[0] == str(SCHEMA_VERSION)


def _store(url: str, busy_timeout: float = 10.0):
    from kscli.store import open_store

    return open_store(url, busy_timeout=busy_timeout)


def pg_dump(url: str) -> list:
    """Every row of every table in the database, to compare before and after."""
    with connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")]
        return [(t, sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"').fetchall())))
                for t in tables]


# -- writers: the advisory lock -----------------------------------------------------------------

@pytest.mark.postgres
def test_two_sweeps_started_at_the_same_moment_renew_each_subscription_once(pg_url):
    from kscli.services.sweep import sweep

    with _store(pg_url).write() as ledger:  # 40 subscriptions, each three periods behind
        for n in range(40):
            ledger.add(make_sub(f"S-{1001 + n}"))
    now = T0 + timedelta(days=95)
    start = threading.Barrier(2)
    reports, errors = [], []

    def cron_host():
        try:
            store = _store(pg_url)
            start.wait()
            reports.append(sweep(store, now))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    hosts = [threading.Thread(target=cron_host) for _ in range(2)]
    for host in hosts:
        host.start()
    for host in hosts:
        host.join()
    assert errors == []
    sizes = sorted(len(r.changes) for r in reports)
    assert sizes == [0, 40 * 3]  # one did everything; the other found nothing due
    with _store(pg_url).read() as ledger:
        renewed = [e for e in ledger.events() if e.action == "renewed"]
        for n in range(40):
            sub = ledger.sub(f"S-{1001 + n}")
            assert sub.period_start == datetime(2026, 4, 30, 12, 0, tzinfo=timezone.utc)
    assert len(renewed) == 40 * 3
    assert len({(e.subject, e.detail.get("effective_at")) for e in renewed}) == 40 * 3


@pytest.mark.postgres
def test_a_writer_waits_for_the_lock_and_then_sees_what_the_other_committed(pg_url):
    with _store(pg_url).write() as ledger:
        ledger.next_id("S-")
    got = []
    holding = threading.Event()
    release = threading.Event()

    def holder():
        with _store(pg_url).write() as ledger:
            got.append(ledger.next_id("S-"))
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    holding.wait(10)
    timer = threading.Timer(0.3, release.set)
    timer.start()
    with _store(pg_url, busy_timeout=10).write() as ledger:  # waits ~0.3 s for the holder
        got.append(ledger.next_id("S-"))
    thread.join()
    assert got == ["S-1002", "S-1003"]


@pytest.mark.postgres
def test_a_writer_held_past_the_busy_timeout_exits_5_and_writes_nothing(pg, pg_url):
    from kscli.store.postgres import LOCK_KEY

    assert pg.json(*SUB)["id"] == "S-1001"
    with connect(pg_url) as other:  # another host's kscli in the middle of a write
        other.execute("BEGIN")
        other.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        for timeout in ("0.3", "0"):
            result = pg("renew", "off", "S-1001", env={"KSCLI_BUSY_TIMEOUT": timeout})
            assert result.exit_code == 5, result.stderr
            assert "busy" in result.stderr and "Traceback" not in result.stderr
        listing = pg("sub", "list", fmt="json")  # readers never wait for writers
        assert listing.exit_code == 0 and listing.json()[0]["auto_renew"] is True
        other.execute("ROLLBACK")
    assert pg.json("renew", "off", "S-1001")["auto_renew"] is False


@pytest.mark.postgres
def test_a_dropped_connection_mid_command_leaves_the_ledger_as_it_was(pg_url):
    from kscli.domain.errors import StoreBusy

    with _store(pg_url).write() as ledger:
        ledger.add(make_sub("S-1001"))
    before = pg_dump(pg_url)
    with pytest.raises(StoreBusy) as caught:
        with _store(pg_url).write() as ledger:
            ledger.add(make_sub("S-1002"))
            ledger.append_event("S-1002", "created", {}, T0)
            pid = ledger.tx.conn.info.backend_pid
            with connect(pg_url) as admin:  # the server or the network drops it
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            ledger.append_event("S-1001", "late", {}, T0)
    assert "lost the connection" in caught.value.message
    assert "nothing was changed" in caught.value.message
    assert pg_dump(pg_url) == before


# -- reads ------------------------------------------------------------------------------------------

@pytest.mark.postgres
def test_a_large_listing_streams_through_a_server_side_cursor(pg_url):
    from kscli.store import pg_rows

    rows = 3 * pg_rows.BATCH + 7
    with _store(pg_url).write() as ledger:  # many rows: inserted with COPY
        ledger.add_many((make_sub(f"S-{10001 + n}") for n in range(rows)), "subs")
    seen = 0
    with _store(pg_url).read() as ledger:
        for sub in ledger.subs():
            if seen == 0:
                open_cursors = ledger.tx.conn.execute(
                    "SELECT count(*) FROM pg_cursors WHERE name LIKE 'kscli_rows_%'").fetchone()[0]
            seen += 1
    assert open_cursors == 1
    assert seen == rows


def index_names(url: str, table: str) -> set[str]:
    with connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s",
                                           (table,))}


@pytest.mark.postgres
def test_a_bulk_load_rebuilds_its_indexes_and_a_conflict_in_it_changes_nothing(pg_url):
    from kscli.store.base import Conflict

    with _store(pg_url).write():
        pass
    indexes = index_names(pg_url, "subs")
    assert {"subs_pkey", "ix_subs_vendor", "ix_subs_status_period_end"} <= indexes
    with _store(pg_url).write() as ledger:
        batch = [make_sub(f"S-{1001 + n}") for n in range(100)]
        with pytest.raises(Conflict):
            ledger.add_many(batch + [make_sub("S-1050")], "subs")
        assert ledger.tx.count("subs") == 0  # all of the rows or none; the transaction goes on
        ledger.add_many(batch, "subs")
    assert index_names(pg_url, "subs") == indexes
    with _store(pg_url).read() as ledger:
        assert ledger.tx.count("subs") == 100
        assert [s.id for s in ledger.subs(vendor="ACME")][:2] == ["S-1001", "S-1002"]


@pytest.mark.postgres
def test_order_of_listings_matches_sqlite_byte_for_byte(pg_url, tmp_path):
    """"C" collation and NULLs first: the same order as SQLite, accents and case included."""
    names = ["acme", "Acme", "Zeta", "Émile", "_under", "beta", "éclair", "Z"]
    stores = [_store(pg_url), _store(ledger_path(tmp_path, "sqlite"))]
    for store in stores:
        with store.write() as ledger:
            for n, vendor in enumerate(names):
                ledger.add(make_sub(f"S-{1001 + n}", vendor=vendor,
                                    region=None if n % 3 == 0 else vendor.lower()))
    orders = []
    for store in stores:
        with store.read() as ledger:
            orders.append([
                [s.id for s in ledger.subs(order=order)]
                for order in (("vendor", "id"), ("region", "id"), ("id",))
            ] + [[r[0] for r in ledger.tx.select("subs", (), order=("region", "id"), descending=True)]])
    assert orders[0] == orders[1]


@pytest.mark.postgres
def test_a_conflict_after_a_bulk_load_rolls_the_whole_write_back(pg_url):
    from kscli.domain.model import Event
    from kscli.store.base import Conflict
    from kscli.store.schema import to_row

    store = _store(pg_url)
    with store.write():
        pass
    indexes = index_names(pg_url, "subs")
    repeated = to_row(Event("KS-20260131-AAAAAA", T0, "S-10001", "created", {}))
    with pytest.raises(Conflict):
        with store.write() as ledger:  # as an import does: many rows, then a repeated value
            ledger.add_many((make_sub(f"S-{10001 + n}") for n in range(100)), "subs")
            ledger.tx.insert("events", [repeated, repeated])
    with store.read() as ledger:
        assert ledger.tx.count("subs") == 0 and list(ledger.events()) == []
    assert index_names(pg_url, "subs") == indexes


@pytest.mark.postgres
def test_a_value_postgres_cannot_store_exits_2_and_writes_nothing(pg, tmp_path):
    sqlite = Kscli(ledger_path(tmp_path, "sqlite"))
    sqlite.json(*SUB)
    doc = json.loads(sqlite("export").stdout)
    edit_rows(doc, "subs",  # SQLite keeps a NUL character; PostgreSQL cannot
              lambda rows: [dict(rows[0], product="Cloud\u0000Plus")] + rows[1:])
    (tmp_path / "nul.json").write_text(json.dumps(doc))
    result = pg("import", str(tmp_path / "nul.json"))
    assert result.exit_code == 2, result.stderr
    assert "NUL" in result.stderr and "Traceback" not in result.stderr
    assert pg("sub", "list", fmt="json").json() == []
