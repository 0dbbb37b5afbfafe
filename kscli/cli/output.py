"""One renderer for every format: table, plain, json, jsonl, csv.

stdout carries data only. Text that reaches a terminal is cleaned of control
characters, so a vendor name cannot smuggle an escape sequence into a table; CSV cells
that a spreadsheet would run as a formula are defused.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, Iterable, Sequence

import click

FORMATS = ("table", "plain", "json", "jsonl", "csv")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def clean(text: Any) -> str:
    """Text safe for a terminal: control characters shown as visible escapes."""
    if text is None:
        return "-"
    value = text if isinstance(text, str) else str(text)
    if _CONTROL.search(value) or "\n" in value or "\t" in value:
        value = _CONTROL.sub(lambda m: "\\x%02x" % ord(m.group()) if ord(m.group()) < 256
                            else "\\u%04x" % ord(m.group()), value)
        value = value.replace("\n", "\\n").replace("\t", "\\t")
    return value


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        value = json.dumps(value, sort_keys=True)
    text = str(value)
    if text and text[0] in "=+-@\t\r" and not _NUMBER.match(text):
        return "'" + text  # a spreadsheet would run it as a formula
    return text


# One encoder, built once: json.dumps with options builds a new one on every call.
_ONE_LINE = json.JSONEncoder(ensure_ascii=False).encode
_ESCAPE = json.encoder.encode_basestring  # the C escaper, as ensure_ascii=False uses


class _FlatLines:
    """One-line JSON of records, the same text as json's encoder gives, about twice as
    fast for flat records: a listing of 200,000 rows spends much of its time here.

    For each set of keys it builds (once) a function that joins the escaped keys and
    values; text goes through json's C escaper, null/true/false are written as such,
    anything else (numbers, nested values) through json's encoder.
    """

    def __init__(self, end: str = "") -> None:
        self.end = end  # written after each record ("\n" for JSON lines)
        self.keys: tuple | None = None
        self.join = None
        self.count = 0

    def _build(self, keys: tuple):
        names = [f"v{i}" for i in range(len(keys))]
        pieces = []
        for i, (key, name) in enumerate(zip(keys, names)):
            pieces.append(repr(("{" if i == 0 else ", ") + _ESCAPE(key) + ": "))
            pieces.append(f"(E({name}) if {name}.__class__ is str else 'null' if {name} is None "
                          f"else 'true' if {name} is True else 'false' if {name} is False "
                          f"else J({name}))")
        body = ", ".join(pieces + [repr("}" + self.end)]) if keys else repr("{}" + self.end) + ","
        source = (f"def join(values, E=E, J=J):\n"
                  + (f"    {', '.join(names)}, = values\n" if keys else "")
                  + f"    return ''.join(({body}))\n")
        scope = {"E": _ESCAPE, "J": _ONE_LINE}
        exec(source, scope)  # noqa: S102 - built from the record's own keys, escaped
        return scope["join"]

    def __call__(self, record: dict[str, Any]) -> str:
        keys = tuple(record)
        if keys != self.keys:
            self.keys, self.join = keys, self._build(keys)
        self.count += 1
        return self.join(record.values())


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), indent=2)


def out(line: str = "") -> None:
    click.echo(line)


def note(message: str) -> None:
    """A message for people, on stderr."""
    click.echo(clean(message), err=True)


def render_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    from tabulate import tabulate

    return tabulate([[clean(c) for c in r] for r in rows], headers=list(headers),
                    tablefmt="simple", disable_numparse=True)


def emit_list(fmt: str, records: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]],
              *, table_row=None, footer: Sequence[str] = (), empty: str = "") -> int:
    """Print a listing in ``fmt``; returns how many records it printed.

    ``columns`` are (header, key) pairs for table, plain and csv; ``table_row`` may
    turn a record into the table's cells (defaults to the columns' keys).
    """
    count = 0
    write = sys.stdout.write
    if fmt == "jsonl":
        line = _FlatLines(end="\n")
        sys.stdout.writelines(map(line, records))  # one call: the loop runs in C
        return line.count
    if fmt == "json":
        line = _FlatLines()
        write("[")
        for record in records:
            write(("\n  " if count == 0 else ",\n  ") + line(record))
            count += 1
        write("\n]\n" if count else "]\n")
        return count
    keys = [key for _, key in columns]
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([h for h, _ in columns] if table_row is None else keys)
        for record in records:
            writer.writerow([csv_cell(record.get(k)) for k in keys])
            count += 1
        return count
    cells = table_row or (lambda r: [r.get(k) for k in keys])
    if fmt == "plain":
        for record in records:
            write("\t".join(clean(c) for c in cells(record)) + "\n")
            count += 1
        return count
    rows = [cells(r) for r in records]
    count = len(rows)
    if rows:
        write(render_table(rows, [h for h, _ in columns]) + "\n")
    elif empty:
        note(empty)
    for line in footer:
        write(clean(line) + "\n")
    return count


def emit_object(fmt: str, record: dict[str, Any], *, message: str | None = None,
                fields: Sequence[tuple[str, str]] | None = None, quiet: bool = False) -> None:
    """Print one object: a message line and its fields, or the object as JSON."""
    if quiet:
        return
    write = sys.stdout.write
    if fmt in ("json", "jsonl"):
        doc = dict(record)
        if message is not None:
            doc.setdefault("message", message)
        write((dumps(doc) if fmt == "json" else json.dumps(doc, ensure_ascii=False)) + "\n")
        return
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        keys = list(record)
        writer.writerow(keys)
        writer.writerow([csv_cell(record[k]) for k in keys])
        return
    if message:
        write(clean(message) + "\n")
    if fields:
        pairs = [(label, record.get(key)) for label, key in fields if record.get(key) not in (None, "")]
        width = max((len(label) for label, _ in pairs), default=0)
        for label, value in pairs:
            if isinstance(value, bool):
                value = "yes" if value else "no"
            write(f"{label.ljust(width)}  {clean(value)}\n" if fmt == "table"
                  else f"{label}\t{clean(value)}\n")
