"""Which reader a statement file needs, recognised by its content (or forced), and the
one call that reads any of them."""

from __future__ import annotations

from kscli.domain.statement.camt import looks_like_camt, read_camt
from kscli.domain.statement.lines import Statement
from kscli.domain.statement.mt940 import decode_mt940, looks_like_mt940, read_mt940
from kscli.domain.statement.ofx import decode_ofx, looks_like_ofx, read_ofx
from kscli.domain.statement.reading import Columns, decode_statement, read_csv

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
