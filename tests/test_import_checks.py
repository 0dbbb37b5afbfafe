"""The bulk column checks of `kscli import` agree with the cell-by-cell checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kscli.checks import column_ok as _column_ok, first_bad as _first_bad

GOOD_TIME = "2026-01-01T00:00:00Z"


@pytest.mark.parametrize("kind, values, ok", [
    ("dt", [GOOD_TIME, None, "2026-12-31T23:59:59Z"], True),
    ("dt", ["2026-02-30T00:00:00Z"], False),
    ("dt", ["2024-02-29T12:00:00Z"], True),
    ("dt", ["2026-01-01T24:00:00Z"], False),
    ("dt", [GOOD_TIME + "\x00" + GOOD_TIME], False),  # one value posing as two
    ("dt", [GOOD_TIME + "\n"], False),
    ("dt", ["2026-01-01T00:00:00+00:00"], False),
    ("dec", ["9.99", "-1", "12000"], True),
    ("dec", ["1e5"], False),
    ("dec", ["9.99\x00"], False),
    ("dec", ["\u0661\u0662\u0663"], False),  # digits, but not the ASCII ones a price is written in
    ("dt", ["\uff12026-01-01T00:00:00Z"], False),
    ("text", ["a", None, "b"], True),
    ("text", ["a", 5], False),
    ("bool", [0, 1, None], True),
    ("bool", [2], False),
    ("int", [True], False),
])
def test_whole_columns_are_judged_like_single_values(kind, values, ok):
    assert _column_ok(kind, values) is ok
    assert (_first_bad(kind, values) is None) is ok


@given(st.lists(st.one_of(st.none(), st.text(max_size=24),
                          st.sampled_from([GOOD_TIME, "2026-13-01T00:00:00Z", "9.99"])),
                max_size=6),
       st.sampled_from(["dt", "dec", "text"]))
def test_a_column_passes_in_bulk_exactly_when_every_cell_passes(values, kind):
    each = all(_column_ok(kind, [v]) for v in values)
    assert _column_ok(kind, values) == each
