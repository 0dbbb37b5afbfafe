"""Files kscli writes: never through a planted link, never in a folder others can write
to, never a half backup, never a lost update when the JSON lock file is removed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import time

import pytest

from kscli.domain.errors import StoreBusy
from kscli.store import fs
from tests.conftest import BACKENDS, Kscli, installed_kscli, ledger_path

ADD = ("sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan", "monthly", "--price",
       "9.99", "--currency", "USD")


def vendors(store: str) -> list[str]:
    return [s["vendor"] for s in Kscli(store).json("sub", "list")]


def run(*args: str, **kwargs):
    return subprocess.run([installed_kscli(), *args], capture_output=True, text=True,
                          timeout=120, **kwargs)


# -- exclusive creation ---------------------------------------------------------------------

def test_a_private_file_is_never_opened_through_a_link_or_over_a_file(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("theirs")
    planted = tmp_path / "ledger.db.tmp-1"
    planted.symlink_to(victim)
    with pytest.raises(FileExistsError):
        fs.create_private(str(planted))
    with pytest.raises(FileExistsError):
        fs.create_private(str(victim))
    assert victim.read_text() == "theirs"
    fd = fs.create_private(str(tmp_path / "new"))
    os.close(fd)
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o600


def test_an_atomic_write_ignores_a_link_planted_at_the_old_temporary_name(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("theirs")
    target = tmp_path / "export.json"
    (tmp_path / f"export.json.tmp-{os.getpid()}").symlink_to(victim)
    fs.atomic_write(str(target), b"ours")
    assert victim.read_text() == "theirs"
    assert target.read_bytes() == b"ours"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "home") == [
        "export.json", f"export.json.tmp-{os.getpid()}", "victim"]


def test_export_to_a_file_never_writes_through_a_planted_link(tmp_path):
    store = ledger_path(tmp_path, "sqlite")
    Kscli(store).json(*ADD)
    out = tmp_path / "out" / "ledger.json"
    out.parent.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("theirs")
    for pid in range(os.getpid(), os.getpid() + 50):  # the names the old code used
        (out.parent / f"ledger.json.tmp-{pid}").symlink_to(victim)
    assert Kscli(store)("export", "-o", str(out)).exit_code == 0
    assert victim.read_text() == "theirs"
    assert json.loads(out.read_text())["tables"]["subs"][0]["vendor"] == "Acme"


# -- folders others can write to ------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_a_ledger_in_a_folder_others_can_write_is_refused_with_exit_6(tmp_path, backend):
    store = ledger_path(tmp_path, backend)
    folder = os.path.dirname(store)
    os.makedirs(folder, mode=0o700)
    os.chmod(folder, 0o777)
    result = Kscli(store)(*ADD)
    assert result.exit_code == 6, result.stderr
    assert result.stderr.count("\n") == 1 and "other users can write to" in result.stderr
    assert "chmod go-w" in result.stderr
    assert os.listdir(folder) == []
    os.chmod(folder, 0o700)
    assert Kscli(store).json(*ADD)["id"] == "S-1001"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_sticky_shared_folder_takes_a_ledger_this_user_owns_only(tmp_path, backend):
    store = ledger_path(tmp_path, backend)
    folder = os.path.dirname(store)
    os.makedirs(folder, mode=0o700)
    os.chmod(folder, 0o1777)  # like /tmp
    assert Kscli(store).json(*ADD)["id"] == "S-1001"
    assert Kscli(store).json(*ADD)["id"] == "S-1002"
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("CI runs as root: the part with another user's ledger must run")
        pytest.skip("giving the ledger to another user needs root")
    os.chown(store, 65534, 65534)  # nobody's now: nobody could rename it away
    result = Kscli(store)(*ADD)
    assert result.exit_code == 6 and "other users can write to" in result.stderr


# -- links to a ledger ----------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_a_ledger_reached_through_a_link_keeps_the_link_and_gets_the_writes(tmp_path, backend):
    real = ledger_path(tmp_path / "real", backend)
    Kscli(real).json(*ADD)
    link = tmp_path / "link" / os.path.basename(real)
    link.parent.mkdir(mode=0o700)
    link.symlink_to(real)
    for _ in range(2):
        assert Kscli(str(link)).json(*ADD)["vendor"] == "Acme"
    assert link.is_symlink() and os.readlink(link) == real
    assert len(vendors(real)) == 3 and len(vendors(str(link))) == 3


# -- the JSON lock file ---------------------------------------------------------------------

def test_a_json_writer_whose_lock_file_is_removed_gives_up_instead_of_undoing_another(tmp_path):
    from kscli.store import open_store

    store = ledger_path(tmp_path, "json")
    Kscli(store).json(*ADD)
    holder = open_store(store)
    with pytest.raises(StoreBusy) as raised:
        with holder.write() as ledger:
            os.unlink(store + ".lock")
            other = run("--store", store, "--format", "json", *ADD[:3], "Other", *ADD[4:])
            assert other.returncode == 0, other.stderr
            ledger.next_id("S-")  # this writer changed something too (a counter)
    assert "lock file" in str(raised.value) and "nothing was changed" in str(raised.value)
    assert vendors(store) == ["Acme", "Other"]  # the second writer's change stands


def test_a_json_writer_waiting_on_a_removed_lock_file_locks_the_new_one(tmp_path):
    """B waits on the old lock file; it is removed and C locks a new one: B must wait for C."""
    store = ledger_path(tmp_path, "json")
    Kscli(store).json(*ADD)
    lock = store + ".lock"
    fd = os.open(lock, os.O_RDWR)
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_EX)
    waiting = subprocess.Popen([installed_kscli(), "--store", store, *ADD[:3], "Waiter", *ADD[4:]],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)  # it opened the old file and waits for it
    os.unlink(lock)
    fd2 = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd2, fcntl.LOCK_EX)  # a new writer holds the new file
    os.close(fd)  # the old lock is released: the waiter must notice it is stale
    time.sleep(0.5)
    assert waiting.poll() is None, "the waiter wrote while the new lock was held"
    os.close(fd2)
    assert waiting.wait(timeout=60) == 0, waiting.stderr.read()
    assert vendors(store) == ["Acme", "Waiter"]


# -- the pre-migration backup ---------------------------------------------------------------

def _big_v1_sqlite(path: str, rows: int) -> None:
    from tests.test_faults import _v1_sqlite

    _v1_sqlite(path)
    conn = sqlite3.connect(path)
    template = conn.execute("SELECT * FROM subs").fetchone()
    names = [d[0] for d in conn.execute("SELECT * FROM subs").description]
    marks = ", ".join("?" for _ in names)
    conn.executemany(f"INSERT INTO subs ({', '.join(names)}) VALUES ({marks})",
                     ((f"S-{2000 + i}", *template[1:]) for i in range(rows)))
    conn.commit()
    conn.close()


def _whole_or_absent(backup: str, rows: int) -> bool:
    if not os.path.exists(backup):
        return False
    conn = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM subs").fetchone()[0] == rows + 1
    finally:
        conn.close()
    return True


def test_a_killed_backup_never_leaves_a_backup_that_looks_whole(tmp_path):
    rows = 60_000
    store = str(tmp_path / "l" / "kscli.db")
    seen = {"whole": 0, "absent": 0}
    for trial, delay in enumerate((0.05, 0.1, 0.15, 0.2, 0.3, 0.45, 0.6, 0.8)):
        for name in os.listdir(tmp_path / "l") if (tmp_path / "l").exists() else []:
            os.unlink(tmp_path / "l" / name)
        _big_v1_sqlite(store, rows)
        proc = subprocess.Popen([installed_kscli(), "--store", store, "renew", "off", "S-1001"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        whole = _whole_or_absent(f"{store}.v1.bak", rows)
        seen["whole" if whole else "absent"] += 1
        assert not [n for n in os.listdir(tmp_path / "l") if n.endswith(".bak") and n != "kscli.db.v1.bak"]
    # the next run completes the migration, with a whole backup
    assert run("--store", store, "renew", "off", "S-1001").returncode == 0
    assert _whole_or_absent(f"{store}.v1.bak", rows)
    assert sum(seen.values()) == 8


def test_a_backup_that_cannot_be_finished_is_not_left_behind(tmp_path):
    import resource

    store = str(tmp_path / "l" / "kscli.db")
    _big_v1_sqlite(store, 20_000)
    size = os.path.getsize(store)
    limit = size // 2

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = run("--store", store, "renew", "off", "S-1001", preexec_fn=small_files)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Error: cannot write ") and ".v1.bak" in result.stderr
    assert [n for n in os.listdir(tmp_path / "l") if n != "kscli.db"] == []
    assert run("--store", store, "renew", "off", "S-1001").returncode == 0
    assert _whole_or_absent(f"{store}.v1.bak", 20_000)


# -- no core file of a secret ---------------------------------------------------------------

_PROBE = """
import ctypes, resource, sys
from kscli.cli import cli
before = resource.getrlimit(resource.RLIMIT_CORE), ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)
try:
    cli.main(sys.argv[1:], prog_name="kscli", standalone_mode=False)
finally:
    after = resource.getrlimit(resource.RLIMIT_CORE), ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)
    print("PROBE", before, after, file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [
    ("license", "show", "L-1001", "--reveal"),
    ("license", "issue", "--product", "Photo Editor"),
], ids=" ".join)
def test_a_process_that_holds_a_key_cannot_dump_core(tmp_path, argv):
    import sys

    store = ledger_path(tmp_path, "sqlite")
    assert Kscli(store)("init", "--sample").exit_code == 0
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}

    import resource

    hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
    if hard == 0:
        pytest.fail("core files are forbidden outright here (hard limit 0): nothing to show")

    def cores_allowed():
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))

    done = subprocess.run([sys.executable, "-c", _PROBE, "--store", store, *argv], env=env,
                          capture_output=True, text=True, timeout=60, preexec_fn=cores_allowed)
    assert done.returncode == 0, done.stderr
    probe = next(line for line in done.stderr.splitlines() if line.startswith("PROBE"))
    assert probe == f"PROBE (({hard}, {hard}), 1) ((0, {hard}), 0)", probe
