"""The ledger's tables, derived from the records' descriptions (kscli.domain.model).

The SQL backends create tables through the migrations (kscli.store.migrations); the
JSON backend keeps rows under the same column names. A row is a tuple of str, int or
None in column order (kscli.rows converts records to rows and back).
"""

from __future__ import annotations

from typing import NamedTuple

from kscli.domain.model import CHARGE, EVENT, INCIDENT, LICENSE, RATE, RECORDS, SUBSCRIPTION
from kscli.domain.records import Record
from kscli.rows import CODECS, from_row, to_row

__all__ = ["CODECS", "TABLES", "Table", "from_row", "to_row", "table_of"]


class Table(NamedTuple):
    name: str
    key: str
    columns: tuple[tuple[str, str], ...]  # (column, kind)
    record: type | None
    unique: tuple[str, ...] = ()
    since: int = 1  # the schema version that added the table
    refs: tuple[tuple[str, str], ...] = ()  # (column, table it refers to)
    description: Record | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


def table_of(record: Record, record_type: type | None = None,
             version: int | None = None) -> Table:
    """The storage table of a record kind (at schema ``version``: the columns it had)."""
    fields = record.fields if version is None else record.fields_at(version)
    column = {f.name: f.stored_as for f in record.fields}
    return Table(record.table, column[record.key], tuple((f.stored_as, f.kind) for f in fields),
                 record_type, tuple(column[u] for u in record.unique), record.since,
                 tuple((column[f], t) for f, t in record.refs), record)


_TYPES = {record.table: kind for kind, record in RECORDS.items()}
SUBS, LICENSES, INCIDENTS, CHARGES, EVENTS = (
    table_of(r, _TYPES[r.table]) for r in (SUBSCRIPTION, LICENSE, INCIDENT, CHARGE, EVENT))
SECRETS = Table("secrets", "license_id", (("license_id", "text"), ("key", "text")), None)
COUNTERS = Table("counters", "name", (("name", "text"), ("value", "int")), None)
RATES = table_of(RATE, _TYPES[RATE.table])

TABLES: dict[str, Table] = {
    t.name: t for t in (SUBS, LICENSES, INCIDENTS, CHARGES, EVENTS, SECRETS, COUNTERS, RATES)
}
