"""Damaged or hostile ledgers and exports are refused in one line; racing first writes
to a new PostgreSQL database all succeed."""

from __future__ import annotations

import json
import os
import secrets
import subprocess

import pytest

from tests.conftest import Kscli, installed_kscli, ledger_path, require_pg

ADD = ("sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan", "monthly", "--price",
       "9.99", "--currency", "USD")


def _one_line(result) -> None:
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_a_json_ledger_whose_schema_is_true_is_refused_not_read_as_version_1(tmp_path):
    store = ledger_path(tmp_path, "json")
    Kscli(store).json(*ADD)
    doc = json.loads(open(store).read())
    doc["schema"] = True
    with open(store, "w") as handle:
        json.dump(doc, handle)
    before = open(store, "rb").read()
    for argv in (("sub", "list"), ADD):
        result = Kscli(store)(*argv)
        assert result.exit_code == 6 and "no schema version" in result.stderr
        _one_line(result)
    assert open(store, "rb").read() == before


def test_a_deeply_nested_json_ledger_is_refused_in_one_line(tmp_path):
    store = ledger_path(tmp_path, "json")
    os.makedirs(os.path.dirname(store), mode=0o700)
    with open(store, "w") as handle:
        handle.write("[" * 200_000 + "]" * 200_000)
    result = Kscli(store)("sub", "list")
    assert result.exit_code == 6 and "nested too deeply" in result.stderr
    _one_line(result)


def test_a_deeply_nested_import_file_is_refused_in_one_line(tmp_path):
    bomb = tmp_path / "nested.json"
    bomb.write_text('{"format": "kscli-export", "tables": ' + "[" * 200_000 + "]" * 200_000 + "}")
    store = ledger_path(tmp_path, "sqlite")
    result = Kscli(store)("import", str(bomb))
    assert result.exit_code == 2 and "nested too deeply" in result.stderr
    _one_line(result)
    assert not os.path.exists(store)


@pytest.mark.postgres
def test_racing_first_writes_to_a_new_database_all_succeed():
    from tests.pg_util import _created, with_database

    dsn = require_pg()
    name = f"kscli_race_{secrets.token_hex(4)}"
    url = with_database(dsn, name)
    _created.append((dsn, name))  # dropped when the run ends
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    procs = [subprocess.Popen([installed_kscli(), "--store", url, "--quiet", *ADD], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(12)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert [code for code, _ in results] == [0] * 12, results
    assert len(Kscli(url).json("sub", "list")) == 12


@pytest.mark.parametrize("backend", ["sqlite", "json"])
def test_an_argument_that_is_not_utf8_is_refused_naming_its_place_not_its_bytes(tmp_path, backend):
    store = ledger_path(tmp_path, backend)
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    bad = os.fsdecode(b"Ac\xffme")
    done = subprocess.run([installed_kscli(), "--store", store, "sub", "add", "--vendor", bad,
                           *ADD[4:]], env=env, capture_output=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (b"Error: the value of --vendor is not valid UTF-8 text (set the "
                           b"terminal to UTF-8, or type the text again)\n")
    assert not os.path.exists(store)
    positional = subprocess.run([installed_kscli(), "--store", store, "sub", "show", bad],
                                env=env, capture_output=True)
    assert positional.returncode == 2 and b"argument 5 is not valid UTF-8" in positional.stderr


def test_a_file_whose_name_is_not_utf8_can_still_be_read(tmp_path):
    name = os.fsdecode(tmp_path / os.fsdecode(b"st\xe9atement.csv"))
    with open(name, "w") as handle:
        handle.write("date,description,amount\n2026-11-02,ACME CLOUD,-9.99\n")
    store = ledger_path(tmp_path, "sqlite")
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    done = subprocess.run([installed_kscli(), "--store", store, "charges", "import", name,
                           "--currency", "USD"],
                          env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert b"not valid UTF-8" not in done.stderr
    charges = Kscli(store).json("charges", "list")
    assert len(charges) == 1 and charges[0]["statement"] == "st\ufffdatement.csv"
