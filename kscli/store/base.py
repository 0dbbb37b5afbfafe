"""The one Store interface every backend implements, and the Ledger on top of it.

A backend provides transactions over rows (``Tx``): get, select, insert, update and a
counter. ``Ledger`` turns rows into records and back, so that services speak only in
domain records and every backend shares one implementation of the ledger's logic.
"""

from __future__ import annotations

import functools
import os
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from operator import itemgetter
from typing import Any, Callable, Iterable, Iterator, Sequence

from kscli import collector
from kscli.domain import ids
from kscli.domain.calendar import iso
from kscli.domain.words import contains_words
from kscli.domain.errors import BadValue, NotFound, StoreUnreadable, printable
from kscli.domain.model import VOID, Event, Incident, License, Subscription
from kscli.rows import CODECS, codec_of, to_row
from kscli.store.charges import LedgerCharges
from kscli.store.loading import Checked, Tables, load_checked, load_into_empty, load_tables
from kscli.store.migrations import SCHEMA_VERSION
from kscli.store.schema import TABLES

Where = Sequence[tuple[str, str, Any]]  # (column, operator, value)
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "words", "day-in")
# "day-in": the day of the month of a stored time (ISO text, characters 9 and 10) is
# one of the given days (two-digit text, "01" to "31").

# What reading a damaged stored value raises (Decimal's InvalidOperation is an
# ArithmeticError; a bad time or JSON text a ValueError; a wrong type a TypeError).
_DAMAGE = (ValueError, TypeError, ArithmeticError, KeyError, IndexError)

_REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def words_match(text: Any, needle: Any) -> bool:
    """The ``words`` operator: ``needle``'s words are whole consecutive words of the
    column's text, case and accents folded (kscli.domain.words, the one rule), on
    every backend (SQLite calls it as a function, the others in Python)."""
    return isinstance(text, str) and isinstance(needle, str) and contains_words(text, needle)


def _not_kept(where: str, what: str) -> BadValue:
    return BadValue(f"{where} {what}; nothing was written",
                    hint="kscli keeps dates from 1900 to 2999 and text without NUL bytes")


class Conflict(Exception):
    """A row that would break a unique column (a reference or key already there)."""


def new_reference(now: datetime) -> str:
    """A reference number such as ``KS-20261122-7Q2K9M`` (30 random bits from the
    system's generator, five to a character; os.urandom is what ``secrets`` draws on,
    without the import of hashlib and hmac that costs every write)."""
    bits = int.from_bytes(os.urandom(4), "big") >> 2
    tail = "".join(_REF_ALPHABET[bits >> shift & 31] for shift in (25, 20, 15, 10, 5, 0))
    return f"KS-{now.strftime('%Y%m%d')}-{tail}"



class Tx(ABC):
    """One backend transaction over rows (tuples in the table's column order)."""

    writable: bool = False

    @abstractmethod
    def get(self, table: str, key: str) -> tuple | None: ...

    @abstractmethod
    def select(self, table: str, where: Where = (), order: Sequence[str] = (),
               limit: int | None = None, descending: bool = False) -> Iterator[tuple]: ...

    @abstractmethod
    def insert(self, table: str, rows: Iterable[tuple]) -> None:
        """Add rows; raise Conflict if one breaks a unique column."""

    @abstractmethod
    def update(self, table: str, row: tuple) -> None: ...

    @abstractmethod
    def delete(self, table: str, keys: Iterable[str]) -> None:
        """Remove the rows with these keys (a key not there is left alone)."""

    @abstractmethod
    def count(self, table: str) -> int: ...

    def next_number(self, name: str, first: int) -> int:
        """The next value of a named counter (``first`` when it was never used)."""
        return self.next_numbers(name, first, 1)

    @abstractmethod
    def next_numbers(self, name: str, first: int, count: int) -> int:
        """Reserve the next ``count`` values of a named counter in one update, and give
        the first of them (``first`` when it was never used)."""

    def select_columns(self, table: str, columns: Sequence[str],
                       where: Where = ()) -> Iterable[tuple]:
        """Those columns of the selected rows, in no order (SQL backends read no more)."""
        spec = TABLES[table]
        pick = itemgetter(*(spec.names.index(column) for column in columns))
        rows = self.select(table, where)
        return map(pick, rows) if len(columns) > 1 else zip(map(pick, rows))

    def select_stored(self, table: str, where: Where = (), order: Sequence[str] = ()
                      ) -> tuple[Iterable[tuple], bool]:
        """The selected rows, to be read as records: full rows (and False), or compact
        ones (and True: kscli.rows.Codec.from_compact) where a backend reads fewer
        values that way."""
        return self.select(table, where, order), False

    def expect_rows(self, count: int) -> None:
        """A hint: this transaction is about to write some ``count`` rows (a statement's
        charges); a backend may keep more of its pages at hand for them."""

    def find(self, table: str, column: str, values: Sequence[Any]) -> Iterator[tuple]:
        """The rows whose ``column`` (a unique one) holds one of ``values``."""
        return self.select(table, [(column, "in", tuple(values))])

    def load(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Add a whole table, rows keyed by column (inside ``bulk``)."""
        self.insert(table, map(itemgetter(*TABLES[table].names), rows))

    def load_columns(self, table: str, columns: Sequence[Sequence[Any]]) -> None:
        """Add rows given as columns, in column order (inside ``bulk``)."""
        self.insert(table, zip(*columns))

    # whether an import writes each checked chunk as it comes (inside one ``bulk``),
    # or whole tables once every chunk is checked
    loads_in_chunks = False

    def settle(self) -> BaseException | None:
        """Wait for work a bulk load left running (an index build), and give what it
        raised, if anything."""
        return None

    def bulk(self) -> AbstractContextManager[None]:
        """A block of many inserts into an empty ledger; backends may load faster."""
        from contextlib import nullcontext

        return nullcontext()


class Ledger(LedgerCharges):
    """Records in, records out, over one backend transaction (the charges' reads are
    kscli.store.charges')."""

    _DAMAGE = _DAMAGE  # (for LedgerCharges)

    def __init__(self, tx: Tx, location: str) -> None:
        self.tx = tx
        self.location = location
        self.appended: list[Event] = []  # this transaction's events, in order
        self.written: dict[str, list[tuple]] = {}  # this transaction's records, as rows

    # ids and events -------------------------------------------------------------
    def next_id(self, prefix: str) -> str:
        return f"{prefix}{self.tx.next_number(prefix, ids.FIRST)}"

    def next_ids(self, prefix: str, count: int) -> list[str]:
        """``count`` new ids, reserved in one counter update (the ids ``count`` calls
        of ``next_id`` would give)."""
        if count <= 0:
            return []
        first = self.tx.next_numbers(prefix, ids.FIRST, count)
        return [f"{prefix}{number}" for number in range(first, first + count)]

    def append_event(self, subject: str, action: str, detail: dict[str, Any], now: datetime,
                     at: datetime | None = None) -> Event:
        if at is not None and at != now:
            detail = {**detail, "effective_at": iso(at)}
        for _ in range(20):
            event = Event(new_reference(now), now, subject, action, detail)
            try:
                self.tx.insert("events", [to_row(event)])
            except Conflict:
                continue
            self.appended.append(event)
            return event
        raise RuntimeError("could not find a free reference number")  # pragma: no cover

    def events(self, subject: str | None = None) -> Iterator[Event]:
        where = [("subject", "=", subject)] if subject else []
        for row in self.tx.select("events", where, order=("seq",)):
            yield self._read("events", row)

    def events_about(self, sub_id: str) -> Iterator[Event]:
        """The events of a subscription and of its incidents and keys, in order."""
        subjects = {sub_id}
        subjects.update(i.id for i in self.incidents(sub_id))
        subjects.update(lic.id for lic in self.licenses(sub_id=sub_id))
        where = [("subject", "in", tuple(sorted(subjects)))]
        for row in self.tx.select("events", where, order=("seq",)):
            yield self._read("events", row)

    def histories_after(self, at: datetime, table: str = "subs") -> dict[str, list[Event]]:
        """The whole history of every subscription (or record of ``table``) with an
        event recorded after ``at`` (what answering as of ``at`` must undo); the others
        have none to undo."""
        subjects = {self._read("events", row).subject
                    for row in self.tx.select("events", [("at", ">", iso(at))])}
        return {subject: list(self.events(subject)) for subject in sorted(subjects)
                if self.tx.get(table, subject) is not None}

    def latest_event_at(self) -> datetime | None:
        for row in self.tx.select("events", (), order=("at",), limit=1, descending=True):
            return self._read("events", row).at
        return None

    def event(self, reference: str) -> Event | None:
        row = self.tx.get("events", reference)
        return None if row is None else self._read("events", row)

    # reading rows ----------------------------------------------------------------
    def _read(self, table: str, row: tuple) -> Any:
        try:
            return CODECS[table].from_row(row)
        except _DAMAGE:
            raise self._damaged(table, row) from None

    def _damaged(self, table: str, row: tuple) -> StoreUnreadable:
        """Exit 6 for a stored row whose values cannot be read (a hand edit, a flipped
        byte), naming the record and the field; nothing is written."""
        from kscli.checks import column_ok

        codec = CODECS[table]
        key = row[codec.columns.index(TABLES[table].key)] if len(row) == len(codec.columns) else "?"
        field = next((column for column, kind, value in zip(codec.columns, codec.kinds, row)
                      if not column_ok(kind, [value])), "a value")
        return StoreUnreadable(
            f"{self.location} is damaged: {codec.record.noun} {printable(str(key))[:40]} holds "
            f"a {field} that is not a valid value; kscli left it untouched",
            hint="restore the ledger from a backup, or correct the value by hand and run "
                 "`kscli doctor`")

    # generic records -------------------------------------------------------------
    def add(self, record: Any) -> None:
        codec = codec_of(record)
        row = codec.to_row(record)
        self.written.setdefault(codec.record.table, []).append(row)
        with self._checked_on_failure():
            self.tx.insert(codec.record.table, [row])

    def add_many(self, records: Iterable[Any], table: str) -> None:
        codec = CODECS[table].to_row
        written = self.written.setdefault(table, [])
        with self._checked_on_failure():
            self.tx.insert(table, (written.append(row) or row for row in map(codec, records)))

    def save(self, record: Any) -> None:
        codec = codec_of(record)
        row = codec.to_row(record)
        self.written.setdefault(codec.record.table, []).append(row)
        with self._checked_on_failure():
            self.tx.update(codec.record.table, row)

    @contextmanager
    def _checked_on_failure(self) -> Iterator[None]:
        """A backend that cannot take a value (text UTF-8 cannot write) fails before the
        commit's check: the check names the record and field instead."""
        try:
            yield
        except (UnicodeEncodeError, ValueError):
            self.check_written()
            raise

    def remove(self, table: str, keys: Sequence[str]) -> None:
        """Remove records (a charge imported by mistake); the event that says so is the
        caller's. Events themselves are never removed."""
        if table == "events":
            raise ValueError("events are never removed")
        self.tx.delete(table, keys)

    def check_written(self) -> None:
        """Refuse the transaction (BadValue, exit 2: nothing is written) if a record it
        wrote holds a value an import would refuse (kscli.checks: one rule for both),
        so that whatever a command accepted, the ledger can be exported and imported."""
        from kscli.checks import check_rows

        for table, rows in self.written.items():
            codec = CODECS[table]
            key = codec.columns.index(TABLES[table].key)

            def where(i: int, column: str, rows=rows) -> str:
                return f"{rows[i][key]}: {column}"

            check_rows(codec.record, rows, where, _not_kept)
        self.written.clear()

    def _get(self, table: str, key: str) -> Any:
        row = self.tx.get(table, key)
        return None if row is None else self._read(table, row)

    def _select(self, table: str, where: Where = (), order: Sequence[str] = ("id",),
                limit: int | None = None) -> Iterator[Any]:
        decode = CODECS[table].from_row
        for row in self.tx.select(table, where, order=order, limit=limit):
            try:
                yield decode(row)
            except _DAMAGE:
                raise self._damaged(table, row) from None

    def _records(self, table: str, where: Where = ()) -> list[Any]:
        """A selection's records (no order) as one list, read by map in one pass with
        the collector paused (it finds no cycles here); a damaged row is exit 6."""
        rows: list = []
        try:
            with collector.paused():
                return list(map(CODECS[table].from_row, rows := list(self.tx.select(table, where))))
        except _DAMAGE:
            for row in rows:
                self._read(table, row)  # raises naming the damaged row
            raise

    # subscriptions ------------------------------------------------------------------
    def sub(self, sub_id: str) -> Subscription | None:
        return self._get("subs", sub_id)

    def record(self, table: str, key: str) -> Any:
        """The record of ``table`` with that key, or None."""
        return self._get(table, key)

    def require(self, table: str, key: str, listing: str) -> Any:
        """The record, or exit 3 naming the ledger and ``listing``, the command that
        lists the ids."""
        return self._require(table, key, listing)

    def _require(self, table: str, key: str, listing: str) -> Any:
        """The record, or exit 3 naming the ledger and the command that lists the ids."""
        record = self._get(table, key)
        if record is None:
            raise NotFound(f"no {CODECS[table].record.noun} {key} in {self.location}",
                           hint=f"`{listing}` shows the ids, --store picks another ledger")
        return record

    def require_sub(self, sub_id: str) -> Subscription:
        return self._require("subs", sub_id, "kscli sub list")

    def subs(self, *, status: Sequence[str] | None = None, vendor: str | None = None,
             account: str | None = None, product: str | None = None,
             period_end_before: datetime | None = None,
             period_end_from: datetime | None = None, started_before: datetime | None = None,
             started_on_days: Iterable[int] | None = None,
             order: Sequence[str] = ("id",)) -> Iterator[Subscription]:
        return self._select("subs", self._subs_where(
            status=status, vendor=vendor, account=account, product=product,
            period_end_before=period_end_before, period_end_from=period_end_from,
            started_before=started_before, started_on_days=started_on_days), order=order)

    @staticmethod
    def _subs_where(*, status: Sequence[str] | None = None, vendor: str | None = None,
                    account: str | None = None, product: str | None = None,
                    period_end_before: datetime | None = None,
                    period_end_from: datetime | None = None,
                    started_before: datetime | None = None,
                    started_on_days: Iterable[int] | None = None,
                    with_trial: bool = False, without_void: bool = False,
                    id_before: str | None = None, id_from: str | None = None
                    ) -> list[tuple[str, str, Any]]:
        """The conditions of subs() and subs_stored() (``without_void``: leave out the
        records entered by mistake; ``id_before`` and ``id_from``: ids before an id, or
        from it on, in the natural id order)."""
        where: list[tuple[str, str, Any]] = []
        if id_before is not None:
            where.append(("id", "id<", id_before))
        if id_from is not None:
            where.append(("id", "id>=", id_from))
        if status:
            where.append(("status", "in", tuple(status)))
        if without_void:
            where.append(("status", "!=", VOID))
        for column, needle in (("vendor", vendor), ("product", product), ("account", account)):
            if needle:
                where.append((column, "words", needle))
        if period_end_from is not None:
            where.append(("period_end", ">=", iso(period_end_from)))
        if period_end_before is not None:
            where.append(("period_end", "<=", iso(period_end_before)))
        if started_before is not None:
            where.append(("started_at", "<=", iso(started_before)))
        if started_on_days is not None:
            where.append(("started_at", "day-in", tuple(f"{d:02d}" for d in sorted(started_on_days))))
        if with_trial:  # the paid periods count from the trial's end, not the start's day
            where.append(("trial", "!=", None))
        return where

    def subs_stored(self, *, order: Sequence[str] = ("id",),
                    **filters: Any) -> Iterator[tuple[Subscription, tuple]]:
        """Like subs(), each record with the row it was read from (for fast listings)."""
        codec = CODECS["subs"]
        rows, compact = self.tx.select_stored("subs", self._subs_where(**filters), order=order)
        if compact:
            read = codec.from_compact
            for fetched in rows:
                try:
                    pair = read(fetched)
                except _DAMAGE:
                    raise self._damaged("subs", codec.expand(fetched)) from None
                yield pair
            return
        record = codec.from_row
        for row in rows:
            try:
                sub = record(row)
            except _DAMAGE:
                raise self._damaged("subs", row) from None
            yield sub, row

    # licenses ------------------------------------------------------------------------
    def license(self, license_id: str) -> License | None:
        return self._get("licenses", license_id)

    def require_license(self, license_id: str) -> License:
        return self._require("licenses", license_id, "kscli license list")

    def license_by_hash(self, key_hash: str) -> License | None:
        for lic in self._select("licenses", [("key_hash", "=", key_hash)], limit=1):
            return lic
        return None

    def licenses(self, *, status: Sequence[str] | None = None, sub_id: str | None = None,
                 purchased_before: datetime | None = None,
                 account: str | None = None) -> Iterator[License]:
        where: list[tuple[str, str, Any]] = []
        if account:
            where.append(("account", "words", account))
        if status:
            where.append(("status", "in", tuple(status)))
        if sub_id:
            where.append(("sub_id", "=", sub_id))
        if purchased_before is not None:
            where.append(("purchased_at", "<=", iso(purchased_before)))
        return self._select("licenses", where)

    def put_secret(self, license_id: str, key: str) -> None:
        if self.tx.get("secrets", license_id) is None:
            self.tx.insert("secrets", [(license_id, key)])
        else:
            self.tx.update("secrets", (license_id, key))

    def secret(self, license_id: str) -> str | None:
        row = self.tx.get("secrets", license_id)
        return None if row is None else row[1]

    # incidents -----------------------------------------------------------------------
    def incident(self, incident_id: str) -> Incident | None:
        return self._get("incidents", incident_id)

    def require_incident(self, incident_id: str) -> Incident:
        return self._require("incidents", incident_id, "kscli incident list")

    def incidents(self, sub_id: str | None = None) -> Iterator[Incident]:
        where = [("sub_id", "=", sub_id)] if sub_id else []
        return self._select("incidents", where)

    # the whole ledger ----------------------------------------------------------------
    def dump_rows(self) -> dict[str, list[dict[str, Any]]]:
        """Every stored row as a dict, table by table, in a stable order."""
        out: dict[str, list[dict[str, Any]]] = {}
        for name, table in TABLES.items():
            if name == "secrets":
                continue  # keys never leave the ledger through an export
            order = ("seq",) if name == "events" else (table.key,)
            out[name] = [dict(zip(table.names, row)) for row in self.tx.select(name, (), order=order)]
        return out

    def holds_records(self) -> bool:
        """Whether anything was ever recorded here (an empty ledger may still hold its
        counters and schema)."""
        return any(self.tx.count(name) for name, table in TABLES.items() if table.description)

    def load_into_empty(self, tables: Tables) -> dict[str, int]:
        return load_into_empty(self, tables)  # (kscli.store.loading)

    def load_tables(self, data: Tables) -> dict[str, int]:
        return load_tables(self, data)

    def load_checked(self, tables: Checked) -> dict[str, int]:
        return load_checked(self, tables)  # (kscli.store.loading)


class Store(ABC):
    """A ledger somewhere: a file or a server."""

    kind: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "write" in cls.__dict__:
            cls.write = _recording(cls.__dict__["write"])  # type: ignore[method-assign]

    @property
    def committed(self) -> list[Event]:
        """The events of this process's write transactions that committed, in order: an
        interrupted command says which changes stand."""
        return self.__dict__.setdefault("_committed", [])

    @property
    def committing(self) -> list[Event]:
        """Events of a transaction whose commit is under way (empty otherwise)."""
        return self.__dict__.get("_committing") or []

    def __init__(self, location: str) -> None:
        self.location = location

    def _unreadable(self, why: str, hint: str | None = None) -> StoreUnreadable:
        """Exit 6: the ledger cannot be used, and was not touched."""
        return StoreUnreadable(
            f"{self.location} is not a readable kscli ledger ({why}); kscli left it untouched",
            hint=hint or "restore it from a backup, or point --store at another ledger",
        )

    def _newer_schema(self, version: int, hint: str | None = None) -> StoreUnreadable:
        return self._unreadable(
            f"schema version {version} is newer than this kscli understands "
            f"({SCHEMA_VERSION}); upgrade kscli", hint)

    @property
    def secrets_place(self) -> str:
        """Where license keys go when no keyring is usable, in words for a warning."""
        return f"the ledger file {self.location} (private, mode 0600)"

    def import_tables(self, read: Callable[[], Tables]) -> dict[str, int]:
        """Load whole tables of rows another ledger holds (not checked again), as
        ``read`` gives them (again at each call), into this ledger, which must hold no
        records (else NotEmpty)."""
        with self.write() as ledger:
            return ledger.load_into_empty(read())

    def import_checked(self, read: Callable[[], Checked]) -> dict[str, int]:
        """Load the tables ``read`` gives (again at each call: an export file being
        read, checked a chunk at a time) into this ledger, which must hold no records
        (else NotEmpty); nothing is kept unless every check passes."""
        with self.write() as ledger:
            return ledger.load_checked(read())

    @abstractmethod
    def exists(self) -> bool: ...

    @abstractmethod
    def read(self) -> AbstractContextManager[Ledger]:
        """A consistent read-only view; a missing ledger reads as an empty one."""

    def split_point(self, at_least: int) -> str | None:
        """The subscription id at the middle of the ledger in id order, where a
        listing can be split between two processes that read one snapshot
        (kscli.cli.halves), or None: fewer than ``at_least`` subscriptions, or a backend
        whose reads two processes cannot hold to one snapshot (all but SQLite)."""
        return None

    def read_watched(self) -> AbstractContextManager[tuple[Ledger, Callable[[], bool]]]:
        """read(), with a watch on the ledger begun before its snapshot was taken: the
        function tells whether anything was committed since (by any process). Only
        where split_point is not always None."""
        raise NotImplementedError(f"{self.kind} has no read_watched")

    @abstractmethod
    def write(self) -> AbstractContextManager[Ledger]:
        """One write transaction: committed when the block ends without an exception.

        Creates the ledger (and its folder) on first use. Raises StoreBusy when another
        writer holds it past the busy timeout, StoreUnreadable when it cannot be read.
        """

    @abstractmethod
    def schema_version(self) -> int | None:
        """The stored schema version, None for a ledger that does not exist yet."""

    @abstractmethod
    def checks(self, quick: bool = False) -> list[tuple[str, bool, str]]:
        """Health checks for `doctor`: (name, passed, detail); ``quick`` skips the slow
        ones a backend has (SQLite: quick_check instead of integrity_check)."""


def _recording(write: Callable[[Store], AbstractContextManager[Ledger]]):
    """Wrap a backend's ``write`` so that the store knows which events committed."""

    @functools.wraps(write)
    @contextmanager
    def recorded(self: Store) -> Iterator[Ledger]:
        with write(self) as ledger:
            yield ledger
            ledger.check_written()  # a value an import would refuse: roll back instead
            self.__dict__["_committing"] = ledger.appended  # the block ended: commit next
        self.committed.extend(ledger.appended)
        self.__dict__["_committing"] = None

    return recorded
