"""The discovery rule (kscli.domain.statement.discover): merchants, similar amounts,
cadences with their tolerances at month ends and weekends, and the same proposals in
any order."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kscli.domain.statement.discover import (
    Charge,
    cadence_of,
    discover,
    merchant_key,
    vendor_text,
)


def charges(*rows: tuple[str, str, str], currency: str = "USD", first: int = 1001) -> list[Charge]:
    """Charges from (day, description, amount) rows, ids C-1001 on."""
    return [Charge(f"C-{first + i}", date.fromisoformat(day), text, Decimal(amount), currency)
            for i, (day, text, amount) in enumerate(rows)]


def monthly(text: str, amount: str, *days: str) -> list[tuple[str, str, str]]:
    return [(day, text, amount) for day in days]


def summary(found) -> list[tuple]:
    return [(p.vendor, str(p.amount), p.currency, p.cadence, p.plan, p.first.isoformat(),
             p.last.isoformat(), p.next_expected.isoformat(), p.charge_ids) for p in found]


# Merchants ------------------------------------------------------------------------------


def test_words_with_digits_and_month_names_are_not_part_of_the_merchant():
    assert merchant_key("Spotify P1A2B3") == merchant_key("SPOTIFY X9Y8Z7") == ("spotify",)
    assert merchant_key("Entgelt Kontoführung für Oktober 2025") == \
        merchant_key("Entgelt Kontoführung für November 2025") == \
        ("entgelt", "kontofuhrung", "fur")
    assert merchant_key("AMZN Mktp US*2K4") == ("amzn", "mktp", "us")


def test_a_dropped_word_leaves_a_gap_so_other_words_around_it_are_another_merchant():
    assert merchant_key("ACME 123 CLOUD") == ("acme", "", "cloud")
    assert merchant_key("ACME CLOUD") != merchant_key("ACME 123 CLOUD")
    assert merchant_key("4711 0815") == ()
    # text outside ASCII takes the folding path and gives the same kind of key
    assert merchant_key("Ärzte 12 Straße") == ("arzte", "", "strasse")
    assert merchant_key("Rent for MAY, in the market") == ("rent", "for", "", "in", "the",
                                                            "market")


def test_the_vendor_is_the_longest_run_of_kept_words_as_written():
    assert vendor_text("NETFLIX.COM 0115 LOS GATOS CA") == "LOS GATOS CA"
    assert vendor_text("NETFLIX.COM 0115 LOS GATOS") == "NETFLIX.COM"  # the first of two
    assert vendor_text("Kontoführung 123 x") == "Kontoführung"
    assert vendor_text("123") == ""


# Cadences -------------------------------------------------------------------------------


def test_monthly_on_the_31st_follows_the_month_ends():
    found = discover(charges(*monthly("ACME CLOUD", "9.99", "2026-01-31", "2026-02-28",
                                      "2026-03-31", "2026-04-30")))
    assert summary(found) == [("ACME CLOUD", "9.99", "USD", "monthly", "monthly", "2026-01-31",
                               "2026-04-30", "2026-05-31",
                               ("C-1001", "C-1002", "C-1003", "C-1004"))]


def test_a_charge_posted_after_a_weekend_still_follows_the_cadence():
    # the 15th of August 2026 is a Saturday: posted on Monday the 17th
    found = discover(charges(*monthly("STREAMLY", "12.99", "2026-07-15", "2026-08-17",
                                      "2026-09-15")))
    assert [p.cadence for p in found] == ["monthly"]


def test_three_days_off_is_monthly_four_days_off_is_not():
    assert cadence_of([date(2026, 1, 10), date(2026, 2, 13), date(2026, 3, 10)]) == "monthly"
    assert cadence_of([date(2026, 1, 10), date(2026, 2, 14), date(2026, 3, 10)]) is None


def test_a_missed_month_is_no_cadence():
    assert discover(charges(*monthly("STREAMLY", "12.99", "2026-01-15", "2026-02-15",
                                     "2026-04-15"))) == []


def test_two_monthly_charges_are_not_enough_two_yearly_ones_are():
    assert discover(charges(*monthly("STREAMLY", "12.99", "2026-01-15", "2026-02-15"))) == []
    found = discover(charges(*monthly("DOMAINS R US", "15.00", "2024-02-29", "2025-02-28")))
    assert summary(found) == [("DOMAINS R US", "15.00", "USD", "yearly", "annual",
                               "2024-02-29", "2025-02-28", "2026-02-28", ("C-1001", "C-1002"))]


def test_quarterly_is_proposed_with_a_three_month_plan():
    found = discover(charges(*monthly("BANK FEES", "5.95", "2025-03-31", "2025-06-30",
                                      "2025-09-30", "2025-12-31")))
    assert [(p.cadence, p.plan, p.next_expected.isoformat()) for p in found] == [
        ("quarterly", "3m", "2026-03-31")]


def test_weekly_is_proposed_without_a_plan_and_says_why():
    days = [(date(2026, 6, 1) + timedelta(weeks=w)).isoformat() for w in range(4)]
    [found] = discover(charges(*monthly("GYM", "10.00", *days)))
    assert (found.cadence, found.plan, found.next_expected) == ("weekly", None, date(2026, 6, 29))
    assert "counted in months" in found.why_not


def test_one_off_and_irregular_purchases_are_not_proposed():
    rows = [("2026-01-03", "CORNER SHOP", "4.50"), ("2026-01-19", "CORNER SHOP", "4.60"),
            ("2026-02-27", "CORNER SHOP", "4.40"), ("2026-03-02", "BIG TV STORE", "899.00")]
    assert discover(charges(*rows)) == []


# Amounts and currencies -----------------------------------------------------------------


def test_amounts_within_ten_percent_are_one_band_and_the_latest_amount_is_proposed():
    rows = [("2026-01-15", "STREAMLY", "12.99"), ("2026-02-15", "STREAMLY", "13.49"),
            ("2026-03-15", "STREAMLY", "14.28")]  # 14.28 is 9.9% above 12.99
    [found] = discover(charges(*rows))
    assert (found.amount, found.charge_ids) == (Decimal("14.28"), ("C-1001", "C-1002", "C-1003"))
    rows[2] = ("2026-03-15", "STREAMLY", "14.30")  # 10.1% above: a band of its own
    assert discover(charges(*rows)) == []


def test_a_one_off_purchase_at_the_same_merchant_does_not_hide_the_subscription():
    rows = [*monthly("APPLE.COM/BILL", "2.99", "2026-01-05", "2026-02-05", "2026-03-05"),
            ("2026-02-20", "APPLE.COM/BILL", "1299.00")]
    [found] = discover(charges(*rows))
    assert (found.amount, found.charge_ids) == (Decimal("2.99"), ("C-1001", "C-1002", "C-1003"))


def test_the_same_merchant_in_two_currencies_is_two_merchants():
    usd = charges(*monthly("STREAMLY", "9.99", "2026-01-15", "2026-02-15"))
    eur = charges(("2026-03-15", "STREAMLY", "9.99"), currency="EUR", first=2001)
    assert discover(usd + eur) == []


def test_two_charges_on_one_day_count_once_for_the_cadence_and_both_are_listed():
    rows = [*monthly("STREAMLY", "9.99", "2026-01-15", "2026-02-15", "2026-03-16"),
            ("2026-02-15", "STREAMLY", "9.99")]
    [found] = discover(charges(*rows))
    assert found.charge_ids == ("C-1001", "C-1002", "C-1003", "C-1004")
    assert found.next_expected == date(2026, 4, 15)


# Any order ------------------------------------------------------------------------------

MERCHANTS = ["NETFLIX.COM", "SPOTIFY P1A2B3", "ACME CLOUD", "CORNER SHOP", "GYM"]


@st.composite
def ledgers(draw):
    rows = []
    for text in MERCHANTS:
        start = draw(st.dates(date(2020, 1, 1), date(2030, 12, 31)))
        months = draw(st.sampled_from([None, 1, 3, 12]))
        count = draw(st.integers(0, 6))
        amount = draw(st.sampled_from(["9.99", "10.49", "15.00", "120.00"]))
        for k in range(count):
            if months is None:
                day = start + timedelta(weeks=k)
            else:
                from kscli.domain.calendar import add_months, start_of_day

                day = add_months(start_of_day(start), months * k).date()
            day += timedelta(days=draw(st.integers(-3, 3)))
            rows.append((day.isoformat(), text, amount if draw(st.booleans()) else "11.00"))
    return charges(*rows)


@settings(max_examples=150, deadline=None)
@given(ledgers(), st.randoms(use_true_random=False))
def test_the_same_charges_in_any_order_give_the_same_proposals(found, random):
    shuffled = list(found)
    random.shuffle(shuffled)
    assert discover(shuffled) == discover(found)
