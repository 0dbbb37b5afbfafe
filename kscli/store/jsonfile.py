"""The JSON backend: the whole ledger in one readable file.

Writers take an exclusive lock on a separate ``<ledger>.lock`` file (locking the data
file itself would lose updates once it is replaced), read the current file, apply the
change and write a new file atomically: temporary file, fsync, rename. Readers need no
lock: a rename replaces the file whole.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from kscli.domain.errors import StoreBusy
from kscli.store import fs
from kscli.store.base import Ledger, Store
from kscli.store.memory import MemoryTx
from kscli.store.migrations import MIGRATIONS, SCHEMA_VERSION, apply_to_tables, pending
from kscli.store.schema import TABLES

FORMAT = "kscli-ledger"


class JsonStore(Store):
    kind = "json"

    def __init__(self, path: str, busy_timeout: float = 10.0) -> None:
        super().__init__(path)
        self.path = path
        self.busy_timeout = busy_timeout

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def _load(self) -> tuple[dict[str, dict[str, tuple]], int]:
        """The stored tables, or empty ones for a missing file."""
        tables: dict[str, dict[str, tuple]] = {name: {} for name in TABLES}
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            self._version_read, self._applied = 0, []
            return tables, 0
        except OSError as exc:
            raise self._unreadable(exc.strerror or str(exc)) from None
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise self._unreadable(f"not valid JSON: {exc}") from None
        except RecursionError:
            raise self._unreadable("JSON nested too deeply to be a kscli ledger") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise self._unreadable("a JSON file that is not a kscli ledger")
        version = doc.get("schema")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise self._unreadable("no schema version")
        if version > SCHEMA_VERSION:
            raise self._newer_schema(version)
        stored = doc.get("tables")
        if not isinstance(stored, dict):
            raise self._unreadable("no tables")
        applied = doc.get("migrations")
        self._applied = [m for m in applied if isinstance(m, dict)] \
            if isinstance(applied, list) else []
        try:
            for migration in pending(version):  # in memory; kept by the next write
                apply_to_tables(migration, stored)
            for name, table in TABLES.items():
                rows = stored.get(name, [])
                k = table.names.index(table.key)
                target = tables[name]
                for item in rows:
                    row = tuple(item.get(c) for c in table.names)
                    target[row[k]] = row
        except (AttributeError, TypeError) as exc:
            raise self._unreadable(f"damaged rows: {exc}") from None
        self._version_read = version
        return tables, version

    def _dump(self, tables: dict[str, dict[str, tuple]]) -> bytes:
        doc: dict[str, Any] = {"format": FORMAT, "schema": SCHEMA_VERSION,
                               "migrations": self._migrations_record(), "tables": {}}
        for name, table in TABLES.items():
            doc["tables"][name] = [dict(zip(table.names, row)) for row in tables[name].values()]
        return json.dumps(doc, indent=1, sort_keys=False).encode() + b"\n"

    def _migrations_record(self) -> list[dict[str, Any]]:
        """The migrations this ledger has had: those its file listed, each earlier one
        (applied before the list was kept: no time) and those applied now."""
        from kscli.clock import now
        from kscli.domain.calendar import iso

        known = {m.get("version"): m for m in getattr(self, "_applied", [])}
        version = getattr(self, "_version_read", 0)
        at = iso(now())
        return [known.get(m.version) or {"version": m.version, "name": m.name,
                                         "applied_at": None if m.version <= version else at}
                for m in MIGRATIONS]

    def schema_version(self) -> int | None:
        if not self.exists():
            return None
        return self._load()[1]

    @contextmanager
    def read(self) -> Iterator[Ledger]:
        fs.check_place(self.path, writing=False, example="kscli.json")
        tables, _ = self._load()
        yield Ledger(MemoryTx(tables, writable=False), self.path)

    @contextmanager
    def _locked(self) -> Iterator[Callable[[], bool]]:
        """Hold the ledger's write lock: ``<ledger>.lock`` beside the real file (a link
        to the ledger and the ledger itself share one lock)."""
        fs.ready_to_write(self.path, self.path, example="kscli.json")
        lock_path = fs.real_path(self.path) + ".lock"
        deadline = time.monotonic() + self.busy_timeout
        while True:
            with fs.write_errors(lock_path):
                fs.ensure_folder(lock_path)
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
            try:
                self._flock(fd, deadline)
                if self._same_file(fd, lock_path):
                    break
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # the lock file was removed or replaced meanwhile: lock the new one
        try:
            yield lambda: self._same_file(fd, lock_path)
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _flock(self, fd: int, deadline: float) -> None:
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"{self.path} stayed busy for {self.busy_timeout:g}s",
                        hint="another kscli is writing; try again later",
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)

    @staticmethod
    def _same_file(fd: int, path: str) -> bool:
        """Is the locked descriptor still the file at ``path``? A lock on a file that
        was deleted (or replaced) while we waited guards nothing."""
        try:
            named = os.stat(path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)

    @contextmanager
    def write(self) -> Iterator[Ledger]:
        with self._locked() as still_locked:
            fs.remove_stale_temporaries(self.path)  # left by a writer killed mid-write
            tables, version = self._load()
            if 0 < version < SCHEMA_VERSION:
                backup = f"{self.path}.v{version}.bak"
                if not os.path.exists(backup):
                    with open(self.path, "rb") as handle, fs.write_errors(backup):
                        fs.atomic_write(backup, handle.read())
            tx = MemoryTx(tables, writable=True)
            yield Ledger(tx, self.path)
            if tx.dirty or version != SCHEMA_VERSION:
                self._refuse_damage(tables)
                if not still_locked():
                    # Someone removed or replaced the lock file while this writer held
                    # it: another writer may have started on a new one. Writing now could
                    # undo its change, so this one gives up, loudly.
                    raise StoreBusy(
                        f"the lock file of {self.path} was removed while kscli was writing; "
                        "nothing was changed", hint="run the command again")
                with fs.write_errors(self.path):
                    fs.atomic_write(self.path, self._dump(tables))

    def _refuse_damage(self, tables: dict[str, dict[str, tuple]]) -> None:
        """The whole file is written again: never with a damaged value in it (a hand edit,
        a flipped byte), which exit 6 names instead (kscli.checks, in bulk)."""
        from kscli.checks import check_rows

        for name, rows in tables.items():
            table = TABLES[name]
            if table.description is None or not rows:
                continue
            listed = list(rows.values())
            key = table.names.index(table.key)

            def damaged(where: str, what: str) -> Exception:
                return self._unreadable(f"{where} {what}",
                                        "correct the value by hand, or restore a backup")

            check_rows(table.description, listed,
                       lambda i, column: f"{table.description.noun} {listed[i][key]}: {column}",
                       damaged)

    def checks(self, quick: bool = False) -> list[tuple[str, bool, str]]:
        if not self.exists():
            return [("ledger", True, f"{self.path} does not exist yet (created on first write)")]
        tables, version = self._load()
        results = [("schema", True, f"schema version {version} (this kscli writes {SCHEMA_VERSION})")]
        subs = tables["subs"]
        dangling = sum(
            1 for name in ("licenses", "incidents", "charges")
            for row in tables[name].values()
            if row[TABLES[name].names.index("sub_id")] not in (None, *())
            and row[TABLES[name].names.index("sub_id")] not in subs
        )
        results.append(("references", dangling == 0,
                        "every key and incident points at a subscription" if not dangling
                        else f"{dangling} rows point at a missing subscription"))
        return results
