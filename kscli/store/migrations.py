"""The ledger's schema, as an ordered list of named migrations.

A new ledger is made by applying every migration in order; an older one by applying
those it has not had. Each backend records which it applied (the SQL backends in the
table ``kscli_migrations`` and their schema version, the JSON file in its
``migrations`` list and ``schema``), and each backend copies the ledger aside before
migrating it (``<ledger>.vN.bak``; PostgreSQL migrates in one transaction instead).

A migration is data: a list of steps that each backend carries out its own way
(``sql_statements`` for SQLite and PostgreSQL, ``apply_to_tables`` for the JSON
file). A step creates a table (with the columns its record had at that version),
adds a column (from the record's description: its kind and default), or creates an
index. Adding a field to a record is one line in its description (``since`` the new
version) and one migration here::

    Migration(4, "subs-trial-end", (AddColumn("subs", "trial_end"),)),
"""

from __future__ import annotations

from typing import Any, NamedTuple

from kscli.store.schema import TABLES, Table, table_of


class CreateTable(NamedTuple):
    table: str


class AddColumn(NamedTuple):
    table: str
    field: str  # the record's field (its column, kind and default come from the description)


class CreateIndex(NamedTuple):
    """An index. Each term is a column, or ``("length", column)`` (the length of its
    text: ids in natural order) or ``("day", column)`` (the day of the month of a
    stored time: characters 9 and 10 of its ISO text). ``only_set``: a partial index,
    of the rows where that column is not null (a few rows looked up often)."""

    name: str
    table: str
    terms: tuple[Any, ...]
    plain: bool = True  # PostgreSQL: order NULLs first, as listings sort
    only_set: str | None = None


Step = CreateTable | AddColumn | CreateIndex


class Migration(NamedTuple):
    version: int
    name: str
    steps: tuple[Step, ...]


def _indexes(table: str, *columns: tuple[str, ...]) -> tuple[CreateIndex, ...]:
    return tuple(CreateIndex(f"ix_{table}_{'_'.join(c)}", table, c) for c in columns)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "ledger", (
        CreateTable("subs"), CreateTable("licenses"), CreateTable("incidents"),
        CreateTable("events"), CreateTable("secrets"), CreateTable("counters"),
        *_indexes("subs", ("status", "period_end"), ("vendor",), ("account",)),
        *_indexes("licenses", ("status", "purchased_at"), ("sub_id",)),
        *_indexes("incidents", ("sub_id",)),
        *_indexes("events", ("subject",), ("at",)),
        # listings run in id order (S-999 before S-1000): an index in that order
        # streams them without sorting the whole table first
        CreateIndex("ix_subs_natural", "subs", (("length", "id"), "id"), plain=False),
    )),
    Migration(2, "charges", (
        CreateTable("charges"), *_indexes("charges", ("sub_id",)),
    )),
    # `renew due` finds the unswept subscriptions renewing in its window by the day of
    # the month they started on (store.base, "day-in")
    Migration(3, "subs-anchor-index", (
        CreateIndex("ix_subs_anchor", "subs", ("status", ("day", "started_at"), "period_end"),
                    plain=False),
    )),
    Migration(4, "subs-terms", (AddColumn("subs", "prices"), AddColumn("subs", "plans"))),
    # euro reference rates for `report --in` (kscli rates import)
    Migration(5, "rates", (
        CreateTable("rates"), *_indexes("rates", ("currency", "day")),
    )),
    # how statements write a vendor (`sub add|edit --match`)
    Migration(6, "subs-match", (AddColumn("subs", "matches"),)),
    # free trials, notice periods and fixed ends (`sub add|edit --trial --notice --ends`)
    Migration(7, "subs-deadlines", (AddColumn("subs", "trial"), AddColumn("subs", "notice"),
                                    AddColumn("subs", "ends"))),
    # how a charge was matched: by hand (`charges match|unmatch`) or by the import
    Migration(8, "charges-matched-by", (AddColumn("charges", "matched_by"),)),
    # `renew due` looks up the unswept free trials on their own (their paid periods fall
    # on the trial's end's day, not the start's): few rows, found without a scan of every
    # active subscription whose period ended
    Migration(9, "subs-trial-index", (
        CreateIndex("ix_subs_trial", "subs", ("status", "period_end"), only_set="trial"),
    )),
)

# The newest schema this code writes: the version of the last migration.
SCHEMA_VERSION = MIGRATIONS[-1].version
assert [m.version for m in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))


def pending(version: int) -> tuple[Migration, ...]:
    """The migrations a ledger of schema ``version`` (0: none yet) has not had."""
    return tuple(m for m in MIGRATIONS if m.version > version)


def table_at(name: str, version: int) -> Table:
    """A table as schema ``version`` stores it (the columns its record had then)."""
    table = TABLES[name]
    if table.description is None:
        return table
    return table_of(table.description, table.record, version)


# -- SQL ----------------------------------------------------------------------------

class Dialect(NamedTuple):
    serial: str  # the auto-numbered key column of the events' order
    text: str  # the type of a text column
    integer: str  # the type of an integer column (64 bits)
    nulls_first: bool  # index plain columns with NULLS FIRST
    wrap_expressions: bool  # an index term that is an expression needs parentheses


SQLITE = Dialect("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT", "INTEGER", False, False)
POSTGRES = Dialect("BIGSERIAL PRIMARY KEY", 'TEXT COLLATE "C"', "BIGINT", True, True)


def _column(table: Table, name: str, kind: str, dialect: Dialect) -> str:
    col = f"{name} {dialect.integer if kind in ('int', 'bool') else dialect.text}"
    if name == table.key:
        col += " NOT NULL UNIQUE" if table.name == "events" else " PRIMARY KEY"
    elif name in table.unique:
        col += " UNIQUE"
    refs = dict(table.refs)
    if name in refs:
        col += f" REFERENCES {refs[name]}(id)"
    return col


def _term(term: Any, dialect: Dialect, plain: bool) -> str:
    if isinstance(term, str):
        return f"{term} NULLS FIRST" if plain and dialect.nulls_first else term
    function, column = term
    text = f"length({column})" if function == "length" else f"substr({column}, 9, 2)"
    return f"({text})" if dialect.wrap_expressions else text


def _stored_default(table: Table, field: str) -> Any:
    """The stored form of a field's default value."""
    from kscli.rows import stored

    described = table.description.field(field)  # type: ignore[union-attr]
    return stored(described.kind, described.default)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def step_statements(step: Step, version: int, dialect: Dialect) -> list[str]:
    """The SQL of one step of migration ``version``."""
    if isinstance(step, CreateTable):
        table = table_at(step.table, version)
        cols = [f"seq {dialect.serial}"] if table.name == "events" else []
        cols += [_column(table, name, kind, dialect) for name, kind in table.columns]
        return [f"CREATE TABLE IF NOT EXISTS {table.name} ({', '.join(cols)})"]
    if isinstance(step, AddColumn):
        table = TABLES[step.table]
        description = table.description
        assert description is not None, step
        described = description.field(step.field)
        column = _column(table, described.stored_as, described.kind, dialect)
        return [f"ALTER TABLE {table.name} ADD COLUMN {column} "
                f"DEFAULT {_literal(_stored_default(table, step.field))}"]
    terms = ", ".join(_term(t, dialect, step.plain) for t in step.terms)
    partial = f" WHERE {step.only_set} IS NOT NULL" if step.only_set else ""
    return [f"CREATE INDEX IF NOT EXISTS {step.name} ON {step.table} ({terms}){partial}"]


def sql_statements(migration: Migration, dialect: Dialect) -> list[str]:
    return [s for step in migration.steps for s in step_statements(step, migration.version, dialect)]


def index_names(table: str) -> list[str]:
    """Every index the migrations create on a table, in order."""
    return [step.name for m in MIGRATIONS for step in m.steps
            if isinstance(step, CreateIndex) and step.table == table]


def index_statements(table: str, dialect: Dialect) -> list[str]:
    """The statements that create every index of a table (after a bulk load)."""
    return [s for m in MIGRATIONS for step in m.steps
            if isinstance(step, CreateIndex) and step.table == table
            for s in step_statements(step, m.version, dialect)]


def record_applied(version: int, migrations: tuple[Migration, ...],
                   placeholder: str = "?") -> list[tuple]:
    """The statements (with their values) that record the migrations applied: the
    ``kscli_migrations`` table, a row for each migration of a ledger at ``version``
    (applied before the table was kept: no time) and one for each of ``migrations``
    (applied now). Run in the migrating transaction."""
    from kscli.clock import now
    from kscli.domain.calendar import iso

    insert = (f"INSERT INTO kscli_migrations (version, name, applied_at) VALUES "
              f"({placeholder}, {placeholder}, {placeholder}) ON CONFLICT (version) DO NOTHING")
    statements: list[tuple] = [(
        "CREATE TABLE IF NOT EXISTS kscli_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT)",)]
    at = iso(now())
    for m in MIGRATIONS:
        if m.version <= version:
            statements.append((insert, (m.version, m.name, None)))
        elif m in migrations:
            statements.append((insert, (m.version, m.name, at)))
    return statements


# -- the JSON file ------------------------------------------------------------------

def apply_to_tables(migration: Migration, tables: dict[str, Any]) -> None:
    """Carry out a migration on a JSON ledger's tables, or an export's (rows keyed by
    column): an export of an older schema is read as its ledger would be migrated."""
    for step in migration.steps:
        if isinstance(step, CreateTable):
            tables.setdefault(step.table, [])
        elif isinstance(step, AddColumn):
            table = TABLES[step.table]
            column = table.description.field(step.field).stored_as  # type: ignore[union-attr]
            default = _stored_default(table, step.field)
            rows = tables.get(step.table)
            for row in rows if isinstance(rows, list) else ():
                if isinstance(row, dict):  # (anything else is refused by the reader)
                    row.setdefault(column, default)
        # indexes: the JSON file has none (it is read whole)
