"""kscli under load: 20 processes of the installed `kscli` writing to one ledger at once.

The ledger does not exist when they start. Afterwards every write that reported success
is in the ledger (its reference is in the events and in `sub history`), no failed
command left anything behind, the stored states agree with the events, concurrent
sweeps renewed each period once, and nothing failed except with exit 5 after the busy
timeout. bench/stress.py runs the same
workload and prints writes per second and the slowest write.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import Kscli

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 20

_spec = importlib.util.spec_from_file_location("kscli_bench_stress", ROOT / "bench" / "stress.py")
stress = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = stress
_spec.loader.exec_module(stress)

def installed() -> str:
    """The installed `kscli` script (a real process, as cron runs it)."""
    return stress.installed_kscli()


def process_env(**extra: str) -> dict[str, str]:
    """The test's environment for a `kscli` process, compiled once for all of them."""
    return stress.compiled_once({**os.environ, **extra})


def rows(tables: dict, name: str) -> list[dict]:
    """A table of `kscli export` as a list of row objects (either shape of the file)."""
    table = tables.get(name, [])
    if isinstance(table, dict):
        return [dict(zip(table["columns"], row)) for row in table["rows"]]
    return list(table)


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
    events = [{**e, "detail": json.loads(e["detail"])} for e in rows(tables, "events")]
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
    printed = [r for refs in reported.values() for r in refs]
    assert len(printed) == len(set(printed))
    unprinted = [by_ref[r] for r in sorted(set(by_ref) - set(printed))]
    # the one bookkeeping event a command records without printing it: the first key
    # kept in the ledger file (there is no keyring in these processes)
    assert [(e["subject"], e["action"]) for e in unprinted] in (
        [], [("ledger", "secrets-in-ledger")]), unprinted

    subs = {row["id"]: row for row in rows(tables, "subs")}
    added = [op for op in run.writes if op.name == "add" and op.ok]
    assert sorted(subs) == sorted(op.subject for op in added)
    events_of: dict[str, list[dict]] = defaultdict(list)
    for event in events:  # in the order they were written
        events_of[event["subject"]].append(event)

    # `sub history` shows exactly the references printed for each subscription.
    for op in added:
        history = kscli.json("sub", "history", op.subject)
        assert sorted(e["reference"] for e in history) == sorted(reported[op.subject])

    # Replaying the events of each subscription gives the state stored for it; the
    # concurrent sweeps renewed each period once, one period after the other.
    now = datetime.now(timezone.utc)
    for op in added:
        row = subs[op.subject]
        state: dict = {}
        for event in events_of[op.subject]:
            action, detail = event["action"], event["detail"]
            if action == "created":
                assert not state
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
            elif action == "renewed":
                assert state["status"] == "active" and state["auto_renew"]
                assert detail["period_start"] == state["period_end"], "a period renewed twice"
                state["period_end"] = detail["period_end"]
            elif action == "expired":
                state["status"] = "expired"
            else:
                pytest.fail(f"unexpected event {action} on {op.subject}")
        assert state == {"status": row["status"], "auto_renew": bool(row["auto_renew"]),
                         "period_end": row["period_end"]}, op.subject
    sweeps = [op for op in run.writes if op.name == "sweep"]
    assert any(op.references for op in sweeps), "the sweeps found nothing to renew"
    if all(op.ok for op in sweeps):
        # every sweep ran after its worker added a due subscription: none is left due
        assert kscli.json("sweep", "--dry-run") == []
        for op in added:
            if op.argv[op.argv.index("add") + 1:].count("--started"):
                assert _when(subs[op.subject]["period_end"]) > now

    # Keys issued and activated under load: each active on its one machine.
    licenses = {row["id"]: row for row in rows(tables, "licenses")}
    for op in run.writes:
        if op.name == "activate" and op.ok and op.references:
            assert licenses[op.subject]["status"] == "active"
            assert [e["action"] for e in events_of[op.subject]] == ["issued", "activated"]


@pytest.mark.slow
def test_twenty_processes_writing_at_once_lose_nothing(any_store_spec):
    run = stress.run_load(any_store_spec, workers=WORKERS, rounds=1, busy_timeout=30)
    assert len({op.worker for op in run.ops}) == WORKERS
    check_exit_codes(run)
    check_ledger(any_store_spec, run)
    summary = run.summary()
    assert summary["other"] == 0 and summary["writes_per_s"] > 0
    if os.path.exists(any_store_spec):  # created by the writers themselves, privately
        assert oct(os.stat(any_store_spec).st_mode & 0o777) == "0o600"
        assert oct(os.stat(os.path.dirname(any_store_spec)).st_mode & 0o777) == "0o700"


def test_a_writer_past_the_busy_timeout_exits_5_and_changes_nothing(any_store_spec):
    from kscli.store import open_store

    setup = Kscli(any_store_spec)
    sub_id = setup.json("sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan",
                        "monthly", "--price", "9.99", "--currency", "USD")["id"]
    before = setup("export").stdout
    env = process_env(KSCLI_BUSY_TIMEOUT="0.5")
    with open_store(any_store_spec).write() as ledger:  # another writer holds the ledger
        ledger.append_event(sub_id, "held", {}, datetime.now(timezone.utc).replace(microsecond=0))
        blocked = subprocess.run([installed(), "--store", any_store_spec, "renew",
                                  "off", sub_id], capture_output=True, text=True, env=env,
                                 timeout=60)
    assert blocked.returncode == 5, blocked.stderr
    assert blocked.stderr.startswith("Error: ") and "busy" in blocked.stderr
    assert len(blocked.stderr.strip().splitlines()) == 1 and "Traceback" not in blocked.stderr
    assert setup("export").stdout != before  # the held write committed; the blocked one did not
    assert [e["action"] for e in setup.json("sub", "history", sub_id)] == ["created", "held"]
    assert setup.json("sub", "show", sub_id)["auto_renew"] is True
