"""kscli under load: 20 processes of the installed `kscli` writing to one ledger at once.

Afterwards every write that reported success is in the ledger (its reference is in the
events and in `sub history`), no failed command left anything behind, the stored
states agree with the events, concurrent sweeps renewed each period once, and nothing
failed except with exit 5 after the busy timeout. bench/stress.py runs the same
workload and prints writes per second and the slowest write.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import Kscli, ledger_path

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 20

_spec = importlib.util.spec_from_file_location("kscli_bench_stress", ROOT / "bench" / "stress.py")
stress = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = stress
_spec.loader.exec_module(stress)

ACTIONS = {"add": {"created"}, "renew-off": {"renew-off"}, "renew-on": {"renew-on"},
           "cancel": {"cancelled"}, "issue": {"issued"}, "activate": {"activated"},
           "sweep": {"renewed", "expired", "deactivated"}}


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def check_exit_codes(run) -> None:
    """Exit 0, or exit 5 with the busy message after the timeout; never a traceback."""
    for op in run.ops:
        where = f"kscli {' '.join(op.argv)} (exit {op.code}): {op.stderr.strip()}"
        assert "Traceback" not in op.stderr, where
        assert op.code in (0, 5), where
        if op.code == 5:
            lines = [line for line in op.stderr.splitlines() if line.strip()]
            assert lines[-1].startswith("Error: ") and "busy" in lines[-1], where
    assert sum(op.ok for op in run.writes) >= len(run.writes) // 2


def check_ledger(spec: str, run) -> None:
    kscli = Kscli(spec)
    export = kscli("export")
    assert export.exit_code == 0, export.stderr
    tables = export.json()["tables"]
    events = [{**e, "detail": json.loads(e["detail"])} for e in tables["events"]]
    by_ref = {e["reference"]: e for e in events}
    assert len(by_ref) == len(events), "a reference was given twice"

    # Every reference a successful command printed is stored, on its subject, with the
    # right action; and every stored event was printed by a command that succeeded, so
    # no command that failed (exit 5) left a change behind.
    reported: dict[str, list[str]] = defaultdict(list)
    for op in run.writes:
        if not op.ok:
            assert not op.references
            continue
        if not op.references:
            assert op.name in ("sweep", "renew-on", "renew-off") and (
                op.name == "sweep" or op.result.get("changed") is False), op
        for ref in op.references:
            assert ref in by_ref, f"{op.name} reported {ref}, which is not in the ledger"
            event = by_ref[ref]
            assert event["action"] in ACTIONS[op.name], (op.name, event)
            if op.name != "sweep":
                assert event["subject"] == op.subject
            reported[event["subject"]].append(ref)
    assert sorted(r for refs in reported.values() for r in refs) == sorted(by_ref)

    subs = {row["id"]: row for row in tables["subs"]}
    added = [op for op in run.writes if op.name == "add" and op.ok]
    assert len(subs) == len(run.seeded) + len(added)
    events_of: dict[str, list[dict]] = defaultdict(list)
    for event in events:  # in the order they were written
        events_of[event["subject"]].append(event)

    # `sub history` shows exactly the references printed for each worker's subscription.
    for op in added:
        history = kscli.json("sub", "history", op.subject)
        assert [e["reference"] for e in history] == reported[op.subject]

    # Replaying each worker's events gives the state stored for it.
    for op in added:
        row = subs[op.subject]
        state = None
        for event in events_of[op.subject]:
            action, detail = event["action"], event["detail"]
            if action == "created":
                created = detail["subscription"]
                state = {"status": created["status"], "auto_renew": created["auto_renew"],
                         "period_end": created["period_end"]}
            elif action == "renew-off":
                state["auto_renew"] = False
            elif action == "renew-on":
                state["auto_renew"] = True
            elif action == "cancelled":
                state["status"] = "expired" if detail.get("immediately") else "cancelled"
                state["auto_renew"] = False
            else:
                pytest.fail(f"unexpected event {action} on {op.subject}")
        assert state == {"status": row["status"], "auto_renew": bool(row["auto_renew"]),
                         "period_end": row["period_end"]}, op.subject

    # The due subscriptions: the concurrent sweeps renewed each period exactly once,
    # one period after another, and the stored period is the last one renewed.
    now = datetime.now(timezone.utc)
    for sub_id in run.seeded:
        row = subs[sub_id]
        renewals = [e["detail"] for e in events_of[sub_id] if e["action"] == "renewed"]
        expiries = [e for e in events_of[sub_id] if e["action"] == "expired"]
        for before, after in zip(renewals, renewals[1:]):
            assert after["period_start"] == before["period_end"], sub_id
        if row["auto_renew"]:
            assert renewals and not expiries and row["status"] == "active"
            assert row["period_end"] == renewals[-1]["period_end"]
            assert _when(row["period_end"]) > now
        else:
            assert not renewals and len(expiries) == 1 and row["status"] == "expired"
    if any(op.name == "sweep" and op.ok for op in run.ops):
        assert kscli.json("sweep", "--dry-run") == []

    # Keys issued and activated under load: each active on its one machine.
    licenses = {row["id"]: row for row in tables.get("licenses", [])}
    for op in run.writes:
        if op.name == "activate" and op.ok and op.references:
            assert licenses[op.subject]["status"] == "active"
            assert [e["action"] for e in events_of[op.subject]] == ["issued", "activated"]


@pytest.mark.slow
def test_twenty_processes_writing_at_once_lose_nothing(any_store_spec):
    run = stress.run_load(any_store_spec, workers=WORKERS, rounds=1, due=12, busy_timeout=30)
    assert len({op.worker for op in run.ops}) == WORKERS
    check_exit_codes(run)
    check_ledger(any_store_spec, run)
    summary = run.summary()
    assert summary["other"] == 0 and summary["writes_per_s"] > 0
    if os.path.exists(any_store_spec):
        assert oct(os.stat(any_store_spec).st_mode & 0o777) == "0o600"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "json"])
def test_twenty_processes_creating_the_ledger_at_once_all_succeed(tmp_path, backend):
    store = ledger_path(tmp_path, backend)  # neither the file nor its folder exist yet
    kscli = stress.installed_kscli()
    env = stress.compiled_once({**os.environ, "KSCLI_BUSY_TIMEOUT": "30"})
    results: list[subprocess.CompletedProcess] = []
    barrier = threading.Barrier(WORKERS)

    def add(i: int) -> None:
        barrier.wait()
        results.append(subprocess.run(
            [kscli, "--store", store, "--format", "json", "sub", "add", "--vendor", f"V{i}",
             "--product", "P", "--plan", "monthly", "--price", "1", "--currency", "EUR"],
            capture_output=True, text=True, env=env, timeout=120))

    threads = [threading.Thread(target=add, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [(r.returncode, r.stderr) for r in results] == [(0, "")] * WORKERS
    listing = Kscli(store).json("sub", "list")
    assert sorted(s["vendor"] for s in listing) == sorted(f"V{i}" for i in range(WORKERS))
    assert len({s["id"] for s in listing}) == WORKERS
    assert oct(os.stat(os.path.dirname(store)).st_mode & 0o777) == "0o700"


def test_a_writer_past_the_busy_timeout_exits_5_and_changes_nothing(any_store_spec):
    from kscli.store import open_store

    setup = Kscli(any_store_spec)
    sub_id = setup.json("sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan",
                        "monthly", "--price", "9.99", "--currency", "USD")["id"]
    before = setup("export").stdout
    env = {**os.environ, "KSCLI_BUSY_TIMEOUT": "0.5"}
    with open_store(any_store_spec).write() as ledger:  # another writer holds the ledger
        ledger.append_event(sub_id, "held", {}, datetime.now(timezone.utc).replace(microsecond=0))
        blocked = subprocess.run([stress.installed_kscli(), "--store", any_store_spec, "renew",
                                  "off", sub_id], capture_output=True, text=True, env=env,
                                 timeout=60)
    assert blocked.returncode == 5, blocked.stderr
    assert blocked.stderr.startswith("Error: ") and "busy" in blocked.stderr
    assert len(blocked.stderr.strip().splitlines()) == 1 and "Traceback" not in blocked.stderr
    assert setup("export").stdout != before  # the held write committed; the blocked one did not
    assert [e["action"] for e in setup.json("sub", "history", sub_id)] == ["created", "held"]
    assert setup.json("sub", "show", sub_id)["auto_renew"] is True
