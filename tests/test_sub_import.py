"""`kscli sub import FILE`: Wallos exports (the samples in ../shared/fixtures/trackers,
read where they are, and our own bare-array and CSV files) and CSV lists, all or
nothing, on every backend."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from freezegun import freeze_time

from kscli.domain.model import plan_months
from kscli.domain.sub_import import map_records, plan_of, wallos_csv_rows
from tests.conftest import ledger_created
from tests.helpers import REF
from tests.statement_fixtures import shared_fixtures

EVERY_BACKEND = True  # SQLite, JSON and PostgreSQL (conftest.pytest_generate_tests)

OURS = Path(__file__).parent / "fixtures" / "trackers"
NOW = datetime(2026, 1, 1, 9, tzinfo=timezone.utc)


def trackers() -> Path:
    return shared_fixtures() / "trackers"


def events(kscli, action: str) -> list[dict]:
    found = json.loads(kscli("export").stdout)["tables"]["events"]
    return [{**e, "detail": json.loads(e["detail"]) if isinstance(e["detail"], str)
             else e["detail"]} for e in found if e["action"] == action]


def shown(kscli, sub_id: str) -> tuple:
    sub = kscli.json("sub", "show", sub_id)
    return (sub["vendor"], sub["product"], sub["plan"], sub["price"], sub["currency"],
            sub["started_at"], sub["period_end"], sub["status"], sub["auto_renew"])


# Pure rules -----------------------------------------------------------------------------


@pytest.mark.parametrize("cycle, plan", [
    ("Monthly", "monthly"), ("Yearly", "annual"), ("Every 3 Months", "3m"),
    ("every 1 month", "monthly"), ("Every 12 Months", "annual"), ("Every 2 Years", "24m"),
    ("annual", "annual"), ("6m", "6m"), ("Weekly", None), ("Daily", None),
    ("Every 14 Days", None), ("Every 2 Weeks", None), ("Every 9 Years", None), ("", None)])
def test_cycles_map_to_plans_counted_in_months(cycle, plan):
    assert plan_of(cycle) == plan


def test_a_comma_in_the_url_of_an_unquoted_wallos_csv_stays_in_the_url():
    header = ["Name", "Price", "URL", "State", "Active"]
    [record] = wallos_csv_rows([header, ["Spotify", "$10", "https://x/?a=1", "b=2", "Enabled",
                                         "Yes"]])
    assert record == {"Name": "Spotify", "Price": "$10", "URL": "https://x/?a=1,b=2",
                      "State": "Enabled", "Active": "Yes"}


def test_prices_with_symbols_and_a_decimal_comma_name_their_currency():
    records = [{"Name": n, "Payment Cycle": "Monthly", "Price": p, "Next Payment": "2026-02-01"}
               for n, p in (("A", "$15.99"), ("B", "€59,99"), ("C", "£8.50"), ("D", "$10"),
                            ("E", "12.50 CHF"))]
    mapped = map_records(records, wallos=True, now=NOW, months_of=plan_months)
    assert mapped.problems == []
    assert [(s.fields["price"], s.fields["currency"]) for s in mapped.subs] == [
        (d("15.99"), "USD"), (d("59.99"), "EUR"), (d("8.50"), "GBP"), (d("10.00"), "USD"),
        (d("12.50"), "CHF")]


def d(text):
    from decimal import Decimal

    return Decimal(text)


def test_each_record_that_cannot_be_mapped_is_one_line_naming_the_field():
    records = [{"Name": "Gym", "Payment Cycle": "Weekly", "Price": "$10"},
               {"Name": "Paper", "Payment Cycle": "Monthly", "Price": "ten dollars"},
               {"Name": "Box", "Payment Cycle": "Monthly", "Price": "8.50",
                "Next Payment": "soon"},
               {"Name": "Ok", "Payment Cycle": "Monthly", "Price": "$1"}]
    mapped = map_records(records, wallos=True, now=NOW, months_of=plan_months)
    assert len(mapped.problems) == 3  # one line per record
    assert mapped.problems[0].startswith("record 1 (Gym): Payment Cycle 'Weekly' is no kscli plan")
    assert mapped.problems[1].startswith("record 2 (Paper): Price 'ten dollars' is not a price")
    assert mapped.problems[2] == (
        "record 3 (Box): Price '8.50' names no currency (add a currency column, or "
        "--currency); Next Payment 'soon' is not a date (ISO 8601, 2026-11-22)")
    assert [s.fields["vendor"] for s in mapped.subs] == ["Ok"]


# Wallos through the CLI -----------------------------------------------------------------


@freeze_time("2026-01-01T09:00:00Z")
def test_wallos_json_sample_imports_every_field_it_can(kscli):
    result = kscli.json("sub", "import", str(trackers() / "subtrackr-sampleWallosExport.json"))
    assert (result["format"], REF.fullmatch(result["reference"]) is not None) == (
        "wallos-json", True)
    assert [(s["id"], s["vendor"], s["status"]) for s in result["subscriptions"]] == [
        ("S-1001", "Netflix", "active"), ("S-1002", "Adobe CC", "cancelled"),
        ("S-1003", "Storage Box", "active")]
    # the current period ends on Next Payment; Adobe (Manual, Disabled, cancelled on a date
    # still ahead of the import) is cancelled now and runs to the end of its period
    assert shown(kscli, "S-1001") == ("Netflix", "Netflix", "monthly", "15.99", "USD",
                                      "2025-12-15T00:00:00Z", "2026-01-15T00:00:00Z", "active",
                                      True)
    assert shown(kscli, "S-1002") == ("Adobe CC", "Adobe CC", "annual", "59.99", "EUR",
                                      "2025-06-01T00:00:00Z", "2026-06-01T00:00:00Z",
                                      "cancelled", False)
    assert shown(kscli, "S-1003") == ("Storage Box", "Storage Box", "3m", "8.50", "GBP",
                                      "2025-11-10T00:00:00Z", "2026-02-10T00:00:00Z", "active",
                                      True)
    [event] = events(kscli, "subs-imported")
    assert event["reference"] == result["reference"]
    assert (event["detail"]["count"], event["detail"]["notes"]) == (
        3, {"S-1001": "Family plan", "S-1003": "Hetzner"})
    assert [e["subject"] for e in events(kscli, "cancelled")] == ["S-1002"]


@freeze_time("2026-01-01T09:00:00Z")
def test_wallos_sparse_sample_skips_the_record_without_a_name_and_says_so(kscli):
    result = kscli("sub", "import", str(trackers() / "subtrackr-wallosFixture-sparse.json"))
    assert result.exit_code == 0, result.stderr
    assert "record 3: skipped, its Name is empty" in result.stderr
    assert "imported 2 subscriptions (wallos-json)" in result.stdout
    subs = kscli.json("sub", "list")
    assert [(s["vendor"], s["plan"], s["price"], s["currency"], s["status"]) for s in subs] == [
        ("Netflix", "monthly", "15.99", "USD", "active"),
        ("Adobe", "annual", "59.99", "EUR", "cancelled")]
    assert subs[0]["auto_renew"] is True  # no Renewal field: automatic


@freeze_time("2026-12-01T09:00:00Z")
def test_wallos_unquoted_csv_with_a_comma_in_a_url_and_a_past_cancellation(kscli):
    result = kscli.json("sub", "import", str(OURS / "wallos-export.csv"))
    assert result["format"] == "wallos-csv"
    assert shown(kscli, "S-1001")[:6] == ("Spotify", "Spotify", "monthly", "10.00", "USD",
                                          "2026-11-05T00:00:00Z")
    assert shown(kscli, "S-1002")[2:5] == ("3m", "3.81", "EUR")
    # cancelled on 2026-02-15, its period ended 2026-03-01: expired by now
    vpn = kscli.json("sub", "show", "S-1003")
    assert (vpn["status"], vpn["auto_renew"], vpn["ends_at"]) == (
        "expired", False, "2026-03-01T00:00:00Z")


@freeze_time("2026-12-01T09:00:00Z")
def test_wallos_bare_array_as_the_browser_downloads_it(kscli):
    result = kscli.json("sub", "import", str(OURS / "wallos-bare-array.json"))
    assert result["format"] == "wallos-json"
    assert shown(kscli, "S-1001")[:5] == ("Zeitung Digital", "Zeitung Digital", "monthly",
                                          "9.99", "EUR")
    assert shown(kscli, "S-1002")[2:] == ("24m", "120.00", "USD", "2025-05-01T00:00:00Z",
                                          "2027-05-01T00:00:00Z", "active", True)
    [event] = events(kscli, "subs-imported")
    assert event["detail"]["notes"] == {"S-1001": "Süddeutsche"}


@freeze_time("2026-12-01T09:00:00Z")
def test_dry_run_says_what_would_be_imported_and_writes_nothing(kscli, store_path):
    result = kscli.json("sub", "import", str(OURS / "wallos-bare-array.json"), "--dry-run")
    assert (result["dry_run"], result["reference"], len(result["subscriptions"])) == (
        True, None, 2)
    assert not ledger_created(store_path)


@freeze_time("2026-12-01T09:00:00Z")
def test_importing_the_same_export_twice_adds_nothing_the_second_time(kscli):
    kscli.json("sub", "import", str(OURS / "wallos-export.csv"))
    again = kscli("sub", "import", str(OURS / "wallos-export.csv"))
    assert again.exit_code == 0, again.stderr
    assert "record 1 (Spotify): skipped, S-1001 is already in the ledger" in again.stderr
    assert "nothing changed" in again.stderr
    assert len(kscli.json("sub", "list")) == 3
    assert len(events(kscli, "subs-imported")) == 1
    dry = kscli.json("sub", "import", str(OURS / "wallos-export.csv"), "--dry-run")
    assert dry["subscriptions"] == []
    assert "record 3 (Old VPN): skipped, S-1003 is already in the ledger" in dry["skipped"]


@freeze_time("2026-12-01T09:00:00Z")
def test_one_unmappable_record_imports_nothing_and_each_is_named(kscli, store_path, tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps([
        {"Name": "Fine", "Payment Cycle": "Monthly", "Price": "$5", "Next Payment": "2026-12-09"},
        {"Name": "Gym", "Payment Cycle": "Weekly", "Price": "$10", "Next Payment": "2026-12-09"},
        {"Name": "Odd", "Payment Cycle": "Monthly", "Price": "¤4", "Next Payment": "2026-12-09"},
    ]), encoding="utf-8")
    result = kscli("sub", "import", str(path))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert any("record 2 (Gym): Payment Cycle 'Weekly'" in line for line in lines)
    assert any("record 3 (Odd): Price '¤4'" in line for line in lines)
    assert lines[-1].startswith("Error: export.json: 2 problems in the file; nothing was imported")
    assert "Traceback" not in result.stderr
    assert not ledger_created(store_path)


def test_a_file_that_is_not_json_is_refused_in_one_line(kscli, store_path, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"success": true, "subscriptions": [', encoding="utf-8")
    result = kscli("sub", "import", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: broken.json: the JSON cannot be read")
    assert not ledger_created(store_path)


# CSV lists ------------------------------------------------------------------------------


@freeze_time("2026-12-01T09:00:00Z")
def test_csv_list_with_its_own_column_names_and_date_format(kscli, tmp_path):
    path = tmp_path / "abos.csv"
    path.write_text("\ufeffDienst;Produkt;Zyklus;Preis;Beginn;Konto;Notiz\n"
                    "Acme;Cloud Pro;Yearly;120,00;15.03.2026;ada;Team\n"
                    "JetBrains;All Products;monthly;24,90;01.11.2026;bob;\n", encoding="utf-8")
    result = kscli.json("sub", "import", str(path), "--vendor-col", "Dienst",
                        "--product-col", "Produkt", "--plan-col", "Zyklus",
                        "--price-col", "Preis", "--started-col", "Beginn",
                        "--account-col", "Konto", "--notes-col", "Notiz",
                        "--currency", "EUR", "--date-format", "%d.%m.%Y")
    assert result["format"] == "csv"
    acme = kscli.json("sub", "show", "S-1001")
    assert (acme["vendor"], acme["product"], acme["plan"], acme["price"], acme["currency"],
            acme["started_at"], acme["account"]) == (
        "Acme", "Cloud Pro", "annual", "120.00", "EUR", "2026-03-15T00:00:00Z", "ada")
    assert kscli.json("sub", "show", "S-1002")["account"] == "bob"
    assert events(kscli, "subs-imported")[0]["detail"]["notes"] == {"S-1001": "Team"}


def test_csv_list_without_the_vendor_column_names_it_and_the_option(kscli, store_path,
                                                                   tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("service,price,plan\nAcme,9.99,monthly\n", encoding="utf-8")
    result = kscli("sub", "import", str(path), "--currency", "USD")
    assert result.exit_code == 2
    assert "no column 'vendor' for the vendor" in result.stderr
    assert "--vendor-col" in result.stderr
    assert not ledger_created(store_path)
