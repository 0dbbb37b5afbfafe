"""How a record kind is described: its fields, once, for every use.

Each record kscli keeps (subscription, license key, incident, charge, event) has one
``Record`` description in ``kscli.domain.model``. Everything else is derived from it
by ordinary functions: the record's Python type (a NamedTuple), the stored columns and
the row codecs (``kscli.rows``), the storage tables (``kscli.store.schema``), the
public JSON objects (``kscli.views``), event snapshots, the import's checks
(``kscli.services.ledger``) and click's choices.

A field names

- ``name``: the record's attribute;
- ``kind``: how its value is kept: ``text``, ``int``, ``bool``, ``dec`` (Decimal, kept
  as text), ``dt`` (UTC datetime, ISO 8601 text with Z), ``date``, ``json`` (an
  object), ``acts`` (activations);
- ``column``: the storage column (by default the name);
- ``json``: the key in the record's public JSON, None when it is never shown;
- ``required``: a value is needed (an import refuses a null);
- ``choices``: the values allowed (None: any value of its kind), and ``check`` with
  ``what``: a rule a value must pass, and what a failing value "is not";
- ``exported``: whether `kscli export` carries it;
- ``since``: the schema version whose migration added it (see kscli.store.migrations);
- ``sparse``: most records leave it at its default (None without one): a listing on
  SQLite reads a row's sparse fields as one value, nothing at all when every one holds
  its default (kscli.rows, Codec.from_compact).

Adding a field is one line here (with ``since`` the new version) and one migration.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any, Callable, Mapping, NamedTuple

KINDS = ("text", "int", "bool", "dec", "dt", "date", "json", "acts")


class _Needed:
    """The default of a field that has none (a value must be given)."""

    def __repr__(self) -> str:
        return "NEEDED"


NEEDED: Any = _Needed()


class Field(NamedTuple):
    name: str
    kind: str
    default: Any = NEEDED
    required: bool = False
    choices: tuple[str, ...] | Mapping[str, Any] | None = None
    check: Callable[[Any], bool] | None = None
    what: str = ""
    column: str = ""
    json: str | None = ""
    exported: bool = True
    since: int = 1
    sparse: bool = False

    @property
    def stored_as(self) -> str:
        """The storage column."""
        return self.column or self.name

    @property
    def usual(self) -> Any:
        """The value a sparse field most often holds: its default, or None."""
        return None if self.default is NEEDED else self.default

    @property
    def public_key(self) -> str | None:
        """The key in the public JSON object, or None."""
        return self.name if self.json == "" else self.json


class Record(NamedTuple):
    """One kind of record: its table, key, id prefix, and fields in order."""

    table: str
    key: str
    fields: tuple[Field, ...]
    prefix: str | None = None  # ids like S-1001 (None: keyed otherwise)
    unique: tuple[str, ...] = ()  # fields whose values never repeat
    refs: tuple[tuple[str, str], ...] = ()  # (field, table it refers to)
    since: int = 1  # the schema version that added the table
    noun: str = ""  # what people call one, in messages ("subscription")

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def fields_at(self, version: int) -> tuple[Field, ...]:
        """The fields a ledger of schema ``version`` stores."""
        return tuple(f for f in self.fields if f.since <= version)

    def renamed(self, name: str, column: str) -> Record:
        """A copy with one field stored under another column (what a storage rename
        looks like: the record and its public JSON do not change)."""
        return self._replace(fields=tuple(f._replace(column=column) if f.name == name else f
                                          for f in self.fields))


def record_type(type_name: str, record: Record) -> type:
    """The NamedTuple base class of a record kind, its fields and defaults from the
    description (fields with a default come after those without)."""
    names = record.names
    defaults = [f.default for f in record.fields if f.default is not NEEDED]
    first_default = len(names) - len(defaults)
    if any(f.default is NEEDED for f in record.fields[first_default:]):
        raise ValueError(f"{type_name}: a field without a default follows one with a default")
    return namedtuple(type_name, names, defaults=defaults or None)
