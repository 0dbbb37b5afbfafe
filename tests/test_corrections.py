"""Correcting the ledger through the CLI, on every backend: `sub edit` (and its
--plan), `sub void`, `sub resume`, `sub reprice`, `sub add`'s warning about a
subscription already there, `license edit`, `license history`, `show` and `history`;
and the plan and price in force at a moment (kscli.domain.timeline) as properties."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from freezegun import freeze_time
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import Kscli


def history(kscli, sub_id):
    return kscli.json("sub", "history", sub_id)


def refused_without_writing(kscli, argv, code, fragment):
    """The command exits ``code`` with a one-line error naming ``fragment``, and the
    ledger is as it was."""
    before = kscli("export").stdout
    result = kscli(*argv)
    assert result.exit_code == code, result.stderr
    assert fragment in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()[-1]) < 200
    assert kscli("export").stdout == before


def exported_sub(kscli, sub_id):
    rows = json.loads(kscli("export").stdout)["tables"]["subs"]
    return next(row for row in rows if row["id"] == sub_id)


# edit -------------------------------------------------------------------------------

@freeze_time("2026-11-22T10:00:00Z")
def test_edit_fixes_the_account_in_one_event_with_before_and_after(kscli, add_sub):
    sub = add_sub(account="Initech")
    before = exported_sub(kscli, sub["id"])
    edited = kscli.json("sub", "edit", sub["id"], "--account", "Globex Ltd", "--region", "EU")
    assert edited["account"] == "Globex Ltd" and edited["region"] == "EU"
    assert edited["reference"].startswith("KS-")
    events = history(kscli, sub["id"])
    assert [e["action"] for e in events] == ["created", "edited"]
    assert events[-1]["reference"] == edited["reference"]
    assert events[-1]["detail"]["before"] == {"account": "Initech", "region": None}
    assert events[-1]["detail"]["after"] == {"account": "Globex Ltd", "region": "EU"}
    after = exported_sub(kscli, sub["id"])
    assert {k: v for k, v in after.items() if k not in ("account", "region")} == \
        {k: v for k, v in before.items() if k not in ("account", "region")}
    assert kscli.json("sub", "list", "--account", "globex")[0]["id"] == sub["id"]
    assert kscli.json("sub", "list", "--account", "initech") == []
    table = kscli("sub", "history", sub["id"]).stdout
    assert "account: Initech -> Globex Ltd" in table


@freeze_time("2026-11-22T10:00:00Z")
@pytest.mark.parametrize("argv, fragment", [
    (["--vendor", "  "], "must not be empty"),
    (["--product", "x" * 201], "longer than 200"),
    (["--partner", "Northwind"], "together"),
    (["--partner-portal", "https://portal.example"], "together"),
])
def test_edit_refuses_what_add_refuses_and_writes_nothing(kscli, add_sub, argv, fragment):
    sub = add_sub()
    add = kscli("sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan", "monthly",
                "--price", "1", "--currency", "USD", *argv)
    assert add.exit_code == 2 and fragment in add.stderr
    refused_without_writing(kscli, ["sub", "edit", sub["id"], *argv], 2, fragment)


@freeze_time("2026-11-22T10:00:00Z")
def test_edit_to_the_same_values_changes_nothing_and_adds_no_event(kscli, add_sub):
    sub = add_sub(vendor="Acme")
    result = kscli("sub", "edit", sub["id"], "--vendor", "Acme")
    assert result.exit_code == 0 and "nothing changed" in result.stderr
    assert kscli.json("sub", "edit", sub["id"], "--vendor", "Acme")["changed"] is False
    assert [e["action"] for e in history(kscli, sub["id"])] == ["created"]


@freeze_time("2026-11-22T10:00:00Z")
def test_edit_of_an_unknown_subscription_exits_3(kscli, add_sub):
    add_sub()
    result = kscli("sub", "edit", "S-9999", "--vendor", "Acme")
    assert result.exit_code == 3 and "S-9999" in result.stderr


@freeze_time("2026-11-22T10:00:00Z")
def test_edit_to_a_partner_makes_cancelling_need_the_partner_reference(kscli, add_sub):
    sub = add_sub()
    edited = kscli.json("sub", "edit", sub["id"], "--partner", "Northwind",
                        "--partner-portal", "https://portal.example")
    assert edited["channel"] == "partner" and edited["partner_name"] == "Northwind"
    assert history(kscli, sub["id"])[-1]["detail"]["before"]["channel"] == "direct"
    refused = kscli("sub", "cancel", sub["id"], "--yes")
    assert refused.exit_code == 4 and "https://portal.example" in refused.stderr
    moved = kscli.json("sub", "edit", sub["id"], "--partner", "Northwind",
                       "--partner-portal", "https://new.example")
    assert moved["partner_portal"] == "https://new.example"
    assert history(kscli, sub["id"])[-1]["detail"]["before"] == {
        "partner_portal": "https://portal.example"}


# void -------------------------------------------------------------------------------

@freeze_time("2026-11-22T10:00:00Z")
def test_void_leaves_listings_totals_renewals_and_sweep_and_keeps_history(kscli, add_sub):
    kept = add_sub(vendor="Acme", started="2026-10-25")
    dup = add_sub(vendor="Acme", started="2026-10-25")
    voided = kscli.json("sub", "void", dup["id"], "--reason", "duplicate of S-1001", "--yes")
    assert voided["status"] == "void" and voided["reference"].startswith("KS-")
    assert [s["id"] for s in kscli.json("sub", "list")] == [kept["id"]]
    table = kscli("sub", "list").stdout
    assert "9.99 a month" in table and "(1 renewing)" in table
    assert [s["id"] for s in kscli.json("sub", "list", "--include-void")] == [kept["id"], dup["id"]]
    assert [s["id"] for s in kscli.json("sub", "list", "--status", "void")] == [dup["id"]]
    assert [s["id"] for s in kscli.json("renew", "due", "--within", "7d")] == [kept["id"]]
    with freeze_time("2026-11-25T10:00:00Z"):
        assert [c["subject"] for c in kscli.json("sweep")] == [kept["id"]]
    events = history(kscli, dup["id"])
    assert [e["action"] for e in events] == ["created", "voided"]
    assert events[-1]["detail"]["reason"] == "duplicate of S-1001"
    assert events[-1]["detail"]["before"] == {"status": "active"}
    assert kscli.json("sub", "show", dup["id"])["status"] == "void"


@freeze_time("2026-11-22T10:00:00Z")
@pytest.mark.parametrize("argv", [
    ["sub", "edit", "{id}", "--vendor", "Other"],
    ["sub", "cancel", "{id}", "--yes"],
    ["sub", "resume", "{id}"],
    ["renew", "off", "{id}"],
    ["sub", "dispute", "{id}"],
])
def test_a_void_subscription_cannot_change_exit_4_naming_void(kscli, add_sub, argv):
    sub = add_sub()
    kscli.json("sub", "void", sub["id"], "--reason", "wrong customer", "--yes")
    before = kscli("export").stdout
    argv = [a.format(id=sub["id"]) for a in argv]
    result = kscli(*argv)
    assert result.exit_code == 4 and "void" in result.stderr
    refusal = kscli(*argv, fmt="json")
    assert refusal.exit_code == 4 and refusal.json()["error"] == "void"
    assert kscli("export").stdout == before


@freeze_time("2026-11-22T10:00:00Z")
def test_void_twice_changes_nothing_and_void_needs_yes_off_a_terminal(kscli, add_sub):
    sub = add_sub()
    asked = kscli("sub", "void", sub["id"], "--reason", "mistake")
    assert asked.exit_code == 2 and "--yes" in asked.stderr
    kscli.json("sub", "void", sub["id"], "--reason", "mistake", "--yes")
    again = kscli("sub", "void", sub["id"], "--reason", "mistake", "--yes")
    assert again.exit_code == 0 and "already void" in again.stderr
    assert [e["action"] for e in history(kscli, sub["id"])] == ["created", "voided"]


@freeze_time("2026-11-25T09:00:00Z")
def test_void_unmatches_its_charges_and_keeps_its_keys(kscli, add_sub, tmp_path):
    wrong = add_sub(vendor="Acme Cloud", price="12.00", started="2026-10-22")
    key = kscli.json("license", "issue", "--product", "Cloud", "--sub", wrong["id"])[0]
    path = tmp_path / "statement.csv"
    path.write_text("date,description,amount,currency\n"
                    "2026-11-22,ACME CLOUD RE 4711,-12.00,USD\n", encoding="utf-8")
    imported = kscli.json("charges", "import", str(path))
    assert imported["matched"] == 1
    charge = kscli.json("charges", "list")[0]
    assert charge["sub_id"] == wrong["id"]
    result = kscli("sub", "void", wrong["id"], "--reason", "wrong customer", "--yes")
    assert result.exit_code == 0
    assert charge["id"] in result.stdout + result.stderr and key["id"] in result.stdout + result.stderr
    detail = history(kscli, wrong["id"])[-1]["detail"]
    assert detail["charges_unmatched"] == [charge["id"]] and detail["licenses_kept"] == [key["id"]]
    assert kscli.json("charges", "list", "--unmatched")[0]["id"] == charge["id"]
    assert kscli.json("license", "show", key["id"])["sub_id"] == wrong["id"]
    # the statement again matches the charge to the right subscription, never the void one
    right = add_sub(vendor="Acme Cloud", price="12.00", started="2026-10-22", account="Globex")
    again = kscli.json("charges", "import", str(path))
    assert again["imported"] == 0
    assert kscli.json("charges", "list")[0]["sub_id"] == right["id"]


# resume -----------------------------------------------------------------------------

def _cancelled(kscli, add_sub, **options):
    with freeze_time("2026-11-22T10:00:00Z"):
        sub = add_sub(started="2026-11-01", **options)
        kscli.json("sub", "cancel", sub["id"], "--yes",
                   *(["--at-partner", "PX-1"] if options.get("partner") else []))
    return sub


def test_resume_on_the_last_second_of_the_period_undoes_the_cancellation(kscli, add_sub):
    sub = _cancelled(kscli, add_sub)
    with freeze_time("2026-11-30T23:59:59Z"):
        resumed = kscli.json("sub", "resume", sub["id"])
    assert resumed["status"] == "active" and resumed["auto_renew"] is True
    assert resumed["period_end"] == "2026-12-01T00:00:00Z"
    assert [e["action"] for e in history(kscli, sub["id"])] == ["created", "cancelled", "resumed"]
    with freeze_time("2026-12-02T00:00:00Z"):
        assert kscli.json("sub", "show", sub["id"])["period_end"] == "2027-01-01T00:00:00Z"
        # as of a moment between the cancellation and the resumption: cancelled then
        past = kscli.json("sub", "show", sub["id"], "--as-of", "2026-11-25")
        assert past["status"] == "cancelled" and past["auto_renew"] is False
        assert kscli.json("sub", "show", sub["id"], "--as-of", "2026-11-15")["status"] == "active"


def test_resume_at_the_end_of_the_period_is_refused_with_the_date(kscli, add_sub):
    sub = _cancelled(kscli, add_sub)
    with freeze_time("2026-12-01T00:00:00Z"):
        result = kscli("sub", "resume", sub["id"])
        assert result.exit_code == 4
        assert "2026-12-01" in result.stderr and "kscli sub add" in result.stderr
        assert kscli.json("sub", "show", sub["id"])["status"] == "expired"


@freeze_time("2026-11-22T10:00:00Z")
def test_resume_of_an_active_subscription_changes_nothing(kscli, add_sub):
    sub = add_sub()
    result = kscli("sub", "resume", sub["id"])
    assert result.exit_code == 0 and "nothing changed" in result.stderr
    assert [e["action"] for e in history(kscli, sub["id"])] == ["created"]


def test_resume_of_a_partner_purchase_needs_the_partner_reference(kscli, add_sub):
    sub = _cancelled(kscli, add_sub, partner="Northwind", partner_portal="https://portal.example")
    with freeze_time("2026-11-23T10:00:00Z"):
        refused = kscli("sub", "resume", sub["id"], fmt="json")
        assert refused.exit_code == 4
        assert refused.json()["clause"] == "cancel.partner"
        assert refused.json()["error"] == "partner-channel"
        done = kscli.json("sub", "resume", sub["id"], "--at-partner", "PX-7790")
    assert done["status"] == "active"
    detail = history(kscli, sub["id"])[-1]["detail"]
    assert detail["partner_reference"] == "PX-7790" and detail["clause"] == "cancel.partner"


def test_renew_on_a_cancelled_subscription_points_to_resume(kscli, add_sub):
    sub = _cancelled(kscli, add_sub)
    with freeze_time("2026-11-23T10:00:00Z"):
        result = kscli("renew", "on", sub["id"])
    assert result.exit_code == 4 and f"kscli sub resume {sub['id']}" in result.stderr


# sub add: already there ---------------------------------------------------------------

@freeze_time("2026-11-22T10:00:00Z")
def test_add_warns_about_an_active_subscription_with_the_same_vendor_product_account(
        kscli, add_sub):
    first = add_sub(vendor="Acme", product="Cloud Pro", account="Globex")
    assert first["warnings"] == []
    result = kscli("sub", "add", "--vendor", "ACME", "--product", "cloud  pro", "--account",
                   "globex", "--plan", "monthly", "--price", "9.99", "--currency", "USD",
                   fmt="json")
    assert result.exit_code == 0
    second = result.json()
    assert second["id"] == "S-1002"  # it still adds
    assert len(second["warnings"]) == 1 and first["id"] in second["warnings"][0]
    assert "warning:" in result.stderr and first["id"] in result.stderr
    other = add_sub(vendor="Acme", product="Cloud Pro", account="Initech")
    assert other["warnings"] == []


@freeze_time("2026-11-22T10:00:00Z")
def test_add_does_not_warn_about_a_cancelled_or_void_one(kscli, add_sub):
    first = add_sub()
    kscli.json("sub", "void", first["id"], "--reason", "test", "--yes")
    assert add_sub()["warnings"] == []
    table = kscli("sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan", "monthly",
                  "--price", "9.99", "--currency", "USD")
    assert table.exit_code == 0 and "S-1002" in table.stderr  # the one added before it


def test_corrections_on_any_backend(any_store_spec):
    """The same story on every backend, PostgreSQL included."""
    kscli = Kscli(any_store_spec)
    with freeze_time("2026-11-22T10:00:00Z"):
        add = ["sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan", "monthly",
               "--price", "9.99", "--currency", "USD"]
        one = kscli.json(*add)
        two = kscli.json(*add)
        assert two["warnings"]
        kscli.json("sub", "edit", one["id"], "--account", "Globex")
        kscli.json("sub", "void", two["id"], "--reason", "duplicate", "--yes")
        kscli.json("sub", "cancel", one["id"], "--yes")
        kscli.json("sub", "resume", one["id"])
    listed = kscli.json("sub", "list", "--as-of", "2026-11-22T10:00:00Z")
    assert [(s["id"], s["account"], s["status"]) for s in listed] == [(one["id"], "Globex", "active")]
    exported = kscli("export").stdout
    fresh = Kscli(any_store_spec + ".copy.json" if "://" not in any_store_spec else None)
    if fresh.store is not None:
        path = any_store_spec + ".export.json"
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(exported)
        assert fresh("import", path).exit_code == 0
        assert fresh("export").stdout == exported


@freeze_time("2026-11-22T10:00:00Z")
@pytest.mark.parametrize("argv", [
    ["refund", "check", "{id}"],
    ["refund", "request", "{id}", "--yes"],
    ["incident", "open", "{id}", "--summary", "crashes"],
    ["license", "issue", "--product", "Cloud", "--sub", "{id}"],
])
def test_a_void_subscription_takes_no_refund_incident_or_key(kscli, add_sub, argv):
    sub = add_sub(kind="support", plan="annual")
    kscli.json("sub", "void", sub["id"], "--reason", "wrong customer", "--yes")
    before = kscli("export").stdout
    result = kscli(*[a.format(id=sub["id"]) for a in argv], fmt="json")
    assert result.exit_code == 4 and result.json()["error"] == "void"
    assert kscli("export").stdout == before


# reprice ----------------------------------------------------------------------------

def _total(kscli, *args):
    return [line for line in kscli("sub", "list", *args).stdout.splitlines()
            if line.startswith("total")]


def test_reprice_from_the_next_period_keeps_the_history_and_bills_it_from_then(kscli, add_sub):
    with freeze_time("2026-11-22T10:00:00Z"):
        sub = add_sub(price="10.00", started="2026-11-15")
        done = kscli.json("sub", "reprice", sub["id"], "--price", "12.50")
        assert done["price"] == "10.00"  # the price in force now
        assert done["price_history"] == [{"from": "2026-11-15T00:00:00Z", "price": "10.00"},
                                         {"from": "2026-12-15T00:00:00Z", "price": "12.50"}]
        event = history(kscli, sub["id"])[-1]
        assert event["action"] == "repriced" and event["reference"] == done["reference"]
        assert event["detail"]["before"] == {"price": "10.00"}
        assert event["detail"]["after"] == {"price": "12.50"}
        assert _total(kscli) == ["total USD: 10.00 a month, 120.00 a year (1 renewing)"]
        assert "12.50 from 2026-12-15" in kscli("sub", "show", sub["id"]).stdout
        # the last second of the old period, and the first of the new one
        assert kscli.json("sub", "show", sub["id"], "--as-of",
                          "2026-12-14T23:59:59Z")["price"] == "10.00"
        assert kscli.json("sub", "show", sub["id"], "--as-of", "2026-12-15")["price"] == "12.50"
        assert _total(kscli, "--as-of", "2026-12-15") == [
            "total USD: 12.50 a month, 150.00 a year (1 renewing)"]
    with freeze_time("2027-01-15T00:00:00Z"):
        renewals = [c for c in kscli.json("sweep") if c["action"] == "renewed"]
        assert len(renewals) == 2
        charges = [e["detail"]["expected_charge"] for e in history(kscli, sub["id"])
                   if e["action"] == "renewed"]
        assert charges == ["12.50", "12.50"]
        assert kscli.json("sub", "show", sub["id"])["price"] == "12.50"


@freeze_time("2026-11-22T10:00:00Z")
def test_reprice_inside_the_period_says_it_was_billed_at_the_old_price(kscli, add_sub):
    sub = add_sub(plan="annual", price="100.00", started="2026-11-01")
    result = kscli("sub", "reprice", sub["id"], "--price", "120.00", "--from", "2026-11-20")
    assert result.exit_code == 0
    assert "billed at 100.00 USD" in result.stdout + result.stderr
    assert kscli.json("sub", "show", sub["id"])["price"] == "120.00"
    assert _total(kscli) == ["total USD: 10.00 a month, 120.00 a year (1 renewing)"]
    # the refund is the price the period concerned was billed at
    refund = kscli.json("refund", "check", sub["id"])
    assert refund["eligible"] is True and refund["amount"] == "100.00"


@freeze_time("2026-11-22T10:00:00Z")
@pytest.mark.parametrize("argv, code, fragment", [
    (["--price", "12", "--from", "2026-11-14"], 2, "before S-1001 started"),
    (["--price", "-1"], 2, "negative"),
    (["--price", "1.234"], 2, "1.234"),
    (["--price", "abc"], 2, "not an amount"),
])
def test_reprice_refuses_bad_input_and_writes_nothing(kscli, add_sub, argv, code, fragment):
    sub = add_sub(price="10.00", started="2026-11-15")
    refused_without_writing(kscli, ["sub", "reprice", sub["id"], *argv], code, fragment)


@freeze_time("2026-11-22T10:00:00Z")
def test_reprice_to_the_price_already_in_force_changes_nothing(kscli, add_sub):
    sub = add_sub(price="10.00")
    result = kscli("sub", "reprice", sub["id"], "--price", "10")
    assert result.exit_code == 0 and "nothing changed" in result.stderr
    assert [e["action"] for e in history(kscli, sub["id"])] == ["created"]


def test_charges_match_the_price_in_force_on_their_date(kscli, add_sub, tmp_path):
    with freeze_time("2026-11-22T10:00:00Z"):
        sub = add_sub(vendor="Acme Cloud", price="10.00", started="2026-11-15")
        kscli.json("sub", "reprice", sub["id"], "--price", "12.00")
    path = tmp_path / "statement.csv"
    path.write_text("date,description,amount,currency\n"
                    "2026-11-15,ACME CLOUD,-10.00,USD\n"
                    "2026-12-15,ACME CLOUD,-12.00,USD\n"
                    "2027-01-15,ACME CLOUD,-10.00,USD\n", encoding="utf-8")
    with freeze_time("2027-01-20T10:00:00Z"):
        kscli.json("charges", "import", str(path))
        matched = [(c["posted_on"], c["sub_id"]) for c in kscli.json("charges", "list")]
        check = kscli("charges", "check", fmt="json")
    # the old price after the new one came in force is still the subscription's line,
    # and `charges check` reports it as price-changed against the price in force
    assert matched == [("2026-11-15", sub["id"]), ("2026-12-15", sub["id"]),
                       ("2027-01-15", sub["id"])]
    assert check.exit_code == 1
    assert [(f["kind"], f["posted_on"], f["amount"], f["expected_amount"])
            for f in check.json()] == [("price-changed", "2027-01-15", "10.00", "12.00")]


def test_a_price_history_round_trips_through_export_on_every_backend(any_store_spec, tmp_path):
    kscli = Kscli(any_store_spec)
    with freeze_time("2026-11-22T10:00:00Z"):
        sub = kscli.json("sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan",
                         "monthly", "--price", "10.00", "--currency", "EUR")
        kscli.json("sub", "reprice", sub["id"], "--price", "11.00", "--from", "2027-02-01")
        exported = kscli("export").stdout
    path = tmp_path / "export.json"
    path.write_text(exported, encoding="utf-8")
    copy = Kscli(str(tmp_path / "copy.json"))
    assert copy("import", str(path)).exit_code == 0
    assert copy("export").stdout == exported
    with freeze_time("2027-03-01T00:00:00Z"):
        assert copy.json("sub", "show", sub["id"])["price"] == "11.00"
        assert kscli.json("sub", "show", sub["id"])["price"] == "11.00"


# edit --plan --------------------------------------------------------------------------

def test_a_plan_change_starts_at_the_next_renewal_and_periods_count_on_from_it(kscli, add_sub):
    with freeze_time("2027-01-31T10:00:00Z"):
        sub = add_sub(price="10.00", started="2027-01-31")
    with freeze_time("2027-02-10T10:00:00Z"):
        done = kscli.json("sub", "edit", sub["id"], "--plan", "3m")
        assert done["plan"] == "monthly"  # the current period keeps its plan
        assert done["plan_history"] == [{"from": "2027-01-31T00:00:00Z", "plan": "monthly"},
                                        {"from": "2027-02-28T00:00:00Z", "plan": "3m"}]
        event = history(kscli, sub["id"])[-1]
        assert event["detail"]["before"] == {"plan": "monthly"}
        assert event["detail"]["after"] == {"plan": "3m"}
        assert event["detail"]["plan_from"] == "2027-02-28T00:00:00Z"
        assert "3m from 2027-02-28" in kscli("sub", "show", sub["id"]).stdout
        last = kscli.json("sub", "show", sub["id"], "--as-of", "2027-02-27T23:59:59Z")
        assert (last["plan"], last["period_end"]) == ("monthly", "2027-02-28T00:00:00Z")
        first = kscli.json("sub", "show", sub["id"], "--as-of", "2027-02-28")
        assert (first["plan"], first["period_start"], first["period_end"]) == (
            "3m", "2027-02-28T00:00:00Z", "2027-05-31T00:00:00Z")
        assert [s["id"] for s in kscli.json("renew", "due", "--within", "30d")] == [sub["id"]]
    with freeze_time("2027-05-24T00:00:00Z"):  # the index of `renew due` still finds it
        assert [s["id"] for s in kscli.json("renew", "due", "--within", "7d")] == [sub["id"]]
    with freeze_time("2027-06-01T00:00:00Z"):
        steps = kscli.json("sweep")
        assert [c["action"] for c in steps] == ["renewed", "renewed"]
        shown = kscli.json("sub", "show", sub["id"])
        assert (shown["plan"], shown["period_start"], shown["period_end"]) == (
            "3m", "2027-05-31T00:00:00Z", "2027-08-31T00:00:00Z")
        assert _total(kscli) == ["total USD: 3.33 a month, 40.00 a year (1 renewing)"]


@freeze_time("2026-11-22T10:00:00Z")
def test_a_plan_change_refuses_once_and_a_cancelled_subscription(kscli, add_sub):
    sub = add_sub()
    refused_without_writing(kscli, ["sub", "edit", sub["id"], "--plan", "once"], 2, "once")
    refused_without_writing(kscli, ["sub", "edit", sub["id"], "--plan", "weekly"], 2, "weekly")
    kscli.json("sub", "cancel", sub["id"], "--yes")
    refused_without_writing(kscli, ["sub", "edit", sub["id"], "--plan", "annual"], 4, "cancelled")


# license edit, license history, show, history --------------------------------------------

@freeze_time("2026-11-22T10:00:00Z")
def test_license_edit_moves_a_key_to_the_right_subscription_in_one_event(kscli, add_sub):
    wrong = add_sub(account="Initech")
    right = add_sub(account="Globex")
    key = kscli.json("license", "issue", "--product", "Cloud", "--sub", wrong["id"])[0]
    edited = kscli.json("license", "edit", key["id"], "--sub", right["id"], "--seats", "3")
    assert (edited["sub_id"], edited["account"], edited["seats"]) == (right["id"], "Globex", 3)
    events = kscli.json("license", "history", key["id"])
    assert [e["action"] for e in events] == ["issued", "edited"]
    assert events[-1]["reference"] == edited["reference"]
    assert events[-1]["detail"]["before"] == {"sub_id": wrong["id"], "account": "Initech",
                                              "seats": 1}
    assert events[-1]["detail"]["after"] == {"sub_id": right["id"], "account": "Globex",
                                             "seats": 3}
    assert key["id"] in [e["subject"] for e in history(kscli, right["id"])]
    assert key["id"] not in [e["subject"] for e in history(kscli, wrong["id"])]
    assert kscli.json("license", "edit", key["id"], "--seats", "3")["changed"] is False


@freeze_time("2026-11-22T10:00:00Z")
def test_license_edit_refuses_what_add_refuses_and_seats_below_those_in_use(kscli, add_sub):
    sub = add_sub()
    key = kscli.json("license", "issue", "--product", "Cloud", "--seats", "2")[0]
    kscli.json("license", "activate", key["id"], "--machine", "one")
    kscli.json("license", "activate", key["id"], "--machine", "two")
    refused_without_writing(kscli, ["license", "edit", key["id"], "--seats", "0"], 2, "--seats")
    refused_without_writing(kscli, ["license", "edit", key["id"], "--account", " "], 2, "empty")
    refused_without_writing(kscli, ["license", "edit", key["id"], "--sub", "S-9999"], 3, "S-9999")
    refused_without_writing(kscli, ["license", "edit", key["id"], "--seats", "1"], 4,
                            "active on 2 machines")
    kscli.json("sub", "void", sub["id"], "--reason", "mistake", "--yes")
    refused_without_writing(kscli, ["license", "edit", key["id"], "--sub", sub["id"]], 4, "void")
    refused_without_writing(kscli, ["license", "edit", "L-9999", "--seats", "2"], 3, "L-9999")


@freeze_time("2026-11-22T10:00:00Z")
def test_show_finds_an_event_by_its_reference_with_its_subject(kscli, add_sub):
    sub = add_sub()
    cancelled = kscli.json("sub", "cancel", sub["id"], "--yes")
    shown = kscli.json("show", cancelled["reference"].lower())
    assert shown["reference"] == cancelled["reference"] and shown["action"] == "cancelled"
    assert shown["subject"] == sub["id"] and shown["record"]["status"] == "cancelled"
    table = kscli("show", cancelled["reference"]).stdout
    assert "cancelled" in table and f"{sub['id']}: Acme Cloud" in table
    missing = kscli("show", "KS-20200101-AAAAAA")
    assert missing.exit_code == 3 and "KS-20200101-AAAAAA" in missing.stderr


@freeze_time("2026-11-22T10:00:00Z")
def test_show_and_history_take_any_id(kscli, add_sub):
    sub = add_sub(kind="support")
    key = kscli.json("license", "issue", "--product", "Cloud")[0]
    incident = kscli.json("incident", "open", sub["id"], "--summary", "crashes")
    assert kscli.json("show", sub["id"]) == kscli.json("sub", "show", sub["id"])
    assert kscli.json("show", key["id"]) == kscli.json("license", "show", key["id"])
    assert kscli.json("show", incident["id"])["summary"] == "crashes"
    assert kscli.json("history", sub["id"]) == kscli.json("sub", "history", sub["id"])
    assert [e["action"] for e in kscli.json("history", key["id"])] == ["issued"]
    assert [e["action"] for e in kscli.json("history", incident["id"])] == ["incident-opened"]
    assert kscli.json("history", key["id"]) == kscli.json("license", "history", key["id"])
    for argv, code in ((["show", "X-1"], 2), (["history", "KS-20261122-7Q2K9M"], 2),
                       (["history", "I-9999"], 3), (["show", "C-1001"], 3)):
        result = kscli(*argv)
        assert result.exit_code == code and "Traceback" not in result.stderr, (argv, result.stderr)


# the plan and price in force (kscli.domain.timeline), as properties -----------------------

@settings(max_examples=200, deadline=None)
@given(start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1)),
       first=st.sampled_from(["monthly", "3m", "annual"]),
       then=st.sampled_from(["monthly", "2m", "annual"]),
       periods=st.integers(min_value=1, max_value=14),
       later=st.integers(min_value=0, max_value=2000))
def test_periods_after_a_plan_change_are_contiguous_and_count_from_the_change(
        start, first, then, periods, later):
    from kscli.domain.calendar import add_months, iso
    from kscli.domain.model import plan_months
    from kscli.domain.subscriptions import new_subscription
    from kscli.domain.timeline import period_at, plan_at, price_at

    start = start.replace(tzinfo=timezone.utc, microsecond=0)
    sub = new_subscription("S-1", account="a", vendor="v", product="p", plan=first,
                           kind="subscription", price=Decimal("10"), currency="USD",
                           started_at=start, commitment_months=None, auto_renew=True,
                           partner_name=None, partner_portal=None, region=None, now=start)
    change = add_months(start, periods * plan_months(first))
    sub = sub._replace(plans={iso(start): first, iso(change): then},
                       prices={iso(start): "10", iso(change): "12"})
    at = start + timedelta(days=later, seconds=later * 37)
    low, high = period_at(sub, at)
    assert low <= at < high
    assert period_at(sub, high)[0] == high  # the next period starts where this one ends
    plan = plan_at(sub, at)
    assert plan == (then if at >= change else first)
    assert price_at(sub, at) == (Decimal("12") if at >= change else Decimal("10"))
    months = plan_months(plan)
    offset = 0 if at < change else periods * plan_months(first)
    # every boundary is a whole number of months from the start
    assert any(add_months(start, offset + k * months) == low for k in range(0, 200))
    if at < change:
        assert high <= change


# the support desk's afternoon -----------------------------------------------------------

def test_a_support_desk_fixes_reprices_voids_and_resumes_and_every_read_agrees(
        any_store_spec, tmp_path):
    """A wrong account fixed, a price rise from next month, a duplicate voided, a
    cancellation undone: sub show, sub list, totals, charges check and an export moved
    into another ledger tell the same story, each step with its reference."""
    kscli = Kscli(any_store_spec)
    base = ("--plan", "monthly", "--currency", "USD", "--started", "2026-10-05")
    with freeze_time("2026-11-22T10:00:00Z"):
        cloud = kscli.json("sub", "add", "--vendor", "Acme", "--product", "Cloud",
                           "--price", "10.00", "--account", "initech", *base)["id"]
        twin = kscli.json("sub", "add", "--vendor", "Acme", "--product", "Cloud",
                          "--price", "10.00", "--account", "globex", *base)["id"]
        backup = kscli.json("sub", "add", "--vendor", "Vault", "--product", "Backup",
                            "--price", "5.00", "--account", "globex", *base)["id"]
        refs = [kscli.json("sub", "edit", cloud, "--account", "globex")["reference"],
                kscli.json("sub", "reprice", cloud, "--price", "12.00")["reference"],
                kscli.json("sub", "void", twin, "--reason", "entered twice", "--yes")["reference"],
                kscli.json("sub", "cancel", backup, "--yes")["reference"],
                kscli.json("sub", "resume", backup)["reference"]]
        assert all(r.startswith("KS-") for r in refs) and len(set(refs)) == 5
        shown = kscli.json("sub", "show", cloud)
        assert shown["account"] == "globex" and shown["price"] == "10.00"  # until Dec 5
        assert [p["price"] for p in shown["price_history"]] == ["10.00", "12.00"]
        listed = {s["id"]: s for s in kscli.json("sub", "list")}
        assert set(listed) == {cloud, backup}  # the void one is gone
        assert listed[backup]["status"] == "active" and listed[backup]["auto_renew"] is True
        table = kscli("sub", "list").stdout
        assert "total USD: 15.00 a month" in table
    with freeze_time("2026-12-10T10:00:00Z"):
        assert kscli.json("sub", "show", cloud)["price"] == "12.00"
        assert "total USD: 17.00 a month" in kscli("sub", "list").stdout
        statement = tmp_path / "dec.csv"
        statement.write_text("Date,Description,Amount,Currency\n"
                             "2026-12-05,ACME CLOUD,-12.00,USD\n"
                             "2026-12-05,VAULT BACKUP,-5.00,USD\n")
        imported = kscli.json("charges", "import", str(statement))
        assert sorted(c["sub_id"] for c in imported["charges"]) == sorted([cloud, backup])
        assert kscli.json("charges", "check") == []  # nothing a person would point at
        exported = kscli("export").stdout
    moved = tmp_path / "moved.json"
    moved.write_text(exported)
    other = Kscli(str(tmp_path / "other.db"))
    assert other("import", str(moved)).exit_code == 0
    assert json.loads(other("export").stdout)["tables"] == json.loads(exported)["tables"]
    actions = [e["action"] for e in json.loads(exported)["tables"]["events"]
               if e["reference"] in refs]
    assert actions == ["edited", "repriced", "voided", "cancelled", "resumed"]
