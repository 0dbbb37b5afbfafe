"""Record ids: their prefixes, their form and their order, in one place.

An id is a prefix and a number: ``S-1001`` a subscription, ``L-1001`` a license key,
``I-1001`` an incident, ``C-1001`` a charge. A ledger numbers each kind from
``FIRST`` on; a number has 1 to 9 digits and no leading zero.

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

# (Each record's description in kscli.domain.model names its prefix from these.)

FIRST = 1001
NUMBER = r"[1-9][0-9]{0,8}"


def form(prefix: str) -> re.Pattern[str]:
    """The pattern an id of one kind fully matches (``S-1001``, not ``S-01`` or ``s-1``)."""
    return re.compile(re.escape(prefix) + NUMBER)


def natural_key(ident: Any) -> tuple:
    """Sort key of the natural id order: S-999 before S-1000 (a non-text value first)."""
    return (len(ident), ident) if isinstance(ident, str) else (0, ident)
