"""`kscli charges remove`: a wrong import undone by its reference and imported again
correctly; named charges removed; each removal an event; on every backend."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Kscli

CARD = ("Date,Description,Amount,Currency\n"
        "2026-11-02,ACME CLOUD PRO,24.00,USD\n"
        "2026-11-05,CORNER BAKERY,3.50,USD\n"
        "2026-11-07,PAYMENT THANK YOU,-500.00,USD\n")


@pytest.fixture
def ledger(any_store_spec, tmp_path):
    kscli = Kscli(any_store_spec)
    assert kscli("init", "--sample").exit_code == 0
    card = tmp_path / "card.csv"
    card.write_text(CARD)
    return kscli, str(card)


def test_a_wrong_import_is_removed_by_its_reference_and_imported_again(ledger):
    kscli, card = ledger
    wrong = kscli.json("charges", "import", card)  # card signs read as a bank's: only the payment
    assert [c["amount"] for c in wrong["charges"]] == ["500.00"]
    removed = kscli.json("charges", "remove", "--import", wrong["reference"], "--yes")
    assert removed["count"] == 1 and removed["removed"] == [wrong["charges"][0]["id"]]
    assert removed["reference"].startswith("KS-") and removed["reference"] != wrong["reference"]
    assert kscli.json("charges", "list") == []
    right = kscli.json("charges", "import", card, "--debits", "positive")
    assert sorted(c["amount"] for c in right["charges"]) == ["24.00", "3.50"]  # not "already present"
    exported = json.loads(kscli("export").stdout)["tables"]["events"]
    actions = [e["action"] for e in exported if e["subject"] == "charges"]
    assert actions == ["charges-imported", "charges-removed", "charges-imported"]


def test_named_charges_are_removed_and_a_charge_not_there_removes_nothing(ledger):
    kscli, card = ledger
    kscli.json("charges", "import", card, "--debits", "positive")
    ids = [c["id"] for c in kscli.json("charges", "list")]
    missing = kscli("charges", "remove", ids[0], "C-9999", "--yes")
    assert missing.exit_code == 3 and "no charge C-9999" in missing.stderr
    assert [c["id"] for c in kscli.json("charges", "list")] == ids  # nothing removed
    assert kscli.json("charges", "remove", ids[0], "--yes")["removed"] == [ids[0]]
    assert [c["id"] for c in kscli.json("charges", "list")] == ids[1:]


def test_removing_needs_a_target_and_a_yes_off_a_terminal(ledger):
    kscli, card = ledger
    imported = kscli.json("charges", "import", card, "--debits", "positive")
    assert kscli("charges", "remove").exit_code == 2
    assert kscli("charges", "remove", "S-1001", "--yes").exit_code == 2
    asked = kscli("charges", "remove", "--import", imported["reference"])
    assert asked.exit_code == 2 and "--yes" in asked.stderr
    not_import = kscli("charges", "remove", "--import",
                       kscli.json("renew", "off", "S-1001")["reference"], "--yes")
    assert not_import.exit_code == 4 and "not a statement import" in not_import.stderr
    assert len(kscli.json("charges", "list")) == 2
