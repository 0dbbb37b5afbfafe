"""The use cases: inside one store transaction, load, apply a pure rule, save.

Services take a Store and ``now`` and return domain results; they never print.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from kscli.domain.model import Event


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
