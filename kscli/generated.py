"""The only generated code in kscli: four functions built with ``exec`` from our own
descriptions, because they run once per row of a listing of 200,000 and the plain
Python of each costs what the listing cannot spare (`sub list --format jsonl` misses
its 10 us a row target even with them: bench/RESULTS.md).

What each buys, measured on 200,000 stored subscriptions in one process, the plain
function (a loop over the fields, as written in the tests) against the generated
one in the same run, on the 2-core machine of bench/RESULTS.md under load:

- ``record_reader``, a stored row to its record: 5.6 us a row plain, 3.8 generated;
- ``compact_reader``, a compact row of SQLite's listings to (record, row): the plain
  rule (expand, then read) costs 106.6k instructions a row of the whole `sub list
  --format jsonl` against 91.8k with it (valgrind callgrind, 20,000 subscriptions);
- ``stored_lines``, a (state, stored row) pair to its JSON line: 15.0 us plain, 8.2
  generated;
- ``FlatLines``, a flat dict to its JSON line: twice as fast as ``json``'s encoder
  for the listings that build dicts.

Every name put into the generated source is ours (field names of the records, keys
escaped as JSON); no text from a ledger or a user is ever compiled. The tests check
each function against the plain rule it replaces (tests/test_sub_cli.py,
tests/test_store_contract.py).
"""

from __future__ import annotations

import json
from typing import Any, Callable, Sequence


def _conversions(kinds: Sequence[str], convert: dict[str, Callable[[Any], Any] | None],
                 nulls: Sequence[str], env: dict[str, Any]) -> list[str]:
    """Python code reading each stored value ``c<i>`` as its record's value: the common
    kinds inline rather than through a function call each, the others through
    ``convert`` (put into ``env``; applied to a null too for the kinds in ``nulls``)."""
    from datetime import date, datetime  # (only where records are read: off the start-up path)
    from decimal import Decimal

    env.update({"NEW": tuple.__new__, "D": Decimal, "FI": datetime.fromisoformat,
                "FD": date.fromisoformat})
    ins = []
    for i, kind in enumerate(kinds):
        inline = {"text": f"c{i}", "int": f"c{i}", "bool": f"(True if c{i} else False)",
                  "dec": f"(None if c{i} is None else D(c{i}))",
                  "dt": f"(None if c{i} is None else FI(c{i}))",
                  "date": f"(None if c{i} is None else FD(c{i}))"}.get(kind)
        if inline is None:
            env[f"i{i}"] = convert[kind]
            inline = f"i{i}(c{i})" if kind in nulls else f"(None if c{i} is None else i{i}(c{i}))"
        ins.append(inline)
    return ins


def record_reader(record_type: type, kinds: Sequence[str],
                  convert: dict[str, Callable[[Any], Any] | None],
                  nulls: Sequence[str]) -> Callable[[tuple], Any]:
    """The function from a stored row to its record (kscli.rows.Codec.from_row), the
    record made the way NamedTuple's own _make makes it."""
    env: dict[str, Any] = {"R": record_type}
    ins = _conversions(kinds, convert, nulls, env)
    exec(f"def from_row(r):\n    {''.join(f'c{i}, ' for i in range(len(ins)))}= r\n"  # noqa: S102
         f"    return NEW(R, ({', '.join(ins)},))\n", env)
    return env["from_row"]


def compact_reader(record_type: type, kinds: Sequence[str],
                   convert: dict[str, Callable[[Any], Any] | None], nulls: Sequence[str],
                   sparse: dict[int, tuple[Any, Any]],
                   otherwise: Callable[[tuple], tuple]) -> Callable[[tuple], tuple]:
    """The function from a compact row (kscli.rows.Codec.from_compact: the dense values,
    then None or the sparse ones) to (record, full row). ``sparse`` gives each sparse
    position's usual (record value, stored value): None, False, {}, 0 or text; a row
    holding anything else in a sparse field goes to ``otherwise``."""
    env: dict[str, Any] = {"R": record_type, "OTHERWISE": otherwise}
    ins = _conversions(kinds, convert, nulls, env)
    for i, (value, stored) in sparse.items():
        assert value in (None, False, {}) or isinstance(value, str), value
        ins[i] = repr(value)  # (a new {} each time: records never share one)
    names = [f"c{i}" for i in range(len(kinds)) if i not in sparse]
    row = [repr(sparse[i][1]) if i in sparse else f"c{i}" for i in range(len(kinds))]
    exec(f"def from_compact(f):\n    {''.join(name + ', ' for name in names)}x = f\n"  # noqa: S102
         f"    if x is not None:\n        return OTHERWISE(f)\n"
         f"    return NEW(R, ({', '.join(ins)},)), ({', '.join(row)},)\n", env)
    return env["from_compact"]


# One encoder, built once: json.dumps with options builds a new one on every call.
_ONE_LINE = json.JSONEncoder(ensure_ascii=False).encode
_ESCAPE = json.encoder.encode_basestring  # the C escaper, as ensure_ascii=False uses
_ENCODERS = {"E": _ESCAPE, "J": _ONE_LINE}


def _value_code(name: str) -> str:
    """Python code for the JSON text of the value in variable ``name``, for the line
    encoders below: text through json's C escaper, null/true/false as such, anything
    else (numbers, nested values) through json's encoder."""
    return (f"('null' if {name} is None else E({name}) if {name}.__class__ is str "
            f"else 'true' if {name} is True else 'false' if {name} is False "
            f"else '[]' if {name} == [] else J({name}))")


class FlatLines:
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
    ("derived", d) is d.value(state, row) (a views.Derived), any JSON value. ``width`` is the row's length.
    The same text as FlatLines gives for the object, without building it: the
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
        else:  # a Derived: its rule called only while its ``unless`` field holds something
            scope[f"d{n}"] = source.rule
            value = f"'null' if v{n} is None else E(v{n})" if source.text else _value_code(f"v{n}")
            call = [f"v{n} = d{n}(s, r)", f"v{n} = {value}"]
            if source.position is None:
                lines.extend(call)
            else:
                lines.append(f"if s[0][{source.position}]:")
                lines.extend("    " + line for line in call)
                lines.append(f"else: v{n} = {_ONE_LINE(source.empty())!r}")
    template = ("".join(layout) + "}}" if fields else "{{}}") + literal(end)
    body = "".join(f"    {line}\n" for line in lines)
    # an f-string: the fastest way CPython has to put text pieces together
    exec(f"def line(pair):\n    s, r = pair\n{body}    return f{template!r}\n", scope)  # noqa: S102
    return scope["line"]
