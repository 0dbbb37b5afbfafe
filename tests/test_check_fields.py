"""`charges check` and `charges discover` read a few fields of each stored charge
(Ledger.charge_fields), and the check orders one subscription's charges by date alone
where no two share a day: what they find is what they find from whole records, in any
order."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from kscli.domain.model import Charge
from kscli.domain.statement.checks import CHECKED_FIELDS, find_unexpected
from kscli.domain.statement.discover import (_DIGITS_AS_ZERO, READ_FIELDS, discover,
                                             merchant_key)
from kscli.store.charges import fields_reader
from kscli.store.schema import to_row
from tests.helpers import make_sub

UTC = timezone.utc
START = datetime(2026, 1, 3, tzinfo=UTC)
AT = datetime(2026, 8, 1, tzinfo=UTC)


def _fields_of(charges: list[Charge], fields: tuple[str, ...]) -> list:
    """The records Ledger.charge_fields makes of these charges' stored values."""
    read = fields_reader(fields)
    names = Charge._fields
    return [read(tuple(row[names.index(f)] for f in fields)) for row in map(to_row, charges)]


def test_two_charges_on_one_day_are_taken_in_the_natural_id_order_whatever_comes_first():
    sub = make_sub("S-1001", started=START)
    first, second = (Charge(ident, date(2026, 2, 5), "ACME", Decimal("9.99"), "USD",
                            f"h-{ident}", sub_id="S-1001") for ident in ("C-999", "C-1000"))
    for given_charges in ([first, second], [second, first]):
        (found,) = [f for f in find_unexpected([sub], given_charges, [], at=AT)
                    if f.kind == "duplicate-in-period"]
        assert found.charge_id == "C-1000" and "the first, C-999" in found.message


def _random_ledger(rng: random.Random) -> tuple[list, list[Charge]]:
    subs = [make_sub(f"S-{1001 + i}", started=START + timedelta(days=rng.randrange(60)),
                     plan=rng.choice(["monthly", "annual"]), auto_renew=rng.random() < 0.5)
            for i in range(4)]
    charges = [Charge(f"C-{rng.choice([9, 99, 999, 1000, 10000]) + i}",
                      date(2026, 1, 1) + timedelta(days=rng.randrange(220)), f"ACME {i}",
                      Decimal(rng.choice(["9.99", "9.99", "12.49"])), "USD", f"h{i}",
                      sub_id=rng.choice([s.id for s in subs] + [None]))
               for i in range(rng.randrange(1, 30))]
    rng.shuffle(charges)
    return subs, charges


def test_the_check_finds_from_the_read_fields_what_it_finds_from_whole_charges():
    kinds: set[str] = set()
    for seed in range(60):
        subs, charges = _random_ledger(random.Random(seed))
        whole = find_unexpected(subs, charges, [], at=AT)
        assert find_unexpected(subs, _fields_of(charges, CHECKED_FIELDS), [], at=AT) == whole
        assert find_unexpected(subs, list(reversed(charges)), [], at=AT) == whole
        kinds.update(f.kind for f in whole)
    assert {"duplicate-in-period", "after-end", "price-changed"} <= kinds, kinds


def _streamly(text: str = "") -> list[Charge]:
    """Six monthly charges of a merchant, each description ending with ``text``."""
    return [Charge(f"C-{1001 + k}", date(2025, 1 + k, 14), f"STREAMLY {k}*REF {text}",
                   Decimal("7.99"), "EUR", f"h{k}") for k in range(6)]


def test_discovery_proposes_from_the_read_fields_what_it_proposes_from_whole_charges():
    charges = _streamly()
    proposals = discover(charges)
    assert [p.vendor for p in proposals] == ["STREAMLY"]
    assert discover(_fields_of(charges, READ_FIELDS)) == proposals


@given(st.lists(st.sampled_from(["NETFLIX", "com", "*", ".", " ", "-", "REF", "12", "a1b2",
                                 "007x", "Oktober", "nov", "1", "x", "Z9", "_", "AB12CD", "0",
                                 "9", "Jan", "~"]), max_size=12).map("".join))
def test_a_description_with_its_digits_written_as_zero_is_the_same_merchant(text):
    fine = text.encode().translate(_DIGITS_AS_ZERO).decode()
    assert fine == "".join("0" if c.isdigit() else c.lower() for c in text)
    assert merchant_key(fine) == merchant_key(text)
    # one merchant, whichever of the two a charge writes (the first met or not)
    for first, then in ((text, fine), (fine, text)):
        mixed = [c if k % 2 else c._replace(description=c.description.replace(first, then))
                 for k, c in enumerate(_streamly(first))]
        (proposal,) = discover(mixed)
        assert len(proposal.charge_ids) == 6


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
       | st.lists(st.sampled_from(["AMZN", "*", "Prime", "_", "__x", "Ärzte", " ", "ﬁ", "٣",
                                   "-", "a_b", "1"]), max_size=10).map("".join))
def test_the_words_of_a_text_are_the_pieces_splitting_it_leaves(text):
    """words() finds the runs of letters and digits: what splitting the folded text on
    anything else (and on "_") leaves."""
    import re

    from kscli.domain.words import fold, words

    assert words(text) == tuple(w for w in re.split(r"[^\w]+|_+", fold(text)) if w)
