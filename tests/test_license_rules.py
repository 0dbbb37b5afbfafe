"""License key rules: the one-year window, effective status, activation, seats, revocation."""

from __future__ import annotations

import inspect
import time
from datetime import date, datetime, timedelta

import pytest

from kscli.domain import keys
from kscli.domain import licenses as rules
from kscli.domain.errors import NoChange, Refused
from kscli.domain.model import Activation, License
from tests.helpers import at, machine_zone

KEY = keys.generate(lambda n: "QASWA7YHBXDP0GJE7WKRFC"[:n])


def key_license(purchased: str = "2024-02-29T10:00:00Z", **fields) -> License:
    symbols = keys.validate(KEY)
    lic = rules.new_license("L-1001", symbols=symbols, product="Photo Editor",
                            purchased_at=at(purchased), now=at(purchased))
    return lic._replace(**fields)


@pytest.fixture(params=["UTC", "Pacific/Kiritimati", "America/Adak"])
def local_tz(request):
    """The machine's time zone: 14 hours ahead of UTC, 10 behind, or UTC itself."""
    yield from machine_zone(request.param)


# --- the window ----------------------------------------------------------------------

@pytest.mark.parametrize("purchased, last_day", [
    ("2024-02-29T00:00:00Z", date(2025, 2, 28)),   # leap day: 28 February, never 1 March
    ("2024-02-29T23:59:59Z", date(2025, 2, 28)),
    ("2023-02-28T12:00:00Z", date(2024, 2, 28)),   # into a leap year: still the 28th
    ("2023-03-01T00:00:00Z", date(2024, 3, 1)),    # 366 days later, not 365
    ("2024-12-31T23:00:00Z", date(2025, 12, 31)),
])
def test_last_day_to_activate_is_the_purchase_date_plus_one_calendar_year(purchased, last_day):
    assert rules.activation_deadline(at(purchased), years=1) == last_day


def test_the_purchase_date_is_taken_in_utc():
    # 23:30 in New York on 29 February is 04:30 UTC on 1 March.
    evening = datetime.fromisoformat("2024-02-29T23:30:00-05:00")
    assert rules.activation_deadline(evening, years=1) == date(2025, 3, 1)


def test_activation_deadline_does_not_depend_on_the_local_time_zone(local_tz):
    assert (time.localtime(0).tm_gmtoff != 0) == (local_tz != "UTC")  # the zone took effect
    assert rules.activation_deadline(at("2024-02-29T23:30:00Z"), years=1) == date(2025, 2, 28)
    assert rules.window_closes_at(at("2024-02-29T00:30:00Z"), years=1) == at("2025-03-01T00:00:00Z")


@pytest.mark.parametrize("purchased, last_second, first_second_after", [
    ("2024-02-29T08:00:00Z", "2025-02-28T23:59:59Z", "2025-03-01T00:00:00Z"),
    ("2023-02-28T08:00:00Z", "2024-02-28T23:59:59Z", "2024-02-29T00:00:00Z"),
    ("2023-03-01T08:00:00Z", "2024-03-01T23:59:59Z", "2024-03-02T00:00:00Z"),
])
def test_the_whole_last_day_counts_and_not_a_second_more(purchased, last_second,
                                                         first_second_after, local_tz):
    lic = key_license(purchased)
    assert rules.window_open(lic, at(last_second), years=1)
    assert rules.effective(lic, at(last_second), years=1).status == "unactivated"
    assert not rules.window_open(lic, at(first_second_after), years=1)
    lapsed = rules.effective(lic, at(first_second_after), years=1)
    assert (lapsed.status, lapsed.status_reason) == ("deactivated", "activation-window-elapsed")


def test_a_recorded_lapse_stays_recorded_at_any_time_asked():
    lic = key_license(status="deactivated", status_reason=rules.LAPSED)
    for when in ("2025-02-28T12:00:00Z", "2025-03-01T00:00:00Z"):
        assert rules.effective(lic, at(when), years=1).status == "deactivated"


def test_an_activated_key_never_lapses():
    lic = key_license(status="active", activations=(Activation("laptop", at("2024-03-01T00:00:00Z")),))
    assert rules.effective(lic, at("2030-01-01T00:00:00Z"), years=1).status == "active"


def test_due_by_counts_unactivated_keys_whose_last_day_comes_in_time():
    lic = key_license("2024-02-29T08:00:00Z")
    now = at("2025-02-01T00:00:00Z")
    assert rules.due_by(lic, now, at("2025-02-28T00:00:00Z"), years=1)
    assert not rules.due_by(lic, now, at("2025-02-27T23:59:59Z"), years=1)
    assert not rules.due_by(lic, at("2025-03-01T00:00:00Z"), at("2025-04-01T00:00:00Z"), years=1)
    active = key_license("2024-02-29T08:00:00Z", status="active")
    assert not rules.due_by(active, now, at("2025-02-28T00:00:00Z"), years=1)


@pytest.mark.parametrize("name", ["activation_deadline", "window_closes_at", "window_open",
                                  "is_lapsed", "effective", "due_by", "lapse", "activate"])
def test_the_window_length_is_a_required_parameter_never_a_constant_of_the_rules(name):
    years = inspect.signature(getattr(rules, name)).parameters["years"]
    assert years.default is inspect.Parameter.empty
    assert years.kind is inspect.Parameter.KEYWORD_ONLY
    assert not [n for n in vars(rules) if "YEAR" in n.upper() and not callable(getattr(rules, n))]


@pytest.mark.parametrize("purchased, years, last_day", [
    ("2024-02-29T10:00:00Z", 2, date(2026, 2, 28)),
    ("2024-02-29T10:00:00Z", 4, date(2028, 2, 29)),   # a leap day again, four years on
    ("2023-08-15T23:59:59Z", 3, date(2026, 8, 15)),
])
def test_the_last_day_follows_the_number_of_years_given(purchased, years, last_day):
    assert rules.activation_deadline(at(purchased), years=years) == last_day
    closes = rules.window_closes_at(at(purchased), years=years)
    assert closes == (datetime.combine(last_day, datetime.min.time(), closes.tzinfo)
                      + timedelta(days=1))


def test_a_key_bought_eighteen_months_ago_is_open_under_two_years_and_lapsed_under_one():
    lic = key_license("2024-02-29T10:00:00Z")
    now = at("2025-08-29T10:00:00Z")
    assert rules.effective(lic, now, years=2).status == "unactivated"
    assert rules.due_by(lic, now, at("2026-02-28T00:00:00Z"), years=2)
    lapsed = rules.effective(lic, now, years=1)
    assert (lapsed.status, lapsed.status_reason) == ("deactivated", "activation-window-elapsed")
    with pytest.raises(NoChange):
        rules.lapse(lic, now, years=2)
    change = rules.activate(lic, "laptop", now, years=2)
    assert change.detail["activation_deadline"] == "2026-02-28"


def test_a_lapse_recorded_under_a_shorter_window_stays_final_under_a_longer_one():
    recorded = rules.lapse(key_license("2024-02-29T10:00:00Z"), at("2025-03-01T00:00:00Z"),
                           years=1).license
    now = at("2025-08-29T10:00:00Z")
    assert rules.effective(recorded, now, years=2).status == "deactivated"
    with pytest.raises(rules.WindowElapsed) as caught:
        rules.activate(recorded, "laptop", now, years=2)
    assert caught.value.lapse is None  # already recorded: nothing new to record
    assert "2 years after the purchase" in caught.value.message


# --- activation -----------------------------------------------------------------------

def test_first_activation_on_the_last_second_succeeds():
    change = rules.activate(key_license(), "laptop", at("2025-02-28T23:59:59Z"), years=1)
    assert change.license.status == "active"
    assert change.license.activations == (Activation("laptop", at("2025-02-28T23:59:59Z")),)
    assert change.action == "activated"
    assert change.detail["clause"] == rules.CLAUSE


def test_first_activation_a_second_late_is_refused_and_carries_the_lapse():
    with pytest.raises(rules.WindowElapsed) as caught:
        rules.activate(key_license(), "laptop", at("2025-03-01T00:00:00Z"), years=1)
    refusal = caught.value
    assert refusal.exit_code == 4
    assert (refusal.code, refusal.clause) == ("activation-window-elapsed", "license.activation-window")
    assert "closed at 2025-03-01 00:00 UTC" in refusal.message
    assert "2025-02-28" in refusal.message
    assert refusal.lapse.license.status == "deactivated"
    assert refusal.lapse.license.status_reason == "activation-window-elapsed"
    assert refusal.lapse.at == at("2025-03-01T00:00:00Z")


def test_an_already_recorded_lapse_is_refused_with_nothing_more_to_record():
    lic = key_license(status="deactivated", status_reason=rules.LAPSED)
    with pytest.raises(rules.WindowElapsed) as caught:
        rules.activate(lic, "laptop", at("2026-01-01T00:00:00Z"), years=1)
    assert caught.value.lapse is None


def test_the_window_gates_the_first_activation_only():
    lic = key_license(seats=2)
    first = rules.activate(lic, "laptop", at("2024-06-01T00:00:00Z"), years=1).license
    second = rules.activate(first, "desktop", at("2027-01-01T00:00:00Z"), years=1).license
    assert [a.machine for a in second.activations] == ["laptop", "desktop"]
    freed = rules.deactivate(second, "laptop", at("2027-02-01T00:00:00Z")).license
    again = rules.activate(freed, "tablet", at("2028-01-01T00:00:00Z"), years=1).license
    assert again.status == "active" and len(again.activations) == 2


def test_activating_beyond_the_seats_is_refused_with_seats_exhausted():
    lic = rules.activate(key_license(seats=1), "laptop", at("2024-06-01T00:00:00Z"),
                         years=1).license
    with pytest.raises(Refused) as caught:
        rules.activate(lic, "desktop", at("2024-06-02T00:00:00Z"), years=1)
    assert caught.value.code == "seats-exhausted"
    assert "1 of 1 seats (laptop)" in caught.value.message
    assert "deactivate L-1001" in caught.value.hint


def test_activating_on_the_same_machine_again_changes_nothing():
    lic = rules.activate(key_license(), "Laptop", at("2024-06-01T00:00:00Z"), years=1).license
    with pytest.raises(NoChange, match="already activated on laptop"):
        rules.activate(lic, "laptop ", at("2024-06-02T00:00:00Z"), years=1)


def test_a_revoked_key_cannot_be_activated():
    revoked = rules.revoke(key_license(), at("2024-03-10T00:00:00Z"), "refunded").license
    assert (revoked.status, revoked.status_reason) == ("revoked", "refunded")
    with pytest.raises(Refused) as caught:
        rules.activate(revoked, "laptop", at("2024-03-11T00:00:00Z"), years=1)
    assert caught.value.code == "key-revoked"
    with pytest.raises(NoChange):
        rules.revoke(revoked, at("2024-03-12T00:00:00Z"))


def test_deactivating_frees_the_seat_and_an_unknown_machine_changes_nothing():
    lic = rules.activate(key_license(), "laptop", at("2024-06-01T00:00:00Z"), years=1).license
    change = rules.deactivate(lic, "LAPTOP", at("2024-07-01T00:00:00Z"))
    assert change.license.activations == ()
    assert change.license.status == "active"  # still an activated key, with its seat free
    assert change.detail["machine"] == "laptop"
    with pytest.raises(NoChange, match="not activated on desktop"):
        rules.deactivate(lic, "desktop", at("2024-07-01T00:00:00Z"))


def test_lapse_is_due_only_after_the_window_and_only_once():
    lic = key_license("2024-02-29T08:00:00Z")
    with pytest.raises(NoChange):
        rules.lapse(lic, at("2025-02-28T23:59:59Z"), years=1)
    change = rules.lapse(lic, at("2025-03-01T00:00:00Z"), years=1)
    assert change.action == "deactivated"
    assert change.detail["reason"] == "activation-window-elapsed"
    with pytest.raises(NoChange):
        rules.lapse(change.license, at("2025-06-01T00:00:00Z"), years=1)


def test_no_event_detail_or_message_holds_the_key():
    symbols = keys.validate(KEY)
    lic = key_license(seats=2)
    changes = [rules.activate(lic, "laptop", at("2024-06-01T00:00:00Z"), years=1)]
    changes.append(rules.deactivate(changes[0].license, "laptop", at("2024-06-02T00:00:00Z")))
    changes.append(rules.revoke(lic, at("2024-06-03T00:00:00Z")))
    changes.append(rules.lapse(key_license(), at("2026-01-01T00:00:00Z"), years=1))
    for change in changes:
        text = repr(change.detail) + change.message
        assert symbols[:21] not in text and KEY[:20] not in text
        assert change.detail["key_last4"] == symbols[-4:]
        assert change.detail["fingerprint"] == keys.fingerprint(symbols)


def test_a_rejected_key_names_the_problem_and_position_but_never_the_key():
    typo = KEY[:6] + "U" + KEY[7:]
    with pytest.raises(keys.InvalidKey) as caught:
        keys.validate(typo)
    refusal = rules.KeyRejected(caught.value, extra={"valid": False})
    assert refusal.exit_code == 4
    assert refusal.to_dict() == {"valid": False, "error": "invalid-key", "message": refusal.message,
                                 "clause": None, "kind": "symbol", "position": 6}
    assert KEY[:5] not in refusal.message
