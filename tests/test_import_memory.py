"""`charges import` holds a chunk of a statement at a time, not the file: a statement
ten times longer needs about the same memory (measured in kscli's own process). On
SQLite (and PostgreSQL) that is all; the JSON backend holds its whole ledger in memory
by design, so there memory grows with the charges stored, not with the file read. A 100 MB statement needed 2.97 GB before the import
streamed; bench/run.py measures that file (37 MB)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta

# The child runs kscli and reports its own peak resident memory (kB on Linux).
PEAK = ("import resource, sys\n"
        "from kscli.cli import main\n"
        "sys.argv = ['kscli'] + sys.argv[1:]\n"
        "try:\n    main()\n"
        "except SystemExit as done:\n    code = done.code\n"
        "else:\n    code = 0\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(code)\n")


def _statement(path, count: int) -> None:
    start = date(2026, 1, 1)
    with open(path, "w", encoding="utf-8") as out:
        out.write("date,description,amount,currency\n")
        for i in range(count):
            day = (start + timedelta(days=i % 300)).isoformat()
            out.write(f"{day},SHOP {i % 977} CITY {i:07d},-{1 + i % 90}.{i % 100:02d},USD\n")


def _peak_kb(store: str, statement: str) -> int:
    done = subprocess.run([sys.executable, "-c", PEAK, "--quiet", "--store", store, "charges",
                           "import", statement], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "KSCLI_STORE": store})
    assert done.returncode == 0, done.stderr
    return int(done.stderr.strip().splitlines()[-1])


def test_ten_times_the_lines_take_about_the_same_memory(tmp_path):
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    _statement(small, 5_000)
    _statement(large, 50_000)
    small_kb = _peak_kb(str(tmp_path / "s.db"), str(small))
    large_kb = _peak_kb(str(tmp_path / "l.db"), str(large))
    # Holding the file, its lines and their charges cost about 1.6 kB a line (163 MB
    # for 100,000): 45,000 more lines would be some 70 MB more.
    assert large_kb - small_kb < 12_000, (small_kb, large_kb)
