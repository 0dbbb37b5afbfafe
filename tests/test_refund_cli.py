"""`kscli refund check` and `refund request` through the CLI, on both backends.

Every worked case of the refund policy (CASES below, the same cases as
tests/test_refund_cases.py) is built from its facts with kscli commands
(`sub add --started`, `incident`, `sweep`, `license issue`, `sub cancel`) and answered
through `refund check`: the exit code, the deciding clause, the amount, the trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

import pytest
from freezegun import freeze_time

from kscli.domain.calendar import iso as stamp
from kscli.policy_files import default_policy_text
from tests import helpers
from tests.conftest import ledger_created
from tests.helpers import REF

EVERY_BACKEND = True  # SQLite, JSON and PostgreSQL (conftest.pytest_generate_tests)

UTC = timezone.utc
START = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)  # a Sunday morning
PORTAL = "https://portal.northwind.example/subscriptions"
EVERY_CLAUSE_EVALUATED = {"cancel.direct", "refund.exclusions", "cancel.partner"}


def day_n(n: int, start: datetime = START) -> datetime:
    return helpers.day_n(n, start)


def add(kscli, started: datetime = START, **options) -> str:
    argv = ["sub", "add", "--vendor", "Initech", "--product", "Backup Plus", "--price",
            options.pop("price", "120.00"), "--currency", "USD", "--started", stamp(started)]
    if options.get("kind") != "software":
        argv += ["--plan", options.pop("plan", "annual")]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return kscli.json(*argv)["id"]


def run_at(when: datetime, kscli, *args, **kwargs):
    with freeze_time(when):
        return kscli(*args, **kwargs)


def json_at(when: datetime, kscli, *args):
    with freeze_time(when):
        return kscli.json(*args)


def check_at(when: datetime, kscli, sub_id: str, *extra: str):
    """`refund check` under JSON at ``when``: (exit code, answer)."""
    result = run_at(when, kscli, "refund", "check", sub_id, *extra, fmt="json")
    assert result.exit_code in (0, 4), (result.exit_code, result.stderr)
    return result.exit_code, result.json()


def incident(kscli, sub_id: str, opened: datetime, state: str = "open") -> str:
    inc = json_at(opened, kscli, "incident", "open", sub_id, "--summary", "printer offline")
    if state != "open":
        verb = "exhaust" if state == "exhausted" else "resolve"
        json_at(opened + timedelta(days=2), kscli, "incident", verb, inc["id"])
    return inc["id"]


# -- the worked cases of the refund policy ------------------------------------------------


@dataclass
class Case:
    """Facts built at their own times; the question asked at ``asked``."""

    build: Callable  # (kscli) -> sub id
    asked: datetime
    eligible: bool
    clause: str
    amount: str | None
    ground: str | None = None
    says: tuple[str, ...] = field(default_factory=tuple)


def _annual(kscli):
    with freeze_time(START):
        return add(kscli)


def _monthly(kscli):
    with freeze_time(START):
        return add(kscli, plan="monthly", price="9.99")


def _renewed(kscli):
    started = datetime(2025, 11, 1, 9, 30, tzinfo=UTC)
    with freeze_time(started):
        sub_id = add(kscli, started=started)
    swept = json_at(day_n(10), kscli, "sweep")
    assert [c["action"] for c in swept] == ["renewed"]
    return sub_id


def _cancelled_last_week(kscli):
    sub_id = _annual(kscli)
    cancelled = json_at(day_n(13), kscli, "sub", "cancel", sub_id, "--yes")
    assert cancelled["status"] == "cancelled"
    return sub_id


def _committed(kscli):
    with freeze_time(START):
        return add(kscli, commitment="24m")


def _partner(kscli):
    with freeze_time(START):
        return add(kscli, partner="Northwind Resellers", partner_portal=PORTAL)


def _software(kscli, key: bool):
    with freeze_time(START):
        sub_id = add(kscli, kind="software", price="149.00")
    if key:
        issued = json_at(day_n(1), kscli, "license", "issue", "--product", "Backup Plus",
                         "--sub", sub_id)
        assert issued[0]["sub_id"] == sub_id and issued[0]["issued"] is True
    return sub_id


def _support(kscli, *states: str, start: datetime = START):
    with freeze_time(start):
        sub_id = add(kscli, started=start, kind="support", price="480.00")
    for n, state in enumerate(states):
        incident(kscli, sub_id, day_n(3 + 5 * n, start), state)
    return sub_id


def _support_renewed_then_incident(kscli):
    start = datetime(2025, 1, 1, tzinfo=UTC)
    sub_id = _support(kscli, start=start)
    renewal = datetime(2026, 1, 1, tzinfo=UTC)
    assert [c["action"] for c in json_at(renewal + timedelta(days=2), kscli, "sweep")] == ["renewed"]
    incident(kscli, sub_id, renewal + timedelta(days=5), "exhausted")
    return sub_id


def _refunded(kscli):
    sub_id = _annual(kscli)
    done = json_at(day_n(5), kscli, "refund", "request", sub_id, "--yes")
    assert done["status"] == "refunded"
    return sub_id


def _expired(kscli):
    with freeze_time(START):
        sub_id = add(kscli, plan="monthly", price="9.99", no_auto_renew=True)
    assert [c["action"] for c in json_at(day_n(40), kscli, "sweep")] == ["expired"]
    return sub_id


CASES = {
    1: Case(_annual, day_n(30), True, "refund.money-back", "120.00",
            says=("day 30 of the 60-day money-back window",)),
    2: Case(_annual, day_n(60), True, "refund.money-back", "120.00",
            says=("day 60 of the 60-day",)),
    3: Case(_annual, day_n(61), False, "refund.billed-final", None,
            says=("closed on 2026-12-31",)),
    4: Case(_monthly, day_n(10), False, "refund.billed-final", None,
            says=("monthly plans have no money-back window", "cancelling is never a refund")),
    5: Case(_renewed, day_n(10), True, "refund.money-back", "120.00",
            says=("day 10", "started on 2026-11-01")),
    6: Case(_cancelled_last_week, day_n(20), True, "refund.money-back", "120.00",
            says=("did not use up the window",)),
    7: Case(_committed, day_n(30), True, "refund.money-back", "120.00",
            says=("a refund ends the commitment",)),
    8: Case(_partner, day_n(30), False, "cancel.partner", None, says=(PORTAL,)),
    9: Case(_annual, day_n(30), False, "cancel.direct", None, ground="chargeback",
            says=("is not a cancellation",)),
    10: Case(_annual, day_n(30), False, "refund.exclusions", None, ground="hardware-failure",
             says=("hardware",)),
    11: Case(lambda k: _software(k, key=True), day_n(5), False, "refund.software-final", None,
             says=("L-1001 was issued",)),
    12: Case(lambda k: _software(k, key=False), day_n(5), True, "refund.software-final",
             "149.00", says=("no license key has been issued yet",)),
    13: Case(lambda k: _support(k), day_n(30), True, "refund.not-started", "480.00",
             says=("may then be refused further service",)),
    14: Case(lambda k: _support(k, "open"), day_n(30), False, "refund.initial-incident", None,
             says=("still open", "cannot stop support early")),
    15: Case(lambda k: _support(k, "exhausted"), day_n(30), True, "refund.initial-incident",
             "480.00", says=("after every option was tried",)),
    16: Case(lambda k: _support(k, "resolved"), day_n(30), False, "refund.initial-incident",
             None, says=("void",)),
    17: Case(lambda k: _support(k, "exhausted", "resolved"), day_n(30), False,
             "refund.initial-incident", None, says=("I-1002 was resolved", "void")),
    18: Case(lambda k: _support(k, "exhausted"), day_n(30), False, "refund.exclusions", None,
             ground="os-reinstall-declined", says=("OS reinstall",)),
    19: Case(_support_renewed_then_incident, datetime(2026, 1, 20, tzinfo=UTC), False,
             "refund.billed-final", None, says=("outside the first billing period",)),
    20: Case(_refunded, day_n(20), False, "refund.billed-final", None,
             says=("already refunded",)),
    21: Case(_expired, day_n(45), False, "refund.billed-final", None, says=("expired",)),
}


@pytest.mark.parametrize("number", sorted(CASES))
def test_every_policy_case_gets_its_answer_through_the_cli(kscli, number):
    case = CASES[number]
    sub_id = case.build(kscli)
    extra = ("--ground", case.ground) if case.ground else ()
    code, answer = check_at(case.asked, kscli, sub_id, *extra)

    assert code == (0 if case.eligible else 4)
    assert answer["eligible"] is case.eligible
    assert answer["clause"] == case.clause
    assert answer["amount"] == case.amount
    assert answer["sub_id"] == sub_id and answer["policy_version"] == "2026-11-01"
    said = " ".join(f["sentence"] for f in answer["reasons"])
    assert answer["message"] in said
    for words in case.says:
        assert words in said
    decided = [f for f in answer["trace"] if f["outcome"] == "decides"]
    assert [f["clause"] for f in decided] == [case.clause]
    if not case.eligible:  # the refusal shape (README, "Exit codes")
        assert answer["error"] and answer["message"]
        assert answer["credit_from"] is None and answer["credit_by"] is None
    else:
        assert answer["error"] is None and answer["credit_from"] and answer["credit_by"]


def test_case_5_amount_is_the_renewals_charge(kscli):
    sub_id = _renewed(kscli)
    renewed = [e for e in kscli.json("sub", "history", sub_id) if e["action"] == "renewed"]
    _, answer = check_at(day_n(10), kscli, sub_id)
    assert answer["amount"] == renewed[0]["detail"]["expected_charge"] == "120.00"


def test_case_8_names_the_partner_portal_in_text_and_json(kscli):
    sub_id = _partner(kscli)
    code, answer = check_at(day_n(30), kscli, sub_id)
    assert code == 4 and answer["partner_portal"] == PORTAL
    assert answer["error"] == "partner-channel"
    text = run_at(day_n(30), kscli, "refund", "check", sub_id)
    assert f"partner portal: {PORTAL}" in text.stdout


def test_case_20_names_the_earlier_refunds_reference(kscli):
    sub_id = _annual(kscli)
    done = json_at(day_n(5), kscli, "refund", "request", sub_id, "--yes")
    code, answer = check_at(day_n(6), kscli, sub_id)
    assert code == 4 and answer["error"] == "already-refunded"
    assert done["reference"] in answer["message"]


def test_a_refund_during_a_commitment_ends_it(kscli):
    sub_id = _committed(kscli)
    refused = run_at(day_n(30), kscli, "sub", "cancel", sub_id, "--yes")
    assert refused.exit_code == 4  # cancelling is blocked by the commitment...
    done = json_at(day_n(30), kscli, "refund", "request", sub_id, "--yes")
    assert done["status"] == "refunded" and done["ends_at"].startswith("2026-12-01")
    assert json_at(day_n(400), kscli, "sweep") == []  # ...a refund ends it: no renewals
    commitment = [f for f in done["refund"]["trace"] if f["clause"] == "cancel.commitment"]
    assert "a refund ends the commitment" in commitment[0]["sentence"]


# -- the answer as people read it --------------------------------------------------------


def test_eligible_answer_in_words_is_golden(kscli):
    sub_id = _annual(kscli)
    result = run_at(datetime(2026, 12, 2, 15, tzinfo=UTC), kscli, "refund", "check", sub_id)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "S-1001 Initech Backup Plus: eligible for a full refund of 120.00 USD [refund.money-back]",
        "  - day 31 of the 60-day money-back window of annual plans (the period started on "
        "2026-11-01): full refund of the period's price [refund.money-back]",
        "  - the refund is the full price of the period, never a part [refund.no-proration]",
        "money-back window closes 2026-12-31, in 29 days",
        "if processed today, credited between 2026-12-09 and 2026-12-11 (5 to 7 business days) "
        "[refund.timing]",
        "policy version 2026-11-01",
    ]


def test_refusal_in_words_never_says_a_refund_is_due_and_invents_no_fee(kscli):
    sub_id = _monthly(kscli)
    result = run_at(day_n(10), kscli, "refund", "check", sub_id)
    assert result.exit_code == 4
    assert result.stdout.splitlines()[0] == (
        "S-1001 Initech Backup Plus: not eligible for a refund [refund.billed-final]")
    assert "[refund.billed-final]" in result.stdout.splitlines()[1]
    text = result.stdout.lower()
    for wrong in ("eligible for a full refund", "refund of 9.99", "is due", "fee", "penalt",
                  "credited between"):
        assert wrong not in text
    assert result.stderr == ""


@pytest.mark.parametrize("processed, credit_from, credit_by", [
    (datetime(2026, 12, 2, 10, tzinfo=UTC), "2026-12-09", "2026-12-11"),  # Wednesday
    (datetime(2026, 12, 4, 10, tzinfo=UTC), "2026-12-11", "2026-12-15"),  # Friday
    (datetime(2026, 12, 5, 10, tzinfo=UTC), "2026-12-11", "2026-12-15"),  # Saturday
])
def test_credit_dates_skip_weekends(kscli, processed, credit_from, credit_by):
    sub_id = _annual(kscli)
    code, answer = check_at(processed, kscli, sub_id)
    assert code == 0
    assert (answer["credit_from"], answer["credit_by"]) == (credit_from, credit_by)
    text = run_at(processed, kscli, "refund", "check", sub_id).stdout
    assert f"credited between {credit_from} and {credit_by} (5 to 7 business days)" in text


def test_json_trace_names_every_clause_evaluated_in_order(kscli):
    sub_id = _annual(kscli)
    _, answer = check_at(day_n(30), kscli, sub_id)
    clauses = [f["clause"] for f in answer["trace"]]
    assert clauses[:3] == ["cancel.direct", "refund.exclusions", "cancel.partner"]
    assert clauses[-2:] == ["refund.money-back", "refund.timing"]
    assert all(set(f) == {"clause", "outcome", "sentence"} for f in answer["trace"])
    assert {f["outcome"] for f in answer["trace"]} == {"does not apply", "applies", "decides"}
    assert answer["deadline"] == "2026-12-31"
    assert answer["deadline_text"] == "money-back window closes 2026-12-31, in 30 days"


# -- --as-of and the policy file -----------------------------------------------------------


def test_as_of_moves_the_question_in_time_and_a_date_alone_is_midnight(kscli):
    sub_id = _annual(kscli)
    now = day_n(10)
    last = run_at(now, kscli, "refund", "check", sub_id, "--as-of", "2026-12-31T23:59:59Z",
                  fmt="json")
    assert last.exit_code == 0 and last.json()["deadline_text"].endswith("today")
    after = run_at(now, kscli, "refund", "check", sub_id, "--as-of", "2027-01-01", fmt="json")
    assert after.exit_code == 4 and after.json()["as_of"] == "2027-01-01T00:00:00Z"
    text = run_at(now, kscli, "refund", "check", sub_id, "--as-of", "2026-12-31").stdout
    assert "if processed on 2026-12-31, credited between" in text
    # The same facts always give the same answer, whenever the question is asked.
    _, asked_then = check_at(day_n(61), kscli, sub_id)
    assert {**asked_then, "as_of": None} == {**after.json(), "as_of": None}


def test_as_of_before_the_subscription_existed_is_a_bad_value(kscli):
    sub_id = _annual(kscli)
    result = run_at(day_n(3), kscli, "refund", "check", sub_id, "--as-of", "2026-01-01")
    assert result.exit_code == 2 and result.stdout == ""
    assert "before S-1001 started" in result.stderr and "Traceback" not in result.stderr


def test_as_of_past_a_renewal_counts_the_renewed_period_before_sweep_runs(kscli):
    sub_id = _annual(kscli)
    code, answer = check_at(day_n(10), kscli, sub_id, "--as-of", "2027-11-20")
    assert code == 0 and "started on 2027-11-01" in answer["message"]


def test_as_of_before_a_later_cancellation_or_refund_answers_as_things_stood(kscli):
    sub_id = _annual(kscli)
    json_at(day_n(20), kscli, "sub", "cancel", sub_id, "--yes")
    json_at(day_n(25), kscli, "refund", "request", sub_id, "--yes")
    code, then = check_at(day_n(40), kscli, sub_id, "--as-of", stamp(day_n(10)))
    assert code == 0 and then["clause"] == "refund.money-back"
    end_of_term = [f for f in then["trace"] if f["clause"] == "cancel.end-of-term"]
    assert end_of_term[0]["outcome"] == "does not apply"
    code, cancelled = check_at(day_n(40), kscli, sub_id, "--as-of", stamp(day_n(22)))
    assert code == 0 and "cancelled on 2026-11-21" in " ".join(
        f["sentence"] for f in cancelled["reasons"])
    code, now = check_at(day_n(40), kscli, sub_id)
    assert code == 4 and now["error"] == "already-refunded"


def _policy_file(tmp_path, days: int = 30, version: str = "acme-30") -> str:
    text = default_policy_text().replace("\nannual = 60\n", f"\nannual = {days}\n")
    text = text.replace('version = "2026-11-01"', f'version = "{version}"')
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_custom_policy_with_30_days_changes_the_answer(kscli, tmp_path):
    sub_id = _annual(kscli)
    policy = _policy_file(tmp_path)
    code, answer = check_at(day_n(45), kscli, sub_id)
    assert code == 0 and answer["policy_version"] == "2026-11-01"

    with freeze_time(day_n(45)):
        outside = kscli("--policy", policy, "refund", "check", sub_id)
    assert outside.exit_code == 4
    assert "the money-back window closed on 2026-12-01 (today is day 45" in outside.stdout
    assert "policy version acme-30" in outside.stdout

    with freeze_time(day_n(30)):
        inside = kscli("refund", "check", sub_id, fmt="json", env={"KSCLI_POLICY": policy})
    assert inside.exit_code == 0
    assert inside.json()["policy_version"] == "acme-30"
    assert inside.json()["deadline"] == "2026-12-01"
    assert "day 30 of the 30-day money-back window" in inside.json()["message"]


# -- refund request ------------------------------------------------------------------------


def _events(kscli, subject: str) -> list[dict]:
    from tests.conftest import exported_events

    return exported_events(kscli, subject)


def test_request_records_the_refund_ends_service_and_revokes_keys(kscli):
    sub_id = _annual(kscli)
    key = json_at(day_n(1), kscli, "license", "issue", "--product", "Backup Plus",
                  "--sub", sub_id)[0]
    done = json_at(datetime(2026, 12, 2, 15, tzinfo=UTC), kscli, "refund", "request", sub_id,
                   "--yes")

    assert REF.fullmatch(done["reference"])
    assert done["status"] == "refunded" and done["auto_renew"] is False
    assert done["ended_at"] == "2026-12-02T15:00:00Z"
    assert done["revoked_licenses"] == [key["id"]]
    assert done["refund"]["eligible"] is True and done["refund"]["amount"] == "120.00"

    refunded = [e for e in kscli.json("sub", "history", sub_id) if e["action"] == "refunded"]
    assert len(refunded) == 1
    detail = refunded[0]["detail"]
    assert refunded[0]["reference"] == done["reference"]
    assert detail["clause"] == "refund.money-back"
    assert (detail["amount"], detail["currency"]) == ("120.00", "USD")
    assert detail["policy_version"] == "2026-11-01"
    assert (detail["credit_from"], detail["credit_by"]) == ("2026-12-09", "2026-12-11")
    assert [r["clause"] for r in detail["reasons"]] == [
        "refund.no-proration", "refund.money-back", "refund.timing"]
    assert detail["revoked_licenses"] == [key["id"]]
    assert "key" not in detail and key["key"] not in str(detail)

    shown = kscli.json("license", "show", key["id"])
    assert (shown["status"], shown["status_reason"]) == ("revoked", "refunded")
    revoked = [e for e in _events(kscli, key["id"]) if e["action"] == "revoked"]
    assert len(revoked) == 1 and key["key"] not in str(revoked[0])
    # Service ended: nothing renews or bills any more.
    assert json_at(day_n(400), kscli, "sweep") == []


def test_request_prints_the_refund_in_words_with_its_reference(kscli):
    sub_id = _annual(kscli)
    result = run_at(datetime(2026, 12, 2, 15, tzinfo=UTC), kscli, "refund", "request", sub_id,
                    "--yes")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "S-1001: refunded 120.00 USD [refund.money-back]; service ended now"
    assert ("if processed today, credited between 2026-12-09 and 2026-12-11 "
            "(5 to 7 business days) [refund.timing]") in lines
    assert any(line.startswith("status") and line.endswith("refunded") for line in lines)
    assert REF.search(lines[-1]) and lines[-1].startswith("reference")


def test_a_recorded_refund_keeps_the_policy_version_it_used(kscli, tmp_path):
    sub_id = _annual(kscli)
    policy = _policy_file(tmp_path, days=30, version="acme-30")
    with freeze_time(day_n(10)):
        done = kscli("--policy", policy, "refund", "request", sub_id, "--yes", fmt="json")
    assert done.exit_code == 0 and done.json()["refund"]["policy_version"] == "acme-30"
    # Later, under another policy, the recorded explanation is unchanged.
    (tmp_path / "policy.toml").write_text(default_policy_text(), encoding="utf-8")
    with freeze_time(day_n(20)):
        history = kscli.json("--policy", policy, "sub", "history", sub_id)
        again = kscli("--policy", policy, "refund", "check", sub_id, fmt="json")
    detail = [e for e in history if e["action"] == "refunded"][0]["detail"]
    assert detail["policy_version"] == "acme-30"
    assert any("30-day money-back window" in r["sentence"] for r in detail["reasons"])
    assert again.exit_code == 4 and again.json()["policy_version"] == "2026-11-01"
    assert done.json()["reference"] in again.json()["message"]


@pytest.mark.parametrize("build, asked, extra", [
    (_monthly, day_n(10), ()),
    (_annual, day_n(30), ("--ground", "chargeback")),
    (lambda k: _support(k, "open"), day_n(30), ()),
])
def test_a_request_that_is_not_eligible_exits_4_and_changes_nothing(kscli, build, asked, extra):
    sub_id = build(kscli)
    before = kscli("export").stdout
    result = run_at(asked, kscli, "refund", "request", sub_id, "--yes", *extra, fmt="json")
    assert result.exit_code == 4
    answer = result.json()
    assert answer["eligible"] is False and answer["error"] and answer["clause"]
    assert answer["message"]
    assert "no refund recorded; nothing changed" in result.stderr
    assert kscli("export").stdout == before


def test_request_off_a_terminal_needs_yes_and_writes_nothing(kscli):
    sub_id = _annual(kscli)
    before = kscli("export").stdout
    result = run_at(day_n(10), kscli, "refund", "request", sub_id)
    assert result.exit_code == 2 and "--yes" in result.stderr
    assert "Traceback" not in result.stderr
    assert kscli("export").stdout == before


def test_request_on_a_terminal_asks_with_the_amount(kscli, monkeypatch):
    sub_id = _annual(kscli)
    monkeypatch.setattr("kscli.cli.common.interactive", lambda: True)
    declined = run_at(day_n(10), kscli, "refund", "request", sub_id, input="n\n")
    assert declined.exit_code == 1
    assert "Refund 120.00 USD on S-1001" in declined.stderr
    assert kscli.json("sub", "show", sub_id)["status"] == "active"
    accepted = run_at(day_n(10), kscli, "refund", "request", sub_id, input="y\n")
    assert accepted.exit_code == 0
    assert kscli.json("sub", "show", sub_id)["status"] == "refunded"


def test_unknown_subscription_exits_3(kscli, store_path):
    import os

    for argv in (["check", "S-4040"], ["request", "S-4040", "--yes"]):
        result = kscli("refund", *argv, fmt="json")
        assert result.exit_code == 3
        assert result.json()["error"] == "not-found"
        assert "S-4040" in result.stderr
        if argv[0] == "check":  # read-only: never creates the ledger
            assert not ledger_created(store_path)


def test_support_refund_not_started_flags_the_customer(kscli):
    sub_id = _support(kscli)
    result = run_at(day_n(30), kscli, "refund", "request", sub_id, "--yes")
    assert result.exit_code == 0
    assert ("note: the customer may be refused further service [refund.not-started]"
            in result.stdout)
    shown = kscli.json("sub", "show", sub_id)
    assert shown["status"] == "refunded" and shown["refuse_service"] is True
    detail = [e for e in kscli.json("sub", "history", sub_id)
              if e["action"] == "refunded"][0]["detail"]
    assert detail["refuse_service"] is True and detail["clause"] == "refund.not-started"


def test_discretion_needs_a_reason(kscli):
    sub_id = _monthly(kscli)
    before = kscli("export").stdout
    result = run_at(day_n(10), kscli, "refund", "request", sub_id, "--discretion", "--yes")
    assert result.exit_code == 2 and "--reason" in result.stderr
    assert kscli("export").stdout == before


def test_discretion_with_a_reason_is_recorded_as_a_manual_override(kscli):
    sub_id = _monthly(kscli)
    done = json_at(day_n(10), kscli, "refund", "request", sub_id, "--discretion", "--reason",
                   "three-day outage", "--yes")
    assert done["status"] == "refunded"
    assert done["refund"]["clause"] == "refund.discretion"
    assert done["overrides"] == {"clause": "refund.billed-final", "eligible": False}
    detail = [e for e in kscli.json("sub", "history", sub_id)
              if e["action"] == "refunded"][0]["detail"]
    assert detail["clause"] == "refund.discretion" and detail["manual"] is True
    assert detail["reason"] == "three-day outage"
    assert detail["amount"] == "9.99"
    # A second refund, even at discretion, is refused: a period is not refunded twice.
    again = run_at(day_n(11), kscli, "refund", "request", sub_id, "--discretion", "--reason",
                   "again", "--yes", fmt="json")
    assert again.exit_code == 4 and again.json()["error"] == "already-refunded"


def test_a_bad_policy_file_exits_2_naming_the_file(kscli, tmp_path):
    sub_id = _annual(kscli)
    broken = tmp_path / "broken.toml"
    broken.write_text(default_policy_text().replace("\nannual = 60\n", "\nannual = -60\n"),
                      encoding="utf-8")
    with freeze_time(day_n(10)):
        result = kscli("--policy", str(broken), "refund", "check", sub_id)
        missing = kscli("--policy", str(tmp_path / "none.toml"), "refund", "check", sub_id)
    assert result.exit_code == 2 and result.stdout == ""
    assert str(broken) in result.stderr and "negative" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert missing.exit_code == 2 and "none.toml" in missing.stderr


def test_a_request_with_the_clock_set_back_is_refused(kscli):
    with freeze_time(day_n(90)):
        sub_id = add(kscli)  # recorded on day 90, started on day 0
    before = kscli("export").stdout
    result = run_at(day_n(30), kscli, "refund", "request", sub_id, "--yes", fmt="json")
    assert result.exit_code == 4 and result.json()["error"] == "clock-set-back"
    assert kscli("export").stdout == before
