"""The Ledger's reads of stored charges (kscli.store.base.Ledger takes them in).

`charges check` and `charges discover` read every stored charge of a ledger, 100,000
and more, and each needs a few of its fields: ``charge_fields`` reads just those
columns (SQL selects only them) into light records of just those fields, converted as
a stored Charge's are (kscli.rows), rather than whole records.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import date
from typing import Any, Callable, Iterable, Sequence

from kscli.domain.model import CHARGE, Charge
from kscli.rows import CODECS

# How many line hashes one lookup names (SQLite takes at most 999 parameters before 3.32).
HASH_LOOKUP = 500

_FIELD_READERS: dict[tuple[str, ...], Callable[[tuple], Any]] = {}


def fields_reader(fields: tuple[str, ...]) -> Callable[[tuple], Any]:
    """The function from the stored values of some fields of a charge (in that order)
    to a record of just those fields (a named tuple ``ChargeFields``), each converted
    as kscli.rows converts a stored Charge's (built once per set of fields)."""
    found = _FIELD_READERS.get(fields)
    if found is None:
        from kscli.generated import record_reader
        from kscli.rows import _IN, _NULL_CONVERTED

        kinds = {field.name: field.kind for field in CHARGE.fields}
        record = namedtuple("ChargeFields", fields)  # type: ignore[misc]
        found = _FIELD_READERS[fields] = record_reader(
            record, [kinds[name] for name in fields], _IN, _NULL_CONVERTED)
    return found


def _columns(fields: tuple[str, ...]) -> tuple[str, ...]:
    """The stored columns of some fields of a charge."""
    column = {field.name: field.stored_as for field in CHARGE.fields}
    unknown = [name for name in fields if name not in column]
    if unknown:
        raise ValueError(f"charges have no field {unknown[0]}")
    return tuple(column[name] for name in fields)


def _charges_where(sub_id: str | None = None, unmatched: bool = False,
                   since: date | None = None, matched: bool = False) -> list[tuple[str, str, Any]]:
    """The conditions of charges() and charge_fields()."""
    where: list[tuple[str, str, Any]] = [("sub_id", "=", sub_id)] if sub_id else []
    where += [("sub_id", "=", None)] if unmatched else []
    where += [("sub_id", "!=", None)] if matched else []  # (matched to some subscription)
    where += [("posted_on", ">=", since.isoformat())] if since is not None else []
    return where


class LedgerCharges:
    """The charge reads of a Ledger (they use its transaction and its row reading)."""

    tx: Any
    _DAMAGE: tuple[type[BaseException], ...]

    def charge_by_hash(self, line_hash: str) -> Charge | None:
        for charge in self._select("charges", [("line_hash", "=", line_hash)], limit=1):  # type: ignore[attr-defined]
            return charge
        return None

    def holds_charges(self) -> bool:
        """Whether the ledger holds any charge (one row read, whatever the ledger's size)."""
        return bool(list(self.tx.select("charges", (), limit=1)))

    def charges_by_hashes(self, line_hashes: Sequence[str]) -> dict[str, Charge]:
        """The stored charges of these statement-line hashes, by hash (a few hundred
        at a time: the store looks each up in its index on line_hash)."""
        found: dict[str, Charge] = {}
        decode = CODECS["charges"].from_row
        for start in range(0, len(line_hashes), HASH_LOOKUP):
            for row in self.tx.find("charges", "line_hash",
                                    line_hashes[start:start + HASH_LOOKUP]):
                try:
                    charge = decode(row)
                except self._DAMAGE:
                    raise self._damaged("charges", row) from None  # type: ignore[attr-defined]
                found[charge.line_hash] = charge
        return found

    def charge(self, charge_id: str) -> Charge | None:
        return self._get("charges", charge_id)  # type: ignore[attr-defined]

    def charges(self, *, sub_id: str | None = None, unmatched: bool = False,
                since: date | None = None, matched: bool = False,
                in_order: bool = True) -> Iterable[Charge]:
        """The stored charges in posted_on and id order; ``in_order`` False: in no
        particular order, as one list, for a caller whose answer does not depend on it:
        no backend sorts 100,000 rows for it."""
        where = _charges_where(sub_id, unmatched, since, matched)
        if not in_order:
            return self._records("charges", where)  # type: ignore[attr-defined]
        return self._select("charges", where, order=("posted_on", "id"))  # type: ignore[attr-defined]

    def charge_fields(self, fields: Sequence[str], *, unmatched: bool = False,
                      matched: bool = False) -> list[Any]:
        """Some fields of the stored charges (``unmatched``: those matched to no
        subscription; ``matched``: those matched to one), in no particular order, as
        one list of records of just those fields (``fields_reader``): `charges check`
        and `charges discover` read 100,000 charges for a few fields each. A damaged
        value of those fields is exit 6, naming the charge, as for whole records."""
        from kscli import collector

        fields = tuple(fields)
        columns, decode = _columns(fields), fields_reader(fields)
        where = _charges_where(unmatched=unmatched, matched=matched)
        try:
            with collector.paused():
                return list(map(decode, list(self.tx.select_columns("charges", columns, where))))
        except self._DAMAGE:
            self._records("charges", where)  # type: ignore[attr-defined]  # raises naming the charge
            raise
