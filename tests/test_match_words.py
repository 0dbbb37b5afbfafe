"""Statement lines matched to subscriptions by whole words (kscli.domain.words), the
price-changed finding, finding ids: pure, and a property test over random ledgers."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kscli.domain import ids
from kscli.domain.model import BY_HAND
from kscli.domain.statement import find_unexpected, match_line
from kscli.domain.statement.lines import StatementLine
from kscli.domain.statement.matching import VendorIndex, may_rematch, price_gap
from tests.test_statement import charge, line, sub


def named(sub_id: str, vendor: str, *descriptors: str, price: str = "9.99", **kw):
    return sub(sub_id, vendor=vendor, price=price, **kw)._replace(
        matches={d: "2026-01-01T00:00:00Z" for d in descriptors})


# -- whole words ---------------------------------------------------------------------


def test_a_vendor_inside_another_word_is_no_match():
    apple = named("S-1", "Apple", price="2.99")
    assert match_line(line("PINEAPPLE CAFE", "2.99"), [apple]) is None
    assert match_line(line("APPLEBEES 0042", "2.99"), [apple]) is None
    assert match_line(line("SNAPPLE", "2.99"), [apple]) is None
    assert match_line(line("APPLE.COM/BILL", "2.99"), [apple]) == "S-1"


def test_descriptors_match_as_whole_words_after_folding_and_splitting_on_star():
    netflix = named("S-1", "Streaming Co", "netflix", price="15.49")
    amazon = named("S-2", "Amazon", "AMZN Mktp", price="14.99")
    youtube = named("S-3", "YouTube", "GOOGLE *YouTubePremium", price="13.99")
    subs = [netflix, amazon, youtube]
    assert match_line(line("PAYPAL *NETFLIX", "15.49"), subs) == "S-1"
    assert match_line(line("AMZN Mktp US*2K4", "14.99"), subs) == "S-2"
    assert match_line(line("amzn mktp de", "14.99"), subs) == "S-2"
    assert match_line(line("Google *YouTubePremium g.co/helppay", "13.99"), subs) == "S-3"
    # the descriptor's words must be consecutive, and whole
    assert match_line(line("AMZN DIGITAL MKTP", "14.99"), subs) is None
    assert match_line(line("NETFLIXCOM", "15.49"), subs) is None
    assert match_line(line("GOOGLE *YouTubeMusic", "13.99"), subs) is None


def test_accents_and_case_are_folded():
    cafe = named("S-1", "Café Olé", price="4.00")
    assert match_line(line("CAFE OLE LISBOA", "4.00"), [cafe]) == "S-1"
    assert match_line(line("café-olé", "4.00"), [cafe]) == "S-1"


def test_a_name_without_words_matches_nothing():
    assert match_line(line("*** ---", "9.99"), [named("S-1", "***")]) is None


def test_the_longest_name_in_words_wins_over_a_price_match_of_a_shorter_one():
    google = named("S-1", "Google", price="13.99")
    cloud = named("S-2", "Google Cloud", price="20.00")
    assert match_line(line("GOOGLE CLOUD EMEA", "13.99"), [google, cloud]) == "S-2"
    assert match_line(line("GOOGLE STORAGE", "13.99"), [google, cloud]) == "S-1"


def test_another_currency_is_no_match_but_a_shorter_name_of_that_currency_is():
    euro = named("S-1", "Acme Cloud", currency="EUR")
    dollar = named("S-2", "Acme")
    assert match_line(line("ACME CLOUD", "9.99", currency="USD"), [euro, dollar]) == "S-2"
    assert match_line(line("ACME CLOUD", "9.99", currency="GBP"), [euro, dollar]) is None


def test_a_line_of_a_price_from_the_price_history_matches_on_its_days_only():
    repriced = named("S-1", "Streamly", price="12.99")._replace(
        prices={"2026-01-15T00:00:00Z": "12.99", "2026-06-01T00:00:00Z": "15.49"})
    other = named("S-2", "Streamly", price="15.49")
    subs = [repriced, other]
    assert match_line(line("STREAMLY", "15.49", day="2026-07-01"), subs) == "S-1"
    # in May, 15.49 is not S-1's price: the subscription whose price it is comes first
    assert match_line(line("STREAMLY", "15.49", day="2026-05-01"), subs) == "S-2"
    assert price_gap(repriced, date(2026, 5, 1), Decimal("15.49")) == Decimal("12.99")
    assert price_gap(repriced, date(2026, 6, 1), Decimal("15.49")) is None


def test_the_tolerance_is_a_percent_of_the_price_either_way():
    acme = named("S-1", "Acme", price="10.00")
    day = date(2026, 3, 1)
    assert price_gap(acme, day, Decimal("10.19")) == Decimal("10.00")
    assert price_gap(acme, day, Decimal("10.20"), Decimal(2)) is None
    assert price_gap(acme, day, Decimal("9.80"), Decimal(2)) is None
    assert price_gap(acme, day, Decimal("10.21"), Decimal(2)) == Decimal("10.00")
    assert price_gap(acme, day, Decimal("10.01"), Decimal("0.1")) is None


def test_within_the_tolerance_a_price_match_comes_first():
    high = named("S-1", "Acme", price="10.99")
    low = named("S-2", "Acme", price="10.00")
    far = named("S-3", "Acme", price="10.05")._replace(status="expired", auto_renew=False,
                                                       ended_at=sub().started_at)
    assert VendorIndex([high, low]).match(line("ACME", "10.10")) == "S-2"  # the closest
    # within 10 percent of both: the closest of them
    assert VendorIndex([high, low], Decimal(10)).match(line("ACME", "10.10")) == "S-2"
    # one in service comes before a closer one that is not
    assert VendorIndex([high, low, far], Decimal(10)).match(line("ACME", "10.06")) == "S-2"


def test_a_charge_matched_or_unmatched_by_hand_is_never_matched_again():
    assert may_rematch(charge("C-1", "2026-03-01", sub_id=None))
    assert not may_rematch(charge("C-1", "2026-03-01", sub_id=None)._replace(matched_by=BY_HAND))


# -- price-changed -------------------------------------------------------------------


def test_a_charge_of_another_amount_is_a_price_changed_finding_with_both_amounts():
    streamly = named("S-1", "Streamly", price="12.99")
    charges = [charge("C-1", "2026-02-15", amount="12.99"),
               charge("C-2", "2026-03-15", amount="15.49")]
    [found] = find_unexpected([streamly], charges, [])
    assert (found.kind, found.charge_id, found.amount, found.expected) == (
        "price-changed", "C-2", Decimal("15.49"), Decimal("12.99"))
    assert found.posted_on == date(2026, 3, 15)
    assert "charged 15.49 USD on 2026-03-15, the ledger says 12.99 USD" in found.message
    assert "kscli sub reprice S-1 --price 15.49 --from 2026-03-15" in found.message
    assert found.id == ids.finding("price-changed", "hash-C-2")
    assert find_unexpected([streamly], charges, [], tolerance=Decimal(20)) == []


def test_no_price_changed_before_the_start_nor_across_currencies():
    streamly = named("S-1", "Streamly", price="12.99")  # started 2026-01-15
    before = charge("C-1", "2026-01-14", amount="11.99")
    other = charge("C-2", "2026-02-15", amount="11.99", currency="EUR")
    assert find_unexpected([streamly], [before, other], []) == []


def test_a_charge_after_the_end_is_reported_as_that_not_as_a_price_change():
    ended = named("S-1", "Acme", status="cancelled", auto_renew=False,
                  period_start="2026-03-15", period_end="2026-04-15",
                  cancelled_at="2026-03-20")
    [found] = find_unexpected([ended], [charge("C-1", "2026-04-20", amount="19.99")], [])
    assert found.kind == "after-cancellation" and found.expected is None


# -- finding ids ---------------------------------------------------------------------


def test_a_finding_id_depends_on_its_kind_and_line_only():
    first = ids.finding("duplicate-in-period", "abc")
    assert first == ids.finding("duplicate-in-period", "abc")
    assert ids.FINDING_FORM.fullmatch(first)
    assert first != ids.finding("price-changed", "abc")
    assert first != ids.finding("duplicate-in-period", "abd")
    many = {ids.finding("after-end", str(n)) for n in range(20_000)}
    assert len(many) == 20_000


def test_findings_keep_their_ids_when_the_charges_are_numbered_otherwise():
    acme = named("S-1", "Acme")
    one = [charge("C-1", "2026-03-15"), charge("C-2", "2026-03-20")]
    renumbered = [c._replace(id=f"C-{n}") for c, n in zip(one, (7, 8))]
    assert [f.id for f in find_unexpected([acme], one, [])] == \
        [f.id for f in find_unexpected([acme], renumbered, [])]


# -- property: look-alike merchants never match; order never matters -------------------

VENDOR_WORDS = ["apple", "acme", "globex", "hooli", "initech", "stark", "tyrell", "wayne",
                "umbrella", "netflix", "spotify", "notion"]
NOISE_WORDS = ["cafe", "market", "store", "ltd", "pay", "shop", "bar", "city", "club"]


@st.composite
def ledgers(draw):
    count = draw(st.integers(1, 8))
    chosen = draw(st.lists(st.sampled_from(VENDOR_WORDS), min_size=count, max_size=count,
                           unique=True))
    subs = []
    for n, word in enumerate(chosen):
        vendor = draw(st.sampled_from([word.title(), word.upper(), f"{word.title()} Inc"]))
        price = draw(st.sampled_from(["2.99", "9.99", "12.99", "15.49"]))
        descriptors = draw(st.lists(st.sampled_from([f"PAYPAL *{word.upper()}",
                                                     f"{word.upper()}.COM"]), max_size=2,
                                    unique=True))
        subs.append(named(f"S-{n + 1}", vendor, *descriptors, price=price))
    return subs


def _look_alike(word: str, rnd: random.Random) -> str:
    """A merchant that holds ``word`` inside another word (PINEAPPLE, ACMEWARE)."""
    inside = rnd.choice([f"pine{word}", f"{word}ware", f"s{word}s", f"{word}bees",
                         f"{word}s", f"x{word}"])
    return f"{inside.upper()} {rnd.choice(NOISE_WORDS).upper()} {rnd.randint(1, 9999)}"


@settings(max_examples=60, deadline=None)
@given(ledgers(), st.randoms(use_true_random=False), st.integers(0, 30))
def test_look_alike_merchants_never_match_and_order_does_not_matter(subs, rnd, noise):
    lines: list[tuple[StatementLine, str | None]] = []
    day = date(2026, 2, 1)
    for n, s in enumerate(subs):
        for month in range(3):
            text = rnd.choice([s.vendor, *s.matches]) + f" {rnd.randint(100, 999)}"
            lines.append((StatementLine(len(lines) + 2, day + timedelta(days=30 * month + n),
                                        text, s.price, "USD", f"h{len(lines)}"), s.id))
    for _ in range(noise):
        word = rnd.choice(VENDOR_WORDS)
        price = rnd.choice(["2.99", "9.99", "12.99", "15.49", "3.50"])
        lines.append((StatementLine(len(lines) + 2, day + timedelta(days=rnd.randint(0, 90)),
                                    _look_alike(word, rnd), Decimal(price), "USD",
                                    f"h{len(lines)}"), None))
    index = VendorIndex(subs)
    got = {statement.line_hash: index.match(statement) for statement, _ in lines}
    assert got == {statement.line_hash: want for statement, want in lines}
    shuffled_subs = list(subs)
    rnd.shuffle(shuffled_subs)
    shuffled = list(lines)
    rnd.shuffle(shuffled)
    again = VendorIndex(shuffled_subs)
    assert {s.line_hash: again.match(s) for s, _ in shuffled} == got


@pytest.mark.parametrize("text", ["ACME", "acme inc", "Acme, Inc.", "PAYPAL *ACME 1234"])
def test_the_same_name_matches_however_the_statement_writes_it(text):
    assert match_line(line(text, "9.99"), [named("S-1", "Acme")]) == "S-1"


def test_another_amount_before_the_subscription_started_is_not_its_own():
    """A vendor's charges from before the ledger's subscription began, at another price,
    belong to something else (an earlier plan, a forgotten one): left unmatched, for
    `charges discover`. At its price they match as before, and from its start a line of
    another amount matches (price-changed)."""
    streamly = named("S-1", "Streamly", price="17.99", started="2026-11-27")
    assert match_line(line("STREAMLY*PREMIUM", "12.99", day="2026-11-03"), [streamly]) is None
    assert match_line(line("STREAMLY*PREMIUM", "12.99", day="2026-11-27"), [streamly]) == "S-1"
    assert match_line(line("STREAMLY", "17.99", day="2026-11-03"), [streamly]) == "S-1"


def test_of_many_at_one_price_the_first_in_service_wins_in_id_order():
    old = named("S-2", "Acme", price="9.99", status="cancelled", ended_at="2026-02-15T00:00:00Z",
                period_end="2026-02-15")
    new = named("S-10", "Acme", price="9.99", started="2026-02-15")
    also = named("S-11", "Acme", price="9.99", started="2026-02-15")
    assert match_line(line("ACME", "9.99", day="2026-03-01"), [also, old, new]) == "S-10"
    assert match_line(line("ACME", "9.99", day="2026-01-20"), [also, old, new]) == "S-2"


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_text_folds_as_the_general_rule_folds_it(text):
    import unicodedata

    from kscli.domain.words import fold

    general = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    assert fold(text) == "".join(c for c in general if not unicodedata.combining(c))
