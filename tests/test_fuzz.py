"""Bad input, generated: every parser raises only its documented error, and a command
given bad input writes nothing.

Parsers: money and currencies, dates and durations, license keys, CSV bank statements,
policy files and the import JSON. Each is fed random text and also near-valid input (a
valid value with one part broken), where the bugs live.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from kscli.domain import keys
from kscli.domain.calendar import (MAX_YEAR, MIN_YEAR, CalendarError, Duration, parse_duration,
                                   parse_when)
from kscli.domain.errors import BadValue
from kscli.domain.money import MAX_AMOUNT, MINOR_DIGITS, MoneyError, parse_currency, parse_price
from tests.conftest import Kscli
from tests.test_stress import rows

UTC = timezone.utc
CURRENCIES = sorted(MINOR_DIGITS)
PHASES = [phase for phase in Phase if phase.name != "explain"]  # explaining costs seconds
FAST = settings(max_examples=100, deadline=None, phases=PHASES)
CLI = settings(max_examples=30, deadline=None, phases=PHASES,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def no_ledger_written(folder: str) -> bool:
    return not os.path.exists(folder) or os.listdir(folder) == []


# -- money -----------------------------------------------------------------------------

numberish = st.from_regex(r"\A\s?[-+]?\d{0,13}([.,]\d{0,6})?([eE][-+]?\d{1,10})?\s?\Z")
special_numbers = st.sampled_from(["NaN", "-nan", "Infinity", "-inf", "sNaN", "1e999999999",
                                   "1E-999999999", "0e5", "-0", "0.000", "999999999.99",
                                   "1000000000", "١٢٣", "１２", "1_000", "0x10", ""])


@FAST
@given(st.one_of(st.text(max_size=30), numberish, special_numbers), st.sampled_from(CURRENCIES))
def test_a_price_is_a_decimal_in_the_currencys_units_or_a_money_error(text, currency):
    try:
        amount = parse_price(text, currency)
    except MoneyError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(amount, Decimal) and amount.is_finite()
    assert 0 <= amount < MAX_AMOUNT
    assert amount.as_tuple().exponent == -MINOR_DIGITS[currency]


@FAST
@given(st.one_of(st.text(max_size=8), st.sampled_from(CURRENCIES).map(str.lower),
                 st.from_regex(r"\A[A-Za-z]{2,4}\Z")))
def test_a_currency_is_an_iso_code_or_a_money_error(text):
    try:
        code = parse_currency(text)
    except MoneyError:
        return
    assert code in MINOR_DIGITS and code == text.strip().upper()


# -- dates and durations -----------------------------------------------------------------

offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
    lambda m: timezone(timedelta(minutes=m)))
iso_datetimes = st.builds(
    lambda d, tz, sep, naive: (d.replace(tzinfo=None) if naive else d.replace(tzinfo=tz))
    .isoformat(sep=sep),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    offsets, st.sampled_from("T "), st.booleans())
iso_dates = st.dates().map(date.isoformat)
durations = st.from_regex(r"\A\s?\d{1,5}\s?[dwmyDWMYhs]\s?\Z")


@FAST
@given(st.one_of(st.text(max_size=45), iso_datetimes, iso_dates))
def test_a_date_is_an_aware_utc_time_in_range_or_a_calendar_error(text):
    try:
        when = parse_when(text)
    except CalendarError as exc:
        assert "\n" not in str(exc)
        return
    assert when.tzinfo is not None and when.utcoffset() == timedelta(0)
    assert MIN_YEAR <= when.year <= MAX_YEAR


@FAST
@given(st.one_of(st.text(max_size=10), durations))
def test_a_duration_is_read_or_a_calendar_error(text):
    try:
        duration = parse_duration(text)
    except CalendarError:
        return
    assert isinstance(duration, Duration) and duration.count >= 0


in_range = st.builds(
    lambda d, tz: d.replace(tzinfo=tz).isoformat(),
    st.datetimes(min_value=datetime(MIN_YEAR, 1, 2), max_value=datetime(MAX_YEAR, 12, 30)),
    offsets)
longest = st.one_of(st.builds("{}d".format, st.integers(0, 9999)),
                    st.builds("{}w".format, st.integers(5000, 5300)),
                    st.builds("{}m".format, st.integers(1100, 1300)),
                    st.builds("{}y".format, st.integers(90, 110)))


@FAST
@given(st.one_of(in_range, st.sampled_from([f"{MAX_YEAR}-12-31T23:59:59Z", f"{MIN_YEAR}-01-01",
                                            f"{MAX_YEAR}-12-31T23:59:59-12:00"])),
       st.one_of(longest, durations))
def test_any_accepted_date_plus_any_accepted_duration_stays_in_the_calendar(when, length):
    try:
        start, duration = parse_when(when), parse_duration(length)
    except CalendarError:
        return
    later = duration.add_to(start)  # never an OverflowError or "year is out of range"
    assert later >= start


# -- license keys ----------------------------------------------------------------------

def _one_change(key: str, data) -> str:
    symbols = list(key)
    at = data.draw(st.integers(0, len(symbols) - 1))
    how = data.draw(st.sampled_from(["replace", "delete", "insert", "swap"]))
    char = data.draw(st.characters(codec="utf-8"))
    if how == "replace":
        symbols[at] = char
    elif how == "delete":
        del symbols[at]
    elif how == "insert":
        symbols.insert(at, char)
    elif at + 1 < len(symbols):
        symbols[at], symbols[at + 1] = symbols[at + 1], symbols[at]
    return "".join(symbols)


@FAST
@given(st.data())
def test_a_key_is_valid_or_an_invalid_key_error_that_never_repeats_it(data):
    key = keys.format_key(keys.generate())
    text = data.draw(st.one_of(st.just(key), st.text(max_size=40),
                               st.builds(lambda: _one_change(key, data))))
    try:
        symbols = keys.validate(text)
    except keys.InvalidKey as exc:
        assert "\n" not in exc.message
        said = (exc.message + str(exc) + repr(exc)).upper().replace("-", "")
        assert not [group for group in key.split("-") if group in said]
        return
    assert len(symbols) == 25 and keys.validate(keys.format_key(symbols)) == symbols


# -- bank statements -------------------------------------------------------------------

cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["2026-11-02", "02.11.2026", "11/02/2026", "2026-02-30", "", " ", "-",
                     "-9.99", "9,99", "1.234,56", "1,234.56", "(12.00)", "12.00-", "EUR",
                     "usd", "ACME CLOUD", '"quoted, cell"', "=HYPERLINK()", "1e9", "NaN"]),
    numberish)


@st.composite
def statements(draw):
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = draw(st.lists(st.sampled_from(["date", "description", "amount", "currency",
                                            "Date", "memo", ""]), min_size=1, max_size=5))
    lines = [delimiter.join(header)]
    for _ in range(draw(st.integers(0, 6))):
        lines.append(delimiter.join(draw(cells) for _ in range(draw(st.integers(0, 6)))))
    return draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)


@FAST
@given(st.binary(max_size=200))
def test_statement_bytes_decode_or_raise_a_statement_error(data):
    from kscli.domain.statement import StatementError, decode_statement

    try:
        text = decode_statement(data)
    except StatementError as exc:
        assert isinstance(exc, BadValue) and "\n" not in str(exc)
        return
    assert isinstance(text, str)


@settings(max_examples=100, deadline=None, phases=PHASES)
@given(st.one_of(st.text(max_size=200), statements()),
       st.builds(dict, date_format=st.sampled_from([None, "%d.%m.%Y", "%m/%d/%Y", "%Q", "%",
                                                   "%Y-%m-%d %H", "", "%s"]),
                 delimiter=st.sampled_from([None, ",", ";", "tab", "|", "", "ab", '"', "x"]),
                 currency=st.sampled_from(["currency", None, "nope"])),
       st.sampled_from([None, "EUR", "usd", "XXX", ""]))
def test_a_statement_parses_or_raises_a_statement_error(text, options, default_currency):
    from kscli.domain.statement import Columns, StatementError, parse_statement

    try:
        lines = parse_statement(text, Columns(**options), default_currency)
    except StatementError as exc:
        assert isinstance(exc, BadValue) and "\n" not in str(exc)
        return
    for line in lines:
        assert isinstance(line.amount, Decimal) and line.amount > 0
        assert line.currency in MINOR_DIGITS


# -- policy files ----------------------------------------------------------------------

def _default_policy() -> dict:
    from kscli.policy_files import default_policy_text

    return tomllib.loads(default_policy_text())


toml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
              st.dates(), st.sampled_from(["annual", "monthly", "12m", "1m", "0m", "99m",
                                           "EU", "data-loss", "2026-02-30"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6)


def _leaves(node, path=()):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _leaves(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, path + (i,))


@FAST
@given(st.text(max_size=300))
def test_policy_text_parses_or_raises_a_policy_error(text):
    from kscli.domain.policy import PolicyError
    from kscli.domain.policy_lint import lint_policy, parse_policy

    problems = lint_policy(text)  # a linter reports; it never raises
    try:
        parse_policy(text, source="fuzz.toml")
    except PolicyError as exc:
        assert "\n" not in exc.message and any(p.severity == "error" for p in problems)
        return
    assert not any(p.severity == "error" for p in problems)


@settings(max_examples=100, deadline=None, phases=PHASES)
@given(st.data())
def test_a_policy_with_one_value_changed_parses_or_raises_a_policy_error(data):
    from kscli.domain.policy import PolicyError
    from kscli.domain.policy_lint import lint_policy, parse_policy

    policy = _default_policy()
    tables = list(_leaves(policy))
    path, table = data.draw(st.sampled_from(tables))
    action = data.draw(st.sampled_from(["set", "delete", "add"]))
    if action == "delete" and table:
        del table[data.draw(st.sampled_from(sorted(table, key=str)))]
    elif action == "add" or not table:
        table[data.draw(st.text(max_size=10))] = data.draw(toml_values)
    else:
        table[data.draw(st.sampled_from(sorted(table, key=str)))] = data.draw(toml_values)
    problems = lint_policy(policy)
    assert all(p.severity in ("error", "warning") for p in problems)
    try:
        parse_policy(policy, source="fuzz.toml")
    except PolicyError as exc:
        assert "\n" not in exc.message
        return
    assert not any(p.severity == "error" for p in problems)


# -- the import JSON -------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_export(tmp_path_factory):
    """The export of a sample ledger: every kind of record, as `kscli export` writes it."""
    store = str(tmp_path_factory.mktemp("sample") / "sample.db")
    kscli = Kscli(store)
    assert kscli("init", "--sample").exit_code == 0
    export = kscli("export")
    assert export.exit_code == 0
    return export.stdout


def _cells(tables: dict) -> list[tuple]:
    """Every value of an export as (table, row, index or key, column)."""
    out = []
    for name, table in tables.items():
        if isinstance(table, dict):
            for row in table.get("rows", []):
                out += [(name, row, j, column) for j, column in enumerate(table["columns"])]
        else:
            for row in table:
                out += [(name, row, key, key) for key in row]
    return out


json_values = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
    st.sampled_from([0, -1, 2**31 - 1, 2**31, 2**63, -2**63 - 1, 10**20]),
    st.text(max_size=10), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from(["", "x", "once", "0m", "100m", "12m", "weird", "XXX", "usd", "-1.00",
                     "1e5", "NaN", "2026-13-01T00:00:00Z", "0001-01-01T00:00:00Z",
                     "9999-12-31T23:59:59Z", "2026-01-01T00:00:00+01:00", "2026-01-01",
                     "[]", '[["a","b"]]', '[["a","2026-01-01T00:00:00Z"]]', "{}", "[1]",
                     "S-1001", "S-9999", "L-1001", "active", "cancelled", "revoked", "ledger",
                     "keyring", "AB", "ABCD", "abcd", "\x1b[2J", "a" * 300]))


def _read_everything(kscli: Kscli, tables: dict) -> None:
    """Every listing and view of an imported ledger works (exit 0, or 3/4 for a refusal)."""
    for argv in (("sub", "list"), ("--format", "json", "sub", "list"),
                 ("--format", "csv", "sub", "list"), ("license", "list"),
                 ("--format", "json", "license", "list"), ("renew", "due", "--within", "100y"),
                 ("sweep", "--dry-run"), ("incident", "list"), ("charges", "list"),
                 ("export",)):
        result = kscli(*argv)
        assert result.exit_code == 0, (argv, result.stderr)
    for row in rows(tables, "subs"):
        for argv in (("sub", "show", row["id"]), ("sub", "history", row["id"]),
                     ("refund", "check", row["id"])):
            result = kscli(*argv)
            assert result.exit_code in (0, 4), (argv, result.stderr)
    for row in rows(tables, "licenses"):
        assert kscli("license", "show", row["id"]).exit_code == 0


@CLI
@given(st.data())
def test_an_export_with_one_value_changed_is_refused_or_works_everywhere(sample_export, data):
    from kscli.services.export_file import parse_export

    doc = json.loads(sample_export)
    cell = data.draw(st.sampled_from(_cells(doc["tables"])))
    name, row, at, column = cell
    if data.draw(st.booleans()) or not isinstance(row, dict):
        row[at] = data.draw(json_values)
    else:
        del row[at]
    raw = json.dumps(doc).encode()
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "export.json")
        with open(path, "wb") as handle:
            handle.write(raw)
        folder = os.path.join(work, "ledger")
        kscli = Kscli(os.path.join(folder, "kscli.db"))
        try:
            parse_export(raw, "export.json")
        except BadValue:
            result = kscli("import", path)
            assert result.exit_code == 2 and result.stderr.startswith(f"Error: {path}")
            assert result.stderr.count("\n") == 1
            assert no_ledger_written(folder)
            return
        result = kscli("import", path)
        assert result.exit_code == 0, (name, column, row[at] if at in row or isinstance(row, list)
                                       else None, result.stderr)
        _read_everything(kscli, doc["tables"])


@settings(max_examples=100, deadline=None, phases=PHASES)
@given(st.one_of(st.binary(max_size=120),
                 st.recursive(json_values, lambda inner: st.one_of(
                     st.lists(inner, max_size=3),
                     st.dictionaries(st.sampled_from(["format", "schema", "version", "tables",
                                                      "subs", "rows", "columns", "id"]),
                                     inner, max_size=4)), max_leaves=8)
                 .map(lambda v: json.dumps(v).encode())))
def test_import_json_parses_or_raises_bad_value(raw):
    from kscli.services.export_file import parse_export

    try:
        parse_export(raw, "fuzz.json")
    except BadValue as exc:
        assert "\n" not in exc.message
        return


@CLI
@given(st.binary(max_size=300))
def test_kscli_import_of_garbage_exits_2_and_creates_no_ledger(tmp_path, raw):
    with tempfile.TemporaryDirectory(dir=tmp_path) as work:
        path = os.path.join(work, "in.json")
        with open(path, "wb") as handle:
            handle.write(raw)
        folder = os.path.join(work, "ledger")
        result = Kscli(os.path.join(folder, "kscli.json"))("import", path)
        assert result.exit_code == 2 and result.stderr.startswith("Error: ")
        assert no_ledger_written(folder)


# -- commands given bad values write nothing -------------------------------------------

@CLI
@given(price=st.one_of(numberish, special_numbers, st.text(max_size=12)),
       currency=st.one_of(st.sampled_from(["USD", "JPY", "KWD"]), st.text(max_size=5)),
       started=st.one_of(st.none(), iso_datetimes, iso_dates, st.text(max_size=12)),
       commitment=st.one_of(st.none(), durations, st.text(max_size=6)),
       vendor=st.text(min_size=0, max_size=210))
def test_sub_add_with_bad_values_exits_2_and_writes_nothing(tmp_path, price, currency,
                                                             started, commitment, vendor):
    with tempfile.TemporaryDirectory(dir=tmp_path) as work:
        folder = os.path.join(work, "ledger")
        argv = ["sub", "add", "--vendor", vendor, "--product", "P", "--plan", "monthly",
                "--price", price, "--currency", currency]
        if started is not None:
            argv += ["--started", started]
        if commitment is not None:
            argv += ["--commitment", commitment]
        result = Kscli(os.path.join(folder, "kscli.db"))(*argv, fmt="json")
        assert result.exit_code in (0, 2), result.stderr
        if result.exit_code == 2:
            assert "Error: " in result.stderr and "Traceback" not in result.stderr
            assert no_ledger_written(folder)
        else:
            assert result.json()["reference"].startswith("KS-")


@CLI
@given(csv=st.one_of(statements(), st.text(max_size=200)))
def test_charges_import_of_a_bad_statement_leaves_the_ledger_unchanged(tmp_path, csv):
    with tempfile.TemporaryDirectory(dir=tmp_path) as work:
        store = os.path.join(work, "kscli.json")
        kscli = Kscli(store)
        kscli.json("sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan", "monthly",
                   "--price", "9.99", "--currency", "USD")
        with open(store, "rb") as handle:
            before = handle.read()
        path = os.path.join(work, "statement.csv")
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(csv)
        result = kscli("charges", "import", path)
        assert result.exit_code in (0, 2), result.stderr
        if result.exit_code == 2:
            assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
            with open(store, "rb") as handle:
                assert handle.read() == before


@CLI
@given(key=st.one_of(st.text(max_size=40), st.from_regex(r"\A[0-9A-Za-z-]{20,32}\Z")))
def test_license_add_of_a_bad_key_refuses_without_writing_or_echoing_it(tmp_path, key):
    assume(not key.startswith("-"))
    with tempfile.TemporaryDirectory(dir=tmp_path) as work:
        folder = os.path.join(work, "ledger")
        result = Kscli(os.path.join(folder, "kscli.db"))("license", "add", key, "--product", "P")
        assert result.exit_code in (0, 2, 4), result.stderr
        if result.exit_code != 0:
            assert no_ledger_written(folder)
            canonical = "".join(c for c in key if c.isalnum())
            if len(canonical) >= 8:
                assert canonical not in result.stderr.replace("-", "")
