"""Every real export in ../shared/fixtures imports with its preset or options, with
the dates, amounts and debit or credit written in the file (values read from the files
by hand), and `charges check` then flags the charge a person would point at."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kscli.domain.statement import Columns, StatementError
from kscli.domain.statement.formats import read_any
from kscli.services.charges import load_presets
from tests.conftest import require_module
from tests.statement_fixtures import real_statements  # noqa: F401 - a fixture

PRESETS = load_presets(None)


def preset_columns(name: str) -> tuple[Columns, str | None]:
    """The Columns a shipped preset sets, as `charges import --preset NAME` builds them."""
    st = PRESETS[name].settings
    description = st.get("description-col", "description")
    return Columns(
        date=st.get("date-col", "date"),
        description=tuple(description) if isinstance(description, list) else (description,),
        amount=st.get("amount-col", "amount"), currency=st.get("currency-col", "currency"),
        date_format=st.get("date-format"), delimiter=st.get("delimiter"),
        debits=st.get("debits"), debit_col=st.get("debit-col"), credit_col=st.get("credit-col"),
        type_col=st.get("type-col"), debit_value=st.get("debit-value"),
        credit_value=st.get("credit-value"), encoding=st.get("encoding"),
        header=not st.get("no-header", False),
        pending_dates=tuple(st.get("pending-dates", ()))), st.get("currency")


# file, preset, charges, credits, one charge (date, amount, currency, words in its text)
CSV_FILES = [
    ("rechnungspilot-dkb.csv", "dkb", 5, 3, ("2025-12-05", "62.30", "EUR", "K.MICHEL")),
    ("rechnungspilot-commerzbank.csv", "commerzbank", 5, 0,
     ("2024-12-31", "10.70", "EUR", "Kontoführung")),
    ("rechnungspilot-sparkasse-lzo-camt-v2.csv", "sparkasse-camt-csv", 6, 4,
     ("2025-12-05", "1143.41", "EUR", "Medien GmbH")),
    ("rechnungspilot-ing-mit-saldo.csv", "ing-de", 17, 3,
     ("2025-12-08", "200.00", "EUR", "Gerhard Zintel")),
    ("rechnungspilot-targobank-duesseldorf.csv", "targobank", 10, 1,
     ("2025-11-05", "8.99", "EUR", "AMAZON")),
    ("rechnungspilot-paypal.csv", "paypal-de", 8, 3, ("2025-06-21", "6.19", "EUR", "Deutsche Post")),
    ("hledger-paypal-custom.csv", "paypal-en", 3, 4, ("2019-10-01", "6.99", "USD", "Calm Radio")),
    ("beancount-import-schwab-EAC_Checking.CSV", "schwab", 5, 7,
     ("2019-11-22", "1234.11", "USD", "Check Paid #1002")),
    ("csv2ofx-capitalone.csv", "capitalone", 1, 1, ("2015-12-31", "1000.00", "USD", "Airplanes")),
    ("csv2ofx-n26-fr.csv", "n26", 1, 1, ("2020-03-07", "328.00", "EUR", "Compte courant")),
    ("bank2ynab-MonzoDataExport_February2018.csv", "monzo-legacy", 1, 0,
     ("2018-02-25", "10.00", "GBP", "Tesco")),
    ("hledger-stripe.csv", "stripe", 1, 1, ("2020-01-23", "0.77", "USD", "REFUND FOR PAYMENT")),
    ("beancount-import-mint.csv", "mint", 2, 1, ("2016-08-10", "2.45", "USD", "Starbucks")),
    ("beancount-import-venmo-transactions.csv", "venmo", 9, 2,
     ("2017-09-02", "559.00", "USD", "Security deposit")),
    ("bank2ynab-johnlewis-card-MS_JANE_SMITH.csv", "john-lewis-card", 9, 1,
     ("2019-12-02", "9.99", "GBP", "Spotify UK")),
    ("hledger-csb43.csv", "csb43", 1, 1, ("2019-11-10", "500.00", "EUR", "MY_EXPENSE_LINE")),
]


def has_charge(statement, day: str, amount: str, currency: str, words: str) -> bool:
    return any(line.posted_on.isoformat() == day and line.amount == Decimal(amount)
               and line.currency == currency and words in line.description
               for line in statement.lines)


@pytest.mark.parametrize("name, preset, charges, credits, charge", CSV_FILES,
                         ids=[case[0] for case in CSV_FILES])
def test_real_csv_export_reads_with_its_preset(real_statements, name, preset, charges,  # noqa: F811
                                               credits, charge):
    columns, currency = preset_columns(preset)
    statement = read_any((real_statements / "statements" / name).read_bytes(), None, columns,
                         currency)
    assert statement.format == "csv"
    assert (len(statement.lines), statement.credits) == (charges, credits)
    assert has_charge(statement, *charge)
    assert not [w for w in statement.warnings if w.startswith("warning")]


def test_schwab_title_and_posted_transactions_rows_are_note_rows(real_statements):  # noqa: F811
    columns, currency = preset_columns("schwab")
    statement = read_any((real_statements / "statements" /
                          "beancount-import-schwab-EAC_Checking.CSV").read_bytes(),
                         None, columns, currency)
    assert statement.notes == 2
    assert statement.credit_totals["USD"] == Decimal("3.00") + Decimal("20000.00") + \
        Decimal("10500.00") + Decimal("1.56") + Decimal("2500.00") + Decimal("0.09") + \
        Decimal("1234.56")


def test_john_lewis_pending_rows_and_the_cr_payment_are_not_charges(real_statements):  # noqa: F811
    columns, currency = preset_columns("john-lewis-card")
    statement = read_any((real_statements / "statements" /
                          "bank2ynab-johnlewis-card-MS_JANE_SMITH.csv").read_bytes(),
                         None, columns, currency)
    assert statement.pending == 3
    assert statement.credit_totals == {"GBP": Decimal("1100.00")}
    assert not has_charge(statement, "2019-12-02", "1100.00", "GBP", "PAYMENT")


def test_ing_short_row_is_read_from_its_end_and_said(real_statements):  # noqa: F811
    columns, currency = preset_columns("ing-de")
    statement = read_any((real_statements / "statements" /
                          "rechnungspilot-ing-mit-saldo.csv").read_bytes(), None, columns,
                         currency)
    assert statement.credit_totals["EUR"] >= Decimal("2647.74")
    assert any("line 23 has 6" in w for w in statement.warnings)


def test_generic_statement_keeps_the_same_debit_twice_on_one_day(real_statements):  # noqa: F811
    statement = read_any((real_statements / "statements" /
                          "beancount-import-generic_statement.csv").read_bytes(), None,
                         Columns(), "INR")
    google = [line for line in statement.lines if "GOOGLE CLOUD" in line.description]
    assert [(line.posted_on.isoformat(), line.amount) for line in google] == \
        [("2020-01-01", Decimal("1.00"))] * 2
    assert google[0].line_hash != google[1].line_hash


OFX_FILES = [
    ("statements/beangulp-ofxdownload.ofx", 12, 0, ("2013-12-01", "9.99", "USD", "SPOTIFY USA")),
    ("ofx/ofxparse-bank_medium.ofx", 3, 0, ("2009-04-02", "316.67", "CAD", "Joe's Bald")),
    ("ofx/ofxparse-chase_cc.qfx", 1, 0, ("2020-01-01", "10.00", "USD", "SQ *ECCO UN POCO ¦")),
    ("ofx/ofxtools-stmtrs.ofx", 2, 0, ("2005-10-20", "300.00", "USD", "ATM")),
    ("ofx/ofxtools-br_nubank_cc.ofx", 6, 0, ("2024-03-23", "13.00", "BRL", "memo")),
    ("ofx/ofxparse-ofx-v102-empty-tags.ofx", 0, 1, None),
    ("ofx/ofxparse-bank_small.ofx", 0, 0, None),
    ("ofx/ofxparse-multiple_accounts.ofx", 0, 0, None),
    ("camt/genkgo-camt053.v2.minimal.xml", 0, 1, None),
    ("camt/genkgo-camt053.v4.xml", 0, 1, None),
    ("camt/genkgo-camt053.v8.xml", 0, 1, None),
    ("camt/genkgo-camt053.v2.multi.statement.xml", 1, 1, ("2014-12-31", "7.00", "EUR", "")),
    ("camt/genkgo-camt054.v2.xml", 1, 0, ("2007-10-18", "200000.00", "SEK", "")),
    ("camt/oca-test-camt053.xml", 2, 1, ("2014-01-05", "754.25", "EUR", "INSURANCE COMPANY")),
    ("camt/oca-test-camt053-txdtls.xml", 0, 1, None),
    ("mt940/jejik-abnamro.sta", 10, 0, ("2011-05-24", "9.00", "EUR", "KPN - DIGITENNE")),
    ("mt940/jejik-rabobank.sta", 5, 0, ("2011-05-27", "1213.28", "EUR", "Terugboeking")),
    ("mt940/jejik-triodos.sta", 2, 0, ("2011-01-25", "700.00", "EUR", "HUUR")),
    ("mt940/jejik-ing.sta", 5, 2, ("2010-07-22", "25.03", "EUR", "AFREKENING")),
    ("mt940/betterplace-sepa_mt9401.sta", 56, 41, None),
    ("mt940/mBank-mt940.sta", 0, 3, None),
]


@pytest.mark.parametrize("name, charges, credits, charge", OFX_FILES,
                         ids=[case[0] for case in OFX_FILES])
def test_real_ofx_camt_and_mt940_files_read_by_content(real_statements, name, charges,  # noqa: F811
                                                      credits, charge):
    if name.endswith(".sta"):
        require_module("mt940", "statements")
    if name.endswith(".xml"):
        require_module("defusedxml", "statements")
    statement = read_any((real_statements / name).read_bytes())
    expected = {"ofx": "ofx", "qfx": "ofx", "xml": "camt", "sta": "mt940"}[name.rsplit(".", 1)[1]]
    assert statement.format == expected
    assert (len(statement.lines), statement.credits) == (charges, credits)
    if charge is not None:
        assert has_charge(statement, *charge)


def test_malformed_ofx_is_refused_naming_the_line(real_statements):  # noqa: F811
    with pytest.raises(StatementError, match=r"line \d+, column 'TRNAMT': TRNAMT '\$120'"):
        read_any((real_statements / "ofx/ofxparse-fail_nice-decimal_error.ofx").read_bytes())


def test_check_flags_the_spotify_charge_after_its_cancellation(real_statements, tmp_path):  # noqa: F811
    from freezegun import freeze_time

    from tests.conftest import Kscli

    kscli = Kscli(str(tmp_path / "ledger.db"))
    with freeze_time("2019-10-02T09:00:00Z"):
        sub = kscli.json("sub", "add", "--vendor", "Spotify", "--product", "Premium",
                         "--plan", "monthly", "--price", "9.99", "--currency", "GBP")
    with freeze_time("2019-10-20T09:00:00Z"):
        cancel = kscli("sub", "cancel", sub["id"], "--yes")
        assert cancel.exit_code == 0, cancel.stderr
    with freeze_time("2019-12-20T09:00:00Z"):
        imported = kscli("charges", "import", "--preset", "john-lewis-card", str(
            real_statements / "statements/bank2ynab-johnlewis-card-MS_JANE_SMITH.csv"))
        assert imported.exit_code == 0, imported.stderr
        assert "1 credit skipped (1100.00 GBP)" in imported.stderr
        assert "3 pending skipped" in imported.stderr
        found = kscli("--format", "json", "charges", "check")
    assert found.exit_code == 1
    import json

    findings = json.loads(found.stdout)
    assert [(f["sub_id"], f["posted_on"], f["amount"], f["kind"]) for f in findings] == [
        (sub["id"], "2019-12-02", "9.99", "after-cancellation")]
