"""Words as kscli reads and writes them: the whole-word match of names, and counts.

One rule decides whether a name given on the command line (``--vendor acme``,
``--account ada``) names a stored one, and the statement matcher uses the same: both
are folded (case and accents: ``Ärzte`` is ``arzte``, ``STRASSE`` is ``strasse``, as
is ``Straße``), split into words on spaces, punctuation and ``*`` (``AMZN*Prime``
is two words), and the needle matches when its words appear, in order and
consecutive, as whole words of the haystack: ``acme`` finds ``Acme Cloud`` but not
``Acmeware``, and ``cloud pro`` finds ``Acme Cloud Pro``. A needle with no word at
all (only punctuation) matches nothing.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+")  # a word: a run of letters and digits


def fold(text: str) -> str:
    """Text without case or accents: compatibility forms decomposed (``ﬁ`` is ``fi``,
    ``ℌ`` is ``h``), case folded, combining marks dropped."""
    if text.isascii():  # (most statement text) nothing to decompose: folding is lower case
        return text.lower()
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return "".join(c for c in folded if not unicodedata.combining(c))


def words(text: str) -> tuple[str, ...]:
    """The folded words of ``text``: split on anything that is not a letter or digit."""
    if text.isascii():  # (most statement text) words split by spaces alone: no regex
        parts = text.lower().split()
        if all(map(str.isalnum, parts)):  # (ASCII letters and digits only)
            return tuple(parts)
    return tuple(_WORD.findall(fold(text)))


def contains_words(haystack: str | None, needle: str) -> bool:
    """Whether the words of ``needle`` appear as whole consecutive words of ``haystack``."""
    wanted = words(needle)
    if not wanted or not haystack:
        return False
    have = words(haystack)
    n = len(wanted)
    return any(have[i:i + n] == wanted for i in range(len(have) - n + 1))


def contains_text(haystack: str | None, needle: str) -> bool:
    """Whether ``needle`` appears anywhere in ``haystack``, case and accents folded
    (``--search``: any part of a word)."""
    wanted = fold(needle).strip()
    return bool(wanted) and haystack is not None and wanted in fold(haystack)


def count_of(n: int, noun: str, plural: str | None = None) -> str:
    """``1 incident``, ``2 incidents``: a number and its noun, agreeing."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
