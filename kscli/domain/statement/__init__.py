"""Bank and card statements: read them, match their lines, find unexpected charges.

Three pure steps behind ``kscli charges``:

- ``reading`` (CSV) and the readers of OFX, CAMT.053 and MT940 turn the bytes of an
  export into ``StatementLine`` records (all or nothing: one bad line raises
  ``StatementError`` naming the line and the column, and nothing is returned);
- ``matching`` finds the subscription a line pays for (vendor name in the description,
  same amount, same currency), through an index of vendor names;
- ``checks`` holds the recorded charges against the ledger and reports every charge
  that should not have happened, with the reference to show the bank.

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
