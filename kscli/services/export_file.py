"""The export file: read one and check every value in it before an import keeps
anything (what `kscli export` writes, what `kscli import` accepts).

The file is read a few lines at a time (``Export``): `kscli export` writes one row a
line, and a large import never holds the parsed file's objects, only each table's
columns, a chunk of rows at a time (on SQLite until they are checked). Every part goes
through Python's json parser; only the frame around the rows (the file's object, its
tables, the commas between rows) is walked here, and anything that walk does not
expect is left to ``json.loads`` of the whole file, which decides (the same message for
a file that is not JSON, whatever its layout).

The checks come from the records' descriptions (kscli.domain.model): the kind of each
stored value, values needed, allowed values, each field's rule; and the few rules
between fields and tables (ids and their counters, references, one-time sales). They
run a chunk of rows at a time (``ExportCheck``), and across chunks at the end.
"""

from __future__ import annotations

import json
import re
from collections import deque
from json.scanner import make_scanner
from operator import countOf, itemgetter
from typing import Any, Callable, Iterator, Sequence

from kscli.checks import check_fields, check_range, first_bad, judge, wrong
from kscli.domain import ids
from kscli.domain.errors import BadValue, shown
from kscli.store.migrations import SCHEMA_VERSION, apply_to_tables, pending
from kscli.store.schema import TABLES

EXPORT_FORMAT = "kscli-export"
EXPORT_VERSION = 1
CHUNK = 5000  # rows checked (and written, by SQLite) at a time
_LINES = 100  # lines parsed in one call: their rows stay in the processor's cache
_BLOCK = 1 << 20  # characters those lines may take (longer: a row at a time)
# Tables kept whole until the end of the file: a license's record says whether its key
# came along, which the table of keys (after it) tells.
_HELD = ("licenses", "secrets")
_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's white space, no other
_skip = lambda text, pos, _match=_SPACE.match: _match(text, pos).end()  # noqa: E731
_NOT_EXPORT = "import only files made by `kscli export`"

Columns = list[Sequence[Any]]  # a table's values, one sequence a column, in column order


def _bad(where: str, what: str) -> BadValue:
    return BadValue(f"{where}: {what}", hint=_NOT_EXPORT)


class _Irregular(Exception):
    """The walk over the file's frame met what it does not expect: json.loads decides."""


def _json_text(data: bytes | str, source: str) -> str:
    if isinstance(data, str):
        return data
    try:  # (as json.loads reads bytes)
        return data.decode(json.detect_encoding(data), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise BadValue(f"{source} is not valid JSON ({exc})", hint=_NOT_EXPORT) from None


def _whole(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise BadValue(f"{source} is not valid JSON ({exc})", hint=_NOT_EXPORT) from None
    except RecursionError:
        raise BadValue(f"{source} is JSON nested too deeply to be a kscli export",
                       hint=_NOT_EXPORT) from None


def _check_header(doc: dict[str, Any], source: str) -> int:
    """The schema of an export's header (``format``, ``schema``), or BadValue."""
    if doc.get("format") != EXPORT_FORMAT:
        raise BadValue(f"{source} is not a kscli export", hint="make one with `kscli export`")
    schema = doc.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1 or schema > SCHEMA_VERSION:
        raise BadValue(f"{source} has schema {schema!r}; this kscli reads 1 to {SCHEMA_VERSION}",
                       hint="upgrade kscli to import it")
    return schema


class Export:
    """An export file being read: its header checked at once (what cannot be loaded at
    all is refused here: not JSON, not an export, a newer schema), then its tables, a
    chunk of rows at a time, each checked before it is given (``chunks``)."""

    def __init__(self, data: bytes | str, source: str) -> None:
        self.source = source
        self.text = _json_text(data, source)
        self.keys_missing = 0  # licenses whose key the file left out (after ``chunks``)
        self._scan = make_scanner(json.JSONDecoder())
        self._given: dict[str, Any] | None = None  # the tables of a file read whole
        self._pos = 0
        try:
            self.schema = self._header()
        except _Irregular:  # (json.loads raises here for a file that is not JSON)
            self._pos = -1
            doc = _whole(self.text, source)
            if not isinstance(doc, dict):
                raise BadValue(f"{source} is not a kscli export",
                               hint="make one with `kscli export`") from None
            self.schema = _check_header(doc, source)
            given = doc.get("tables")
            if not isinstance(given, dict):
                raise _bad(source, "no tables") from None
            self._given = given

    # -- the frame -----------------------------------------------------------------
    def _value(self, pos: int) -> tuple[Any, int]:
        try:
            return self._scan(self.text, pos)
        except (StopIteration, ValueError, RecursionError):
            raise _Irregular from None

    def _key(self, pos: int) -> tuple[str, int]:
        """An object's key at ``pos`` and where its value starts."""
        if self.text[pos:pos + 1] != '"':
            raise _Irregular
        key, pos = self._value(pos)
        pos = _skip(self.text, pos)
        if self.text[pos:pos + 1] != ":":
            raise _Irregular
        return key, _skip(self.text, pos + 1)

    def _next_key(self, pos: int, close: str = "}") -> int | None:
        """After a value in an object: where the next key starts, or None at its end
        (the reader's place then just after it)."""
        pos = _skip(self.text, pos)
        mark = self.text[pos:pos + 1]
        if mark == close:
            self._pos = pos + 1
            return None
        if mark != ",":
            raise _Irregular
        return _skip(self.text, pos + 1)

    def _header(self) -> int:
        """Walk the file's object up to its tables (then the reader's place): the keys
        before them are the header, which must name the format and schema."""
        text = self.text
        pos = _skip(text, 0)
        if text[pos:pos + 1] != "{":
            raise _Irregular
        header: dict[str, Any] = {}
        at: int | None = _skip(text, pos + 1)
        while at is not None:
            key, at = self._key(at)
            if key == "tables":
                if key in header or "format" not in header or "schema" not in header \
                        or text[at:at + 1] != "{":
                    raise _Irregular  # (read whole: the header may come after)
                self._pos = _skip(text, at + 1)
                return _check_header(header, self.source)
            if key in header:
                raise _Irregular
            header[key], at = self._value(at)
            at = self._next_key(at)
        raise _Irregular

    def _file_tables(self) -> Iterator[tuple[str, Iterator[Any]]]:
        """The tables in the file's order, each as the parts of its value: a streamed
        list's rows a few lines at a time, anything else whole (the caller reads one
        table's parts before asking for the next)."""
        if self._given is not None:
            yield from ((name, iter([value])) for name, value in self._given.items())
            return
        text = self.text
        seen: set[str] = set()
        at: int | None = self._pos
        if text[at:at + 1] == "}":
            at = None
            self._pos += 1
        while at is not None:
            name, at = self._key(at)
            if name in seen:
                raise _bad(self.source, f"the table {shown(name)} is named twice")
            seen.add(name)
            if text[at:at + 1] == "[" and name in TABLES:
                parts = self._rows(_skip(text, at + 1))
                yield name, parts
                deque(parts, 0)
            else:
                value, self._pos = self._value(at)
                yield name, iter([value])
            at = self._next_key(self._pos)
        self._end()

    def _end(self) -> None:
        """After the tables: the rest of the file's object, and nothing after it."""
        text = self.text
        at = self._next_key(self._pos)
        while at is not None:
            key, at = self._key(at)
            if key in ("tables", "format", "schema"):
                raise _bad(self.source, f"{shown(key)} is named twice")
            _, at = self._value(at)
            at = self._next_key(at)
        if _skip(text, self._pos) != len(text):
            raise _Irregular

    def _rows(self, pos: int) -> Iterator[list[Any]]:
        """The rows of the list whose first row starts at ``pos``, a few lines at a
        time; the reader's place is then just after the list."""
        text = self.text
        if text[pos:pos + 1] == "]":
            self._pos = pos + 1
            return
        while True:
            block = self._block(pos)
            if block is not None:
                rows, pos, separated = block
            else:  # rows on more lines or all on one, the list's end, or an error
                rows, separated = [], False
                while True:
                    row, pos = self._value(pos)
                    rows.append(row)
                    pos = _skip(text, pos)
                    if text[pos:pos + 1] != "," or len(rows) == _LINES:
                        break
                    pos = _skip(text, pos + 1)
            yield rows
            pos = _skip(text, pos)
            if not separated:
                mark = text[pos:pos + 1]
                if mark == "]":
                    self._pos = pos + 1
                    return
                if mark != ",":
                    raise _Irregular
                pos = _skip(text, pos + 1)

    def _block(self, pos: int) -> tuple[list[Any], int, bool] | None:
        """The objects on the next lines from ``pos`` (and whether a comma after the
        last was read), if those lines hold whole objects only, parsed in one call
        (their keys made once), else None."""
        text = self.text
        end, limit = pos, pos + _BLOCK
        for _ in range(_LINES):
            end = text.find("\n", end + 1, limit)
            if end < 0:
                return None
        body = text[pos:end].rstrip(" \t\n\r")
        separated = body.endswith(",")
        framed = "[" + (body[:-1] if separated else body) + "]"
        try:
            rows, stop = self._scan(framed, 0)
        except (StopIteration, ValueError, RecursionError):
            return None
        if stop != len(framed) or not rows or not set(map(type, rows)) <= {dict}:
            return None
        return rows, end, separated

    # -- the tables ----------------------------------------------------------------
    def chunks(self, later: bool = False) -> Iterator[tuple[str, Columns]]:
        """Each table's columns, up to CHUNK rows at a time, each chunk checked before
        it is given; the rules across tables are checked after the last. A table whose
        rows refer to a table not yet read, and the licenses and their keys, come at
        the end. Raises BadValue naming the first problem.

        ``later``: the chunks come unchecked and are kept for ``check_kept``, so that a
        backend can check them while it builds its indexes (what cannot be read at all,
        a file that is not JSON or a row that is not an object, is still refused here)."""
        check = ExportCheck(self.source)
        self._kept: list[tuple[str, Columns, int]] | None = [] if later else None
        self._check = check
        held: dict[str, list[Any]] = {}  # the parts of each table kept to the end
        done: set[str] = set()
        try:
            for name, parts in self._file_tables():
                table = TABLES.get(name)
                if table is None:
                    continue  # (a table this kscli does not know: not read)
                if name in _HELD or not all(t in done for _, t in table.refs):
                    held[name] = list(parts)
                    continue
                yield from self._table(name, parts, check)
                done.add(name)
        except _Irregular:
            _whole(self.text, self.source)  # raises BadValue for a file that is not JSON
            raise BadValue(f"{self.source} could not be read in order",  # pragma: no cover
                           hint="export it again with `kscli export`") from None
        self._held_keys = {row.get("license_id") for part in held.get("secrets", ())
                           if isinstance(part, list) for row in part
                           if type(row) is dict and isinstance(row.get("license_id"), str)}
        for name in TABLES:
            if name in held:
                yield from self._table(name, iter(held.pop(name)), check)
        if self._kept is None:
            check.finish()

    def check_kept(self, read: bool = True) -> None:
        """Check the chunks ``chunks(later=True)`` gave, in their order (each let go
        once checked), then the rules across tables if the file was ``read`` whole."""
        kept, self._kept = self._kept or [], None
        kept.reverse()
        while kept:
            self._check.chunk(*kept.pop())
        if read:
            self._check.finish()

    def _table(self, name: str, parts: Iterator[Any], check: ExportCheck) -> Iterator[tuple[str, Columns]]:
        table = TABLES[name]
        where = f"{self.source}, table {name}"
        migrations = pending(self.schema)
        names = table.names
        columns: list[list[Any]] = [[] for _ in names]
        first = count = 0
        for part in parts:
            if migrations:  # an older export: its columns as a migration adds them
                given = {name: part}
                for migration in migrations:
                    apply_to_tables(migration, given)
            rows = _table_rows(table, part, where, count)
            if name == "licenses":
                self._mark_missing_secrets(rows)
            for kept, values in zip(columns, _table_columns(table, rows, where, count)):
                kept.extend(values)
            count += len(rows)
            if count - first >= CHUNK:
                yield name, self._checked(name, columns, first, check)
                columns, first = [[] for _ in names], count
        if count > first:
            yield name, self._checked(name, columns, first, check)

    def _checked(self, name: str, columns: Columns, first: int, check: ExportCheck) -> Columns:
        from kscli.secrets import MISSING

        if self._kept is None:
            check.chunk(name, columns, first)
        else:
            self._kept.append((name, columns, first))
        if name == "licenses":  # (for the import's warning)
            self.keys_missing += countOf(columns[TABLES[name].names.index("secret_store")], MISSING)
        return columns

    def _mark_missing_secrets(self, rows: list[dict[str, Any]]) -> None:
        """Keys the old ledger kept in its file, which the export left out: their records
        say so (``secret_store`` "missing"), so that `--reveal` and `doctor` tell the
        truth and say how to restore them."""
        from kscli.secrets import LEDGER, MISSING

        # (before the values are checked: a damaged id is refused by the checks, not here)
        held = self._held_keys
        for row in rows:
            if row.get("secret_store") == LEDGER and isinstance(row.get("id"), str) \
                    and row["id"] not in held:
                row["secret_store"] = MISSING

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """Every table whole, rows keyed by column, all checked."""
        tables: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
        for name, columns in self.chunks():
            names = TABLES[name].names
            tables[name].extend(dict(zip(names, row)) for row in zip(*columns))
        return tables


def parse_export(data: bytes | str, source: str) -> dict[str, list[dict[str, Any]]]:
    """Read and check a whole export; raise BadValue naming the first problem."""
    return Export(data, source).tables()


def _table_rows(table, rows: Any, where: str, first: int = 0) -> list[dict[str, Any]]:
    """A table's rows (from its ``first``): objects keyed by column.

    Rows that do not name every column (an export of an older schema) get the columns
    they lack, empty, and keys this kscli does not know are refused; a row that names
    as many columns as there are but not the same ones is refused by the checks.
    """
    if not isinstance(rows, list):
        raise _bad(where, "expected a list of rows")
    if not set(map(type, rows)) <= {dict}:
        i = next(i for i, row in enumerate(rows) if type(row) is not dict)
        raise _bad(f"{where}, row {first + i + 1}", "expected an object")
    names = table.names
    if set(map(len, rows)) <= {len(names)}:
        return rows
    _refuse_unknown(table, rows, where, first)
    return [{c: row.get(c) for c in names} for row in rows]


def _refuse_unknown(table, rows: list[dict[str, Any]], where: str, first: int = 0) -> None:
    known = set(table.names)
    for i, row in enumerate(rows):
        unknown = [str(k) for k in row if k not in known]
        if unknown:
            raise _bad(f"{where}, row {first + i + 1}", f"unknown columns: {', '.join(unknown)}")


def _table_columns(table, rows: list[dict[str, Any]], where: str, first: int = 0) -> Columns:
    """The rows of ``_table_rows`` as columns, in this kscli's column order."""
    if not rows:
        return [() for _ in table.names]
    try:  # every row names every column: take each at C speed
        return [tuple(map(itemgetter(name), rows)) for name in table.names]
    except KeyError:
        _refuse_unknown(table, rows, where, first)
        raise  # pragma: no cover - a row of known columns, as many as there are, has them all


def check_tables(tables: dict[str, list[dict[str, Any]]], source: str) -> None:
    """Every value of whole tables (rows keyed by column, every column named); raise
    BadValue naming the first row and column at fault."""
    check = ExportCheck(source)
    for name in TABLES:
        rows = tables.get(name)
        if rows:
            check.chunk(name, _table_columns(TABLES[name], rows, f"{source}, table {name}"), 0)
    check.finish()


class ExportCheck:
    """Every value of an export's tables, a chunk of rows at a time (``chunk``: a
    table's chunks in order, and the tables in the order of TABLES, a table after the
    ones it refers to), and the rules across chunks and tables (ids and counters,
    references, keys) as they come and at the end (``finish``). BadValue names the
    first row and column at fault in the chunk; every check runs over whole columns
    (sets, min and max, C loops) and looks for the row at fault only when one fails."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.keys: dict[str, set] = {}  # each table's keys so far
        self.highest: dict[str, str] = {}  # each id prefix's highest id so far
        self.counters: dict[str, Any] = {}
        self.ledger_keys: dict[str, Any] = {}  # license id -> hash, of keys kept in the file

    def chunk(self, name: str, columns: Columns, first: int) -> None:
        """The rows of table ``name`` from its ``first`` (0 for its first row), as columns."""
        table, source = TABLES[name], self.source
        by_column = dict(zip(table.names, columns))
        fields = dict(by_column)  # what the fields' checks read (a column of nulls: one)
        with_nulls: set[str] = set()  # the columns that hold a null
        for (column, kind), values in zip(table.columns, columns):
            if values[-1] is None and countOf(values, None) == len(values) and column != table.key:
                with_nulls.add(column)  # null in every row (most optional fields): no kind
                fields[column] = (None,)
                continue
            ok, nulls = judge(kind, values)
            if nulls:
                with_nulls.add(column)
            bad = None if ok else first_bad(kind, values)
            if bad is not None:
                raise _bad(f"{source}, {name} row {first + bad + 1}, {column}",
                           wrong(kind, values[bad]))
            if column == table.key:
                self._unique_keys(name, column, values, first)
        for column, target in table.refs:
            refs, known = by_column[column], self.keys.get(target, set())
            named = set(refs)
            named.discard(None)
            if not named <= known:
                i = next(i for i, ref in enumerate(refs) if ref is not None and ref not in known)
                raise _bad(f"{source}, {name} row {first + i + 1}",
                           f"{column} {refs[i]} is not in the file")
        if name == "counters":
            values = by_column["value"]
            if "value" in with_nulls:
                raise _bad(f"{source}, counters row {first + list(values).index(None) + 1}, value",
                           "a value is needed")

            def fail(column: str, ok: Callable[[Any], bool], what: str) -> None:
                i = next(i for i, value in enumerate(values) if not ok(value))
                raise _bad(f"{source}, counters row {first + i + 1}, {column}",
                           f"'{values[i]}' {what}")

            check_range("int", values, fail, "value")  # (what every backend holds)
            self.counters.update(zip(by_column["name"], values))
        elif name == "secrets":
            self._check_secrets(by_column, first)
        record = table.description
        if record is None:
            return
        check_fields(record, fields, with_nulls,
                     lambda i, column: f"{source}, {name} row {first + i + 1}, {column}", _bad)
        if record.prefix is not None:
            self._check_ids(record.prefix, name, by_column["id"], first)
        if name == "subs":
            _check_one_time_sales(by_column, source, first)
        elif name == "licenses":
            from kscli.secrets import LEDGER

            self.ledger_keys.update(
                (lic, key_hash) for lic, key_hash, where in
                zip(by_column["id"], by_column["key_hash"], by_column["secret_store"])
                if where == LEDGER)

    def _unique_keys(self, name: str, column: str, values: Sequence[Any], first: int) -> None:
        keys = self.keys.setdefault(name, set())
        new = set(values)
        if all(values) and len(new) == len(values) and keys.isdisjoint(new):
            keys |= new
            return
        seen = set(keys)
        for i, v in enumerate(values):
            if not v or v in seen:
                raise _bad(f"{self.source}, {name} row {first + i + 1}", f"missing or repeated {column}")
            seen.add(v)

    def _check_ids(self, prefix: str, name: str, present: Sequence[str], first: int) -> None:
        """Ids the commands can name (the highest kept, for the counters' check)."""
        id_form = ids.form(prefix)
        if not all(map(id_form.fullmatch, present)):
            for i, value in enumerate(present):
                if not id_form.fullmatch(value):
                    raise _bad(f"{self.source}, {name} row {first + i + 1}, id",
                               f"'{str(value)[:40]}' is not an id like {prefix}{ids.FIRST}")
        if present:
            self.highest[prefix] = ids.last([*present, self.highest.get(prefix, present[0])])

    def _check_secrets(self, columns: dict[str, Sequence[Any]], first: int) -> None:
        """Each key of an export made with --with-keys belongs to a key of the file kept in
        the ledger, and is that key (its hash matches); no key is ever named in an error."""
        from kscli.domain import keys

        hashes = self.ledger_keys
        for i, (lic, key) in enumerate(zip(columns["license_id"], columns["key"])):
            where = f"{self.source}, secrets row {first + i + 1}"
            if lic not in hashes:
                raise _bad(where, f"license_id {shown(lic)} is not a key kept in the ledger in "
                                  "the file")
            try:
                symbols = keys.validate(key) if isinstance(key, str) else None
            except keys.InvalidKey:
                symbols = None
            if symbols is None or keys.key_hash(symbols) != hashes[lic]:
                raise _bad(where, f"the key of {lic} is not the key its record describes")

    def finish(self) -> None:
        """The rules across the whole file: a counter past every id it handed out."""
        for prefix, highest in self.highest.items():
            number = int(highest[len(prefix):])  # (every id is of the form now)
            last = self.counters.get(prefix, ids.FIRST - 1)
            if not isinstance(last, int) or number > last:
                raise _bad(f"{self.source}, counters", f"the counter {prefix} ({last}) is below "
                           f"the highest id {prefix}{number}: new ids would repeat old ones")


def _check_one_time_sales(columns: dict[str, Sequence[Any]], source: str, first: int) -> None:
    """A one-time sale (plan once, or software) has no period that could end or renew."""
    from kscli.domain.model import plan_months

    once = {plan for plan in set(columns["plan"]) if plan_months(plan) is None}
    if once or "software" in columns["kind"]:
        for i, (plan, kind, end) in enumerate(zip(columns["plan"], columns["kind"],
                                                  columns["period_end"])):
            if end is not None and (plan in once or kind == "software"):
                raise _bad(f"{source}, subs row {first + i + 1}, period_end",
                           f"a one-time sale ({kind}, plan {plan}) has no period end")
