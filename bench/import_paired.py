"""The import of a large export in one process against the same import with the
checks in a second process (services/background.py), paired: the two alternate, so
that each pair runs under the same load.

    python bench/import_paired.py [--pairs 5] [--count 200000]

It measures a choice that was made: the second process was removed after this run
(bench/RESULTS.md), so it runs against the tree of commit 66bb426, the last that had it
(`git worktree add /tmp/k 66bb426 && pip install -e /tmp/k`).

Each import runs in a fresh Python process (as `kscli import` does) into a new SQLite
ledger; the figure is the wall time of the import call itself.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

_ONE = r"""
import sys, time
from kscli.services import ledger
from kscli.store import open_store
second = sys.argv[3] == "two"
if not second:
    ledger._check_meanwhile = lambda store, data: False
data = open(sys.argv[1], "rb").read()
store = open_store(sys.argv[2])
start = time.perf_counter()
ledger.import_ledger(store, data, sys.argv[1])
print(time.perf_counter() - start)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--count", type=int, default=200_000)
    args = parser.parse_args()
    from run import make_export  # bench/run.py: the same ledger as the other figures

    work = tempfile.mkdtemp(prefix="kscli-import-")
    export = os.path.join(work, "big.json")
    make_export(export, args.count)
    pairs = []
    for n in range(args.pairs):
        times = {}
        # alternate which goes first, so neither always runs on a warmer machine
        for way in (("one", "two") if n % 2 == 0 else ("two", "one")):
            target = os.path.join(work, f"{way}{n}.db")
            out = subprocess.run([sys.executable, "-c", _ONE, export, target, way],
                                 capture_output=True, text=True, check=True)
            times[way] = float(out.stdout.strip())
            os.unlink(target)
        pairs.append(times)
        gain = times["one"] / times["two"] - 1
        print(f"pair {n + 1}: one process {times['one']:.2f} s, two {times['two']:.2f} s "
              f"(two {'faster' if gain > 0 else 'slower'} by {abs(gain):.0%})", flush=True)
    wins = sum(1 for t in pairs if t["one"] >= 1.15 * t["two"])
    print(json.dumps({"pairs": pairs, "two_wins_by_15pct": wins}))


if __name__ == "__main__":
    main()
