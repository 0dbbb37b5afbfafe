"""The PostgreSQL test server: a fresh database per test, dropped when the run ends.

The server itself comes from ``KSCLI_TEST_PG_DSN`` (``.ci/postgres.sh`` starts a
private one); each test gets a new, uniquely named database on it, so tests never see
each other's rows and may run in any order.
"""

from __future__ import annotations

import atexit
import itertools
import os
import secrets
from urllib.parse import urlsplit, urlunsplit

_created: list[tuple[str, str]] = []  # (server DSN, database name)
_counter = itertools.count(1)


def with_database(dsn: str, name: str) -> str:
    """The same server URL, pointing at another database."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def fresh_database(dsn: str) -> str:
    """Create a new, empty, uniquely named database on the test server; return its URL."""
    import psycopg
    from psycopg import sql

    name = f"kscli_test_{os.getpid()}_{next(_counter)}_{secrets.token_hex(3)}"
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    if not _created:
        atexit.register(_drop_all)
    _created.append((dsn, name))
    return with_database(dsn, name)


def drop_database(dsn: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _drop_all() -> None:
    """Drop the databases this run created (a developer's server stays clean)."""
    while _created:
        dsn, name = _created.pop()
        try:
            drop_database(dsn, name)
        except Exception:  # the server may already be stopped: nothing to clean then
            pass
