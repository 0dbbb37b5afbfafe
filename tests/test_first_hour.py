"""A new user's first hour: mistakes forgiven, output that fits, no data lost in silence.

Run through the installed `kscli` where the behaviour is the process's own (exit codes,
streams, terminal width), and through CliRunner elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import Kscli, installed_kscli, ledger_path

KSCLI = installed_kscli()


def run(*args, env=None, input=None, cwd=None):
    if KSCLI is None:
        pytest.fail("kscli is not installed: run `pip install .` first")
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([KSCLI, *args], capture_output=True, text=True, env=full_env,
                          input=input, timeout=60, cwd=cwd)


def no_traceback(result) -> None:
    assert "Traceback" not in result.stderr and "Error" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.fixture
def sample(tmp_path, any_store_spec):
    """The sample ledger on every backend (its keys are kept in the ledger)."""
    kscli = Kscli(any_store_spec)
    assert kscli("init", "--sample").exit_code == 0
    return kscli


# --- keys carried across export and import --------------------------------------------

def test_export_says_how_many_keys_it_left_out_and_import_marks_them_missing(sample, tmp_path):
    exported = sample("export")
    assert exported.exit_code == 0
    assert "left out 4 license keys" in exported.stderr and "--with-keys" in exported.stderr
    assert "secrets" not in json.loads(exported.stdout)["tables"]
    path = tmp_path / "no-keys.json"
    path.write_text(exported.stdout)

    moved = Kscli(ledger_path(tmp_path / "moved", "sqlite"))
    imported = moved("import", str(path))
    assert imported.exit_code == 0, imported.stderr
    assert "4 license keys" in imported.stderr and "import --keys" in imported.stderr
    assert moved.json("license", "show", "L-1004")["secret_store"] == "missing"

    revealed = moved("license", "show", "L-1004", "--reveal")
    assert revealed.exit_code == 1
    assert "missing" in revealed.stderr and "--with-keys" in revealed.stderr
    assert moved("license", "list", "--reveal").exit_code == 1
    doctor = moved("doctor", fmt="json")
    assert doctor.exit_code == 1
    failed = [c for c in doctor.json() if c["result"] == "FAIL"]
    assert [c["check"] for c in failed] == ["license keys"]
    assert "L-1004" in failed[0]["detail"] and "import --keys" in failed[0]["detail"]

    # the restore the doctor names puts every key back
    keys_file = tmp_path / "keys.json"
    with_keys = sample("export", "--with-keys", "-o", str(keys_file))
    assert with_keys.exit_code == 0 and "holds 4 license keys" in with_keys.stderr
    assert oct(os.stat(keys_file).st_mode & 0o777) == "0o600"
    restored = moved("import", "--keys", str(keys_file))
    assert restored.exit_code == 0 and "restored 4 license keys" in restored.stderr
    assert moved("doctor").exit_code == 0
    original = sample("license", "show", "L-1004", "--reveal", fmt="json").json()["key"]
    assert moved("license", "show", "L-1004", "--reveal", fmt="json").json()["key"] == original
    assert moved("import", "--keys", str(keys_file)).stderr.startswith("restored 0 license keys")


def test_export_with_keys_carries_them_exactly(sample, tmp_path):
    path = tmp_path / "all.json"
    assert sample("export", "--with-keys", "-o", str(path)).exit_code == 0
    for backend in ("sqlite", "json"):
        moved = Kscli(ledger_path(tmp_path / backend, backend))
        imported = moved("import", str(path))
        assert imported.exit_code == 0 and "missing" not in imported.stderr
        assert moved("export", "--with-keys").stdout == path.read_text()
        assert moved("license", "show", "L-1001", "--reveal").exit_code == 0
        assert moved("doctor").exit_code == 0


def test_an_export_whose_key_is_not_its_records_key_is_refused(sample, tmp_path):
    doc = json.loads(sample("export", "--with-keys").stdout)
    doc["tables"]["secrets"][0]["key"], doc["tables"]["secrets"][1]["key"] = (
        doc["tables"]["secrets"][1]["key"], doc["tables"]["secrets"][0]["key"])
    path = tmp_path / "swapped.json"
    path.write_text(json.dumps(doc))
    moved = Kscli(ledger_path(tmp_path / "m", "sqlite"))
    refused = moved("import", str(path))
    assert refused.exit_code == 2 and "secrets row 1" in refused.stderr
    assert doc["tables"]["secrets"][0]["key"] not in refused.stderr
    assert not os.path.exists(moved.store)
