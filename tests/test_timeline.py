"""A subscription at a moment (kscli.domain.timeline): the one owner of its periods,
status and end, and every read and `sweep` agreeing with it."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import tempfile
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kscli.domain import subscriptions as rules
from kscli.domain.calendar import add_months, iso
from kscli.domain.model import Charge
from kscli.domain.timeline import period_at, state_at
from kscli.store import open_store
from tests.conftest import Kscli, fresh_pg_store_spec, pg_dsn, require_pg

UTC = timezone.utc
SECOND = timedelta(seconds=1)


def make(plan="monthly", started=datetime(2026, 1, 31, 9, tzinfo=UTC), commitment=None,
         auto_renew=True, kind="subscription", partner=None, sub_id="S-1001", vendor="Acme",
         price="9.99"):
    return rules.new_subscription(
        sub_id, account="ada", vendor=vendor, product="Cloud", plan=plan, kind=kind,
        price=Decimal(price), currency="USD", started_at=started, commitment_months=commitment,
        auto_renew=auto_renew, partner_name=partner,
        partner_portal="https://p.example" if partner else None, region=None, now=started)


# ---------------------------------------------------------------------------
# The rules at their boundaries


def test_the_last_second_of_a_period_is_in_it_and_the_boundary_starts_the_next():
    sub = make()  # 31 January 09:00: the first period ends 28 February 09:00
    boundary = datetime(2026, 2, 28, 9, tzinfo=UTC)
    before = state_at(sub, boundary - SECOND)
    at = state_at(sub, boundary)
    assert (before.period_start, before.period_end) == (sub.started_at, boundary)
    assert before.steps == () and before.sub is sub  # the record stands: nothing new
    assert (at.period_start, at.period_end) == (boundary, datetime(2026, 3, 31, 9, tzinfo=UTC))
    assert at.next_renewal == datetime(2026, 3, 31, 9, tzinfo=UTC)


def test_31_january_plus_months_keeps_the_31st_where_the_month_has_one():
    sub = make()
    ends = [state_at(sub, datetime(2026, m, 15, tzinfo=UTC)).period_end.date().isoformat()
            for m in (2, 3, 4, 5)]
    assert ends == ["2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]


def test_an_annual_plan_bought_on_29_february_renews_on_28_february_and_29_in_leap_years():
    sub = make(plan="annual", started=datetime(2024, 2, 29, tzinfo=UTC))
    assert [state_at(sub, datetime(y, 6, 1, tzinfo=UTC)).period_start.date().isoformat()
            for y in (2024, 2025, 2027, 2028)] == [
        "2024-02-29", "2025-02-28", "2027-02-28", "2028-02-29"]
    last = datetime(2025, 2, 28, tzinfo=UTC) - SECOND
    assert state_at(sub, last).period_end == datetime(2025, 2, 28, tzinfo=UTC)


def test_before_its_start_a_subscription_has_not_started_and_shows_its_first_period():
    sub = make(started=datetime(2027, 1, 10, tzinfo=UTC))
    state = state_at(sub, datetime(2026, 12, 1, tzinfo=UTC))
    assert not state.started and state.display_status == "not-started"
    assert (state.period_start, state.period_end) == (sub.started_at, sub.period_end)
    assert state_at(sub, sub.started_at).started


def test_auto_renew_off_inside_a_commitment_renews_until_the_commitment_ends():
    sub = make(started=datetime(2026, 1, 1, tzinfo=UTC), commitment=6)._replace(auto_renew=False)
    inside = state_at(sub, datetime(2026, 3, 10, tzinfo=UTC))
    assert inside.renews and inside.in_commitment and inside.display_status == "ending"
    assert inside.next_renewal == datetime(2026, 4, 1, tzinfo=UTC)
    assert inside.ends_at == datetime(2026, 7, 1, tzinfo=UTC) == sub.commitment_end
    last = state_at(sub, datetime(2026, 7, 1, tzinfo=UTC) - SECOND)
    assert last.status == "active" and not last.renews
    after = state_at(sub, datetime(2026, 7, 1, tzinfo=UTC))
    assert after.status == "expired" and after.sub.ended_at == sub.commitment_end
    assert after.ends_at == sub.commitment_end and not after.in_commitment


def test_a_suspended_subscription_neither_renews_nor_ends():
    sub = make(auto_renew=False, commitment=12)._replace(status="suspended")
    state = state_at(sub, datetime(2027, 6, 1, tzinfo=UTC))
    assert (state.status, state.renews, state.ends_at, state.steps) == ("suspended", False, None, ())


def test_jumping_many_periods_gives_what_walking_them_gives():
    sub = make(plan="3m", started=datetime(2020, 5, 31, 23, 59, 59, tzinfo=UTC))
    at = datetime(2029, 3, 1, tzinfo=UTC)
    jumped, walked = state_at(sub, at), state_at(sub, at, steps=True)
    assert jumped.sub == walked.sub and len(walked.steps) == 35
    assert walked.steps[-1].sub == walked.sub
    assert period_at(sub, at) == (walked.period_start, walked.period_end)


def test_a_past_moment_undoes_what_was_recorded_after_it():
    from kscli.domain.model import Event

    sub = make(started=datetime(2026, 1, 1, tzinfo=UTC))
    history = [Event("KS-1", sub.started_at, sub.id, "created", {"subscription": {"auto_renew": True}}),
               Event("KS-2", datetime(2026, 5, 3, tzinfo=UTC), sub.id, "renew-off", {})]
    stored = sub._replace(status="expired", auto_renew=False, period_start=datetime(2026, 5, 1, tzinfo=UTC),
                          period_end=datetime(2026, 6, 1, tzinfo=UTC),
                          ended_at=datetime(2026, 6, 1, tzinfo=UTC))
    then = state_at(stored, datetime(2026, 3, 15, tzinfo=UTC), history)
    assert (then.status, then.sub.auto_renew, then.display_status) == ("active", True, "active")
    assert then.period_start == datetime(2026, 3, 1, tzinfo=UTC) and then.ends_at is None
    later = state_at(stored, datetime(2026, 5, 20, tzinfo=UTC), history)
    assert (later.display_status, later.ends_at) == ("ending", datetime(2026, 6, 1, tzinfo=UTC))


@freeze_time("2026-03-01T12:00:00Z")
def test_as_of_with_an_offset_far_from_utc_is_the_same_instant(tmp_path):
    """14 hours ahead of UTC (Kiribati), the last second of a period and the first after."""
    kscli = Kscli(str(tmp_path / "k.db"))
    kscli.json("sub", "add", "--vendor", "Acme", "--product", "C", "--plan", "monthly",
               "--price", "5", "--currency", "USD", "--started", "2026-01-31T09:00:00Z")
    last = kscli.json("sub", "show", "S-1001", "--as-of", "2026-02-28T22:59:59+14:00")
    first = kscli.json("sub", "show", "S-1001", "--as-of", "2026-02-28T23:00:00+14:00")
    assert last["period_end"] == "2026-02-28T09:00:00Z" == first["period_start"]
    assert first["period_end"] == "2026-03-31T09:00:00Z"


# ---------------------------------------------------------------------------
# A ledger never swept: every read shows the truth, and sweep records it


@freeze_time("2026-12-01T10:00:00Z")
def test_a_ledger_made_months_ago_and_never_swept_reads_as_swept(tmp_path):
    kscli = Kscli(str(tmp_path / "k.db"))
    kscli.json("sub", "add", "--vendor", "X", "--product", "Y", "--plan", "monthly",
               "--price", "5", "--currency", "USD", "--started", "2026-06-01")
    listed = kscli.json("sub", "list")
    assert listed[0]["period_start"] == "2026-12-01T00:00:00Z"
    assert listed[0]["period_end"] == "2027-01-01T00:00:00Z"
    table = kscli("sub", "list").stdout
    assert "renews 2027-01-01" in table and "2026-07-01" not in table
    due = kscli.json("renew", "due", "--within", "31d")
    assert [(d["id"], d["period_end"]) for d in due] == [("S-1001", "2027-01-01T00:00:00Z")]
    # at the boundary itself the renewal has happened: the next one is a month on
    assert kscli.json("renew", "due", "--as-of", "2027-03-01", "--within", "31d")[0][
        "period_end"] == "2027-04-01T00:00:00Z"
    assert kscli.json("renew", "due", "--as-of", "2027-02-28T23:59:59Z", "--within", "1d")[0][
        "period_end"] == "2027-03-01T00:00:00Z"
    before = kscli.json("sub", "show", "S-1001")
    swept = kscli.json("sweep")
    assert len(swept) == 6  # July to December
    assert kscli.json("sub", "show", "S-1001") == before
    assert kscli.json("sub", "list") == listed


def _reads(kscli, when: str) -> dict:
    return {
        "list": kscli.json("sub", "list", "--as-of", when),
        "due": kscli.json("renew", "due", "--within", "45d", "--as-of", when),
        "charges": kscli("charges", "check", "--as-of", when, fmt="json").stdout,
        "shows": [kscli.json("sub", "show", s["id"], "--as-of", when)
                  for s in kscli.json("sub", "list", "--as-of", when)],
    }


def _stores():
    yield "sqlite"
    yield "json"
    yield pytest.param("postgres", marks=pytest.mark.postgres)


_DAY0 = datetime(2025, 11, 1, tzinfo=UTC)
_actions = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["renew-off", "renew-on", "cancel"]),
                              st.integers(1, 500)), max_size=4)
_subs = st.lists(st.tuples(
    st.sampled_from(["monthly", "annual", "3m", "once"]),
    st.integers(0, 600),  # start, days after day 0
    st.integers(0, 86399),  # second of the day
    st.sampled_from([None, 6, 12, 24]),  # commitment
    st.booleans(),  # auto-renew at creation
), min_size=1, max_size=3)


@pytest.mark.parametrize("backend", list(_stores()))
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(subs=_subs, actions=_actions, sweep_day=st.integers(30, 1000), second=st.integers(0, 86399))
def test_sweep_at_t_records_exactly_what_the_reads_at_t_show(backend, subs, actions, sweep_day,
                                                              second):
    """For random plans, starts, commitments, auto-renew changes and cancellations: the
    reads at T without a sweep equal the reads at T after `sweep` at T, and the records
    sweep writes are the states the reads showed."""
    folder = Path(tempfile.mkdtemp(prefix="kscli-prop-"))
    try:
        if backend == "postgres":
            spec = fresh_pg_store_spec(require_pg())
        else:
            spec = str(folder / ("k.json" if backend == "json" else "k.db"))
        kscli = Kscli(spec)
        for n, (plan, start, sec, commitment, auto) in enumerate(subs):
            started = _DAY0 + timedelta(days=start, seconds=sec)
            argv = ["sub", "add", "--vendor", f"V{n}", "--product", "P", "--price", "7",
                    "--currency", "USD", "--started", iso(started)]
            argv += ["--plan", plan] if plan != "once" else ["--kind", "software"]
            if commitment and plan != "once":
                argv += ["--commitment", f"{commitment}m"]
            if not auto:
                argv.append("--no-auto-renew")
            with freeze_time(_DAY0):
                kscli.json(*argv)
        when = _DAY0
        for which, action, days in sorted(actions, key=lambda a: a[2]):
            when = _DAY0 + timedelta(days=days)
            sub_id = f"S-{1001 + min(which, len(subs) - 1)}"
            argv = {"renew-off": ["renew", "off", sub_id], "renew-on": ["renew", "on", sub_id],
                    "cancel": ["sub", "cancel", sub_id, "--yes", "--at-partner", "P-1"]}[action]
            with freeze_time(when):
                kscli(*argv)  # may be refused or change nothing: either is a fact
        at = max(when, _DAY0) + timedelta(days=sweep_day, seconds=second)
        with freeze_time(at):
            before = _reads(kscli, iso(at))
            kscli.json("sweep")
            after = _reads(kscli, iso(at))
            assert kscli.json("sweep") == []  # idempotent
            stored = {row["id"]: row for row in json.loads(kscli("export").stdout)["tables"]["subs"]}
        assert after == before
        for shown in before["shows"]:  # what sweep recorded is what the reads showed
            row = stored[shown["id"]]
            for key in ("status", "period_start", "period_end", "ended_at"):
                assert row[key] == shown[key], (shown["id"], key)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------
# Every combination: renew off, sub list, sub show, refund check, charges check agree

T = datetime(2026, 12, 1, 10, tzinfo=UTC)
PLANS = ("monthly", "annual", "3m", "once")
KINDS = ("subscription", "support", "software")
STATUSES = ("active", "cancelled", "expired", "refunded", "suspended")


def _combinations():
    for plan, kind, status, auto, inside, channel in itertools.product(
            PLANS, KINDS, STATUSES, (True, False), (True, False), ("direct", "partner")):
        if (plan == "once") != (kind == "software"):
            continue  # only a one-time software sale has plan once (as `sub add` checks)
        yield plan, kind, status, auto, inside, channel


def _letters(n: int) -> str:
    return "".join("abcdefghijklmnopqrstuvwxyz"[(n // 26 ** i) % 26] for i in range(3))


def _record(n, plan, kind, status, auto, inside, channel):
    """A subscription recorded months ago and never swept since."""
    months = {"monthly": 1, "annual": 12, "3m": 3, "once": None}[plan]
    commitment = 2 * months if months else None
    started = T - timedelta(days=20) if inside else add_months(T, -(commitment or 0) - 1)
    sub = make(plan=plan, kind=kind, started=started - timedelta(hours=n % 24),
               commitment=commitment, auto_renew=auto, sub_id=f"S-{1001 + n}",
               vendor=f"Vendor {_letters(n)}", price=f"{10 + n}.00",
               partner="Resell" if channel == "partner" else None)
    sub = sub._replace(status=status, auto_renew=auto and status == "active" or
                       (auto and status == "suspended"))
    if status == "cancelled":
        sub = sub._replace(cancelled_at=sub.started_at + timedelta(days=1))
    elif status == "expired":  # at its period's end, or cancelled immediately
        if sub.period_end is not None and sub.period_end <= T:
            sub = sub._replace(ended_at=sub.period_end)
        else:
            ended = sub.started_at + timedelta(days=2)
            sub = sub._replace(ended_at=ended, cancelled_at=ended)
    elif status == "refunded":
        sub = sub._replace(ended_at=sub.started_at + timedelta(days=3))
    return sub


_UNTIL = re.compile(r"active until (\d{4}-\d\d-\d\d)")
_CONTINUES = re.compile(r"service continues until (\d{4}-\d\d-\d\d)")
_ENDS = re.compile(r"(?:ends|ended) (\d{4}-\d\d-\d\d)")


def test_every_combination_gives_one_end_date_everywhere(tmp_path):
    """Plan x kind x status x auto-renew x commitment (inside, after) x channel: the date
    `renew off` names, the "Renews / ends" column of `sub list`, `ends_at` of `sub
    show`, the service end of `refund check` and the boundary of `charges check` are
    one date, on a ledger never swept."""
    spec = str(tmp_path / "k.db")
    combos = list(_combinations())
    records = [_record(n, *combo) for n, combo in enumerate(combos)]
    store = open_store(spec)
    with store.write() as ledger:
        for sub in records:
            ledger.add(sub)
            ledger.append_event(sub.id, "created", {"subscription": {"auto_renew": sub.auto_renew}},
                                sub.started_at)
    kscli = Kscli(spec)
    said: dict[str, str] = {}
    with freeze_time(T):
        for sub in records:
            result = kscli("renew", "off", sub.id)
            found = _UNTIL.search(result.stdout + result.stderr)
            if found:
                said[sub.id] = found.group(1)
        table = {line.split()[0]: line for line in kscli("sub", "list").stdout.splitlines()
                 if line.startswith("S-")}
        shown = {s["id"]: s for s in kscli.json("sub", "list")}
        refunds = {sub.id: kscli("refund", "check", sub.id).stdout for sub in records}
    # a charge on the day before the end, and one on the end's day, for every record
    with store.write() as ledger:
        for sub in records:
            end = shown[sub.id]["ends_at"]
            if end is None:
                continue
            day = date.fromisoformat(end[:10])
            for i, posted in enumerate((day - timedelta(days=1), day)):
                ledger.add(Charge(f"C-{sub.id}-{i}", posted, f"VENDOR {sub.vendor}", sub.price,
                                  "USD", f"{sub.id}-{i}", sub.id, "st.csv", T))
    with freeze_time(T):
        result = kscli("charges", "check", "--as-of", "2031-01-01", fmt="json")
        findings = [f for f in result.json() if f["kind"] != "duplicate-in-period"]
        assert kscli.json("sub", "show", records[0].id)["ends_at"] == shown[records[0].id]["ends_at"]
    flagged = {f["charge_id"]: f for f in findings}

    checked = {"renew off": 0, "refund": 0, "charges": 0}
    for sub, combo in zip(records, combos):
        view = shown[sub.id]
        end = view["ends_at"][:10] if view["ends_at"] else None
        with freeze_time(T):
            assert kscli.json("sub", "show", sub.id) == view, combo
        column = _ENDS.search(table[sub.id])
        assert (column.group(1) if column else None) == end, (combo, table[sub.id])
        if sub.id in said:
            assert said[sub.id] == end, combo
            checked["renew off"] += 1
        continues = _CONTINUES.search(refunds[sub.id])
        if continues:
            assert continues.group(1) == end, combo
            checked["refund"] += 1
        if end is None:
            continue
        assert f"C-{sub.id}-0" not in flagged, combo  # the last day of the paid period
        boundary = flagged.get(f"C-{sub.id}-1")
        early = view["ended_at"] is not None and (view["period_end"] is None
                                                  or view["ended_at"] < view["period_end"])
        if view["status"] == "refunded" or not early:  # the renewal day is the next period's
            assert boundary is not None, combo
            assert boundary["service_ended"] == end, combo
            checked["charges"] += 1
        else:  # ended during its day (cancelled immediately): that day's charge may be due
            assert boundary is None, combo
    assert len(combos) == 280  # 7 plan and kind pairs x 5 statuses x 2 x 2 x 2
    assert min(checked.values()) >= 10, checked  # each output was compared, many times


@freeze_time("2026-11-22T09:00:00Z")
def test_the_sample_ledger_a_year_back_and_a_year_ahead(tmp_path):
    kscli = Kscli(str(tmp_path / "k.db"))
    assert kscli("init", "--sample").exit_code == 0
    now = {s["id"]: s for s in kscli.json("sub", "list")}
    back = {s["id"]: s for s in kscli.json("sub", "list", "--as-of", "2025-11-22")}
    ahead = {s["id"]: s for s in kscli.json("sub", "list", "--as-of", "2027-11-22")}
    assert set(back) == set(ahead) == set(now)  # not started then: listed as such
    for sub_id, then in back.items():
        started = now[sub_id]["started_at"] > "2025-11-22"
        assert (then["display_status"] == "not-started") == started, sub_id
        if started:
            assert then["period_start"] == now[sub_id]["started_at"]
    ending = [s for s in now.values() if s["display_status"] == "ending"]
    assert ending
    for sub in ending:  # a year on, each has ended on the day it said
        assert ahead[sub["id"]]["status"] == "expired"
        assert ahead[sub["id"]]["ended_at"] == sub["ends_at"]
        assert kscli.json("sub", "show", sub["id"], "--as-of", "2027-11-22") == ahead[sub["id"]]
    for sub in now.values():
        if sub["display_status"] == "active" and sub["plan"] == "monthly":
            assert ahead[sub["id"]]["period_end"] > "2027-11-22"
    with freeze_time("2027-11-22T00:00:00Z"):
        kscli.json("sweep")
        assert {s["id"]: s for s in kscli.json("sub", "list")} == ahead


def test_boundary_days_hold_the_days_and_a_month_end_takes_the_later_days():
    from kscli.domain.timeline import boundary_days

    week = boundary_days(datetime(2026, 3, 10, 15, tzinfo=UTC), datetime(2026, 3, 17, tzinfo=UTC))
    assert week == frozenset(range(10, 18))
    feb = boundary_days(datetime(2026, 2, 27, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    assert feb == frozenset({27, 28, 29, 30, 31, 1})  # 31 January + 1 month = 28 February
    assert boundary_days(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 5, tzinfo=UTC)) is None


@pytest.mark.parametrize("backend", list(_stores()))
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(starts=st.lists(st.tuples(st.integers(0, 900), st.integers(0, 86399),
                                 st.sampled_from(["monthly", "annual", "3m", "once"]),
                                 st.booleans(), st.sampled_from([None, 12])),
                       min_size=1, max_size=12),
       since_day=st.integers(0, 1200), since_second=st.integers(0, 86399),
       window=st.integers(0, 40))
def test_renew_due_finds_what_working_out_every_subscription_finds(
        backend, starts, since_day, since_second, window):
    """The index lookups of `renew due` (stored period in the window, or unswept with a
    start on one of the window's boundary days) miss nothing and add nothing."""
    from kscli.services.subs import renewing

    folder = Path(tempfile.mkdtemp(prefix="kscli-due-"))
    try:
        spec = (fresh_pg_store_spec(require_pg()) if backend == "postgres"
                else str(folder / ("k.json" if backend == "json" else "k.db")))
        store = open_store(spec)
        records = []
        with store.write() as ledger:
            for n, (day, sec, plan, auto, commitment) in enumerate(starts):
                sub = make(plan=plan, kind="software" if plan == "once" else "subscription",
                           started=_DAY0 + timedelta(days=day, seconds=sec), auto_renew=auto,
                           commitment=commitment if plan != "once" else None,
                           sub_id=f"S-{1001 + n}")
                if n % 2:  # half swept to some moment, as a nightly sweep left them
                    sub = state_at(sub, _DAY0 + timedelta(days=(day + since_day) // 2)).sub
                ledger.add(sub)
                records.append(sub)
        since = _DAY0 + timedelta(days=since_day, seconds=since_second)
        until = since + timedelta(days=window)
        expected = sorted(
            ((st_.period_end, len(st_.sub.id), st_.sub.id) for st_ in
             (state_at(sub, since) for sub in records)
             if st_.status == "active" and st_.period_end is not None
             and since <= st_.period_end <= until))
        found = [(s.period_end, len(s.sub.id), s.sub.id) for s in renewing(store, since, until)]
        assert found == expected
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_renew_due_reads_only_through_indexes(tmp_path):
    """Every query `renew due` runs on SQLite searches an index: none scans the
    subscriptions (a quiet week on a ledger of 200,000 must cost what it costs on 100).
    Among them the unswept free trials, whose renewals fall on the trial's end's day: a
    partial index of the rows with a trial (migration 9), not every active row whose
    period ended."""
    import sqlite3

    from kscli.domain.calendar import parse_duration
    from kscli.services.subs import renewing
    from kscli.store.sqlite import SqliteStore

    class Traced(SqliteStore):  # the real store, each statement it runs written down
        def _connect(self, readonly):
            conn = super()._connect(readonly)
            conn.set_trace_callback(run.append)
            return conn

    run: list[str] = []
    store = Traced(str(tmp_path / "k.db"))
    with store.write() as ledger:
        for n in range(40):
            sub = make(started=_DAY0 + timedelta(days=n * 3), sub_id=f"S-{1001 + n}")
            ledger.add(sub._replace(trial=str(parse_duration("14d"))) if n % 5 == 0 else sub)
    run.clear()
    since = _DAY0 + timedelta(days=400)
    found = renewing(store, since, since + timedelta(days=7))
    assert found  # (the window has renewals: the queries found them)
    selects = [sql for sql in run if sql.lstrip().upper().startswith("SELECT")
               and " FROM subs" in sql]
    assert len(selects) >= 3  # in the window, unswept by their start's day, unswept trials
    conn = sqlite3.connect(tmp_path / "k.db")
    plans = {sql: " | ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
             for sql in selects}
    assert not [plan for plan in plans.values() if "SCAN subs" in plan], plans
    assert any("ix_subs_trial" in plan for plan in plans.values()), plans


@freeze_time("2026-12-01T09:00:00Z")
def test_sub_add_shows_the_new_subscription_as_it_stands_now(tmp_path):
    kscli = Kscli(str(tmp_path / "k.db"))
    base = ("sub", "add", "--vendor", "X", "--product", "Y", "--plan", "monthly", "--price",
            "5", "--currency", "USD")
    past = kscli.json(*base, "--started", "2026-06-01")
    assert past["period_end"] == "2027-01-01T00:00:00Z"  # renewed since June, as reads show
    shown = kscli.json("sub", "show", past["id"])
    assert {k: past[k] for k in shown} == shown
    ahead = kscli.json(*base, "--started", "2027-01-15")
    assert ahead["display_status"] == "not-started"
    assert "not-started" in kscli(*base, "--started", "2027-02-01").stdout


def test_a_key_as_of_a_past_moment_leaves_out_what_was_recorded_later(tmp_path):
    kscli = Kscli(str(tmp_path / "k.db"))
    with freeze_time("2026-01-10T12:00:00Z"):
        kscli.json("license", "issue", "--product", "Photo Editor", "--purchased", "2026-01-10")
    with freeze_time("2026-06-01T12:00:00Z"):
        assert kscli("license", "activate", "L-1001", "--machine", "laptop").exit_code == 0
    with freeze_time("2026-09-01T12:00:00Z"):
        assert kscli("license", "deactivate", "L-1001", "--machine", "laptop").exit_code == 0
    with freeze_time("2026-11-01T12:00:00Z"):
        assert kscli("license", "revoke", "L-1001", "--yes").exit_code == 0
    with freeze_time("2026-12-01T12:00:00Z"):
        def at(when):
            shown = kscli.json("license", "show", "L-1001", "--as-of", when)
            listed = kscli.json("license", "list", "--as-of", when)
            assert [k["status"] for k in listed] == [shown["status"]]
            return shown["status"], [a["machine"] for a in shown["activations"]]

        assert at("2026-05-01") == ("unactivated", [])
        assert at("2026-07-01") == ("active", ["laptop"])
        assert at("2026-10-01") == ("active", [])  # activated once, its machine freed
        assert at("2026-12-01") == ("revoked", [])
        assert kscli.json("license", "list", "--as-of", "2026-01-01") == []  # not bought yet
        assert at("2027-03-01") == ("revoked", [])


@settings(max_examples=300, deadline=None)
@given(plan=st.sampled_from(["monthly", "annual", "3m", "once"]),
       commitment=st.sampled_from([None, 12]), auto_renew=st.booleans(),
       status=st.sampled_from(["active", "cancelled", "suspended", "expired"]),
       started=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31),
                            timezones=st.just(UTC)),
       offset=st.integers(min_value=-400, max_value=400))
def test_the_shortcut_for_a_renewing_record_is_the_state_as_it_stands(
        plan, commitment, auto_renew, status, started, offset):
    """state_at answers most records of a listing (active, renewing, inside the period
    recorded) without working each part out: the answer is as_it_stands's, exactly."""
    from kscli.domain.timeline import _stands, as_it_stands

    sub = make(plan=plan, started=started, commitment=commitment, auto_renew=auto_renew,
               kind="software" if plan == "once" else "subscription")
    if status != "active":
        sub = sub._replace(status=status, cancelled_at=started if status == "cancelled" else None)
    at = started + timedelta(days=offset)
    if _stands(sub, at):
        assert state_at(sub, at) == as_it_stands(sub, at)


_moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31),
                        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-11))]))


@settings(max_examples=500, deadline=None)
@given(plan=st.sampled_from(["monthly", "annual", "3m", "once"]),
       commitment=st.sampled_from([None, 3, 12]), auto_renew=st.booleans(),
       status=st.sampled_from(["active", "active", "cancelled", "suspended", "expired"]),
       started=_moments, recorded=st.integers(0, 30), offset=st.integers(-400, 4000),
       trial=st.sampled_from([None, None, "14d", "1m"]), ends=st.sampled_from([None, 200, 900]),
       priced=st.booleans())
def test_state_at_s_shortcuts_give_what_the_rules_work_out(
        plan, commitment, auto_renew, status, started, recorded, offset, trial, ends, priced):
    """state_at answers records renewing inside their period, and records renewing at
    every boundary since (a ledger not swept for months), without the steps of the
    rules: the answer is the one the rules work out, exactly, whatever the record."""
    from kscli.domain.timeline import _worked_out, period_at

    sub = make(plan=plan, started=started, commitment=commitment, auto_renew=auto_renew,
               kind="software" if plan == "once" else "subscription")
    sub = sub._replace(trial=trial, ends=None if ends is None else started + timedelta(days=ends),
                       prices={iso(started + timedelta(days=40)): "12.00"} if priced else {})
    if plan != "once":  # the period recorded: the first, or one a sweep recorded later
        start, end = period_at(sub, started + timedelta(days=31 * recorded))
        sub = sub._replace(period_start=start, period_end=end)
    if status != "active":
        sub = sub._replace(status=status, cancelled_at=started if status == "cancelled" else None)
    at = started + timedelta(days=offset, seconds=offset * 37)
    assert state_at(sub, at) == _worked_out(sub, at, None, False)
    assert state_at(sub, at, steps=True) == _worked_out(sub, at, None, True)
