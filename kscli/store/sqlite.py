"""The SQLite backend: the default ledger, one file with WAL and a busy timeout."""

from __future__ import annotations

import errno
import os
import sqlite3
from contextlib import contextmanager
from operator import countOf, itemgetter
from threading import Thread
from typing import Any, Callable, Iterable, Iterator, Sequence

from kscli.domain.errors import KscliError, StoreBusy, StoreUnreadable
from kscli.store import fs
from kscli.store.base import Conflict, Ledger, Store, Tx, words_match
from kscli.store.loading import Checked
from kscli.store.migrations import SCHEMA_VERSION, SQLITE, record_applied, sql_statements, pending
from kscli.store.schema import CODECS, TABLES
from kscli.store.sql import Statements

_STATEMENTS = Statements("?")
_HEADER = b"SQLite format 3\x00"
CACHE_KB = 8192  # the page cache of a transaction that writes many rows (expect_rows)


_JSON: list[bool] = []  # whether this process's SQLite has json_array (built in since 3.38)


def _has_json(conn: sqlite3.Connection) -> bool:
    if not _JSON:
        if sqlite3.sqlite_version_info >= (3, 38):
            _JSON.append(True)
        else:  # a build older than 3.38 may leave the JSON functions out
            try:
                conn.execute("SELECT json_array(1)")
                _JSON.append(True)
            except sqlite3.OperationalError:
                _JSON.append(False)
    return _JSON[0]


class SqliteTx(Tx):
    def __init__(self, conn: sqlite3.Connection, writable: bool) -> None:
        self.conn = conn
        self.writable = writable
        self._building: Thread | None = None
        self._failed: BaseException | None = None

    def get(self, table: str, key: str) -> tuple | None:
        return self.conn.execute(_STATEMENTS.get(table), (key,)).fetchone()

    def select(self, table: str, where: Sequence[tuple[str, str, Any]] = (),
               order: Sequence[str] = (), limit: int | None = None,
               descending: bool = False) -> Iterator[tuple]:
        sql, params = _STATEMENTS.select(table, where, order, limit, descending)
        return self.conn.execute(sql, params)  # the cursor streams its rows (in C)

    def select_stored(self, table: str, where: Sequence[tuple[str, str, Any]] = (),
                      order: Sequence[str] = ()) -> tuple[Iterable[tuple], bool]:
        # compact rows (a third of the values of the subscriptions' table to read a
        # row, most of its time in a listing) where SQLite has its JSON functions
        if not CODECS[table].sparse or not _has_json(self.conn):
            return self.select(table, where, order), False
        sql, params = _STATEMENTS.select(table, where, order, None, False, compact=True)
        return self.conn.execute(sql, params), True

    def select_columns(self, table: str, columns: Sequence[str],
                       where: Sequence[tuple[str, str, Any]] = ()) -> Iterator[tuple]:
        sql, params = _STATEMENTS.select(table, where, (), None, False, columns)
        return self.conn.execute(sql, params)

    def expect_rows(self, count: int) -> None:
        # SQLite keeps 2 MB of pages by default: rows written into the random places
        # of an index (a charge's line_hash) then spill pages out and read them back
        # again and again. 8 MB takes most of that, and is all the memory it adds (a
        # page is kept only once it is read: a small import keeps few).
        if self.writable:
            self.conn.execute(f"PRAGMA cache_size = -{CACHE_KB}")

    def insert(self, table: str, rows: Iterable[tuple]) -> None:
        self._insert(_STATEMENTS.insert(table), rows)

    def _insert(self, sql: str, rows: Iterable[tuple]) -> None:
        try:
            self.conn.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise Conflict(str(exc)) from None

    loads_in_chunks = True  # (each chunk written as it is read, checked while indexing)

    def load(self, table: str, rows: list[dict[str, Any]]) -> None:
        self.load_columns(table, [tuple(map(itemgetter(name), rows)) for name in TABLES[table].names])

    def load_columns(self, table: str, columns: Sequence[Sequence[Any]]) -> None:
        """Python's sqlite3 binds a null far more slowly than a value (it looks for an
        adapter every time): a column null in every row is left out, to its default."""
        kept = [(name, values) for name, values in zip(TABLES[table].names, columns)
                if values[0] is not None or countOf(values, None) < len(values)]
        marks = ", ".join("?" * len(kept))
        self._insert(f"INSERT INTO {table} ({', '.join(name for name, _ in kept)}) VALUES ({marks})",
                     zip(*(values for _, values in kept)))

    def update(self, table: str, row: tuple) -> None:
        sql, values = _STATEMENTS.update(table, row)
        self.conn.execute(sql, values)

    def delete(self, table: str, keys: Iterable[str]) -> None:
        self.conn.executemany(_STATEMENTS.delete(table), ((k,) for k in keys))

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Load without indexes, then build them once: much faster than keeping them
        current row by row. Inside the same transaction, so all or nothing.

        The indexes are built by a second thread, which SQLite runs without Python's
        lock, so that the caller can go on meanwhile (an import checks what it wrote:
        kscli.store.loading; a copy of whole tables frees its rows); ``settle`` waits
        for it, and every commit or rollback of the transaction settles first.
        """
        indexes = self.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ).fetchall()
        # 16 MB: pages beyond it go to the file (the system's cache keeps them); a larger
        # cache adds its size to an import's peak and was measured no faster (the CPU
        # time of writing 200,000 subscriptions and building their indexes: 1.77 s with
        # 16 MB, 1.69 s with 128 MB, 1.80 s with a 512 MB mmap; medians of 4)
        self.conn.execute("PRAGMA cache_size = -16384")
        for name, _ in indexes:
            self.conn.execute(f"DROP INDEX {name}")
        yield
        self._building = Thread(target=self._build, args=([sql for _, sql in indexes],))
        self._building.start()

    def _build(self, statements: list[str]) -> None:
        try:
            for sql in statements:
                self.conn.execute(sql)
        except BaseException as exc:  # raised in the caller's thread by settle
            self._failed = exc

    def settle(self) -> BaseException | None:
        if self._building is not None:
            self._building.join()
            self._building = None
        failed, self._failed = self._failed, None
        return failed

    def count(self, table: str) -> int:
        return self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def next_numbers(self, name: str, first: int, count: int) -> int:
        row = self.conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        start = first if row is None else row[0] + 1
        if row is None:
            self.conn.execute("INSERT INTO counters (name, value) VALUES (?, ?)",
                              (name, start + count - 1))
        else:
            self.conn.execute("UPDATE counters SET value = ? WHERE name = ?",
                              (start + count - 1, name))
        return start


# SQLite's primary result codes of a write that failed for a reason outside the ledger
_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL = 3, 8, 10, 11, 13
_SQLITE_NOTADB = 26
_WRITE_FAILURES = {
    _SQLITE_FULL: fs.WRITE_ERRORS[errno.ENOSPC],
    _SQLITE_IOERR: ("a disk I/O error (is the disk full or failing?)",
                    "free some space or check the disk, then run the command again"),
    _SQLITE_READONLY: ("the file or its folder is read-only", fs.WRITE_ERRORS[errno.EACCES][1]),
    _SQLITE_PERM: fs.WRITE_ERRORS[errno.EPERM],
}


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back what is open; SQLite may already have done it (after a full disk)."""
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SqliteStore(Store):
    kind = "sqlite"


    def __init__(self, path: str, busy_timeout: float = 10.0, *,
                 scratch_for: str | None = None) -> None:
        """``scratch_for``: this file is a private copy being built for a new ledger at
        that path (named in messages), with its journal in memory and no syncs."""
        super().__init__(scratch_for or path)
        self.path = path
        self.busy_timeout = busy_timeout
        self.scratch = scratch_for is not None

    # -- helpers ------------------------------------------------------------------
    def exists(self) -> bool:
        return os.path.exists(self.path)

    def _check_header(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                head = handle.read(len(_HEADER))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._unreadable(exc.strerror or str(exc)) from None
        if head and head != _HEADER:
            raise self._unreadable("not an SQLite database")

    def _connect(self, readonly: bool) -> sqlite3.Connection:
        self._check_header()
        try:
            if readonly:
                uri = "file:" + os.path.abspath(self.path).replace("?", "%3f").replace("#", "%23")
                # on a read-only file system no one can write it, nor make the WAL's
                # shared-memory file SQLite would want: read it as immutable
                uri += "?mode=ro" + ("&immutable=1" if fs.read_only_fs(self.path) else "")
                conn = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout,
                                       isolation_level=None)
            else:
                # (a bulk load builds its indexes in a second thread: see SqliteTx.bulk)
                conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                       check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            # whole-word matches (--vendor, --account) by the one rule, in Python
            conn.create_function("kscli_words", 2, words_match, deterministic=True)
        except sqlite3.Error as exc:
            if _is_busy(exc):
                raise StoreBusy(f"{self.location} stayed busy for {self.busy_timeout:g}s",
                                hint="another kscli is writing; try again") from None
            raise self._unreadable(str(exc)) from None
        return conn

    def _version(self, conn: sqlite3.Connection) -> int:
        # One statement, so one snapshot: read apart, another process creating the
        # ledger could commit its tables and version in between.
        version, tables = conn.execute(
            "SELECT (SELECT user_version FROM pragma_user_version), "
            "(SELECT count(*) FROM sqlite_master WHERE type = 'table')"
        ).fetchone()
        if version == 0 and tables:
            raise self._unreadable("an SQLite database that is not a kscli ledger")
        if version > SCHEMA_VERSION:
            raise self._newer_schema(version)
        return version

    def schema_version(self) -> int | None:
        if not self.exists():
            return None
        conn = self._connect(readonly=True)
        try:
            return conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(str(exc)) from None
        finally:
            conn.close()

    def _backup(self, conn: sqlite3.Connection, version: int) -> str:
        """Copy the ledger to ``<ledger>.vN.bak`` before migrating it: into a new private
        temporary file first, renamed into place only when complete, so a killed copy
        never leaves a backup that looks whole."""
        target = f"{self.path}.v{version}.bak"
        n = 1
        while os.path.exists(target):
            n += 1
            target = f"{self.path}.v{version}.{n}.bak"
        with fs.write_errors(target):
            tmp, fd = fs.temporary_beside(target)
            os.close(fd)  # SQLite writes into the new empty file (an empty database)
            try:
                dest = sqlite3.connect(tmp)
                try:
                    conn.backup(dest)
                except sqlite3.OperationalError as exc:
                    raise fs.cannot_write(target, *_WRITE_FAILURES.get(
                        (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF,
                        (str(exc), "free some space or check the disk"))) from None
                finally:
                    dest.close()
                fs.sync_file(tmp)
                os.replace(tmp, target)
            except BaseException:
                for leftover in (tmp, tmp + "-journal"):
                    try:
                        os.unlink(leftover)
                    except OSError:
                        pass
                raise
            fs.sync_folder(target)
        return target

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Create or migrate the schema, with a backup copy before a migration."""
        version = self._version(conn)
        if version == SCHEMA_VERSION:
            return
        if version > 0:
            self._backup(conn, version)
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = self._version(conn)  # another process may have done it meanwhile
            for statement in record_applied(version, pending(version)):
                conn.execute(*statement)
            for migration in pending(version):
                for statement in sql_statements(migration, SQLITE):
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise

    # -- transactions -------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[Ledger]:
        fs.check_place(self.path, writing=False)
        if not self.exists():
            from kscli.store.memory import empty_ledger

            yield empty_ledger(self.path)
            return
        conn = self._connect(readonly=True)
        try:
            try:
                # the version read inside the transaction: its snapshot is taken here,
                # before the ledger is given (kscli.cli.halves relies on it)
                conn.execute("BEGIN")
                version = self._version(conn)
                if version < SCHEMA_VERSION:
                    if version == 0:
                        from kscli.store.memory import empty_ledger

                        yield empty_ledger(self.path)
                        return
                    conn.close()
                    with self.write():  # migrate once, then read
                        pass
                    conn = self._connect(readonly=True)
                    conn.execute("BEGIN")
                    self._version(conn)
                yield Ledger(SqliteTx(conn, writable=False), self.path)
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                raise self._read_error(exc) from None
        finally:
            conn.close()

    def _read_error(self, exc: sqlite3.DatabaseError) -> KscliError:
        """What a failed read says."""
        if _is_busy(exc):
            return StoreBusy(f"{self.location} stayed busy for {self.busy_timeout:g}s",
                             hint="another kscli is writing; try again")
        if (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF in (_SQLITE_IOERR, _SQLITE_FULL):
            # not a damaged ledger: a reader needs room for SQLite's shared-memory file
            return StoreUnreadable(
                f"{self.location} cannot be read just now ({exc}: is the disk full or "
                "failing?); kscli left it untouched",
                hint="free some space or check the disk, then run the command again")
        return self._unreadable(str(exc))

    def split_point(self, at_least: int) -> str | None:
        if not self.exists():
            return None
        with self.read() as ledger:
            tx = ledger.tx
            if not isinstance(tx, SqliteTx):  # (a file that is not a ledger yet)
                return None
            count = tx.count("subs")
            if count < max(at_least, 2):
                return None
            sql, params = _STATEMENTS.select("subs", (), ("id",), 1, False, ("id",))
            return tx.conn.execute(f"{sql} OFFSET {count // 2}", params).fetchone()[0]

    @contextmanager
    def read_watched(self) -> Iterator[tuple[Ledger, Callable[[], bool]]]:
        # Both connections are opened before either reads: opening one reads the file's
        # header (_check_header), and closing that file drops every lock this process
        # holds on the ledger, such as the one a connection keeps once it has read in
        # WAL mode (without it another process may remove the WAL under it). The watch
        # is a writable connection, so that it opens the WAL (a read-only one finding
        # no WAL file reads the database file alone, and would miss commits to the WAL);
        # PRAGMA data_version on it changes when any other connection commits. Where
        # the watch cannot be set up (an older schema, a read-only place), this is
        # read() with a watch that always says "changed" (so does a missing ledger: a
        # writable connection would create the file).
        fs.check_place(self.path, writing=False)
        conn = watch = None
        try:
            if not self.exists():
                raise FileNotFoundError(self.path)
            conn = self._connect(readonly=True)
            watch = self._connect(readonly=False)
            first = watch.execute("PRAGMA data_version").fetchone()[0]
            conn.execute("BEGIN")
            ready = self._version(conn) == SCHEMA_VERSION
        except (KscliError, sqlite3.DatabaseError, FileNotFoundError):
            ready = False
        if not ready:
            for opened in (conn, watch):
                if opened is not None:
                    opened.close()
            with self.read() as ledger:  # (which says what is wrong, if anything is)
                yield ledger, lambda: True
            return

        def changed() -> bool:
            try:
                return watch.execute("PRAGMA data_version").fetchone()[0] != first
            except sqlite3.DatabaseError:
                return True

        try:
            try:
                yield Ledger(SqliteTx(conn, writable=False), self.path), changed
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                raise self._read_error(exc) from None
        finally:
            conn.close()
            watch.close()

    @contextmanager
    def write(self) -> Iterator[Ledger]:
        fs.ready_to_write(self.path, self.location, place=not self.scratch)
        conn = self._connect(readonly=False)
        try:
            try:
                # Refuse a newer schema or a foreign database before changing anything
                # (switching the journal mode rewrites the file's header).
                self._version(conn)
                if self.scratch:  # private until sealed: nobody else reads it
                    conn.execute("PRAGMA journal_mode = MEMORY")
                    conn.execute("PRAGMA synchronous = OFF")
                else:
                    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        conn.execute("PRAGMA journal_mode = WAL")
                    conn.execute("PRAGMA synchronous = NORMAL")
                self._prepare(conn)
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise self._write_error(exc) or self._unreadable(str(exc)) from None
            tx = SqliteTx(conn, writable=True)
            try:
                yield Ledger(tx, self.location)
                failed = tx.settle()
                if failed is not None:
                    raise failed
            except sqlite3.DatabaseError as exc:
                tx.settle()
                _rollback(conn)
                failure = self._write_error(exc)
                if failure is None:
                    raise
                raise failure from None
            except BaseException:
                tx.settle()
                _rollback(conn)
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                failure = self._write_error(exc, committing=True)
                _rollback(conn)
                if failure is None:
                    raise
                raise failure from None
        finally:
            conn.close()

    def import_tables(self, read: Callable[[], dict[str, list[dict[str, Any]]]]) -> dict[str, int]:
        return self._import(lambda ledger: ledger.load_into_empty(read()))

    def import_checked(self, read: Callable[[], Checked]) -> dict[str, int]:
        return self._import(lambda ledger: ledger.load_checked(read()))

    def _import(self, load: Callable[[Ledger], dict[str, int]]) -> dict[str, int]:
        """Into an existing (empty) ledger, the rows go in inside one transaction. A new
        ledger is built whole in a private file beside the path, with no journal on disk
        and no syncs, then made durable and linked into place: until then there is no
        ledger at the path, so a bad file or a kill leaves none (a killed build's file is
        removed by the next import)."""
        if self.exists():
            with self.write() as ledger:
                return load(ledger)
        fs.ready_to_write(self.path, self.location)
        fs.remove_stale_temporaries(self.path, locked=False)
        with fs.write_errors(self.location):
            name, fd = fs.temporary_beside(self.path)  # new and private: never a planted link
        os.close(fd)
        scratch = SqliteStore(name, self.busy_timeout, scratch_for=self.location)
        try:
            with scratch.write() as ledger:
                counts = load(ledger)
            scratch._seal()
            try:
                os.link(scratch.path, self.path)  # never over a ledger made meanwhile
            except OSError:  # one was (or this file system has no hard links): load there
                with self.write() as ledger:
                    return load(ledger)
            with fs.write_errors(self.location):
                fs.sync_folder(self.path)
            return counts
        finally:
            scratch._remove()

    def _remove(self) -> None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            try:
                os.unlink(self.path + suffix)
            except FileNotFoundError:
                pass

    def _seal(self) -> None:
        """Make a scratch ledger what any other is: in WAL mode, and on disk."""
        conn = self._connect(readonly=False)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.DatabaseError as exc:
            raise self._write_error(exc) or self._unreadable(str(exc)) from None
        finally:
            conn.close()
        with fs.write_errors(self.location):
            fs.sync_file(self.path)

    def _write_error(self, exc: sqlite3.DatabaseError, committing: bool = False) -> KscliError | None:
        """The error to report for a failed write: busy (exit 5), a full disk, an I/O or
        permission error (exit 1, naming the file), a damaged file (exit 6), else None."""
        if _is_busy(exc):
            return StoreBusy(f"{self.location} stayed busy for {self.busy_timeout:g}s",
                             hint="another kscli is " + ("reading" if committing else "writing")
                             + "; try again later")
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        if code in _WRITE_FAILURES:
            return fs.cannot_write(self.location, *_WRITE_FAILURES[code])
        if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
            return self._unreadable(str(exc))
        return None

    def checks(self, quick: bool = False) -> list[tuple[str, bool, str]]:
        results: list[tuple[str, bool, str]] = []
        if not self.exists():
            return [("ledger", True, f"{self.path} does not exist yet (created on first write)")]
        conn = self._connect(readonly=True)
        try:
            try:
                version = self._version(conn)
                if version == 0:  # created, then stopped before its first write finished
                    return [("ledger", True, f"{self.path} holds nothing yet "
                                             "(set up on the next write)")]
                results.append(("schema", version <= SCHEMA_VERSION,
                                f"schema version {version} (this kscli writes {SCHEMA_VERSION})"))
                pragma = "quick_check" if quick else "integrity_check"  # the latter reads every index
                ok = conn.execute(f"PRAGMA {pragma}").fetchone()[0]
                results.append(("integrity", ok == "ok", f"{pragma}: {ok}"))
                fk = conn.execute("PRAGMA foreign_key_check").fetchall()
                results.append(("references", not fk,
                                "every key and incident points at a subscription" if not fk
                                else f"{len(fk)} rows point at a missing subscription"))
                journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
                results.append(("journal", journal == "wal", f"journal mode {journal}"))
            except sqlite3.DatabaseError as exc:
                results.append(("integrity", False, str(exc)))
        finally:
            conn.close()
        return results
