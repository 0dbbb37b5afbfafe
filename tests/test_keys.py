"""License keys: format, lenient input, check symbols, messages that keep keys secret."""

from __future__ import annotations

import hashlib
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kscli.domain import keys
from kscli.domain.keys import (
    ALPHABET,
    CHECK_FAILED,
    InvalidKey,
    check_symbols,
    check_value,
    fingerprint,
    format_key,
    generate,
    key_hash,
    last4,
    mask,
    normalize,
    one_swap_away,
    validate,
)

# The example key of `kscli license add --help` and kscli-license(1).
EXAMPLE = "1QASW-A7YHB-XDP0G-JE7WK-RFC3W"
EXAMPLE_SYMBOLS = "1QASWA7YHBXDP0GJE7WKRFC3W"

random_bodies = st.text(alphabet=ALPHABET, min_size=22, max_size=22)


def key_from(body: str) -> str:
    """The canonical symbols of the key generate() makes from these 22 symbols."""
    return normalize(generate(lambda n: body))


def swapped(symbols: str, i: int) -> str:
    return symbols[:i] + symbols[i + 1] + symbols[i] + symbols[i + 2 :]


def valid(text: str) -> bool:
    try:
        validate(text)
    except InvalidKey:
        return False
    return True


def raised(text: str) -> InvalidKey:
    with pytest.raises(InvalidKey) as caught:
        validate(text)
    return caught.value


# --- known answers -----------------------------------------------------------


def test_check_of_version_one_and_zeros_is_g2_by_hand():
    # Value = 1 * 32**22 = 2**110. As 2**10 = 1024 = 3 (mod 1021),
    # 2**110 = 3**11 = 177147 = 173 * 1021 + 514, and 514 = 16 * 32 + 2 -> "G", "2".
    prefix = "1" + "0" * 22
    assert check_value(prefix) == 514
    assert check_symbols(prefix) == "G2"
    assert validate("10000-00000-00000-00000-000G2") == prefix + "G2"


def test_design_example_key_has_check_symbols_3w():
    assert check_symbols(EXAMPLE_SYMBOLS[:23]) == "3W"
    assert check_value(EXAMPLE_SYMBOLS[:23]) == 3 * 32 + 28
    assert validate(EXAMPLE) == EXAMPLE_SYMBOLS


def test_check_value_reads_symbols_most_significant_first():
    # Only the last symbol set: its weight is 1, so the value is the symbol itself.
    assert check_value("1" + "0" * 21 + "Z") == (32**22 + 31) % 1021
    assert check_symbols("1" + "0" * 21 + "Z") == "H1"  # 545 = 17 * 32 + 1


def test_check_helpers_refuse_anything_but_23_canonical_symbols():
    with pytest.raises(ValueError):
        check_value("1" * 22)
    with pytest.raises(ValueError):
        check_symbols("1" * 22 + "U")
    with pytest.raises(ValueError):
        check_value("1" * 22 + "a")


# --- why the check catches every typo and every neighbour swap ----------------


def test_modulus_is_prime_and_fits_two_symbols():
    assert all(keys.MODULUS % d for d in range(2, 32))  # 32**2 > 1021: no factor above 31
    assert 32 < keys.MODULUS < 32 * 32


def test_no_single_substitution_or_neighbour_swap_is_a_multiple_of_the_modulus():
    # Changing symbol k of the first 23 by d changes the value by d * 32**(22-k);
    # swapping symbols k, k+1 there by (a - b) * 31 * 32**(21-k); swapping symbol 23
    # with check symbol 24 is undetected only if 33 * (a - b) = 0 (mod 1021).
    for d in range(1, 32):
        for k in range(23):
            assert (d * pow(32, 22 - k, 1021)) % 1021 != 0
        for k in range(22):
            assert (d * 31 * pow(32, 21 - k, 1021)) % 1021 != 0
        assert (33 * d) % 1021 != 0
        assert (31 * d) % 1021 != 0  # the two check symbols swapped: 32a+b vs 32b+a


@settings(max_examples=60, deadline=None)
@given(random_bodies)
def test_every_single_symbol_substitution_fails(body):
    key = key_from(body)
    for position in range(25):
        for symbol in ALPHABET:
            if symbol == key[position]:
                continue
            typo = key[:position] + symbol + key[position + 1 :]
            assert not valid(typo), (position, symbol)


@settings(max_examples=150, deadline=None)
@given(random_bodies)
def test_every_neighbour_swap_fails_and_the_key_is_among_the_candidates_one_swap_away(body):
    key = key_from(body)
    for i in range(24):
        if key[i] == key[i + 1]:
            continue
        typo = swapped(key, i)
        error = raised(typo)
        assert error.kind == "check" and error.position is None
        assert error.message == CHECK_FAILED
        assert key in one_swap_away(typo)
        assert all(valid(candidate) for candidate in one_swap_away(typo))


def test_a_swap_at_positions_7_and_8_is_not_told_from_a_typo():
    typo = EXAMPLE_SYMBOLS[:6] + "Y7" + EXAMPLE_SYMBOLS[8:]  # 7 and Y swapped
    error = raised(typo)
    assert error.kind == "check" and error.position is None
    assert error.message == (
        "the check symbols do not match: a symbol is mistyped or two are swapped"
    )
    assert one_swap_away(typo) == [EXAMPLE_SYMBOLS]


def test_a_single_typo_can_look_like_a_swap_of_another_valid_key():
    # Why kscli never suggests a key: some single-symbol typos are one swap away from
    # a different key that passes the check (9 of 775 in the count).
    rng = random.Random(22)
    impostors = 0
    for _ in range(40):
        key = key_from("".join(rng.choice(ALPHABET) for _ in range(22)))
        for position in range(1, 25):
            for symbol in ALPHABET:
                if symbol == key[position]:
                    continue
                typo = key[:position] + symbol + key[position + 1:]
                impostors += any(c != key for c in one_swap_away(typo))
    assert impostors > 0


def test_random_strings_pass_the_check_about_one_time_in_1021():
    rng = random.Random(20251122)
    samples = 20_000
    accepted = 0
    for _ in range(samples):
        # Version symbol fixed, so only the check decides.
        text = "1" + "".join(rng.choice(ALPHABET) for _ in range(24))
        accepted += valid(text)
    rate = accepted / samples
    assert rate < 0.003
    assert accepted > 0  # the check does accept its 1 in 1021: the test sees the check


# --- generate ----------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(random_bodies)
def test_every_generated_key_validates(body):
    key = generate(lambda n: body)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){4}", key)
    assert validate(key) == key.replace("-", "")
    assert key.replace("-", "")[1:23] == body
    assert key[0] == keys.CURRENT_VERSION


def test_generate_uses_secrets_by_default_and_keys_differ():
    made = {generate() for _ in range(50)}
    assert len(made) == 50
    assert all(valid(key) for key in made)


def test_generate_asks_for_22_random_symbols():
    asked = []

    def source(n):
        asked.append(n)
        return "Z" * n

    assert generate(source) == "1ZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZ" + check_symbols("1" + "Z" * 22)
    assert asked == [22]


@pytest.mark.parametrize("bad", ["Z" * 21, "Z" * 23, "U" * 22, "z" * 22])
def test_generate_refuses_a_source_that_returns_non_symbols(bad):
    with pytest.raises(ValueError):
        generate(lambda n: bad)


# --- lenient input -----------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "1qasw-a7yhb-xdp0g-je7wk-rfc3w",
        "1QASW A7YHB XDP0G JE7WK RFC3W",
        "1QASW\u2013A7YHB\u2014XDP0G\u2010JE7WK\u2212RFC3W",  # en, em, hyphen, minus
        "1QASW\ufe58A7YHB\ufe63XDP0G\uff0dJE7WK\u2015RFC3W",  # small em, small, fullwidth
        "1QASWA7YHBXDPOGJE7WKRFC3W",  # letter O for zero
        "iQASW-A7YHB-XDP0G-JE7WK-RFC3W",  # i for one
        "LQASW-A7YHB-XDP0G-JE7WK-RFC3W",  # L for one
        "lqasw-a7yhb-xdpog-je7wk-rfc3w",
        "  1QASW-A7YHB-XDP0G-JE7WK-RFC3W\n",
        "1Q-AS-WA-7Y-HB-XD-P0-GJ-E7-WK-RF-C3-W",  # any grouping
        "\ufeff1QASW\u00a0A7YHB\u200bXDP0G\u00adJE7WK RFC3W",  # BOM, NBSP, zero width, soft hyphen
    ],
)
def test_lenient_input_reads_as_the_canonical_key(typed):
    assert normalize(typed) == EXAMPLE_SYMBOLS
    assert validate(typed) == EXAMPLE_SYMBOLS


@settings(max_examples=100, deadline=None)
@given(random_bodies, st.data())
def test_any_case_spacing_and_dashes_give_the_same_key(body, data):
    key = key_from(body)
    separators = st.sampled_from(["", "", " ", "-", "\u2013", "\u2014", "\u2212", "\t"])
    typed = ""
    for symbol in key:
        typed += data.draw(separators)
        typed += symbol.lower() if data.draw(st.booleans()) else symbol
        if symbol == "0" and data.draw(st.booleans()):
            typed = typed[:-1] + data.draw(st.sampled_from("Oo"))
        if symbol == "1" and data.draw(st.booleans()):
            typed = typed[:-1] + data.draw(st.sampled_from("IiLl"))
    assert validate(typed) == key


# --- what is wrong and where -------------------------------------------------


def test_letter_u_at_position_7_is_a_bad_symbol_at_7():
    error = raised(EXAMPLE_SYMBOLS[:6] + "U" + EXAMPLE_SYMBOLS[7:])
    assert error.kind == "symbol"
    assert error.position == 7
    assert error.message == (
        "symbol 7 is not allowed in a key: keys use 0-9 and A-Z without I, L, O, U"
    )
    assert error.code == "invalid-key"


def test_bad_symbol_position_counts_symbols_not_dashes():
    error = raised("1QASW-A7YHB-X_P0G-JE7WK-RFC3W")
    assert error.position == 12


@pytest.mark.parametrize("char", ["u", "#", "_", ".", "\u00e9", "\u0131", "\uff21", "*"])
def test_other_characters_are_bad_symbols(char):
    error = raised("1QASW" + char + "A7YHBXDP0GJE7WKRFC3W")
    assert error.kind == "symbol"
    assert error.position == 6


@pytest.mark.parametrize("count", [1, 23, 24, 26, 50])
def test_wrong_length_says_how_many_symbols(count):
    text = (EXAMPLE_SYMBOLS * 2)[:count]
    error = raised(format_key_loose(text))
    assert error.kind == "length"
    assert error.message == f"a key has 25 symbols; this one has {count}"
    assert error.position is None


def format_key_loose(text: str) -> str:
    return "-".join(text[i : i + 5] for i in range(0, len(text), 5))


@pytest.mark.parametrize("text", ["", "   ", "-----", "\u2014"])
def test_empty_key_is_refused(text):
    error = raised(text)
    assert error.kind == "empty"
    assert "25 symbols" in error.message


def test_a_mistyped_symbol_fails_the_check_without_a_position():
    error = raised(EXAMPLE_SYMBOLS[:10] + "C" + EXAMPLE_SYMBOLS[11:])  # X -> C
    assert error.kind == "check"
    assert error.message == CHECK_FAILED
    assert error.position is None


def test_a_check_above_1020_is_refused():
    # "ZZ" reads as 1023: no value modulo 1021 reaches it.
    assert not valid(EXAMPLE_SYMBOLS[:23] + "ZZ")


def test_unknown_version_symbol_with_a_good_check_is_refused():
    data = "2" + EXAMPLE_SYMBOLS[1:23]
    error = raised(data + check_symbols(data))
    assert error.kind == "version"
    assert error.position == 1
    assert "unknown version" in error.message


def test_swap_onto_an_unknown_version_is_no_candidate():
    # Swapping symbols 1 and 2 back gives a string whose check passes but whose
    # version symbol is "Q": not a key, so nothing is suggested.
    rest = EXAMPLE_SYMBOLS[2:23]
    unknown_version = "Q1" + rest + check_symbols("Q1" + rest)
    typed = swapped(unknown_version, 0)
    error = raised(typed)
    assert error.kind == "check"
    assert one_swap_away(typed) == []


def test_invalid_key_is_a_value_error_with_exit_code_4():
    error = raised("nope")
    assert isinstance(error, ValueError)
    assert error.exit_code == 4
    assert str(error) == error.message
    assert "\n" not in error.message


# --- keys stay secret ----------------------------------------------------------


def replaced(key: str, position: int, char: str) -> str:
    return key[:position] + char + key[position + 1 :]


def mutations(key: str) -> st.SearchStrategy[str]:
    position = st.integers(0, 24)
    return st.one_of(
        st.just(key),
        position.map(lambda p: key[:p] + key[p + 1 :]),  # a symbol dropped
        position.map(lambda p: key[:p] + key[p] + key[p:]),  # a symbol doubled
        st.builds(replaced, st.just(key), position, st.sampled_from("U#_.")),  # bad symbol
        st.builds(replaced, st.just(key), position, st.sampled_from(ALPHABET)),  # typo
        st.integers(0, 23).map(lambda i: swapped(key, i)),
        st.just("2" + key[1:]),
        st.just(key + key),
    )


@settings(max_examples=300, deadline=None)
@given(random_bodies, st.data())
def test_no_error_message_contains_the_key(body, data):
    key = key_from(body)
    typed = data.draw(mutations(key))
    formatted = data.draw(st.sampled_from([typed, format_key_loose(typed), typed.lower()]))
    try:
        validate(formatted)
    except InvalidKey as error:
        shown = [error.message, str(error), repr(error), str(error.args)]
        for text in shown:
            assert key not in text
            assert typed not in text
            assert formatted not in text
            for i in range(0, 25, 5):
                assert key[i : i + 5] not in text
                assert typed[i : i + 5] not in text


# --- display and storage forms -----------------------------------------------


def test_format_key_groups_five_by_five_and_is_idempotent():
    assert format_key(EXAMPLE_SYMBOLS) == EXAMPLE
    assert format_key(EXAMPLE) == EXAMPLE
    assert format_key(EXAMPLE.lower()) == EXAMPLE


def test_key_hash_is_sha256_of_the_canonical_symbols():
    expected = hashlib.sha256(EXAMPLE_SYMBOLS.encode("ascii")).hexdigest()
    assert key_hash(EXAMPLE_SYMBOLS) == expected
    assert key_hash(EXAMPLE) == expected
    assert key_hash("1qasw a7yhb xdpog je7wk rfc3w") == expected


def test_fingerprint_is_8_hex_of_a_separate_hash():
    fp = fingerprint(EXAMPLE)
    assert fp == hashlib.sha256(b"kscli-fp:" + EXAMPLE_SYMBOLS.encode()).hexdigest()[:8]
    assert re.fullmatch(r"[0-9a-f]{8}", fp)
    assert not key_hash(EXAMPLE).startswith(fp)
    assert fingerprint(EXAMPLE_SYMBOLS) == fp


@settings(max_examples=100, deadline=None)
@given(random_bodies)
def test_fingerprint_never_is_the_hash_prefix(body):
    key = key_from(body)
    assert key_hash(key)[:8] != fingerprint(key)


def test_last4_and_mask_show_only_the_end():
    assert last4(EXAMPLE) == "FC3W"
    assert last4(EXAMPLE_SYMBOLS) == "FC3W"
    assert mask("FC3W") == "*****-*****-*****-*****-*FC3W"
    assert mask(last4(EXAMPLE)) == "*****-*****-*****-*****-*FC3W"


@pytest.mark.parametrize("bad", ["FC3", "FC3WX", "fc3w", "FC3U"])
def test_mask_refuses_anything_but_four_symbols(bad):
    with pytest.raises(ValueError):
        mask(bad)


def test_hash_helpers_refuse_a_malformed_key():
    for helper in (key_hash, fingerprint, last4, format_key):
        with pytest.raises(InvalidKey):
            helper("1QASW-A7YHB")
