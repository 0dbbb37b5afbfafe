"""Whole tables into an empty ledger, in one bulk load (an import, a copy): the
part of the Ledger every backend shares for it.

An import's tables come a chunk at a time (``load_checked``: the export file being
read, kscli.services.export_file), checked before they are written or, on SQLite,
while the indexes are built; the checks' message (the row and column at fault) is
the one the user sees, and nothing is kept. A copy of a ledger's own rows
(``load_into_empty``) is not checked again.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterator, Protocol, Sequence

from kscli.domain.errors import KscliError
from kscli.store.schema import TABLES

Ledger = Any  # a kscli.store.base.Ledger (which calls these)
Tables = dict[str, list[dict[str, Any]]]


class Checked(Protocol):
    """Tables read and checked a chunk at a time (an export file being read:
    kscli.services.export_file.Export)."""

    keys_missing: int  # licenses whose key was left out (known once the chunks are read)

    def chunks(self, later: bool = False) -> Iterator[tuple[str, list[Sequence[Any]]]]:
        """Each table's columns (in column order), a chunk of rows at a time, each
        checked before it comes (``later``: kept unchecked for ``check_kept``); raises
        (BadValue) at the first problem."""

    def check_kept(self, read: bool = True) -> None:
        """Check what ``chunks(later=True)`` gave (with the rules across tables if the
        chunks were all ``read``); raises (BadValue) at the first problem."""


class NotEmpty(Exception):
    """An import into a ledger that already holds records."""


def load_into_empty(ledger: Ledger, tables: Tables) -> dict[str, int]:
    """Load whole tables if ``ledger`` holds no records (else NotEmpty), and empty
    ``tables`` once they are written (so that their rows are freed while the backend
    builds its indexes)."""
    if ledger.holds_records():
        raise NotEmpty(ledger.location)
    try:
        counts = load_tables(ledger, tables)
        _free(tables)
    finally:
        failed = ledger.tx.settle()
    if failed is not None:
        raise failed
    return counts


def load_checked(ledger: Ledger, tables: Checked) -> dict[str, int]:
    """Load ``tables`` if ``ledger`` holds no records (else NotEmpty, once every chunk
    is read and checked: a bad file is named first, whatever ledger it meets), in one
    bulk load. A backend that loads chunk by chunk and builds its indexes without
    Python's lock (``Tx.loads_in_chunks``: SQLite) writes each chunk as it comes and
    checks them all while it builds the indexes, on a second core (a load that fails
    on a value runs the checks first, so that their message is the one the user
    sees); the others get each table whole, checked. Either way nothing is kept
    unless every check passes (the caller's transaction rolls back)."""
    tx = ledger.tx
    if ledger.holds_records():
        deque(tables.chunks(), 0)
        raise NotEmpty(ledger.location)
    counts = dict.fromkeys(TABLES, 0)
    try:
        if tx.loads_in_chunks:
            try:
                with tx.bulk():
                    for name, columns in tables.chunks(later=True):
                        tx.load_columns(name, columns)
                        counts[name] += len(columns[0])
            except Exception as exc:
                if not isinstance(exc, KscliError):
                    tables.check_kept(read=False)  # a value the backend refused: named by the checks
                raise
            tables.check_kept()  # while the backend builds its indexes (settled below)
        else:
            whole: dict[str, list[list[Any]]] = {}
            for name, columns in tables.chunks():
                for kept, values in zip(whole.setdefault(name, [[] for _ in columns]), columns):
                    kept.extend(values)
            with tx.bulk():
                for name in TABLES:  # (in the order references need: subscriptions first)
                    if name in whole:
                        tx.load_columns(name, whole[name])
                        counts[name] = len(whole[name][0])
    finally:
        failed = tx.settle()
    if failed is not None:
        raise failed
    counts["keys_missing"] = tables.keys_missing
    return counts


def load_tables(ledger: Ledger, data: Tables) -> dict[str, int]:
    """Load whole tables into an empty ledger, in one bulk load: rows keyed by column,
    every column named (what dump_rows gives)."""
    from kscli.secrets import MISSING

    tx = ledger.tx
    counts: dict[str, int] = {
        "keys_missing": sum(1 for row in data.get("licenses") or ()
                            if row.get("secret_store") == MISSING),
    }
    with tx.bulk():
        for name in TABLES:  # (in the order references need: subscriptions first)
            rows = data.get(name) or []
            if rows:
                tx.load(name, rows)
            counts[name] = len(rows)
    return counts


def _free(tables: dict[str, list[Any]]) -> None:
    """Empty ``tables``, a few thousand rows at a time: freeing 200,000 rows takes a
    quarter of a second, and a backend thread waiting for Python's lock (to start
    its next index) gets it between two chunks."""
    for rows in tables.values():
        while rows:
            del rows[-5000:]
    tables.clear()
