"""The text of a statement file: its encoding (UTF-8 unless told, byte-order marks of
UTF-8 and UTF-16 recognised), read whole or a line at a time, and the error that names
the line of a byte the encoding cannot read."""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from kscli.domain.statement.lines import StatementError, _show

# A statement file's lines, read again from its start at each call.
TextSource = Callable[[], Iterable[str]]

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))


def decode_statement(data: bytes, encoding: str | None = None) -> str:
    """The text of a statement file: UTF-8, or UTF-16 with its byte-order mark, or in
    ``encoding`` (a byte-order mark is dropped either way)."""
    name, skip = statement_encoding(data[:4], encoding)
    try:
        return data[skip:].decode(name)
    except UnicodeDecodeError as exc:
        raise _undecodable(exc, data.count(b"\n", skip, skip + exc.start), encoding) from None


def statement_encoding(head: bytes, encoding: str | None = None) -> tuple[str, int]:
    """The codec of a statement whose file starts with ``head`` (its first 4 bytes or
    more), and the length of the byte-order mark to skip."""
    name, skip = None, 0
    for bom, bom_name in _BOMS:
        if head.startswith(bom):
            name, skip = bom_name, len(bom)
            break
    if encoding is not None:
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            raise StatementError(
                f"'{_show(encoding)}' is not an encoding Python knows: use one like utf-8, "
                "latin-1, cp1252 or utf-16") from None
    return name or "utf-8", skip


def _undecodable(exc: UnicodeDecodeError, newlines_before: int,
                 encoding: str | None) -> StatementError:
    """The error of a byte the codec cannot read (``newlines_before`` it in the file)."""
    line = newlines_before + 1
    bad = exc.object[exc.start : exc.start + 1].hex()
    if encoding is None:
        advice = ("it may be Latin-1 or Windows-1252): import it with --encoding latin-1 "
                  "(or cp1252), or re-save it as UTF-8")
        return StatementError(f"the statement is not UTF-8 (byte 0x{bad} cannot be read; "
                              + advice, line=line)
    return StatementError(
        f"the statement is not {encoding} (byte 0x{bad} cannot be read): give its "
        "encoding with --encoding", line=line)


# How many bytes a streamed statement is decoded at a time when an undecodable byte
# is looked for.
_CHUNK = 1 << 20


def statement_text(open_binary: Callable[[], BinaryIO], head: bytes,
                   encoding: str | None = None) -> TextSource:
    """A statement file read as text, a line at a time, as often as asked: each call of
    the answer opens the file again (``open_binary``) and gives its lines, split and
    decoded as ``decode_statement`` would (a byte the codec cannot read raises its
    StatementError, naming the line)."""
    name, skip = statement_encoding(head, encoding)
    error = _first_undecodable(open_binary, skip, name, encoding)
    if error is not None:  # said before anything else, as decode_statement does
        raise error

    def lines() -> Iterator[str]:
        handle = open_binary()
        handle.read(skip)
        text = io.TextIOWrapper(handle, encoding=name, newline="")
        try:
            yield from text
        except UnicodeDecodeError:  # the file changed since it was checked
            raise _first_undecodable(open_binary, skip, name, encoding) or \
                StatementError("the statement cannot be decoded") from None
        finally:
            text.close()

    return lines


def _first_undecodable(open_binary: Callable[[], BinaryIO], skip: int, name: str,
                       encoding: str | None) -> StatementError | None:
    """The error of the first byte of the file the codec cannot read, or None."""
    decoder = codecs.getincrementaldecoder(name)()
    newlines = 0
    with open_binary() as handle:
        handle.read(skip)
        while True:
            chunk = handle.read(_CHUNK)
            pending = decoder.getstate()[0]
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                before = newlines - pending.count(b"\n") + exc.object.count(b"\n", 0, exc.start)
                return _undecodable(exc, before, encoding)
            if not chunk:
                return None
            newlines += chunk.count(b"\n")
