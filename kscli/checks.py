"""The one rule for each value kscli stores, by kind and by each field's description.

Every value a command writes and every value an import brings is checked here, the same
way: whole columns at a time (an import of 200,000 subscriptions checks millions of
cells, in C loops where it can), a single value being a column of one. ``check_fields``
adds what a record's description (kscli.domain.model) says of each field: a value
needed, its choices, its rule, and the range every backend can hold (years 1900 to 2999,
32-bit whole numbers, text without NUL that UTF-8 can write).
"""

from __future__ import annotations

import json
import re
from collections import deque
from datetime import date, datetime
from typing import Any, Callable, Collection, Sequence

from kscli.domain.calendar import MAX_YEAR, MIN_YEAR
from kscli.domain.records import Record

LONGEST_TEXT = 100_000  # characters in one value
_LOWEST, _BEYOND = f"{MIN_YEAR:04d}", f"{MAX_YEAR + 1:04d}"  # as stored times sort


# One rule for each kind of stored value (``judge``), applied to whole columns at once:
# an import of 200,000 subscriptions checks millions of cells. Text columns are checked
# in C: the values joined by NUL (which no valid time or amount holds), every digit
# turned into 0, then compared with the one shape a value may have; the calendar is
# checked by datetime itself. A single value is a column of one.
_ZEROS = str.maketrans("123456789", "000000000")
_TIME_SHAPE = "0000-00-00T00:00:00Z"
_AMOUNT_SHAPE = re.compile(r"-?0{1,12}(?:\.0{1,4})?")


def _json_object(value: str) -> bool:
    return value == "{}" or isinstance(json.loads(value), dict)


def _activations(value: str) -> bool:
    parsed = json.loads(value)
    if not isinstance(parsed, list):
        return False
    for item in parsed:
        if not isinstance(item, list) or len(item) != 2 or not all(isinstance(x, str) for x in item):
            return False
        datetime.fromisoformat(item[1])
    return True


def _calendar_day(value: str) -> bool:
    date.fromisoformat(value)
    return True


_ONE_BY_ONE: dict[str, Callable[[str], bool]] = {
    "json": _json_object, "acts": _activations, "date": _calendar_day}
# the kinds whose shape does not bound a value's length (a calendar day of more than
# ten characters is no day)
_FREE_LENGTH = ("text", "json", "acts")


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: undecodable bytes of an argument
        return False
    return True


def column_ok(kind: str, values: Sequence[Any]) -> bool:
    """Whether every value of a column that is not null is of its kind."""
    return judge(kind, values)[0]


def judge(kind: str, values: Sequence[Any]) -> tuple[bool, bool]:
    """Whether every value of a column that is not null is of its kind, and whether
    the column holds a null (found on the way)."""
    if kind in ("int", "bool"):
        types = set(map(type, values))
        nulls = type(None) in types
        types.discard(type(None))
        return types <= {int} and (kind == "int" or set(values) <= {0, 1, None}), nulls
    try:
        return _text_ok(kind, values, "\x00".join(values)), False
    except TypeError:  # a null, or a value that is not text
        present = [v for v in values if v is not None]
        if len(present) == len(values):
            return False, False
        try:
            return _text_ok(kind, present, "\x00".join(present)), True
        except TypeError:
            return False, True


def _text_ok(kind: str, present: Sequence[str], joined: str) -> bool:
    """Whether text values (``joined`` by NUL) are all of their kind."""
    if not present:
        return True
    if kind in _FREE_LENGTH and len(joined) > LONGEST_TEXT \
            and max(map(len, present)) > LONGEST_TEXT:
        return False  # (a time, a date or an amount is held to its shape below)
    if kind == "text":  # without NUL (no backend keeps it), and writable as UTF-8
        return joined.count("\x00") == len(present) - 1 and _utf8(joined)
    if kind in _ONE_BY_ONE:
        try:  # each distinct value once (most JSON values of a ledger are "{}")
            return all(map(_ONE_BY_ONE[kind], set(present)))
        except (ValueError, TypeError):
            return False
    if joined.count("\x00") != len(present) - 1:
        return False  # a value holding a NUL
    shapes = joined.translate(_ZEROS)
    if kind == "dec":
        return all(map(_AMOUNT_SHAPE.fullmatch, set(shapes.split("\x00"))))
    if shapes != "\x00".join([_TIME_SHAPE] * len(present)) or "T24" in joined:
        return False  # (some Pythons read hour 24 as the next day's midnight)
    try:  # months, days (29 February), hours, minutes and seconds that exist
        deque(map(datetime.fromisoformat, present), 0)
    except ValueError:
        return False
    return True


def first_bad(kind: str, values: Sequence[Any]) -> int | None:
    """The index of the first value of a column that is not of its kind, or None: the
    column is judged whole first, and walked value by value only when it fails."""
    if column_ok(kind, values):
        return None
    return next((i for i, v in enumerate(values)
                 if v is not None and not column_ok(kind, [v])), None)


def wrong(kind: str, value: Any) -> str:
    """What is wrong with a value ``judge`` refused, in words."""
    if kind in ("int", "bool"):
        return f"expected {'0 or 1' if kind == 'bool' else 'a whole number'}"
    if not isinstance(value, str) or len(value) > LONGEST_TEXT:
        return "expected text"
    if "\x00" in value:
        return "holds a NUL byte, which no backend keeps"
    if not _utf8(value):
        return "is not UTF-8 text"
    return f"'{value[:40]}' is not a valid {kind} value"


def check_fields(record: Record, columns: dict[str, Sequence[Any]], with_nulls: Collection[str],
                 where: Callable[[int, str], str], bad: Callable[[str, str], Exception]) -> None:
    """What a record's description says of each of its columns (values of their kind
    already checked by ``judge``; ``with_nulls``: the columns holding a null). The first
    value at fault raises ``bad(where(i, column), what is wrong)``."""
    for f in record.fields:
        column = f.stored_as
        present = columns.get(column)
        if present is None:
            continue
        values = present

        def fail(column: str, ok: Callable[[Any], bool], what: str, values=values) -> None:
            for i, value in enumerate(values):
                if value is not None and not ok(value):
                    raise bad(where(i, column), f"'{str(value)[:40]}' {what}")

        if column in with_nulls:
            if f.required:
                raise bad(where(list(present).index(None), column), "a value is needed")
            present = [v for v in present if v is not None]
        if f.choices is not None and not all(v in f.choices for v in set(present)):
            allowed = ", ".join(f.choices) if len(f.choices) < 10 else "an ISO 4217 code"
            fail(column, lambda v, c=f.choices: v in c, f"is not one of {allowed}")
        if f.check is not None and not all(map(f.check, set(present))):
            fail(column, f.check, f.what)
        check_range(f.kind, present, fail, column)


def check_range(kind: str, present: Sequence[Any], fail: Callable, column: str) -> None:
    """Times in the years kscli reckons in; whole numbers every backend holds."""
    if not present:
        return
    if kind in ("dt", "date"):
        lowest, beyond = _LOWEST, _BEYOND
        if min(present) < lowest or max(present) >= beyond:
            fail(column, lambda v: lowest <= v < beyond,
                 f"is outside the years {MIN_YEAR} to {MAX_YEAR}")
    elif kind == "int":  # what every backend's INTEGER holds (PostgreSQL: 32 bits)
        if min(present) < -2**31 or max(present) >= 2**31:
            fail(column, lambda v: -2**31 <= v < 2**31, "is too large a number")


def check_rows(record: Record, rows: Sequence[tuple], where: Callable[[int, str], str],
               bad: Callable[[str, str], Exception]) -> None:
    """Rows of a record kind (tuples in its column order), as a command is about to
    write them: every value of its kind and as its description allows."""
    if not rows:
        return
    columns = dict(zip((f.stored_as for f in record.fields), zip(*rows)))
    with_nulls = set()
    for f in record.fields:
        values = columns[f.stored_as]
        ok, nulls = judge(f.kind, values)
        if nulls:
            with_nulls.add(f.stored_as)
        if not ok:
            i = first_bad(f.kind, values)
            if i is not None:
                raise bad(where(i, f.stored_as), wrong(f.kind, values[i]))
    check_fields(record, columns, with_nulls, where, bad)
