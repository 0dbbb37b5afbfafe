"""Bank statements: parsing, matching lines to subscriptions, unexpected charges."""

from __future__ import annotations

from datetime import date, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kscli.domain.model import Charge, Event, Subscription
from kscli.domain.statement import (
    DISPUTE_NOTE,
    Columns,
    StatementError,
    StatementLine,
    decode_statement,
    find_unexpected,
    match_line,
    parse_statement,
)

from tests.helpers import at

UTC = timezone.utc


def csv_of(*rows: str, header: str = "date,description,amount,currency") -> str:
    return "\n".join((header, *rows)) + "\n"


def sub(
    sub_id: str = "S-1",
    *,
    vendor: str = "Acme",
    price: str = "9.99",
    currency: str = "USD",
    plan: str = "monthly",
    started: str = "2026-01-15",
    period_start: str | None = None,
    period_end: str | None = "2026-12-15",
    status: str = "active",
    auto_renew: bool = True,
    ended_at: str | None = None,
    commitment_end: str | None = None,
    cancelled_at: str | None = None,
) -> Subscription:
    return Subscription(
        id=sub_id,
        account="me",
        vendor=vendor,
        product="Cloud",
        plan=plan,
        kind="subscription",
        price=Decimal(price),
        currency=currency,
        started_at=at(started),
        period_start=at(period_start or started),
        period_end=at(period_end) if period_end else None,
        commitment_end=at(commitment_end) if commitment_end else None,
        auto_renew=auto_renew,
        status=status,
        ended_at=at(ended_at) if ended_at else None,
        cancelled_at=at(cancelled_at) if cancelled_at else None,
    )


def line(description: str, amount: str, currency: str = "USD", day: str = "2026-03-01") -> StatementLine:
    return StatementLine(2, date.fromisoformat(day), description, Decimal(amount), currency, "h")


def charge(charge_id: str, day: str, sub_id: str | None = "S-1", amount: str = "9.99",
           currency: str = "USD") -> Charge:
    return Charge(charge_id, date.fromisoformat(day), "ACME", Decimal(amount), currency,
                  f"hash-{charge_id}", sub_id=sub_id)


def event(action: str, when: str, reference: str, subject: str = "S-1") -> Event:
    return Event(reference=reference, at=at(when), subject=subject, action=action)


def raises(text: str, columns: Columns = Columns(), default: str | None = None) -> StatementError:
    with pytest.raises(StatementError) as info:
        parse_statement(text, columns, default)
    return info.value


# ---------------------------------------------------------------------------
# Parsing


def test_default_columns_read_date_description_amount_currency():
    lines = parse_statement(csv_of("2026-11-22,ACME CLOUD 1234,9.99,usd"), Columns())
    assert lines == [
        StatementLine(2, date(2026, 11, 22), "ACME CLOUD 1234", Decimal("9.99"), "USD",
                      lines[0].line_hash)
    ]
    assert len(lines[0].line_hash) == 64


def test_header_names_match_case_insensitively_and_description_spaces_collapse():
    lines = parse_statement("Date,Description,AMOUNT\n2026-11-22,  Acme    Cloud ,9.99\n",
                            Columns(), "EUR")
    assert lines[0].description == "Acme Cloud"
    assert lines[0].currency == "EUR"


def test_german_export_with_own_columns_semicolon_and_european_amounts():
    text = (
        "Umsätze Girokonto;DE12 3456\n"
        "\n"
        "Buchungstag;Verwendungszweck;Betrag;Währung\n"
        "22.11.2026;ACME Cloud GmbH;-1.234,56;EUR\n"
        "23.11.2026;Gehalt;2.500,00;EUR\n"
        "24.11.2026;\"Jetbrains; s.r.o.\";-9,99;EUR\n"
    )
    columns = Columns(date="Buchungstag", description="Verwendungszweck", amount="Betrag",
                      currency="Währung", date_format="%d.%m.%Y")
    lines = parse_statement(text, columns)
    assert [(x.line_no, x.posted_on, x.description, x.amount, x.currency) for x in lines] == [
        (4, date(2026, 11, 22), "ACME Cloud GmbH", Decimal("1234.56"), "EUR"),
        (6, date(2026, 11, 24), "Jetbrains; s.r.o.", Decimal("9.99"), "EUR"),
    ]


def test_negative_debits_are_charges_and_positive_credits_are_skipped():
    lines = parse_statement(csv_of("2026-01-01,Acme,-9.99,USD", "2026-01-02,Refund Acme,9.99,USD",
                                   "2026-01-03,Other,-20.00,USD"))
    assert [(x.description, x.amount) for x in lines] == [
        ("Acme", Decimal("9.99")),
        ("Other", Decimal("20.00")),
    ]


def test_all_positive_amounts_are_all_charges_and_zero_lines_are_skipped():
    lines = parse_statement(csv_of("2026-01-01,Acme,9.99,USD", "2026-01-02,Hold,0.00,USD",
                                   "2026-01-03,Other,20,USD"))
    assert [x.amount for x in lines] == [Decimal("9.99"), Decimal("20.00")]


@pytest.mark.parametrize(
    ("written", "amount", "currency"),
    [
        ("1,234.56", "1234.56", "USD"),
        ("1.234,56", "1234.56", "USD"),
        ("1 234,56", "1234.56", "USD"),
        ("1\u00a0234,56", "1234.56", "USD"),
        ("1'234.56", "1234.56", "USD"),
        ("1,234,567.89", "1234567.89", "USD"),
        ("1,234", "1234.00", "USD"),
        ("9,99", "9.99", "USD"),
        ("$9.99", "9.99", "USD"),
        ("9.99 USD", "9.99", "USD"),
        ("EUR 9.99", "9.99", "EUR"),
        ("€ 9,99", "9.99", "EUR"),
        ("9,99 €", "9.99", "EUR"),
        ("£5", "5.00", "GBP"),
        ("¥1,200", "1200", "JPY"),
        ("+9.99", "9.99", "USD"),
    ],
)
def test_amount_forms_are_read_as_decimals(written, amount, currency):
    text = csv_of(f'2026-01-01,Acme,"{written}"', header="date,description,amount")
    default = None if any(mark in written for mark in "$€£¥") or "USD" in written or "EUR" in written \
        else "USD"
    lines = parse_statement(text, Columns(), default)
    assert lines[0].amount == Decimal(amount)
    assert str(lines[0].amount) == amount
    assert lines[0].currency == currency


def test_lone_group_of_three_decimals_follows_the_decimal_mark_of_the_file():
    us = csv_of("2026-01-01,Acme,1.500,USD", "2026-01-02,Acme,9.99,USD")
    german = csv_of("2026-01-01,Acme,1.500,EUR", "2026-01-02,Acme,\"9,99\",EUR")
    alone = csv_of("2026-01-01,Acme,1.500,EUR")
    assert parse_statement(us)[0].amount == Decimal("1.50")
    assert parse_statement(german)[0].amount == Decimal("1500.00")
    assert parse_statement(alone)[0].amount == Decimal("1500.00")


@pytest.mark.parametrize("written", ["-$9.99", "$-9.99", "(9.99)", "($9.99)", "9,99-", "\u22129.99"])
def test_negative_forms_are_debits(written):
    text = csv_of(f'2026-01-01,Acme,"{written}"', '2026-01-02,Credit,"$1.00"',
                  header="date,description,amount")
    lines = parse_statement(text, Columns(), "USD")
    assert [(x.description, x.amount) for x in lines] == [("Acme", Decimal("9.99"))]


def test_dollar_sign_gives_usd_only_when_no_default_currency_is_given():
    text = csv_of("2026-01-01,Acme,$9.99", header="date,description,amount")
    assert parse_statement(text, Columns())[0].currency == "USD"
    assert parse_statement(text, Columns(), "CAD")[0].currency == "CAD"


def test_euro_sign_wins_over_the_default_currency():
    text = csv_of("2026-01-01,Acme,€9.99", header="date,description,amount")
    assert parse_statement(text, Columns(), "USD")[0].currency == "EUR"


def test_empty_currency_cell_falls_back_to_the_default():
    lines = parse_statement(csv_of("2026-01-01,Acme,9.99,"), Columns(), "eur")
    assert lines[0].currency == "EUR"


def test_currency_column_can_be_ignored():
    text = csv_of("2026-01-01,Acme,9.99,not-a-code")
    lines = parse_statement(text, Columns(currency=None), "GBP")
    assert lines[0].currency == "GBP"


def test_iso_datetime_in_the_date_column_gives_its_date():
    lines = parse_statement(csv_of("2026-01-01T23:30:00Z,Acme,9.99,USD"))
    assert lines[0].posted_on == date(2026, 1, 1)


@pytest.mark.parametrize(("delimiter", "given"), [("\t", None), ("|", None), ("\t", "tab"),
                                                  (";", ";")])
def test_tab_and_pipe_delimiters_are_sniffed_or_given(delimiter, given):
    text = delimiter.join(["date", "description", "amount"]) + "\n" + delimiter.join(
        ["2026-01-01", "Acme, Inc", "1,234.50"]) + "\n"
    lines = parse_statement(text, Columns(delimiter=given), "USD")
    assert (lines[0].description, lines[0].amount) == ("Acme, Inc", Decimal("1234.50"))


def test_quoted_newline_keeps_later_line_numbers_true_to_the_file():
    text = csv_of('2026-01-01,"two\nlines",1.00,USD', "2026-01-02,Acme,bad,USD")
    error = raises(text)
    assert (error.line, error.column) == (4, "amount")


def test_header_only_statement_has_no_lines():
    assert parse_statement("date,description,amount\n", Columns(), "USD") == []


# Line hashes -----------------------------------------------------------------


def test_same_statement_gives_the_same_hashes():
    text = csv_of("2026-01-01,Acme,9.99,USD", "2026-01-02,Other,5.00,USD")
    first = [x.line_hash for x in parse_statement(text)]
    second = [x.line_hash for x in parse_statement(text)]
    assert first == second
    assert len(set(first)) == 2


def test_two_identical_charges_on_one_statement_are_both_kept_with_different_hashes():
    text = csv_of("2026-01-01,Acme,9.99,USD", "2026-01-01,Acme,9.99,USD")
    lines = parse_statement(text)
    assert len(lines) == 2
    assert lines[0].line_hash != lines[1].line_hash


def test_overlapping_statement_repeats_the_hashes_of_the_shared_lines():
    january = csv_of("2026-01-30,Acme,9.99,USD", "2026-01-31,Acme,9.99,USD")
    later = csv_of("2026-01-31,acme,9.990,usd", "2026-02-01,Acme,9.99,USD")
    old = {x.line_hash for x in parse_statement(january)}
    new = [x.line_hash for x in parse_statement(later)]
    assert new[0] in old
    assert new[1] not in old


def test_hash_changes_with_the_amount():
    one = parse_statement(csv_of("2026-01-01,Acme,9.99,USD"))[0].line_hash
    two = parse_statement(csv_of("2026-01-01,Acme,9.98,USD"))[0].line_hash
    assert one != two


# Errors ----------------------------------------------------------------------


def test_empty_file_is_an_error_on_line_one():
    for text in ("", "  \n\n"):
        error = raises(text)
        assert (error.line, error.column) == (1, None)
        assert "empty" in str(error)


def test_missing_column_names_it_the_file_columns_and_the_option():
    error = raises("Buchungstag;Text;Betrag\n22.11.2026;Acme;9,99\n")
    assert (error.line, error.column) == (1, "date")
    assert str(error) == (
        "line 1: the statement has no column 'date' (its columns are: Buchungstag, Text, "
        "Betrag): name it with --date-col"
    )


def test_missing_amount_column_names_amount():
    error = raises("date,description,value\n2026-01-01,Acme,9.99\n")
    assert error.column == "amount"
    assert "--amount-col" in str(error)


def test_a_currency_column_named_by_the_user_must_exist():
    error = raises(csv_of("2026-01-01,Acme,9.99,USD"), Columns(currency="Währung"))
    assert (error.line, error.column) == (1, "Währung")


def test_bad_amount_names_line_and_column():
    error = raises(csv_of("2026-01-01,Acme,9.99,USD", "2026-01-02,Acme,\"12,3x\",USD"))
    assert (error.line, error.column) == (3, "amount")
    assert str(error) == (
        "line 3, column 'amount': '12,3x' is not an amount (use --amount-col to pick another column)"
    )


@pytest.mark.parametrize("written", ["", "USD", "1.2.3", "9..99", "1,2,3.4", "--9", "$9.99 EUR",
                                     "1 234.567,8.9", "9.99 XYZ", "12 34"])
def test_unreadable_amounts_are_errors_on_the_amount_column(written):
    error = raises(csv_of(f'2026-01-01,Acme,"{written}",USD'))
    assert (error.line, error.column) == (2, "amount")


def test_more_decimals_than_the_currency_has_is_an_error():
    error = raises(csv_of("2026-01-01,Acme,9.9999,USD"))
    assert (error.line, error.column) == (2, "amount")
    assert "more decimals than USD" in str(error)
    assert "more decimals than USD" in str(raises(csv_of("2026-01-01,Acme,0.999,USD")))
    assert parse_statement(csv_of("2026-01-01,Acme,1.500,KWD"))[0].amount == Decimal("1.500")


def test_amount_currency_that_contradicts_the_currency_column_is_an_error():
    error = raises(csv_of("2026-01-01,Acme,9.99 EUR,USD"))
    assert (error.line, error.column) == (2, "amount")
    assert "EUR" in str(error) and "USD" in str(error)


def test_bad_iso_date_names_line_column_and_the_date_format_option():
    error = raises(csv_of("2026-01-01,Acme,9.99,USD", "22.11.2026,Acme,9.99,USD"))
    assert (error.line, error.column) == (3, "date")
    assert "'22.11.2026'" in str(error) and "--date-format" in str(error)


def test_bad_date_with_a_format_names_the_format():
    error = raises(csv_of("31.02.2026,Acme,9.99,USD"), Columns(date_format="%d.%m.%Y"))
    assert (error.line, error.column) == (2, "date")
    assert "%d.%m.%Y" in str(error)


def test_a_date_format_still_accepts_iso_dates():
    lines = parse_statement(csv_of("2026-02-03,Acme,9.99,USD"), Columns(date_format="%m/%d/%Y"))
    assert lines[0].posted_on == date(2026, 2, 3)


def test_unknown_currency_names_line_and_column():
    error = raises(csv_of("2026-01-01,Acme,9.99,USD", "2026-01-02,Acme,9.99,EURO"))
    assert (error.line, error.column) == (3, "currency")
    assert "'EURO'" in str(error)


def test_line_without_any_currency_is_an_error():
    error = raises(csv_of("2026-01-01,Acme,9.99", header="date,description,amount"))
    assert (error.line, error.column) == (2, "amount")
    assert "no currency" in str(error)


def test_bad_default_currency_is_an_error():
    error = raises(csv_of("2026-01-01,Acme,9.99,USD"), default="dollars")
    assert error.line is None


def test_extra_fields_point_at_quoting_or_the_delimiter():
    error = raises(csv_of("2026-01-01,Acme,1,234.56,USD"))
    assert error.line == 2
    assert "--delimiter" in str(error)


def test_too_few_fields_name_the_column_out_of_reach():
    error = raises(csv_of("2026-01-01,Acme"))
    assert (error.line, error.column) == (2, "amount")


def test_unterminated_quote_is_an_error_on_its_line():
    error = raises(csv_of("2026-01-01,Acme,9.99,USD", '2026-01-02,"Acme,9.99,USD',
                          "2026-01-03,Acme,9.99,USD"))
    assert error.line == 3


def test_parsing_is_all_or_nothing():
    with pytest.raises(StatementError):
        parse_statement(csv_of("2026-01-01,Acme,9.99,USD", "2026-01-02,Acme,9.99,USD",
                               "not a date,Acme,9.99,USD"))


def test_statement_error_is_a_value_error_with_a_stable_code():
    error = raises("")
    assert isinstance(error, ValueError)
    assert error.code == "bad-statement"


# Decoding --------------------------------------------------------------------


def test_utf8_with_a_byte_order_mark_is_read_without_it():
    data = "date,description,amount,currency\n2026-01-01,Café Acme,9.99,EUR\n".encode("utf-8-sig")
    text = decode_statement(data)
    assert text.startswith("date")
    assert parse_statement(text)[0].description == "Café Acme"


def test_latin1_statement_is_an_error_naming_the_line_of_the_bad_byte():
    data = "date,description,amount\n2026-01-01,Acme,9.99\n2026-01-02,Müller,1.00\n".encode("latin-1")
    with pytest.raises(StatementError) as info:
        decode_statement(data)
    assert info.value.line == 3
    assert "UTF-8" in str(info.value) and "re-save" in str(info.value)


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_byte_order_marks_of_utf8_and_utf16_are_recognised(codec):
    text = "date,description,amount\n2026-01-01,Café,-9.99\n"
    data = text.encode(codec)
    if codec in ("utf-16-le", "utf-16-be"):
        data = ("\ufeff" + text).encode(codec)
    assert decode_statement(data) == text


def test_encoding_option_reads_latin1_and_an_unknown_encoding_is_refused():
    data = "date,description,amount\n2026-01-02,Müller,1.00\n".encode("latin-1")
    assert "Müller" in decode_statement(data, "latin-1")
    with pytest.raises(StatementError, match="not an encoding"):
        decode_statement(data, "klingon-8")
    with pytest.raises(StatementError, match="--encoding latin-1"):
        decode_statement(data)


# Fuzz ------------------------------------------------------------------------

_CSV_ALPHABET = st.sampled_from(list("0123456789-.,;|\t\n\r\"'() $€£¥USDEUR:TZ/ dateamountdescription"))


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=200), st.text(_CSV_ALPHABET, max_size=200)),
       st.sampled_from([None, "USD"]))
def test_parse_statement_on_any_text_raises_nothing_but_statement_error(text, default):
    for body in (text, "date,description,amount,currency\n" + text):
        try:
            lines = parse_statement(body, Columns(), default)
        except StatementError:
            continue
        assert all(x.amount > 0 for x in lines)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_any_amount_cell_parses_or_raises_statement_error(cell):
    text = 'date,description,amount\n2026-01-01,Acme,"' + cell.replace('"', '""') + '"\n'
    try:
        lines = parse_statement(text, Columns(date_format="%d.%m.%Y"), "USD")
    except StatementError as error:
        assert error.line in (1, 2)
        return
    assert all(isinstance(x.amount, Decimal) and x.amount > 0 for x in lines)


# ---------------------------------------------------------------------------
# Matching


def test_vendor_matches_case_insensitively_ignoring_punctuation():
    subs = [sub("S-1", vendor="GitHub"), sub("S-2", vendor="Google Workspace")]
    assert match_line(line("PAYPAL *GITHUB.COM 4029357733", "9.99"), subs) == "S-1"
    assert match_line(line("GOOGLE*WORKSPACE ACME", "9.99"), subs) == "S-2"


def test_another_amount_still_matches_and_the_price_in_force_is_preferred():
    # a line of another amount is matched (`charges check` reports price-changed) ...
    assert match_line(line("ACME CLOUD", "10.99"), [sub(vendor="Acme", price="9.99")]) == "S-1"
    # ... but a subscription of that name whose price is the amount comes first
    subs = [sub("S-1", vendor="Acme", price="10.99"), sub("S-2", vendor="Acme", price="9.99")]
    assert match_line(line("ACME CLOUD", "9.990"), subs) == "S-2"
    assert match_line(line("ACME CLOUD", "10.99"), subs) == "S-1"
    # neither: the closest price
    assert match_line(line("ACME CLOUD", "9.49"), subs) == "S-2"


def test_currency_must_equal():
    subs = [sub(vendor="Acme", currency="USD")]
    assert match_line(line("ACME CLOUD", "9.99", currency="CAD"), subs) is None


def test_vendor_missing_from_the_description_is_no_match():
    assert match_line(line("NETFLIX.COM", "9.99"), [sub(vendor="Acme")]) is None
    assert match_line(line("NETFLIX.COM", "9.99"), [sub(vendor="***")]) is None


def test_longest_vendor_name_wins():
    subs = [sub("S-1", vendor="Google"), sub("S-2", vendor="Google Cloud")]
    assert match_line(line("GOOGLE CLOUD EMEA", "9.99"), subs) == "S-2"
    assert match_line(line("GOOGLE STORAGE", "9.99"), subs) == "S-1"


def test_tie_prefers_the_subscription_in_service_on_the_date():
    old = sub("S-1", started="2025-01-10", period_end="2025-06-10", status="expired",
              auto_renew=False, ended_at="2025-06-10")
    new = sub("S-2", started="2025-07-01", period_end="2026-08-01")
    assert match_line(line("ACME", "9.99", day="2025-09-01"), [old, new]) == "S-2"
    assert match_line(line("ACME", "9.99", day="2025-03-01"), [new, old]) == "S-1"


def test_remaining_tie_prefers_the_lowest_id():
    subs = [sub("S-10"), sub("S-9")]
    assert match_line(line("ACME", "9.99"), subs) == "S-9"


# ---------------------------------------------------------------------------
# Check


def cancelled_sub() -> Subscription:
    return sub(status="cancelled", auto_renew=False, period_start="2026-03-15",
               period_end="2026-04-15", cancelled_at="2026-03-20")


CANCEL = event("cancelled", "2026-03-20T10:00:00", "KS-20260320-7Q2K9M")


def test_charge_on_the_last_day_of_the_paid_period_after_cancellation_is_not_flagged():
    found = find_unexpected([cancelled_sub()], [charge("C-1", "2026-04-14")], [CANCEL])
    assert found == []


def test_charge_on_the_renewal_day_after_a_cancellation_is_flagged_with_its_reference():
    """The renewal day belongs to the next period, which was never to be billed."""
    found = find_unexpected([cancelled_sub()], [charge("C-1", "2026-04-15")], [CANCEL])
    assert len(found) == 1
    finding = found[0]
    assert finding.kind == "after-cancellation"
    assert (finding.sub_id, finding.charge_id) == ("S-1", "C-1")
    assert finding.posted_on == date(2026, 4, 15)
    assert (finding.amount, finding.currency) == (Decimal("9.99"), "USD")
    assert finding.service_ended == date(2026, 4, 15)
    assert finding.reference == "KS-20260320-7Q2K9M"
    for part in ("S-1", "on or after 2026-04-15", "9.99 USD", "KS-20260320-7Q2K9M"):
        assert part in finding.message
    assert finding.message.endswith(DISPUTE_NOTE)
    assert DISPUTE_NOTE == "a dispute with the bank is not a cancellation"


def test_immediate_cancellation_uses_the_day_service_ended():
    expired = sub(status="expired", auto_renew=False, period_start="2026-03-15",
                  period_end="2026-04-15", ended_at="2026-03-20T10:00:00",
                  cancelled_at="2026-03-20T10:00:00")
    charges = [charge("C-1", "2026-03-20"), charge("C-2", "2026-03-21")]
    found = find_unexpected([expired], charges, [CANCEL])
    assert [(f.kind, f.charge_id, f.service_ended) for f in found] == [
        ("after-cancellation", "C-2", date(2026, 3, 20))
    ]


def renew_off_sub(**kw) -> Subscription:
    values = dict(status="expired", auto_renew=False, period_start="2026-03-15",
                  period_end="2026-04-15", ended_at="2026-04-15")
    values.update(kw)
    return sub(**values)


RENEW_OFF = event("renew-off", "2026-03-25T08:00:00", "KS-20260325-AAAAAA")


def test_charge_after_renew_off_on_or_past_the_period_end_is_flagged():
    charges = [charge("C-0", "2026-04-14"), charge("C-1", "2026-04-15"),
               charge("C-2", "2026-04-16")]
    found = find_unexpected([renew_off_sub()], charges, [RENEW_OFF])
    assert [(f.kind, f.charge_id, f.reference) for f in found] == [
        ("after-end", "C-1", "KS-20260325-AAAAAA"),
        ("after-end", "C-2", "KS-20260325-AAAAAA"),
    ]
    assert found[0].service_ended == date(2026, 4, 15)
    assert "2026-04-15" in found[0].message and "KS-20260325-AAAAAA" in found[0].message
    assert found[0].message.endswith(DISPUTE_NOTE)


def test_renew_on_after_renew_off_makes_later_charges_expected():
    active = sub(period_start="2026-04-15", period_end="2026-05-15")
    events = [RENEW_OFF, event("renew-on", "2026-03-30T08:00:00", "KS-20260330-BBBBBB")]
    assert find_unexpected([active], [charge("C-1", "2026-04-16")], events) == []


def test_renew_off_on_an_active_subscription_flags_charges_after_its_period_end():
    active = sub(period_start="2026-03-15", period_end="2026-04-15", auto_renew=False)
    found = find_unexpected([active], [charge("C-1", "2026-04-16")], [RENEW_OFF])
    assert [f.kind for f in found] == ["after-end"]


def test_renew_off_inside_a_commitment_expects_charges_until_the_commitment_ends():
    committed = sub(started="2026-01-15", period_start="2026-03-15", period_end="2026-04-15",
                    auto_renew=False, commitment_end="2026-07-15")
    charges = [charge("C-1", "2026-05-15"), charge("C-2", "2026-06-15"),
               charge("C-3", "2026-07-15")]
    found = find_unexpected([committed], charges, [RENEW_OFF])
    assert [(f.charge_id, f.service_ended) for f in found] == [("C-3", date(2026, 7, 15))]


def test_refunded_subscription_flags_a_charge_on_or_after_the_refund_day():
    refunded = sub(status="refunded", auto_renew=False, ended_at="2026-03-20T12:00:00")
    events = [event("refunded", "2026-03-20T12:00:00", "KS-20260320-REFUND")]
    charges = [charge("C-0", "2026-03-19"), charge("C-1", "2026-03-20"),
               charge("C-2", "2026-04-15")]
    found = find_unexpected([refunded], charges, events)
    assert [(f.kind, f.charge_id) for f in found] == [
        ("after-refund", "C-1"),
        ("after-refund", "C-2"),
    ]
    assert found[0].reference == "KS-20260320-REFUND"
    assert found[0].service_ended == date(2026, 3, 20)
    assert found[0].message.endswith(DISPUTE_NOTE)


def test_second_charge_in_one_billing_period_is_a_duplicate():
    active = sub(started="2026-01-15")
    charges = [charge("C-1", "2026-02-15"), charge("C-2", "2026-03-14"),
               charge("C-3", "2026-03-15")]
    found = find_unexpected([active], charges, [])
    assert [(f.kind, f.charge_id, f.reference) for f in found] == [("duplicate-in-period", "C-2", None)]
    assert "2026-02-15" in found[0].message and "C-1" in found[0].message
    assert "S-1" in found[0].message and "9.99 USD" in found[0].message


def test_duplicate_periods_are_counted_from_the_start_through_short_months():
    active = sub(started="2026-01-31", period_end="2026-12-31")
    # periods: 31 Jan, 28 Feb, 31 Mar: 28 Feb and 30 Mar fall in one period, 31 Mar in the next
    charges = [charge("C-1", "2026-02-28"), charge("C-2", "2026-03-31")]
    assert find_unexpected([active], charges, []) == []
    found = find_unexpected([active], [charge("C-1", "2026-02-28"), charge("C-2", "2026-03-30")], [])
    assert [f.charge_id for f in found] == ["C-2"]


def test_annual_plan_periods_hold_a_year():
    annual = sub(plan="annual", price="99.00", started="2025-06-01", period_end="2026-06-01")
    charges = [charge("C-1", "2025-06-01", amount="99.00"), charge("C-2", "2026-05-31", amount="99.00"),
               charge("C-3", "2026-06-01", amount="99.00")]
    found = find_unexpected([annual], charges, [])
    assert [f.charge_id for f in found] == ["C-2"]


def test_unmatched_charges_are_not_findings():
    charges = [charge("C-1", "2026-04-20", sub_id=None), charge("C-2", "2026-04-20", sub_id="S-404")]
    assert find_unexpected([cancelled_sub()], charges, [CANCEL]) == []


def test_since_reports_only_charges_posted_on_or_after_it():
    charges = [charge("C-1", "2026-04-16"), charge("C-2", "2026-05-16")]
    found = find_unexpected([cancelled_sub()], charges, [CANCEL], since=date(2026, 5, 1))
    assert [f.charge_id for f in found] == ["C-2"]


def test_since_still_counts_an_earlier_charge_as_the_first_of_its_period():
    active = sub(started="2026-01-15")
    charges = [charge("C-1", "2026-02-16"), charge("C-2", "2026-02-20")]
    found = find_unexpected([active], charges, [], since=date(2026, 2, 18))
    assert [(f.kind, f.charge_id) for f in found] == [("duplicate-in-period", "C-2")]


def test_events_of_other_subscriptions_are_not_used():
    other_cancel = event("cancelled", "2026-03-20T10:00:00", "KS-OTHER", subject="S-2")
    found = find_unexpected([cancelled_sub()], [charge("C-1", "2026-04-16")], [other_cancel])
    assert found[0].reference is None
    assert not found[0].message.endswith(DISPUTE_NOTE)
