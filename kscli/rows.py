"""Records as stored rows and back, derived from each record's description.

A row is a tuple of str, int or None in the order of the record's stored fields (its
``Record.fields``): times are ISO 8601 UTC text with Z (which sorts as time does),
money is decimal text, flags are 0 or 1, objects are compact JSON. The stored text of
a time or an amount is also its public JSON form, which lets a listing write a row
without converting it twice (kscli.views).

Both directions are ordinary functions built once per record kind: text and numbers
pass as they are, and only the fields of other kinds are converted.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable

from kscli.domain.calendar import from_iso, iso
from kscli.domain.model import RECORDS, Activation
from kscli.domain.records import Record


def _acts_out(acts: tuple[Activation, ...]) -> str:
    return json.dumps([[a.machine, iso(a.at)] for a in acts], separators=(",", ":"))


def _acts_in(text: str | None) -> tuple[Activation, ...]:
    if not text:
        return ()
    return tuple(Activation(m, datetime.fromisoformat(at)) for m, at in json.loads(text))


def _json_in(text: str | None) -> dict:
    # most objects of a ledger are empty (no price or plan history): not parsed
    return json.loads(text) if text and text != "{}" else {}


def _json_out(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _dec_in(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _dec_out(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _date_in(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _date_out(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _bool_out(value: Any) -> int:
    return 1 if value else 0


# The conversion of each kind, out to a row and in from one (None: kept as it is).
_OUT: dict[str, Callable[[Any], Any] | None] = {
    "text": None, "int": None, "bool": _bool_out, "dec": _dec_out, "dt": iso,
    "date": _date_out, "json": _json_out, "acts": _acts_out,
}
_IN: dict[str, Callable[[Any], Any] | None] = {
    "text": None, "int": None, "bool": bool, "dec": _dec_in, "dt": from_iso,
    "date": _date_in, "json": _json_in, "acts": _acts_in,
}
_NULL_CONVERTED = ("bool", "json", "acts")  # a stored null reads as False, {} or ()


def stored(kind: str, value: Any) -> Any:
    """One value of a kind in its stored form."""
    convert = _OUT[kind]
    return value if convert is None else convert(value)


class _LastIso:
    """``iso``, remembering the last time it wrote: the records one command writes
    share their times (every charge of an import has its ``imported_at``), and a time
    met again is not formatted again."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: tuple[datetime | None, str | None] = (None, None)

    def __call__(self, when: datetime | None) -> str | None:
        last = self.last  # (one tuple: read and replaced whole)
        if when is last[0]:
            return last[1]
        text = iso(when)
        self.last = (when, text)
        return text


class _Generated:
    """A reader of Codec: on the class, the rule; on a codec, its generated copy, built
    the first time it is asked for (Codec._readers), then found in the codec's own
    attributes. A command reads one or two kinds of record: building the readers of all
    five when kscli.rows is imported took about 1 ms of every command's start-up."""

    def __init__(self, rule: Callable[..., Any]) -> None:
        self.rule = rule

    def __get__(self, codec: Any, owner: type | None = None) -> Any:
        if codec is None:
            return self.rule
        codec._readers()
        return codec.__dict__[self.rule.__name__]


class Codec:
    """The two conversions of one record kind between records and rows."""

    def __init__(self, record: Record, record_type: type) -> None:
        self.record = record
        self.type = record_type
        self.columns = tuple(f.stored_as for f in record.fields)
        self.kinds = tuple(f.kind for f in record.fields)
        # (position, conversion) of the fields that are not kept as they are
        self._outs = tuple((i, _LastIso() if k == "dt" else _OUT[k])
                           for i, k in enumerate(self.kinds) if _OUT[k])
        self._ins = tuple((i, _IN[k], k in _NULL_CONVERTED)
                          for i, k in enumerate(self.kinds) if _IN[k])
        # the sparse fields (Field.sparse), and the stored form of each one's usual value
        self.sparse = tuple(i for i, f in enumerate(record.fields) if f.sparse)
        self.dense = tuple(i for i, f in enumerate(record.fields) if not f.sparse)
        self.sparse_empty = tuple(stored(record.fields[i].kind, record.fields[i].usual)
                                  for i in self.sparse)

    def _readers(self) -> None:
        """The record's readers, generated (kscli.generated) where it has a type of its
        own, in place of the rules (``from_row``, ``from_compact``) for this codec."""
        if self.type is tuple:
            self.__dict__.update(from_row=Codec.from_row.__get__(self),
                                 from_compact=Codec.from_compact.__get__(self))
            return
        from kscli.generated import compact_reader, record_reader

        fields = self.record.fields
        self.__dict__["from_row"] = record_reader(self.type, self.kinds, _IN, _NULL_CONVERTED)
        self.__dict__["from_compact"] = compact_reader(
            self.type, self.kinds, _IN, _NULL_CONVERTED,
            {i: (fields[i].usual, empty) for i, empty in zip(self.sparse, self.sparse_empty)},
            Codec.from_compact.__get__(self))

    def to_row(self, value: tuple) -> tuple:
        row = list(value)
        for i, convert in self._outs:
            row[i] = convert(row[i])
        return tuple(row)

    def expand(self, compact: tuple) -> tuple:
        """The full row of a compact one: its dense values in order, then None when
        every sparse field holds its usual value, else the JSON array of the sparse values
        (what SQLite's listing reads: kscli.store.sql)."""
        extra = compact[-1]
        sparse = self.sparse_empty if extra is None else json.loads(extra)
        row: list[Any] = [None] * len(self.kinds)
        for i, value in zip(self.dense, compact):
            row[i] = value
        for i, value in zip(self.sparse, sparse):
            row[i] = value
        return tuple(row)

    def from_compact(self, compact: tuple) -> tuple[Any, tuple]:
        """(record, full row) of a compact row (the rule; generated: kscli.generated)."""
        row = self.expand(compact)
        return self.from_row(row), row

    def from_row(self, row: tuple) -> Any:
        """A row's record (the rule; each record kind reads through its generated copy)."""
        values = list(row)
        for i, convert, always in self._ins:
            if always or values[i] is not None:
                values[i] = convert(values[i])
        return tuple.__new__(self.type, values)

    from_compact = _Generated(from_compact)  # type: ignore[assignment]
    from_row = _Generated(from_row)  # type: ignore[assignment]


CODECS: dict[str, Codec] = {record.table: Codec(record, kind) for kind, record in RECORDS.items()}
_BY_TYPE = {kind: CODECS[record.table] for kind, record in RECORDS.items()}


def codec_for(record: Record) -> Codec:
    """The codec of a description (one of the record kinds, or a changed copy)."""
    known = CODECS.get(record.table)
    if known is not None and known.record == record:
        return known
    return Codec(record, known.type if known is not None else tuple)


def codec_of(record: Any) -> Codec:
    """The codec of a record's kind."""
    return _BY_TYPE[type(record)]


def to_row(record: Any) -> tuple:
    return _BY_TYPE[type(record)].to_row(record)


def from_row(table: str, row: tuple) -> Any:
    return CODECS[table].from_row(row)
