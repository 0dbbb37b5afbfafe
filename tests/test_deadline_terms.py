"""Free trials, notice periods and fixed ends (`sub add|edit --trial --notice --ends`),
on every backend: the time rules of kscli.domain.timeline at their boundaries (the
cancel-by day and the day after, a trial ending on 29 February and at a month end,
notice across a year end, --as-of), the policy clauses cancel.notice and cancel.trial,
bad input, and the round trip through export and import."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from freezegun import freeze_time

from kscli.store.migrations import SCHEMA_VERSION
from tests.conftest import Kscli

EVERY_BACKEND = True
UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def add(kscli, *extra: str, plan: str = "monthly", started: str = "2026-11-05") -> dict:
    return kscli.json("sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan", plan,
                      "--price", "10.00", "--currency", "USD", "--started", started, *extra)


def refused_without_writing(kscli, argv, code, fragment):
    before = kscli("export").stdout
    result = kscli(*argv)
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert fragment in result.stderr and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and len(errors[0]) < 200
    assert kscli("export").stdout == before


def events(kscli, sub_id):
    return [e["action"] for e in kscli.json("sub", "history", sub_id)]


# the pure rules ----------------------------------------------------------------------

def _sub(**fields):
    from kscli.domain.subscriptions import new_subscription

    base = dict(account="a", vendor="V", product="P", plan="monthly", kind="subscription",
                price=Decimal("10.00"), currency="USD", started_at=at("2026-11-05T00:00:00Z"),
                commitment_months=None, auto_renew=True, partner_name=None, partner_portal=None,
                region=None, now=at("2026-11-05T00:00:00Z"))
    base.update(fields)
    return new_subscription("S-1", **base)


@pytest.mark.parametrize("started, trial, ends, next_period", [
    ("2028-02-15T00:00:00Z", "14d", "2028-02-29T00:00:00Z", "2028-03-29T00:00:00Z"),  # leap day
    ("2027-01-31T00:00:00Z", "1m", "2027-02-28T00:00:00Z", "2027-03-28T00:00:00Z"),  # month end
    ("2028-01-31T09:30:00Z", "1m", "2028-02-29T09:30:00Z", "2028-03-29T09:30:00Z"),
])
def test_a_trial_is_the_first_period_and_the_paid_ones_count_from_its_end(
        started, trial, ends, next_period):
    from kscli.domain.calendar import parse_duration
    from kscli.domain.timeline import in_trial, period_at, period_starts, state_at, trial_end

    sub = _sub(started_at=at(started), trial=parse_duration(trial))
    assert trial_end(sub) == at(ends) == sub.period_end
    last_second = at(ends).replace(second=59, minute=59, hour=at(ends).hour - 1) \
        if at(ends).hour else at(ends).replace(day=at(ends).day - 1, hour=23, minute=59, second=59)
    assert in_trial(sub, last_second) and not in_trial(sub, at(ends))
    assert state_at(sub, last_second).display_status == "trial"
    after = state_at(sub, at(ends), steps=True)
    assert after.display_status == "active"
    assert [(s.action, s.at) for s in after.steps] == [("renewed", at(ends))]
    assert period_at(sub, at(ends)) == (at(ends), at(next_period))
    # the trial is not billed: the billed period starts begin at its end
    assert list(period_starts(sub, at(started), at(next_period))) == [at(ends)]


def test_a_commitment_counts_from_the_end_of_the_trial():
    from kscli.domain.calendar import parse_duration

    sub = _sub(trial=parse_duration("1m"), commitment_months=12)
    assert sub.commitment_end == at("2027-12-05T00:00:00Z")


def test_cancel_by_is_the_renewal_day_minus_the_notice_in_whole_utc_days():
    from kscli.domain.calendar import parse_duration
    from kscli.domain.notice import cancel_by, cancel_by_renewal, notice_closes_at

    sub = _sub(started_at=at("2026-11-05T15:00:00Z"), notice=parse_duration("10d"))
    renewal = at("2026-12-05T15:00:00Z")
    assert notice_closes_at(sub, renewal) == at("2026-11-26T00:00:00Z")
    assert cancel_by(sub, at("2026-11-25T23:59:59Z")) == at("2026-11-25T00:00:00Z")
    assert cancel_by_renewal(sub, at("2026-11-25T23:59:59Z")) == renewal
    # the day after, that renewal can no longer be stopped: the next one's day is given
    assert cancel_by(sub, at("2026-11-26T00:00:00Z")) == at("2026-12-26T00:00:00Z")
    assert cancel_by(sub._replace(notice=None), at("2026-11-20T00:00:00Z")) is None
    assert cancel_by(sub._replace(auto_renew=False), at("2026-11-20T00:00:00Z")) is None


def test_no_notice_applies_to_the_end_of_a_trial():
    from kscli.domain.calendar import parse_duration
    from kscli.domain.notice import cancel_by, cancel_by_day

    sub = _sub(trial=parse_duration("14d"), notice=parse_duration("30d"))
    assert cancel_by_day(sub, sub.period_end) is None
    # the first paid renewal is the first one a notice period guards
    assert cancel_by(sub, at("2026-11-10T00:00:00Z")) == at("2026-11-19T00:00:00Z")


def test_a_fixed_end_stops_renewals_and_ends_service_inside_a_period():
    from kscli.domain.timeline import ends_at, fixed_end, state_at

    sub = _sub(ends=at("2027-02-20T00:00:00Z"))
    assert fixed_end(sub) == at("2027-02-20T00:00:00Z")
    assert ends_at(sub) == at("2027-02-20T00:00:00Z")
    state = state_at(sub, at("2027-02-19T23:59:59Z"))
    assert state.status == "active" and state.display_status == "ending"
    assert state.period_start == at("2027-02-05T00:00:00Z") and not state.renews
    done = state_at(sub, at("2027-02-20T00:00:00Z"), steps=True)
    assert done.status == "expired" and done.sub.ended_at == at("2027-02-20T00:00:00Z")
    assert [s.action for s in done.steps] == ["renewed", "renewed", "renewed", "expired"]


# notice periods through the CLI -------------------------------------------------------

def test_renew_off_on_the_cancel_by_day_stops_the_next_renewal(kscli):
    with freeze_time("2026-11-05T00:00:00Z"):
        sub = add(kscli, "--notice", "10d")
        assert sub["notice"] == "10d" and sub["cancel_by"] == "2026-11-25"
    with freeze_time("2026-11-25T23:59:59Z"):
        result = kscli("renew", "off", sub["id"])
        assert result.exit_code == 0, result.stderr
        assert "active until 2026-12-05" in result.stdout + result.stderr
        assert kscli.json("sub", "show", sub["id"])["ends_at"] == "2026-12-05T00:00:00Z"


def test_renew_off_the_day_after_takes_effect_one_period_later_naming_date_and_clause(kscli):
    with freeze_time("2026-11-05T00:00:00Z"):
        sub = add(kscli, "--notice", "10d")
    with freeze_time("2026-11-26T00:00:00Z"):
        result = kscli("renew", "off", sub["id"])
        assert result.exit_code == 0, result.stderr
        said = result.stdout + result.stderr
        assert "one period later" in said and "2027-01-05" in said and "[cancel.notice]" in said
        shown = kscli.json("sub", "show", sub["id"])
        assert shown["auto_renew"] is False and shown["ends_at"] == "2027-01-05T00:00:00Z"
        assert shown["display_status"] == "ending"
        event = kscli.json("sub", "history", sub["id"])[-1]
        assert event["action"] == "renew-off"
        assert event["detail"]["clause"] == "cancel.notice"
        assert event["detail"]["cancel_by"] == "2026-11-25"
    # it renews once more (billed), then expires
    assert kscli.json("sub", "show", sub["id"], "--as-of", "2026-12-10")["period_end"] \
        == "2027-01-05T00:00:00Z"
    with freeze_time("2027-01-06T00:00:00Z"):
        assert kscli("sweep").exit_code == 0
        assert events(kscli, sub["id"])[-2:] == ["renewed", "expired"]
        assert kscli.json("sub", "show", sub["id"])["ended_at"] == "2027-01-05T00:00:00Z"


def test_renew_on_after_a_late_renew_off_lifts_the_end(kscli):
    with freeze_time("2026-11-05T00:00:00Z"):
        sub = add(kscli, "--notice", "10d")
    with freeze_time("2026-11-30T00:00:00Z"):
        kscli("renew", "off", sub["id"])
        assert kscli("renew", "on", sub["id"]).exit_code == 0
        shown = kscli.json("sub", "show", sub["id"])
        assert shown["auto_renew"] is True and shown["ends_at"] is None
        assert shown["ended_at"] is None
    # and a moment before the late renew off was recorded shows it renewing
    with freeze_time("2026-12-01T00:00:00Z"):
        past = kscli.json("sub", "show", sub["id"], "--as-of", "2026-11-29")
        assert past["auto_renew"] is True and past["ended_at"] is None


def test_a_late_cancellation_bills_one_more_period_and_resume_undoes_it(kscli):
    with freeze_time("2026-11-05T00:00:00Z"):
        sub = add(kscli, "--notice", "10d")
        other = add(kscli, "--notice", "10d")
    with freeze_time("2026-11-28T00:00:00Z"):
        result = kscli("sub", "cancel", sub["id"], "--yes")
        assert result.exit_code == 0, result.stderr
        assert "[cancel.notice]" in result.stdout + result.stderr
        shown = kscli.json("sub", "show", sub["id"])
        assert shown["status"] == "cancelled" and shown["ends_at"] == "2027-01-05T00:00:00Z"
        kscli("sub", "cancel", other["id"], "--yes")
        assert kscli("sub", "resume", other["id"]).exit_code == 0
        assert kscli.json("sub", "show", other["id"])["ends_at"] is None
    with freeze_time("2026-12-06T00:00:00Z"):
        shown = kscli.json("sub", "show", sub["id"])
        assert shown["status"] == "cancelled"
        assert shown["period_start"] == "2026-12-05T00:00:00Z"
    with freeze_time("2027-01-05T00:00:00Z"):
        assert kscli.json("sub", "show", sub["id"])["status"] == "expired"


def test_notice_across_a_year_end(kscli):
    with freeze_time("2026-01-05T00:00:00Z"):
        sub = add(kscli, "--notice", "14d", plan="annual", started="2026-01-05")
    with freeze_time("2026-12-22T12:00:00Z"):
        assert kscli.json("sub", "show", sub["id"])["cancel_by"] == "2026-12-22"
    # --as-of answers for a moment ahead: the next year's day
    assert kscli.json("sub", "show", sub["id"], "--as-of", "2026-12-23")["cancel_by"] \
        == "2027-12-22"
    with freeze_time("2026-12-23T00:00:00Z"):
        result = kscli("renew", "off", sub["id"])
        assert "2028-01-05" in result.stdout + result.stderr
        assert kscli.json("sub", "show", sub["id"])["ends_at"] == "2028-01-05T00:00:00Z"


# trials through the CLI ----------------------------------------------------------------

def test_a_trial_shows_as_trial_then_its_end_is_the_first_charge(kscli):
    with freeze_time("2026-11-20T00:00:00Z"):
        sub = add(kscli, "--trial", "14d", started="2026-11-20")
        assert sub["display_status"] == "trial" and sub["trial"] == "14d"
        assert sub["trial_ends_at"] == sub["period_end"] == "2026-12-04T00:00:00Z"
        due = kscli.json("renew", "due", "--within", "30d")
        assert [d["id"] for d in due] == [sub["id"]]
        table = kscli("sub", "list").stdout
        assert "trial" in table and "first charge 2026-12-04" in table
        assert kscli.json("sub", "list", "--status", "trial")[0]["id"] == sub["id"]
        refund = kscli("--format", "json", "refund", "check", sub["id"])
        assert refund.exit_code == 4 and refund.json()["clause"] == "cancel.trial"
    with freeze_time("2026-12-04T00:00:01Z"):
        kscli("sweep")
        renewed = kscli.json("sub", "history", sub["id"])[-1]
        assert renewed["action"] == "renewed"
        assert renewed["detail"]["expected_charge"] == "10.00"
        assert kscli.json("sub", "show", sub["id"])["display_status"] == "active"
    assert kscli.json("sub", "show", sub["id"], "--as-of", "2026-12-01")["display_status"] \
        == "trial"


def test_a_trial_cancelled_before_its_end_runs_to_it_and_costs_nothing(kscli):
    with freeze_time("2026-11-20T00:00:00Z"):
        sub = add(kscli, "--trial", "1m", started="2026-11-20")
    with freeze_time("2026-12-01T00:00:00Z"):
        result = kscli("sub", "cancel", sub["id"], "--yes")
        assert "[cancel.trial]" in result.stdout + result.stderr
        assert kscli.json("sub", "show", sub["id"])["ends_at"] == "2026-12-20T00:00:00Z"
        assert kscli.json("sub", "history", sub["id"])[-1]["detail"]["clause"] == "cancel.trial"
    with freeze_time("2027-01-10T00:00:00Z"):
        kscli("sweep")
        assert "renewed" not in events(kscli, sub["id"])
        refund = kscli("--format", "json", "refund", "check", sub["id"])
        assert refund.exit_code == 4 and refund.json()["clause"] == "cancel.trial"


def test_the_money_back_window_of_a_converted_trial_counts_from_the_first_charge(kscli):
    with freeze_time("2026-11-01T00:00:00Z"):
        sub = add(kscli, "--trial", "30d", plan="annual", started="2026-11-01")
    with freeze_time("2027-01-29T00:00:00Z"):  # day 59 of the first paid year
        result = kscli("--format", "json", "refund", "check", sub["id"])
        assert result.exit_code == 0 and result.json()["clause"] == "refund.money-back"
        assert result.json()["amount"] == "10.00"


# fixed ends ----------------------------------------------------------------------------

def test_a_fixed_end_shows_the_end_and_sweep_ends_it_there(kscli):
    with freeze_time("2026-11-05T00:00:00Z"):
        sub = add(kscli, "--ends", "2027-01-20")
        assert sub["ends"] == "2027-01-20T00:00:00Z" and sub["ends_at"] == "2027-01-20T00:00:00Z"
    shown = kscli.json("sub", "show", sub["id"], "--as-of", "2027-01-19")
    assert shown["display_status"] == "ending" and shown["status"] == "active"
    assert kscli.json("sub", "show", sub["id"], "--as-of", "2027-01-20")["status"] == "expired"
    with freeze_time("2027-03-01T00:00:00Z"):
        kscli("sweep")
        assert events(kscli, sub["id"])[-3:] == ["renewed", "renewed", "expired"]
        assert kscli.json("sub", "show", sub["id"])["ended_at"] == "2027-01-20T00:00:00Z"


# sub edit ------------------------------------------------------------------------------

def test_edit_sets_and_clears_each_term_in_one_event(kscli):
    with freeze_time("2026-11-20T00:00:00Z"):
        sub = add(kscli, started="2026-11-20")
        kscli("sub", "edit", sub["id"], "--trial", "14d", "--notice", "7d", "--ends", "2027-06-01")
        shown = kscli.json("sub", "show", sub["id"])
        assert (shown["trial"], shown["notice"], shown["ends"]) == ("14d", "7d",
                                                                     "2027-06-01T00:00:00Z")
        assert shown["period_end"] == "2026-12-04T00:00:00Z"
        event = kscli.json("sub", "history", sub["id"])[-1]
        assert event["detail"]["before"]["trial"] is None
        assert event["detail"]["after"]["ends"] == "2027-06-01T00:00:00Z"
        kscli("sub", "edit", sub["id"], "--no-trial", "--no-notice", "--no-ends")
        shown = kscli.json("sub", "show", sub["id"])
        assert (shown["trial"], shown["notice"], shown["ends"]) == (None, None, None)
        assert shown["period_end"] == "2026-12-20T00:00:00Z"
        again = kscli("sub", "edit", sub["id"], "--no-trial")
        assert again.exit_code == 0 and "nothing changed" in again.stderr


def test_a_trial_cannot_change_after_the_first_charge(kscli):
    with freeze_time("2026-12-10T00:00:00Z"):
        sub = add(kscli, started="2026-10-01")
        refused_without_writing(kscli, ("sub", "edit", sub["id"], "--trial", "14d"), 4,
                                "before the first charge")


@pytest.mark.parametrize("argv, fragment", [
    (("--trial", "14x"), "is not a duration"),
    (("--notice", "0.5m"), "is not a duration"),
    (("--ends", "2026-13-01"), "is not a valid date"),
    (("--ends", "2026-11-01"), "is not after the start"),
])
def test_bad_terms_on_add_exit_2_in_one_line_and_write_nothing(kscli, argv, fragment):
    with freeze_time("2026-11-20T00:00:00Z"):
        add(kscli)
        refused_without_writing(
            kscli, ("sub", "add", "--vendor", "B", "--product", "P", "--plan", "monthly",
                    "--price", "1", "--currency", "USD", "--started", "2026-11-05", *argv),
            2, fragment)


def test_bad_terms_on_edit_and_a_sale_with_a_trial_are_refused(kscli):
    with freeze_time("2026-11-20T00:00:00Z"):
        sub = add(kscli)
        refused_without_writing(kscli, ("sub", "edit", sub["id"], "--ends", "2027-01-01",
                                        "--no-ends"), 2, "not both")
        refused_without_writing(kscli, ("sub", "edit", sub["id"], "--ends", "2026-11-01"), 4,
                                "not after the start of the current period")
        refused_without_writing(
            kscli, ("sub", "add", "--vendor", "W", "--product", "Photo", "--kind", "software",
                    "--price", "149", "--currency", "USD", "--trial", "14d"), 2, "one-time")


# export and import, every backend -------------------------------------------------------

def test_the_terms_round_trip_through_export_and_import(kscli, tmp_path):
    with freeze_time("2026-11-20T00:00:00Z"):
        sub = add(kscli, "--trial", "1m", "--notice", "30d", "--ends", "2028-01-01",
                  started="2026-11-20")
        exported = kscli("export").stdout
        row = next(r for r in json.loads(exported)["tables"]["subs"] if r["id"] == sub["id"])
        assert (row["trial"], row["notice"], row["ends"]) == ("1m", "30d", "2028-01-01T00:00:00Z")
        path = tmp_path / "export.json"
        path.write_text(exported)
        fresh = Kscli(str(tmp_path / "copy.json"))
        assert fresh("import", str(path)).exit_code == 0
        copied = fresh.json("sub", "show", sub["id"])
        assert (copied["trial"], copied["notice"], copied["ends"]) == (
            "1m", "30d", "2028-01-01T00:00:00Z")
        assert copied["display_status"] == "trial"


# the policy ---------------------------------------------------------------------------

def test_the_default_policy_has_the_two_clauses_and_an_older_file_still_reads(tmp_path):
    from kscli.domain.policy_lint import lint_policy
    from kscli.policy_files import default_policy_text, load_default, load_policy

    policy = load_default()
    assert "notice period" in policy.clause("cancel.notice").text
    assert "costs nothing" in policy.clause("cancel.trial").text
    assert lint_policy(default_policy_text()) == []
    older = "\n".join(line for line in _without_clauses(default_policy_text(),
                                                         ("cancel.notice", "cancel.trial")))
    problems = lint_policy(older)
    assert {p.clause for p in problems} == {"cancel.notice", "cancel.trial"}
    assert all(p.severity == "warning" for p in problems)
    path = tmp_path / "old.toml"
    path.write_text(older)
    assert load_policy(path).clause("cancel.trial").text == policy.clause("cancel.trial").text


def _without_clauses(text: str, ids: tuple[str, ...]):
    skipping = False
    for line in text.splitlines():
        if line.startswith("[clause."):
            skipping = any(f'"{cid}"' in line for cid in ids)
        if not skipping:
            yield line


# the sample ------------------------------------------------------------------------------

def test_the_sample_holds_a_trial_and_a_notice_period(kscli):
    with freeze_time("2026-11-22T10:00:00Z"):
        assert kscli("init", "--sample").exit_code == 0
        subs = kscli.json("sub", "list")
        trial = [s for s in subs if s["trial"]]
        notice = [s for s in subs if s["notice"]]
        assert [s["display_status"] for s in trial] == ["trial"]
        assert trial[0]["trial_ends_at"] > "2026-11-22"
        assert len(notice) == 1 and notice[0]["cancel_by"] > "2026-11-22"
        assert date.fromisoformat(notice[0]["cancel_by"]) == date(2026, 12, 7)


# charges check and report treat the trial as unpaid ---------------------------------------

def test_a_charge_during_the_trial_is_flagged_and_the_first_charge_is_not(kscli, tmp_path):
    with freeze_time("2026-11-01T00:00:00Z"):
        sub = add(kscli, "--trial", "14d", started="2026-11-01")
    path = tmp_path / "statement.csv"
    path.write_text("date,description,amount,currency\n2026-11-01,ACME,10.00,USD\n"
                    "2026-11-14,ACME,10.00,USD\n2026-11-15,ACME,10.00,USD\n", encoding="utf-8")
    with freeze_time("2026-11-20T00:00:00Z"):
        assert kscli("charges", "import", str(path)).exit_code == 0
        result = kscli("--format", "json", "charges", "check")
        assert result.exit_code == 1
        found = [(f["kind"], f["posted_on"]) for f in result.json()]
        assert found == [("in-trial", "2026-11-01"), ("in-trial", "2026-11-14")]
        assert "[cancel.trial]" in result.json()[0]["message"]
        assert sub["id"] == result.json()[0]["sub_id"]


def test_report_bills_nothing_for_the_trial(kscli):
    with freeze_time("2026-11-01T00:00:00Z"):
        add(kscli, "--trial", "1m", started="2026-10-10")
        doc = kscli.json("report", "--months", "2", "--forecast", "1")
    billed = {(r["month"], r["billed"], r["projected"]) for r in doc["rows"]}
    assert ("2026-10", "0.00", "0.00") in billed  # the trial's month: nothing
    assert ("2026-11", "0.00", "10.00") in billed  # the first charge, at the trial's end
    assert doc["bills"] == 2  # 10 November and the forecast's 10 December


# an old ledger ------------------------------------------------------------------------

@pytest.mark.parametrize("old", ["sqlite", "json", pytest.param("postgres",
                                                                marks=pytest.mark.postgres)])
def test_an_old_ledger_upgrades_to_the_new_terms(tmp_path, old):
    from kscli.store import open_store
    from tests.test_migrations import _old_ledger

    spec = _old_ledger("v2", old, tmp_path)
    kscli = Kscli(spec)
    before = json.loads(kscli("export").stdout)["tables"]["subs"]
    assert before and all((row["trial"], row["notice"], row["ends"]) == (None, None, None)
                          for row in before)
    shown = kscli.json("sub", "edit", "S-1001", "--notice", "30d")
    assert shown["notice"] == "30d"
    assert open_store(spec).schema_version() == SCHEMA_VERSION
    assert kscli.json("sub", "show", "S-1001")["notice"] == "30d"
