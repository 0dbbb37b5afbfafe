"""License keys: format, lenient reading, check symbols, generation, hashes.

A key is 25 symbols of Crockford base32 (``0-9A-Z`` without I, L, O, U), shown in
five groups of five: ``1QASW-A7YHB-XDP0G-JE7WK-RFC3W``.

- symbol 1 is the version symbol (``1`` for the current version);
- symbols 2 to 23 are 22 random symbols (110 bits from ``secrets``);
- symbols 24 and 25 are the check: the first 23 symbols read as one base-32 number,
  modulo 1021, written as two base-32 digits (1021 < 32 * 32).

Why 1021: it is prime and larger than 32, so no power of 32 and no difference of two
symbols (at most 31) is a multiple of it. Changing one of the first 23 symbols by
``d`` changes the value by ``d * 32**k``; swapping two neighbours there changes it
by ``(a - b) * 31 * 32**k``; swapping symbol 23 with symbol 24 would need
``33 * (a - b)`` to be a multiple of 1021. None is, so every single-symbol typo and
every swap of two different neighbouring symbols is caught. A change inside the two
check symbols gives another number in 0..1023, which either is not the expected one
or is 1021..1023, which no key has. Random strings pass the check about 1 in 1021
times.

Keys are secrets: no message of :class:`InvalidKey` contains the key. The ledger
keeps only :func:`key_hash`, :func:`last4` and :func:`fingerprint`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kscli.domain.errors import Refused

# SHA-256 as CPython builds it in, the module hashlib itself falls back to: hashlib
# loads OpenSSL first, 5 ms of every `license validate` (same digests either way).
try:
    from _sha2 import sha256 as _sha256  # CPython 3.12 and later
except ImportError:
    try:
        from _sha256 import sha256 as _sha256  # CPython 3.11
    except ImportError:  # a Python built without it
        from hashlib import sha256 as _sha256

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 25
GROUP = 5
DATA_LENGTH = 23  # version symbol + 22 random symbols
RANDOM_LENGTH = 22
MODULUS = 1021
CURRENT_VERSION = "1"
KNOWN_VERSIONS = frozenset({CURRENT_VERSION})

CODE = "invalid-key"

_VALUE = {symbol: index for index, symbol in enumerate(ALPHABET)}
# Symbol k (0-based) of the first 23 has weight 32**(22 - k); kept modulo 1021.
_WEIGHTS = tuple(pow(32, DATA_LENGTH - 1 - k, MODULUS) for k in range(DATA_LENGTH))

# What a person may type for each symbol: either case, and the look-alikes.
_READ: dict[str, str] = {}
for _symbol in ALPHABET:
    _READ[_symbol] = _symbol
    _READ[_symbol.lower()] = _symbol
for _typed, _symbol in (("O", "0"), ("o", "0"), ("I", "1"), ("i", "1"), ("L", "1"), ("l", "1")):
    _READ[_typed] = _symbol

# Dashes skipped on input: ASCII, the typographic ones word processors and chat
# programs put in, and the invisible characters that come along with a copy.
_DASHES = frozenset(
    "-"
    + "".join(chr(c) for c in range(0x2010, 0x2016))  # hyphen .. horizontal bar
    + "\u2212"  # minus sign
    + "\ufe58"  # small em dash
    + "\ufe63"  # small hyphen-minus
    + "\uff0d"  # fullwidth hyphen-minus
)
_INVISIBLE = frozenset("\u00ad\u200b\u2060\ufeff")  # soft hyphen, zero widths, BOM

_ALLOWED = "keys use 0-9 and A-Z without I, L, O, U"
CHECK_FAILED = "the check symbols do not match: a symbol is mistyped or two are swapped"


class InvalidKey(ValueError):
    """A key that cannot be read or does not pass the check.

    ``message`` is one line and never contains the key. ``position`` is the 1-based
    symbol position at fault, when the fault is certain (a bad symbol, the version).
    ``kind`` says which rule failed: ``empty``, ``symbol``, ``length``, ``check`` or
    ``version``. A failed check never names a position or a fix: two check symbols
    cannot tell a mistyped symbol from two swapped ones, and a key one change away
    that passes the check may be somebody else's (:func:`one_swap_away` gives the
    candidates, for a caller that can look them up among the user's own keys).
    """

    code = CODE
    exit_code = 4

    def __init__(self, message: str, *, kind: str | None = None,
                 position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.position = position


def normalize(text: str) -> str:
    """The 25 canonical symbols of a key typed leniently; raise InvalidKey otherwise.

    Case, whitespace and dashes (ASCII or typographic) are ignored; O reads as 0 and
    I, L as 1. U and any other character are refused with their position among the
    symbols. The check is not verified here: see :func:`validate`.
    """
    symbols: list[str] = []
    for char in text or "":
        if char.isspace() or char in _DASHES or char in _INVISIBLE:
            continue
        symbol = _READ.get(char)
        if symbol is None:
            raise InvalidKey(
                f"symbol {len(symbols) + 1} is not allowed in a key: {_ALLOWED}",
                kind="symbol",
                position=len(symbols) + 1,
            )
        symbols.append(symbol)
    if not symbols:
        raise InvalidKey(f"the key is empty: a key has {LENGTH} symbols", kind="empty")
    if len(symbols) != LENGTH:
        raise InvalidKey(
            f"a key has {LENGTH} symbols; this one has {len(symbols)}", kind="length"
        )
    return "".join(symbols)


def validate(text: str) -> str:
    """The canonical symbols of a valid key; raise InvalidKey saying what is wrong.

    Checked in order: the symbols and their number, the check symbols, the version
    symbol.
    """
    symbols = normalize(text)
    digits = [_VALUE[s] for s in symbols]
    if _data_value(digits) != _stored_check(digits):
        raise InvalidKey(CHECK_FAILED, kind="check")
    if symbols[0] not in KNOWN_VERSIONS:
        raise InvalidKey(
            "the key has an unknown version (symbol 1): it may come from a newer kscli",
            kind="version",
            position=1,
        )
    return symbols


def format_key(symbols: str) -> str:
    """Five groups of five symbols joined by ASCII dashes."""
    canonical = normalize(symbols)
    return "-".join(canonical[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def check_value(symbols23: str) -> int:
    """The first 23 symbols read as one base-32 number, modulo 1021."""
    return _data_value([_VALUE[s] for s in _data_symbols(symbols23)])


def check_symbols(symbols23: str) -> str:
    """The two check symbols that follow these 23 symbols."""
    high, low = divmod(check_value(symbols23), 32)
    return ALPHABET[high] + ALPHABET[low]


def generate(random_symbols: Callable[[int], str] | None = None) -> str:
    """A new formatted key of the current version.

    ``random_symbols(n)`` returns n alphabet symbols; by default each comes from
    ``secrets.choice``. Tests pass their own to get known keys.
    """
    draw = random_symbols or _secret_symbols
    body = draw(RANDOM_LENGTH)
    if len(body) != RANDOM_LENGTH or any(s not in _VALUE for s in body):
        raise ValueError(f"random_symbols must return {RANDOM_LENGTH} symbols of {ALPHABET}")
    data = CURRENT_VERSION + body
    return format_key(data + check_symbols(data))


def key_hash(symbols: str) -> str:
    """SHA-256 (hex) of the 25 canonical symbols: how the ledger finds a key."""
    return _sha256(normalize(symbols).encode("ascii")).hexdigest()


def last4(symbols: str) -> str:
    """The last four symbols, shown to tell keys apart."""
    return normalize(symbols)[-4:]


def fingerprint(symbols: str) -> str:
    """Eight hex digits naming a key on screen, unrelated to :func:`key_hash`."""
    return _sha256(b"kscli-fp:" + normalize(symbols).encode("ascii")).hexdigest()[:8]


def mask(last4: str) -> str:
    """``*****-*****-*****-*****-*FC3W``: the key with all but its last four hidden."""
    if len(last4) != 4 or any(s not in _VALUE for s in last4):
        raise ValueError(f"last4 must be four symbols of {ALPHABET}")
    hidden = "*" * (LENGTH - 4) + last4
    return "-".join(hidden[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def _secret_symbols(count: int) -> str:
    import secrets  # only issuing needs randomness

    return "".join(secrets.choice(ALPHABET) for _ in range(count))


def _data_symbols(symbols23: str) -> str:
    if len(symbols23) != DATA_LENGTH or any(s not in _VALUE for s in symbols23):
        raise ValueError(f"check symbols are computed from {DATA_LENGTH} symbols of {ALPHABET}")
    return symbols23


def _data_value(digits: list[int]) -> int:
    return sum(d * w for d, w in zip(digits[:DATA_LENGTH], _WEIGHTS)) % MODULUS


def _stored_check(digits: list[int]) -> int:
    # 0..1023; 1021..1023 never match, as no value modulo 1021 reaches them.
    return digits[DATA_LENGTH] * 32 + digits[DATA_LENGTH + 1]


def one_swap_away(text: str) -> list[str]:
    """The valid keys (canonical symbols) that one swap of neighbouring symbols of
    ``text`` gives: candidates to look up among the user's own keys, never to show."""
    try:
        symbols = normalize(text)
    except InvalidKey:
        return []
    digits = [_VALUE[s] for s in symbols]
    return [symbols[:i] + symbols[i + 1] + symbols[i] + symbols[i + 2:]
            for i in _swap_fixes(digits)]


def _swap_fixes(digits: list[int]) -> list[int]:
    """0-based i where swapping symbols i and i+1 makes the key valid."""
    value = _data_value(digits)
    fixes = []
    for i in range(LENGTH - 1):
        a, b = digits[i], digits[i + 1]
        if a == b:
            continue
        version = b if i == 0 else digits[0]
        if ALPHABET[version] not in KNOWN_VERSIONS:
            continue
        if i < DATA_LENGTH - 1:  # both among the first 23
            new_value = (value + (b - a) * _WEIGHTS[i] + (a - b) * _WEIGHTS[i + 1]) % MODULUS
            new_check = _stored_check(digits)
        elif i == DATA_LENGTH - 1:  # symbol 23 with the first check symbol
            new_value = (value + (b - a) * _WEIGHTS[i]) % MODULUS
            new_check = a * 32 + digits[LENGTH - 1]
        else:  # the two check symbols
            new_value = value
            new_check = b * 32 + a
        if new_value == new_check:
            fixes.append(i)
    return fixes


class KeyRejected(Refused):
    """A key the validator refuses (exit 4, code ``invalid-key``).

    The message says what is wrong and where, never the key itself; ``extra`` adds
    fields to the JSON object of the refusal.
    """

    def __init__(self, invalid: InvalidKey, *, hint: str | None = None,
                 prefix: str = "invalid key", extra: dict[str, Any] | None = None) -> None:
        super().__init__(f"{prefix}: {invalid.message}", code=CODE, hint=hint)
        self.kind = invalid.kind
        self.position = invalid.position
        self.extra = dict(extra or {})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.extra, **super().to_dict(), "kind": self.kind}
        if self.position is not None:
            out["position"] = self.position
        return out
