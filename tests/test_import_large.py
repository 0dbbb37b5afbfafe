"""Large imports: checked whole before a row is written, and a new SQLite ledger built
beside its path and linked in whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from tests.conftest import Kscli
from tests.test_faults import _limit_file_size, small_disk, write_export  # noqa: F401
from tests.test_stress import installed, process_env

ROWS = 12_000


@pytest.fixture(scope="module")
def big_export(tmp_path_factory):
    path = tmp_path_factory.mktemp("exports") / "big.json"
    write_export(path, ROWS, datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc))
    return path


def edited(big_export, tmp_path, edit) -> str:
    doc = json.loads(big_export.read_text())
    edit(doc["tables"]["subs"][-1], doc["tables"]["subs"])
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_a_large_import_is_exact_private_and_leaves_nothing_beside_it(tmp_path, big_export):
    store = tmp_path / "new" / "kscli.db"
    kscli = Kscli(str(store))
    result = kscli("import", str(big_export))
    assert result.exit_code == 0, result.stderr
    assert f"imported {ROWS} subs" in result.stderr
    assert sorted(os.listdir(store.parent)) == ["kscli.db"]  # no scratch copy, no journal
    assert os.stat(store).st_mode & 0o777 == 0o600
    assert kscli("export").stdout == big_export.read_text()
    checks = {c["check"]: c for c in kscli.json("doctor")}
    assert checks["journal"]["result"] == "ok" and "wal" in checks["journal"]["detail"]


def test_a_large_import_into_an_empty_ledger_is_written_in_place(tmp_path, big_export):
    kscli = Kscli(str(tmp_path / "l" / "kscli.db"))
    assert kscli("init").exit_code == 0
    assert kscli("import", str(big_export)).exit_code == 0
    assert kscli("export").stdout == big_export.read_text()


def _bad_price(row, rows):
    row["price"] = "12,50"


def _repeated_id(row, rows):
    row["id"] = rows[0]["id"]  # the database refuses it too, before the checks finish


def _misspelt_column(row, rows):
    del row["region"]
    row["regoin"] = None  # as many columns as there should be, one of them unknown


@pytest.mark.parametrize("edit, message", [
    (_bad_price, f"subs row {ROWS}, price: '12,50' is not a valid dec value"),
    (_repeated_id, f"subs row {ROWS}: missing or repeated id"),
    (_misspelt_column, f"table subs, row {ROWS}: unknown columns: regoin"),
])
@pytest.mark.parametrize("ledger", ["new", "empty"])
def test_a_bad_row_at_the_end_of_a_large_import_keeps_nothing(tmp_path, big_export, edit,
                                                              message, ledger):
    bad = edited(big_export, tmp_path, edit)
    store = tmp_path / "l" / "kscli.db"
    kscli = Kscli(str(store))
    if ledger == "empty":
        assert kscli("init").exit_code == 0
    result = kscli("import", bad)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"Error: {bad}, ")
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    if ledger == "new":
        assert not store.parent.exists() or os.listdir(store.parent) == []
    else:
        assert kscli.json("sub", "list") == []
        assert sorted(n for n in os.listdir(store.parent) if ".tmp-" in n) == []


def test_a_bad_file_is_named_before_a_ledger_that_holds_records(tmp_path, big_export):
    kscli = Kscli(str(tmp_path / "l" / "kscli.db"))
    kscli("sub", "add", "--vendor", "Acme", "--product", "Pro", "--plan", "monthly",
          "--price", "5", "--currency", "USD")
    bad = edited(big_export, tmp_path, _bad_price)
    assert kscli("import", bad).exit_code == 2
    refused = kscli("import", str(big_export))
    assert refused.exit_code == 1 and "already holds records" in refused.stderr
    assert len(kscli.json("sub", "list")) == 1


def test_the_scratch_files_of_a_killed_import_are_removed_by_the_next(tmp_path):
    folder = tmp_path / "l"
    folder.mkdir(mode=0o700)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = [folder / f"kscli.db.tmp-{dead.pid}", folder / f"kscli.db.tmp-{dead.pid}-journal",
                 folder / f"kscli.db.tmp-{os.getpid()}"]  # this process's, from an earlier try
        busy = folder / f"kscli.db.tmp-{alive.pid}"  # another import, still building
        for path in (*stale, busy):
            path.write_bytes(b"half a ledger")
        source = Kscli(str(tmp_path / "source.db"))
        source("init", "--sample")
        export = tmp_path / "sample.json"
        export.write_text(source("export").stdout)
        assert Kscli(str(folder / "kscli.db"))("import", str(export)).exit_code == 0
        assert sorted(os.listdir(folder)) == sorted(["kscli.db", busy.name])
    finally:
        alive.kill()
        alive.wait()


@pytest.mark.parametrize("meanwhile, kept", [("init", ROWS), ("sub add", 1)])
def test_a_ledger_made_while_the_import_built_its_own_is_not_overwritten(
        tmp_path, big_export, monkeypatch, meanwhile, kept):
    """Another kscli creates the ledger while the import builds its copy beside it: the
    copy is not linked over it, and the import goes into it as into any ledger."""
    import kscli.store.sqlite as backend

    store = str(tmp_path / "l" / "kscli.db")
    link = os.link

    def racing_link(source, target):
        other = Kscli(store)
        if meanwhile == "init":
            assert other("init").exit_code == 0
        else:
            assert other("sub", "add", "--vendor", "Acme", "--product", "Pro", "--plan",
                         "monthly", "--price", "5", "--currency", "USD").exit_code == 0
        link(source, target)

    monkeypatch.setattr(backend.os, "link", racing_link)
    result = Kscli(store)("import", str(big_export))
    monkeypatch.undo()
    assert result.exit_code == (0 if meanwhile == "init" else 1), result.stderr
    assert len(Kscli(store).json("sub", "list")) == kept
    assert [n for n in os.listdir(tmp_path / "l") if ".tmp-" in n] == []


@pytest.mark.slow
@pytest.mark.parametrize("limit", ["full disk", "file size limit"])
def test_a_large_import_that_finds_no_room_fails_in_one_line_and_leaves_nothing(
        tmp_path, big_export, limit, small_disk):
    """The new ledger is built beside its path: a disk that fills up on the way (in the
    load, the index build of the second thread, or the commit) leaves no ledger and no
    scratch file, and says so in one line naming the ledger."""
    if limit != "full disk":
        small_disk = None
    folder = (small_disk or tmp_path / "plain") / "ledger"
    store = str(folder / "kscli.db")
    argv = [installed(), "--store", store, "import", str(big_export)]
    if small_disk is not None:
        folder.mkdir(mode=0o700)
        filler = _fill_to(small_disk, 512 * 1024)  # room for the schema, not the rows
        result = subprocess.run(argv, capture_output=True, text=True, env=process_env(),
                                timeout=120)
        os.unlink(filler)
    else:
        result = subprocess.run(argv, capture_output=True, text=True, env=process_env(),
                                timeout=120, preexec_fn=_limit_file_size(1024 * 1024))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"Error: cannot write {store}: "), result.stderr
    assert "nothing was changed" in result.stderr
    assert not folder.exists() or os.listdir(folder) == []


def _fill_to(folder, left: int) -> str:
    """Fill the file system of ``folder`` until ``left`` bytes are free."""
    filler = os.path.join(folder, "filler")
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    with open(filler, "wb") as out:
        out.write(b"\0" * max(0, free - left))
    return filler
