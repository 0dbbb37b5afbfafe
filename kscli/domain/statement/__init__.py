"""Bank and card statements: read them, match their lines, find unexpected charges.

Three pure steps behind ``kscli charges``:

- ``reading`` (CSV) and the readers of OFX, CAMT.053 and MT940 turn the bytes of an
  export into ``StatementLine`` records (all or nothing: one bad line raises
  ``StatementError`` naming the line and the column, and nothing is returned);
- ``matching`` finds the subscription a line pays for (the words of its vendor's name
  or of a descriptor among the description's words, the same currency, the price in
  force preferred), through an index of those words;
- ``checks`` holds the recorded charges against the ledger and reports every charge
  that should not have happened (or not at that amount), with a stable id and the
  reference to show the bank.

The public names are re-exported here.
"""

from kscli.domain.statement.checks import (
    DISPUTE_NOTE,
    FINDING_KINDS,
    Finding,
    dated_after,
    find_unexpected,
    future_warning,
    latest_date,
)
from kscli.domain.statement.lines import StatementError, StatementLine
from kscli.domain.statement.matching import match_line
from kscli.domain.statement.columns import DELIMITERS, Columns
from kscli.domain.statement.decoding import decode_statement
from kscli.domain.statement.reading import parse_statement

__all__ = [
    "DELIMITERS",
    "DISPUTE_NOTE",
    "FINDING_KINDS",
    "Columns",
    "Finding",
    "StatementError",
    "StatementLine",
    "dated_after",
    "decode_statement",
    "find_unexpected",
    "future_warning",
    "latest_date",
    "match_line",
    "parse_statement",
]
