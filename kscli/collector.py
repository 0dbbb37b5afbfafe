"""Python's cycle collector, paused while kscli builds many records at once.

Reading or importing hundreds of thousands of rows makes as many tuples; the collector
would walk them again and again and find no cycle (records are plain tuples). Paused
for the one step, and switched back on after it, as it was.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
