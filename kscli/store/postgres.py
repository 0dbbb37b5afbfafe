"""The PostgreSQL backend: one ledger on a server, shared by a team and by cron hosts.

``kscli --store postgresql://USER@HOST:PORT/DB`` (or ``KSCLI_STORE``). The connection
goes through libpq, so its own settings apply: ``PGPASSWORD``, ``PGPASSFILE``
(``~/.pgpass``), ``PGSSLMODE``, and service names (``postgresql:///?service=NAME`` or
``PGSERVICE``), so that no password has to appear on a command line. The driver
(psycopg 3, the ``kscli[postgres]`` extra) is imported only when such a ledger is used.
Unless the URL or the environment sets them, the connection waits at most 5 seconds for
the server (``connect_timeout``) and uses TCP keepalives, so an unreachable server or a
dropped network ends the command with exit 5 instead of a hang. Every message shows
the URL masked (``postgresql://ada:***@db:5432/kscli``), never a password.

How it stays correct with many writers on many hosts
----------------------------------------------------
Every write transaction runs at READ COMMITTED and starts by taking one
transaction-level advisory lock, ``pg_advisory_xact_lock(LOCK_KEY)``, before it reads
anything. Writers therefore run one after another, exactly as SQLite's ``BEGIN
IMMEDIATE`` makes them do, and the lock goes away by itself at COMMIT, at ROLLBACK or
when a connection dies. Because READ COMMITTED takes a new snapshot for each statement,
every statement after the lock sees all that the previous writer committed: the next
number of a counter, a reference already used, a subscription a concurrent ``sweep``
has just renewed (which is then no longer due). Two ``sweep`` runs started at the same
moment on two cron hosts therefore renew each subscription once and record each lapse
once. (At REPEATABLE READ or SERIALIZABLE the snapshot would be taken by the statement
that waits for the lock, before the other writer committed; SERIALIZABLE would then
make one of them fail instead of wait.) The wait is bounded by the busy timeout through
``SET LOCAL lock_timeout``; past it the command fails with StoreBusy (exit 5).

Readers take no lock: a REPEATABLE READ READ ONLY transaction gives every read command
one consistent snapshot, and listings stream through a server-side cursor, a batch of
rows at a time, so memory stays constant however large the ledger.

A ledger that does not exist yet (no database, or no kscli tables in it) reads as an
empty one and is never created by a read; ``kscli init`` or the first write creates it.
The schema version lives in the ``kscli_meta`` table and migrations run inside the
writer's transaction (DDL is transactional in PostgreSQL), so a failed migration leaves
the ledger as it was. A schema newer than this kscli is refused untouched (exit 6).

Text columns use the "C" collation and NULLs sort first, so that every listing and the
export come out in the same order, byte for byte, as from SQLite.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from typing import Any, Iterator

from kscli.domain.errors import BadValue, KscliError, StoreBusy, StoreUnreadable
from kscli.store.base import Ledger, Store
from kscli.store.dsn import mask_dsn, one_line as _one_line, secrets_in
from kscli.store.migrations import SCHEMA_VERSION, pending, record_applied
from kscli.store.pg_rows import PgTx, migration_statements
from kscli.store.schema import TABLES

# The advisory lock every kscli writer holds for the length of its transaction: "kscli"
# in ASCII. Advisory locks are per database, so two ledgers on one server never wait
# for each other.
LOCK_KEY = 0x6B73636C69

CONNECT_TIMEOUT = 5  # seconds to wait for the server to answer at all
MIN_SERVER = 120000  # PostgreSQL 12 or newer

_META = "kscli_meta"


# -- the store ------------------------------------------------------------------------

class _MissingDatabase(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class PostgresStore(Store):
    kind = "postgres"

    @property
    def secrets_place(self) -> str:
        return (f"the ledger database {self.location} (readable by every role that can "
                "read its tables)")

    def __init__(self, url: str, busy_timeout: float = 10.0) -> None:
        super().__init__(mask_dsn(url))
        self.url = url
        self.busy_timeout = busy_timeout
        self._secrets = secrets_in(url)

    # -- messages ---------------------------------------------------------------------
    def _scrub(self, text: Any) -> str:
        text = _one_line(text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _server(self) -> str:
        """host:port as far as the URL and libpq's environment say (for messages)."""
        try:
            from psycopg.conninfo import conninfo_to_dict

            params = conninfo_to_dict(self.url)
        except Exception:
            params = {}
        host = str(params.get("host") or os.environ.get("PGHOST") or "")
        port = str(params.get("port") or os.environ.get("PGPORT") or "5432")
        service = params.get("service") or os.environ.get("PGSERVICE")
        if not host and service:
            return f"service {service}"
        if not host or host.startswith("/"):
            return f"{host or 'the local socket'} port {port}"
        hosts, ports = host.split(","), port.split(",")
        if len(ports) < len(hosts):
            ports += [ports[-1]] * (len(hosts) - len(ports))
        return ",".join(f"{h}:{p or '5432'}" for h, p in zip(hosts, ports))

    def _unreadable(self, why: str, hint: str | None = None) -> StoreUnreadable:
        return super()._unreadable(self._scrub(why),
                                   hint or "check the database, or point --store at another ledger")

    def _busy(self) -> StoreBusy:
        return StoreBusy(f"{self.location} stayed busy for {self.busy_timeout:g}s",
                         hint="another kscli is writing; try again later")

    def _lost(self, exc: Exception, committing: bool = False) -> StoreBusy:
        reason = self._scrub(exc)
        if committing:
            return StoreBusy(
                f"lost the connection to the PostgreSQL server at {self._server()} while "
                f"committing ({reason}); the change may or may not have been saved",
                hint="check with `kscli sub history ID` before trying again",
            )
        return StoreBusy(
            f"lost the connection to the PostgreSQL server at {self._server()} ({reason}); "
            "nothing was changed",
            hint="try again when the server is reachable",
        )

    def _translate(self, exc: Exception, *, committing: bool = False) -> KscliError:
        """A psycopg error as the kscli error a user can act on."""
        import psycopg
        from psycopg import errors as e

        if isinstance(exc, (e.LockNotAvailable, e.QueryCanceled)):
            return self._busy()
        if isinstance(exc, (e.SerializationFailure, e.DeadlockDetected)):
            return StoreBusy(f"{self.location} is busy ({self._scrub(exc)})", hint="try again")
        if isinstance(exc, psycopg.DataError):
            return BadValue(f"{self.location} cannot store a value ({self._scrub(exc)})",
                            hint="PostgreSQL stores no NUL character in text and no whole "
                                 "number beyond 64 bits; correct the value and retry")
        if isinstance(exc, e.InsufficientPrivilege):
            return self._unreadable(str(exc), hint="ask the database owner to grant this role "
                                                   "access to the kscli tables")
        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            return self._lost(exc, committing)
        return self._unreadable(str(exc))

    # -- connections ------------------------------------------------------------------
    def _driver(self):
        try:
            import psycopg
        except ImportError:
            raise StoreUnreadable(
                f"{self.location} is a PostgreSQL ledger, and the PostgreSQL driver "
                "(psycopg 3) is not installed",
                hint='install it with: pip install "kscli[postgres]"',
            ) from None
        return psycopg

    def _connect_options(self) -> dict[str, Any]:
        from psycopg.conninfo import conninfo_to_dict

        try:
            given = conninfo_to_dict(self.url)
        except Exception as exc:
            raise BadValue(f"the store URL {self.location} is not valid ({self._scrub(exc)})",
                           hint="write it as postgresql://USER@HOST:PORT/DATABASE") from None
        options: dict[str, Any] = {}
        if "connect_timeout" not in given and not os.environ.get("PGCONNECT_TIMEOUT"):
            options["connect_timeout"] = CONNECT_TIMEOUT
        if "application_name" not in given and not os.environ.get("PGAPPNAME"):
            options["application_name"] = "kscli"
        # A network that drops silently would otherwise leave a command waiting for
        # hours; with keepalives it fails with exit 5 (and the server rolls back).
        for name, value in (("keepalives_idle", 30), ("keepalives_interval", 10),
                            ("keepalives_count", 3)):
            if name not in given:
                options[name] = value
        return options

    def _open(self, url: str) -> Any:
        """A connection, or _MissingDatabase; other failures become kscli errors."""
        psycopg = self._driver()
        options = self._connect_options()
        try:
            return psycopg.connect(url, **options)
        except psycopg.OperationalError as exc:
            text = str(exc)
            missing = re.search(r'database "(.+?)" does not exist', text)
            if missing:
                raise _MissingDatabase(missing.group(1)) from None
            body = text.split("connection failed:", 1)[-1].strip()
            # libpq: 'connection to server at "H", port P failed: REASON' per address tried
            reasons = [r.strip() for r in re.findall(r"port \d+ failed: (.*)", body) if r.strip()]
            reason = self._scrub("; ".join(dict.fromkeys(reasons)) or body.splitlines()[0])
            lowered = text.lower()
            if any(word in lowered for word in ("password", "authentication", "pg_hba.conf",
                                                "role \"", "permission denied")):
                raise StoreUnreadable(
                    f"the PostgreSQL server at {self._server()} refused the connection to "
                    f"{self.location}: {reason}",
                    hint="give the password through PGPASSWORD, ~/.pgpass (PGPASSFILE) or a "
                         "service file, never on the command line",
                ) from None
            raise StoreBusy(
                f"cannot connect to the PostgreSQL server at {self._server()} for "
                f"{self.location}: {reason}",
                hint="check that the server is running and reachable, then try again",
            ) from None
        except psycopg.Error as exc:  # a URL libpq cannot parse
            raise BadValue(f"the store URL {self.location} is not valid ({self._scrub(exc)})",
                           hint="write it as postgresql://USER@HOST:PORT/DATABASE") from None

    def _connect(self, *, create: bool) -> Any | None:
        """A connection to the ledger's database; None when it does not exist and
        ``create`` is false. With ``create``, a missing database is created."""
        try:
            return self._open(self.url)
        except _MissingDatabase as missing:
            if not create:
                return None
            self._create_database(missing.name)
        try:
            return self._open(self.url)
        except _MissingDatabase as missing:
            raise self._unreadable(f'database "{missing.name}" does not exist') from None

    def _create_database(self, name: str) -> None:
        """Create the ledger's database (a first write on a server with none yet)."""
        import psycopg
        from psycopg import sql
        from psycopg.conninfo import make_conninfo

        last: Exception | None = None
        for maintenance in ("postgres", "template1"):
            try:
                conn = self._open(make_conninfo(self.url, dbname=maintenance))
            except _MissingDatabase:
                continue
            try:
                conn.autocommit = True
                # UTF-8 whatever the server's default; "C" because kscli's columns
                # carry their own collation anyway
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' "
                                     "LC_COLLATE 'C' LC_CTYPE 'C'").format(sql.Identifier(name)))
                return
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                # another kscli created it meanwhile (two CREATE DATABASE at once: the
                # second meets pg_database's unique index instead of "already exists")
                return
            except psycopg.Error as exc:
                last = exc
                break
            finally:
                conn.close()
        raise StoreUnreadable(
            f'database "{name}" does not exist on the PostgreSQL server at {self._server()} '
            f"and kscli could not create it ({self._scrub(last or 'no maintenance database')})",
            hint=f"ask the server's administrator to run: createdb {name}",
        )

    @staticmethod
    def _close(conn: Any) -> None:
        try:
            conn.close()
        except Exception:  # closing a connection that already broke
            pass

    # -- schema -----------------------------------------------------------------------
    def _version(self, cur: Any) -> int:
        """The stored schema version (0 = no kscli tables here yet); refuses newer ones."""
        meta, subs = cur.execute(
            f"SELECT to_regclass('{_META}') IS NOT NULL, to_regclass('subs') IS NOT NULL"
        ).fetchone()
        if not meta:
            if subs:
                raise self._unreadable("it holds a table named subs but no kscli_meta table: "
                                       "not a kscli ledger")
            return 0
        row = cur.execute(f"SELECT value FROM {_META} WHERE key = 'schema_version'").fetchone()
        if row is None or not str(row[0]).isdigit():
            raise self._unreadable("kscli_meta holds no schema version")
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise self._newer_schema(version, "upgrade kscli on this host (pip install -U kscli)")
        return version

    def _migrate(self, cur: Any, version: int) -> None:
        cur.execute(f'CREATE TABLE IF NOT EXISTS {_META} (key TEXT COLLATE "C" PRIMARY KEY, '
                    "value TEXT NOT NULL)")
        for statement in record_applied(version, pending(version), "%s"):
            cur.execute(*statement)
        for statement in migration_statements(version, SCHEMA_VERSION):
            cur.execute(statement)
        cur.execute(f"INSERT INTO {_META} (key, value) VALUES ('schema_version', %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    (str(SCHEMA_VERSION),))

    def _lock_timeout(self, cur: Any) -> None:
        """Bound every lock wait of this transaction by the busy timeout."""
        ms = max(1, int(self.busy_timeout * 1000))
        cur.execute(f"SET LOCAL lock_timeout = '{ms}ms'")

    def _lock(self, cur: Any) -> None:
        """Take the writers' lock, waiting at most the busy timeout (see the module doc)."""
        ms = max(1, int(self.busy_timeout * 1000))
        if self.busy_timeout <= 0:
            cur.execute(f"SET LOCAL lock_timeout = '{ms}ms'")
            if not cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
                raise self._busy()
            return
        # one round trip: both statements go in one simple query
        cur.execute(f"SET LOCAL lock_timeout = '{ms}ms'; SELECT pg_advisory_xact_lock({LOCK_KEY})")

    # -- the Store interface ------------------------------------------------------------
    def exists(self) -> bool:
        return bool(self.schema_version())

    def schema_version(self) -> int | None:
        conn = self._connect(create=False)
        if conn is None:
            return None
        try:
            conn.read_only = True
            version = self._version(conn.cursor())
            return version or None
        except KscliError:
            raise
        except Exception as exc:
            raise self._translate(exc) from None
        finally:
            self._close(conn)

    @contextmanager
    def read(self) -> Iterator[Ledger]:
        from kscli.store.memory import empty_ledger

        conn = self._connect(create=False)
        if conn is None:
            yield empty_ledger(self.location)
            return
        import psycopg

        try:
            try:
                conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                conn.read_only = True
                cur = conn.cursor()
                # readers never wait for kscli writers; only for someone altering tables
                self._lock_timeout(cur)
                version = self._version(cur)
                if version < SCHEMA_VERSION and version > 0:
                    conn.rollback()
                    with self.write():  # migrate once, then read
                        pass
                    self._lock_timeout(cur)
            except KscliError:
                raise
            except psycopg.Error as exc:
                raise self._translate(exc) from None
            if version == 0:
                conn.rollback()
                yield empty_ledger(self.location)
                return
            try:
                yield Ledger(PgTx(conn, writable=False), self.location)
                conn.rollback()  # nothing to keep: a read-only snapshot
            except psycopg.Error as exc:
                raise self._translate(exc) from None
        finally:
            self._close(conn)

    @contextmanager
    def write(self) -> Iterator[Ledger]:
        import psycopg

        conn = self._connect(create=True)
        try:
            try:
                cur = conn.cursor()
                self._lock(cur)
                version = self._version(cur)
                if version < SCHEMA_VERSION:
                    self._migrate(cur, version)
            except KscliError:
                self._rollback(conn)
                raise
            except psycopg.Error as exc:
                self._rollback(conn)
                raise self._translate(exc) from None
            try:
                yield Ledger(PgTx(conn, writable=True), self.location)
            except psycopg.Error as exc:
                self._rollback(conn)
                raise self._translate(exc) from None
            except BaseException:
                self._rollback(conn)
                raise
            try:
                conn.commit()
            except psycopg.Error as exc:
                raise self._translate(exc, committing=True) from None
        finally:
            self._close(conn)

    @staticmethod
    def _rollback(conn: Any) -> None:
        try:
            conn.rollback()
        except Exception:  # a broken connection: the server rolls back by itself
            pass

    def checks(self, quick: bool = False) -> list[tuple[str, bool, str]]:
        try:
            conn = self._connect(create=False)
        except KscliError as exc:
            return [("connection", False, exc.message)]
        if conn is None:
            return [("connection", True, f"the server at {self._server()} answers"),
                    ("ledger", True, f"{self.location} does not exist yet "
                                     "(created by `kscli init` or the first write)")]
        import psycopg

        results: list[tuple[str, bool, str]] = []
        try:
            info = conn.info
            tls = ", TLS" if getattr(info.pgconn, "ssl_in_use", False) else ""
            where = info.host if info.host.startswith("/") else f"{info.host}:{info.port}"
            results.append(("connection", True,
                            f"connected to {where} as {info.user}, database {info.dbname}{tls}"))
            version = info.server_version
            shown = info.parameter_status("server_version") or str(version)
            results.append(("server", version >= MIN_SERVER,
                            f"PostgreSQL {shown}" + ("" if version >= MIN_SERVER
                                                     else " (kscli needs PostgreSQL 12 or newer)")))
            encoding = info.parameter_status("server_encoding") or "?"
            results.append(("encoding", encoding == "UTF8",
                            f"database encoding {encoding}" + (
                                "" if encoding == "UTF8" else
                                " (kscli needs UTF8: create the database with ENCODING 'UTF8')")))
            conn.read_only = True
            cur = conn.cursor()
            try:
                stored = self._version(cur)
            except StoreUnreadable as exc:
                results.append(("schema", False, exc.message))
                return results
            if stored == 0:
                results.append(("schema", True, f"no kscli tables in database {info.dbname} yet "
                                                "(created by `kscli init` or the first write)"))
                return results
            results.append(("schema", True,
                            f"schema version {stored} (this kscli writes {SCHEMA_VERSION})"))
            dangling = 0
            for name in ("licenses", "incidents", "charges"):
                if TABLES[name].since > stored:
                    continue
                dangling += cur.execute(
                    f"SELECT count(*) FROM {name} t WHERE t.sub_id IS NOT NULL AND NOT EXISTS "
                    "(SELECT 1 FROM subs s WHERE s.id = t.sub_id)"
                ).fetchone()[0]
            results.append(("references", dangling == 0,
                            "every key and incident points at a subscription" if not dangling
                            else f"{dangling} rows point at a missing subscription"))
            holder = cur.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND ((classid::bigint << 32) | objid::bigint) = %s",
                (LOCK_KEY,),
            ).fetchone()[0]
            results.append(("writers", True, "a kscli is writing right now" if holder
                            else "no kscli is writing right now"))
        except psycopg.Error as exc:
            results.append(("connection", False, self._translate(exc).message))
        finally:
            self._close(conn)
        return results
