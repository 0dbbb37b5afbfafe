"""`kscli deadlines`: every decision date ahead, at the boundaries of its window."""

from __future__ import annotations

from pathlib import Path

import pytest
from freezegun import freeze_time

from kscli.domain.deadlines import ACTIVATION, COMMITMENT_END, MONEY_BACK, RENEWAL, SERVICE_END
from tests.helpers import machine_zone

EVERY_BACKEND = True


def _listed(kscli, *args):
    return kscli.json("deadlines", *args)


def _by_kind(found, kind):
    return [d for d in found if d["kind"] == kind]


@pytest.fixture(params=["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def far_tz(request):
    """The machine's time zone: 14 hours ahead of UTC, 11 behind, or UTC itself."""
    yield from machine_zone(request.param)


def test_within_counts_whole_utc_days_both_ends_included(kscli, add_sub, far_tz):
    with freeze_time("2026-03-10T15:00:00Z"):
        add_sub(started="2026-02-10")  # renews at 2026-04-10T00:00Z: 31 days from the 10th
        inside = _listed(kscli, "--within", "31d")
        outside = _listed(kscli, "--within", "30d")
    renewal = _by_kind(inside, RENEWAL)
    assert [(d["date"], d["days"], d["at"]) for d in renewal] == \
        [("2026-04-10", 31, "2026-04-10T00:00:00Z")]
    assert _by_kind(outside, RENEWAL) == []


def test_the_renewal_moment_itself_belongs_to_the_next_period(kscli, add_sub, far_tz):
    with freeze_time("2026-03-10T15:00:00Z"):
        add_sub(started="2026-02-10")
    with freeze_time("2026-04-09T23:59:59Z"):  # the last second before it: tomorrow, in UTC
        before = _by_kind(_listed(kscli, "--within", "7d"), RENEWAL)
    with freeze_time("2026-04-10T00:00:00Z"):  # it has happened: the next one is a month on
        at = _by_kind(_listed(kscli, "--within", "31d"), RENEWAL)
    assert [(d["date"], d["days"]) for d in before] == [("2026-04-10", 1)]
    assert [(d["date"], d["days"]) for d in at] == [("2026-05-10", 30)]
    assert before[0]["uid"] != at[0]["uid"]  # another period, another deadline


def test_each_row_says_what_happens_and_the_command_that_acts(kscli, add_sub):
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(vendor="Acme", price="9.99", started="2026-11-01")
        add_sub(vendor="Globex", started="2026-11-05")
        kscli("renew", "off", "S-1002")
        add_sub(vendor="Initech", plan="monthly", commitment="3m", started="2026-09-15")
        found = _listed(kscli)
    renewal = next(d for d in found if d["subject"] == "S-1001")
    assert renewal["kind"] == RENEWAL and renewal["date"] == "2026-12-01"
    assert renewal["command"] == "kscli renew off S-1001"
    assert renewal["amount"] == "9.99" and renewal["currency"] == "USD"
    assert "charges 9.99 USD" in renewal["happens"]
    end = next(d for d in found if d["subject"] == "S-1002")
    assert (end["kind"], end["date"], end["command"]) == (SERVICE_END, "2026-12-05",
                                                         "kscli renew on S-1002")
    assert "service ends" in end["happens"] and end["clause"] == "cancel.end-of-term"
    committed = _by_kind(found, COMMITMENT_END)
    assert [(d["subject"], d["date"], d["clause"]) for d in committed] == \
        [("S-1003", "2026-12-15", "cancel.commitment")]
    assert [d["date"] for d in found] == sorted(d["date"] for d in found)


def test_table_lists_soonest_first_with_days_left(kscli, add_sub):
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(vendor="Later", started="2026-11-20")
        add_sub(vendor="Sooner", started="2026-10-25")
        result = kscli("deadlines", "--within", "30d")
    lines = result.stdout.splitlines()
    assert result.exit_code == 0
    assert lines[0].split()[:4] == ["Date", "In", "Kind", "Subject"]
    assert lines[2].startswith("2026-11-25  in 3 days") and "Sooner" in lines[2]
    assert lines[3].startswith("2026-12-20  in 28 days") and "Later" in lines[3]
    assert "kscli renew off S-1002" in lines[2]


def test_the_money_back_window_is_the_one_refund_check_gives(kscli, add_sub):
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(plan="annual", price="120", started="2026-11-12")
        found = _by_kind(_listed(kscli, "--within", "1y"), MONEY_BACK)
        check = kscli.json("refund", "check", "S-1001")
    # the current period's window, and the one the renewal within the year opens
    assert [d["uid"] for d in found] == ["money-back-S-1001-1"]
    assert found[0]["date"] == check["deadline"] == "2027-01-11"
    assert found[0]["command"] == "kscli refund request S-1001"
    assert found[0]["clause"] == "refund.money-back"
    with freeze_time("2027-01-11T23:59:59Z"):  # the last day whole
        last = _by_kind(_listed(kscli, "--within", "1d"), MONEY_BACK)
    with freeze_time("2027-01-12T00:00:00Z"):
        after = _by_kind(_listed(kscli, "--within", "1y"), MONEY_BACK)
    assert [(d["date"], d["days"]) for d in last] == [("2027-01-11", 0)]
    assert [d["uid"] for d in after] == ["money-back-S-1001-2"]  # the next period's, after renewal
    assert after[0]["date"] == "2028-01-11"


def _policy_with_region(tmp_path) -> str:
    import kscli

    text = (Path(kscli.__file__).parent / "default_policy.toml").read_text()
    text += '\n[clause."refund.money-back".regions.EU]\nannual = 60\nmonthly = 14\n'
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return str(path)


def test_money_back_days_come_from_the_policy_per_plan_and_region(kscli, add_sub, tmp_path):
    policy = _policy_with_region(tmp_path)
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(region="EU", started="2026-11-20")
        add_sub(region="US", started="2026-11-20")
        found = _by_kind(_listed(kscli, "--policy", policy), MONEY_BACK)
        built_in = _by_kind(_listed(kscli), MONEY_BACK)
        check = kscli.json("--policy", policy, "refund", "check", "S-1001")
    assert [(d["subject"], d["date"]) for d in found] == [("S-1001", "2026-12-04")]
    assert check["deadline"] == "2026-12-04"
    assert built_in == []  # monthly plans have no window in the built-in policy


def test_a_key_s_last_day_to_activate_on_29_february(kscli, far_tz):
    with freeze_time("2028-02-29T12:00:00Z"):
        kscli("license", "issue", "--product", "Studio")
    with freeze_time("2029-02-28T23:59:59Z"):
        last = _by_kind(_listed(kscli, "--within", "7d"), ACTIVATION)
    with freeze_time("2029-03-01T00:00:00Z"):
        after = _by_kind(_listed(kscli, "--within", "7d"), ACTIVATION)
    assert [(d["subject"], d["date"], d["days"]) for d in last] == [("L-1001", "2029-02-28", 0)]
    assert last[0]["command"] == "kscli license activate L-1001 --machine NAME"
    assert last[0]["clause"] == "license.activation-window"
    assert after == []


def test_an_annual_plan_started_on_29_february_renews_on_28_february(kscli, add_sub):
    with freeze_time("2028-03-01T00:00:00Z"):
        add_sub(plan="annual", started="2028-02-29")
        found = _listed(kscli, "--within", "1y")
    renewal = _by_kind(found, RENEWAL)
    assert [(d["date"], d["uid"]) for d in renewal] == [("2029-02-28", "renewal-S-1001-2")]
    assert [d["date"] for d in _by_kind(found, MONEY_BACK)] == ["2028-04-29"]


def test_an_activated_key_has_no_deadline(kscli):
    with freeze_time("2026-11-22T10:00:00Z"):
        kscli("license", "issue", "--product", "Studio")
        assert _by_kind(_listed(kscli, "--within", "2y"), ACTIVATION) != []
        assert kscli("license", "activate", "L-1001", "--machine", "m1").exit_code == 0
        assert _by_kind(_listed(kscli, "--within", "2y"), ACTIVATION) == []


def test_as_of_answers_with_what_was_recorded_by_then(kscli, add_sub):
    with freeze_time("2026-11-01T10:00:00Z"):
        add_sub(started="2026-10-20")
    with freeze_time("2026-11-10T10:00:00Z"):
        kscli("renew", "off", "S-1001")
        before = _listed(kscli, "--as-of", "2026-11-05")
        now = _listed(kscli)
        ahead = _listed(kscli, "--as-of", "2026-11-25", "--within", "7d")
    assert [(d["kind"], d["date"], d["days"]) for d in before] == [(RENEWAL, "2026-11-20", 15)]
    assert [(d["kind"], d["date"]) for d in now] == [(SERVICE_END, "2026-11-20")]
    assert ahead == []  # ended on the 20th


def test_uids_are_stable_and_a_repriced_renewal_keeps_its_uid(kscli, add_sub):
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(price="9.99", started="2026-11-01")
        first = _listed(kscli, "--within", "1y")
        assert _listed(kscli, "--within", "1y") == first  # deterministic
        kscli("sub", "reprice", "S-1001", "--price", "12.50")
        repriced = _listed(kscli, "--within", "1y")
    assert [d["uid"] for d in repriced] == [d["uid"] for d in first]
    assert [d["uid"] for d in first[:2]] == ["renewal-S-1001-2", "renewal-S-1001-3"]
    assert {d["amount"] for d in repriced} == {"12.50"} and {d["amount"] for d in first} == {"9.99"}
    with freeze_time("2027-01-05T10:00:00Z"):  # two renewals later, the same periods' uids
        later = _listed(kscli, "--within", "1y")
    assert [(d["uid"], d["date"]) for d in later][:2] == \
        [("renewal-S-1001-4", "2027-02-01"), ("renewal-S-1001-5", "2027-03-01")]
    assert ("renewal-S-1001-4", "2027-02-01") in [(d["uid"], d["date"]) for d in repriced]


def test_nothing_ahead_is_an_empty_list_and_no_ledger_is_created(kscli, store_path):
    result = kscli("deadlines")
    assert result.exit_code == 0 and result.stdout == ""
    assert "no deadline within 30d" in result.stderr
    assert kscli("deadlines", fmt="json").json() == []
    from tests.conftest import ledger_created

    assert not ledger_created(store_path)


@pytest.mark.parametrize("args, words", [
    (("--within", "soon"), "is not a duration"),
    (("--as-of", "yesterday"), "--as-of"),
])
def test_bad_values_are_usage_errors(kscli, args, words):
    result = kscli("deadlines", *args)
    assert result.exit_code == 2 and words in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_void_and_ended_subscriptions_have_no_deadline(kscli, add_sub):
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(started="2026-11-01")
        add_sub(started="2026-11-01")
        assert kscli("sub", "void", "S-1001", "--reason", "entered twice", "--yes").exit_code == 0
        assert kscli("sub", "cancel", "S-1002", "--immediately", "--yes").exit_code == 0
        assert _listed(kscli, "--within", "1y") == []


def test_the_sample_ledger_lists_every_kind_of_today(kscli):
    with freeze_time("2026-11-22T10:00:00Z"):
        kscli("init", "--sample")
        found = _listed(kscli, "--within", "1y")
    kinds = {d["kind"] for d in found}
    assert {RENEWAL, SERVICE_END, COMMITMENT_END, MONEY_BACK, ACTIVATION} <= kinds
    assert len({d["uid"] for d in found}) == len(found)
    assert all(d["command"].startswith("kscli ") for d in found)
