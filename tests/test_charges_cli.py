"""`kscli charges import`, `list` and `check` through the CLI, on both backends."""

from __future__ import annotations

import json
import os

import pytest
from freezegun import freeze_time

from tests.conftest import Kscli, ledger_created
from tests.helpers import REF

EVERY_BACKEND = True  # SQLite, JSON and PostgreSQL (conftest.pytest_generate_tests)

DISPUTE_NOTE = "a dispute with the bank is not a cancellation"

GERMAN_COLUMNS = ("--date-col", "Buchungstag", "--description-col", "Verwendungszweck",
                  "--amount-col", "Betrag", "--currency-col", "Währung",
                  "--date-format", "%d.%m.%Y")


def statement(tmp_path, *rows: str, name: str = "statement.csv",
              header: str = "date,description,amount,currency") -> str:
    path = tmp_path / name
    path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return str(path)


def charge_ids(kscli, *args: str) -> list[str]:
    return [c["id"] for c in kscli.json("charges", "list", *args)]


def import_events(kscli) -> list[dict]:
    events = json.loads(kscli("export").stdout)["tables"]["events"]
    return [e for e in events if e["action"] == "charges-imported"]


# Import ---------------------------------------------------------------------------------


@freeze_time("2026-11-25T09:00:00Z")
def test_bank_export_with_its_own_column_names_is_imported_with_the_column_options(
        kscli, add_sub, tmp_path):
    add_sub(vendor="Acme Cloud", price="1234.56", currency="EUR", started="2026-10-22")
    add_sub(vendor="JetBrains", price="9.99", currency="EUR", started="2026-10-24")
    path = tmp_path / "umsaetze.csv"
    path.write_text(
        "Umsätze Girokonto;DE12 3456\n"
        "\n"
        "Buchungstag;Verwendungszweck;Betrag;Währung\n"
        "22.11.2026;ACME CLOUD GMBH RE 4711;-1.234,56;EUR\n"
        "23.11.2026;Gehalt November;2.500,00;EUR\n"
        "24.11.2026;\"JetBrains; s.r.o.\";-9,99;EUR\n"
        "24.11.2026;Bäckerei Müller;-3,40;EUR\n",
        encoding="utf-8",
    )
    result = kscli.json("charges", "import", str(path), *GERMAN_COLUMNS)
    assert {k: result[k] for k in ("statement", "lines", "imported", "matched", "unmatched",
                                   "already_present")} == {
        "statement": "umsaetze.csv", "lines": 3, "imported": 3, "matched": 2, "unmatched": 1,
        "already_present": 0}
    assert REF.fullmatch(result["reference"])
    charges = {c["description"]: c for c in result["charges"]}
    acme = charges["ACME CLOUD GMBH RE 4711"]
    assert (acme["id"], acme["posted_on"], acme["amount"], acme["currency"], acme["sub_id"]) == (
        "C-1001", "2026-11-22", "1234.56", "EUR", "S-1001")
    assert charges["JetBrains; s.r.o."]["sub_id"] == "S-1002"
    assert charges["Bäckerei Müller"]["sub_id"] is None
    assert acme["statement"] == "umsaetze.csv"
    assert acme["imported_at"] == "2026-11-25T09:00:00Z"
    assert "Gehalt November" not in charges  # a credit, not a charge


@freeze_time("2026-11-25T09:00:00Z")
def test_import_table_prints_a_summary_and_the_unmatched_lines(kscli, add_sub, tmp_path):
    add_sub(vendor="Acme", price="9.99", currency="USD", started="2026-11-01")
    path = statement(tmp_path, "2026-11-01,ACME CLOUD,9.99,USD", "2026-11-02,CORNER SHOP,4.50,USD")
    result = kscli("charges", "import", path)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "statement.csv: imported 2, matched 1, unmatched 1, already present 0"
    assert REF.search(lines[1])
    unmatched = [line for line in lines if "CORNER SHOP" in line]
    assert len(unmatched) == 1 and "C-1002" in unmatched[0] and "4.50 USD" in unmatched[0]
    assert "ACME CLOUD" not in result.stdout
    assert result.stderr.count("kscli sub add") == 1


@freeze_time("2026-11-25T09:00:00Z")
def test_importing_the_same_statement_twice_adds_nothing_the_second_time(kscli, add_sub, tmp_path):
    add_sub(vendor="Acme", started="2026-10-01")
    path = statement(tmp_path, "2026-10-01,ACME,9.99,USD", "2026-11-01,ACME,9.99,USD",
                     "2026-11-01,ACME,9.99,USD")  # the same line twice: two real charges
    first = kscli.json("charges", "import", path)
    assert first["imported"] == 3
    second = kscli("charges", "import", path, fmt="json")
    assert second.exit_code == 0
    doc = second.json()
    assert (doc["imported"], doc["already_present"], doc["charges"], doc["reference"]) == (
        0, 3, [], None)
    assert "nothing changed" in second.stderr
    assert charge_ids(kscli) == ["C-1001", "C-1002", "C-1003"]
    assert len(import_events(kscli)) == 1


@freeze_time("2026-11-25T09:00:00Z")
def test_overlapping_statements_store_each_charge_once(kscli, tmp_path):
    october = statement(tmp_path, "2026-10-30,SHOP,1.00,USD", "2026-10-31,SHOP,2.00,USD",
                        name="october.csv")
    overlap = statement(tmp_path, "2026-10-31,SHOP,2.00,USD", "2026-11-01,SHOP,3.00,USD",
                        name="november.csv")
    kscli.json("charges", "import", october)
    doc = kscli.json("charges", "import", overlap)
    assert (doc["imported"], doc["already_present"]) == (1, 1)
    assert [c["statement"] for c in kscli.json("charges", "list")] == [
        "october.csv", "october.csv", "november.csv"]


@freeze_time("2026-11-25T09:00:00Z")
def test_import_appends_one_event_with_the_counts_and_statement(kscli, add_sub, tmp_path):
    add_sub(vendor="Acme", started="2026-11-01")
    doc = kscli.json("charges", "import",
                     statement(tmp_path, "2026-11-01,ACME,9.99,USD", "2026-11-02,SHOP,1.00,USD"))
    [event] = import_events(kscli)
    assert event["reference"] == doc["reference"]
    assert event["subject"] == "charges"
    detail = json.loads(event["detail"])
    assert {k: detail[k] for k in ("statement", "imported", "matched", "unmatched",
                                   "already_present")} == {
        "statement": "statement.csv", "imported": 2, "matched": 1, "unmatched": 1,
        "already_present": 0}


@freeze_time("2026-11-25T09:00:00Z")
def test_import_reads_standard_input_for_dash(kscli, add_sub):
    add_sub(vendor="Acme", started="2026-11-01")
    doc = kscli.json("charges", "import", "-", "--currency", "USD",
                     input="date,description,amount\n2026-11-01,ACME,-9.99\n")
    assert doc["statement"] == "stdin"
    assert [(c["sub_id"], c["amount"]) for c in doc["charges"]] == [("S-1001", "9.99")]


@freeze_time("2026-11-25T09:00:00Z")
def test_adding_the_missing_subscription_then_importing_again_matches_the_old_lines(
        kscli, add_sub, tmp_path):
    path = statement(tmp_path, "2026-11-01,ACME,9.99,USD")
    assert kscli.json("charges", "import", path)["unmatched"] == 1
    add_sub(vendor="Acme", started="2026-11-01")
    doc = kscli.json("charges", "import", path)
    assert (doc["imported"], doc["already_present"], doc["rematched"]) == (0, 1, 1)
    assert REF.fullmatch(doc["reference"])
    assert [c["sub_id"] for c in kscli.json("charges", "list")] == ["S-1001"]


def test_a_statement_without_charges_changes_nothing_and_creates_no_ledger(
        kscli, store_path, tmp_path):
    path = statement(tmp_path, "2026-11-01,SALARY,-2500.00,USD", "2026-11-02,REFUND,5.00,USD",
                     "2026-11-03,NOTHING,0.00,USD", name="credits.csv")
    only_credits = kscli("charges", "import", path)  # negative lines are the debits here
    assert only_credits.exit_code == 0
    assert kscli.json("charges", "list")[0]["description"] == "SALARY"
    other = str(tmp_path / "other" / os.path.basename(store_path))
    result = Kscli(other)("charges", "import", statement(tmp_path, header="date,description,amount"))
    assert result.exit_code == 0 and "no charges in it" in result.stderr
    assert not os.path.exists(other)


# A broken statement ----------------------------------------------------------------------

GOOD = "date,description,amount,currency\n2026-11-01,ACME,9.99,USD\n"


@pytest.mark.parametrize("data, line, fragment", [
    ("date,description,amount,currency\n2026-11-01,A,1.00,USD\n2026-11-02,B,2.00,USD\n"
     "2026-11-03,C,\"12,3x\",USD\n2026-11-04,D,4.00,USD\n", 4, "column 'amount'"),
    ("date,text,amount\n2026-11-01,A,1.00\n", 1, "no column 'description'"),
    ("", 1, "empty"),
    ("date,description,amount,currency\n2026-11-01,A,1.00,EUR\n2026-11-02,M\xfcller,2.00,EUR\n",
     3, "not UTF-8"),
])
def test_a_broken_statement_is_refused_naming_the_line_and_imports_nothing(
        kscli, tmp_path, data, line, fragment):
    kscli.json("charges", "import", statement(tmp_path, "2026-10-01,KEPT,5.00,USD", name="ok.csv"))
    before = kscli.json("charges", "list")
    path = tmp_path / "broken.csv"
    path.write_bytes(data.encode("latin-1"))
    result = kscli("charges", "import", str(path))
    assert result.exit_code == 2
    assert f"broken.csv: line {line}" in result.stderr and fragment in result.stderr
    assert "nothing was imported" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert kscli.json("charges", "list") == before
    assert len(import_events(kscli)) == 1


def test_a_broken_statement_does_not_create_the_ledger(kscli, store_path, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("date,description,amount,currency\n2026-11-01,A,lots,USD\n")
    result = kscli("charges", "import", str(path))
    assert result.exit_code == 2 and "line 2" in result.stderr
    assert not ledger_created(store_path)


def test_a_missing_file_or_bad_currency_option_is_a_usage_error(kscli, tmp_path):
    missing = kscli("charges", "import", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2 and "nope.csv" in missing.stderr
    path = statement(tmp_path, "2026-11-01,A,1.00,USD")
    bad = kscli("charges", "import", path, "--currency", "EURO")
    assert bad.exit_code == 2 and "ISO 4217" in bad.stderr


# Progress ---------------------------------------------------------------------------------


def big_statement(tmp_path) -> str:
    rows = [f"2026-11-{1 + i % 28:02d},SHOP {i},{1 + i}.00,USD" for i in range(600)]
    return statement(tmp_path, *rows, name="big.csv")


def test_large_statement_piped_shows_no_progress(kscli, tmp_path):
    result = kscli("charges", "import", big_statement(tmp_path))
    assert result.exit_code == 0
    assert "importing" not in result.stderr
    assert "... and 550 more: kscli charges list --unmatched" in result.stdout


def test_large_statement_on_a_terminal_shows_progress_on_stderr(kscli, tmp_path, monkeypatch):
    from kscli.cli import charges

    monkeypatch.setattr(charges, "_stderr_is_terminal", lambda: True)
    result = kscli("charges", "import", big_statement(tmp_path))
    assert result.exit_code == 0
    assert "importing big.csv" in result.stderr
    assert "importing" not in result.stdout
    assert len(kscli.json("charges", "list")) == 600


# List -------------------------------------------------------------------------------------


@freeze_time("2026-11-25T09:00:00Z")
def test_list_unmatched_shows_only_lines_without_a_subscription(kscli, add_sub, tmp_path):
    add_sub(vendor="Acme", started="2026-11-01")
    kscli.json("charges", "import", statement(
        tmp_path, "2026-11-01,ACME,9.99,USD", "2026-11-02,CORNER SHOP,4.50,USD",
        "2026-11-03,BAKERY,2.10,EUR"))
    assert charge_ids(kscli, "--unmatched") == ["C-1002", "C-1003"]
    table = kscli("charges", "list", "--unmatched")
    assert "CORNER SHOP" in table.stdout and "ACME" not in table.stdout
    assert "total EUR: 2.10 (1 charge)" in table.stdout
    assert "total USD: 4.50 (1 charge)" in table.stdout
    assert charge_ids(kscli, "--sub", "S-1001") == ["C-1001"]
    assert charge_ids(kscli, "--since", "2026-11-02") == ["C-1002", "C-1003"]
    assert charge_ids(kscli, "--as-of", "2026-11-02") == ["C-1001", "C-1002"]
    csv = kscli("charges", "list", fmt="csv").stdout.splitlines()
    assert csv[0].startswith("id,posted_on,description,amount,currency,sub_id")
    assert csv[1].startswith("C-1001,2026-11-01,ACME,9.99,USD,S-1001")


def test_list_of_an_unknown_subscription_exits_3(kscli, store_path):
    result = kscli("charges", "list", "--sub", "S-9")
    assert result.exit_code == 3 and "S-9" in result.stderr
    assert not ledger_created(store_path)


def test_list_on_an_empty_ledger_says_so_and_creates_nothing(kscli, store_path):
    result = kscli("charges", "list")
    assert result.exit_code == 0 and "no charges yet" in result.stderr
    assert kscli.json("charges", "list") == []
    assert not ledger_created(store_path)


# Check ------------------------------------------------------------------------------------


def cancelled_sub_with_charges(kscli, add_sub, tmp_path) -> str:
    """A monthly plan from 15 March, cancelled on 20 March (service to 15 April)."""
    with freeze_time("2026-03-15T08:00:00Z"):
        add_sub(vendor="Acme", price="9.99", currency="USD")
    with freeze_time("2026-03-20T10:00:00Z"):
        reference = kscli.json("sub", "cancel", "S-1001", "--yes")["reference"]
    with freeze_time("2026-05-20T10:00:00Z"):
        kscli.json("charges", "import", statement(
            tmp_path, "2026-03-15,ACME CLOUD,9.99,USD", "2026-04-15,ACME CLOUD,9.99,USD",
            "2026-04-16,ACME CLOUD,9.99,USD", "2026-05-15,ACME CLOUD,9.99,USD"))
    return reference


def test_charge_after_a_cancellation_is_flagged_with_its_reference_and_exits_1(
        kscli, add_sub, tmp_path):
    reference = cancelled_sub_with_charges(kscli, add_sub, tmp_path)
    result = kscli("charges", "check")
    assert result.exit_code == 1
    rows = [line for line in result.stdout.splitlines()
            if line.startswith("F-") and "S-1001" in line]
    assert any("C-1003" in r and "2026-04-16" in r and "2026-04-15" in r and reference in r
               for r in rows)
    messages = [r for r in rows if "show reference" in r]
    assert len(messages) == 3 and all(m.endswith(DISPUTE_NOTE) for m in messages)
    assert "3 unexpected charges" in result.stderr

    findings = kscli("charges", "check", fmt="json")
    assert findings.exit_code == 1
    assert [(f["kind"], f["charge_id"], f["service_ended"], f["reference"])
            for f in findings.json()] == [
        ("after-cancellation", "C-1002", "2026-04-15", reference),  # the renewal day
        ("after-cancellation", "C-1003", "2026-04-15", reference),
        ("after-cancellation", "C-1004", "2026-04-15", reference),
    ]
    assert findings.json()[0]["amount"] == "9.99"


def test_check_since_reports_only_charges_from_that_date(kscli, add_sub, tmp_path):
    reference = cancelled_sub_with_charges(kscli, add_sub, tmp_path)
    findings = kscli("charges", "check", "--since", "2026-05-01", fmt="json")
    assert findings.exit_code == 1
    assert [(f["charge_id"], f["reference"]) for f in findings.json()] == [("C-1004", reference)]
    clean = kscli("charges", "check", "--since", "2026-06-01")
    assert clean.exit_code == 0 and "no unexpected charges" in clean.stderr


def test_check_under_quiet_still_prints_findings_for_cron(kscli, add_sub, tmp_path):
    cancelled_sub_with_charges(kscli, add_sub, tmp_path)
    result = kscli("--quiet", "charges", "check")
    assert result.exit_code == 1 and "C-1003" in result.stdout


@freeze_time("2026-05-20T10:00:00Z")
def test_a_clean_ledger_exits_0_saying_no_unexpected_charges(kscli, add_sub, tmp_path):
    add_sub(vendor="Acme", started="2026-03-15")
    kscli.json("charges", "import", statement(
        tmp_path, "2026-03-15,ACME,9.99,USD", "2026-04-15,ACME,9.99,USD",
        "2026-05-15,ACME,9.99,USD", "2026-05-16,UNKNOWN SHOP,9.99,USD"))
    result = kscli("charges", "check")
    assert result.exit_code == 0
    assert result.stdout == "" and "no unexpected charges" in result.stderr
    assert kscli.json("charges", "check") == []
    quiet = kscli("--quiet", "charges", "check")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")


def test_check_on_a_missing_ledger_is_clean_and_creates_nothing(kscli, store_path):
    result = kscli("charges", "check")
    assert result.exit_code == 0 and "no unexpected charges" in result.stderr
    assert not ledger_created(store_path)


def test_charge_after_renew_off_past_the_period_end_is_flagged(kscli, add_sub, tmp_path):
    with freeze_time("2026-03-15T08:00:00Z"):
        add_sub(vendor="Acme")
    with freeze_time("2026-03-25T08:00:00Z"):
        reference = kscli.json("renew", "off", "S-1001")["reference"]
    with freeze_time("2026-05-01T08:00:00Z"):
        kscli.json("sweep")
        kscli.json("charges", "import", statement(
            tmp_path, "2026-03-15,ACME,9.99,USD", "2026-04-17,ACME,9.99,USD"))
        result = kscli("charges", "check", fmt="json")
    assert result.exit_code == 1
    [finding] = result.json()
    assert (finding["kind"], finding["charge_id"], finding["service_ended"],
            finding["reference"]) == ("after-end", "C-1002", "2026-04-15", reference)
    assert reference in finding["message"] and finding["message"].endswith(DISPUTE_NOTE)


@pytest.mark.parametrize("how", ["renew-off", "cancel"])
def test_a_charge_on_the_renewal_day_after_the_end_of_term_is_flagged(
        kscli, add_sub, tmp_path, how):
    """The renewal day belongs to the next period: a charge dated on the UTC day the
    next period would have started is flagged, one on the day before is not, whether
    or not `sweep` ran (a started time late in the day, far from UTC midnight)."""
    with freeze_time("2026-03-15T22:30:00Z"):
        add_sub(vendor="Acme")
    with freeze_time("2026-03-25T08:00:00Z"):
        if how == "renew-off":
            reference = kscli.json("renew", "off", "S-1001")["reference"]
        else:
            reference = kscli.json("sub", "cancel", "S-1001", "--yes")["reference"]
    with freeze_time("2026-04-20T08:00:00Z"):  # never swept
        kscli.json("charges", "import", statement(
            tmp_path, "2026-04-14,ACME,9.99,USD", "2026-04-15,ACME,9.99,USD"))
        result = kscli("charges", "check", fmt="json")
        kscli.json("sweep")
        after_sweep = kscli("charges", "check", fmt="json")
    assert result.exit_code == 1
    [finding] = result.json()
    assert (finding["charge_id"], finding["posted_on"], finding["service_ended"],
            finding["reference"]) == ("C-1002", "2026-04-15", "2026-04-15", reference)
    assert "on or after 2026-04-15" in finding["message"]
    assert after_sweep.json() == result.json()
    shown = kscli.json("sub", "show", "S-1001")
    assert shown["ends_at"][:10] == finding["service_ended"]


@freeze_time("2026-05-20T10:00:00Z")
def test_a_second_charge_in_one_billing_period_is_flagged_as_a_duplicate(
        kscli, add_sub, tmp_path):
    add_sub(vendor="Acme", started="2026-03-15")
    kscli.json("charges", "import", statement(
        tmp_path, "2026-04-15,ACME,9.99,USD", "2026-04-20,ACME,9.99,USD",
        "2026-05-15,ACME,9.99,USD"))
    result = kscli("charges", "check")
    assert result.exit_code == 1
    assert "twice in one period" in result.stdout
    assert "second charge of 9.99 USD on 2026-04-20" in result.stdout
    plain = kscli("charges", "check", fmt="plain").stdout.splitlines()
    assert plain[0].split("\t")[1:4] == ["S-1001", "C-1002", "2026-04-20"]
    finding_id = kscli("charges", "check", fmt="json").json()[0]["id"]
    assert plain[0].split("\t")[0] == finding_id
    assert plain[0].split("\t")[-1].startswith("S-1001: second charge")
    csv = kscli("charges", "check", fmt="csv").stdout.splitlines()
    assert csv[0] == ("id,kind,sub_id,charge_id,posted_on,amount,currency,expected_amount,"
                      "service_ended,reference,message,dismissed,dismissed_reason,"
                      "dismissed_reference")
    assert csv[1].startswith(f"{finding_id},duplicate-in-period,S-1001,C-1002,2026-04-20,9.99,"
                             "USD,,,")


def test_charge_on_or_after_a_refund_is_flagged_with_the_refund_reference(
        kscli, add_sub, tmp_path):
    """The refund feature's contract: status "refunded" and an event with action "refunded"."""
    with freeze_time("2026-03-15T08:00:00Z"):
        add_sub(vendor="Acme", plan="annual", price="120.00")
    with freeze_time("2026-03-20T12:00:00Z"):
        refund = kscli("refund", "request", "S-1001", "--yes", fmt="json")
        assert refund.exit_code == 0, refund.stderr
        reference = refund.json()["reference"]
    assert [e["action"] for e in kscli.json("sub", "history", "S-1001")][-1] == "refunded"
    with freeze_time("2026-04-01T08:00:00Z"):
        kscli.json("charges", "import", statement(
            tmp_path, "2026-03-15,ACME,120.00,USD", "2026-03-21,ACME,120.00,USD"))
    result = kscli("charges", "check", fmt="json")
    assert result.exit_code == 1
    assert [(f["kind"], f["charge_id"], f["service_ended"], f["reference"])
            for f in result.json()] == [("after-refund", "C-1002", "2026-03-20", reference)]
    assert "proof of the refund" in result.json()[0]["message"]
