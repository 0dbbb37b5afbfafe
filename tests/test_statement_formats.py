"""Statement shapes of our own (so the suite stands without ../shared): CSV options,
OFX, CAMT.053 and MT940, hostile XML, and the import command's summary, dry run,
presets and sign warning."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.conftest import require_module

from kscli.domain.statement import Columns, StatementError
from kscli.domain.statement.formats import detect_format, read_any
from kscli.domain.statement.reading import read_csv


def lines_of(statement):
    return [(line.posted_on.isoformat(), str(line.amount), line.currency) for line in
            statement.lines]


# CSV options ---------------------------------------------------------------------------

def test_card_statement_with_positive_charges_reads_with_debits_positive():
    text = ("date,description,amount\n2026-11-01,ACME,9.99\n2026-11-02,BETA,5.00\n"
            "2026-11-03,GAMMA,1.00\n2026-11-04,PAYMENT THANK YOU,-500.00\n")
    default = read_csv(text, Columns(), "USD")
    assert lines_of(default) == [("2026-11-04", "500.00", "USD")]
    assert any("--debits positive" in w for w in default.warnings)
    card = read_csv(text, Columns(debits="positive"), "USD")
    assert [line.description for line in card.lines] == ["ACME", "BETA", "GAMMA"]
    assert card.credit_totals == {"USD": Decimal("500.00")}


def test_file_with_no_negative_amount_is_all_charges_and_says_so():
    statement = read_csv("date,description,amount\n2026-11-01,ACME,9.99\n", Columns(), "USD")
    assert len(statement.lines) == 1
    assert any("no amount in it is negative" in w for w in statement.warnings)
    strict = read_csv("date,description,amount\n2026-11-01,ACME,9.99\n",
                      Columns(debits="negative"), "USD")
    assert (strict.lines, strict.credits) == ([], 1)


def test_debit_and_credit_columns_and_note_rows():
    text = ('"Title of the export"\n"Date","Text","Out","In"\n"Posted Transactions"\n'
            '"2026-11-01","ACME","$9.99",""\n"2026-11-02","Salary","","$1,000.00"\n')
    statement = read_csv(text, Columns(description="Text", debit_col="Out", credit_col="In"))
    assert lines_of(statement) == [("2026-11-01", "9.99", "USD")]
    assert (statement.credits, statement.notes) == (1, 1)


def test_both_debit_and_credit_on_one_line_stops_naming_the_line():
    text = "date,description,out,in\n2026-11-01,ACME,9.99,1.00\n"
    with pytest.raises(StatementError, match="line 2.*both the debit column"):
        read_csv(text, Columns(debit_col="out", credit_col="in"), "USD")


def test_type_column_says_debit_or_credit():
    text = ("date,description,amount,kind\n2026-11-01,ACME,9.99,debit\n"
            "2026-11-02,Refund,9.99,credit\n2026-11-03,X,1.00,other\n")
    columns = Columns(type_col="kind", debit_value="debit", credit_value="credit")
    with pytest.raises(StatementError, match="line 4.*neither 'debit'"):
        read_csv(text, columns, "USD")
    statement = read_csv(text.rsplit("2026-11-03", 1)[0], columns, "USD")
    assert (lines_of(statement), statement.credits) == ([("2026-11-01", "9.99", "USD")], 1)


def test_no_header_with_columns_by_position_and_skip_rows():
    text = "junk line\n01.11.2026;ACME GmbH;-9,99\n02.11.2026;Lohn;1.000,00\n"
    columns = Columns(date="1", description="2", amount="3", header=False, skip_rows=1,
                      date_format="%d.%m.%Y")
    statement = read_csv(text, columns, "EUR")
    assert lines_of(statement) == [("2026-11-01", "9.99", "EUR")]
    with pytest.raises(StatementError, match="named by position"):
        read_csv(text, Columns(header=False), "EUR")


def test_historic_currency_is_accepted():
    statement = read_csv("date,description,amount,currency\n2022-12-01,ACME,-75.00,HRK\n"
                         "2001-12-01,ALT,-10.00,DEM\n", Columns())
    assert [line.currency for line in statement.lines] == ["HRK", "DEM"]
    with pytest.raises(StatementError, match="not an ISO 4217"):
        read_csv("date,description,amount,currency\n2022-12-01,ACME,-75.00,XYZ\n", Columns())


def test_latin1_file_reads_with_its_encoding():
    data = "date;description;amount\n2026-11-01;Müller;-3,40\n".encode("latin-1")
    statement = read_any(data, None, Columns(encoding="latin-1"), "EUR")
    assert statement.lines[0].description == "Müller"


# OFX, CAMT, MT940 ------------------------------------------------------------------------

OFX_SGML = b"""OFXHEADER:100
DATA:OFXSGML
VERSION:102

<OFX><CREDITCARDMSGSRSV1><CCSTMTTRNRS><CCSTMTRS><CURDEF>USD
<BANKTRANLIST>
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20261101120000[-5:EST]<TRNAMT>-9.99<FITID>1<NAME>ACME CLOUD
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20261102<TRNAMT>500.00<FITID>2<NAME>PAYMENT THANK YOU
</BANKTRANLIST><LEDGERBAL><BALAMT>-12.00<DTASOF>20261130
</CCSTMTRS></CCSTMTTRNRS></CREDITCARDMSGSRSV1></OFX>
"""

OFX_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<?OFX OFXHEADER="200" VERSION="211"?>
<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>EUR</CURDEF><BANKTRANLIST>
<STMTTRN><TRNTYPE>DEBIT</TRNTYPE><DTPOSTED>20261103</DTPOSTED><TRNAMT>-4.50</TRNAMT>
<NAME>Acme</NAME><MEMO>monthly</MEMO></STMTTRN></BANKTRANLIST></STMTRS></STMTTRNRS>
</BANKMSGSRSV1></OFX>
"""


def test_ofx_sgml_and_xml_read_the_transactions_not_the_balance():
    card = read_any(OFX_SGML)
    assert (card.format, lines_of(card), card.credits) == (
        "ofx", [("2026-11-01", "9.99", "USD")], 1)
    assert card.lines[0].description == "ACME CLOUD"
    bank = read_any(OFX_XML)
    assert lines_of(bank) == [("2026-11-03", "4.50", "EUR")]
    assert bank.lines[0].description == "Acme monthly"


CAMT = b"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt><Stmt>
<Acct><Ccy>EUR</Ccy></Acct>
<Bal><Amt Ccy="EUR">100.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Bal>
<Ntry><Amt Ccy="EUR">9.99</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
<BookgDt><DtTm>2026-11-01T10:00:00+01:00</DtTm></BookgDt><NtryDtls><TxDtls><RltdPties>
<Cdtr><Pty><Nm>Acme GmbH</Nm></Pty></Cdtr></RltdPties><RmtInf><Ustrd>Abo 11/2026</Ustrd>
</RmtInf></TxDtls></NtryDtls></Ntry>
<Ntry><Amt Ccy="EUR">5.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>PDNG</Sts>
<BookgDt><Dt>2026-11-02</Dt></BookgDt></Ntry>
<Ntry><Amt Ccy="EUR">50.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2026-11-03</Dt></BookgDt></Ntry>
</Stmt></BkToCstmrStmt></Document>
"""


def test_camt053_reads_booked_entries_only():
    require_module("defusedxml", "statements")
    statement = read_any(CAMT)
    assert (statement.format, lines_of(statement)) == ("camt", [("2026-11-01", "9.99", "EUR")])
    assert statement.lines[0].description == "Acme GmbH Abo 11/2026"
    assert (statement.pending, statement.credits) == (1, 1)


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>
<Ntry><Amt Ccy="EUR">1.00</Amt><AddtlNtryInf>&lol2;</AddtlNtryInf></Ntry>
</Stmt></BkToCstmrStmt></Document>
"""


def test_billion_laughs_and_external_entities_are_refused(tmp_path):
    require_module("defusedxml", "statements")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read me")
    external = BOMB.replace(b'<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">',
                            f'<!ENTITY lol2 SYSTEM "file://{secret}">'.encode())
    for data in (BOMB, external):
        with pytest.raises(StatementError, match="DTD, an entity or an external reference"):
            read_any(data, "camt")
    with pytest.raises(StatementError, match="declares a DTD or an entity"):
        read_any(b"<!DOCTYPE OFX [<!ENTITY x 'y'>]>" + OFX_XML.split(b"?>", 2)[2], "ofx")


MT940 = """:20:STARTUMS
:25:10020030/1234567
:28C:00001/001
:60F:C261031EUR1000,00
:61:2611011101D9,99NDDTNONREF
:86:ACME CLOUD MONTHLY
:61:2611021102C1500,00NTRFNONREF
:86:SALARY
:62F:C261102EUR2490,01
-
"""


def test_mt940_reads_debits_as_charges():
    require_module("mt940", "statements")
    statement = read_any(MT940.encode())
    assert (statement.format, lines_of(statement), statement.credits) == (
        "mt940", [("2026-11-01", "9.99", "EUR")], 1)
    assert "ACME CLOUD" in statement.lines[0].description


def test_detect_format_by_content():
    assert [detect_format(data) for data in (OFX_SGML, OFX_XML, CAMT, MT940.encode(),
                                             b"date,description,amount\n")] == \
        ["ofx", "ofx", "camt", "mt940", "csv"]


# The command -----------------------------------------------------------------------------

def test_dry_run_says_what_it_would_import_and_writes_nothing(kscli, add_sub, tmp_path):
    add_sub(vendor="Acme", price="9.99", currency="USD")
    path = tmp_path / "card.csv"
    path.write_text("date,description,amount\n2026-11-01,ACME,9.99\n2026-11-02,BETA,5.00\n"
                    "2026-11-03,GAMMA,1.00\n2026-11-04,PAYMENT THANK YOU,-500.00\n")
    before = kscli("export").stdout
    result = kscli("charges", "import", str(path), "--currency", "USD", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "would import 1 charge" in result.stderr and "3 credits skipped" in result.stderr
    assert "--debits positive" in result.stderr
    assert "dry run: nothing was written" in result.stderr
    assert "PAYMENT THANK YOU" in result.stdout
    assert json.loads(kscli("export").stdout)["tables"]["charges"] == \
        json.loads(before)["tables"]["charges"] == []
    fixed = kscli("charges", "import", str(path), "--currency", "USD", "--debits", "positive")
    assert fixed.exit_code == 0, fixed.stderr
    assert "imported 3 charges (1 matched, 2 unmatched)" in fixed.stderr
    assert "1 credit skipped (500.00 USD)" in fixed.stderr


def test_presets_list_shipped_and_own_and_an_own_preset_applies(kscli, tmp_path, monkeypatch):
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    folder = config / "kscli" / "presets"
    folder.mkdir(parents=True)
    (folder / "mybank.toml").write_text(
        'title = "My bank"\ndelimiter = ";"\ndate-col = "Tag"\ndescription-col = "Text"\n'
        'amount-col = "Betrag"\ndate-format = "%d.%m.%Y"\ncurrency = "EUR"\n')
    listed = kscli.json("charges", "presets")
    names = {row["name"]: row for row in listed}
    assert {"dkb", "ing-de", "targobank", "schwab", "mint", "revolut", "wise"} <= names.keys()
    assert names["mybank"]["source"].endswith("mybank.toml")
    path = tmp_path / "own.csv"
    path.write_text("Tag;Text;Betrag\n01.11.2026;ACME;-9,99\n")
    result = kscli.json("charges", "import", "--preset", "mybank", str(path))
    assert (result["imported"], result["charges"][0]["amount"],
            result["charges"][0]["currency"]) == (1, "9.99", "EUR")
    assert (result["format"], result["credits"], result["notes"]) == ("csv", 0, 0)
    unknown = kscli("charges", "import", "--preset", "nosuch", str(path))
    assert unknown.exit_code == 2 and "no preset 'nosuch'" in unknown.stderr


def test_broken_xml_and_forced_format_exit_2_and_write_nothing(kscli, tmp_path):
    require_module("defusedxml", "statements")
    path = tmp_path / "bomb.xml"
    path.write_bytes(BOMB)
    result = kscli("charges", "import", str(path))
    assert result.exit_code == 2
    assert "external reference" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "ledger.db").exists() or \
        json.loads(kscli("export").stdout)["tables"]["charges"] == []


def test_cli_options_no_header_skip_rows_encoding_and_forced_format(kscli, tmp_path):
    path = tmp_path / "bank.csv"
    path.write_bytes("Konto 1234\n01.11.2026;Müller GmbH;-9,99;\n02.11.2026;Lohn;;1.000,00\n"
                     .encode("latin-1"))
    refused = kscli("charges", "import", str(path), "--no-header", "--date-col", "1")
    assert refused.exit_code == 2 and "--encoding latin-1" in refused.stderr
    result = kscli.json("charges", "import", str(path), "--no-header", "--skip-rows", "1",
                        "--encoding", "latin-1", "--date-col", "1", "--description-col", "2",
                        "--debit-col", "3", "--credit-col", "4", "--date-format", "%d.%m.%Y",
                        "--currency", "EUR")
    assert [(c["posted_on"], c["description"], c["amount"]) for c in result["charges"]] == [
        ("2026-11-01", "Müller GmbH", "9.99")]
    assert result["credits"] == 1
    forced = kscli("charges", "import", str(path), "--input-format", "ofx")
    assert forced.exit_code == 2 and "not an OFX file" in forced.stderr
    assert "Traceback" not in forced.stderr


def test_bad_preset_option_values_are_refused_with_the_option_named(kscli, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("date,description,amount,kind\n2026-11-01,ACME,9.99,debit\n")
    result = kscli("charges", "import", str(path), "--type-col", "kind")
    assert result.exit_code == 2 and "--type-col needs --debit-value" in result.stderr
    result = kscli("charges", "import", str(path), "--credit-col", "x")
    assert result.exit_code == 2 and "--credit-col needs --debit-col" in result.stderr


def test_shipped_presets_are_in_the_wheel(tmp_path):
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(tmp_path), str(root)], capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stderr
    wheel = next(tmp_path.glob("kscli-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("kscli/presets/statements.toml").decode("utf-8")
    assert shipped == (root / "kscli/presets/statements.toml").read_text(encoding="utf-8")
