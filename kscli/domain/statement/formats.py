"""Which reader a statement file needs, recognised by its content (or forced), and the
one call that reads any of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

from kscli.domain.statement.camt import looks_like_camt, read_camt
from kscli.domain.statement.lines import Statement, StatementLine
from kscli.domain.statement.mt940 import decode_mt940, looks_like_mt940, read_mt940
from kscli.domain.statement.ofx import decode_ofx, looks_like_ofx, read_ofx
from kscli.domain.statement.columns import Columns
from kscli.domain.statement.decoding import decode_statement, statement_text
from kscli.domain.statement.reading import CsvStatement, read_csv

INPUT_FORMATS = ("csv", "ofx", "camt", "mt940")


def detect_format(data: bytes) -> str:
    """csv, ofx, camt or mt940, from the first bytes of a file."""
    head = data[:8192].decode("latin-1").lstrip("\ufeff\xef\xbb\xbf\x01\r\n \t")
    if looks_like_ofx(head):
        return "ofx"
    if looks_like_camt(head):
        return "camt"
    if looks_like_mt940(head):
        return "mt940"
    return "csv"


def read_any(data: bytes, fmt: str | None = None, columns: Columns = Columns(),
             default_currency: str | None = None) -> Statement:
    """The statement in ``data``, in ``fmt`` or the format its content shows."""
    fmt = fmt or detect_format(data)
    if fmt == "ofx":
        return read_ofx(decode_ofx(data), default_currency)
    if fmt == "camt":
        return read_camt(data)
    if fmt == "mt940":
        return read_mt940(decode_mt940(data))
    return read_csv(decode_statement(data, columns.encoding), columns, default_currency)


class WholeStatement:
    """A statement read whole (OFX, CAMT.053, MT940), seen the way ``CsvStatement``
    streams one: ``lines()``, ``rows``, ``rows_read`` and ``summary``."""

    def __init__(self, statement: Statement) -> None:
        self.format = statement.format
        self.summary = statement
        self.rows = len(statement.lines)
        self.rows_read = 0

    def lines(self) -> Iterator[StatementLine]:
        for number, line in enumerate(self.summary.lines, 1):
            self.rows_read = number
            yield line


def open_any(open_binary: Callable[[], BinaryIO], fmt: str | None = None,
             columns: Columns = Columns(), default_currency: str | None = None,
             size: int = 0) -> CsvStatement | WholeStatement:
    """The statement of the file ``open_binary`` opens (each call opens it again), in
    ``fmt`` or the format its content shows: a CSV statement streams (``size``, the
    file's length in bytes, sizes what the first pass keeps); the others are read whole."""
    with open_binary() as handle:
        head = handle.read(8192)
    fmt = fmt or detect_format(head)
    if fmt == "csv":
        return CsvStatement(statement_text(open_binary, head, columns.encoding), columns,
                            default_currency, size=size)
    with open_binary() as handle:
        data = handle.read()
    return WholeStatement(read_any(data, fmt, columns, default_currency))
