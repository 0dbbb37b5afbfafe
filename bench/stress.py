#!/usr/bin/env python3
"""kscli under load: many processes of the installed `kscli` writing to one ledger.

Each of ``--workers`` threads runs its own sequence of `kscli` commands, so that that
many processes write to the same ledger at once, as cron jobs and people do:

    sub add + sweep + sub cancel --yes | license issue + license activate
    | sub add + renew off + renew on | sub add + sub list + sub cancel --yes | sub add + sweep

The ledger does not exist when they start: the first writers create it. Some workers
add subscriptions that started 100 days ago, so that the sweeps find renewals to apply
while the others write. For each backend it prints the write commands, how many
succeeded and how many failed with exit 5 (busy past KSCLI_BUSY_TIMEOUT), writes per
second (successful write commands over wall time), and the median and slowest write:

    pip install . && python bench/stress.py                        # SQLite and JSON
    python bench/stress.py --rounds 5 --pg postgresql://kscli@127.0.0.1:5432/postgres

With ``--pg`` the ledger goes into a new database on that server (dropped afterwards).
tests/test_stress.py runs the same workload and checks that every write that reported
success is in the ledger, with states that agree with the events.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

WRITES = ("add", "sweep", "renew-off", "renew-on", "cancel", "issue", "activate")


def installed_kscli() -> str:
    """The installed `kscli` script: the one beside this Python, else the one on PATH."""
    found = shutil.which("kscli", path=os.path.dirname(sys.executable)) or shutil.which("kscli")
    if not found:
        raise SystemExit("kscli is not installed: pip install . first")
    return found


def compiled_once(env: dict[str, str]) -> dict[str, str]:
    """``env`` for many runs of kscli: compiled once, not by every process.

    A regular install has its .pyc files; a source checkout under
    PYTHONDONTWRITEBYTECODE would compile kscli again in each of the processes.
    """
    env = dict(env)
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        env.setdefault("PYTHONPYCACHEPREFIX",
                       os.path.join(tempfile.gettempdir(), f"kscli-pycache-{os.getuid()}"))
    return env


@dataclass
class Op:
    """One run of `kscli`: what ran, how it ended, what it reported."""

    worker: int
    name: str
    argv: list[str]
    code: int
    stdout: str
    stderr: str
    elapsed: float
    subject: str | None = None
    references: list[str] = field(default_factory=list)
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.code == 0


@dataclass
class LoadRun:
    store: str
    ops: list[Op]
    wall: float
    licenses: bool

    @property
    def writes(self) -> list[Op]:
        return [op for op in self.ops if op.name in WRITES]

    def summary(self) -> dict[str, Any]:
        writes = self.writes
        ok = [op for op in writes if op.ok]
        times = [op.elapsed for op in ok] or [0.0]
        return {
            "writes": len(writes),
            "ok": len(ok),
            "busy": sum(op.code == 5 for op in writes),
            "other": sum(op.code not in (0, 5) for op in writes),
            "wall": self.wall,
            "writes_per_s": len(ok) / self.wall if self.wall else 0.0,
            "median_write": statistics.median(times),
            "slowest_write": max(times),
        }


def has_licenses(kscli: str, env: dict[str, str]) -> bool:
    """Whether this kscli has `license activate` (it came later than subscriptions)."""
    probe = subprocess.run([kscli, "license", "activate", "--help"], capture_output=True,
                           env=env, timeout=60)
    return probe.returncode == 0


def _parse(op: Op) -> None:
    if not op.ok or not op.stdout.strip():
        return
    try:
        op.result = json.loads(op.stdout)
    except ValueError:
        return
    items = op.result if isinstance(op.result, list) else [op.result]
    for item in items:
        if isinstance(item, dict) and item.get("reference"):
            op.references.append(item["reference"])


class Load:
    """Runs the workload against one ledger and keeps every Op."""

    def __init__(self, kscli: str, store: str, env: dict[str, str]) -> None:
        self.kscli = kscli
        self.store = store
        self.env = env
        self.ops: list[Op] = []
        past = datetime.now(timezone.utc) - timedelta(days=100)
        self.past = past.strftime("%Y-%m-%dT%H:%M:%SZ")
        self._lock = threading.Lock()

    def run(self, worker: int, name: str, *args: str, subject: str | None = None) -> Op:
        argv = [self.kscli, "--store", self.store, "--format", "json", *args]
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=300)
        op = Op(worker, name, argv[1:], proc.returncode, proc.stdout, proc.stderr,
                time.perf_counter() - start, subject)
        _parse(op)
        with self._lock:
            self.ops.append(op)
        return op

    def worker(self, i: int, rounds: int, licenses: bool, start: threading.Barrier) -> None:
        """Worker ``i`` by ``i % 5``: adds a subscription that started 100 days ago, sweeps
        and cancels it (0); issues a key and activates it (1); adds a subscription and
        turns auto-renew off and on (2); adds one, lists its own and cancels it (3); adds
        one that started 100 days ago and sweeps (4)."""
        start.wait()
        role = i % 5
        if role == 1 and not licenses:
            role = 3
        for r in range(rounds):
            if role == 1:
                issued = self.run(i, "issue", "license", "issue", "--product", f"Tool {i}")
                if issued.ok and isinstance(issued.result, list) and issued.result:
                    lic_id = issued.result[0]["id"]
                    issued.subject = lic_id
                    self.run(i, "activate", "license", "activate", lic_id, "--machine",
                             f"host-{i}-{r}", subject=lic_id)
                continue
            started = ["--started", self.past] if role in (0, 4) else []
            added = self.run(i, "add", "sub", "add", "--vendor", f"Vendor{i}",
                             "--product", f"Plan {r}", "--plan", "monthly", "--price", "9.99",
                             "--currency", "USD", "--account", f"worker-{i}", *started)
            sub_id = added.result.get("id") if added.ok and isinstance(added.result, dict) else None
            added.subject = sub_id
            if role in (0, 4):
                self.run(i, "sweep", "sweep")
            if role == 3:
                self.run(i, "list", "sub", "list", "--account", f"worker-{i}")
            if not sub_id:
                continue
            if role == 2:
                self.run(i, "renew-off", "renew", "off", sub_id, subject=sub_id)
                self.run(i, "renew-on", "renew", "on", sub_id, subject=sub_id)
            if role in (0, 3):
                self.run(i, "cancel", "sub", "cancel", sub_id, "--yes", subject=sub_id)


def run_load(store: str, *, workers: int = 20, rounds: int = 1, busy_timeout: float = 30.0,
             licenses: bool | None = None, kscli: str | None = None,
             env: dict[str, str] | None = None) -> LoadRun:
    """Run the workload on ``store`` (which need not exist: the writers create it)."""
    kscli = kscli or installed_kscli()
    env = dict(os.environ if env is None else env)
    env["KSCLI_BUSY_TIMEOUT"] = f"{busy_timeout:g}"
    # Keys go into the ledger file: a keyring in one process is not shared by the others.
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    env.pop("KSCLI_STORE", None)
    env = compiled_once(env)
    if licenses is None:
        licenses = has_licenses(kscli, env)
    load = Load(kscli, store, env)
    barrier = threading.Barrier(workers)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(load.worker, i, rounds, licenses, barrier) for i in range(workers)]
        for future in futures:
            future.result()
    wall = time.perf_counter() - start
    return LoadRun(store, load.ops, wall, licenses)


def _pg_database(url: str) -> tuple[str, str]:
    """A new database on the server of ``url``: (its URL, its name)."""
    import secrets
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    name = f"kscli_stress_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment)), name


def _pg_drop(url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=20, help="processes writing at once")
    parser.add_argument("--rounds", type=int, default=3, help="command sequences per worker")
    parser.add_argument("--busy-timeout", type=float, default=30.0,
                        help="KSCLI_BUSY_TIMEOUT for every command, in seconds")
    parser.add_argument("--backends", default="sqlite,json", help="file backends to measure")
    parser.add_argument("--pg", metavar="URL", help="also measure PostgreSQL on this server")
    args = parser.parse_args()
    kscli = installed_kscli()
    print(f"kscli under load: {args.workers} processes x {args.rounds} rounds "
          f"({kscli}, {os.cpu_count()} cores, KSCLI_BUSY_TIMEOUT={args.busy_timeout:g})\n")
    header = (f"{'backend':9} {'writes':>6} {'ok':>5} {'exit 5':>6} {'other':>5} {'wall s':>7} "
              f"{'writes/s':>9} {'median ms':>10} {'slowest ms':>11}")
    print(header)
    print("-" * len(header))
    work = tempfile.mkdtemp(prefix="kscli-stress-")
    targets = [(b, os.path.join(work, "ledger." + ("json" if b == "json" else "db")), None)
               for b in args.backends.split(",") if b]
    if args.pg:
        url, name = _pg_database(args.pg)
        targets.append(("postgres", url, name))
    failed = False
    try:
        for backend, spec, _ in targets:
            run = run_load(spec, workers=args.workers, rounds=args.rounds, busy_timeout=args.busy_timeout, kscli=kscli)
            s = run.summary()
            failed |= bool(s["other"])
            print(f"{backend:9} {s['writes']:>6} {s['ok']:>5} {s['busy']:>6} {s['other']:>5} "
                  f"{s['wall']:>7.2f} {s['writes_per_s']:>9.1f} {s['median_write'] * 1000:>10.0f} "
                  f"{s['slowest_write'] * 1000:>11.0f}", flush=True)
            for op in run.writes:
                if op.code not in (0, 5):
                    print(f"  exit {op.code}: kscli {' '.join(op.argv)}: {op.stderr.strip()}")
    finally:
        for _, _, name in targets:
            if name:
                _pg_drop(args.pg, name)
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
