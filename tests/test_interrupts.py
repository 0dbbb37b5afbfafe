"""Ctrl-C or SIGTERM: a script can tell "the change stands" (exit 7, its reference on
stderr) from "nothing happened" (exit 130), through the installed kscli."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import time

import pytest

from tests.conftest import Kscli, installed_kscli, ledger_path

ADD = ("sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan", "monthly", "--price",
       "9.99", "--currency", "USD")
ENV = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}


def _stopped_while_printing(store: str, sig: int, *argv: str) -> tuple[int, str]:
    """Run kscli with its JSON output into a pipe nobody reads, signal it once it has
    printed a line and waits on the full pipe; its exit code and stderr."""
    proc = subprocess.Popen([installed_kscli(), "--store", store, "--format", "json", *argv],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    assert first, proc.stderr.read()
    time.sleep(0.3)  # the pipe fills: kscli waits to write the rest
    proc.send_signal(sig)
    proc.stdout.close()
    code = proc.wait(timeout=60)
    return code, proc.stderr.read().decode()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("backend", ["sqlite", "json"])
def test_interrupted_while_printing_after_the_commit_exits_7_naming_what_stands(
        tmp_path, backend, sig):
    """`sweep` records its renewals, then prints them: stopped while it prints, the
    renewals stand and it says so."""
    from datetime import datetime, timezone

    from tests.test_faults import write_export

    store = ledger_path(tmp_path, backend)
    export = tmp_path / "e.json"
    write_export(export, 3000, datetime(2025, 1, 5, 9, 30, tzinfo=timezone.utc))
    assert Kscli(store)("import", str(export)).exit_code == 0
    code, err = _stopped_while_printing(store, sig, "sweep")
    assert code == 7, err
    last = err.splitlines()[-1]
    assert last.startswith("Interrupted, but the change was recorded: S-1001 "), err
    assert re.search(r" and \d+ more; it stands, and the output may be incomplete$", last), last
    assert "Traceback" not in err and "Exception" not in err
    assert Kscli(store).json("sweep", "--dry-run") == []  # every step recorded


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("backend", ["sqlite", "json"])
def test_keys_interrupted_while_they_print_are_not_issued(tmp_path, backend, sig):
    """`license issue` prints the keys before it records them: stopped while it prints,
    no key is recorded (exit 130), so a retry issues each key once."""
    store = ledger_path(tmp_path, backend)
    code, err = _stopped_while_printing(store, sig, "license", "issue", "--product",
                                        "Photo Editor", "--count", "1000")
    assert code == 130, err
    assert err.splitlines()[-1] == "Interrupted: nothing was changed"
    assert Kscli(store).json("license", "list") == []


def _wait_until_it_holds_open(pid: int, path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == path for fd in os.listdir(f"/proc/{pid}/fd")):
                time.sleep(0.2)  # opened: now in its wait for the lock
                return
        except OSError:
            pass
        time.sleep(0.02)
    pytest.fail(f"kscli never opened {path}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_before_anything_was_recorded_exits_130_and_changes_nothing(tmp_path, sig):
    store = ledger_path(tmp_path, "json")
    Kscli(store).json(*ADD)
    before = open(store, "rb").read()
    lock = os.open(store + ".lock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)  # another writer holds the ledger
    try:
        proc = subprocess.Popen([installed_kscli(), "--store", store, *ADD], env=ENV,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_until_it_holds_open(proc.pid, store + ".lock")  # it waits for the lock
        proc.send_signal(sig)
        code = proc.wait(timeout=60)
    finally:
        os.close(lock)
    err = proc.stderr.read()
    assert code == 130, err
    assert err == "Interrupted: nothing was changed\n"
    assert open(store, "rb").read() == before
    assert [s["id"] for s in json.loads(Kscli(store)("--format", "json", "sub", "list").stdout)] \
        == ["S-1001"]
