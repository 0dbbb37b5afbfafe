#!/usr/bin/env python3
"""`kscli charges discover` over a large ledger: 100,000 imported charges that match
none of 20,000 subscriptions, and the same with 10,000 charges (linear: within 12x).

    pip install . && python bench/discover.py [--runs 3]

The ledger is bench/run.py's export of subscriptions plus charges written straight
into the export: 2,000 merchants billing monthly (each charge's text carries its own
reference number, as card statements write them), the rest one-off shopping. The
figures are the median wall and CPU time of the whole command (start-up included).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from datetime import date, timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from run import kscli_command, make_export, timed, timed_usage  # noqa: E402


def add_charges(export: str, count: int) -> None:
    """Put ``count`` unmatched charges into a kscli export."""
    with open(export, encoding="utf-8") as handle:
        doc = json.load(handle)
    rows = []
    start = date(2025, 1, 1)
    for i in range(count):
        if i % 2:  # recurring: merchant m, month k
            m, k = (i // 2) % 2000, (i // 2) // 2000
            day = date(2025 + k // 12, k % 12 + 1, 1 + m % 28)
            amount = f"{5 + m % 40}.99"
            text = f"SERVICE NUMBER{chr(65 + m % 26)}{chr(65 + m // 26 % 26)}{chr(65 + m // 676)}" \
                f" REF {i}"
        else:
            day = start + timedelta(days=i % 700)
            text, amount = f"SHOP {i} PURCHASE", f"{1 + i % 300}.{i % 100:02d}"
        rows.append({"id": f"C-{1001 + i}", "posted_on": day.isoformat(), "description": text,
                     "amount": amount, "currency": "USD", "line_hash": f"{i:064x}",
                     "sub_id": None, "statement": "bench.csv",
                     "imported_at": "2026-12-01T00:00:00Z"})
    doc["tables"]["charges"] = rows
    doc["tables"]["counters"].append({"name": "C-", "value": 1000 + count})
    with open(export, "w", encoding="utf-8") as handle:
        json.dump(doc, handle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--subs", type=int, default=20_000)
    args = parser.parse_args()
    kscli = kscli_command()
    work = tempfile.mkdtemp(prefix="kscli-bench-discover-")
    try:
        figures = {}
        for count in (10_000, 100_000):
            export = os.path.join(work, f"big-{count}.json")
            make_export(export, args.subs)
            add_charges(export, count)
            spec = os.path.join(work, f"big-{count}.db")
            timed(kscli + ["--store", spec, "import", export])
            argv = kscli + ["--store", spec, "--format", "json", "charges", "discover"]
            timed(argv)  # warm the file cache
            runs = [timed_usage(argv)[:2] for _ in range(args.runs)]
            wall = statistics.median(run[0] for run in runs)
            cpu = statistics.median(run[1] for run in runs)
            figures[count] = (wall, cpu)
            print(f"charges discover, {count:,} charges, {args.subs:,} subscriptions: "
                  f"{wall:.2f} s wall, {cpu:.2f} s CPU (target < 2 s)")
        print(f"100,000 vs 10,000 charges: {figures[100_000][0] / figures[10_000][0]:.1f}x "
              f"wall, {figures[100_000][1] / figures[10_000][1]:.1f}x CPU (target within 12x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
