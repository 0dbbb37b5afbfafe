"""A long JSON-lines listing in two processes (kscli.cli.halves) prints exactly what one
process prints: the same lines in the same order from one snapshot, the same error
after the same lines, nothing left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kscli.domain import ids
from kscli.store import open_store
from tests.conftest import Kscli, fresh_pg_store_spec, ledger_path, require_pg
from tests.test_timeline import T, _combinations, _record

EVERY_BACKEND = True

# ids of every length around the natural order's turns (S-9 < S-10, S-999 < S-1000)
NUMBERS = [1, 2, 9, 10, 11, 99, 100, 101, 999, 1000, 1001, 1002, 9999, 10000, 10001, 123456]


def _varied(count: int):
    """``count`` subscriptions of every plan, kind, status, auto-renew, commitment and
    channel (tests/test_timeline.py), recorded months ago and never swept, with ids of
    every length."""
    combos = list(_combinations())
    numbers = NUMBERS + [20000 + n for n in range(max(count - len(NUMBERS), 0))]
    return [_record(n, *combos[n % len(combos)])._replace(id=f"S-{numbers[n]}")
            for n in range(count)]


def _fill(spec: str, subs) -> None:
    with open_store(spec).write() as ledger:
        ledger.add_many(subs, "subs")
        ledger.tx.insert("counters", [("S-", max(int(s.id[2:]) for s in subs))])


def _spec(tmp_path, backend: str) -> str:
    return fresh_pg_store_spec(require_pg()) if backend == "postgres" else ledger_path(tmp_path, backend)


@pytest.fixture
def varied_ledger(tmp_path, backend):
    spec = _spec(tmp_path, backend)
    _fill(spec, _varied(150))
    return spec


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(cut=st.one_of(st.sampled_from([f"S-{n}" for n in NUMBERS]),
                     st.integers(0, 200000).map(lambda n: f"S-{n}"),
                     st.text("S-0123456789", max_size=8)))
def test_ids_before_and_from_an_id_split_the_ledger_in_its_natural_order(varied_ledger, cut):
    with open_store(varied_ledger).read() as ledger:
        every = [s.id for s, _ in ledger.subs_stored()]
        before = [s.id for s, _ in ledger.subs_stored(id_before=cut)]
        after = [s.id for s, _ in ledger.subs_stored(id_from=cut)]
    assert every == sorted(every, key=ids.natural_key)
    assert before + after == every
    assert all(ids.natural_key(i) < ids.natural_key(cut) for i in before)
    assert all(ids.natural_key(i) >= ids.natural_key(cut) for i in after)


def test_only_sqlite_offers_a_split_point_and_it_is_the_middle_id(varied_ledger, backend):
    store = open_store(varied_ledger)
    if backend != "sqlite":
        assert store.split_point(2) is None
        return
    with store.read() as ledger:
        every = [s.id for s, _ in ledger.subs_stored()]
    assert store.split_point(2) == every[len(every) // 2]
    assert store.split_point(151) is None  # fewer than asked for: one process


@pytest.mark.files_only
def test_a_watched_read_of_a_missing_ledger_creates_no_file_and_always_says_changed(tmp_path):
    spec = ledger_path(tmp_path, "sqlite")
    os.makedirs(os.path.dirname(spec))
    with open_store(spec).read_watched() as (ledger, changed):
        assert list(ledger.subs_stored()) == [] and changed()
    assert os.listdir(os.path.dirname(spec)) == []
    _fill(spec, _varied(3))
    with open_store(spec).read_watched() as (ledger, changed):
        assert len(list(ledger.subs_stored())) == 3 and not changed()
        with open_store(spec).write() as writing:  # another connection commits
            writing.save(next(iter(_varied(1)))._replace(price=Decimal(1)))
        assert changed()


def _run(spec: str, *argv: str, jobs: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kscli", "--store", spec, "--format", "jsonl",
                           "sub", "list", *argv], capture_output=True,
                          env={**os.environ, "KSCLI_JOBS": jobs, **env}, timeout=120)


LISTINGS = [(), ("--as-of", (T + timedelta(days=400)).isoformat()),
            ("--as-of", (T - timedelta(days=200)).isoformat()), ("--status", "ending"),
            ("--status", "active", "--status", "expired"), ("--search", "vendor a"),
            ("--renewing-within", "40d"), ("--include-void",), ("--vendor", "nobody")]


def test_two_processes_print_byte_for_byte_what_one_prints(varied_ledger, backend):
    for argv in LISTINGS:
        one, two = _run(varied_ledger, *argv, jobs="1"), _run(varied_ledger, *argv, jobs="2")
        assert (two.returncode, two.stderr) == (one.returncode, one.stderr) == (0, b""), argv
        assert two.stdout == one.stdout, argv
    lines = _run(varied_ledger, jobs="2").stdout.decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == sorted(
        (s.id for s in _varied(150)), key=ids.natural_key)


def test_a_damaged_row_in_the_second_half_gives_the_same_lines_and_error(tmp_path, backend):
    spec = _spec(tmp_path, backend)
    _fill(spec, _varied(150))
    with open_store(spec).read() as ledger:
        every = [s.id for s, _ in ledger.subs_stored()]
    damaged = every[120]  # after the middle: the child's half
    from tests.test_damaged import _damage

    _damage(spec, backend, "price", "12,x", sub_id=damaged)
    one, two = _run(spec, jobs="1"), _run(spec, jobs="2")
    assert one.returncode == two.returncode == 6
    assert two.stderr == one.stderr and two.stderr.count(b"\n") == 1
    assert damaged.encode() in two.stderr and b"Traceback" not in two.stderr
    assert two.stdout == one.stdout and two.stdout.count(b"\n") == 120


def test_a_reader_that_stops_early_ends_both_processes_quietly(varied_ledger):
    proc = subprocess.Popen([sys.executable, "-m", "kscli", "--store", varied_ledger, "--format",
                             "jsonl", "sub", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "KSCLI_JOBS": "2"})
    first = proc.stdout.readline()
    proc.stdout.close()  # `| head -1`
    assert json.loads(first)["id"] == "S-1"
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == b""


def test_the_child_leaves_no_file_and_a_missing_temporary_folder_is_no_error(
        varied_ledger, tmp_path):
    private = tmp_path / "tmp"
    private.mkdir(mode=0o700)
    one = _run(varied_ledger, jobs="1")
    two = _run(varied_ledger, jobs="2", TMPDIR=str(private))
    assert two.stdout == one.stdout and two.returncode == 0
    assert os.listdir(private) == []  # the child's lines were in an unlinked file
    gone = _run(varied_ledger, jobs="2", TMPDIR=str(tmp_path / "missing"))
    assert (gone.returncode, gone.stdout, gone.stderr) == (0, one.stdout, b"")


@pytest.mark.parametrize("value", ["x", "0", "-1", "1.5"])
def test_a_bad_kscli_jobs_is_a_usage_error_naming_it(tmp_path, value):
    spec = ledger_path(tmp_path, "sqlite")
    assert Kscli(spec)("init", "--sample").exit_code == 0
    result = _run(spec, jobs=value)
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr.startswith(b"Error: KSCLI_JOBS must be a whole number")
    assert result.stderr.count(b"\n") == 1


# -- the machinery itself, in this process: which process listed what ---------------

def _ids_by_process(capfd, store, run) -> list[tuple[int, str]]:
    """The (pid, id) lines that ``run`` printed to the real stdout."""
    capfd.readouterr()
    run()
    sys.stdout.flush()
    out = capfd.readouterr().out
    return [(int(pid), sub_id) for pid, sub_id in (line.split() for line in out.splitlines())]


def _emit_ids(fail_in_child: bool = False):
    parent = os.getpid()

    def emit(ledger, bounds):
        if fail_in_child and os.getpid() != parent:
            raise RuntimeError("the child's half fails")
        for sub, _ in ledger.subs_stored(**bounds):
            sys.stdout.write(f"{os.getpid()} {sub.id}\n")
    return emit


@pytest.mark.files_only
def test_the_second_half_is_listed_by_a_child_and_printed_after_the_first(
        tmp_path, capfd, monkeypatch):
    from kscli.cli.halves import list_in_halves

    monkeypatch.setenv("KSCLI_JOBS", "2")
    spec = ledger_path(tmp_path, "sqlite")
    _fill(spec, _varied(150))
    store = open_store(spec)
    every = sorted((s.id for s in _varied(150)), key=ids.natural_key)
    lines = _ids_by_process(capfd, store, lambda: list_in_halves(store, _emit_ids()))
    assert [i for _, i in lines] == every
    assert {pid for pid, _ in lines[:75]} == {os.getpid()}
    child = {pid for pid, _ in lines[75:]}
    assert len(child) == 1 and child != {os.getpid()}
    # a child that fails: its half is listed again here, from the same snapshot
    lines = _ids_by_process(capfd, store, lambda: list_in_halves(store, _emit_ids(True)))
    assert [i for _, i in lines] == every and {pid for pid, _ in lines} == {os.getpid()}
    # one process asked for: no child
    monkeypatch.setenv("KSCLI_JOBS", "1")
    lines = _ids_by_process(capfd, store, lambda: list_in_halves(store, _emit_ids()))
    assert [i for _, i in lines] == every and {pid for pid, _ in lines} == {os.getpid()}


@pytest.mark.files_only
def test_a_writer_committing_meanwhile_never_splits_the_snapshot(tmp_path, capfd, monkeypatch):
    """A writer changes the first and the last subscription in each of its transactions:
    every listing shows both with the same price (two snapshots would show two)."""
    from kscli.cli.halves import list_in_halves

    monkeypatch.setenv("KSCLI_JOBS", "2")
    spec = ledger_path(tmp_path, "sqlite")
    every = sorted(_varied(150), key=lambda s: ids.natural_key(s.id))
    first, last = every[0], every[-1]
    _fill(spec, [s._replace(price=Decimal(0)) if s in (first, last) else s for s in every])
    store = open_store(spec)
    # the writer is a process: kscli forks no child beside a running thread
    writer = subprocess.Popen([sys.executable, "-c", WRITER, spec, first.id, last.id],
                              stderr=subprocess.PIPE)

    def emit(ledger, bounds):
        for sub, _ in ledger.subs_stored(**bounds):
            if sub.id in (first.id, last.id):
                sys.stdout.write(f"{os.getpid()} {sub.price}\n")

    try:
        seen = set()
        for _ in range(40):
            lines = _ids_by_process(capfd, store, lambda: list_in_halves(store, emit))
            assert len(lines) == 2 and lines[0][1] == lines[1][1], lines
            seen.add(lines[0][1])
    finally:
        writer.kill()
        assert writer.wait() == -9, writer.stderr.read()
    assert len(seen) > 1  # the writer did commit while the listings ran


WRITER = """
import sys, time
from decimal import Decimal
from kscli.store import open_store
spec, first, last = sys.argv[1:]
n = 0
while True:
    n += 1
    time.sleep(0.002 * (n % 8))  # at times faster than a listing, at times slower
    with open_store(spec).write() as ledger:
        for sub_id in (first, last):
            ledger.save(ledger.sub(sub_id)._replace(price=Decimal(n)))
"""


@pytest.mark.files_only
def test_a_running_thread_keeps_the_listing_in_one_process(tmp_path, capfd, monkeypatch):
    from kscli.cli.halves import list_in_halves

    monkeypatch.setenv("KSCLI_JOBS", "2")
    spec = ledger_path(tmp_path, "sqlite")
    _fill(spec, _varied(150))
    store = open_store(spec)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        lines = _ids_by_process(capfd, store, lambda: list_in_halves(store, _emit_ids()))
    finally:
        stop.set()
        thread.join()
    assert len(lines) == 150 and {pid for pid, _ in lines} == {os.getpid()}
