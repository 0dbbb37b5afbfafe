"""kscli when things go wrong: a process killed mid-write, a full disk, an old or a newer
ledger.

A `kill -9` lands at random moments (over several runs, one of them inside the write
itself) in an import of 20,000 subscriptions (every backend, PostgreSQL included), in a
sweep over many due subscriptions and in a write to a large JSON ledger; afterwards the
ledger opens, `kscli doctor` passes, and it holds all or none of the interrupted
command's changes. Set KSCLI_FAULT_SEED to replay the moments of a run.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.conftest import BACKENDS, Kscli, ledger_path
from tests.test_stress import installed, process_env, rows

SEED = int(os.environ.get("KSCLI_FAULT_SEED") or time.time_ns() % 1_000_000)
BIG = 20_000  # subscriptions in the import that gets killed
DUE = 600  # due subscriptions in the sweep that gets killed
SOME = 8_000  # subscriptions in the JSON ledger whose write gets killed (a 5 MB file)
KILLS = 3  # runs per fault, each killed at another moment


def write_export(path, count: int, started: datetime) -> None:
    """`kscli export` of a ledger of ``count`` monthly subscriptions, built in bulk."""
    from kscli.domain.subscriptions import new_subscription
    from kscli.services.ledger import export_chunks
    from kscli.store import open_store

    vendors = ["Acme", "Globex", "Initech", "Hooli"]
    subs = [new_subscription(
        f"S-{1001 + i}", account=f"acct-{i % 50}", vendor=vendors[i % 4],
        product=f"Product {i % 37}", plan="monthly", kind="subscription",
        price=Decimal(f"{5 + i % 50}.99"), currency="USD", started_at=started,
        commitment_months=None, auto_renew=bool(i % 5), partner_name=None,
        partner_portal=None, region=None, now=started,
    ) for i in range(count)]
    store = open_store(f"{path}.build.db")
    with store.write() as ledger:
        ledger.add_many(subs, "subs")
        ledger.tx.insert("counters", [("S-", 1000 + count)])
    with open(path, "w", encoding="utf-8") as out:
        out.writelines(export_chunks(store))
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{path}.build.db{suffix}"):
            os.unlink(f"{path}.build.db{suffix}")


def run_killed(argv: list[str], delay: float, writing=None) -> tuple[bool, bool]:
    """Run the installed kscli and SIGKILL it ``delay`` seconds after it starts or, with
    ``writing`` (a test of the ledger's files), ``delay`` seconds after it starts writing.

    Returns (whether it was killed, whether its write had begun by then)."""
    proc = subprocess.Popen([installed(), *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=process_env())
    if writing is not None:
        deadline = time.monotonic() + 60
        while proc.poll() is None and not writing() and time.monotonic() < deadline:
            time.sleep(0.0005)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        began = writing is not None and writing()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        return True, began
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.returncode == 0, err
    return False, False


def writing(store: str):
    """Whether a writer is putting data into ``store`` right now: SQLite's write-ahead log
    holds pages or a new SQLite ledger is being built beside its path, the JSON
    backend's temporary copy of the ledger exists, or the server is running a COPY or
    INSERT into the database."""
    if store.startswith("postgresql://"):
        import psycopg

        from tests.conftest import pg_dsn

        watcher = psycopg.connect(pg_dsn(), autocommit=True)
        database = store.rsplit("/", 1)[1]

        def busy() -> bool:
            # a writer holds kscli's advisory lock for its whole transaction (COPY, the
            # indexes, the commit): a wider window to see than the COPY alone
            return watcher.execute(
                "SELECT (SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "        WHERE d.datname = %s AND l.locktype = 'advisory' AND l.granted) "
                "     + (SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "        AND state = 'active' AND (query ILIKE 'COPY%%' OR query ILIKE 'INSERT%%'))",
                (database, database),
            ).fetchone()[0] > 0
        return busy
    folder, name = os.path.split(store)

    def test() -> bool:
        # the JSON backend writes a temporary copy; SQLite builds a new ledger in a
        # private file beside it (an existing one is written in place, below)
        building = any(n.startswith(name + ".tmp-") for n in os.listdir(folder))
        if building or store.endswith(".json"):
            return building
        try:
            if os.path.getsize(store + "-wal") > 0:
                return True
        except OSError:
            pass
        # A bulk load keeps its pages in memory until the commit, so the log may still
        # be empty: a writer is inside its write from the moment it holds the WAL write
        # lock (a POSIX lock on the -shm file, which /proc/locks lists without touching it).
        try:
            inode = str(os.stat(store + "-shm").st_ino)
        except OSError:
            return False
        with open("/proc/locks") as locks:
            for line in locks:
                fields = line.split()
                if "->" in fields:  # a process waiting for a lock, not holding it
                    continue
                if (len(fields) >= 6 and fields[1] == "POSIX" and fields[3] == "WRITE"
                        and fields[5].rsplit(":", 1)[-1] == inode):
                    return True
        return False
    return test


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([installed(), *argv], capture_output=True, text=True,
                          env=process_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    return time.perf_counter() - start


def moments(full: float, runs: int = KILLS) -> list[tuple[float, bool]]:
    """Kill moments: random delays spread over an uninterrupted run (start-up included),
    and a last one a random instant after the write began. (delay, after the write began)"""
    rng = random.Random(SEED)
    spread = [(full * rng.uniform(i / runs, (i + 1) / runs) * 0.9 + 0.05, False)
              for i in range(runs - 1)]
    # after the write began; tried again (at once) while a fast write ends before the kill
    return spread + [(rng.uniform(0, 0.002), True), (0.0, True), (0.0, True)]


def healthy(store: str) -> None:
    """The ledger opens and `kscli doctor` (which runs the store's own checks) passes;
    or, for a ledger the kill left absent, doctor says only that it does not exist."""
    doctor = Kscli(store)("--format", "json", "doctor")
    if "://" not in store and not os.path.exists(store):
        failed = [c for c in doctor.json() if c["result"] == "FAIL"]
        assert [c["check"] for c in failed] == ["store"], failed
        assert "does not exist" in failed[0]["detail"]
        return
    assert doctor.exit_code == 0, doctor.stdout + doctor.stderr
    assert not [c for c in doctor.json() if c["result"] == "FAIL"]


def contents(store: str) -> tuple[int, int, str]:
    """How many subscriptions and events the ledger holds, and a digest of the former."""
    from kscli.store import open_store

    with open_store(store).read() as ledger:
        subs = list(ledger.tx.select("subs", order=("id",)))
        events = ledger.tx.count("events")
    return len(subs), events, hashlib.sha256(repr(subs).encode()).hexdigest()


def copy_ledger(source: str, target: str) -> None:
    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(source + suffix):
            shutil.copy2(source + suffix, target + suffix)


@pytest.fixture(scope="module")
def big_export(tmp_path_factory):
    path = tmp_path_factory.mktemp("exports") / "big.json"
    write_export(path, BIG, datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=3))
    return str(path)


# -- kill -9 -------------------------------------------------------------------------

def new_ledger(tmp_path, backend: str, name: str) -> str:
    """A ledger that does not exist yet: a path, or a new database on the test server."""
    if backend == "postgres":
        from tests.conftest import fresh_pg_store_spec, require_pg

        return fresh_pg_store_spec(require_pg())
    store = ledger_path(tmp_path / name, backend)
    os.makedirs(os.path.dirname(store), mode=0o700)
    return store


@pytest.mark.slow
@pytest.mark.parametrize("into", ["new", "empty"])
@pytest.mark.parametrize("backend", [*BACKENDS, pytest.param("postgres", marks=pytest.mark.postgres)])
def test_an_import_killed_midway_leaves_all_or_nothing(tmp_path, backend, big_export, into):
    """Into a new ledger (SQLite builds it beside its path) and into one made empty by
    `kscli init` (written in place), the import is whole or absent, killed anywhere."""
    def ledger(name: str) -> str:
        store = new_ledger(tmp_path, backend, name)
        if into == "empty":
            assert Kscli(store)("init").exit_code == 0
        return store

    whole = ledger("whole")
    full = timed(["--store", whole, "import", big_export])
    everything = contents(whole)
    assert everything[:2] == (BIG, 0)
    nothing = (0, 0, contents(ledger("empty"))[2])
    inside = 0
    for run, (delay, in_write) in enumerate(moments(full)):
        if inside and in_write:
            break
        store = ledger(f"run{run}")
        killed, began = run_killed(["--store", store, "import", big_export], delay,
                                   writing(store) if in_write else None)
        inside += began
        where = (f"seed {SEED}, run {run}: killed={killed} {delay:.3f}s after "
                 f"{'its write began' if in_write else 'start'} (a whole run: {full:.2f}s)")
        healthy(store)
        assert contents(store) in (nothing, everything), where
    assert inside, f"seed {SEED}: no kill landed inside the import's write"
    # the ledger takes writes again at once: no lock or journal left in the way
    added = Kscli(store).json("sub", "add", "--vendor", "After", "--product", "Kill",
                              "--plan", "monthly", "--price", "1", "--currency", "EUR",
                              env={"KSCLI_BUSY_TIMEOUT": "2"})
    assert added["id"] in ("S-1001", f"S-{1001 + BIG}")


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_sweep_killed_midway_leaves_all_or_nothing(tmp_path, backend):
    from kscli.domain.calendar import add_months

    now = datetime.now(timezone.utc).replace(microsecond=0)
    export = tmp_path / "due.json"
    # ten monthly periods behind, with no period boundary within two weeks of now
    write_export(export, DUE, add_months(now, -10) - timedelta(days=15))
    base = ledger_path(tmp_path / "base", backend)
    Kscli(base)("import", str(export))
    before = contents(base)
    due = len(Kscli(base).json("sweep", "--dry-run"))
    assert due > 5 * DUE

    swept = ledger_path(tmp_path / "swept", backend)
    copy_ledger(base, swept)
    full = timed(["--store", swept, "--quiet", "sweep"])
    after = contents(swept)
    assert after[1] == due
    inside = 0
    for run, (delay, in_write) in enumerate(moments(full)):
        if inside and in_write:
            break
        store = ledger_path(tmp_path / f"run{run}", backend)
        copy_ledger(base, store)
        killed, began = run_killed(["--store", store, "--quiet", "sweep"], delay,
                                   writing(store) if in_write else None)
        inside += began
        where = (f"seed {SEED}, run {run}: killed={killed} {delay:.3f}s after "
                 f"{'its write began' if in_write else 'start'} (a whole run: {full:.2f}s)")
        healthy(store)
        found = contents(store)
        if found[1] == 0:
            assert found == before, where
            assert len(Kscli(store).json("sweep", "--dry-run")) == due, where
        else:  # the same renewals and expiries, made at a slightly different `now`
            assert found[:2] == after[:2] and found[2] == after[2], where
            assert Kscli(store).json("sweep", "--dry-run") == [], where
    assert inside, f"seed {SEED}: no kill landed inside the sweep's write"


@pytest.mark.slow
def test_a_json_write_killed_midway_leaves_the_old_or_the_new_file(tmp_path):
    export = tmp_path / "export.json"
    write_export(export, SOME, datetime.now(timezone.utc).replace(microsecond=0))
    store = ledger_path(tmp_path, "json")
    Kscli(store)("import", str(export))
    folder = os.path.dirname(store)
    rng = random.Random(SEED)
    expected = SOME
    left_behind = 0
    for run in range(7):  # a random moment, then inside the write until one lands there
        if run >= 3 and left_behind:
            break
        proc = subprocess.Popen(
            [installed(), "--store", store, "sub", "add", "--vendor", "Late", "--product",
             f"Write {run}", "--plan", "monthly", "--price", "2", "--currency", "EUR"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=process_env())
        if run == 0:  # anywhere, start-up included
            delay = rng.uniform(0.1, 1.0)
            time.sleep(delay)
        else:  # inside the write itself: once the new file's temporary copy appears
            deadline, began = time.monotonic() + 30, writing(store)
            while proc.poll() is None and time.monotonic() < deadline and not began():
                time.sleep(0.0005)
            delay = rng.uniform(0, 0.002) if run < 3 else 0.0
            time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        where = f"seed {SEED}, run {run}, killed {delay:.3f}s in, exit {proc.returncode}"
        with open(store, "rb") as handle:
            doc = json.loads(handle.read())  # whole: never a torn file
        subs = len(rows(doc["tables"], "subs"))
        assert subs in (expected, expected + 1), where
        assert len(rows(doc["tables"], "events")) == subs - SOME, where
        expected = subs
        left_behind += any(".tmp-" in n for n in os.listdir(folder))
    healthy(store)
    assert left_behind, f"seed {SEED}: no kill landed inside a write"
    # the next writer is not kept waiting by a dead one's lock, and removes the
    # temporary copies of the ledger that killed writers left
    Kscli(store).json("renew", "off", "S-1001", env={"KSCLI_BUSY_TIMEOUT": "2"})
    assert [n for n in os.listdir(folder) if ".tmp-" in n] == []
    assert oct(os.stat(store + ".lock").st_mode & 0o777) == "0o600"
    healthy(store)


# -- a full disk ---------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs where mounting is permitted (root on Linux), else None."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        yield None
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs",
                              str(where)], capture_output=True)
    if mounted.returncode != 0:
        yield None
        return
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill(folder) -> str:
    """Fill the file system of ``folder`` to the last byte."""
    filler = os.path.join(folder, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def _limit_file_size(limit: int):
    def apply():  # runs in the child: writes past `limit` bytes fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.parametrize("limit", ["full disk", "file size limit"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_write_that_finds_no_room_fails_in_one_line_and_keeps_the_ledger(tmp_path, backend,
                                                                           limit, small_disk):
    if limit != "full disk":
        small_disk = None
    folder = small_disk or tmp_path / "plain"
    store = ledger_path(folder, backend)
    setup = Kscli(store)
    sub_id = setup.json("sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan",
                        "monthly", "--price", "9.99", "--currency", "USD")["id"]
    before = setup("export").stdout
    argv = [installed(), "--store", store, "sub", "add", "--vendor", "V" * 200, "--product",
            "P" * 200, "--plan", "monthly", "--price", "1", "--currency", "USD"]
    if small_disk is not None:
        filler = _fill(small_disk)
        result = subprocess.run(argv, capture_output=True, text=True, env=process_env(),
                                timeout=60)
        os.unlink(filler)
    else:  # (also where no tmpfs can be mounted) a file size limit: the write fails, EFBIG
        result = subprocess.run(argv, capture_output=True, text=True, env=process_env(),
                                timeout=60, preexec_fn=_limit_file_size(1024))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: cannot write ")
    assert store in result.stderr and "nothing was changed" in result.stderr
    assert result.stdout == ""
    assert setup("export").stdout == before
    assert [e["action"] for e in setup.json("sub", "history", sub_id)] == ["created"]
    assert setup.json("sub", "add", "--vendor", "Room", "--product", "Again", "--plan",
                      "monthly", "--price", "1", "--currency", "USD")["id"] == "S-1002"


def test_enospc_at_the_store_layer_is_a_clear_error_and_the_json_ledger_is_intact(
        tmp_path, monkeypatch):
    store = ledger_path(tmp_path, "json")
    kscli = Kscli(store)
    kscli.json("sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan", "monthly",
               "--price", "9.99", "--currency", "USD")
    with open(store, "rb") as handle:
        before = handle.read()
    real_write = os.write

    def full_disk(fd, data):
        if ".tmp-" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    result = kscli("renew", "off", "S-1001")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (f"Error: cannot write {store}: the disk is full; nothing was "
                             "changed (free some space and run the command again)\n")
    with open(store, "rb") as handle:
        assert handle.read() == before
    assert [n for n in os.listdir(os.path.dirname(store)) if ".tmp-" in n] == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_folder_without_write_permission_is_a_clear_error(tmp_path, backend, monkeypatch):
    store = ledger_path(tmp_path, backend)
    real_makedirs = os.makedirs

    def denied(path, *args, **kwargs):  # root ignores modes, so deny it by hand
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)

    monkeypatch.setattr(os, "makedirs", denied)
    result = Kscli(store)("sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan",
                          "monthly", "--price", "9.99", "--currency", "USD")
    monkeypatch.setattr(os, "makedirs", real_makedirs)
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith("Error: cannot write ") and "permission denied" in result.stderr
    assert result.stderr.count("\n") == 1
    assert not os.path.exists(os.path.dirname(store))


# -- schema versions -----------------------------------------------------------------

def _v1_sqlite(path: str) -> None:
    from kscli.store.migrations import MIGRATIONS, SQLITE, sql_statements

    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    conn = sqlite3.connect(path)
    for statement in sql_statements(MIGRATIONS[0], SQLITE):
        conn.execute(statement)
    conn.execute("INSERT INTO subs (id, account, vendor, product, plan, kind, price, currency, "
                 "started_at, period_start, period_end, auto_renew, status, channel, disputed, "
                 "refuse_service, created_at) VALUES ('S-1001', 'default', 'Old', 'Ledger', "
                 "'monthly', 'subscription', '5.00', 'EUR', '2026-01-05T00:00:00Z', "
                 "'2026-11-05T00:00:00Z', '2026-12-05T00:00:00Z', 1, 'active', 'direct', 0, 0, "
                 "'2026-01-05T00:00:00Z')")
    conn.execute("INSERT INTO counters (name, value) VALUES ('S-', 1001)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    os.chmod(path, 0o600)


def _v1_json(path: str) -> None:
    from kscli.store.schema import TABLES

    row = {"id": "S-1001", "account": "default", "vendor": "Old", "product": "Ledger",
           "plan": "monthly", "kind": "subscription", "price": "5.00", "currency": "EUR",
           "started_at": "2026-01-05T00:00:00Z", "period_start": "2026-11-05T00:00:00Z",
           "period_end": "2026-12-05T00:00:00Z", "commitment_end": None, "auto_renew": 1,
           "status": "active", "channel": "direct", "partner_name": None,
           "partner_portal": None, "region": None, "disputed": 0, "cancelled_at": None,
           "ended_at": None, "refuse_service": 0, "created_at": "2026-01-05T00:00:00Z"}
    tables = {name: [] for name, table in TABLES.items() if table.since <= 1}
    tables["subs"] = [row]
    tables["counters"] = [{"name": "S-", "value": 1001}]
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"format": "kscli-ledger", "schema": 1, "tables": tables}, handle)
    os.chmod(path, 0o600)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_version_1_ledger_is_migrated_with_a_private_backup(tmp_path, backend):
    from kscli.store import open_store
    from kscli.store.migrations import SCHEMA_VERSION

    store = ledger_path(tmp_path, backend)
    (_v1_json if backend == "json" else _v1_sqlite)(store)
    with open(store, "rb") as handle:
        original = handle.read()
    kscli = Kscli(store)
    added = kscli.json("sub", "add", "--vendor", "New", "--product", "Row", "--plan", "monthly",
                       "--price", "1", "--currency", "EUR")
    assert added["id"] == "S-1002"
    assert [s["vendor"] for s in kscli.json("sub", "list")] == ["Old", "New"]
    assert open_store(store).schema_version() == SCHEMA_VERSION
    backup = f"{store}.v1.bak"
    assert oct(os.stat(backup).st_mode & 0o777) == "0o600"
    if backend == "json":
        with open(backup, "rb") as handle:
            assert handle.read() == original
    else:
        conn = sqlite3.connect(f"file:{backup}?immutable=1", uri=True)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("SELECT vendor FROM subs").fetchall() == [("Old",)]
        conn.close()
    healthy(store)
    kscli.json("renew", "off", "S-1001")  # later commands migrate and back up nothing more
    assert [n for n in os.listdir(os.path.dirname(store)) if ".bak" in n] == [
        os.path.basename(backup)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_ledger_of_a_newer_schema_is_refused_untouched_with_exit_6(tmp_path, backend):
    from kscli.store.migrations import SCHEMA_VERSION

    store = ledger_path(tmp_path, backend)
    if backend == "json":
        os.makedirs(os.path.dirname(store), mode=0o700)
        with open(store, "w") as handle:
            json.dump({"format": "kscli-ledger", "schema": SCHEMA_VERSION + 1,
                       "tables": {"subs": [], "future": []}}, handle)
    else:
        _v1_sqlite(store)
        conn = sqlite3.connect(store)  # a rollback journal, as a newer kscli might leave it
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.commit()
        conn.close()
    with open(store, "rb") as handle:
        original = handle.read()
    folder = os.path.dirname(store)
    files = sorted(os.listdir(folder))
    export = tmp_path / "export.json"
    export.write_text('{"format": "kscli-export", "version": 1, "schema": 1, "tables": {}}')
    kscli = Kscli(store)
    for argv in (("sub", "list"), ("sub", "add", "--vendor", "A", "--product", "B", "--plan",
                                   "monthly", "--price", "1", "--currency", "EUR"),
                 ("sweep",), ("export",), ("import", str(export))):
        result = kscli(*argv)
        assert result.exit_code == 6, (argv, result.stderr)
        assert f"schema version {SCHEMA_VERSION + 1} is newer" in result.stderr
        assert store in result.stderr and result.stderr.count("\n") == 1
        with open(store, "rb") as handle:
            assert handle.read() == original, argv
    assert sorted(n for n in os.listdir(folder) if not n.endswith(".lock")) == files
    assert kscli("doctor").exit_code == 1
