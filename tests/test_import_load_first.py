"""A row the backend itself cannot take (an object, a number past 64 bits, a repeated
key, text UTF-8 cannot write) is named by the checks, which run on each chunk before it
is written, with the same message and exit code on every backend, and nothing is
kept."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import pytest

from tests.conftest import Kscli
from tests.test_faults import write_export

ROWS = 300


@pytest.fixture(scope="module")
def export_doc(tmp_path_factory):
    path = tmp_path_factory.mktemp("exports") / "e.json"
    write_export(path, ROWS, datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc))
    return json.loads(path.read_text())


def _object_vendor(doc):  # no backend binds an object as a value
    doc["tables"]["subs"][-1]["vendor"] = {"name": "Acme"}
    return f"subs row {ROWS}, vendor: expected text"


def _huge_number(doc):  # past what SQLite's integer holds: sqlite3 raises OverflowError
    doc["tables"]["subs"][7]["auto_renew"] = 2**70
    return "subs row 8, auto_renew: expected 0 or 1"


def _repeated_id(doc):  # SQLite's primary key refuses the row during the load
    doc["tables"]["subs"][-1]["id"] = doc["tables"]["subs"][0]["id"]
    return f"subs row {ROWS}: missing or repeated id"


def _lone_surrogate(doc):  # UTF-8 cannot write it: the driver fails while binding
    doc["tables"]["subs"][3]["product"] = "Pro \udc80"
    return "subs row 4, product: is not UTF-8 text"


@pytest.mark.parametrize("spoil", [_object_vendor, _huge_number, _repeated_id, _lone_surrogate])
def test_a_row_the_backend_cannot_take_is_named_by_the_checks(any_store_spec, tmp_path,
                                                             export_doc, spoil):
    doc = json.loads(json.dumps(export_doc))
    expected = spoil(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    kscli = Kscli(any_store_spec)
    result = kscli("import", str(path))
    assert result.exit_code == 2, result.stderr
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert kscli.json("sub", "list") == []
    if any_store_spec.endswith(".db"):  # no ledger at the path, no scratch file beside it
        assert not os.path.exists(os.path.dirname(any_store_spec)) \
            or os.listdir(os.path.dirname(any_store_spec)) == []


def test_a_good_file_after_a_refused_one_imports_whole(any_store_spec, tmp_path, export_doc):
    doc = json.loads(json.dumps(export_doc))
    _repeated_id(doc)
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    bad.write_text(json.dumps(doc))
    good.write_text(json.dumps(export_doc))
    kscli = Kscli(any_store_spec)
    assert kscli("import", str(bad)).exit_code == 2
    result = kscli("import", str(good))
    assert result.exit_code == 0, result.stderr
    assert len(kscli.json("sub", "list")) == ROWS
