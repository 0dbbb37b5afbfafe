#!/usr/bin/env python3
"""`charges check` over 100,000 imported charges and 20,000 subscriptions: under 2 s,
and linear in the number of charges (100,000 vs 10,000 within 12x).

The ledger: 20,000 monthly subscriptions renewing, each of its own vendor (``Vendor
00042``), and a card statement of five months of their charges (``make_statement``):
every line matches, one subscription in a hundred was charged a raised price in its
last month (a price-changed finding) and one in a hundred twice in one month (a
duplicate-in-period finding). The 10,000-charge run holds the same ledger and the
first 2,000 subscriptions' charges. Measure a regular install:
``pip install . && python bench/check.py``.

    python bench/check.py                  # 100,000 and 10,000 charges, 20,000 subs
    python bench/check.py --subs 2000      # a smaller ledger (charges: 5 per sub)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from run import kscli_command  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
MONTHS = 5


def make_export(path: str, count: int) -> None:
    """A kscli export of ``count`` monthly subscriptions, one vendor each, started on
    day 1 to 28 of January 2026."""
    from kscli.domain.subscriptions import new_subscription
    from kscli.store.migrations import SCHEMA_VERSION
    from kscli.store.schema import SUBS, to_row

    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with open(path, "w") as out:
        out.write('{"format": "kscli-export", "version": 1, "schema": %d, "tables": {"subs": [\n'
                  % SCHEMA_VERSION)
        for i in range(count):
            sub = new_subscription(
                f"S-{1001 + i}", account=f"acct-{i % 500}", vendor=f"Vendor {i:05d}",
                product="Plan", plan="monthly", kind="subscription",
                price=Decimal(f"{5 + i % 50}.99"), currency="USD",
                started_at=START + timedelta(days=i % 28), commitment_months=None,
                auto_renew=True, partner_name=None, partner_portal=None, region=None,
                now=START)
            out.write(("," if i else "") + encode(dict(zip(SUBS.names, to_row(sub)))) + "\n")
        out.write('], "counters": [{"name": "S-", "value": %d}]}}\n' % (1000 + count))


def make_statement(path: str, subs: int) -> int:
    """Five months of charges of the first ``subs`` subscriptions; the number of lines."""
    lines = 0
    with open(path, "w") as out:
        out.write("date,description,amount,currency\n")
        for month in range(MONTHS):
            for i in range(subs):
                day = (START + timedelta(days=i % 28)).replace(month=1 + month).date()
                price = Decimal(f"{5 + i % 50}.99")
                if i % 100 == 7 and month == MONTHS - 1:
                    price += 2  # a price rise
                if i % 100 == 42 and month == 2:
                    out.write(f"{day + timedelta(days=1)},CARD VENDOR {i:05d} AGAIN,-{price},USD\n")
                    lines += 1
                    if i % 1000 == 42:
                        continue  # (keeps the count at five a subscription)
                out.write(f"{day},CARD *VENDOR {i:05d} {month:02d}{i:07d},-{price},USD\n")
                lines += 1
    return lines


def check_seconds(kscli: list[str], ledger: str, runs: int = 3) -> tuple[float, int]:
    """The best wall time of `charges check --format json` (exit 0 or 1: both are
    answers), and how many findings it printed."""
    best, found = float("inf"), 0
    argv = kscli + ["--store", ledger, "--format", "json", "charges", "check",
                    "--as-of", "2026-06-30"]
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True)
        took = time.perf_counter() - start
        if proc.returncode not in (0, 1):
            raise SystemExit(f"charges check failed ({proc.returncode}): "
                             f"{proc.stderr.decode().strip()}")
        best, found = min(best, took), len(json.loads(proc.stdout))
    return best, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subs", type=int, default=20_000, help="subscriptions in the ledger")
    args = parser.parse_args()
    kscli = kscli_command()
    work = tempfile.mkdtemp(prefix="kscli-bench-check-")
    export = os.path.join(work, "subs.json")
    make_export(export, args.subs)
    took: dict[int, float] = {}
    for subs in (args.subs // 10, args.subs):
        statement = os.path.join(work, f"statement-{subs}.csv")
        count = make_statement(statement, subs)
        ledger = os.path.join(work, f"check-{subs}.db")
        subprocess.run(kscli + ["--store", ledger, "import", export], check=True,
                       capture_output=True)
        subprocess.run(kscli + ["--quiet", "--store", ledger, "charges", "import", statement],
                       check=True, capture_output=True)
        took[count], found = check_seconds(kscli, ledger)
        print(f"charges check, {count:,} charges, {args.subs:,} subscriptions: "
              f"{took[count]:.2f} s ({found:,} findings)   target < 2 s", flush=True)
    small, large = sorted(took)
    print(f"charges check, {large:,} vs {small:,} charges: {took[large] / took[small]:.2f}x"
          "   target <= 12x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
