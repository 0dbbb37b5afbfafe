"""A ledger with a damaged value (a hand edit, a flipped byte): reads and writes exit 6
naming the record and field, the ledger is never rewritten, and `doctor` finds it
(every value, and SQLite's integrity_check; `--quick` keeps to the fast checks)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import Kscli, fresh_pg_store_spec, ledger_path, require_pg

BACKENDS = ["sqlite", "json", pytest.param("postgres", marks=pytest.mark.postgres)]


def _ledger(tmp_path, backend: str) -> str:
    spec = fresh_pg_store_spec(require_pg()) if backend == "postgres" else ledger_path(tmp_path, backend)
    assert Kscli(spec)("init", "--sample").exit_code == 0
    return spec


def _damage(spec: str, backend: str, column: str, value, sub_id: str = "S-1002") -> None:
    """Set subscription ``sub_id``'s stored ``column`` to ``value``, by hand."""
    if backend == "json":
        with open(spec, encoding="utf-8") as handle:
            doc = json.load(handle)
        next(r for r in doc["tables"]["subs"] if r["id"] == sub_id)[column] = value
        with open(spec, "w", encoding="utf-8") as handle:
            json.dump(doc, handle)
    elif backend == "sqlite":
        conn = sqlite3.connect(spec)
        conn.execute(f"UPDATE subs SET {column} = ? WHERE id = ?", (value, sub_id))
        conn.commit()
        conn.close()
    else:
        from psycopg import connect

        with connect(spec) as conn:
            conn.execute(f"UPDATE subs SET {column} = %s WHERE id = %s", (value, sub_id))


def _fingerprint(spec: str, backend: str) -> str:
    if backend == "postgres":
        return json.dumps(Kscli(spec)("export").stdout)  # (refused: its text is the same)
    with open(spec, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("column,value", [("price", "12,x"), ("started_at", "2026-13-45T00:00:00Z"),
                                          ("commitment_end", "soon"), ("ended_at", "yesterday"),
                                          ("prices", "{not json")])
def test_a_damaged_value_is_named_by_every_read_and_refused_by_every_write(
        tmp_path, backend, column, value):
    spec = _ledger(tmp_path, backend)
    _damage(spec, backend, column, value)
    before = _fingerprint(spec, backend)
    kscli = Kscli(spec)
    for argv in (["sub", "list"], ["sub", "show", "S-1002"], ["charges", "check"],
                 ["renew", "due", "--within", "400d"], ["renew", "off", "S-1002"]):
        result = kscli(*argv)
        assert result.exit_code == 6, (argv, result.exit_code, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert f"subscription S-1002 holds a {column}" in result.stderr, result.stderr
    if backend != "postgres":
        assert _fingerprint(spec, backend) == before  # never rewritten
    doctor = kscli("doctor", fmt="json")
    assert doctor.exit_code == 1
    values = next(c for c in doctor.json() if c["check"] == "values")
    assert values["result"] == "FAIL" and column in values["detail"]
    quick = kscli("doctor", "--quick", fmt="json")
    assert "values" not in {c["check"] for c in quick.json()}


def test_a_json_ledger_with_a_value_no_command_can_use_is_never_rewritten(tmp_path):
    spec = _ledger(tmp_path, "json")
    _damage(spec, "json", "status", "bogus")  # reads as text: only the check can tell
    before = _fingerprint(spec, "json")
    result = Kscli(spec)("renew", "off", "S-1001")
    assert result.exit_code == 6 and "subscription S-1002: status 'bogus'" in result.stderr
    assert _fingerprint(spec, "json") == before


def test_a_healthy_ledger_passes_every_value_and_the_full_integrity_check(tmp_path):
    spec = _ledger(tmp_path, "sqlite")
    checks = {c["check"]: c for c in Kscli(spec)("doctor", fmt="json").json()}
    assert checks["values"]["result"] == "ok"
    assert checks["integrity"]["detail"] == "integrity_check: ok"
    quick = {c["check"]: c for c in Kscli(spec)("doctor", "--quick", fmt="json").json()}
    assert quick["integrity"]["detail"] == "quick_check: ok"


def test_random_byte_flips_never_give_a_traceback_and_doctor_tells(tmp_path):
    """Flipped bytes in an SQLite ledger: a read either works or exits 6, never with a
    traceback, and doctor answers (ok or FAIL) for each."""
    spec = _ledger(tmp_path, "sqlite")
    conn = sqlite3.connect(spec)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(spec, "rb") as handle:
        original = handle.read()
    rng = random.Random(7)
    for trial in range(25):
        data = bytearray(original)
        at = rng.randrange(100, len(data))
        data[at] ^= 1 << rng.randrange(8)
        target = tmp_path / f"flip{trial}.db"
        target.write_bytes(bytes(data))
        os.chmod(target, 0o600)
        out = subprocess.run([sys.executable, "-m", "kscli", "--store", str(target), "--format",
                              "json", "sub", "list"], capture_output=True, text=True)
        assert "Traceback" not in out.stderr, out.stderr
        assert out.returncode in (0, 6), (out.returncode, out.stderr)
        doctor = subprocess.run([sys.executable, "-m", "kscli", "--store", str(target),
                                 "doctor"], capture_output=True, text=True)
        assert "Traceback" not in doctor.stderr and doctor.returncode in (0, 1), doctor.stderr
