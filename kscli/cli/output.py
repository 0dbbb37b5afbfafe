"""One renderer for every format: table, plain, json, jsonl, csv.

stdout carries data only. Text that reaches a terminal is cleaned of control
characters, so a vendor name cannot smuggle an escape sequence into a table; CSV cells
that a spreadsheet would run as a formula are defused.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, Callable, Iterable, Sequence

import click

from kscli.domain.errors import json_escaped, printable
from kscli.generated import _ONE_LINE, stored_lines  # noqa: F401 - (used by listings)
from kscli.generated import FlatLines as _FlatLines

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def clean(text: Any) -> str:
    """Text safe for a terminal: control characters shown as visible escapes."""
    if text is None:
        return "-"
    return printable(text if isinstance(text, str) else str(text), named=True)


def csv_cell(value: Any) -> str:
    """A value as a CSV cell: text as a table shows it (controls escaped: a cell opened
    in a terminal or a spreadsheet cannot act on them), defused against formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        value = json.dumps(value, sort_keys=True)
    text = str(value)
    if text and text[0] in "=+-@\t\r" and not _NUMBER.match(text):
        text = "'" + text  # a spreadsheet would run it as a formula
    return clean(text)  # controls as visible escapes, as in tables


def write_json(fmt: str, items: Iterable[Any], make_line: Callable[[str], Callable[[Any], str]]) -> None:
    """Items as one JSON array (json) or one object a line (jsonl); ``make_line(end)``
    gives the function from an item to its one-line JSON followed by ``end``."""
    if fmt == "jsonl":  # one call: the loop runs in C
        sys.stdout.writelines(map(json_escaped, map(make_line("\n"), items)))
        return
    line = make_line("")
    write = sys.stdout.write
    write("[")
    first = True
    for item in items:
        write(("\n  " if first else ",\n  ") + json_escaped(line(item)))
        first = False
    write("]\n" if first else "\n]\n")


def dumps(value: Any) -> str:
    """Indented JSON, with no space at the end of any line (C1 and bidirectional
    controls escaped: kscli.domain.errors.json_escaped)."""
    return json_escaped(json.dumps(value, ensure_ascii=False, separators=(",", ": "), indent=2))


def one_line_json(value: Any) -> str:
    """JSON on one line, controls escaped as by dumps."""
    return json_escaped(json.dumps(value, ensure_ascii=False))


def out(line: str = "") -> None:
    click.echo(line)


def note(message: str) -> None:
    """A message for people, on stderr."""
    click.echo(clean(message), err=True)


_GAP = 2  # spaces between columns in tabulate's "simple" format
_NARROWEST = 8  # a shortened column keeps at least this many characters (or its header)


def table_width() -> int | None:
    """The width a table must fit: ``COLUMNS``, else the terminal's; None when output
    goes to a file or a pipe without ``COLUMNS`` (nothing is shortened), or with --wide."""
    import os

    from kscli.cli.app import App

    ctx = click.get_current_context(silent=True)
    app = ctx.find_object(App) if ctx is not None else None
    if app is not None and app.wide:
        return None

    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        if sys.stdout.isatty():
            import shutil

            return shutil.get_terminal_size().columns
    except (AttributeError, ValueError, OSError):
        pass
    return None


# Columns people copy from a table: never shortened, however narrow the terminal (a
# reference kept as proof, an id typed into the next command; a listing that shows keys
# names its key column too).
WHOLE = frozenset({"id", "reference", "sub_id", "charge_id", "license_id"})


def fit_columns(rows: list[list[str]], headers: Sequence[str], width: int | None,
                whole: Sequence[int] = ()) -> list[list[str]]:
    """Rows whose text columns are shortened with "…" so that the table fits ``width``:
    long text columns (twelve characters or more) give way first, the widest first,
    then any other; the first (id) column and those at ``whole`` (WHOLE: keys, ids,
    references) never, and no column becomes narrower than
    its header or eight characters (so a very narrow terminal gets the narrowest table,
    still wider than it)."""
    if width is None or not rows:
        return rows
    count = len(headers)
    heads = [len(h) for h in headers]  # (rendered with tabulate's MIN_PADDING at 0)
    natural = [max([heads[i]] + [len(r[i]) for r in rows]) for i in range(count)]
    sizes = list(natural)
    excess = sum(sizes) + _GAP * (count - 1) - width
    for long_only in (True, False):
        floor = [natural[0]] + [min(natural[i], max(heads[i], _NARROWEST if long_only else 5))
                                for i in range(1, count)]
        shrinkable = [i for i in range(1, count) if (not long_only or natural[i] >= 12)
                      and i not in whole]
        while excess > 0 and shrinkable:
            widest = max(shrinkable, key=lambda i: sizes[i] - floor[i])
            if sizes[widest] <= floor[widest]:
                break  # as narrow as these columns go
            sizes[widest] -= 1
            excess -= 1
    if sizes == natural:
        return rows
    return [[c if len(c) <= sizes[i] else c[:sizes[i] - 1] + "…" for i, c in enumerate(r)]
            for r in rows]


def render_table(rows: Sequence[Sequence[Any]], headers: Sequence[str],
                 whole: Sequence[int] = ()) -> str:
    """A table for people; the columns at ``whole`` are never shortened."""
    import tabulate as tabulate_module

    width = table_width()
    cells = fit_columns([[clean(c) for c in r] for r in rows], headers, width, whole)
    if width is not None:  # no spare spaces beside a header when every column counts
        tabulate_module.MIN_PADDING = 0
    return tabulate_module.tabulate(cells, headers=list(headers), tablefmt="simple",
                                    disable_numparse=True)


def emit_list(fmt: str, records: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]],
              *, table_row=None, footer: Sequence[str] = (), empty: str = "",
              whole: Sequence[str] = ()) -> None:
    """Print a listing in ``fmt``.

    ``columns`` are (header, key) pairs for table, plain and csv; ``table_row`` may
    turn a record into the table's cells (defaults to the columns' keys).
    """
    if fmt in ("json", "jsonl"):
        write_json(fmt, records, _FlatLines)
        return
    write = sys.stdout.write
    keys = [key for _, key in columns]
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([h for h, _ in columns] if table_row is None else keys)
        writer.writerows([csv_cell(record.get(k)) for k in keys] for record in records)
        return
    cells = table_row or (lambda r: [r.get(k) for k in keys])
    if fmt == "plain":
        sys.stdout.writelines("\t".join(clean(c) for c in cells(record)) + "\n" for record in records)
        return
    rows = [cells(r) for r in records]
    if rows:
        kept = [i for i, (_, key) in enumerate(columns) if key in WHOLE or key in whole]
        write(render_table(rows, [h for h, _ in columns], kept) + "\n")
    elif empty:
        note(empty)
    width = table_width() if footer else None
    for line in footer:
        shown = clean(line)
        if width is not None and len(shown) > width:  # a sentence under a table: wrapped, whole
            import textwrap

            shown = "\n".join(textwrap.wrap(shown, width, subsequent_indent="  ",
                                             break_on_hyphens=False))
        write(shown + "\n")


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
        write((dumps(doc) if fmt == "json" else one_line_json(doc)) + "\n")
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
