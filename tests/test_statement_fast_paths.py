"""The common cases a statement is read through faster (a plain amount like -12.99, an
ASCII description, a date text met before) give the answer of the rule they stand
beside, for any input."""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kscli.domain.statement.amounts import (
    STATEMENT_DIGITS,
    _AmountError,
    _mark_of,
    _number_and_mark,
    _number_or_empty,
    _read_any_amount,
    read_amount,
)
from kscli.domain.statement.dates import _try_date
from kscli.domain.statement.lines import StatementError, _folded_text, _hash_text, line_hash
from kscli.domain.statement.reading import _AMOUNTS_KEPT, read_csv

# currencies of every number of minor digits a statement may have (0, 2, 3 and 4)
CURRENCIES = ["JPY", "USD", "EUR", "KWD", "XAU", "ITL"]
MARKS = [None, ".", ","]

# text shaped like amounts (and not quite), beside any text at all
amount_like = st.from_regex(r"\A[ +\-\u2212(]{0,2}[0-9]{0,16}([.,'\u00a0 ][0-9]{0,4}){0,3}"
                            r"( ?(USD|EUR|JPY|KWD|€|\$))?\)?\Z", fullmatch=True)
plain_amounts = st.from_regex(r"\A[+-]?[0-9]{1,15}([.,][0-9]{1,2})?\Z", fullmatch=True)
any_amount = st.one_of(plain_amounts, amount_like, st.text(max_size=30))


def _outcome(read, text: str, mark: str | None, code: str):
    """What ``read`` makes of an amount cell: its answer, or the error's reason."""
    def currency_of(marker: str | None, explicit: bool) -> str:
        return marker if marker is not None and explicit else code

    try:
        sign, size, currency = read(text, mark, currency_of)
    except _AmountError as exc:
        return ("error", exc.reason, exc.standalone)
    return (sign, str(size), currency)  # the text of the size goes into line hashes


@settings(max_examples=600)
@given(any_amount, st.sampled_from(MARKS), st.sampled_from(CURRENCIES))
@example("-12.99", None, "USD")
@example("5.9", ".", "XAU")
@example("5.90", None, "JPY")
@example("5.00", None, "JPY")
@example("0012,5", ",", "KWD")
@example("999999999.99", None, "USD")
@example("1000000000", None, "JPY")
@example("+0", None, "EUR")
def test_a_plain_amount_reads_as_the_rule_reads_it(text, mark, code):
    assert _outcome(read_amount, text, mark, code) == _outcome(_read_any_amount, text, mark,
                                                               code)


def test_the_plain_amounts_keep_the_currencys_decimals():
    # (the comparison above could not fail if both lost them)
    assert _outcome(read_amount, "-5.9", None, "USD") == (-1, "5.90", "USD")
    assert _outcome(read_amount, "7", None, "KWD") == (1, "7.000", "KWD")
    assert _outcome(read_amount, "7", None, "JPY") == (1, "7", "JPY")
    assert _outcome(read_amount, "5.90", None, "JPY")[0] == "error"
    assert all(code in STATEMENT_DIGITS for code in CURRENCIES)


@settings(max_examples=600)
@given(any_amount)
@example("-1,23")
@example(" 1.234,56 ")
def test_a_cells_number_and_mark_are_the_rules(text):
    number = _number_or_empty(text)
    assert _number_and_mark(text) == (number, _mark_of(number))


@settings(max_examples=600)
@given(st.one_of(st.text(), st.text(alphabet=st.characters(max_codepoint=127))))
@example("ACME  Inc\t*0001 ")
@example("Stra\u00dfe CAF\u00c9")
@example("Cafe\u0301 \u212a")
@example("\x1c a \x1f b")
def test_a_description_hashes_as_the_rule_folds_it(text):
    assert _hash_text(text) == _folded_text(text)
    day, amount = date(2026, 11, 22), Decimal("9.99")
    assert line_hash(day, text, amount, "EUR", 0) == \
        line_hash(day, "", amount, "EUR", 0, hashed_text=_folded_text(text))


def test_the_folded_text_is_case_and_space_blind():
    assert _folded_text("  Stra\u00dfe   CAFE\u0301 ") == "strasse caf\u00e9"
    assert _hash_text("  ACME\tInc ") == "acme inc"
    assert unicodedata.is_normalized("NFC", _hash_text("Cafe\u0301"))


@settings(max_examples=300)
@given(st.one_of(st.dates().map(date.isoformat), st.text(max_size=24)),
       st.sampled_from([None, "%d.%m.%Y", "%m/%d/%Y"]))
def test_a_date_text_met_again_reads_as_it_did_the_first_time(text, date_format):
    first = _try_date.__wrapped__(text, date_format)
    assert _try_date(text, date_format) == first
    assert _try_date(text, date_format) == first


def test_a_line_hash_is_the_one_stored_by_earlier_imports():
    # (a ledger keeps these: a changed hash would import every stored line again)
    assert line_hash(date(2026, 11, 22), "ACME Cloud  *0001", Decimal("9.99"), "USD", 0) == \
        "d18363199bf5fe317669500bb81451613871de08fc6d1afb8536168bd9d751a9"
    assert line_hash(date(2026, 1, 2), "Stra\u00dfe Caf\u00e9", Decimal("1E+3"), "EUR", 2) == \
        "edac92f93872ee4de038a55308db2033ac1375059741316c51a53ae52606fb31"


def test_an_amount_met_again_reads_in_its_own_lines_currency():
    text = ("date,description,amount,currency\n"
            "2026-11-01,A,-1000,USD\n2026-11-02,B,-1000,JPY\n2026-11-03,C,-1000,KWD\n"
            "2026-11-04,D,-1000,USD\n")
    lines = read_csv(text).lines
    assert [(str(line.amount), line.currency) for line in lines] == [
        ("1000.00", "USD"), ("1000", "JPY"), ("1000.000", "KWD"), ("1000.00", "USD")]
    bad = text + "2026-11-05,E,-12.5,USD\n2026-11-06,F,-12.5,JPY\n"
    with pytest.raises(StatementError, match="line 7, column 'amount'.*more decimals"):
        read_csv(bad)


def test_amounts_past_what_a_reader_remembers_read_the_same():
    count = _AMOUNTS_KEPT * 2 + 3
    rows = [f"2026-11-{1 + i % 28:02d},SHOP {i},-{i % (_AMOUNTS_KEPT + 7)}.{i % 100:02d},EUR"
            for i in range(count)]
    lines = read_csv("date,description,amount,currency\n" + "\n".join(rows) + "\n").lines
    assert [str(line.amount) for line in lines] == [
        f"{i % (_AMOUNTS_KEPT + 7)}.{i % 100:02d}" for i in range(count) if i % (
            _AMOUNTS_KEPT + 7) or i % 100]
