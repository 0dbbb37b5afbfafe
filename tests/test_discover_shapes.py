"""`charges discover` works a merchant out once for descriptions of one shape (ASCII
text whose words holding a digit are written alike): the same merchant as the rule
gives each description on its own."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kscli.domain.statement.discover import _NUMBERED, merchant_key

_PIECES = st.sampled_from(["NETFLIX", "com", "*", ".", " ", "-", "REF", "12", "a1b2", "007x",
                           "Oktober", "nov", "1", "x", "Z9", "_", "/", "AB12CD", "0"])


@given(st.lists(_PIECES, max_size=12).map("".join))
def test_a_description_and_its_shape_are_one_merchant(text):
    shape = _NUMBERED.sub("0", text.lower())
    assert merchant_key(shape) == merchant_key(text)
