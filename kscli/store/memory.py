"""Rows held in memory: the engine of the JSON backend and of a ledger not yet created."""

from __future__ import annotations

import operator
from typing import Any, Iterable, Iterator, Sequence

from kscli.domain.ids import natural_key
from kscli.store.base import Conflict, Ledger, Tx, words_match
from kscli.store.schema import TABLES

_OPS = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}


class MemoryTx(Tx):
    """Tables as dicts from key to row; events keep their order of insertion."""

    def __init__(self, tables: dict[str, dict[str, tuple]] | None = None,
                 writable: bool = False) -> None:
        self.tables = tables if tables is not None else {name: {} for name in TABLES}
        self.writable = writable
        self.dirty = False
        self._unique: dict[tuple[str, str], dict[Any, str]] = {}

    def _unique_index(self, table: str, column: str) -> dict[Any, str]:
        index = self._unique.get((table, column))
        if index is None:
            spec = TABLES[table]
            i, k = spec.names.index(column), spec.names.index(spec.key)
            index = {row[i]: row[k] for row in self.tables[table].values() if row[i] is not None}
            self._unique[(table, column)] = index
        return index

    def get(self, table: str, key: str) -> tuple | None:
        return self.tables[table].get(key)

    def select(self, table: str, where: Sequence[tuple[str, str, Any]] = (),
               order: Sequence[str] = (), limit: int | None = None,
               descending: bool = False) -> Iterator[tuple]:
        spec = TABLES[table]
        names = spec.names
        tests = []
        for column, op, value in where:
            i = names.index(column)
            if op == "in":
                tests.append(lambda r, i=i, v=frozenset(value): r[i] in v)
            elif op == "words":
                tests.append(lambda r, i=i, v=value: words_match(r[i], v))
            elif op == "day-in":
                tests.append(lambda r, i=i, v=frozenset(value): r[i] is not None and r[i][8:10] in v)
            elif op in ("id<", "id>="):
                fn = _OPS[op[2:]]
                tests.append(lambda r, i=i, v=natural_key(value), fn=fn: fn(natural_key(r[i]), v))
            elif value is None:
                tests.append(lambda r, i=i, eq=(op == "="): (r[i] is None) == eq)
            else:
                fn = _OPS[op]
                tests.append(lambda r, i=i, v=value, fn=fn: r[i] is not None and fn(r[i], v))
        rows = [r for r in self.tables[table].values() if all(t(r) for t in tests)]
        keys = [c for c in order if c != "seq"]
        if keys:
            idx = [names.index(c) for c in keys]
            rows.sort(key=lambda r: tuple(
                natural_key(r[i]) if names[i] == "id" else (r[i] is not None, r[i] or "") for i in idx
            ), reverse=descending)
        elif descending:
            rows.reverse()
        if limit is not None:
            rows = rows[:limit]
        return iter(rows)

    def insert(self, table: str, rows: Iterable[tuple]) -> None:
        spec = TABLES[table]
        k = spec.names.index(spec.key)
        store = self.tables[table]
        uniques = [(c, spec.names.index(c), self._unique_index(table, c), set())
                   for c in spec.unique]
        staged: dict[str, tuple] = {}
        for row in rows:
            if row[k] in store or row[k] in staged:
                raise Conflict(f"{table}.{spec.key} {row[k]!r} exists")
            for column, i, existing, seen in uniques:
                value = row[i]
                if value is not None:
                    if value in existing or value in seen:
                        raise Conflict(f"{table}.{column} exists")
                    seen.add(value)
            staged[row[k]] = row
        for key, row in staged.items():
            store[key] = row
            for _, i, existing, _ in uniques:
                if row[i] is not None:
                    existing[row[i]] = key
        if staged:
            self.dirty = True

    def delete(self, table: str, keys: Iterable[str]) -> None:
        rows = self.tables[table]
        for key in keys:
            if rows.pop(key, None) is not None:
                self.dirty = True
        self._unique = {k: v for k, v in self._unique.items() if k[0] != table}

    def update(self, table: str, row: tuple) -> None:
        spec = TABLES[table]
        key = row[spec.names.index(spec.key)]
        if key in self.tables[table]:
            self.tables[table][key] = row
            self._unique = {k: v for k, v in self._unique.items() if k[0] != table}
            self.dirty = True

    def count(self, table: str) -> int:
        return len(self.tables[table])

    def next_numbers(self, name: str, first: int, count: int) -> int:
        row = self.tables["counters"].get(name)
        start = first if row is None else row[1] + 1
        self.tables["counters"][name] = (name, start + count - 1)
        self.dirty = True
        return start

    def find(self, table: str, column: str, values: Sequence[Any]) -> Iterator[tuple]:
        if column not in TABLES[table].unique:
            return super().find(table, column, values)
        index, rows = self._unique_index(table, column), self.tables[table]
        return iter([rows[index[value]] for value in values if value in index])


def empty_ledger(location: str) -> Ledger:
    return Ledger(MemoryTx(), location)
