"""`sub add|edit --match`: how statements write a subscription; a line whose
description holds a descriptor matches it; `sub show` lists them; each edit is an
event with before and after; on every backend."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Kscli

ADD = ("sub", "add", "--vendor", "Streamly", "--product", "Video", "--plan", "monthly",
       "--price", "12.99", "--currency", "USD", "--started", "2026-10-02")
LINE = "Date,Description,Amount,Currency\n2026-11-02,PAYPAL *STRMLY 4029357733,-12.99,USD\n"


@pytest.fixture
def kscli(any_store_spec):
    return Kscli(any_store_spec)


def test_a_descriptor_given_at_add_matches_a_statement_line(kscli, tmp_path):
    added = kscli.json(*ADD, "--match", "PAYPAL *STRMLY", "--match", "paypal *strmly")
    assert added["match"] == ["PAYPAL *STRMLY"]  # each once, whatever the case
    statement = tmp_path / "pp.csv"
    statement.write_text(LINE)
    imported = kscli.json("charges", "import", str(statement))
    assert [c["sub_id"] for c in imported["charges"]] == [added["id"]]
    shown = kscli("sub", "show", added["id"])
    assert "statements say  PAYPAL *STRMLY" in shown.stdout


def test_match_and_no_match_edit_the_descriptors_as_one_event(kscli, tmp_path):
    sub_id = kscli.json(*ADD)["id"]
    statement = tmp_path / "pp.csv"
    statement.write_text(LINE)
    assert kscli.json("charges", "import", str(statement), "--dry-run")["charges"][0]["sub_id"] is None
    edited = kscli.json("sub", "edit", sub_id, "--match", "PAYPAL *STRMLY", "--match", "STRMLY.COM")
    assert edited["match"] == ["PAYPAL *STRMLY", "STRMLY.COM"]
    removed = kscli.json("sub", "edit", sub_id, "--no-match", "strmly.com")
    assert removed["match"] == ["PAYPAL *STRMLY"]
    events = [e for e in json.loads(kscli("export").stdout)["tables"]["events"]
              if e["subject"] == sub_id and e["action"] == "edited"]
    details = [json.loads(e["detail"]) for e in events]
    assert [d["before"]["match"] for d in details] == [[], ["PAYPAL *STRMLY", "STRMLY.COM"]]
    assert [d["after"]["match"] for d in details] == [["PAYPAL *STRMLY", "STRMLY.COM"],
                                                      ["PAYPAL *STRMLY"]]
    missing = kscli("sub", "edit", sub_id, "--no-match", "NOPE")
    assert missing.exit_code == 4 and "has no match 'NOPE'" in missing.stderr
    again = kscli("sub", "edit", sub_id, "--match", "paypal *strmly")
    assert again.exit_code == 0 and "nothing changed" in again.stderr
    assert kscli.json("charges", "import", str(statement))["charges"][0]["sub_id"] == sub_id
