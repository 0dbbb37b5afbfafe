"""`kscli charges discover [--add]` through the CLI, on every backend, and over the real
statement exports in ../shared/fixtures (expectations read from the files by hand)."""

from __future__ import annotations

import json

import pytest
from freezegun import freeze_time

from kscli.domain.statement import Columns
from kscli.domain.statement.discover import Charge, discover
from kscli.domain.statement.formats import read_any
from tests.conftest import ledger_created, require_module
from tests.helpers import REF
from tests.statement_fixtures import real_statements  # noqa: F401 - a fixture
from tests.test_statement_real import CSV_FILES, OFX_FILES, preset_columns

EVERY_BACKEND = True  # SQLite, JSON and PostgreSQL (conftest.pytest_generate_tests)

# A year of a card statement: a forgotten monthly subscription (posted the Monday after
# a weekend), a yearly one, a weekly gym, shopping at look-alike and one-off merchants.
YEAR = [
    "2026-01-15,NETFLIX.COM 0115 866-579-7172,15.49,USD",
    "2026-02-16,NETFLIX.COM 0216 866-579-7172,15.49,USD",  # the 15th was a Sunday
    "2026-03-16,NETFLIX.COM 0316 866-579-7172,15.49,USD",  # the 15th was a Sunday
    "2026-04-15,NETFLIX.COM 0415 866-579-7172,15.49,USD",
    "2026-05-15,NETFLIX.COM 0515 866-579-7172,15.49,USD",
    "2026-01-09,CORNER SHOP,4.50,USD",
    "2026-02-21,CORNER SHOP,4.70,USD",
    "2026-03-02,CORNER SHOP,4.40,USD",
    "2026-03-20,BIG TV STORE,899.00,USD",
    "2026-04-01,PINEAPPLE CAFE,2.99,USD",
    "2026-05-02,GYM 24 REF 88121,10.00,USD",
    "2026-05-09,GYM 24 REF 88122,10.00,USD",
    "2026-05-16,GYM 24 REF 88123,10.00,USD",
    "2025-06-03,DOMAINS R US RENEWAL,15.00,USD",
    "2026-06-03,DOMAINS R US RENEWAL,15.00,USD",
]


def statement(tmp_path, rows, name="card.csv") -> str:
    path = tmp_path / name
    path.write_text("\n".join(["date,description,amount,currency", *rows]) + "\n",
                    encoding="utf-8")
    return str(path)


@pytest.fixture
def year(kscli, tmp_path):
    with freeze_time("2026-06-20T09:00:00Z"):
        imported = kscli("charges", "import", "--debits", "positive", statement(tmp_path, YEAR))
    assert imported.exit_code == 0, imported.stderr
    return kscli


@freeze_time("2026-06-20T09:00:00Z")
def test_discover_proposes_the_recurring_merchants_only(year):
    found = year.json("charges", "discover")
    assert [(p["vendor"], p["amount"], p["currency"], p["cadence"], p["plan"], p["first_charge"],
             p["last_charge"], p["next_expected"], p["charge_ids"], p["can_add"])
            for p in found] == [
        ("DOMAINS R US RENEWAL", "15.00", "USD", "yearly", "annual", "2025-06-03", "2026-06-03",
         "2027-06-03", ["C-1014", "C-1015"], True),
        ("GYM", "10.00", "USD", "weekly", None, "2026-05-02", "2026-05-16", "2026-05-23",
         ["C-1011", "C-1012", "C-1013"], False),
        ("NETFLIX.COM", "15.49", "USD", "monthly", "monthly", "2026-01-15", "2026-05-15",
         "2026-06-15", ["C-1001", "C-1002", "C-1003", "C-1004", "C-1005"], True),
    ]
    assert "counted in months" in found[1]["why_not"]


@freeze_time("2026-06-20T09:00:00Z")
def test_discover_table_lists_them_and_says_why_weekly_cannot_be_added(year):
    result = year("charges", "discover")
    assert result.exit_code == 0, result.stderr
    assert "NETFLIX.COM" in result.stdout and "2026-06-15" in result.stdout
    assert "CORNER SHOP" not in result.stdout and "BIG TV" not in result.stdout
    assert "GYM: kscli plans are counted in months" in result.stderr


@freeze_time("2026-06-20T09:00:00Z")
def test_add_off_a_terminal_needs_yes_and_writes_nothing(year):
    result = year("charges", "discover", "--add")
    assert result.exit_code == 2
    assert "add --yes" in result.stderr
    assert year.json("sub", "list") == []
    assert all(c["sub_id"] is None for c in year.json("charges", "list"))


@freeze_time("2026-06-20T09:00:00Z")
def test_add_records_each_proposal_as_a_subscription_and_matches_its_charges(year):
    added = year.json("charges", "discover", "--add", "--yes")
    assert REF.fullmatch(added["reference"])
    assert [(a["sub_id"], a["vendor"], a["plan"]) for a in added["added"]] == [
        ("S-1001", "DOMAINS R US RENEWAL", "annual"), ("S-1002", "NETFLIX.COM", "monthly")]
    assert [s["vendor"] for s in added["skipped"]] == ["GYM"]
    assert added["matched"] == ["C-1001", "C-1002", "C-1003", "C-1004", "C-1005", "C-1014",
                                "C-1015"]
    netflix = year.json("sub", "show", "S-1002")
    assert (netflix["price"], netflix["currency"], netflix["started_at"], netflix["match"],
            netflix["status"]) == ("15.49", "USD", "2026-01-15T00:00:00Z", ["NETFLIX.COM"],
                                   "active")
    assert REF.fullmatch(added["added"][1]["reference"])
    matched = {c["id"]: c["sub_id"] for c in year.json("charges", "list")}
    assert matched["C-1005"] == "S-1002" and matched["C-1015"] == "S-1001"
    assert matched["C-1009"] is None  # PINEAPPLE CAFE stays unmatched
    # what was recorded is no longer proposed; the weekly gym still is
    assert [p["vendor"] for p in year.json("charges", "discover")] == ["GYM"]
    events = json.loads(year("export").stdout)["tables"]["events"]
    details = [e["detail"] for e in events if e["action"] == "discovered-added"]
    assert [(json.loads(d) if isinstance(d, str) else d)["subscriptions"]
            for d in details] == [["S-1001", "S-1002"]]


@freeze_time("2026-06-20T09:00:00Z")
def test_a_second_add_records_nothing_more(year):
    year.json("charges", "discover", "--add", "--yes")
    again = year.json("charges", "discover", "--add", "--yes")
    assert (again["added"], again["reference"]) == ([], None)
    assert len(year.json("sub", "list")) == 2


def test_discover_on_a_missing_ledger_is_empty_and_creates_nothing(kscli, store_path):
    assert kscli.json("charges", "discover") == []
    result = kscli("charges", "discover")
    assert result.exit_code == 0
    assert "no recurring charges" in result.stderr
    assert not ledger_created(store_path)


@freeze_time("2026-06-20T09:00:00Z")
def test_charges_that_match_a_subscription_are_not_proposed(kscli, add_sub, tmp_path):
    add_sub(vendor="Netflix", product="Standard", price="15.49", started="2026-01-15")
    kscli("charges", "import", "--debits", "positive", statement(tmp_path, YEAR))
    assert "NETFLIX.COM" not in [p["vendor"] for p in kscli.json("charges", "discover")]


# The real exports -----------------------------------------------------------------------
#
# Read by hand: no file holds a merchant with three charges on a monthly, quarterly or
# weekly cadence, nor two a year apart. The merchants that come back at all:
# - Commerzbank: "Kontoführung" 10.70 EUR on 2024-12-31 and 2025-04-30 (four months
#   apart, the months between are not in the file);
# - the generic Indian statement: GOOGLE CLOUD 1.00 INR twice on 2020-01-01;
# - German PayPal: "PayPal" 13.21 then 12.50, "Technik-Shop" 34.49 then 28.45;
# - Venmo: "Brian Taylor Utilities" 120.00 then 82.50;
# - MT940 betterplace: many SEPA transfers, all on 2007-09-04.
# So discover proposes nothing for any of them; every other merchant appears once.

REAL = [(f"statements/{name}", preset) for name, preset, *_ in CSV_FILES] + \
    [(name, None) for name, *_ in OFX_FILES] + \
    [("statements/beancount-import-generic_statement.csv", "generic")]


def _read(folder, name, preset):
    data = (folder / name).read_bytes()
    if preset == "generic":
        return read_any(data, None, Columns(), "INR")
    if preset is None:
        return read_any(data)
    columns, currency = preset_columns(preset)
    return read_any(data, None, columns, currency)


@pytest.mark.parametrize("name, preset", REAL, ids=[name for name, _ in REAL])
def test_no_real_export_holds_a_recurring_merchant(real_statements, name, preset):  # noqa: F811
    if name.endswith(".sta"):
        require_module("mt940", "statements")
    if name.endswith(".xml"):
        require_module("defusedxml", "statements")
    lines = _read(real_statements, name, preset).lines
    found = discover(Charge(f"C-{1001 + i}", line.posted_on, line.description, line.amount,
                            line.currency) for i, line in enumerate(lines))
    assert found == []


@freeze_time("2025-05-10T09:00:00Z")
def test_commerzbank_fee_is_proposed_once_the_months_between_are_there(
        kscli, real_statements, tmp_path):  # noqa: F811
    path = real_statements / "statements/rechnungspilot-commerzbank.csv"
    first = kscli("charges", "import", "--preset", "commerzbank", str(path))
    assert first.exit_code == 0, first.stderr
    assert kscli.json("charges", "discover") == []  # December and April only
    # the months between, written as the file writes its fee (the text holds the dates)
    header = path.read_text(encoding="utf-8-sig").splitlines()[0]
    fee = next(line for line in path.read_text(encoding="utf-8-sig").splitlines()
               if "Kontoführung" in line and "01.12.2024" in line)
    months = [("31.01.2025", "01.01.2025", "31.01.2025"), ("28.02.2025", "01.02.2025",
                                                           "28.02.2025"),
              ("31.03.2025", "01.03.2025", "31.03.2025")]
    rows = [fee.replace("31.12.2024", booked, 2).replace("01.12.2024", start)
            .replace("bis 31.12.2024", f"bis {end}") for booked, start, end in months]
    between = tmp_path / "commerzbank-q1.csv"
    between.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    second = kscli("charges", "import", "--preset", "commerzbank", str(between))
    assert second.exit_code == 0, second.stderr
    found = kscli.json("charges", "discover")
    assert [(p["vendor"], p["amount"], p["currency"], p["cadence"], p["first_charge"],
             p["last_charge"], p["next_expected"], p["charges"]) for p in found] == [
        ("Kontoführung Konto", "10.70", "EUR", "monthly", "2024-12-31", "2025-04-30",
         "2025-05-31", 5)]


@freeze_time("2026-12-02T09:00:00Z")
def test_on_the_sample_ledger_a_year_of_charges_proposes_only_the_forgotten_subscription(
        kscli, tmp_path):
    assert kscli("init", "--sample").exit_code == 0
    rows = []
    for month in range(1, 12):
        rows.append(f"2026-{month:02d}-28,ACME CLOUD INC {month:02d}/26 ref 55{month:02d},24.00,USD")
        rows.append(f"2026-{month:02d}-03,STREAMLY*PREMIUM {4000 + month},12.99,USD")
    rows += ["2026-03-14,ACME CLOUDBERRY FARM,24.00,USD",  # a look-alike, once
             "2026-02-11,PINEAPPLE CAFE,3.50,USD", "2026-05-19,PINEAPPLE CAFE,3.70,USD",
             "2026-05-23,PINEAPPLE CAFE,3.40,USD", "2026-09-30,PINEAPPLE CAFE,3.50,USD",
             "2026-07-07,BIG TV STORE,899.00,USD"]
    imported = kscli("charges", "import", "--debits", "positive", statement(tmp_path, rows))
    assert imported.exit_code == 0, imported.stderr
    found = kscli.json("charges", "discover")
    assert [(p["vendor"], p["amount"], p["cadence"], p["first_charge"], p["last_charge"],
             p["next_expected"], p["charges"]) for p in found] == [
        ("STREAMLY*PREMIUM", "12.99", "monthly", "2026-01-03", "2026-11-03", "2026-12-03", 11)]
