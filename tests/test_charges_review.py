"""`charges match`, `charges unmatch`, `charges dismiss` and `charges check --all`
through the CLI, on every backend: word matching, hand matches that survive a second
import, price-changed findings, stable finding ids, dismissals, bad input."""

from __future__ import annotations

import json

from freezegun import freeze_time

from tests.conftest import Kscli
from tests.test_charges_cli import statement

EVERY_BACKEND = True  # SQLite, JSON and PostgreSQL (conftest.pytest_generate_tests)

ROWS = ("2026-02-05,APPLE.COM/BILL,-2.99,USD",
        "2026-02-06,PINEAPPLE CAFE,-2.99,USD",
        "2026-02-02,PAYPAL *STRMLY 4029357733,-12.99,USD",
        "2026-03-02,PAYPAL *STRMLY 4029357733,-15.49,USD",
        "2026-03-05,APPLE.COM/BILL,-2.99,USD")


def ledger(kscli: Kscli, add_sub, tmp_path) -> str:
    """Apple iCloud at 2.99, Streamly at 12.99 (statements say PAYPAL *STRMLY), and a
    statement with a look-alike merchant and a price rise, imported."""
    with freeze_time("2026-01-02T09:00:00Z"):
        add_sub(vendor="Apple", product="iCloud", price="2.99", started="2026-01-05")
        add_sub(vendor="Streamly", product="Video", price="12.99", started="2026-01-02",
                match="PAYPAL *STRMLY")
    path = statement(tmp_path, *ROWS)
    with freeze_time("2026-03-10T09:00:00Z"):
        kscli.json("charges", "import", path)
    return path


def by_description(kscli: Kscli) -> dict[tuple[str, str], dict]:
    return {(c["posted_on"], c["description"]): c for c in kscli.json("charges", "list")}


def check(kscli: Kscli, *args: str):
    with freeze_time("2026-03-10T12:00:00Z"):
        return kscli("charges", "check", *args, fmt="json")


def events_of(kscli: Kscli, subject: str) -> list[dict]:
    return [e for e in json.loads(kscli("export").stdout)["tables"]["events"]
            if e["subject"] == subject]


def test_a_look_alike_merchant_is_left_unmatched_and_a_price_rise_is_a_finding(
        kscli, add_sub, tmp_path):
    ledger(kscli, add_sub, tmp_path)
    charges = by_description(kscli)
    assert charges[("2026-02-06", "PINEAPPLE CAFE")]["sub_id"] is None
    assert charges[("2026-02-05", "APPLE.COM/BILL")]["sub_id"] == "S-1001"
    assert charges[("2026-03-02", "PAYPAL *STRMLY 4029357733")]["sub_id"] == "S-1002"
    result = check(kscli)
    assert result.exit_code == 1
    [finding] = result.json()
    assert {k: finding[k] for k in ("kind", "sub_id", "posted_on", "amount",
                                    "expected_amount", "dismissed")} == {
        "kind": "price-changed", "sub_id": "S-1002", "posted_on": "2026-03-02",
        "amount": "15.49", "expected_amount": "12.99", "dismissed": False}
    assert finding["id"].startswith("F-") and len(finding["id"]) == 12
    assert "Streamly charged 15.49 USD on 2026-03-02, the ledger says 12.99 USD" \
        in finding["message"]
    table = kscli("charges", "check").stdout
    assert finding["id"] in table and "price changed" in table


def test_the_policy_tolerance_absorbs_card_exchange_noise(kscli, add_sub, tmp_path):
    ledger(kscli, add_sub, tmp_path)
    from kscli.policy_files import default_policy_text

    policy = tmp_path / "policy.toml"
    text = default_policy_text()
    policy.write_text(text.replace("tolerance_percent = 0", "tolerance_percent = 20"))
    with freeze_time("2026-03-10T12:00:00Z"):
        loose = kscli("--policy", str(policy), "charges", "check", fmt="json")
    assert loose.exit_code == 0 and loose.json() == []
    policy.write_text(text.replace("tolerance_percent = 0", 'tolerance_percent = "lots"'))
    bad = kscli("--policy", str(policy), "charges", "check")
    assert bad.exit_code != 0 and "tolerance_percent" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_finding_keeps_its_id_across_runs_and_a_second_import(kscli, add_sub, tmp_path):
    path = ledger(kscli, add_sub, tmp_path)
    first = check(kscli).json()
    with freeze_time("2026-03-11T09:00:00Z"):
        again = kscli.json("charges", "import", path)
    assert again["imported"] == 0 and again["already_present"] == len(ROWS)
    assert check(kscli).json() == first
    # removed and imported again: new charge ids, the same finding ids
    with freeze_time("2026-03-12T09:00:00Z"):
        kscli.json("charges", "remove", *[c["id"] for c in kscli.json("charges", "list")],
                   "--yes")
        kscli.json("charges", "import", path)
    later = check(kscli).json()
    assert [f["id"] for f in later] == [f["id"] for f in first]
    assert [f["charge_id"] for f in later] != [f["charge_id"] for f in first]


def test_unmatch_and_match_by_hand_are_events_and_survive_a_second_import(
        kscli, add_sub, tmp_path):
    path = ledger(kscli, add_sub, tmp_path)
    charges = by_description(kscli)
    cafe = charges[("2026-02-06", "PINEAPPLE CAFE")]["id"]
    second = charges[("2026-03-05", "APPLE.COM/BILL")]["id"]
    with freeze_time("2026-03-10T10:00:00Z"):
        unmatched = kscli.json("charges", "unmatch", second)
        matched = kscli.json("charges", "match", cafe, "S-1001")
    assert (unmatched["sub_id"], unmatched["before_sub_id"], unmatched["matched_by"]) == (
        None, "S-1001", "hand")
    assert (matched["sub_id"], matched["before_sub_id"], matched["matched_by"]) == (
        "S-1001", None, "hand")
    assert unmatched["reference"] != matched["reference"]
    [event] = events_of(kscli, second)
    assert (event["action"], event["reference"]) == ("charge-unmatched", unmatched["reference"])
    assert json.loads(event["detail"]) == {"before": {"sub_id": "S-1001"},
                                           "after": {"sub_id": None}}
    assert events_of(kscli, cafe)[0]["action"] == "charge-matched"
    listed = kscli("charges", "list").stdout
    assert "S-1001 (by hand)" in listed and "unmatched (by hand)" in listed
    # the same statement again: the import would match the second Apple line again and
    # leave the cafe unmatched; the hands win
    with freeze_time("2026-03-11T09:00:00Z"):
        again = kscli.json("charges", "import", path)
    assert again["rematched"] == 0
    charges = by_description(kscli)
    assert charges[("2026-03-05", "APPLE.COM/BILL")]["sub_id"] is None
    assert charges[("2026-02-06", "PINEAPPLE CAFE")]["sub_id"] == "S-1001"
    # the cafe now counts as a second Apple charge in February's period
    kinds = {(f["kind"], f["charge_id"]) for f in check(kscli).json()}
    assert ("duplicate-in-period", cafe) in kinds
    # the same hand match twice: nothing changes, said on stderr
    with freeze_time("2026-03-12T09:00:00Z"):
        twice = kscli("charges", "match", cafe, "S-1001")
    assert twice.exit_code == 0 and "already matched to S-1001 by hand" in twice.stderr
    assert len(events_of(kscli, cafe)) == 1


def test_dismiss_hides_a_finding_and_check_all_shows_it_with_its_reason(
        kscli, add_sub, tmp_path):
    ledger(kscli, add_sub, tmp_path)
    [finding] = check(kscli).json()
    with freeze_time("2026-03-10T13:00:00Z"):
        done = kscli.json("charges", "dismiss", finding["id"].lower(),
                          "--reason", "Streamly raised its price; repriced next month")
    assert (done["id"], done["kind"], done["charge_id"]) == (
        finding["id"], "price-changed", finding["charge_id"])
    assert done["reference"].startswith("KS-")
    [event] = events_of(kscli, finding["id"])
    assert (event["action"], event["reference"]) == ("finding-dismissed", done["reference"])
    assert json.loads(event["detail"])["reason"] == "Streamly raised its price; repriced next month"
    with freeze_time("2026-03-10T14:00:00Z"):
        quiet = kscli("charges", "check", fmt="json")
        shown = kscli("charges", "check", "--all", fmt="json")
        table = kscli("charges", "check", "--all")
        before = kscli("charges", "check", "--as-of", "2026-03-10T12:00:00Z", fmt="json")
    assert quiet.exit_code == 0 and quiet.json() == []
    assert "1 dismissed: --all shows them" in quiet.stderr
    assert shown.exit_code == 0
    [again] = shown.json()
    assert (again["id"], again["dismissed"], again["dismissed_reason"],
            again["dismissed_reference"]) == (finding["id"], True,
                                              "Streamly raised its price; repriced next month",
                                              done["reference"])
    assert "(dismissed)" in table.stdout and "repriced next month" in table.stdout
    # as of a moment before the dismissal, the finding still counts
    assert before.exit_code == 1 and [f["id"] for f in before.json()] == [finding["id"]]
    # twice: said, nothing written
    with freeze_time("2026-03-10T15:00:00Z"):
        twice = kscli("charges", "dismiss", finding["id"], "--reason", "again")
    assert twice.exit_code == 0 and "already dismissed" in twice.stderr
    assert done["reference"] in twice.stderr
    assert len(events_of(kscli, finding["id"])) == 1


def test_bad_input_is_one_line_with_its_exit_code_and_writes_nothing(kscli, add_sub, tmp_path):
    ledger(kscli, add_sub, tmp_path)
    charge = kscli.json("charges", "list")[0]["id"]
    before = kscli("export").stdout

    def refused(code: int, *argv: str, says: str) -> None:
        result = kscli(*argv)
        assert result.exit_code == code, (argv, result.exit_code, result.stderr)
        errors = [x for x in result.stderr.splitlines() if x.startswith("Error")]
        assert len(errors) == 1 and says in errors[0], (argv, result.stderr)
        assert "Traceback" not in result.stderr

    refused(3, "charges", "dismiss", "F-0000000000", "--reason", "x", says="no finding F-0000000000")
    refused(2, "charges", "dismiss", "S-1001", "--reason", "x", says="is not a finding id")
    refused(2, "charges", "dismiss", "F-0000000000", "--reason", "  ", says="the reason is empty")
    refused(2, "charges", "dismiss", "F-0000000000", says="--reason")
    refused(3, "charges", "match", "C-9999", "S-1001", says="no charge C-9999")
    refused(3, "charges", "match", charge, "S-9999", says="S-9999")
    refused(2, "charges", "match", "X-1", "S-1001", says="is not a charge id")
    refused(3, "charges", "unmatch", "C-9999", says="no charge C-9999")
    with freeze_time("2026-03-10T09:00:00Z"):
        kscli.json("sub", "void", "S-1001", "--reason", "entered twice", "--yes")
    before = kscli("export").stdout
    refused(4, "charges", "match", charge, "S-1001", says="void")
    assert kscli("export").stdout == before


def test_dismiss_and_match_on_a_missing_ledger_create_nothing(tmp_path, backend):
    if backend == "postgres":
        return  # (a server database always exists)
    spec = str(tmp_path / ("none.db" if backend == "sqlite" else "none.json"))
    kscli = Kscli(spec)
    assert kscli("charges", "dismiss", "F-0000000000", "--reason", "x").exit_code == 3
    assert kscli("charges", "unmatch", "C-1001").exit_code == 3
    import os

    assert not os.path.exists(spec)


def test_the_sample_ledger_and_a_realistic_statement_give_only_what_a_person_would(
        kscli, tmp_path):
    """The sample ledger, and a statement of its last months: the charges it expects,
    look-alike merchants, a forgotten subscription, and Acme Cloud's price rise. The
    check reports the price rise alone, once; dismissed, it is silent."""
    with freeze_time("2026-12-02T09:00:00Z"):
        kscli("init", "--sample")
        started = {s["vendor"]: s["started_at"][:10] for s in kscli.json("sub", "list")}
    assert started["Acme Cloud"] == "2026-08-31"  # (the sample is dated from today)
    rows = ["2026-08-31,ACME CLOUD INC 8831,-24.00,USD",
            "2026-09-30,ACME CLOUD INC 8831,-24.00,USD",
            "2026-10-31,ACME CLOUD INC 8831,-24.00,USD",
            "2026-11-30,ACME CLOUD INC 8831,-26.00,USD",  # the price rise
            "2026-09-02,VANDELAY NOTES,-3.00,USD",
            "2026-10-23,GLOBEX GMBH,-99.00,EUR",
            "2026-11-12,INITECH BACKUP,-120.00,USD",
            "2026-11-22,STARK VPN LTD,-5.99,EUR",
            # look-alikes: the vendors' names inside other words
            "2026-09-14,ACMEWARE CLOUDS,-24.00,USD",
            "2026-10-03,PINEACME CLOUD CAFE,-24.00,USD",
            "2026-10-09,VANDELAYS DELI,-3.00,USD",
            "2026-11-02,GLOBEXX TRAVEL,-99.00,EUR",
            "2026-11-05,STARKVPN RESELLER,-5.99,EUR",
            # a forgotten subscription
            *(f"2026-{m:02d}-15,NETFLIX.COM,-15.49,USD" for m in (8, 9, 10, 11))]
    path = statement(tmp_path, *rows)
    with freeze_time("2026-12-02T09:05:00Z"):
        imported = kscli.json("charges", "import", path)
        result = kscli("charges", "check", fmt="json")
    assert (imported["matched"], imported["unmatched"]) == (8, 9)
    assert result.exit_code == 1
    [finding] = result.json()
    assert (finding["kind"], finding["sub_id"], finding["amount"], finding["expected_amount"],
            finding["posted_on"]) == ("price-changed", "S-1001", "26.00", "24.00", "2026-11-30")
    with freeze_time("2026-12-02T09:10:00Z"):
        kscli.json("charges", "dismiss", finding["id"], "--reason", "Acme raised the price")
        assert kscli("charges", "check").exit_code == 0
        assert kscli("charges", "dismiss", finding["id"], "--reason", "again").exit_code == 0
        assert len(kscli.json("charges", "check", "--all")) == 1
        # and the one recurring merchant no subscription pays for is the forgotten one
        proposed = kscli.json("charges", "discover")
    assert [(p["vendor"], p["amount"], p["currency"], p["cadence"], p["first_charge"],
             p["last_charge"], p["next_expected"], p["charges"]) for p in proposed] == [
        ("NETFLIX.COM", "15.49", "USD", "monthly", "2026-08-15", "2026-11-15", "2026-12-15", 4)]
    with freeze_time("2026-12-02T09:15:00Z"):
        added = kscli("charges", "discover", "--add", "--yes", fmt="json")
        assert added.exit_code == 0, added.stderr
        assert kscli.json("charges", "discover") == []
        assert kscli("charges", "check").exit_code == 0  # its own charges are as expected
