"""Refund decisions: every worked case of the refund policy (CASES) as a golden test,
plus boundaries."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from kscli.domain.calendar import add_months
from kscli.domain.errors import BadValue
from kscli.domain.model import Event, Incident, License, Subscription
from kscli.domain.policy_lint import parse_policy
from kscli.domain.refund import (
    DECIDES,
    RefundDecision,
    decide_refund,
    discretion_override,
)
from kscli.policy_files import default_policy_text, load_default
from tests import helpers
from tests.helpers import at

UTC = timezone.utc
POLICY = load_default()
PRICE = Decimal("120.00")
PORTAL = "https://partner.example.com/subscriptions"


START = at("2026-11-01T09:30:00")


def day_n(n: int, start: datetime = START) -> datetime:
    return helpers.day_n(n, start)


def make_sub(**changes) -> Subscription:
    plan = changes.get("plan", "annual")
    started = changes.get("started_at", START)
    period_start = changes.get("period_start", started)
    months = {"annual": 12, "monthly": 1}.get(plan, 12)
    fields = dict(
        id="S-1042",
        account="acme",
        vendor="Vendor",
        product="Product",
        plan=plan,
        kind="subscription",
        price=PRICE,
        currency="USD",
        started_at=started,
        period_start=period_start,
        period_end=add_months(period_start, months),
        commitment_end=None,
        auto_renew=True,
        status="active",
    )
    fields.update(changes)
    return Subscription(**fields)


def incident(n: int, state: str, opened: datetime) -> Incident:
    closed = None if state == "open" else opened + timedelta(days=3)
    return Incident(
        id=f"I-{n}",
        sub_id="S-1042",
        summary="printer",
        opened_at=opened,
        state=state,
        closed_at=closed,
    )


def license_for(sub_id: str = "S-1042") -> License:
    return License(
        id="L-7",
        product="Product",
        purchased_at=START,
        key_hash="0" * 64,
        key_last4="FC3W",
        fingerprint="3f9a1c2e",
        sub_id=sub_id,
        issued=True,
    )


REFUND_REF = "KS-20261105-7Q2K9M"
SUPPORT_START = at("2025-01-01T00:00:00")


@dataclasses.dataclass
class Case:
    number: int
    sub: Subscription
    now: datetime
    eligible: bool
    clause: str
    amount: Decimal | None
    incidents: tuple = ()
    licenses: tuple = ()
    events: tuple = ()
    ground: str | None = None
    error: str | None = None


def _cases() -> list[Case]:
    renewal_price = Decimal("132.00")
    support = dict(kind="support")
    return [
        Case(1, make_sub(), day_n(30), True, "refund.money-back", PRICE),
        Case(2, make_sub(), day_n(60), True, "refund.money-back", PRICE),
        Case(3, make_sub(), day_n(61), False, "refund.billed-final", None),
        Case(4, make_sub(plan="monthly"), day_n(10), False, "refund.billed-final", None),
        Case(
            5,
            make_sub(started_at=at("2025-11-01T09:30:00"), period_start=START, price=renewal_price),
            day_n(10),
            True,
            "refund.money-back",
            renewal_price,
        ),
        Case(
            6,
            make_sub(status="cancelled", auto_renew=False, cancelled_at=day_n(13)),
            day_n(20),
            True,
            "refund.money-back",
            PRICE,
        ),
        Case(
            7,
            make_sub(commitment_end=add_months(START, 24)),
            day_n(30),
            True,
            "refund.money-back",
            PRICE,
        ),
        Case(
            8,
            make_sub(channel="partner", partner_name="Reseller GmbH", partner_portal=PORTAL),
            day_n(30),
            False,
            "cancel.partner",
            None,
            error="partner-channel",
        ),
        Case(
            9,
            make_sub(),
            day_n(30),
            False,
            "cancel.direct",
            None,
            ground="chargeback",
            error="excluded-ground",
        ),
        Case(
            10,
            make_sub(),
            day_n(30),
            False,
            "refund.exclusions",
            None,
            ground="hardware-failure",
            error="excluded-ground",
        ),
        Case(
            11,
            make_sub(kind="software", plan="once", period_end=None, auto_renew=False),
            day_n(5),
            False,
            "refund.software-final",
            None,
            licenses=(license_for(),),
        ),
        Case(
            12,
            make_sub(kind="software", plan="once", period_end=None, auto_renew=False),
            day_n(5),
            True,
            "refund.software-final",
            PRICE,
        ),
        Case(13, make_sub(**support), day_n(40), True, "refund.not-started", PRICE),
        Case(
            14,
            make_sub(**support),
            day_n(40),
            False,
            "refund.initial-incident",
            None,
            incidents=(incident(1, "open", day_n(10)),),
            error="incident-open",
        ),
        Case(
            15,
            make_sub(**support),
            day_n(40),
            True,
            "refund.initial-incident",
            PRICE,
            incidents=(incident(1, "exhausted", day_n(10)),),
        ),
        Case(
            16,
            make_sub(**support),
            day_n(40),
            False,
            "refund.initial-incident",
            None,
            incidents=(incident(1, "resolved", day_n(10)),),
        ),
        Case(
            17,
            make_sub(**support),
            day_n(40),
            False,
            "refund.initial-incident",
            None,
            incidents=(incident(1, "exhausted", day_n(10)), incident(2, "resolved", day_n(20))),
        ),
        Case(
            18,
            make_sub(**support),
            day_n(40),
            False,
            "refund.exclusions",
            None,
            incidents=(incident(1, "exhausted", day_n(10)),),
            ground="os-reinstall-declined",
            error="excluded-ground",
        ),
        Case(
            19,
            make_sub(
                kind="support", started_at=SUPPORT_START, period_start=add_months(SUPPORT_START, 12)
            ),
            day_n(60, add_months(SUPPORT_START, 12)),
            False,
            "refund.billed-final",
            None,
            incidents=(incident(1, "exhausted", day_n(20, add_months(SUPPORT_START, 12))),),
        ),
        Case(
            20,
            make_sub(status="refunded", auto_renew=False),
            day_n(30),
            False,
            "refund.billed-final",
            None,
            events=(Event(reference=REFUND_REF, at=day_n(4), subject="S-1042", action="refunded"),),
            error="already-refunded",
        ),
        Case(
            21,
            make_sub(
                started_at=at("2025-06-01T00:00:00"),
                period_start=at("2025-06-01T00:00:00"),
                status="expired",
                auto_renew=False,
            ),
            day_n(30),
            False,
            "refund.billed-final",
            None,
        ),
    ]


CASES = _cases()


def decide(case: Case, policy=POLICY) -> RefundDecision:
    return decide_refund(
        case.sub,
        now=case.now,
        policy=policy,
        incidents=case.incidents,
        licenses=case.licenses,
        events=case.events,
        ground=case.ground,
    )


def test_every_row_of_the_table_is_covered():
    assert [case.number for case in CASES] == list(range(1, 22))


@pytest.mark.parametrize("case", CASES, ids=[f"case-{c.number}" for c in CASES])
def test_policy_case_gives_the_documented_answer(case: Case):
    decision = decide(case)
    assert decision.eligible is case.eligible
    assert decision.clause == case.clause
    assert decision.amount == case.amount
    assert decision.currency == "USD"
    assert decision.policy_version == POLICY.version
    if case.eligible:
        assert decision.error is None
        assert decision.credit_from is not None and decision.credit_by is not None
    else:
        assert decision.error == (case.error or "refund-not-eligible")
        assert decision.credit_from is None and decision.credit_by is None
    # The deciding clause is in the reasons, and the trace names it exactly once as deciding.
    assert case.clause in [f.clause for f in decision.reasons]
    deciding = [f for f in decision.trace if f.outcome == DECIDES]
    assert [f.clause for f in deciding] == [case.clause]
    assert all(f.outcome in ("applies", "does not apply", "decides") for f in decision.trace)


@pytest.mark.parametrize("case", CASES, ids=[f"case-{c.number}" for c in CASES])
def test_wording_never_promises_a_refund_on_a_no_and_invents_no_fee(case: Case):
    decision = decide(case)
    text = " ".join(f.sentence for f in decision.trace).lower()
    assert "fee" not in text and "penalt" not in text and "charge of" not in text
    if not decision.eligible:
        assert "full refund" not in text
        assert "refund is due" not in text
        assert "credited" not in text


def test_case_8_names_the_partner_portal():
    decision = decide(CASES[7])
    assert decision.partner_portal == PORTAL
    assert any(PORTAL in f.sentence for f in decision.reasons)


def test_case_20_names_the_earlier_refund_reference():
    decision = decide(CASES[19])
    assert any(REFUND_REF in f.sentence for f in decision.reasons)


def test_case_13_warns_that_further_service_may_be_refused():
    decision = decide(CASES[12])
    assert "refused further service" in decision.message


def test_case_14_says_support_must_try_every_option_first():
    decision = decide(CASES[13])
    assert "support must be allowed to try every option" in decision.message


def test_case_7_says_a_refund_ends_the_commitment():
    decision = decide(CASES[6])
    assert any(
        f.clause == "cancel.commitment" and "a refund ends the commitment" in f.sentence
        for f in decision.reasons
    )


def test_case_6_cancelling_did_not_use_up_the_window():
    decision = decide(CASES[5])
    assert any(
        f.clause == "cancel.end-of-term" and "did not use up" in f.sentence
        for f in decision.reasons
    )


def test_renew_off_inside_the_window_stays_eligible_and_says_so():
    decision = decide_refund(make_sub(auto_renew=False), now=day_n(20), policy=POLICY)
    assert decision.eligible and decision.clause == "refund.money-back"
    assert any(
        f.clause == "cancel.end-of-term" and f.sentence.startswith("auto-renew is off")
        for f in decision.reasons
    )


def test_case_3_traces_no_proration():
    decision = decide(CASES[2])
    assert ("refund.no-proration", "applies") in [(f.clause, f.outcome) for f in decision.trace]
    assert any("no partial refunds for unused time" in f.sentence for f in decision.trace)


def test_case_4_says_cancelling_is_never_a_refund():
    decision = decide(CASES[3])
    assert "cancelling is never a refund" in decision.message
    assert ("refund.money-back", "does not apply") in [
        (f.clause, f.outcome) for f in decision.trace
    ]


def test_an_excluded_ground_refuses_whatever_else_holds():
    # Inside the window, direct channel: only the ground refuses.
    for ground, clause in (
        ("chargeback", "cancel.direct"),
        ("bank-dispute", "cancel.direct"),
        ("data-loss", "refund.exclusions"),
        ("Hardware failure", "refund.exclusions"),
    ):
        decision = decide_refund(make_sub(), now=day_n(1), policy=POLICY, ground=ground)
        assert (decision.eligible, decision.clause) == (False, clause)
    # A partner sale with an excluded ground names the ground's clause, not the partner.
    partner = make_sub(channel="partner", partner_portal=PORTAL)
    assert (
        decide_refund(partner, now=day_n(1), policy=POLICY, ground="chargeback").clause
        == "cancel.direct"
    )


def test_a_neutral_ground_changes_nothing():
    decision = decide_refund(make_sub(), now=day_n(30), policy=POLICY, ground="changed-my-mind")
    assert decision.eligible and decision.clause == "refund.money-back"
    assert any(
        "changed-my-mind" in f.sentence and f.outcome == "does not apply" for f in decision.trace
    )


def test_the_json_trace_lists_every_clause_evaluated():
    decision = decide(CASES[0])
    clauses = [f.clause for f in decision.trace]
    for expected in (
        "cancel.direct",
        "refund.exclusions",
        "cancel.partner",
        "cancel.commitment",
        "cancel.end-of-term",
        "refund.money-back",
        "refund.no-proration",
        "refund.timing",
    ):
        assert expected in clauses
    assert len(clauses) == len(set(clauses))


# --- credit dates (refund.timing) -------------------------------------------------------


@pytest.mark.parametrize(
    "processed, credited_from, credited_by",
    [
        ("2026-12-02", "2026-12-09", "2026-12-11"),  # Wednesday
        ("2026-12-04", "2026-12-11", "2026-12-15"),  # Friday
        ("2026-12-05", "2026-12-11", "2026-12-15"),  # Saturday
    ],
)
def test_credit_dates_skip_weekends(processed, credited_from, credited_by):
    now = at(f"{processed}T16:45:00")
    decision = decide_refund(
        make_sub(period_start=at("2026-11-20T00:00:00")), now=now, policy=POLICY
    )
    assert decision.eligible
    assert decision.credit_from == date.fromisoformat(credited_from)
    assert decision.credit_by == date.fromisoformat(credited_by)


def test_policy_holidays_move_the_credit_dates():
    text = default_policy_text().replace("holidays = []", "holidays = [2026-12-08]")
    policy = parse_policy(text)
    decision = decide_refund(
        make_sub(period_start=at("2026-11-20T00:00:00")),
        now=at("2026-12-02T10:00:00"),
        policy=policy,
    )
    assert (decision.credit_from, decision.credit_by) == (date(2026, 12, 10), date(2026, 12, 14))


# --- boundaries ---------------------------------------------------------------------------


def test_last_second_of_day_60_is_inside_the_window():
    now = datetime.combine(START.date() + timedelta(days=60), datetime.max.time(), UTC).replace(
        microsecond=0
    )
    decision = decide_refund(make_sub(), now=now, policy=POLICY)
    assert decision.eligible
    assert decision.deadline == date(2026, 12, 31)
    assert decision.deadline_text == "money-back window closes 2026-12-31, today"


def test_first_second_of_day_61_is_outside_the_window():
    now = datetime.combine(START.date() + timedelta(days=61), datetime.min.time(), UTC)
    decision = decide_refund(make_sub(), now=now, policy=POLICY)
    assert not decision.eligible
    assert decision.clause == "refund.billed-final"
    assert "2026-12-31" in decision.message


def test_window_counts_utc_days_not_hours():
    # Bought at 23:59 UTC: day 1 starts one minute later.
    start = at("2026-03-31T23:59:00")
    sub = make_sub(started_at=start, period_start=start)
    assert decide_refund(sub, now=at("2026-05-30T23:59:59"), policy=POLICY).eligible  # day 60
    assert not decide_refund(sub, now=at("2026-05-31T00:00:00"), policy=POLICY).eligible  # day 61


@pytest.mark.parametrize(
    "start, last_day",
    [
        ("2027-01-31", "2027-04-01"),  # across a short February
        ("2027-12-31", "2028-02-29"),  # into a leap February
        ("2028-02-29", "2028-04-29"),  # a leap-day start
    ],
)
def test_window_last_day_across_month_ends_and_leap_days(start, last_day):
    begin = at(f"{start}T00:00:00")
    sub = make_sub(started_at=begin, period_start=begin)
    last = date.fromisoformat(last_day)
    inside = decide_refund(sub, now=at(f"{last_day}T23:00:00"), policy=POLICY)
    after = decide_refund(
        sub, now=at(f"{(last + timedelta(days=1)).isoformat()}T00:00:00"), policy=POLICY
    )
    assert inside.eligible and inside.deadline == last
    assert not after.eligible


def test_leap_day_start_renewal_window_counts_from_the_renewal():
    begin = at("2028-02-29T00:00:00")
    renewed = add_months(begin, 12)  # 2029-02-28
    sub = make_sub(started_at=begin, period_start=renewed)
    decision = decide_refund(
        sub, now=at("2029-04-29T12:00:00"), policy=POLICY
    )  # day 60 of year two
    assert decision.eligible and decision.deadline == date(2029, 4, 29)
    assert not decide_refund(sub, now=at("2029-04-30T00:00:00"), policy=POLICY).eligible


@pytest.mark.parametrize("days_ahead, words", [(12, "in 12 days"), (1, "in 1 day"), (0, "today")])
def test_deadline_text_counts_the_days_left(days_ahead, words):
    now = day_n(60 - days_ahead)
    decision = decide_refund(make_sub(), now=now, policy=POLICY)
    assert decision.deadline_text == f"money-back window closes 2026-12-31, {words}"


def test_deadline_text_matches_the_design_example():
    start = at("2026-11-15T08:00:00")  # day 60 is 2027-01-14
    decision = decide_refund(
        make_sub(started_at=start, period_start=start), now=at("2027-01-02T09:00:00"), policy=POLICY
    )
    assert decision.deadline_text == "money-back window closes 2027-01-14, in 12 days"


def test_same_facts_give_the_same_answer():
    for case in CASES:
        first, second = decide(case), decide(case)
        assert first == second
        assert json.dumps(first.to_dict(), sort_keys=True) == json.dumps(
            second.to_dict(), sort_keys=True
        )


def test_input_order_does_not_change_the_answer():
    incidents = (incident(2, "resolved", day_n(20)), incident(1, "exhausted", day_n(10)))
    sub = make_sub(kind="support")
    forward = decide_refund(sub, now=day_n(40), policy=POLICY, incidents=incidents)
    backward = decide_refund(sub, now=day_n(40), policy=POLICY, incidents=incidents[::-1])
    assert forward == backward


def test_a_custom_policy_with_30_days_changes_the_answer():
    text = default_policy_text().replace(
        '[clause."refund.money-back".days]\nannual = 60',
        '[clause."refund.money-back".days]\nannual = 30',
    )
    policy = parse_policy(
        text.replace('version = "2026-11-01"', 'version = "desk-30"'), source="short.toml"
    )
    assert decide_refund(make_sub(), now=day_n(30), policy=policy).eligible
    late = decide_refund(make_sub(), now=day_n(31), policy=policy)
    assert not late.eligible and late.clause == "refund.billed-final"
    assert late.policy_version == "desk-30"
    assert decide_refund(make_sub(), now=day_n(31), policy=POLICY).eligible


def test_a_region_table_gives_monthly_plans_a_window_there_only():
    eu_table = '[clause."refund.money-back".regions.EU]\nannual = 60\nmonthly = 14\n\n'
    next_clause = '[clause."refund.not-started"]'
    text = default_policy_text().replace(next_clause, eu_table + next_clause)
    policy = parse_policy(text)
    eu = decide_refund(make_sub(plan="monthly", region="eu"), now=day_n(14), policy=policy)
    us = decide_refund(make_sub(plan="monthly", region="US"), now=day_n(14), policy=policy)
    assert eu.eligible and eu.clause == "refund.money-back"
    assert not us.eligible and us.clause == "refund.billed-final"


def test_a_24_month_plan_has_no_window_under_the_default_policy():
    decision = decide_refund(make_sub(plan="24m"), now=day_n(5), policy=POLICY)
    assert not decision.eligible and decision.clause == "refund.billed-final"


def test_a_refund_from_an_earlier_period_does_not_block_this_one():
    sub = make_sub(started_at=at("2025-11-01T09:30:00"), period_start=START)
    old = Event(
        reference="KS-20251105-AAAAAA",
        at=at("2025-11-05T00:00:00"),
        subject="S-1042",
        action="refunded",
    )
    assert decide_refund(sub, now=day_n(5), policy=POLICY, events=(old,)).eligible


def test_a_refund_recorded_in_this_period_blocks_a_second_one():
    ref = Event(reference=REFUND_REF, at=day_n(3), subject="S-1042", action="refunded")
    decision = decide_refund(make_sub(), now=day_n(5), policy=POLICY, events=(ref,))
    assert decision.error == "already-refunded" and REFUND_REF in decision.message


def test_support_incident_on_the_last_second_of_the_first_period_still_counts():
    sub = make_sub(
        kind="support", started_at=SUPPORT_START, period_start=add_months(SUPPORT_START, 12)
    )
    last_second = add_months(SUPPORT_START, 12) - timedelta(seconds=1)
    inside = decide_refund(
        sub,
        now=day_n(10, sub.period_start),
        policy=POLICY,
        incidents=(incident(1, "exhausted", last_second),),
    )
    outside = decide_refund(
        sub,
        now=day_n(10, sub.period_start),
        policy=POLICY,
        incidents=(incident(1, "exhausted", add_months(SUPPORT_START, 12)),),
    )
    assert inside.eligible and inside.clause == "refund.initial-incident"
    assert not outside.eligible and outside.clause == "refund.billed-final"


def test_to_dict_is_json_ready_with_decimal_strings_and_iso_dates():
    data = decide(CASES[0]).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["amount"] == "120.00"
    assert data["deadline"] == "2026-12-31"
    assert data["clause"] == "refund.money-back" and data["error"] is None
    assert {"clause", "outcome", "sentence"} == set(data["trace"][0])
    refused = decide(CASES[7]).to_dict()
    assert refused["amount"] is None and refused["error"] == "partner-channel"
    assert refused["partner_portal"] == PORTAL


# --- refund.discretion -----------------------------------------------------------------------


def test_discretion_override_refunds_the_full_price_with_the_reason():
    decision = discretion_override(
        make_sub(plan="monthly"),
        now=at("2026-12-02T10:00:00"),
        policy=POLICY,
        reason="outage of 3 days",
    )
    assert decision.eligible and decision.amount == PRICE
    assert decision.clause == "refund.discretion"
    assert "outage of 3 days" in decision.message
    assert (decision.credit_from, decision.credit_by) == (date(2026, 12, 9), date(2026, 12, 11))


@pytest.mark.parametrize("reason", ["", "   "])
def test_discretion_override_needs_a_reason(reason):
    with pytest.raises(BadValue, match="needs a reason"):
        discretion_override(make_sub(), now=day_n(1), policy=POLICY, reason=reason)
