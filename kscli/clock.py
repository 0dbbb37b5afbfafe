"""The only place kscli reads the wall clock.

Tests freeze it with freezegun; every other module takes ``now`` as a parameter.
"""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    """The current time, aware and in UTC, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0)
