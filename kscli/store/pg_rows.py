"""PostgreSQL transactions over rows (``PgTx``) and the statements they run: the part
of the PostgreSQL backend (kscli.store.postgres) that speaks in rows."""

from __future__ import annotations

from itertools import chain, islice
from typing import Any, Iterable, Iterator, Sequence

from kscli.domain.words import words
from kscli.store.base import Conflict, Tx, words_match
from kscli.store.dsn import one_line as _one_line
from kscli.store.migrations import (POSTGRES, SCHEMA_VERSION, index_names, index_statements,
                                     pending, sql_statements)
from kscli.store.schema import TABLES
from kscli.store.sql import Statements

BATCH = 2000  # rows fetched per round trip by a streaming select
COPY_FROM = 64  # inserts of at least this many rows go through COPY


# -- statements --------------------------------------------------------------------

class _PgStatements(Statements):
    """The shared statements with ``%s`` placeholders, NULLs sorted as SQLite sorts them.

    SQLite puts NULLs first in ascending order and last in descending order;
    PostgreSQL does the opposite unless told. Keys and ``seq`` are never NULL, so they
    keep plain ordering (and their indexes).
    """

    def __init__(self) -> None:
        super().__init__("%s")

    def words_match(self, column: str, needle: str) -> tuple[str, list[Any]]:
        """The server narrows, the Tx decides (base.words_match): PostgreSQL's lower()
        knows A-Z only here (kscli's databases use the C locale) and nothing of accents,
        so the server keeps every row whose text holds each ASCII word of the needle
        as a part, and every row with letters beyond ASCII (more bytes than
        characters); a needle with a word beyond ASCII can only match such rows."""
        beyond = f"octet_length({column}) <> char_length({column})"
        wanted = words(needle)
        if not wanted or not all(w.isascii() for w in wanted):
            return f"({beyond})", []
        parts = " AND ".join([f"lower({column}) LIKE {self.ph}"] * len(wanted))
        return f"(({parts}) OR {beyond})", [f"%{w}%" for w in wanted]

    def order_term(self, spec, column: str, descending: bool) -> str:
        if column in (spec.key, "seq"):
            return f"{column}{' DESC' if descending else ''}"
        return f"{column}{' DESC NULLS LAST' if descending else ' NULLS FIRST'}"


_STATEMENTS = _PgStatements()
_INSERT_NEW = {name: _STATEMENTS.insert(name) + " ON CONFLICT DO NOTHING" for name in TABLES}
_COPY = {name: f"COPY {name} ({', '.join(t.names)}) FROM STDIN" for name, t in TABLES.items()}
# Indexes dropped before a COPY into an empty table and built again after it
_SECONDARY_INDEXES = {name: index_statements(name, POSTGRES) for name in TABLES}
_INDEX_NAMES = {name: index_names(name) for name in TABLES}


def migration_statements(from_version: int, to_version: int = SCHEMA_VERSION) -> list[str]:
    """The statements that take a ledger from one schema version to another (0 = none)."""
    return [statement for m in pending(from_version) if m.version <= to_version
            for statement in sql_statements(m, POSTGRES)]


# -- transactions over rows ------------------------------------------------------------

class PgTx(Tx):
    """One transaction on a psycopg connection; rows are tuples in column order."""

    def __init__(self, conn: Any, writable: bool) -> None:
        self.conn = conn
        self.writable = writable
        self.cur = conn.cursor()
        self._cursors = 0

    def get(self, table: str, key: str) -> tuple | None:
        return self.cur.execute(_STATEMENTS.get(table), (key,)).fetchone()

    def select(self, table: str, where: Sequence[tuple[str, str, Any]] = (),
               order: Sequence[str] = (), limit: int | None = None,
               descending: bool = False) -> Iterator[tuple]:
        blind = [(TABLES[table].names.index(column), value)
                 for column, op, value in where if op == "words"]
        if blind:  # the server finds more rows than match: see _PgStatements.words_match
            sql, params = _STATEMENTS.select(table, where, order, None, descending)
            rows = (row for row in self._stream(sql, params)
                    if all(words_match(row[i], value) for i, value in blind))
            return islice(rows, limit)
        sql, params = _STATEMENTS.select(table, where, order, limit, descending)
        if limit is not None and limit <= BATCH:
            return iter(self.conn.execute(sql, params).fetchall())
        return self._stream(sql, params)

    def select_columns(self, table: str, columns: Sequence[str],
                       where: Sequence[tuple[str, str, Any]] = ()) -> Iterator[tuple]:
        if any(op == "words" for _, op, _ in where):  # (filtered here: see select)
            return super().select_columns(table, columns, where)
        sql, params = _STATEMENTS.select(table, where, (), None, False, columns)
        return self._stream(sql, params)

    def _stream(self, sql: str, params: list[Any]) -> Iterator[tuple]:
        """Rows through a server-side cursor, BATCH at a time: constant memory."""
        self._cursors += 1
        cursor = self.conn.cursor(name=f"kscli_rows_{self._cursors}")
        cursor.itersize = BATCH
        try:
            cursor.execute(sql, params)
            while True:
                rows = cursor.fetchmany(BATCH)
                if not rows:
                    return
                yield from rows
        finally:
            try:
                cursor.close()
            except Exception:  # the transaction or connection is already gone
                pass

    def insert(self, table: str, rows: Iterable[tuple]) -> None:
        import psycopg

        it = iter(rows)
        head = list(islice(it, COPY_FROM))
        if not head:
            return
        if len(head) == 1 and not TABLES[table].refs:
            # One row (a new event, a new record): ON CONFLICT keeps the transaction
            # usable after a repeated reference, so the caller can pick another one,
            # without the two round trips of a savepoint. (Rows that refer to a
            # subscription take the savepoint below: a missing one must not abort.)
            try:
                self.cur.execute(_INSERT_NEW[table], head[0])
            except psycopg.IntegrityError as exc:
                raise Conflict(_one_line(exc.diag.message_primary or exc)) from None
            if self.cur.rowcount == 0:
                raise Conflict(f"{table}: a row with the same key or unique value exists")
            return
        try:
            with self.conn.transaction():  # a savepoint: all of these rows or none
                if len(head) < COPY_FROM:
                    self.cur.executemany(_STATEMENTS.insert(table), head)
                else:
                    self._copy(table, chain(head, it))
        except psycopg.IntegrityError as exc:
            detail = exc.diag.message_detail or exc.diag.message_primary or str(exc)
            raise Conflict(f"{table}: {_one_line(detail)}") from None

    def _copy(self, table: str, rows: Iterable[tuple]) -> None:
        """Many rows through COPY. Into an empty table (an import), the secondary
        indexes are dropped first and built once at the end: one sort instead of an
        index insert per row, about a third faster. Keys and unique columns keep their
        indexes, so a repeated value is still a Conflict, and the savepoint around this
        restores the indexes if anything fails."""
        rebuild: list[str] = []
        if _INDEX_NAMES[table] and not self.cur.execute(
                f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:
            rebuild = _SECONDARY_INDEXES[table]
            self.cur.execute("; ".join(f"DROP INDEX IF EXISTS {name}" for name in
                                       _INDEX_NAMES[table]))
        with self.cur.copy(_COPY[table]) as copy:
            write = copy.write_row
            for row in rows:
                write(row)
        for statement in rebuild:
            self.cur.execute(statement)

    def update(self, table: str, row: tuple) -> None:
        sql, values = _STATEMENTS.update(table, row)
        self.cur.execute(sql, values)

    def delete(self, table: str, keys: Iterable[str]) -> None:
        self.cur.executemany(_STATEMENTS.delete(table), [(k,) for k in keys])

    def count(self, table: str) -> int:
        return self.cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def next_numbers(self, name: str, first: int, count: int) -> int:
        return self.cur.execute(
            "INSERT INTO counters (name, value) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET value = counters.value + %s RETURNING value",
            (name, first + count - 1, count),
        ).fetchone()[0] - count + 1
