"""Calendar arithmetic and money: the boundaries every date and price rule stands on."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kscli.domain.calendar import (
    CalendarError, add_business_days, add_months, add_years, parse_duration, parse_when,
    whole_days,
)
from kscli.domain.money import MoneyError, monthly_cost, parse_currency, parse_price, yearly_cost

UTC = timezone.utc


@pytest.mark.parametrize("start, months, expected", [
    (datetime(2026, 1, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
    (datetime(2024, 1, 31, tzinfo=UTC), 1, datetime(2024, 2, 29, tzinfo=UTC)),
    (datetime(2026, 3, 31, tzinfo=UTC), 1, datetime(2026, 4, 30, tzinfo=UTC)),
    (datetime(2026, 12, 15, tzinfo=UTC), 1, datetime(2027, 1, 15, tzinfo=UTC)),
    (datetime(2026, 11, 30, tzinfo=UTC), 3, datetime(2027, 2, 28, tzinfo=UTC)),
    (datetime(2024, 2, 29, tzinfo=UTC), 12, datetime(2025, 2, 28, tzinfo=UTC)),
    (datetime(2026, 5, 31, tzinfo=UTC), -3, datetime(2026, 2, 28, tzinfo=UTC)),
])
def test_add_months_clamps_to_the_last_day_of_the_month(start, months, expected):
    assert add_months(start, months) == expected


def test_add_years_turns_29_february_into_28_february():
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert add_years(date(2023, 3, 1), 1) == date(2024, 3, 1)


@pytest.mark.parametrize("text, count, unit", [("7d", 7, "d"), ("2w", 2, "w"), ("12m", 12, "m"),
                                               ("1y", 1, "y"), (" 30D ", 30, "d")])
def test_durations_are_read(text, count, unit):
    duration = parse_duration(text)
    assert (duration.count, duration.unit) == (count, unit)


@pytest.mark.parametrize("text", ["", "7", "d", "7x", "-7d", "1.5m", "7 days", "99999d"])
def test_bad_durations_are_refused(text):
    with pytest.raises(CalendarError):
        parse_duration(text)


def test_a_date_alone_means_midnight_utc_and_offsets_are_converted():
    assert parse_when("2026-11-22") == datetime(2026, 11, 22, tzinfo=UTC)
    assert parse_when("2026-11-22T14:00:00Z") == datetime(2026, 11, 22, 14, tzinfo=UTC)
    assert parse_when("2026-11-22T14:00:00+02:00") == datetime(2026, 11, 22, 12, tzinfo=UTC)
    assert parse_when("2026-11-22T14:00:00") == datetime(2026, 11, 22, 14, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-02-30", "2026-13-01", "22/11/2026", "tomorrow", ""])
def test_impossible_dates_are_refused(text):
    with pytest.raises(CalendarError):
        parse_when(text)


@given(st.text(max_size=40))
def test_date_and_duration_parsers_raise_only_their_error(text):
    for parse in (parse_when, parse_duration):
        try:
            parse(text)
        except CalendarError:
            pass


def test_whole_days_count_utc_calendar_days():
    start = datetime(2026, 1, 1, 23, 59, tzinfo=UTC)
    assert whole_days(start, datetime(2026, 1, 2, 0, 0, tzinfo=UTC)) == 1
    assert whole_days(start, datetime(2026, 3, 2, 0, 0, tzinfo=UTC)) == 60


@pytest.mark.parametrize("processed, first, last", [
    (date(2026, 12, 2), date(2026, 12, 9), date(2026, 12, 11)),   # Wednesday
    (date(2026, 12, 4), date(2026, 12, 11), date(2026, 12, 15)),  # Friday
    (date(2026, 12, 5), date(2026, 12, 11), date(2026, 12, 15)),  # Saturday
    (date(2026, 12, 6), date(2026, 12, 11), date(2026, 12, 15)),  # Sunday
])
def test_business_days_skip_weekends(processed, first, last):
    assert add_business_days(processed, 5) == first
    assert add_business_days(processed, 7) == last


def test_business_days_skip_holidays():
    assert add_business_days(date(2026, 12, 21), 5, frozenset({date(2026, 12, 25)})) == date(2026, 12, 29)


@pytest.mark.parametrize("text, currency, expected", [
    ("9.99", "USD", Decimal("9.99")), ("10", "USD", Decimal("10.00")),
    ("12000", "JPY", Decimal("12000")), ("1.234", "BHD", Decimal("1.234")),
    ("0", "EUR", Decimal("0.00")),
])
def test_prices_keep_the_currency_minor_digits(text, currency, expected):
    value = parse_price(text, currency)
    assert value == expected and str(value) == str(expected)


@pytest.mark.parametrize("text, currency", [("-1", "USD"), ("abc", "USD"), ("9.999", "USD"),
                                            ("1.5", "JPY"), ("NaN", "USD"), ("Infinity", "EUR"),
                                            ("1e12", "USD"), ("", "USD")])
def test_bad_prices_are_refused(text, currency):
    with pytest.raises(MoneyError):
        parse_price(text, currency)


@pytest.mark.parametrize("code", ["usd", "EUR", " jpy "])
def test_currency_codes_are_read_in_any_case(code):
    assert parse_currency(code) == code.strip().upper()


@pytest.mark.parametrize("code", ["USDD", "EURO", "XYZ", "", "$"])
def test_unknown_currencies_are_refused(code):
    with pytest.raises(MoneyError):
        parse_currency(code)


@given(st.text(max_size=30), st.sampled_from(["USD", "JPY", "BHD"]))
def test_price_parser_raises_only_money_error(text, currency):
    try:
        value = parse_price(text, currency)
    except MoneyError:
        return
    assert isinstance(value, Decimal) and value >= 0


def test_costs_are_per_month_and_per_year_in_minor_units():
    assert monthly_cost(Decimal("120.00"), 12, "USD") == Decimal("10.00")
    assert yearly_cost(Decimal("9.99"), 1, "USD") == Decimal("119.88")
    assert monthly_cost(Decimal("1000"), 3, "JPY") == Decimal("333")


def test_month_length_is_the_gregorian_calendar_s():
    import calendar

    from kscli.domain.calendar import month_length

    for year in (*range(1, 30), *range(1890, 2110), 2100, 2400, 9999):
        for month in range(1, 13):
            assert month_length(year, month) == calendar.monthrange(year, month)[1], (year, month)


def test_minus_zero_is_a_price_of_zero_as_every_check_reads_it():
    """`--price -0` was accepted by the price parser and refused by the stored-value
    check (a text starting with '-'), after the ledger file had been made."""
    from decimal import Decimal

    from kscli.domain.model import SUBSCRIPTION
    from kscli.domain.money import parse_price

    for text in ("-0", "-0.00", "-0.0", "0"):
        price = parse_price(text, "USD")
        assert str(price) == "0.00" and price == Decimal(0)
    assert str(parse_price("-0", "JPY")) == "0"
    price_field = next(f for f in SUBSCRIPTION.fields if f.name == "price")
    assert price_field.check(str(parse_price("-0.00", "EUR")))


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=14)),
                                               timezone(timedelta(hours=-12, minutes=-30))])))
def test_iso_writes_the_utc_isoformat_to_the_second_with_z(when):
    from kscli.domain.calendar import iso

    utc = when.astimezone(timezone.utc)
    assert iso(when) == utc.isoformat(timespec="seconds")[:19] + "Z"
    assert datetime.fromisoformat(iso(when)) == utc.replace(microsecond=0)
