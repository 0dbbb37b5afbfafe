"""`kscli sub`, `renew`, `sweep`, `init`, `export` and `import` through the CLI, on both backends."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from freezegun import freeze_time
from hypothesis import given, settings
from hypothesis import strategies as st

from kscli.domain.model import Subscription

from tests.conftest import Kscli, ledger_created, ledger_path
from tests.helpers import REF

EVERY_BACKEND = True  # SQLite, JSON and PostgreSQL (conftest.pytest_generate_tests)



def events_of(kscli, sub_id):
    return kscli.json("sub", "history", sub_id)


def test_history_shows_the_events_of_the_subscriptions_incidents_and_keys(kscli, add_sub):
    with freeze_time("2026-11-22T10:00:00Z"):
        sub = add_sub(kind="support")
        other = add_sub(vendor="Other")
    with freeze_time("2026-11-22T10:01:00Z"):
        key = kscli.json("license", "issue", "--product", "Cloud", "--sub", sub["id"])
        kscli.json("license", "issue", "--product", "Elsewhere", "--sub", other["id"])
    with freeze_time("2026-11-22T10:02:00Z"):
        incident = kscli.json("incident", "open", sub["id"], "--summary", "crashes")
    history = events_of(kscli, sub["id"])
    assert [(e["subject"], e["action"]) for e in history] == [
        (sub["id"], "created"), (key[0]["id"], "issued"),
        (incident["id"], "incident-opened")]
    table = kscli("sub", "history", sub["id"]).stdout
    assert "Subject" in table.splitlines()[0] and incident["id"] in table
    assert other["id"] not in table


@freeze_time("2026-11-22T10:00:00Z")
def test_add_prints_the_subscription_with_id_and_reference(kscli, add_sub):
    sub = add_sub(vendor="Acme", price="9.99", currency="usd")
    assert sub["id"] == "S-1001"
    assert REF.fullmatch(sub["reference"])
    assert sub["price"] == "9.99" and sub["currency"] == "USD"
    assert sub["period_end"] == "2026-12-22T10:00:00Z"
    assert sub["status"] == "active" and sub["auto_renew"] is True
    table = kscli("sub", "show", "S-1001")
    assert "Acme" in table.stdout and "9.99 USD" in table.stdout


@freeze_time("2026-11-22T10:00:00Z")
@pytest.mark.parametrize("argv, fragment", [
    (["--price", "-5"], "negative"),
    (["--price", "abc"], "not an amount"),
    (["--price", "9.999"], "decimals"),
    (["--currency", "EURO"], "ISO 4217"),
    (["--plan", "weekly"], "not a plan"),
    (["--started", "2026-02-30"], "not a valid date"),
    (["--commitment", "10d"], "months"),
    (["--partner", "Northwind"], "together"),
])
def test_bad_values_exit_2_with_one_line_and_write_nothing(kscli, store_path, argv, fragment):
    base = {"--vendor": "Acme", "--product": "Cloud", "--plan": "monthly", "--price": "9.99",
            "--currency": "USD"}
    args = ["sub", "add"]
    for flag, value in base.items():
        if flag not in argv:
            args += [flag, value]
    result = kscli(*args, *argv)
    assert result.exit_code == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not ledger_created(store_path)


def test_unknown_id_exits_3_naming_the_fix_without_creating_the_ledger(kscli, store_path):
    result = kscli("sub", "show", "S-7")
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: no subscription S-7 in ")
    assert "`kscli sub list` shows the ids" in result.stderr
    assert not ledger_created(store_path)
    assert kscli("renew", "off", "S-7").exit_code == 3


def test_unknown_id_under_json_prints_the_refusal_object(kscli, add_sub):
    add_sub()
    result = kscli("sub", "show", "S-9999", fmt="json")
    assert result.exit_code == 3
    assert result.json() == {"error": "not-found", "message": result.json()["message"],
                             "clause": None}
    assert "S-9999" in result.json()["message"]


def test_list_of_a_missing_ledger_is_empty_and_creates_nothing(kscli, store_path):
    assert kscli.json("sub", "list") == []
    result = kscli("sub", "list")
    assert result.exit_code == 0 and "no subscriptions" in result.stderr
    assert not ledger_created(store_path)


@freeze_time("2026-11-22T10:00:00Z")
def test_renew_off_says_active_until_and_never_shows_plain_active(kscli, add_sub):
    add_sub()
    result = kscli("renew", "off", "S-1001")
    assert result.exit_code == 0
    assert "auto-renew off, active until 2026-12-22" in result.stdout
    assert REF.fullmatch(result.stdout.split("reference")[-1].strip())
    data = kscli.json("sub", "show", "S-1001")
    assert data["status"] == "active" and data["auto_renew"] is False
    assert data["ends_at"] == "2026-12-22T10:00:00Z"
    row = [line for line in kscli("sub", "list").stdout.splitlines() if "S-1001" in line][0]
    assert " active " not in row and "ending" in row and "ends 2026-12-22" in row


@freeze_time("2026-11-22T10:00:00Z")
def test_a_command_that_changes_nothing_says_so_and_adds_no_event(kscli, add_sub):
    add_sub()
    kscli("renew", "off", "S-1001")
    before = len(events_of(kscli, "S-1001"))
    again = kscli("renew", "off", "S-1001")
    assert again.exit_code == 0 and "nothing changed" in again.stderr
    assert len(events_of(kscli, "S-1001")) == before
    as_json = kscli.json("renew", "off", "S-1001")
    assert as_json["changed"] is False and "reference" not in as_json


@freeze_time("2026-11-22T10:00:00Z")
def test_renew_on_undoes_renew_off(kscli, add_sub):
    add_sub()
    kscli("renew", "off", "S-1001")
    data = kscli.json("renew", "on", "S-1001")
    assert data["auto_renew"] is True and data["ends_at"] is None and REF.fullmatch(data["reference"])


def test_cancel_off_a_terminal_needs_yes(kscli, add_sub):
    add_sub()
    result = kscli("sub", "cancel", "S-1001")
    assert result.exit_code == 2 and "--yes" in result.stderr
    assert kscli.json("sub", "show", "S-1001")["status"] == "active"


@freeze_time("2026-11-22T10:00:00Z")
def test_cancel_keeps_service_to_period_end_and_records_a_reference(kscli, add_sub):
    add_sub()
    data = kscli.json("sub", "cancel", "S-1001", "--yes")
    assert data["status"] == "cancelled" and data["ends_at"] == "2026-12-22T10:00:00Z"
    assert REF.fullmatch(data["reference"])
    history = events_of(kscli, "S-1001")
    assert [e["action"] for e in history] == ["created", "cancelled"]
    assert history[-1]["reference"] == data["reference"]
    assert history[-1]["detail"]["refund"] is False


@freeze_time("2026-11-22T10:00:00Z")
def test_cancel_inside_commitment_is_refused_with_date_and_exit_4(kscli, add_sub):
    add_sub(commitment="12m")
    result = kscli("sub", "cancel", "S-1001", "--yes")
    assert result.exit_code == 4
    assert "can be cancelled from 2027-11-22" in result.stderr and "[cancel.commitment]" in result.stderr
    refusal = kscli("sub", "cancel", "S-1001", "--yes", fmt="json")
    assert refusal.exit_code == 4
    assert refusal.json()["error"] == "commitment-active"
    assert refusal.json()["clause"] == "cancel.commitment"
    assert [e["action"] for e in events_of(kscli, "S-1001")] == ["created"]


@freeze_time("2026-11-22T10:00:00Z")
def test_partner_purchase_is_refused_with_portal_and_recorded_with_at_partner(kscli, add_sub):
    add_sub(partner="Northwind", partner_portal="https://portal.northwind.example")
    result = kscli("sub", "cancel", "S-1001", "--yes")
    assert result.exit_code == 4 and "https://portal.northwind.example" in result.stderr
    data = kscli.json("sub", "cancel", "S-1001", "--yes", "--at-partner", "PX-42")
    assert data["status"] == "cancelled"
    assert events_of(kscli, "S-1001")[-1]["detail"]["partner_reference"] == "PX-42"


@freeze_time("2026-11-22T10:00:00Z")
def test_cancel_immediately_ends_service_now(kscli, add_sub):
    add_sub()
    data = kscli.json("sub", "cancel", "S-1001", "--immediately", "--yes")
    assert data["status"] == "expired" and data["ended_at"] == "2026-11-22T10:00:00Z"


@freeze_time("2026-11-22T10:00:00Z")
def test_dispute_is_a_flag_not_a_cancellation(kscli, add_sub):
    add_sub()
    data = kscli.json("sub", "dispute", "S-1001")
    assert data["disputed"] is True and data["status"] == "active" and data["auto_renew"] is True
    assert "not a cancellation" in data["message"]


def test_sweep_renews_catches_up_and_is_idempotent(kscli, add_sub):
    with freeze_time("2026-01-31T09:00:00Z"):
        add_sub()
        add_sub(vendor="Stark", no_auto_renew=True)
    with freeze_time("2026-05-01T00:00:00Z"):
        first = kscli.json("sweep")
        assert [(c["subject"], c["action"]) for c in first] == [
            ("S-1001", "renewed"), ("S-1001", "renewed"), ("S-1001", "renewed"),
            ("S-1002", "expired")]
        assert all(REF.fullmatch(c["reference"]) for c in first)
        assert kscli.json("sweep") == []
        sub = kscli.json("sub", "show", "S-1001")
        assert sub["period_start"] == "2026-04-30T09:00:00Z"
        assert sub["period_end"] == "2026-05-31T09:00:00Z"
        assert kscli.json("sub", "show", "S-1002")["status"] == "expired"
        renewals = [e for e in events_of(kscli, "S-1001") if e["action"] == "renewed"]
        assert [e["detail"]["expected_charge"] for e in renewals] == ["9.99"] * 3


def test_sweep_dry_run_changes_nothing(kscli, add_sub):
    with freeze_time("2026-01-31T09:00:00Z"):
        add_sub()
    with freeze_time("2026-03-01T00:00:00Z"):
        assert len(kscli.json("sweep", "--dry-run")) == 1
        assert len(kscli.json("sweep", "--dry-run")) == 1
        assert len(kscli.json("sweep")) == 1


def test_sweep_refuses_a_clock_set_back_unless_trusted(kscli, add_sub):
    with freeze_time("2026-06-01T00:00:00Z"):
        add_sub()
    with freeze_time("2026-05-31T23:00:00Z"):
        result = kscli("sweep")
        assert result.exit_code == 4 and "--trust-clock" in result.stderr
        assert kscli("sweep", "--trust-clock").exit_code == 0
    with freeze_time("2026-05-31T23:55:00Z"):  # within ten minutes: fine
        assert kscli("sweep").exit_code == 0


def test_renew_due_lists_what_renews_and_what_ends(kscli, add_sub):
    with freeze_time("2026-11-01T00:00:00Z"):
        add_sub()
        add_sub(vendor="Stark", no_auto_renew=True)
        add_sub(vendor="Initech", plan="annual", price="120")
    with freeze_time("2026-11-26T00:00:00Z"):
        due = kscli.json("renew", "due", "--within", "7d")
        assert [(d["id"], d["action"]) for d in due] == [("S-1001", "renews"), ("S-1002", "ends")]
        assert kscli.json("renew", "due", "--within", "2d") == []
        # a year ahead, the monthly plan renews too (projected, never swept)
        ahead = kscli.json("renew", "due", "--as-of", "2027-10-30", "--within", "3d")
        assert [(d["id"], d["period_end"]) for d in ahead] == [
            ("S-1001", "2027-11-01T00:00:00Z"), ("S-1003", "2027-11-01T00:00:00Z")]


@freeze_time("2026-11-22T10:00:00Z")
def test_list_filters_sorts_and_totals_per_currency(kscli, add_sub):
    add_sub(vendor="Acme", price="10.00", currency="USD", account="ada")
    add_sub(vendor="Globex", plan="annual", price="120.00", currency="USD", account="bob")
    add_sub(vendor="Fonts", plan="annual", price="12000", currency="JPY", account="ada")
    add_sub(vendor="Stark", price="5.00", currency="EUR", no_auto_renew=True)
    assert [s["id"] for s in kscli.json("sub", "list", "--account", "ada")] == ["S-1001", "S-1003"]
    assert [s["id"] for s in kscli.json("sub", "list", "--vendor", "GLOBEX")] == ["S-1002"]
    assert [s["id"] for s in kscli.json("sub", "list", "--status", "ending")] == ["S-1004"]
    assert [s["id"] for s in kscli.json("sub", "list", "--sort", "vendor")] == [
        "S-1001", "S-1003", "S-1002", "S-1004"]
    assert [s["id"] for s in kscli.json("sub", "list", "--renewing-within", "1m")] == [
        "S-1001", "S-1004"]
    table = kscli("sub", "list").stdout
    assert "total USD: 20.00 a month, 240.00 a year (2 renewing)" in table
    assert "total JPY: 1000 a month, 12000 a year (1 renewing)" in table
    assert "total EUR" not in table  # auto-renew off: it will not bill again


@freeze_time("2026-11-22T10:00:00Z")
def test_every_format_renders_a_listing(kscli, add_sub):
    add_sub()
    assert kscli("sub", "list", fmt="plain").stdout.startswith("S-1001\tAcme")
    lines = kscli("sub", "list", fmt="jsonl").stdout.splitlines()
    assert json.loads(lines[0])["id"] == "S-1001"
    csv_out = kscli("sub", "list", fmt="csv").stdout.splitlines()
    assert csv_out[0].startswith("id,account,vendor") and csv_out[1].startswith("S-1001,")


@freeze_time("2026-11-22T10:00:00Z")
def test_hostile_names_are_stored_and_printed_safely(kscli, add_sub):
    evil = "Evil'; DROP TABLE subs; --\x1b[31m\nRED"
    add_sub(vendor=evil, product="=HYPERLINK(\"http://x\")")
    assert kscli.json("sub", "show", "S-1001")["vendor"] == evil
    table = kscli("sub", "list").stdout
    assert "\x1b" not in table and "\\x1b[31m" in table
    csv_out = kscli("sub", "list", fmt="csv").stdout
    assert "'=HYPERLINK" in csv_out


def test_quiet_prints_nothing_on_success_but_errors_still_show(store_path):
    from click.testing import CliRunner

    from kscli.cli import cli

    ok = CliRunner().invoke(cli, ["--store", store_path, "--quiet", "sub", "add", "--vendor", "A",
                                  "--product", "B", "--plan", "monthly", "--price", "1",
                                  "--currency", "USD"])
    assert ok.exit_code == 0 and ok.stdout == "" and ok.stderr == ""
    bad = CliRunner().invoke(cli, ["--store", store_path, "--quiet", "sub", "show", "S-5"])
    assert bad.exit_code == 3 and "S-5" in bad.stderr


def test_environment_variables_select_store_and_format(tmp_path, monkeypatch):
    path = ledger_path(tmp_path, "json")
    monkeypatch.setenv("KSCLI_STORE", path)
    monkeypatch.setenv("KSCLI_FORMAT", "json")
    runner = Kscli(None)
    runner("sub", "add", "--vendor", "A", "--product", "B", "--plan", "monthly", "--price", "1",
           "--currency", "USD")
    assert os.path.exists(path)
    assert json.loads(runner("sub", "list").stdout)[0]["vendor"] == "A"


def test_default_store_lives_in_the_user_data_folder(tmp_path):
    runner = Kscli(None)
    runner("init")
    data_home = tmp_path / "home" / ".local" / "share" / "kscli"
    assert (data_home / "kscli.db").exists()
    assert oct(data_home.stat().st_mode & 0o777) == "0o700"


@freeze_time("2026-11-22T10:00:00Z")
def test_init_sample_shows_every_status(kscli):
    assert kscli("init", "--sample").exit_code == 0
    subs = kscli.json("sub", "list")
    statuses = {s["display_status"] for s in subs}
    assert {"active", "ending", "cancelled", "expired"} <= statuses
    assert any(s["channel"] == "partner" for s in subs)
    assert any(s["commitment_end"] for s in subs)
    assert any(s["kind"] == "support" for s in subs)
    again = kscli("init", "--sample")
    assert again.exit_code == 1 and "already holds records" in again.stderr


def test_init_sample_refuses_a_ledger_that_holds_only_a_statement(kscli, tmp_path):
    """Sample data goes into a ledger with nothing recorded, by the rule import uses."""
    path = tmp_path / "statement.csv"
    path.write_text("date,description,amount,currency\n2026-11-01,NOBODY WE KNOW,9.99,USD\n")
    assert kscli("charges", "import", str(path)).exit_code == 0
    before = kscli("export").stdout
    refused = kscli("init", "--sample")
    assert refused.exit_code == 1 and "already holds records" in refused.stderr
    assert kscli("export").stdout == before


def test_export_import_export_is_identical_across_backends(tmp_path):
    with freeze_time("2026-11-22T10:00:00Z"):
        source = Kscli(ledger_path(tmp_path / "a", "sqlite"))
        source("init", "--sample")
        first = source("export", "--with-keys").stdout
        dump = tmp_path / "dump.json"
        dump.write_text(first)
        to_json = Kscli(str(tmp_path / "b" / "ledger.json"))
        assert to_json("import", str(dump)).exit_code == 0
        second = to_json("export", "--with-keys").stdout
        back = Kscli(str(tmp_path / "c" / "ledger.db"))
        (tmp_path / "dump2.json").write_text(second)
        assert back("import", str(tmp_path / "dump2.json")).exit_code == 0
        third = back("export", "--with-keys").stdout
    assert first == second == third
    assert json.loads(first)["tables"]["subs"][0]["id"] == "S-1001"
    assert len(json.loads(first)["tables"]["secrets"]) == 4  # the sample's keys, carried


@pytest.mark.parametrize("content, fragment", [
    ("not json", "not valid JSON"),
    ('{"format": "other"}', "not a kscli export"),
    ('{"format": "kscli-export", "schema": 99, "tables": {}}', "schema 99"),
    ('{"format": "kscli-export", "schema": 2, "tables": {"subs": [{"id": "S-1", "price": "abc"}]}}',
     "not a valid dec"),
    ('{"format": "kscli-export", "schema": 2, "tables": {"subs": [{"id": 5}]}}', "expected text"),
    ('{"format": "kscli-export", "schema": 2, "tables": {"subs": {"id": "S-1"}}}',
     "expected a list of rows"),
    ('{"format": "kscli-export", "schema": 2, "tables": {"subs": [{"id": "S-1", "evil": 1}]}}',
     "unknown columns: evil"),
    ('{"format": "kscli-export", "schema": 2, "tables": {"subs": [["S-1"]]}}', "expected an object"),
])
def test_import_of_a_bad_file_exits_2_and_writes_nothing(kscli, store_path, tmp_path, content, fragment):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = kscli("import", str(bad))
    assert result.exit_code == 2 and fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert not ledger_created(store_path) or kscli.json("sub", "list") == []


@pytest.mark.parametrize("change", [{"plan": "once"}, {"kind": "software"}])
def test_import_refuses_a_one_time_sale_with_a_period_end(tmp_path, change):
    """A one-time sale has no period to renew or end; a file that gives it one would
    leave sweep and the listings nothing sound to do, so the import refuses it."""
    with freeze_time("2026-11-22T10:00:00Z"):
        source = Kscli(str(tmp_path / "a.db"))
        source("init", "--sample")
        doc = json.loads(source("export").stdout)
        row = next(r for r in doc["tables"]["subs"] if r["period_end"] and r["plan"] == "monthly")
        row.update(change)
        path = tmp_path / "edited.json"
        path.write_text(json.dumps(doc))
        target = Kscli(str(tmp_path / "b" / "ledger.db"))
        result = target("import", str(path))
    assert result.exit_code == 2
    assert "period_end" in result.stderr and "one-time sale" in result.stderr
    assert not os.path.exists(tmp_path / "b" / "ledger.db")


def test_a_one_time_plan_never_renews_even_if_a_ledger_says_it_has_a_period():
    from kscli.domain import subscriptions as rules

    sub = _ONCE_WITH_AN_END
    assert not rules.renews_at_period_end(sub)
    assert rules.due_transitions(sub, datetime(2030, 1, 1, tzinfo=timezone.utc))[0].sub.status == "expired"
    assert rules.ends_at(sub) == sub.period_end


def test_import_into_a_ledger_with_records_is_refused(kscli, add_sub, tmp_path):
    add_sub()
    dump = tmp_path / "d.json"
    dump.write_text(kscli("export").stdout)
    result = kscli("import", str(dump))
    assert result.exit_code == 1 and "empty ledger" in result.stderr
    assert len(kscli.json("sub", "list")) == 1


@pytest.mark.files_only  # a corrupt file (test_postgres.py has a server's own faults)
def test_an_unreadable_ledger_exits_6_and_is_left_untouched(kscli, store_path):
    os.makedirs(os.path.dirname(store_path), exist_ok=True)
    with open(store_path, "wb") as handle:
        handle.write(b"\x00garbage" * 10)
    for argv in (["sub", "list"], ["sub", "add", "--vendor", "A", "--product", "B", "--plan",
                                   "monthly", "--price", "1", "--currency", "USD"], ["sweep"]):
        result = kscli(*argv)
        assert result.exit_code == 6, argv
        assert store_path in result.stderr and "untouched" in result.stderr
    with open(store_path, "rb") as handle:
        assert handle.read() == b"\x00garbage" * 10


def test_a_view_from_the_stored_row_equals_the_view_from_the_record(tmp_path):
    from kscli.store import open_store
    from kscli.views import sub_view

    runner = Kscli(str(tmp_path / "views.db"))
    with freeze_time("2026-11-22T10:00:00Z"):
        runner("init", "--sample")
    with open_store(runner.store).read() as ledger:
        pairs = list(ledger.subs_stored())
    assert len(pairs) >= 8
    for sub, row in pairs:
        assert sub_view(sub, row) == sub_view(sub)


_ONCE_WITH_AN_END = Subscription(
    "S-1001", "acct", "Vendor", "Product", "once", "software", Decimal("10.00"), "USD",
    datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 1, tzinfo=timezone.utc),
    datetime(2026, 2, 1, tzinfo=timezone.utc), datetime(2027, 1, 1, tzinfo=timezone.utc),
    True, "active")
_times = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2990, 12, 31),
                      timezones=st.just(timezone.utc)).map(lambda t: t.replace(microsecond=0))
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
_subscriptions = st.builds(
    Subscription,
    id=st.integers(1001, 10**8).map("S-{}".format), account=_text, vendor=_text, product=_text,
    plan=st.sampled_from(["monthly", "annual", "once", "3m"]),
    kind=st.sampled_from(["subscription", "support", "software"]),
    price=st.decimals(min_value=0, max_value=10**6, places=2),
    currency=st.sampled_from(["USD", "JPY", "BHD"]), started_at=_times, period_start=_times,
    period_end=st.none() | _times, commitment_end=st.none() | _times, auto_renew=st.booleans(),
    status=st.sampled_from(["active", "cancelled", "expired", "refunded", "suspended"]),
    channel=st.sampled_from(["direct", "partner"]), partner_name=st.none() | _text,
    partner_portal=st.none() | _text, region=st.none() | _text, disputed=st.booleans(),
    cancelled_at=st.none() | _times, ended_at=st.none() | _times, refuse_service=st.booleans(),
    created_at=st.none() | _times,
)


@settings(max_examples=300, deadline=None)
@given(_subscriptions)
def test_a_listing_line_is_the_json_of_the_view(sub):
    """`sub list --format jsonl` writes each line straight from the stored row; it must
    be the JSON of the view, byte for byte, for any record (odd text, braces, percent
    signs, control characters, times with or without an end)."""
    from kscli.cli.output import _ONE_LINE, _FlatLines, stored_lines
    from kscli.store.schema import CODECS, SUBS, to_row
    from kscli.views import SUB_FIELDS, sub_view

    row = to_row(sub)
    assert CODECS["subs"].from_row(row) == sub  # the codec reads back what it wrote
    view = sub_view(sub)
    assert sub_view(sub, row) == view
    assert list(view) == [key for key, _, _ in SUB_FIELDS]
    from kscli.domain.timeline import as_it_stands

    state = as_it_stands(sub)
    assert state.sub is sub
    assert sub_view(state, row) == view
    line = stored_lines(SUB_FIELDS, len(SUBS.names), "\n")((state, row))
    assert line == _ONE_LINE(view) + "\n" == _FlatLines("\n")(view)
    assert json.loads(line) == view


@pytest.mark.parametrize("backend", ["sqlite", "json", pytest.param("postgres",
                                                                    marks=pytest.mark.postgres)])
@settings(max_examples=40, deadline=None)
@given(subs=st.lists(_subscriptions, min_size=1, max_size=6, unique_by=lambda sub: sub.id),
       at=_times)
def test_the_listing_lines_of_a_ledger_are_the_json_of_each_state(backend, subs, at):
    """The lines `sub list --format jsonl` writes from the stored rows (a renewal or an
    expiry worked out patched in) are, on every backend, the JSON of the view of each
    record's state at T, byte for byte: whatever the record, and whether it stands at T,
    renewed since, or ended."""
    import shutil
    import tempfile
    from pathlib import Path

    from hypothesis import reject

    from kscli.cli.output import _ONE_LINE, stored_lines
    from kscli.domain.errors import BadValue
    from kscli.domain.model import SUBSCRIPTION
    from kscli.domain.timeline import state_at
    from kscli.services.subs import states_at
    from kscli.store import open_store
    from kscli.views import SUB_FIELDS, sub_view
    from tests.conftest import fresh_pg_store_spec, require_pg

    folder = Path(tempfile.mkdtemp(prefix="kscli-lines-"))
    try:
        spec = (fresh_pg_store_spec(require_pg()) if backend == "postgres"
                else str(folder / ("k.json" if backend == "json" else "k.db")))
        store = open_store(spec)
        try:
            with store.write() as ledger:
                for sub in subs:
                    ledger.add(sub)
        except BadValue:  # a record the store refuses (a NUL in a text): not a ledger
            reject()
        line = stored_lines(SUB_FIELDS, len(SUBSCRIPTION.fields), "\n")
        with store.read() as ledger:
            listed = {state.sub.id: line((state, row)) for state, row in states_at(ledger, at)}
        assert listed == {sub.id: _ONE_LINE(sub_view(state_at(sub, at))) + "\n" for sub in subs}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# a record whose sparse fields (Field.sparse) are all empty, or any of them set
_sparse_subs = st.builds(
    lambda sub, empty, extra: sub._replace(
        partner_name=None, partner_portal=None, region=None, disputed=False, cancelled_at=None,
        ended_at=None, refuse_service=False) if empty else sub._replace(**extra),
    _subscriptions, st.booleans(),
    st.fixed_dictionaries({}, optional={
        "prices": st.just({"2026-01-01T00:00:00Z": "5.00"}), "plans": st.just({"2026-01-01T00:00:00Z": "3m"}),
        "matches": st.just({"ACME*": "2026-01-01T00:00:00Z"}), "trial": st.sampled_from(["14d", "1m"]),
        "notice": st.just("30d"), "ends": _times}))


@settings(max_examples=60, deadline=None)
@given(subs=st.lists(_sparse_subs, min_size=1, max_size=8, unique_by=lambda sub: sub.id))
def test_sqlite_reads_compact_rows_as_the_full_rows_they_stand_for(tmp_path_factory, subs):
    """A listing on SQLite reads a row's sparse fields as one value (none when all are
    empty): each compact row stands for the stored row exactly, and the generated reader
    gives the plain rule's record and row, on either branch."""
    from kscli.domain.errors import BadValue
    from kscli.rows import CODECS, Codec
    from kscli.store import open_store

    store = open_store(str(tmp_path_factory.mktemp("compact") / "k.db"))
    try:
        with store.write() as ledger:
            for sub in subs:
                ledger.add(sub)
    except BadValue:
        return  # a record the store refuses (a NUL in a text): not a ledger
    codec = CODECS["subs"]
    with store.read() as ledger:
        full = {row[0]: row for row in ledger.tx.select("subs")}
        compact, is_compact = ledger.tx.select_stored("subs")
        compact = list(compact)
    assert is_compact and len(compact) == len(subs)
    assert all(len(row) == len(codec.dense) + 1 for row in compact)
    for fetched in compact:
        row = full[fetched[0]]
        assert codec.expand(fetched) == row
        assert (fetched[-1] is None) == all(
            row[i] == empty for i, empty in zip(codec.sparse, codec.sparse_empty))
        assert codec.from_compact(fetched) == Codec.from_compact(codec, fetched) == (codec.from_row(row), row)
    assert {fetched[0]: codec.from_compact(fetched)[0] for fetched in compact} == {sub.id: sub for sub in subs}


def test_an_sqlite_without_json_functions_lists_from_whole_rows_the_same_lines(tmp_path):
    """Where SQLite lacks json_array (a build older than 3.38 may), a listing reads
    whole rows: the same JSON lines as the compact ones."""
    from kscli.store import sqlite as backend

    spec = str(tmp_path / "k.db")
    assert Kscli(spec)("init", "--sample").exit_code == 0
    compact = Kscli(spec)("sub", "list", fmt="jsonl").stdout
    saved = list(backend._JSON)
    try:
        backend._JSON[:] = [False]
        from kscli.store import open_store

        with open_store(spec).read() as ledger:
            assert ledger.tx.select_stored("subs")[1] is False
        whole = Kscli(spec)("sub", "list", fmt="jsonl").stdout
    finally:
        backend._JSON[:] = saved
    assert whole == compact and compact.count("\n") >= 3


@pytest.mark.parametrize("record", [
    {"a": "x", "b": None, "c": True, "d": False, "e": 7, "f": "é\n\"\\\u2028", "g": 1, "h": 0},
    {"quote\"key": "v", "k\n": [1, {"x": None}], "n": 1.5},
    {"a": 1.5},
    {"nested": {"k": [1, None]}},
    {},
])
def test_the_fast_line_encoder_writes_what_json_writes(record):
    from kscli.cli.output import _ONE_LINE, _FlatLines

    line = _FlatLines()
    assert line(record) == _ONE_LINE(record)
    assert line(record) == _ONE_LINE(record)  # with its cached keys


def test_export_to_a_full_disk_fails_in_one_line_and_leaves_no_partial_file(kscli, add_sub, tmp_path, monkeypatch):
    import errno

    from kscli.store import fs

    add_sub()
    target = tmp_path / "backup.json"
    target.write_text("previous backup\n")

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(fs, "atomic_write", full)
    result = kscli("export", "-o", str(target))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot write {target}: the disk is full")
    assert "Traceback" not in result.stderr
    assert target.read_text() == "previous backup\n"
