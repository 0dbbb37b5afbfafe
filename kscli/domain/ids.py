"""Record ids: their prefixes, their form and their order, in one place.

An id is a prefix and a number: ``S-1001`` a subscription, ``L-1001`` a license key,
``I-1001`` an incident, ``C-1001`` a charge. A ledger numbers each kind from
``FIRST`` on; a number has 1 to 9 digits and no leading zero.

A finding of `charges check` is named by what it is about, not numbered: ``F-`` and
ten symbols of a hash of its kind and its charge's statement line (:func:`finding`),
so the same finding has the same id on every run and after a statement is imported
again, and a dismissal (`charges dismiss F-...`) keeps applying to it.

Ids sort naturally: ``S-999`` before ``S-1000``, that is by length, then as text
(:func:`natural_key`; the SQL stores write the same order as ``length(id), id``).
"""

from __future__ import annotations

import re
from typing import Any

SUB = "S-"
LICENSE = "L-"
INCIDENT = "I-"
CHARGE = "C-"
FINDING = "F-"

# (Each record's description in kscli.domain.model names its prefix from these.)

FIRST = 1001
NUMBER = r"[1-9][0-9]{0,8}"


def form(prefix: str) -> re.Pattern[str]:
    """The pattern an id of one kind fully matches (``S-1001``, not ``S-01`` or ``s-1``)."""
    return re.compile(re.escape(prefix) + NUMBER)


# Crockford's base 32 (no I, L, O, U): read aloud and typed back without doubt
_SYMBOLS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = tuple(a + b for a in _SYMBOLS for b in _SYMBOLS)  # ten bits, two symbols
FINDING_FORM = re.compile(re.escape(FINDING) + "[" + _SYMBOLS + "]{10}")


def finding(kind: str, line_hash: str) -> str:
    """The id of a finding of ``kind`` about the charge of statement line ``line_hash``:
    ``F-`` and 50 bits of their SHA-256, like ``F-7Q2K9MXA3B``."""
    from hashlib import sha256

    number = int.from_bytes(sha256(f"{kind}\0{line_hash}".encode()).digest()[:7], "big") >> 6
    return FINDING + "".join([_PAIRS[(number >> shift) & 1023] for shift in (40, 30, 20, 10, 0)])


def natural_key(ident: Any) -> tuple:
    """Sort key of the natural id order: S-999 before S-1000 (a non-text value first)."""
    return (len(ident), ident) if isinstance(ident, str) else (0, ident)


def last(idents: Any) -> str:
    """The id last in the natural order of text ids (``max`` by :func:`natural_key`,
    its pairs made in C: an import finds the highest of 200,000 ids)."""
    return max(zip(map(len, idents), idents))[1]
