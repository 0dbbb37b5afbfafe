"""`kscli import` reads an export a few lines at a time and checks each chunk of rows
before it is written (SQLite writes them as they come, inside the one transaction):
any layout of the same JSON imports the same ledger, a bad value anywhere is named with
its row and keeps nothing, and a file that stops being JSON half-way is refused with
json's own message."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import pytest

from kscli.services.export_file import CHUNK
from tests.conftest import Kscli
from tests.test_faults import write_export


@pytest.fixture(scope="module")
def sample_export(tmp_path_factory):
    """The export of a sample ledger (every kind of record), as `kscli export` writes it."""
    kscli = Kscli(str(tmp_path_factory.mktemp("sample") / "sample.db"))
    assert kscli("init", "--sample").exit_code == 0
    return kscli("export").stdout


@pytest.fixture(scope="module")
def two_chunks(tmp_path_factory):
    path = tmp_path_factory.mktemp("exports") / "two.json"
    write_export(path, CHUNK + 1000, datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc))
    return path


def _one_line(doc):
    return json.dumps(doc)


def _pretty(doc):
    return json.dumps(doc, indent=2)


def _header_last(doc):  # the format and schema after the tables: read whole
    return json.dumps({"tables": doc["tables"], "schema": doc["schema"],
                       "format": doc["format"], "version": doc["version"]})


def _tables_reversed(doc):  # keys before their licenses, licenses before subscriptions
    return json.dumps({**doc, "tables": dict(reversed(doc["tables"].items()))})


def _keys_reversed(doc):
    tables = {name: [dict(reversed(row.items())) for row in rows]
              for name, rows in doc["tables"].items()}
    return json.dumps({**doc, "tables": tables}).replace("}, {", "},\n{")


def _windows_lines(doc):
    return json.dumps(doc, separators=(",", ":")).replace("},{", "},\r\n\t{")


@pytest.mark.parametrize("layout", [_one_line, _pretty, _header_last, _tables_reversed,
                                    _keys_reversed, _windows_lines])
def test_every_layout_of_an_export_imports_the_same_ledger(any_store_spec, tmp_path,
                                                          sample_export, layout):
    compact, other = tmp_path / "compact.json", tmp_path / "other.json"
    compact.write_text(sample_export)
    other.write_text(layout(json.loads(sample_export)))
    reference = Kscli(str(tmp_path / "reference.db"))
    assert reference("import", str(compact)).exit_code == 0
    kscli = Kscli(any_store_spec)
    result = kscli("import", str(other))
    assert result.exit_code == 0, result.stderr
    assert kscli("export").stdout == reference("export").stdout
    checks = {c["check"]: c for c in json.loads(kscli("doctor", fmt="json").stdout)}
    assert checks["values"]["result"] == "ok", checks["values"]


@pytest.mark.parametrize("row", [CHUNK, CHUNK + 1, CHUNK + 1000])
@pytest.mark.parametrize("ledger", ["new", "empty"])
def test_a_bad_value_in_any_chunk_is_named_by_its_row_and_keeps_nothing(tmp_path, two_chunks,
                                                                       row, ledger):
    lines = two_chunks.read_text().split("\n")
    at = next(i for i, line in enumerate(lines) if f'"S-{1000 + row}"' in line)
    lines[at] = lines[at].replace('"price":"', '"price":"12,', 1)
    bad = tmp_path / "bad.json"
    bad.write_text("\n".join(lines))
    store = tmp_path / "l" / "kscli.db"
    kscli = Kscli(str(store))
    if ledger == "empty":
        assert kscli("init").exit_code == 0
    result = kscli("import", str(bad))
    assert result.exit_code == 2, result.stderr
    assert f"subs row {row}, price: '12," in result.stderr
    assert result.stderr.count("\n") == 1
    if ledger == "new":
        assert not store.parent.exists() or os.listdir(store.parent) == []
    else:
        assert kscli.json("sub", "list") == []


def test_an_id_repeated_in_a_later_chunk_is_named_there(tmp_path, two_chunks):
    text = two_chunks.read_text().replace(f'"id":"S-{1000 + CHUNK + 7}"', '"id":"S-1003"')
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    result = Kscli(str(tmp_path / "l.db"))("import", str(bad))
    assert result.exit_code == 2
    assert f"subs row {CHUNK + 7}: missing or repeated id" in result.stderr


def test_a_file_cut_short_is_refused_with_jsons_own_message(any_store_spec, tmp_path,
                                                           two_chunks):
    text = two_chunks.read_text()
    cut = text[:len(text) * 3 // 4]
    with pytest.raises(json.JSONDecodeError) as parsed:
        json.loads(cut)
    bad = tmp_path / "cut.json"
    bad.write_text(cut)
    kscli = Kscli(any_store_spec)
    result = kscli("import", str(bad))
    assert result.exit_code == 2
    assert f"is not valid JSON ({parsed.value})" in result.stderr
    assert result.stderr.count("\n") == 1
    assert kscli.json("sub", "list") == []


def test_a_table_named_twice_is_refused(tmp_path, sample_export):
    text = sample_export.replace('"tables": {', '"tables": {\n  "rates": [],', 1)
    assert '"rates": [' in text[text.index('"rates": [],') + 12:]
    bad = tmp_path / "twice.json"
    bad.write_text(text)
    kscli = Kscli(str(tmp_path / "l.db"))
    result = kscli("import", str(bad))
    assert result.exit_code == 2
    assert "the table 'rates' is named twice" in result.stderr
    assert not os.path.exists(tmp_path / "l.db")


@pytest.mark.parametrize("value", [2**63, -2**63 - 1, 2**31])
def test_a_counter_no_backend_can_hold_is_refused(any_store_spec, tmp_path, sample_export, value):
    doc = json.loads(sample_export)
    doc["tables"]["counters"][0]["value"] = value
    bad = tmp_path / "counter.json"
    bad.write_text(json.dumps(doc))
    kscli = Kscli(any_store_spec)
    result = kscli("import", str(bad))
    assert result.exit_code == 2, result.stderr
    assert f"counters row 1, value: '{value}' is too large a number" in result.stderr
    assert kscli.json("sub", "list") == []
