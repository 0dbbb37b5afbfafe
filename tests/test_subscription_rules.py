"""The subscription rules (kscli.domain.subscriptions), as pure functions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kscli.domain import subscriptions as rules
from kscli.domain.errors import NoChange, Refused
from tests.helpers import make_sub

UTC = timezone.utc
JAN31 = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)


def sub(plan="monthly", started=JAN31, commitment=None, auto_renew=True, partner=None, kind="subscription"):
    return make_sub("S-1001", plan=plan, started=started, commitment=commitment,
                    auto_renew=auto_renew, partner=partner, kind=kind)


def test_monthly_periods_keep_the_31st_across_short_months():
    s = sub()
    ends = []
    changes = rules.due_transitions(s, datetime(2026, 6, 1, tzinfo=UTC))
    ends = [c.sub.period_end.date().isoformat() for c in changes]
    assert ends == ["2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30"]
    assert s.period_end.date().isoformat() == "2026-02-28"


def test_sweep_catches_up_several_missed_periods_and_records_each_charge():
    changes = rules.due_transitions(sub(), datetime(2026, 5, 1, tzinfo=UTC))
    assert [c.action for c in changes] == ["renewed"] * 3
    assert all(c.detail["expected_charge"] == "9.99" for c in changes)
    assert changes[-1].sub.period_start == datetime(2026, 4, 30, 9, tzinfo=UTC)


def test_nothing_is_due_before_the_period_end_and_it_is_due_at_it():
    s = sub()
    assert rules.due_transitions(s, s.period_end - timedelta(seconds=1)) == []
    assert [c.action for c in rules.due_transitions(s, s.period_end)] == ["renewed"]


def test_a_subscription_with_auto_renew_off_expires_at_its_period_end():
    s = sub(auto_renew=False)
    changes = rules.due_transitions(s, datetime(2026, 12, 1, tzinfo=UTC))
    assert [c.action for c in changes] == ["expired"]
    assert changes[0].sub.status == "expired" and changes[0].sub.ended_at == s.period_end


def test_renew_off_keeps_service_to_the_period_end():
    change = rules.renew_off(sub(), JAN31)
    assert change.sub.status == "active" and change.sub.auto_renew is False
    assert change.message == "S-1001: auto-renew off, active until 2026-02-28"
    assert rules.display_status(change.sub) == "ending"
    assert rules.ends_at(change.sub) == datetime(2026, 2, 28, 9, tzinfo=UTC)


def test_renew_off_twice_changes_nothing():
    off = rules.renew_off(sub(), JAN31).sub
    with pytest.raises(NoChange):
        rules.renew_off(off, JAN31)


def test_renew_off_inside_a_commitment_takes_effect_at_its_end():
    s = sub(commitment=12)
    change = rules.renew_off(s, JAN31)
    assert rules.ends_at(change.sub) == datetime(2027, 1, 31, 9, tzinfo=UTC)
    assert "active until 2027-01-31" in change.message
    changes = rules.due_transitions(change.sub, datetime(2027, 3, 1, tzinfo=UTC))
    assert [c.action for c in changes] == ["renewed"] * 11 + ["expired"]
    assert changes[-1].sub.ended_at == datetime(2027, 1, 31, 9, tzinfo=UTC)


def test_renew_on_undoes_renew_off_and_is_refused_once_cancelled():
    off = rules.renew_off(sub(), JAN31).sub
    assert rules.renew_on(off, JAN31).sub.auto_renew is True
    cancelled = rules.cancel(sub(), JAN31).sub
    with pytest.raises(Refused) as caught:
        rules.renew_on(cancelled, JAN31)
    assert caught.value.code == "not-active"


def test_cancel_keeps_service_to_the_period_end_without_a_refund():
    change = rules.cancel(sub(), JAN31 + timedelta(days=3))
    assert change.sub.status == "cancelled" and change.sub.auto_renew is False
    assert change.detail["refund"] is False
    assert "active until 2026-02-28" in change.message and "refunds nothing" in change.message


def test_cancel_immediately_ends_service_now_still_without_refund():
    now = JAN31 + timedelta(days=3)
    change = rules.cancel(sub(), now, immediately=True)
    assert change.sub.status == "expired" and change.sub.ended_at == now
    assert "[refund.no-proration]" in change.message


def test_cancel_inside_a_commitment_is_refused_with_the_date():
    s = sub(commitment=12)
    with pytest.raises(Refused) as caught:
        rules.cancel(s, JAN31 + timedelta(days=40))
    assert caught.value.code == "commitment-active" and caught.value.clause == "cancel.commitment"
    assert "from 2027-01-31" in caught.value.message
    assert rules.cancel(s, datetime(2027, 1, 31, 9, tzinfo=UTC)).sub.status == "cancelled"


def test_a_partner_purchase_is_refused_with_the_portal_unless_recorded():
    s = sub(partner="Northwind")
    with pytest.raises(Refused) as caught:
        rules.cancel(s, JAN31)
    assert caught.value.code == "partner-channel" and "https://p.example" in caught.value.message
    change = rules.cancel(s, JAN31, at_partner="PX-1")
    assert change.detail["partner_reference"] == "PX-1" and change.sub.status == "cancelled"


def test_cancelling_a_cancelled_subscription_changes_nothing():
    cancelled = rules.cancel(sub(), JAN31).sub
    with pytest.raises(NoChange):
        rules.cancel(cancelled, JAN31)


def test_a_dispute_is_a_flag_not_a_cancellation():
    change = rules.dispute(sub(), JAN31)
    assert change.sub.disputed is True and change.sub.status == "active" and change.sub.auto_renew
    assert change.detail["clause"] == "cancel.direct"
    with pytest.raises(NoChange):
        rules.dispute(change.sub, JAN31)


def test_a_one_time_software_sale_never_renews_or_expires():
    s = sub(plan="once", kind="software")
    assert s.period_end is None and s.auto_renew is False
    assert rules.due_transitions(s, datetime(2030, 1, 1, tzinfo=UTC)) == []


def test_cancelled_subscription_expires_at_its_period_end():
    cancelled = rules.cancel(sub(), JAN31).sub
    changes = rules.due_transitions(cancelled, datetime(2026, 3, 1, tzinfo=UTC))
    assert [c.action for c in changes] == ["expired"]


def test_annual_plan_started_on_29_february_renews_on_28_february():
    s = sub(plan="annual", started=datetime(2024, 2, 29, tzinfo=UTC))
    changes = rules.due_transitions(s, datetime(2028, 3, 1, tzinfo=UTC))
    assert [c.sub.period_end.date().isoformat() for c in changes] == [
        "2026-02-28", "2027-02-28", "2028-02-29", "2029-02-28"]
