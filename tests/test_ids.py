"""Record ids (kscli.domain.ids): one prefix per kind, one form, one natural order."""

from __future__ import annotations

import pytest

from kscli.domain import ids


def test_natural_order_puts_s_999_before_s_1000():
    shuffled = ["S-1000", "S-999", "S-10001", "S-1001", "S-1"]
    assert sorted(shuffled, key=ids.natural_key) == ["S-1", "S-999", "S-1000", "S-1001",
                                                     "S-10001"]
    assert sorted(shuffled) != sorted(shuffled, key=ids.natural_key)  # text order differs


@pytest.mark.parametrize("text, ok", [("S-1001", True), ("S-999999999", True), ("S-01", False),
                                      ("s-1001", False), ("S-1234567890", False),
                                      ("L-1001", False), ("S-", False)])
def test_an_id_has_its_kind_s_prefix_and_a_number_without_leading_zero(text, ok):
    assert bool(ids.form(ids.SUB).fullmatch(text)) is ok


def test_every_table_of_named_records_has_one_distinct_prefix():
    from kscli.domain.model import RECORDS

    by_table = {r.table: r.prefix for r in RECORDS.values() if r.prefix}
    assert by_table == {"subs": "S-", "licenses": "L-", "incidents": "I-", "charges": "C-"}
    assert len(set(by_table.values())) == len(by_table)
    assert ids.form(ids.CHARGE).fullmatch(f"{ids.CHARGE}{ids.FIRST}")
