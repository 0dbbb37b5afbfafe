"""One contract for every store backend: SQLite, JSON and PostgreSQL run the same tests."""

from __future__ import annotations

import contextlib
import copy
import os
import threading
from datetime import timedelta
from decimal import Decimal

import pytest

from kscli.domain.errors import StoreBusy, StoreUnreadable
from kscli.domain.model import Activation, Charge, Incident, License
from kscli.store import open_store
from kscli.store.base import Conflict
from tests.conftest import fresh_pg_store_spec, ledger_path, require_pg
from tests.helpers import T0, make_sub


@pytest.fixture
def store(any_store_spec):
    return open_store(any_store_spec, busy_timeout=2)


def test_missing_ledger_reads_as_empty_and_is_not_created(store):
    with store.read() as ledger:
        assert list(ledger.subs()) == []
        assert ledger.sub("S-1001") is None
        assert ledger.latest_event_at() is None
    assert not store.exists()


def test_write_creates_the_ledger_and_round_trips_every_field(store):
    sub = make_sub("S-1001", commitment_end=T0 + timedelta(days=365), region="EU",
                   channel="partner", partner_name="Northwind", partner_portal="https://p.example",
                   disputed=True)
    with store.write() as ledger:
        ledger.add(sub)
    assert store.exists()
    with store.read() as ledger:
        assert ledger.sub("S-1001") == sub


def test_a_failed_transaction_writes_nothing(store):
    with pytest.raises(RuntimeError):
        with store.write() as ledger:
            ledger.add(make_sub("S-1001"))
            ledger.append_event("S-1001", "created", {}, T0)
            raise RuntimeError("boom")
    with store.read() as ledger:
        assert ledger.sub("S-1001") is None
        assert list(ledger.events()) == []


def test_ids_count_up_per_prefix_and_sort_naturally(store):
    with store.write() as ledger:
        ids = [ledger.next_id("S-") for _ in range(3)]
        assert ledger.next_id("L-") == "L-1001"
        for sub_id in ids:
            ledger.add(make_sub(sub_id))
        for n in (999, 10000):
            ledger.add(make_sub(f"S-{n}"))
    assert ids == ["S-1001", "S-1002", "S-1003"]
    with store.read() as ledger:
        assert [s.id for s in ledger.subs()] == ["S-999", "S-1001", "S-1002", "S-1003", "S-10000"]


def test_save_replaces_a_record(store):
    with store.write() as ledger:
        ledger.add(make_sub("S-1001"))
    with store.write() as ledger:
        sub = ledger.sub("S-1001")

        ledger.save(sub._replace(status="cancelled", auto_renew=False))
    with store.read() as ledger:
        got = ledger.sub("S-1001")
    assert (got.status, got.auto_renew) == ("cancelled", False)


def test_a_vendor_matches_whole_words_whatever_the_case_and_accents(store):
    with store.write() as ledger:
        ledger.add(make_sub("S-1001", vendor="Ärzte Café"))
        ledger.add(make_sub("S-1002", vendor="Arzte Cafe Berlin"))
        ledger.add(make_sub("S-1003", vendor="ÆØÅ Δέλτα"))
        ledger.add(make_sub("S-1004", vendor="Acme Cloud"))
        ledger.add(make_sub("S-1005", vendor="Acmeware", account="ada.lovelace@example.com"))
        ledger.add(make_sub("S-1006", vendor="AMZN*Prime Video", account="Straße"))
    with store.read() as ledger:
        for asked in ("ärzte café", "ÄRZTE CAFÉ", "Arzte Cafe", "arzte"):
            assert [s.id for s in ledger.subs(vendor=asked)] == ["S-1001", "S-1002"], asked
        assert [s.id for s in ledger.subs(vendor="cafe berlin")] == ["S-1002"]
        assert [s.id for s in ledger.subs(vendor="berlin cafe")] == []  # consecutive, in order
        assert [s.id for s in ledger.subs(vendor="æøå δέλτα")] == ["S-1003"]
        assert [s.id for s in ledger.subs(vendor="δελτα")] == ["S-1003"]
        assert [s.id for s in ledger.subs(vendor="acme")] == ["S-1004"]  # not Acmeware
        assert [s.id for s in ledger.subs(vendor="acm")] == []
        assert [s.id for s in ledger.subs(vendor="prime")] == ["S-1006"]  # split on *
        assert [s.id for s in ledger.subs(account="lovelace")] == ["S-1005"]
        assert [s.id for s in ledger.subs(account="STRASSE")] == ["S-1006"]
        assert [s.id for s in ledger.subs(vendor="***")] == []


def test_filters_by_status_vendor_account_and_period_end(store):
    with store.write() as ledger:
        ledger.add(make_sub("S-1001"))
        ledger.add(make_sub("S-1002", vendor="Globex", status="cancelled"))
        ledger.add(make_sub("S-1003", account="bob", period_end=T0 + timedelta(days=90)))
    with store.read() as ledger:
        assert [s.id for s in ledger.subs(status=["cancelled"])] == ["S-1002"]
        assert [s.id for s in ledger.subs(vendor="globex")] == ["S-1002"]
        assert [s.id for s in ledger.subs(vendor="GLOBEX")] == ["S-1002"]
        assert [s.id for s in ledger.subs(account="bob")] == ["S-1003"]
        due = ledger.subs(period_end_before=T0 + timedelta(days=31), order=("period_end", "id"))
        assert [s.id for s in due] == ["S-1001", "S-1002"]


def test_events_keep_their_order_and_get_unique_references(store):
    with store.write() as ledger:
        ledger.add(make_sub("S-1001"))
        refs = [ledger.append_event("S-1001", f"step-{i}", {"n": i}, T0 + timedelta(seconds=i)).reference
                for i in range(30)]
    assert len(set(refs)) == 30
    assert all(r.startswith("KS-20260131-") and len(r) == 18 for r in refs)
    with store.read() as ledger:
        events = list(ledger.events("S-1001"))
        assert [e.action for e in events] == [f"step-{i}" for i in range(30)]
        assert events[3].detail == {"n": 3}
        assert ledger.event(refs[5]).action == "step-5"
        assert ledger.latest_event_at() == T0 + timedelta(seconds=29)


def test_a_repeated_event_reference_is_a_conflict(store):
    from kscli.domain.model import Event
    from kscli.store.schema import to_row

    with store.write() as ledger:
        ledger.tx.insert("events", [to_row(Event("KS-20260131-AAAAAA", T0, "S-1", "x", {}))])
        with pytest.raises(Conflict):
            ledger.tx.insert("events", [to_row(Event("KS-20260131-AAAAAA", T0, "S-2", "y", {}))])


def test_licenses_incidents_charges_and_secrets_round_trip(store):
    lic = License("L-1001", "Editor", T0, "ab" * 32, "FC3W", "3f9a1c2e", status="active",
                  seats=2, activations=(Activation("laptop", T0),), sub_id="S-1001", issued=True)
    inc = Incident("I-1001", "S-1001", "it broke", T0)
    charge = Charge("C-1001", T0.date(), "ACME CLOUD 123", Decimal("9.99"), "USD", "h1",
                    sub_id="S-1001", statement="jan.csv", imported_at=T0)
    with store.write() as ledger:
        ledger.add(make_sub("S-1001"))
        ledger.add(lic)
        ledger.add(inc)
        ledger.add(charge)
        ledger.put_secret("L-1001", "SECRET")
        ledger.put_secret("L-1001", "SECRET-2")
    with store.read() as ledger:
        assert ledger.license("L-1001") == lic
        assert ledger.license_by_hash("ab" * 32) == lic
        assert list(ledger.licenses(sub_id="S-1001")) == [lic]
        assert ledger.incident("I-1001") == inc
        assert list(ledger.incidents("S-1001")) == [inc]
        assert ledger.charge_by_hash("h1") == charge
        assert list(ledger.charges(unmatched=True)) == []
        assert ledger.secret("L-1001") == "SECRET-2"


def test_a_duplicate_key_hash_is_a_conflict(store):
    lic = License("L-1001", "Editor", T0, "cd" * 32, "FC3W", "3f9a1c2e")
    with store.write() as ledger:
        ledger.add(lic)
        with pytest.raises(Conflict):
            ledger.add(License("L-1002", "Editor", T0, "cd" * 32, "FC3W", "3f9a1c2e"))


def test_dump_and_load_rows_round_trip_exactly(store, tmp_path):
    with store.write() as ledger:
        for i in range(5):
            ledger.add(make_sub(ledger.next_id("S-")))
            ledger.append_event(f"S-{1001 + i}", "created", {"i": i}, T0)
        ledger.put_secret("L-1", "never exported")
        dumped = ledger.dump_rows()
    assert "secrets" not in dumped
    other = open_store(str(tmp_path / "copy.json"))
    with other.write() as ledger:
        ledger.load_tables(dumped)
    with other.read() as ledger:
        assert ledger.dump_rows() == dumped
        assert ledger.dump_rows()["counters"] == [{"name": "S-", "value": 1005}]  # came along
    with other.write() as ledger:
        assert ledger.next_id("S-") == "S-1006"


# -- the bulk-load paths: an import into a new ledger, many rows into an empty table ------

BULK = 150  # rows a table: PostgreSQL sends this many through COPY (see test below)


def test_bulk_is_large_enough_for_postgres_copy():
    from kscli.store.pg_rows import COPY_FROM

    assert BULK >= 2 * COPY_FROM


def another_store(store, tmp_path):
    """A new, empty ledger of the same backend as ``store``."""
    if store.kind == "postgres":
        return open_store(fresh_pg_store_spec(require_pg()), busy_timeout=2)
    return open_store(ledger_path(tmp_path / "another", store.kind), busy_timeout=2)


def index_names(store) -> set[str] | None:
    """The indexes the backend keeps (None for JSON, which keeps them in memory)."""
    if store.kind != "json" and not store.exists():
        return set()
    if store.kind == "sqlite":
        import sqlite3

        with contextlib.closing(sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)) as conn:
            return {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index'")}
    if store.kind == "postgres":
        import psycopg

        from kscli.store.schema import TABLES

        with psycopg.connect(store.url) as conn:
            return {row[0] for row in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = ANY(%s)", (list(TABLES),))}
    return None


def key_license(n: int) -> License:
    return License(f"L-{1001 + n}", "Editor", T0, f"{n:064x}", "FC3W", f"{n:08x}")


def fill(ledger) -> None:
    """BULK subscriptions and license keys, some events, an incident and a charge."""
    ledger.add_many((make_sub(f"S-{1001 + n}", vendor="Acme" if n % 2 else "Globex")
                     for n in range(BULK)), "subs")
    ledger.add_many((key_license(n) for n in range(BULK)), "licenses")
    ledger.add(Incident("I-1001", "S-1001", "printer", T0))
    ledger.add(Charge("C-1001", T0.date(), "ACME CLOUD", Decimal("9.99"), "USD", "h1", "S-1001"))
    for n in range(3):
        ledger.append_event(f"S-{1001 + n}", "created", {"n": n}, T0)
    for prefix, last in (("S-", BULK), ("L-", BULK), ("I-", 1), ("C-", 1)):
        for _ in range(last):
            ledger.next_id(prefix)


def assert_indexes_hold(store) -> None:
    """What the indexes serve still works: unique key hashes, filters, the id order."""
    with store.read() as ledger:
        assert ledger.tx.count("subs") == BULK and ledger.tx.count("licenses") == BULK
        assert ledger.license_by_hash(f"{7:064x}").id == "L-1008"
        acme = [s.id for s in ledger.subs(vendor="acme")]
        assert len(acme) == BULK // 2 and acme[:2] == ["S-1002", "S-1004"]
    with pytest.raises(Conflict):
        with store.write() as ledger:
            ledger.add(License("L-9999", "Editor", T0, f"{7:064x}", "FC3W", "0000aaaa"))


def test_many_rows_into_empty_tables_take_the_bulk_path_and_keep_every_index(store):
    with store.write():
        pass  # the schema, with its indexes
    before = index_names(store)
    with store.write() as ledger:
        fill(ledger)
    assert index_names(store) == before
    if before is not None:
        assert {"ix_subs_natural"} <= before  # the id-order index of the SQL backends
    assert_indexes_hold(store)


def test_an_import_into_a_new_ledger_loads_every_row_and_rebuilds_the_indexes(store, tmp_path):
    with store.write() as ledger:
        fill(ledger)
        dumped = ledger.dump_rows()
    target = another_store(store, tmp_path)
    assert not target.exists()
    counts = target.import_tables(lambda: copy.deepcopy(dumped))
    assert (counts["subs"], counts["licenses"], counts["events"]) == (BULK, BULK, 3)
    with target.read() as ledger:
        assert ledger.dump_rows() == dumped
    assert index_names(target) == index_names(store)
    assert_indexes_hold(target)
    with target.write() as ledger:
        assert ledger.next_id("S-") == f"S-{1001 + BULK}"  # the counters came along


@pytest.mark.parametrize("created", [False, True], ids=["new", "existing-empty"])
def test_an_import_whose_rows_fail_to_come_keeps_nothing(store, tmp_path, created):
    with store.write() as ledger:
        fill(ledger)
        dumped = ledger.dump_rows()
    target = another_store(store, tmp_path)
    if created:
        with target.write():
            pass
    before = index_names(target)

    def read():
        raise StoreUnreadable("the file could not be read")

    with pytest.raises(StoreUnreadable):
        target.import_tables(read)
    assert target.exists() is created
    with target.read() as ledger:
        assert list(ledger.subs()) == [] and list(ledger.events()) == []
    assert index_names(target) == before


def test_concurrent_writers_lose_no_update(store):
    with store.write() as ledger:
        ledger.add(make_sub("S-1001"))
    errors = []

    def worker(n):
        try:
            for _ in range(5):
                with open_store(store.location if store.kind != "postgres" else store.url,
                                busy_timeout=20).write() as ledger:
                    ledger.append_event("S-1001", f"w{n}", {}, T0)
                    ledger.next_id("X-")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.read() as ledger:
        assert len(list(ledger.events("S-1001"))) == 20
    with store.write() as ledger:
        assert ledger.next_id("X-") == "X-1021"


def test_schema_version_is_current_after_a_write(store):
    from kscli.store.migrations import SCHEMA_VERSION

    assert store.schema_version() is None
    with store.write():
        pass
    assert store.schema_version() == SCHEMA_VERSION


def test_checks_pass_on_a_healthy_ledger(store):
    with store.write() as ledger:
        ledger.add(make_sub("S-1001"))
    checks = store.checks()
    assert checks and all(passed for _, passed, _ in checks), checks


# -- file backends only ---------------------------------------------------------------

@pytest.fixture
def file_store(store_path):
    return open_store(store_path, busy_timeout=0.3)


@pytest.mark.parametrize("content", [b"garbage that is not a ledger\n" * 3, b"{\"half\": ",
                                     b"SQLite format 3\x00" + b"\x00" * 50])
def test_an_unreadable_ledger_is_refused_and_left_untouched(file_store, content):
    os.makedirs(os.path.dirname(file_store.path), exist_ok=True)
    with open(file_store.path, "wb") as handle:
        handle.write(content)
    for opener in (file_store.read, file_store.write):
        with pytest.raises(StoreUnreadable) as caught:
            with opener():
                pass
        assert file_store.path in caught.value.message
    with open(file_store.path, "rb") as handle:
        assert handle.read() == content


def test_files_and_folders_are_private(file_store):
    with file_store.write() as ledger:
        ledger.add(make_sub("S-1001"))
    folder = os.path.dirname(file_store.path)
    assert os.stat(folder).st_mode & 0o777 == 0o700
    for name in os.listdir(folder):
        mode = os.stat(os.path.join(folder, name)).st_mode & 0o777
        assert mode == 0o600, (name, oct(mode))


def test_a_writer_held_past_the_timeout_gets_store_busy(file_store):
    with file_store.write() as ledger:
        ledger.add(make_sub("S-1001"))
    release = threading.Event()
    held = threading.Event()

    def holder():
        with open_store(file_store.path, busy_timeout=5).write() as ledger:
            ledger.append_event("S-1001", "hold", {}, T0)
            held.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(5)
    try:
        with pytest.raises(StoreBusy):
            with file_store.write() as ledger:
                ledger.append_event("S-1001", "late", {}, T0)
    finally:
        release.set()
        thread.join()
    with file_store.read() as ledger:
        assert [e.action for e in ledger.events("S-1001")] == ["hold"]


def _twelve_charges(store) -> list[Charge]:
    """Twelve stored charges over eleven days, two in three matched to S-1001."""
    made = [Charge(f"C-{1001 + i}", (T0 + timedelta(days=(7 * i) % 11)).date(), f"SHOP {i}",
                   Decimal(f"{i}.50"), "USD", f"h{i}", sub_id="S-1001" if i % 3 else None,
                   statement="jan.csv", imported_at=T0) for i in range(12)]
    with store.write() as ledger:
        ledger.add(make_sub("S-1001"))
        ledger.add_many(made, "charges")
    return made


def test_charges_in_any_order_are_the_charges_each_filter_selects(store):
    made = _twelve_charges(store)
    since = (T0 + timedelta(days=5)).date()
    with store.read() as ledger:
        for filters in ({}, {"matched": True}, {"unmatched": True}, {"sub_id": "S-1001"},
                        {"since": since}, {"unmatched": True, "since": since}):
            ordered = list(ledger.charges(**filters))
            anyhow = ledger.charges(**filters, in_order=False)
            assert isinstance(anyhow, list)
            assert sorted(anyhow) == sorted(ordered), filters
            assert len(anyhow) == len(ordered) > 0, filters
        assert {c.id for c in ledger.charges(unmatched=True, in_order=False)} == {
            c.id for c in made if c.sub_id is None}


def test_charge_fields_are_those_fields_of_the_charges_each_filter_selects(store):
    made = _twelve_charges(store)
    fields = ("id", "posted_on", "amount", "sub_id", "imported_at")
    with store.read() as ledger:
        for filters in ({}, {"matched": True}, {"unmatched": True}):
            whole = ledger.charges(**filters, in_order=False)
            some = ledger.charge_fields(fields, **filters)
            assert isinstance(some, list) and len(some) == len(whole) > 0, filters
            # the same values, converted alike (a date, a Decimal, an aware time)
            assert sorted(some) == sorted(tuple(getattr(c, f) for f in fields) for c in whole)
            assert all(r._fields == fields for r in some)
        (one,) = ledger.charge_fields(["description"], unmatched=True)[:1]
        assert one.description.startswith("SHOP ") and one == (one.description,)
        with pytest.raises(ValueError, match="no field bogus"):
            ledger.charge_fields(["id", "bogus"])


@pytest.mark.parametrize("column,value,read", [
    ("posted_on", "not a day", lambda ledger: ledger.charges(in_order=False)),
    ("posted_on", "not a day", lambda ledger: ledger.charge_fields(("id", "posted_on"))),
    ("amount", "12,x", lambda ledger: ledger.charge_fields(("amount", "sub_id")))])
def test_a_damaged_charge_read_in_any_order_is_unreadable_naming_it(store, column, value, read):
    from kscli.store.schema import TABLES, to_row

    good = Charge("C-1001", T0.date(), "SHOP", Decimal("1.50"), "USD", "h1", imported_at=T0)
    with store.write() as ledger:
        ledger.add(good)
    row = list(to_row(good._replace(id="C-1002", line_hash="h2")))
    row[TABLES["charges"].names.index(column)] = value
    # (the JSON file checks every row as it writes and reads it: it refuses it there)
    with pytest.raises(StoreUnreadable) as caught:
        with store.write() as ledger:
            ledger.tx.insert("charges", [tuple(row)])
        with store.read() as ledger:
            read(ledger)
    assert "C-1002" in caught.value.message and column in caught.value.message
