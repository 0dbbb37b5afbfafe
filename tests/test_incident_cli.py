"""`kscli incident` through the CLI, on both backends."""

from __future__ import annotations

import os
import re

import pytest
from freezegun import freeze_time

from tests.conftest import exported_events, ledger_created
from tests.helpers import REF

EVERY_BACKEND = True  # SQLite, JSON and PostgreSQL (conftest.pytest_generate_tests)

NOW = "2026-11-22T10:00:00Z"


@pytest.fixture
def support(add_sub):
    with freeze_time("2026-11-01T09:00:00Z"):
        return add_sub(kind="support", plan="annual", price="480.00")["id"]


def events_of(kscli, subject: str) -> list[dict]:
    return exported_events(kscli, subject)


@freeze_time(NOW)
def test_open_prints_the_incident_with_its_id_and_reference(kscli, support):
    opened = kscli.json("incident", "open", support, "--summary", "VPN client crashes")
    assert opened["id"] == "I-1001"
    assert REF.fullmatch(opened["reference"])
    assert opened == {**opened, "sub_id": support, "summary": "VPN client crashes",
                      "state": "open", "opened_at": NOW, "closed_at": None}
    recorded = events_of(kscli, "I-1001")
    assert [(e["action"], e["reference"]) for e in recorded] == [
        ("incident-opened", opened["reference"])]
    assert recorded[0]["detail"]["sub_id"] == support

    text = kscli("incident", "open", support, "--summary", "printer offline")
    assert text.exit_code == 0
    assert text.stdout.splitlines()[0] == "I-1002: opened on S-1001 (Acme Cloud)"
    assert re.search(r"^reference\s+KS-", text.stdout, re.M)


@freeze_time(NOW)
def test_open_on_a_subscription_that_is_not_a_support_plan_is_refused(kscli, add_sub):
    sub_id = add_sub()["id"]
    before = kscli("export").stdout
    result = kscli("incident", "open", sub_id, "--summary", "slow", fmt="json")
    assert result.exit_code == 4
    assert result.json()["error"] == "not-support-plan"
    assert "not a support plan" in result.stderr and "--kind support" in result.stderr
    assert kscli("export").stdout == before


@freeze_time(NOW)
def test_open_on_an_unknown_subscription_exits_3(kscli, store_path):
    result = kscli("incident", "open", "S-999", "--summary", "slow")
    assert result.exit_code == 3 and "no subscription S-999" in result.stderr
    assert result.stdout == ""


@freeze_time(NOW)
def test_open_needs_a_summary(kscli, support):
    assert kscli("incident", "open", support).exit_code == 2
    empty = kscli("incident", "open", support, "--summary", "  ")
    assert empty.exit_code == 2 and "empty" in empty.stderr
    assert kscli.json("incident", "list") == []


@freeze_time(NOW)
def test_open_on_a_refunded_support_plan_is_refused(kscli, support):
    assert kscli("refund", "request", support, "--yes").exit_code == 0
    result = kscli("incident", "open", support, "--summary", "slow")
    assert result.exit_code == 4 and "refunded" in result.stderr


@pytest.mark.parametrize("verb, state, action", [
    ("resolve", "resolved", "incident-resolved"),
    ("exhaust", "exhausted", "incident-exhausted"),
])
def test_resolve_and_exhaust_close_an_open_incident(kscli, support, verb, state, action):
    with freeze_time(NOW):
        kscli.json("incident", "open", support, "--summary", "printer")
    with freeze_time("2026-11-24T08:00:00Z"):
        closed = kscli.json("incident", verb, "I-1001")
        assert closed["state"] == state and closed["closed_at"] == "2026-11-24T08:00:00Z"
        assert REF.fullmatch(closed["reference"])
        # The same command again changes nothing: exit 0, no event.
        again = kscli("incident", verb, "1001", fmt="json")
        said = kscli("incident", verb, "I-1001")
    assert again.exit_code == 0 and again.json()["changed"] is False
    assert f"I-1001 is already {state}; nothing changed" == again.json()["message"]
    assert said.exit_code == 0 and said.stdout == ""
    assert f"already {state}" in said.stderr
    recorded = events_of(kscli, "I-1001")
    assert [e["action"] for e in recorded] == ["incident-opened", action]
    assert recorded[1]["detail"] == {"sub_id": support, "state": state}


@freeze_time(NOW)
def test_a_closed_incident_cannot_change_state(kscli, support):
    kscli.json("incident", "open", support, "--summary", "printer")
    kscli.json("incident", "exhaust", "I-1001")
    result = kscli("incident", "resolve", "I-1001", fmt="json")
    assert result.exit_code == 4
    assert result.json()["error"] == "incident-closed"
    assert "already closed as exhausted" in result.stderr
    assert kscli.json("incident", "list")[0]["state"] == "exhausted"


@freeze_time(NOW)
def test_unknown_incident_exits_3(kscli, support):
    for verb in ("resolve", "exhaust"):
        result = kscli("incident", verb, "I-4242")
        assert result.exit_code == 3 and "no incident I-4242" in result.stderr


def test_list_filters_by_subscription_and_state(kscli, support, add_sub):
    with freeze_time("2026-11-02T09:00:00Z"):
        other = add_sub(kind="support", plan="annual", price="99.00", vendor="Hooli")["id"]
        kscli.json("incident", "open", support, "--summary", "first")
    with freeze_time("2026-11-03T09:00:00Z"):
        kscli.json("incident", "open", other, "--summary", "second")
        kscli.json("incident", "open", support, "--summary", "third")
        kscli.json("incident", "resolve", "I-1003")

    assert [i["id"] for i in kscli.json("incident", "list")] == ["I-1001", "I-1002", "I-1003"]
    assert [i["id"] for i in kscli.json("incident", "list", "--sub", support)] == [
        "I-1001", "I-1003"]
    assert [i["id"] for i in kscli.json("incident", "list", "--state", "open")] == [
        "I-1001", "I-1002"]
    assert [i["id"] for i in kscli.json("incident", "list", "--sub", other, "--state",
                                        "resolved")] == []
    table = kscli("incident", "list")
    assert table.exit_code == 0
    assert re.search(r"^I-1003\s+S-1001\s+resolved\s+2026-11-03\s+2026-11-03\s+third$",
                     table.stdout, re.M)
    assert kscli("incident", "list", "--sub", "S-777").exit_code == 3


def test_list_on_a_missing_ledger_is_empty_and_creates_nothing(kscli, store_path):
    assert kscli.json("incident", "list") == []
    result = kscli("incident", "list")
    assert result.exit_code == 0 and result.stdout == ""
    assert "no incidents" in result.stderr
    assert not ledger_created(store_path)


def test_incident_states_drive_the_refund_answer(kscli, support):
    with freeze_time("2026-11-05T09:00:00Z"):
        kscli.json("incident", "open", support, "--summary", "printer")
        assert kscli("refund", "check", support).exit_code == 4
    with freeze_time("2026-11-08T09:00:00Z"):
        kscli.json("incident", "exhaust", "I-1001")
        assert kscli("refund", "check", support).exit_code == 0
