#!/usr/bin/env python3
"""`kscli report` over a large ledger: microseconds per subscription-month, peak memory.

    pip install . && python bench/report.py             # 200,000 subscriptions
    python bench/report.py --big 20000 --months 24 --forecast 12

The ledger is bench/run.py's (monthly and annual plans started over the last eleven
months, a third not swept); the report covers ``--months`` back and ``--forecast``
ahead, so the work is subscriptions x (months + forecast + 1) subscription-months.
The figure is the report's time less the same report on an empty ledger (start-up).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from run import kscli_command, make_export, timed  # noqa: E402


def _ecb_history(path: str, now: datetime) -> None:
    """Three years of weekday USD and GBP rates, newest first, in the ECB's layout."""
    from datetime import timedelta

    with open(path, "w", encoding="utf-8") as out:
        out.write("Date,USD,GBP,\n")
        for n in range(3 * 365):
            day = (now - timedelta(days=n)).date()
            if day.weekday() < 5:
                out.write(f"{day},{1.05 + n % 17 / 1000:.4f},{0.84 + n % 13 / 1000:.4f},\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--big", type=int, default=200_000, help="subscriptions in the ledger")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--forecast", type=int, default=12)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    kscli = kscli_command()
    work = tempfile.mkdtemp(prefix="kscli-bench-report-")
    try:
        now = datetime.now(timezone.utc)
        export = os.path.join(work, "big.json")
        make_export(export, args.big, now)
        spec = os.path.join(work, "big.db")
        timed(kscli + ["--store", spec, "import", export])
        rates = os.path.join(work, "eurofxref-hist.csv")
        _ecb_history(rates, now)
        timed(kscli + ["--store", spec, "rates", "import", rates])
        report = ["--format", "json", "report", "--months", str(args.months),
                  "--forecast", str(args.forecast), "--in", "EUR"]
        empty = statistics.median(timed(kscli + ["--store", os.path.join(work, "empty.db")]
                                        + report)[0] for _ in range(args.runs))
        runs = [timed(kscli + ["--store", spec] + report) for _ in range(args.runs)]
        t = statistics.median(r[0] for r in runs)
        mem = max(r[1] for r in runs)
        sub_months = args.big * (args.months + args.forecast + 1)
        per = (t - empty) / sub_months * 1e6
        print(f"kscli report over {args.big:,} subscriptions, {args.months} months back and "
              f"{args.forecast} ahead ({sub_months:,} subscription-months)")
        print(f"  {t:.2f} s ({empty * 1000:.0f} ms start-up on an empty ledger), "
              f"{per:.2f} us per subscription-month (target < 5 us), peak {mem} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
