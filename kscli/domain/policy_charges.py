"""The policy's clause on charges (``charges.price-changed``): its parameter, read and
checked.

``tolerance_percent`` is how far a charge's amount may lie from the price in force
before `charges check` calls it a price change (card exchange noise): 0 (the default)
asks for the exact amount, 2.5 allows 2.5 percent either way. A number from 0 to 50,
whole or decimal.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

CLAUSE = "charges.price-changed"
MAX_TOLERANCE = Decimal(50)


def tolerance(value: Any) -> Decimal | None:
    """The tolerance a policy file's value gives, or None when it is none (not a
    number, or outside 0 to 50)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        found = Decimal(str(value))
    except InvalidOperation:  # nan, inf
        return None
    return found if found.is_finite() and 0 <= found <= MAX_TOLERANCE else None


def check_price_changed(check: Any, clause_id: str, body: Mapping[str, Any]) -> dict | None:
    """The clause's parameters, or None after telling ``check`` what is wrong."""
    value = body.get("tolerance_percent", 0)
    if tolerance(value) is None:
        check.error(clause_id, f"'tolerance_percent' must be a number of percent from 0 to "
                    f"{MAX_TOLERANCE}, not {value!r}", key="tolerance_percent")
        return None
    return {"tolerance_percent": value}
