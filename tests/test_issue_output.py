"""`license issue` hands every key out before it records any (stdout, or -o FILE), and
no table ever shortens a key, an id or a reference, however narrow the terminal."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from tests.conftest import Kscli, ledger_path


def _keys(kscli) -> list[dict]:
    return kscli.json("license", "list")


def test_issue_into_a_file_writes_every_key_privately_then_records_them(tmp_path):
    kscli = Kscli(ledger_path(tmp_path, "sqlite"))
    target = tmp_path / "keys.jsonl"
    result = kscli("license", "issue", "--product", "Photo", "--count", "5", "-o", str(target),
                   fmt="jsonl")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and f"issued 5 keys into {target} (mode 0600)" in result.stderr
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    import json

    written = [json.loads(line) for line in target.read_text().splitlines()]
    recorded = _keys(kscli)
    assert [w["id"] for w in written] == [r["id"] for r in recorded]
    assert all(len(w["key"]) == 29 and w["reference"].startswith("KS-") for w in written)
    for w in written:  # each written key is the one recorded
        shown = kscli.json("license", "show", w["id"], "--reveal")
        assert shown["key"] == w["key"]


def test_an_existing_file_is_never_overwritten_and_nothing_is_issued(tmp_path):
    kscli = Kscli(ledger_path(tmp_path, "sqlite"))
    target = tmp_path / "keys.txt"
    target.write_text("mine")
    result = kscli("license", "issue", "--product", "Photo", "-o", str(target))
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert target.read_text() == "mine" and _keys(kscli) == []


def test_keys_that_cannot_be_written_out_are_not_issued(tmp_path):
    """stdout is a full disk (/dev/full): the keys cannot go out, so none is recorded,
    and the command says the output failed."""
    store = ledger_path(tmp_path, "sqlite")
    Kscli(store)("init")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "kscli", "--store", store, "--format",
                               "jsonl", "license", "issue", "--product", "Photo", "--count",
                               "50"], stdout=full, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 1, done.stderr
    assert "cannot write the output" in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert _keys(Kscli(store)) == []


def test_a_narrow_terminal_never_shortens_a_key_or_a_reference(tmp_path):
    kscli = Kscli(ledger_path(tmp_path, "sqlite"))
    result = kscli("license", "issue", "--product", "Photo Editor Professional Suite",
                   env={"COLUMNS": "60"})
    assert result.exit_code == 0
    row = result.stdout.splitlines()[2]
    issued = _keys(kscli)[0]
    full = kscli.json("license", "show", issued["id"], "--reveal")["key"]
    assert full in row and "…" in row  # the product gave way, the key did not
    assert len([w for w in row.split() if w.startswith("KS-")][0]) == 18
