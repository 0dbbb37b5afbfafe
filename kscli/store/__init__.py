"""Persistence: one Store interface, a backend per kind of ledger."""

from __future__ import annotations

from kscli.store.base import Ledger, Store

__all__ = ["Ledger", "Store", "open_store", "describe"]


def open_store(spec: str, busy_timeout: float = 10.0) -> Store:
    """The backend for a ``--store`` value: a postgresql:// URL, a *.json path, or SQLite."""
    if spec.startswith(("postgresql://", "postgres://")):
        from kscli.store.postgres import PostgresStore

        return PostgresStore(spec, busy_timeout=busy_timeout)
    if spec.lower().endswith(".json"):
        from kscli.store.jsonfile import JsonStore

        return JsonStore(spec, busy_timeout=busy_timeout)
    from kscli.store.sqlite import SqliteStore

    return SqliteStore(spec, busy_timeout=busy_timeout)
