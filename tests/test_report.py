"""`kscli report` and `kscli rates`: a hand-computed ledger, the ECB's own file layouts."""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from freezegun import freeze_time

from tests.conftest import Kscli

NOW = "2026-06-15T12:00:00Z"

DAILY_XML = """<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
\t<gesmes:subject>Reference rates</gesmes:subject>
\t<gesmes:Sender>
\t\t<gesmes:name>European Central Bank</gesmes:name>
\t</gesmes:Sender>
\t<Cube>
\t\t<Cube time='2026-06-12'>
\t\t\t<Cube currency='USD' rate='1.1000'/>
\t\t\t<Cube currency='JPY' rate='170.25'/>
\t\t</Cube>
\t</Cube>
</gesmes:Envelope>
"""

# the ECB's history: newest day first, a trailing comma, N/A for a currency with no rate
# that day (and columns of currencies no longer issued)
HIST_CSV = ("Date,USD,JPY,CYP,\n"
            "2026-05-19,1.2000,165.00,N/A,\n"
            "2026-04-09,1.2500,N/A,N/A,\n")


def _ledger(kscli) -> None:
    """The hand-computed ledger (as of 2026-06-15 12:00 UTC; months Apr-Jun, forecast
    Jul-Aug):

    S-1001 monthly 10 USD from 2026-01-10: Apr 10, May 10, Jun 10; Jul 10, Aug 10 ahead
    S-1002 annual 120 USD from 2025-05-20: May 120
    S-1003 3m 30 EUR from 2026-02-01: May 1 30; Aug 1 30 ahead
    S-1004 monthly 5 EUR from 2026-03-25, renew off now: Apr 5, May 5, ends 2026-06-25
    S-1005 monthly 7 GBP from 2026-06-01 (no rate): Jun 7; Jul 7, Aug 7 ahead
    """
    for vendor, plan, price, currency, started in (
            ("Acme", "monthly", "10.00", "USD", "2026-01-10"),
            ("Globex", "annual", "120.00", "USD", "2025-05-20"),
            ("Initech", "3m", "30.00", "EUR", "2026-02-01"),
            ("Hooli", "monthly", "5.00", "EUR", "2026-03-25"),
            ("Umbrella", "monthly", "7.00", "GBP", "2026-06-01")):
        kscli.json("sub", "add", "--vendor", vendor, "--product", "P", "--plan", plan,
                   "--price", price, "--currency", currency, "--started", started)
    kscli.json("renew", "off", "S-1004")


def _rates(kscli, tmp_path) -> None:
    (tmp_path / "eurofxref-daily.xml").write_text(DAILY_XML, encoding="utf-8")
    (tmp_path / "eurofxref-hist.csv").write_text(HIST_CSV, encoding="utf-8")
    daily = kscli.json("rates", "import", str(tmp_path / "eurofxref-daily.xml"))
    assert (daily["days"], daily["currencies"], daily["added"]) == (1, ["JPY", "USD"], 2)
    assert daily["reference"].startswith("KS-")
    hist = kscli.json("rates", "import", str(tmp_path / "eurofxref-hist.csv"))
    assert (hist["days"], hist["currencies"], hist["added"]) == (2, ["JPY", "USD"], 3)


ROWS = [  # month, currency, billed, projected, total, source, when
    ("2026-04", "EUR", "5.00", "0.00", "5.00", "ledger", "past"),
    ("2026-05", "EUR", "35.00", "0.00", "35.00", "ledger", "past"),
    ("2026-06", "EUR", "0.00", "0.00", "0.00", "none", "current"),
    ("2026-07", "EUR", "0.00", "0.00", "0.00", "none", "forecast"),
    ("2026-08", "EUR", "0.00", "30.00", "30.00", "ledger", "forecast"),
    ("2026-04", "GBP", "0.00", "0.00", "0.00", "none", "past"),
    ("2026-05", "GBP", "0.00", "0.00", "0.00", "none", "past"),
    ("2026-06", "GBP", "7.00", "0.00", "7.00", "ledger", "current"),
    ("2026-07", "GBP", "0.00", "7.00", "7.00", "ledger", "forecast"),
    ("2026-08", "GBP", "0.00", "7.00", "7.00", "ledger", "forecast"),
    ("2026-04", "USD", "10.00", "0.00", "10.00", "ledger", "past"),
    ("2026-05", "USD", "130.00", "0.00", "130.00", "ledger", "past"),
    ("2026-06", "USD", "10.00", "0.00", "10.00", "ledger", "current"),
    ("2026-07", "USD", "0.00", "10.00", "10.00", "ledger", "forecast"),
    ("2026-08", "USD", "0.00", "10.00", "10.00", "ledger", "forecast"),
]
# in EUR: USD at the day's rate (10/1.25, 10/1.25 + 120/1.20, 10/1.20), ahead at the
# latest (10/1.10); GBP has no rate: apart
ROWS_EUR = [
    ("2026-04", "EUR", "13.00", "0.00", "13.00", "ledger", "past"),
    ("2026-05", "EUR", "143.00", "0.00", "143.00", "ledger", "past"),
    ("2026-06", "EUR", "8.33", "0.00", "8.33", "ledger", "current"),
    ("2026-07", "EUR", "0.00", "9.09", "9.09", "ledger", "forecast"),
    ("2026-08", "EUR", "0.00", "39.09", "39.09", "ledger", "forecast"),
]
KEYS = ("month", "currency", "billed", "projected", "total", "source", "when")


@pytest.fixture
def ledger(tmp_path, any_store_spec):
    kscli = Kscli(any_store_spec)
    with freeze_time(NOW):
        _ledger(kscli)
        _rates(kscli, tmp_path)
    return kscli


def _report(kscli, *args, fmt="json", env=None):
    with freeze_time(NOW):
        result = kscli("report", "--months", "3", "--forecast", "2", *args, fmt=fmt, env=env)
    assert result.exit_code == 0, result.stderr
    return result


def test_the_hand_computed_ledger_in_json(ledger):
    doc = _report(ledger).json()
    assert [tuple(r[k] for k in KEYS) for r in doc["rows"]] == ROWS
    assert doc["months"] == ["2026-04", "2026-05", "2026-06", "2026-07", "2026-08"]
    assert doc["currency"] is None and doc["apart"] == [] and doc["rates"] == []
    assert [(t["sub_id"], t["yearly"], t["currency"]) for t in doc["top"]] == [
        ("S-1003", "120.00", "EUR"), ("S-1005", "84.00", "GBP"),
        ("S-1001", "120.00", "USD"), ("S-1002", "120.00", "USD")]  # S-1004 ends: not there
    renewing = doc["renewing"]
    assert renewing["count"] == 2
    assert [(i["sub_id"], i["renews_at"]) for i in renewing["items"]] == [
        ("S-1005", "2026-07-01T00:00:00Z"), ("S-1001", "2026-07-10T00:00:00Z")]
    assert renewing["totals"] == [{"currency": "GBP", "amount": "7.00"},
                                  {"currency": "USD", "amount": "10.00"}]
    assert (doc["subscriptions"], doc["bills"]) == (5, 13)


def test_in_eur_converts_at_the_day_and_keeps_a_currency_without_rate_apart(ledger):
    doc = _report(ledger, "--in", "EUR").json()
    assert [tuple(r[k] for k in KEYS) for r in doc["rows"]] == ROWS_EUR
    assert [tuple(r[k] for k in KEYS) for r in doc["apart"]] == [r for r in ROWS if r[1] == "GBP"]
    assert doc["rates"] == [{"currency": "USD", "first_day": "2026-04-09",
                             "last_day": "2026-06-12",
                             "source": "eurofxref-daily.xml, eurofxref-hist.csv"}]
    top = {t["sub_id"]: (t["yearly_converted"], t["yearly_in"]) for t in doc["top"]}
    assert top["S-1001"] == ("109.09", "EUR") and top["S-1005"] == ("84.00", "GBP")


def test_the_table_csv_and_plain_say_the_same(ledger):
    text = _report(ledger, "--in", "EUR", fmt="table", env={"COLUMNS": "80"}).stdout
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    table = lines[lines.index("Month    Currency  Billed  Projected  Total   Source"):]
    assert table[2:8] == [
        "2026-04  EUR       13.00   0.00       13.00   ledger",
        "2026-05  EUR       143.00  0.00       143.00  ledger",
        "2026-06  EUR       8.33    0.00       8.33    ledger",
        "2026-07  EUR       0.00    9.09       9.09    ledger",
        "2026-08  EUR       0.00    39.09      39.09   ledger",
        "2026-04  GBP       0.00    0.00       0.00    none (no rate)",
    ]
    assert lines[0] == "Spend per month, EUR   █ billed  ░ projected"
    assert lines[6:8] == ["", "Spend per month, GBP (no rate: not converted)   █ billed  ░ projected"]
    said = " ".join(line.strip() for line in lines)
    assert "rates USD to EUR: ECB days 2026-04-09 to 2026-06-12 " \
           "(eurofxref-daily.xml, eurofxref-hist.csv)" in said
    assert "no rate to EUR for GBP: shown apart, not converted (kscli rates import FILE)" in said
    chart = lines[1:6]  # the EUR chart: the longest bar is May's, the full width
    assert chart[1].startswith("2026-05  " + "█" * 50) and chart[1].endswith("143.00 EUR")
    assert "░" in chart[4] and "█" not in chart[4]  # August: projected only
    assert chart[2].startswith("2026-06  ███▍ ")  # 8.33 of 143.00 over 59 cells, in eighths
    assert chart[4].startswith("2026-08  " + "░" * 16 + " ")  # 39.09 of 143.00

    rows = list(csv.reader(io.StringIO(_report(ledger, "--in", "EUR", fmt="csv").stdout)))
    assert rows[0] == [*KEYS, "converted"]
    assert [tuple(r[:7]) for r in rows[1:6]] == ROWS_EUR
    assert [r[7] for r in rows[1:]] == ["yes"] * 5 + ["no"] * 5
    assert [tuple(r[:7]) for r in rows[6:]] == [r for r in ROWS if r[1] == "GBP"]

    plain = _report(ledger, fmt="plain").stdout.splitlines()
    assert plain[0].split("\t") == ["2026-04", "EUR", "5.00", "0.00", "5.00", "ledger"]


def test_a_narrow_terminal_gets_narrow_bars(ledger):
    text = _report(ledger, fmt="table", env={"COLUMNS": "50"}).stdout
    charts = [line for line in text.splitlines() if line[:8].startswith("2026-0") and "  " in line
              and ("█" in line or "░" in line)]
    assert charts and all(len(line) <= 50 for line in charts)


def test_by_vendor_account_and_kind(ledger):
    doc = _report(ledger, "--by", "vendor").json()
    assert [(r["vendor"], r["currency"], r["billed"], r["projected"]) for r in doc["rows"]] == [
        ("Hooli", "EUR", "10.00", "0.00"), ("Initech", "EUR", "30.00", "30.00"),
        ("Umbrella", "GBP", "7.00", "14.00"),
        ("Acme", "USD", "30.00", "20.00"), ("Globex", "USD", "120.00", "0.00")]
    kinds = _report(ledger, "--by", "kind", "--in", "EUR").json()
    assert [(r["kind"], r["billed"], r["projected"]) for r in kinds["rows"]] == [
        ("subscription", "164.33", "48.18")]


def test_imported_charges_replace_the_price_in_their_month(ledger, tmp_path):
    statement = tmp_path / "s.csv"
    statement.write_text("date,description,amount,currency\n"
                         "2026-05-20,GLOBEX ANNUAL,120.00,USD\n", encoding="utf-8")
    with freeze_time(NOW):
        assert ledger.json("charges", "import", str(statement))["matched"] == 1
    rows = {(r["month"], r["currency"]): r for r in _report(ledger).json()["rows"]}
    assert rows["2026-05", "USD"]["source"] == "charges+ledger"  # Globex from its charge
    assert rows["2026-05", "USD"]["billed"] == "130.00"
    assert rows["2026-04", "USD"]["source"] == "ledger"


def test_as_of_in_the_past_undoes_the_later_renew_off(ledger):
    with freeze_time(NOW):
        result = ledger("report", "--months", "1", "--forecast", "1", "--as-of", "2026-06-01",
                        fmt="json")
    doc = result.json()
    eur = {r["month"]: r for r in doc["rows"] if r["currency"] == "EUR"}
    assert eur["2026-06"]["projected"] == "5.00"  # S-1004 still renewing on 06-01
    assert eur["2026-07"]["projected"] == "5.00"


def test_html_page_is_private_and_holds_the_numbers(ledger, tmp_path):
    page = tmp_path / "spend.html"
    doc = _report(ledger, "--in", "EUR", "--html", str(page)).json()
    assert os.stat(page).st_mode & 0o777 == 0o600
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    assert html.count('<g class="bar"') == len(doc["rows"]) + len(doc["apart"])


def test_bad_options_and_files_exit_2_and_write_nothing(ledger, tmp_path):
    with freeze_time(NOW):
        assert ledger("report", "--in", "EURO").exit_code == 2
        assert ledger("report", "--by", "colour").exit_code == 2
        hostile = tmp_path / "x.xml"
        hostile.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>'
                           '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01">'
                           '&a;</gesmes:Envelope>', encoding="utf-8")
        for body in (hostile.read_bytes(), b"Date,USD,\n2026-13-01,1.1,\n",
                     b"Date,USD,\n2026-01-02,-1,\n", b"PK\x03\x04garbage", b"hello"):
            hostile.write_bytes(body)
            result = ledger("rates", "import", str(hostile))
            assert result.exit_code == 2, (body, result.stderr)
            assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
            assert len(result.stderr.strip().splitlines()) == 1
        shown = ledger.json("rates", "show")
        assert {r["currency"]: (r["rate"], r["day"]) for r in shown} == {
            "JPY": ("170.25", "2026-06-12"), "USD": ("1.1000", "2026-06-12")}


def test_rates_show_as_of_takes_the_nearest_earlier_day(ledger):
    with freeze_time(NOW):
        shown = ledger.json("rates", "show", "--as-of", "2026-05-01")
        assert [(r["currency"], r["rate"], r["day"]) for r in shown] == [
            ("USD", "1.2500", "2026-04-09")]  # JPY had N/A that day
        assert ledger("rates", "show", "--as-of", "2026-01-01").exit_code == 3


# -- the parsers --------------------------------------------------------------------

def test_the_parsers_read_the_ecb_layouts_and_the_zip():
    from kscli.domain.rates import RateBook, parse_rates

    daily = parse_rates(DAILY_XML.encode())
    assert daily == {date(2026, 6, 12): {"USD": Decimal("1.1000"), "JPY": Decimal("170.25")}}
    hist = parse_rates(HIST_CSV.encode())
    assert hist[date(2026, 4, 9)] == {"USD": Decimal("1.2500")}  # N/A and CYP skipped
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("eurofxref-hist.csv", HIST_CSV)
    assert parse_rates(buffer.getvalue()) == hist
    book = RateBook((d, c, r, "f") for d, rates in {**hist, **daily}.items()
                    for c, r in rates.items())
    cross = book.rate("USD", "JPY", date(2026, 5, 20))  # through the euro
    assert cross.rate == Decimal("165.00") / Decimal("1.2000") and cross.day == date(2026, 5, 19)
    assert book.rate("EUR", "USD", date(2026, 4, 8)) is None  # before the first day
    assert book.rate("GBP", "EUR", date(2026, 6, 12)) is None
    assert book.rate("EUR", "EUR", date(2026, 6, 12)).rate == 1


def test_the_report_streams_over_its_subscriptions():
    """compute() takes one subscription at a time from an iterator."""
    from kscli.domain.model import Subscription
    from kscli.domain.report import compute

    at = datetime(2026, 6, 15, 12, tzinfo=timezone.utc)

    def subs():
        for i in range(50):
            start = datetime(2026, 1, 1 + i % 28, tzinfo=timezone.utc)
            sub = Subscription(f"S-{1001 + i}", "a", "V", "P", "monthly", "subscription",
                               Decimal("1.00"), "USD", start, start, datetime(2026, 2, 1 + i % 28,
                               tzinfo=timezone.utc), None, True, "active")
            yield sub
    report = compute(subs(), at, months=2, forecast=0)
    assert report.subscriptions == 50
    assert sum(Decimal(r["total"]) for r in report.rows) == 100  # May and June, 50 each


def test_other_commands_import_nothing_of_the_report(tmp_path):
    """`sub list` (and the start-up) leave the report's and the rates' modules unloaded."""
    import subprocess
    import sys

    store = str(tmp_path / "l.db")
    code = ("import sys; from kscli.cli import main; sys.argv = ['kscli', '--store', %r, "
            "'--format', 'json', 'sub', 'list']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(','.join(m for m in sys.modules if m.startswith(('kscli.domain.report', "
            "'kscli.domain.rates', 'kscli.services.report', 'kscli.services.rates', "
            "'kscli.cli.report', 'kscli.cli.rates', 'xml', 'zipfile'))), file=sys.stderr)" % store)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "[]" and done.stderr.strip() == ""


def test_period_starts_are_the_periods_of_period_at():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from kscli.domain.model import Subscription
    from kscli.domain.timeline import period_at, period_starts

    @settings(max_examples=200, deadline=None)
    @given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
           st.sampled_from(["monthly", "annual", "3m", "7m"]),
           st.integers(0, 1500), st.integers(1, 1500))
    def check(started, plan, offset, length):
        from datetime import timedelta

        started = started.replace(tzinfo=timezone.utc)
        sub = Subscription("S-1", "a", "V", "P", plan, "subscription", Decimal(1), "USD",
                           started, started, None, None, True, "active")
        since = started + timedelta(days=offset - 400)
        until = since + timedelta(days=length)
        expected, start = [], period_at(sub, since)[0]
        if start < since:
            start = period_at(sub, start)[1]
        while start < until:
            expected.append(start)
            start = period_at(sub, start)[1]
        assert list(period_starts(sub, since, until)) == expected

    check()


def test_html_to_a_missing_folder_exits_2_and_writes_nothing(ledger, tmp_path):
    with freeze_time(NOW):
        result = ledger("report", "--html", str(tmp_path / "no" / "spend.html"))
    assert result.exit_code == 2 and "--html" in result.stderr and result.stdout == ""
    assert not (tmp_path / "no").exists()


def test_rates_import_reads_a_zipped_daily_file_from_stdin_once(any_store_spec):
    kscli = Kscli(any_store_spec)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("eurofxref-daily.xml", DAILY_XML)
    with freeze_time(NOW):
        first = kscli("rates", "import", "-", input=buffer.getvalue(), fmt="json")
        assert first.exit_code == 0, first.stderr
        assert (first.json()["source"], first.json()["added"]) == ("stdin", 2)
        again = kscli("rates", "import", "-", input=buffer.getvalue())
        assert again.exit_code == 0 and "nothing changed" in again.stdout
        assert "reference" not in again.stdout
        events = [e for e in kscli.json("export")["tables"]["events"]
                  if e["subject"] == "rates"]
    assert len(events) == 1 and json.loads(events[0]["detail"])["days"] == 1


def test_by_subscription_rows_add_up_to_the_months(ledger):
    """Every total can be traced: one row per subscription and currency, and each
    currency's rows sum to the same billed and projected amounts as its months."""
    doc = _report(ledger, "--by", "subscription").json()
    assert [(r["subscription"], r["vendor"], r["currency"], r["billed"], r["projected"])
            for r in doc["rows"]] == [
        ("S-1003", "Initech", "EUR", "30.00", "30.00"), ("S-1004", "Hooli", "EUR", "10.00", "0.00"),
        ("S-1005", "Umbrella", "GBP", "7.00", "14.00"),
        ("S-1001", "Acme", "USD", "30.00", "20.00"), ("S-1002", "Globex", "USD", "120.00", "0.00")]
    for currency in ("EUR", "GBP", "USD"):
        for key in ("billed", "projected"):
            assert sum(Decimal(r[key]) for r in doc["rows"] if r["currency"] == currency) == \
                sum(Decimal(row[4 if key == "total" else 2 if key == "billed" else 3])
                    for row in ROWS if row[1] == currency)


def test_a_price_change_a_plan_change_a_fixed_end_and_a_trial_bill_from_their_dates(any_store_spec):
    """Hand-computed, as of 2026-06-15 (months Apr-Jun, forecast Jul-Aug):

    S-1001 monthly 10 USD from 2026-01-10, 12 USD from 2026-05-10: Apr 10, May 12, Jun 12;
        Jul 12, Aug 12 ahead
    S-1002 monthly 20 EUR from 2026-03-05, 3m from the renewal of 2026-05-05 (edited on
        2026-04-10): Apr 20, May 20 (for three months), then Aug 5 20 ahead
    S-1003 monthly 4 EUR from 2026-01-15, a fixed end on 2026-07-15: Apr 4, May 4, Jun 4;
        nothing on Jul 15 (its end)
    S-1004 monthly 8 USD from 2026-05-20 with a one-month free trial: nothing in May, the
        trial converts on Jun 20 (ahead of the 15th: projected), then Jul 20, Aug 20
    """
    kscli = Kscli(any_store_spec)
    with freeze_time("2026-04-01T09:00:00Z"):
        kscli.json("sub", "add", "--vendor", "Acme", "--product", "P", "--plan", "monthly",
                   "--price", "10.00", "--currency", "USD", "--started", "2026-01-10")
        kscli.json("sub", "add", "--vendor", "Globex", "--product", "P", "--plan", "monthly",
                   "--price", "20.00", "--currency", "EUR", "--started", "2026-03-05")
        kscli.json("sub", "reprice", "S-1001", "--price", "12.00", "--from", "2026-05-10")
        kscli.json("sub", "add", "--vendor", "Initech", "--product", "P", "--plan", "monthly",
                   "--price", "4.00", "--currency", "EUR", "--started", "2026-01-15",
                   "--ends", "2026-07-15")
    with freeze_time("2026-04-10T09:00:00Z"):
        kscli.json("sub", "edit", "S-1002", "--plan", "3m")
    with freeze_time("2026-05-20T09:00:00Z"):
        kscli.json("sub", "add", "--vendor", "Hooli", "--product", "P", "--plan", "monthly",
                   "--price", "8.00", "--currency", "USD", "--started", "2026-05-20",
                   "--trial", "1m")
    doc = _report(kscli).json()
    assert [tuple(r[k] for k in KEYS) for r in doc["rows"]] == [
        ("2026-04", "EUR", "24.00", "0.00", "24.00", "ledger", "past"),
        ("2026-05", "EUR", "24.00", "0.00", "24.00", "ledger", "past"),
        ("2026-06", "EUR", "4.00", "0.00", "4.00", "ledger", "current"),
        ("2026-07", "EUR", "0.00", "0.00", "0.00", "none", "forecast"),
        ("2026-08", "EUR", "0.00", "20.00", "20.00", "ledger", "forecast"),
        ("2026-04", "USD", "10.00", "0.00", "10.00", "ledger", "past"),
        ("2026-05", "USD", "12.00", "0.00", "12.00", "ledger", "past"),
        ("2026-06", "USD", "12.00", "8.00", "20.00", "ledger", "current"),
        ("2026-07", "USD", "0.00", "20.00", "20.00", "ledger", "forecast"),
        ("2026-08", "USD", "0.00", "20.00", "20.00", "ledger", "forecast"),
    ]
    # the yearly cost is the one in force: 12 x 12 USD, 4 x 20 EUR, the trial's 12 x 8 USD
    # once it converts; the plan with a fixed end renews no more
    assert [(t["sub_id"], t["plan"], t["yearly"]) for t in doc["top"]] == [
        ("S-1002", "3m", "80.00"), ("S-1001", "monthly", "144.00"),
        ("S-1004", "monthly", "96.00")]
    renewing = [(i["sub_id"], i["renews_at"][:10]) for i in doc["renewing"]["items"]]
    assert renewing == [("S-1004", "2026-06-20"), ("S-1001", "2026-07-10")]
