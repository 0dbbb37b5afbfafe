"""SQL shared by the SQLite and PostgreSQL backends: row statements (the tables
and indexes are made by kscli.store.migrations)."""

from __future__ import annotations

from typing import Any, Sequence

from kscli.domain.words import words
from kscli.store.schema import CODECS, TABLES, Table


def _literal(value: int | str) -> str:
    """An SQL literal of one of our own values (a field's usual value)."""
    return str(int(value)) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"


class Statements:
    """Builds parameterised statements in one placeholder style (``?`` or ``%s``)."""

    def __init__(self, placeholder: str) -> None:
        self.ph = placeholder
        self._insert: dict[str, str] = {}
        self._update: dict[str, str] = {}
        self._get: dict[str, str] = {}
        for table in TABLES.values():
            names = table.names
            marks = ", ".join([placeholder] * len(names))
            self._insert[table.name] = (
                f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"
            )
            sets = ", ".join(f"{n} = {placeholder}" for n in names if n != table.key)
            self._update[table.name] = (
                f"UPDATE {table.name} SET {sets} WHERE {table.key} = {placeholder}"
            )
            self._get[table.name] = (
                f"SELECT {', '.join(names)} FROM {table.name} WHERE {table.key} = {placeholder}"
            )

    def words_match(self, column: str, needle: str) -> tuple[str, list[Any]]:
        """The condition (and its parameters) that ``column`` holds the words of
        ``needle`` (base.words_match, given to SQLite as kscli_words)."""
        return f"kscli_words({column}, {self.ph})", [needle]

    def order_term(self, spec: Table, column: str, descending: bool) -> str:
        """One ORDER BY term; SQLite's NULLs come first going up, last going down."""
        return f"{column}{' DESC' if descending else ''}"

    def insert(self, table: str) -> str:
        return self._insert[table]

    def get(self, table: str) -> str:
        return self._get[table]

    def delete(self, table: str) -> str:
        spec = TABLES[table]
        return f"DELETE FROM {table} WHERE {spec.key} = {self.ph}"

    def update(self, table: str, row: tuple) -> tuple[str, tuple]:
        spec = TABLES[table]
        key_index = spec.names.index(spec.key)
        values = tuple(v for i, v in enumerate(row) if i != key_index) + (row[key_index],)
        return self._update[table], values

    def compact(self, table: str) -> list[str]:
        """The columns of a compact row (kscli.rows.Codec.expand): the dense ones, then
        NULL when every sparse one holds its usual value, else their JSON array
        (SQLite's json_array). Most subscriptions read 15 values instead of 29."""
        codec = CODECS[table]
        names = TABLES[table].names
        empty = [f"{names[i]} IS NULL" if value is None else f"{names[i]} = {_literal(value)}"
                 for i, value in zip(codec.sparse, codec.sparse_empty)]
        sparse = ", ".join(names[i] for i in codec.sparse)
        return [*(names[i] for i in codec.dense),
                f"CASE WHEN {' AND '.join(empty)} THEN NULL ELSE json_array({sparse}) END"]

    def select(self, table: str, where: Sequence[tuple[str, str, Any]], order: Sequence[str],
               limit: int | None, descending: bool,
               columns: Sequence[str] | None = None, *, compact: bool = False
               ) -> tuple[str, list[Any]]:
        """A SELECT of the table's columns (or just ``columns``, or a compact row) and its
        parameters."""
        spec = TABLES[table]
        unknown = [column for column in columns or () if column not in spec.names]
        if unknown:
            raise ValueError(f"unknown column {unknown[0]}")
        clauses, params = [], []
        for column, op, value in where:
            if column not in spec.names:
                raise ValueError(f"unknown column {column}")
            if op == "in":
                clauses.append(f"{column} IN ({', '.join([self.ph] * len(value))})")
                params.extend(value)
            elif op == "words":
                clause, extra = self.words_match(column, value)
                clauses.append(clause)
                params.extend(extra)
            elif op == "day-in":
                clauses.append(f"substr({column}, 9, 2) IN ({', '.join([self.ph] * len(value))})")
                params.extend(value)
            elif op in ("id<", "id>="):  # the natural id order, as ORDER BY below
                clauses.append(f"(length({column}), {column}) {op[2:]} ({self.ph}, {self.ph})")
                params.extend((len(value), value))
            elif value is None and op in ("=", "!="):
                clauses.append(f"{column} IS {'NOT ' if op == '!=' else ''}NULL")
            elif op in ("=", "!=", "<", "<=", ">", ">="):
                clauses.append(f"{column} {op} {self.ph}")
                params.append(value)
            else:
                raise ValueError(f"unknown operator {op}")
        sql = f"SELECT {', '.join(self.compact(table) if compact else columns or spec.names)} FROM {table}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        if order:
            terms = []
            for column in order:
                if column == "id":  # kscli.domain.ids.natural_key: S-999 before S-1000
                    terms += [f"length(id){' DESC' if descending else ''}",
                              f"id{' DESC' if descending else ''}"]
                else:
                    terms.append(self.order_term(spec, column, descending))
            sql += " ORDER BY " + ", ".join(terms)
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return sql, params
