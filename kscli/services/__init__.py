"""The use cases: inside one store transaction, load, apply a pure rule, save.

Services take a Store and ``now`` and return domain results; they never print.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from kscli.domain.calendar import iso
from kscli.domain.errors import Refused
from kscli.domain.model import Event

if TYPE_CHECKING:
    from kscli.store.base import Ledger

CLOCK_SKEW_SECONDS = 600


class Outcome(NamedTuple):
    """What a command did: the record as it now stands, a sentence, and the event.

    ``event`` is None when nothing changed (the command says so and exits 0).
    """

    record: Any
    message: str
    event: Event | None = None
    # printed on stderr, and under `warnings` in JSON (None: the command has none to give)
    warnings: tuple[str, ...] | None = None

    @property
    def changed(self) -> bool:
        return self.event is not None


def check_clock(ledger: Ledger, now: datetime, trust_clock: bool) -> None:
    """Refuse to act on a clock set back, which would reopen closed windows.

    Every use case that opens or closes a window calls it (sweep, activation, signing,
    refunds), so it lives here, beside the Outcome they all return.
    """
    if trust_clock:
        return
    latest = ledger.latest_event_at()
    if latest is not None and (latest - now).total_seconds() > CLOCK_SKEW_SECONDS:
        raise Refused(
            f"the clock reads {iso(now)}, earlier than the newest event in the "
            f"ledger ({iso(latest)}): a clock set back would reopen closed windows",
            code="clock-set-back",
            hint="fix the system clock, or pass --trust-clock if this time is right",
        )
