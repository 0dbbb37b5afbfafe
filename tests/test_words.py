"""The whole-word rule of kscli.domain.words, which --vendor, --account and statement
matching share, and counts that agree with their nouns."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kscli.domain.words import _WORD, contains_text, contains_words, count_of, fold, words


@pytest.mark.parametrize("haystack, needle, found", [
    ("Acme Cloud", "acme", True),
    ("Acme Cloud", "ACME CLOUD", True),
    ("Acme Cloud", "cloud acme", False),  # in order
    ("Acmeware", "acme", False),  # whole words
    ("Acme Cloud Pro", "cloud pro", True),
    ("Acme Cloud Pro", "acme pro", False),  # consecutive
    ("AMZN*Prime Video", "prime video", True),  # * splits
    ("PAYPAL *ACME-CLOUD 4029357733", "acme cloud", True),
    ("Ärzte Café", "arzte cafe", True),  # accents folded
    ("Straße", "STRASSE", True),  # casefold
    ("ℌooli ﬁnance", "hooli finance", True),  # compatibility forms
    ("ada@example.com", "ada", True),
    ("ada@example.com", "example.com", True),
    ("Acme", "", False),
    ("Acme", "***", False),  # no word at all matches nothing
    (None, "acme", False),
])
def test_whole_consecutive_words_case_and_accents_folded(haystack, needle, found):
    assert contains_words(haystack, needle) is found


def test_search_finds_any_part_of_a_word():
    assert contains_text("Office Suite", "FFICE S")
    assert contains_text("Café", "cafe")
    assert not contains_text("Office", "")
    assert not contains_text(None, "x")


@given(st.text(min_size=1, max_size=30))
def test_a_name_always_finds_itself_when_it_has_a_word(name):
    assert contains_words(name, name) == bool(words(name))
    assert contains_words(f"x {name} y", name) == bool(words(name))
    assert fold(fold(name)) == fold(name)  # folding twice changes nothing


@settings(max_examples=600)
@given(st.one_of(st.text(alphabet=st.characters(max_codepoint=127), max_size=30),
                 st.text(max_size=30)))
@example("SHOP 12 CITY 0000456")
@example("AMZN*Prime  a_b \t9-9")
@example("caf\u00e9 CAFE")
def test_the_words_of_ascii_text_are_the_rules(text):
    # (words splits ASCII text of letters, digits and spaces without the regex)
    assert words(text) == tuple(_WORD.findall(fold(text)))


def test_counts_agree_with_their_nouns():
    assert count_of(1, "incident") == "1 incident"
    assert count_of(2, "incident") == "2 incidents"
    assert count_of(0, "license key") == "0 license keys"
    assert count_of(3, "sub", "subs") == "3 subs"
