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

from kscli.domain.errors import printable

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def clean(text: Any) -> str:
    """Text safe for a terminal: control characters shown as visible escapes."""
    if text is None:
        return "-"
    return printable(text if isinstance(text, str) else str(text), named=True)


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
_ENCODERS = {"E": _ESCAPE, "J": _ONE_LINE}


def _value_code(name: str) -> str:
    """Python code for the JSON text of the value in variable ``name``, for the line
    encoders below: text through json's C escaper, null/true/false as such, anything
    else (numbers, nested values) through json's encoder."""
    return (f"(E({name}) if {name}.__class__ is str else 'null' if {name} is None "
            f"else 'true' if {name} is True else 'false' if {name} is False else J({name}))")


class _FlatLines:
    """One-line JSON of records, the same text as json's encoder gives, about twice as
    fast for flat records: a listing of 200,000 rows spends much of its time here.

    For each set of keys it builds (once) a function that joins the escaped keys and
    the values (_value_code).
    """

    def __init__(self, end: str = "") -> None:
        self.end = end  # written after each record ("\n" for JSON lines)
        self.keys: tuple | None = None
        self.join = None

    def _build(self, keys: tuple):
        names = [f"v{i}" for i in range(len(keys))]
        pieces = []
        for i, (key, name) in enumerate(zip(keys, names)):
            pieces.append(repr(("{" if i == 0 else ", ") + _ESCAPE(key) + ": "))
            pieces.append(_value_code(name))
        body = ", ".join(pieces + [repr("}" + self.end)]) if keys else repr("{}" + self.end) + ","
        source = (f"def join(values, E=E, J=J):\n"
                  + (f"    {', '.join(names)}, = values\n" if keys else "")
                  + f"    return ''.join(({body}))\n")
        scope = dict(_ENCODERS)
        exec(source, scope)  # noqa: S102 - built from the record's own keys, escaped
        return scope["join"]

    def __call__(self, record: dict[str, Any]) -> str:
        keys = tuple(record)
        if keys != self.keys:
            self.keys, self.join = keys, self._build(keys)
        return self.join(record.values())


def stored_lines(fields: Sequence[tuple[str, str, Any]], width: int,
                 end: str = "") -> Callable[[tuple], str]:
    """A function from a (record, stored row) pair to the record's one-line JSON, for
    a record whose JSON object is described field by field (see views.SUB_FIELDS):
    ("text", i) is the row's i-th value, text or null; ("bool", i) a 0/1 flag;
    ("derived", f) is f(record, row), any JSON value. ``width`` is the row's length.
    The same text as _FlatLines gives for the object, without building it: the
    fastest path of a listing. (Built once; the keys are ours, escaped as JSON.)
    """
    def literal(text: str) -> str:  # text as it stands inside an f-string
        return text.replace("{", "{{").replace("}", "}}")

    scope: dict[str, Any] = dict(_ENCODERS)
    layout, lines = [], [f"{''.join(f'c{i}, ' for i in range(width))}= r"] if width else []
    for n, (key, kind, source) in enumerate(fields):
        key_text = ("{" if n == 0 else ", ") + _ESCAPE(key) + ": "
        layout.append(literal(key_text) + f"{{v{n}}}")
        if kind == "text":
            lines.append(f"v{n} = 'null' if c{source} is None else E(c{source})")
        elif kind == "bool":
            lines.append(f"v{n} = 'true' if c{source} else 'false'")
        else:
            scope[f"d{n}"] = source
            lines.append(f"v{n} = d{n}(s, r)")
            lines.append(f"v{n} = {_value_code(f'v{n}')}")
    template = ("".join(layout) + "}}" if fields else "{{}}") + literal(end)
    body = "".join(f"    {line}\n" for line in lines)
    # an f-string: the fastest way CPython has to put text pieces together
    exec(f"def line(pair):\n    s, r = pair\n{body}    return f{template!r}\n", scope)  # noqa: S102
    return scope["line"]


def write_json(fmt: str, items: Iterable[Any], make_line: Callable[[str], Callable[[Any], str]]) -> None:
    """Items as one JSON array (json) or one object a line (jsonl); ``make_line(end)``
    gives the function from an item to its one-line JSON followed by ``end``."""
    if fmt == "jsonl":
        sys.stdout.writelines(map(make_line("\n"), items))  # one call: the loop runs in C
        return
    line = make_line("")
    write = sys.stdout.write
    write("[")
    first = True
    for item in items:
        write(("\n  " if first else ",\n  ") + line(item))
        first = False
    write("]\n" if first else "\n]\n")


def dumps(value: Any) -> str:
    """Indented JSON, with no space at the end of any line."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ": "), indent=2)


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


def fit_columns(rows: list[list[str]], headers: Sequence[str], width: int | None) -> list[list[str]]:
    """Rows whose text columns are shortened with "…" so that the table fits ``width``:
    long text columns (twelve characters or more) give way first, the widest first,
    then any other; the first (id) column never, and no column becomes narrower than
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
        shrinkable = [i for i in range(1, count) if not long_only or natural[i] >= 12]
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


def render_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    import tabulate as tabulate_module

    width = table_width()
    cells = fit_columns([[clean(c) for c in r] for r in rows], headers, width)
    if width is not None:  # no spare spaces beside a header when every column counts
        tabulate_module.MIN_PADDING = 0
    return tabulate_module.tabulate(cells, headers=list(headers), tablefmt="simple",
                                    disable_numparse=True)


def emit_list(fmt: str, records: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]],
              *, table_row=None, footer: Sequence[str] = (), empty: str = "") -> None:
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
        write(render_table(rows, [h for h, _ in columns]) + "\n")
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
