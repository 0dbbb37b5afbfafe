"""`kscli deadlines` for the terms a subscription can carry: a free trial's end, the
last day to cancel before a renewal with a notice period, and a fixed end."""

from __future__ import annotations

from freezegun import freeze_time

from kscli.domain.deadlines import CANCEL_BY, FIXED_END, RENEWAL, SERVICE_END, TRIAL_END

EVERY_BACKEND = True


def _kinds(kscli, *args):
    return [(d["kind"], d["date"], d["subject"]) for d in kscli.json("deadlines", *args)]


def test_a_trial_ending_on_29_february_is_one_deadline_with_its_first_charge(kscli, add_sub):
    with freeze_time("2028-02-15T10:00:00Z"):
        add_sub(started="2028-02-15", trial="14d", price="7.50")
        found = kscli.json("deadlines", "--within", "45d")
    assert [(d["kind"], d["date"]) for d in found] == [(TRIAL_END, "2028-02-29"),
                                                      (RENEWAL, "2028-03-29")]
    trial = found[0]
    assert (trial["amount"], trial["currency"], trial["clause"]) == ("7.50", "USD", "cancel.trial")
    assert trial["command"] == "kscli sub cancel S-1001" and "first monthly period" in trial["happens"]
    assert trial["uid"] == "trial-end-S-1001"
    with freeze_time("2028-02-29T23:59:59Z"):  # it has happened at 00:00 that day
        assert _kinds(kscli, "--within", "7d") == []
    with freeze_time("2028-02-28T23:59:59Z"):
        assert _kinds(kscli, "--within", "1d") == [(TRIAL_END, "2028-02-29", "S-1001")]


def test_a_trial_cancelled_ends_without_a_charge_and_renews_nothing(kscli, add_sub):
    with freeze_time("2026-01-31T08:00:00Z"):
        add_sub(started="2026-01-31", trial="1m")  # ends at the month's end: 28 February
        kscli.json("sub", "cancel", "S-1001", "--yes")
        found = kscli.json("deadlines", "--within", "90d")
    assert [(d["kind"], d["date"], d["amount"]) for d in found] == [(TRIAL_END, "2026-02-28", None)]
    assert "nothing is charged" in found[0]["happens"]
    assert found[0]["command"] == "kscli sub resume S-1001"


def test_the_cancel_by_day_is_listed_through_its_last_second(kscli, add_sub):
    """Annual from 2026-01-16 with 30 days' notice: the renewal of 2027-01-16 is stopped
    on or before 2026-12-17; from 2026-12-18 00:00 UTC it is billed."""
    with freeze_time("2026-01-16T09:00:00Z"):
        add_sub(started="2026-01-16", plan="annual", price="240.00", notice="30d")
    with freeze_time("2026-12-17T23:59:59Z"):
        found = kscli.json("deadlines", "--within", "31d")
    by = {d["kind"]: d for d in found}
    assert sorted(by) == [CANCEL_BY, RENEWAL]
    assert (by[CANCEL_BY]["date"], by[CANCEL_BY]["days"], by[CANCEL_BY]["at"]) == \
        ("2026-12-17", 0, "2026-12-18T00:00:00Z")
    assert by[CANCEL_BY]["command"] == "kscli renew off S-1001"
    assert by[CANCEL_BY]["clause"] == "cancel.notice" and "2027-01-16" in by[CANCEL_BY]["happens"]
    with freeze_time("2026-12-18T00:00:00Z"):  # too late for this renewal; the next is a year on
        assert _kinds(kscli, "--within", "31d") == [(RENEWAL, "2027-01-16", "S-1001")]
        ahead = [d for d in kscli.json("deadlines", "--within", "1y") if d["kind"] == CANCEL_BY]
    assert [(d["date"], d["uid"]) for d in ahead] == [("2027-12-17", "cancel-by-S-1001-3")]
    assert by[CANCEL_BY]["uid"] == "cancel-by-S-1001-2"


def test_notice_across_a_year_end_and_none_after_renew_off(kscli, add_sub):
    with freeze_time("2026-12-20T12:00:00Z"):
        add_sub(started="2026-11-05", notice="1m")  # renews 2027-01-05: cancel by 2026-12-05
        found = _kinds(kscli, "--within", "40d")
    # 2026-12-05 has passed: the renewal of 2027-01-05 is billed; the next one's day is
    # 2027-01-05 itself (2027-02-05 minus a month), and so on
    assert found == [(CANCEL_BY, "2027-01-05", "S-1001"), (RENEWAL, "2027-01-05", "S-1001")]
    with freeze_time("2026-12-20T12:00:00Z"):
        kscli.json("renew", "off", "S-1001")
        after = _kinds(kscli, "--within", "40d")
    assert CANCEL_BY not in [k for k, _, _ in after]


def test_a_fixed_end_is_its_own_kind_and_nothing_renews_at_it(kscli, add_sub):
    with freeze_time("2026-11-20T12:00:00Z"):
        add_sub(started="2026-11-10", ends="2027-01-10")
        found = kscli.json("deadlines", "--within", "90d")
    assert [(d["kind"], d["date"]) for d in found] == [(RENEWAL, "2026-12-10"),
                                                      (FIXED_END, "2027-01-10")]
    assert found[1]["uid"] == "fixed-end-S-1001"
    assert found[1]["command"] == "kscli sub edit S-1001 --no-ends"
    assert SERVICE_END not in {d["kind"] for d in found}


def test_the_calendar_holds_the_new_kinds_with_their_uids(kscli, add_sub, tmp_path):
    import icalendar

    with freeze_time("2026-01-16T09:00:00Z"):
        add_sub(started="2026-01-16", plan="annual", notice="30d")
        add_sub(vendor="Streamly", started="2026-01-16", trial="14d")
    with freeze_time("2026-01-20T09:00:00Z"):
        out = tmp_path / "d.ics"
        assert kscli("calendar", "-o", str(out), "--within", "1y").exit_code == 0
    cal = icalendar.Calendar.from_ical(out.read_bytes())
    uids = [str(e["UID"]) for e in cal.walk("VEVENT")]
    assert any(u.startswith("trial-end-S-1002") for u in uids)
    assert any(u.startswith("cancel-by-S-1001-2") for u in uids)
