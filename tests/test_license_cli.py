"""`kscli license`: keys end to end, against real SQLite and JSON ledgers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from freezegun import freeze_time
from keyring.backend import KeyringBackend

from kscli.domain import keys
from kscli.policy_files import default_policy_text
from kscli.store import open_store
from tests.conftest import Kscli, ledger_created
from tests.memory_keyring import vault

EVERY_BACKEND = True  # SQLite, JSON and PostgreSQL (conftest.pytest_generate_tests)

ROOT = Path(__file__).resolve().parent.parent

VIEW_KEYS = {
    "id", "product", "account", "sub_id", "key_masked", "key_last4", "fingerprint", "status",
    "status_reason", "purchased_at", "activation_deadline", "window_closes_at", "seats",
    "seats_used", "activations", "issued", "secret_store", "created_at",
}


class BrokenKeyring(KeyringBackend):
    """A keyring that is chosen but fails when used, as SecretService does without D-Bus."""

    priority = 1

    def get_password(self, service, username):
        raise RuntimeError("org.freedesktop.DBus.Error.ServiceUnknown")

    def set_password(self, service, username, password):
        raise RuntimeError("org.freedesktop.DBus.Error.ServiceUnknown")

    def delete_password(self, service, username):
        raise RuntimeError("org.freedesktop.DBus.Error.ServiceUnknown")


def swapped(key: str) -> str:
    """The key with two neighbouring symbols swapped, where that swap is the one fix.

    (Rarely another swap would also give a valid key: that typo is not used.)
    """
    symbols = keys.normalize(key)
    for i in range(3, 24):
        typo = keys.format_key(symbols[:i] + symbols[i + 1] + symbols[i] + symbols[i + 2:])
        if keys.one_swap_away(typo) == [symbols]:
            return typo
    raise AssertionError("no neighbour swap with a single fix")  # pragma: no cover


def assert_no_key(text: str, key: str) -> None:
    """Neither the key, nor its hidden part, nor one of its hidden groups is in ``text``."""
    symbols = keys.normalize(key)
    squeezed = re.sub(r"[\s\-]", "", text).upper()
    assert symbols[:21] not in squeezed
    assert key[:17] not in text
    for group in key.split("-")[:4]:
        assert not re.search(rf"(?<![0-9A-Z]){group}(?![0-9A-Z])", text), group


def add_key(kscli, key: str | None = None, *options: str) -> dict:
    key = key or keys.generate()
    return kscli.json("license", "add", "-", "--product", "Photo Editor", *options,
                      input=key + "\n")


def events(kscli) -> list[dict]:
    result = kscli("export")
    assert result.exit_code == 0, result.stderr
    return result.json()["tables"]["events"]


def stored(store_path: str):
    with open_store(store_path).read() as ledger:
        return {lic.id: (lic, ledger.secret(lic.id)) for lic in ledger.licenses()}


# --- validate (offline) -----------------------------------------------------------------

def test_validate_a_valid_key_exits_0_masked_without_creating_a_ledger(kscli, store_path):
    key = keys.generate()
    result = kscli("license", "validate", key)
    assert result.exit_code == 0
    symbols = keys.normalize(key)
    assert result.stdout.strip() == (f"valid  {keys.mask(symbols[-4:])}  fp {keys.fingerprint(symbols)}")
    assert kscli.json("license", "validate", key.lower().replace("-", " ")) == {
        "valid": True, "key_masked": keys.mask(symbols[-4:]), "key_last4": symbols[-4:],
        "fingerprint": keys.fingerprint(symbols),
    }
    assert not ledger_created(store_path)


def test_validate_a_swapped_key_exits_4_and_never_suggests_a_key(kscli):
    key = keys.generate()
    typo = swapped(key)
    result = kscli("license", "validate", typo, fmt="json")
    assert result.exit_code == 4
    doc = result.json()
    assert doc["valid"] is False and doc["error"] == "invalid-key" and doc["kind"] == "check"
    assert "a symbol is mistyped or two are swapped" in doc["message"]
    assert "position" not in doc
    assert_no_key(result.stdout, key)
    assert_no_key(result.stdout, typo)
    assert_no_key(result.stderr, key)  # not echoed, not even as a suggestion
    assert result.stderr.startswith("Error: invalid key: the check symbols do not match")
    revealed = kscli("license", "validate", typo, "--reveal")
    assert revealed.exit_code == 4 and "did you mean" not in revealed.stderr
    assert_no_key(revealed.stderr, key)


def test_activate_and_add_name_the_one_ledger_key_a_swap_gives(kscli):
    key = keys.generate()
    lic = kscli.json("license", "add", key, "--product", "P")
    typo = swapped(key)
    activated = kscli("license", "activate", typo, "--machine", "m")
    assert activated.exit_code == 4
    assert f"did you mean {lic['id']} (fp {lic['fingerprint']})" in activated.stderr
    assert_no_key(activated.stderr, key)
    again = kscli("license", "add", typo, "--product", "P")
    assert again.exit_code == 4 and f"did you mean {lic['id']}" in again.stderr
    # a key not in the ledger is never suggested
    other = swapped(keys.generate())
    assert "did you mean" not in kscli("license", "activate", other, "--machine", "m").stderr


@pytest.mark.parametrize("mangle, said", [
    (lambda k: k[:8] + "U" + k[9:], "symbol 8 is not allowed in a key"),
    (lambda k: k[:-1], "a key has 25 symbols; this one has 24"),
    (lambda k: k.replace("-", "") + "0", "a key has 25 symbols; this one has 26"),
])
def test_validate_says_what_is_wrong_and_where_without_echoing_the_key(kscli, mangle, said):
    key = keys.generate()
    result = kscli("license", "validate", mangle(key))
    assert result.exit_code == 4
    assert said in result.stderr
    assert result.stderr.count("\n") == 1
    assert_no_key(result.stderr, key)


def test_validate_with_nothing_on_stdin_is_a_usage_error(kscli):
    result = kscli("license", "validate", "-", input="\n")
    assert result.exit_code == 2
    assert "no key on standard input" in result.stderr


def test_validate_reads_the_key_from_stdin(kscli):
    key = keys.generate()
    assert kscli("license", "validate", "-", input=key.lower() + "\n").exit_code == 0
    assert kscli("license", "validate", "-", input=swapped(key) + "\n").exit_code == 4


# --- add ---------------------------------------------------------------------------------

def test_add_records_the_key_masked_with_a_reference(kscli, add_sub, store_path):
    sub = add_sub(kind="software", plan=None, account="ada@example.com")
    key = keys.generate()
    with freeze_time("2026-03-01T10:00:00Z"):
        view = add_key(kscli, key, "--sub", sub["id"], "--seats", "2", "--purchased", "2026-02-20")
    assert set(view) == VIEW_KEYS | {"reference", "message"}
    symbols = keys.normalize(key)
    assert view["id"] == "L-1001"
    assert view["key_masked"] == "*****-*****-*****-*****-*" + symbols[-4:]
    assert (view["status"], view["seats"], view["seats_used"]) == ("unactivated", 2, 0)
    assert view["purchased_at"] == "2026-02-20T00:00:00Z"
    assert view["activation_deadline"] == "2027-02-20"
    assert view["account"] == "ada@example.com"  # inherited from the subscription
    assert view["issued"] is False and view["secret_store"] == "keyring"
    assert re.fullmatch(r"KS-20260301-[0-9A-Z]{6}", view["reference"])
    created = [e for e in events(kscli) if e["subject"] == "L-1001"]
    assert [e["action"] for e in created] == ["created"]
    assert created[0]["reference"] == view["reference"]


def test_add_shows_a_table_with_the_masked_key_and_fingerprint(kscli):
    key = keys.generate()
    symbols = keys.normalize(key)
    result = kscli("license", "add", key, "--product", "Photo Editor")
    assert result.exit_code == 0
    assert f"*****-*****-*****-*****-*{symbols[-4:]}  fp {keys.fingerprint(symbols)}" in result.stdout
    assert "reference" in result.stdout and "L-1001: added a key for Photo Editor" in result.stdout
    assert_no_key(result.stdout + result.stderr, key)


def test_add_a_duplicate_key_is_refused_without_echoing_it(kscli):
    key = keys.generate()
    add_key(kscli, key)
    result = kscli("license", "add", key.lower(), "--product", "Other", fmt="json")
    assert result.exit_code == 4
    assert result.json()["error"] == "duplicate-key"
    assert "already in" in result.stderr and "L-1001" in result.stderr
    assert_no_key(result.stdout + result.stderr, key)
    assert len(kscli.json("license", "list")) == 1


def test_add_with_an_unknown_subscription_exits_3_and_writes_nothing(kscli):
    key = keys.generate()
    add_key(kscli)
    result = kscli("license", "add", key, "--product", "P", "--sub", "S-4242")
    assert result.exit_code == 3
    assert "no subscription S-4242" in result.stderr
    assert len(kscli.json("license", "list")) == 1


def test_add_an_invalid_key_exits_4_before_touching_the_ledger(kscli, store_path):
    key = keys.generate()
    result = kscli("license", "add", swapped(key), "--product", "P")
    assert result.exit_code == 4
    assert "did you mean" not in result.stderr  # no key of the ledger is one swap away
    assert_no_key(result.stderr, key)
    assert not ledger_created(store_path)


def test_add_refuses_a_purchase_in_the_future(kscli, store_path):
    with freeze_time("2026-03-01T10:00:00Z"):
        result = kscli("license", "add", keys.generate(), "--product", "P", "--purchased", "2026-03-02")
    assert result.exit_code == 2
    assert "cannot be in the future" in result.stderr
    assert not ledger_created(store_path)


# --- issue -------------------------------------------------------------------------------

def test_issue_prints_new_keys_once_in_full_and_records_them_issued(kscli, add_sub):
    sale = add_sub(kind="software", plan=None, vendor="Wayne Software", product="Photo Editor")
    issued = kscli.json("license", "issue", "--product", "Photo Editor", "--count", "2",
                        "--sub", sale["id"], "--seats", "3")
    assert isinstance(issued, list) and len(issued) == 2
    for item in issued:
        assert set(item) == VIEW_KEYS | {"key", "reference"}
        assert keys.validate(item["key"]) == keys.normalize(item["key"])
        assert item["issued"] is True and item["status"] == "unactivated" and item["seats"] == 3
        assert item["sub_id"] == sale["id"]
    assert issued[0]["key"] != issued[1]["key"]
    listed = kscli("license", "list")
    for item in issued:
        assert_no_key(listed.stdout, item["key"])
    revealed = kscli.json("license", "show", issued[1]["id"], "--reveal")
    assert revealed["key"] == issued[1]["key"]


def test_issue_table_shows_the_keys_and_warns_that_it_is_the_only_time(kscli):
    result = kscli("license", "issue", "--product", "Photo Editor")
    assert result.exit_code == 0
    shown = re.findall(r"[0-9A-Z]{5}(?:-[0-9A-Z]{5}){4}", result.stdout)
    assert len(shown) == 1 and keys.validate(shown[0])
    assert "shown this once" in result.stderr


# --- list and show -------------------------------------------------------------------------

def test_list_and_show_mask_keys_and_reveal_only_when_asked(kscli):
    key = keys.generate()
    add_key(kscli, key)
    for args in (("license", "list"), ("license", "show", "L-1001"), ("license", "show", "1001")):
        result = kscli(*args)
        assert result.exit_code == 0, result.stderr
        assert keys.normalize(key)[-4:] in result.stdout
        assert_no_key(result.stdout + result.stderr, key)
    assert key in kscli("license", "list", "--reveal").stdout
    assert key in kscli("license", "show", "L-1001", "--reveal").stdout
    assert kscli.json("license", "list", "--reveal")[0]["key"] == key
    assert "key" not in kscli.json("license", "list")[0]


def test_show_finds_a_key_given_on_stdin_by_its_hash(kscli):
    key = keys.generate()
    add_key(kscli)
    add_key(kscli, key)
    found = kscli.json("license", "show", "-", input=key + "\n")
    assert found["id"] == "L-1002"
    missing = kscli("license", "show", "-", input=keys.generate() + "\n")
    assert missing.exit_code == 3
    assert "no license key with fingerprint" in missing.stderr


def test_show_of_an_unknown_id_on_a_missing_ledger_exits_3_and_creates_nothing(kscli, store_path):
    result = kscli("license", "show", "L-1001", fmt="json")
    assert result.exit_code == 3
    assert result.json()["error"] == "not-found"
    assert not ledger_created(store_path)
    assert kscli.json("license", "list") == []


def test_list_filters_unactivated_keys_due_within_a_duration(kscli):
    with freeze_time("2025-01-01T12:00:00Z"):
        add_key(kscli, None, "--purchased", "2024-02-29")   # last day 2025-02-28
        add_key(kscli, None, "--purchased", "2024-06-15")   # last day 2025-06-15
        add_key(kscli, None, "--purchased", "2024-01-20")   # last day 2025-01-20
        kscli.json("license", "activate", "L-1003", "--machine", "laptop")
        assert [k["id"] for k in kscli.json("license", "list", "--unactivated")] == ["L-1001", "L-1002"]
        due = kscli.json("license", "list", "--unactivated", "--due-within", "60d")
        assert [k["id"] for k in due] == ["L-1001"]
        assert [k["id"] for k in kscli.json("license", "list", "--status", "active")] == ["L-1003"]
        later = kscli.json("license", "list", "--due-within", "30d", "--as-of", "2025-05-20")
        assert [k["id"] for k in later] == ["L-1002"]
        assert kscli.json("license", "list", "--product", "photo editor")[0]["id"] == "L-1001"
        assert kscli.json("license", "list", "--product", "nothing") == []
        table = kscli("license", "list", "--due-within", "60d")
        assert "2025-02-28 (58 days left)" in table.stdout


# --- activate and deactivate ----------------------------------------------------------------

def test_activate_up_to_the_seats_then_refuse_with_seats_exhausted(kscli):
    key = keys.generate()
    add_key(kscli, key, "--seats", "2")
    first = kscli.json("license", "activate", "L-1001", "--machine", "laptop")
    assert (first["status"], first["seats_used"]) == ("active", 1)
    assert first["activations"][0]["machine"] == "laptop" and first["reference"]
    second = kscli.json("license", "activate", "-", "--machine", "desktop", input=key + "\n")
    assert second["seats_used"] == 2
    refused = kscli("license", "activate", "L-1001", "--machine", "tablet", fmt="json")
    assert refused.exit_code == 4
    assert refused.json()["error"] == "seats-exhausted"
    assert "2 of 2 seats (laptop, desktop)" in refused.stderr
    assert "kscli license deactivate L-1001" in refused.stderr
    actions = [e["action"] for e in events(kscli) if e["subject"] == "L-1001"]
    assert actions == ["created", "activated", "activated"]


def test_activating_the_same_machine_again_says_so_and_adds_no_event(kscli):
    add_key(kscli)
    kscli.json("license", "activate", "L-1001", "--machine", "laptop")
    again = kscli("license", "activate", "L-1001", "--machine", "laptop")
    assert again.exit_code == 0
    assert "already activated on laptop; nothing changed" in again.stderr
    assert again.stdout == ""
    assert kscli.json("license", "activate", "L-1001", "--machine", "laptop")["changed"] is False
    assert [e["action"] for e in events(kscli)].count("activated") == 1


def test_deactivate_frees_a_seat_for_another_machine(kscli):
    key = keys.generate()
    add_key(kscli, key)
    kscli.json("license", "activate", "L-1001", "--machine", "old-laptop")
    assert kscli("license", "activate", "L-1001", "--machine", "new-laptop").exit_code == 4
    freed = kscli.json("license", "deactivate", "-", "--machine", "old-laptop", input=key + "\n")
    assert freed["seats_used"] == 0 and freed["reference"]
    assert kscli.json("license", "activate", "L-1001", "--machine", "new-laptop")["seats_used"] == 1
    nothing = kscli("license", "deactivate", "L-1001", "--machine", "old-laptop")
    assert nothing.exit_code == 0 and "nothing changed" in nothing.stderr
    actions = [e["action"] for e in events(kscli) if e["subject"] == "L-1001"]
    assert actions == ["created", "activated", "machine-deactivated", "activated"]


def test_activate_an_unknown_id_exits_3(kscli):
    add_key(kscli)
    result = kscli("license", "activate", "L-2000", "--machine", "laptop")
    assert result.exit_code == 3
    assert "no license key L-2000" in result.stderr


@pytest.mark.parametrize("purchased, last_second, first_second_after, tz", [
    ("2024-02-29", "2025-02-28T23:59:59Z", "2025-03-01T00:00:00Z", "UTC"),
    ("2024-02-29", "2025-02-28T23:59:59Z", "2025-03-01T00:00:00Z", "Pacific/Kiritimati"),
    ("2024-02-29", "2025-02-28T23:59:59Z", "2025-03-01T00:00:00Z", "America/Adak"),
    ("2023-02-28", "2024-02-28T23:59:59Z", "2024-02-29T00:00:00Z", "UTC"),
    ("2023-03-01", "2024-03-01T23:59:59Z", "2024-03-02T00:00:00Z", "UTC"),
])
def test_activation_is_allowed_through_the_last_second_of_the_last_day(
        kscli, purchased, last_second, first_second_after, tz, local_tz):
    local_tz(tz)
    with freeze_time(purchased + "T09:00:00Z"):
        add_key(kscli, None, "--purchased", purchased)
        add_key(kscli, None, "--purchased", purchased)
        assert kscli.json("license", "show", "L-1001")["activation_deadline"] == last_second[:10]
    with freeze_time(last_second):
        ok = kscli.json("license", "activate", "L-1001", "--machine", "laptop")
        assert ok["status"] == "active"
        assert kscli.json("license", "show", "L-1002")["status"] == "unactivated"
    with freeze_time(first_second_after):
        assert kscli.json("license", "show", "L-1002")["status"] == "deactivated"
        late = kscli("license", "activate", "L-1002", "--machine", "laptop", fmt="json")
        assert late.exit_code == 4
        assert late.json() == {
            "error": "activation-window-elapsed", "clause": "license.activation-window",
            "message": late.json()["message"],
        }
        assert f"closed at {first_second_after[:10]} 00:00 UTC" in late.stderr
        assert f"the last day to activate was {last_second[:10]}" in late.stderr


def test_a_late_activation_records_the_deactivation_although_it_is_refused(kscli, store_path):
    with freeze_time("2024-02-29T09:00:00Z"):
        add_key(kscli)
    with freeze_time("2025-03-10T00:00:00Z"):
        late = kscli("license", "activate", "L-1001", "--machine", "laptop")
        assert late.exit_code == 4
        reference = re.search(r"recorded as (KS-\d{8}-[0-9A-Z]{6})", late.stderr).group(1)
        lic, _ = stored(store_path)["L-1001"]
        assert (lic.status, lic.status_reason) == ("deactivated", "activation-window-elapsed")
        lapse = [e for e in events(kscli) if e["action"] == "deactivated"]
        assert [e["reference"] for e in lapse] == [reference]
        detail = json.loads(lapse[0]["detail"])
        assert detail["reason"] == "activation-window-elapsed"
        assert detail["effective_at"] == "2025-03-01T00:00:00Z"
        again = kscli("license", "activate", "L-1001", "--machine", "laptop")
        assert again.exit_code == 4 and "recorded as" not in again.stderr
        assert kscli.json("sweep") == []
        assert len([e for e in events(kscli) if e["action"] == "deactivated"]) == 1


def test_activate_refuses_a_clock_set_back_unless_trusted(kscli):
    with freeze_time("2026-05-10T12:00:00Z"):
        add_key(kscli)
    with freeze_time("2026-05-10T11:40:00Z"):
        refused = kscli("license", "activate", "L-1001", "--machine", "laptop", fmt="json")
        assert refused.exit_code == 4
        assert refused.json()["error"] == "clock-set-back"
        assert "--trust-clock" in refused.stderr
        assert kscli.json("license", "show", "L-1001")["status"] == "unactivated"
        trusted = kscli.json("license", "activate", "L-1001", "--machine", "laptop", "--trust-clock")
        assert trusted["status"] == "active"
    with freeze_time("2026-05-10T11:55:00Z"):  # within ten minutes: no question
        assert kscli("license", "activate", "L-1001", "--machine", "desktop").exit_code == 4
        assert "seats" in kscli("license", "activate", "L-1001", "--machine", "desktop").stderr


# --- sweep ----------------------------------------------------------------------------------

def test_a_lapsed_key_shows_deactivated_before_sweep_and_sweep_records_it_once(kscli):
    with freeze_time("2024-02-29T09:00:00Z"):
        add_key(kscli)
        add_key(kscli)
        kscli.json("license", "activate", "L-1002", "--machine", "laptop")
    with freeze_time("2025-03-01T00:00:00Z"):
        listed = {k["id"]: k for k in kscli.json("license", "list")}
        assert listed["L-1001"]["status"] == "deactivated"
        assert listed["L-1001"]["status_reason"] == "activation-window-elapsed"
        assert listed["L-1002"]["status"] == "active"
        assert [k["id"] for k in kscli.json("license", "list", "--status", "deactivated")] == ["L-1001"]
        dry = kscli.json("sweep", "--dry-run")
        assert [(c["subject"], c["action"], c["reference"]) for c in dry] == [("L-1001", "deactivated", None)]
        assert not [e for e in events(kscli) if e["action"] == "deactivated"]
        swept = kscli.json("sweep")
        assert [(c["subject"], c["action"]) for c in swept] == [("L-1001", "deactivated")]
        assert swept[0]["reference"]
        assert kscli.json("sweep") == []
        recorded = [e for e in events(kscli) if e["action"] == "deactivated"]
        assert [(e["subject"], e["reference"]) for e in recorded] == [("L-1001", swept[0]["reference"])]
        # --as-of the window's last second shows what held then: the lapse recorded
        # later is left out; from the lapse on, the recorded lapse stands.
        before = kscli.json("license", "show", "L-1001", "--as-of", "2025-02-28T23:59:59Z")
        assert before["status"] == "unactivated"
        assert kscli.json("license", "show", "L-1001", "--as-of", "2025-03-01")["status"] \
            == "deactivated"


# --- the window comes from the policy ------------------------------------------------------------

def two_year_policy(tmp_path) -> str:
    """The built-in policy with a two-year activation window."""
    text = default_policy_text()
    assert text.count("\nyears = 1\n") == 1
    path = tmp_path / "two-years.toml"
    path.write_text(text.replace("\nyears = 1\n", "\nyears = 2\n"), encoding="utf-8")
    return str(path)


def test_a_two_year_policy_keeps_a_key_bought_18_months_ago_activatable(kscli, tmp_path):
    policy = two_year_policy(tmp_path)
    with freeze_time("2024-02-29T09:00:00Z"):
        for _ in range(3):
            add_key(kscli)
    with freeze_time("2025-08-29T12:00:00Z"):
        default = {k["id"]: k for k in kscli.json("license", "list")}
        assert (default["L-1001"]["status"], default["L-1001"]["status_reason"]) == (
            "deactivated", "activation-window-elapsed")
        assert default["L-1001"]["activation_deadline"] == "2025-02-28"
        custom = {k["id"]: k for k in kscli.json("--policy", policy, "license", "list")}
        assert (custom["L-1001"]["status"], custom["L-1001"]["status_reason"]) == (
            "unactivated", None)
        assert custom["L-1001"]["activation_deadline"] == "2026-02-28"
        assert custom["L-1001"]["window_closes_at"] == "2026-03-01T00:00:00Z"
        table = kscli("--policy", policy, "license", "list", "--unactivated")
        assert "2026-02-28 (183 days left)" in table.stdout
        shown = kscli.json("--policy", policy, "license", "show", "L-1002")
        assert shown["activation_deadline"] == "2026-02-28"
        late = kscli("license", "activate", "L-1002", "--machine", "laptop")
        assert late.exit_code == 4
        assert "the last day to activate was 2025-02-28, one year after" in late.stderr
        ok = kscli.json("--policy", policy, "license", "activate", "L-1001", "--machine", "laptop")
        assert (ok["status"], ok["activation_deadline"]) == ("active", "2026-02-28")
        assert kscli.json("--policy", policy, "sweep") == []  # L-1003 is not due under it
        swept = kscli.json("sweep")
        assert [(c["subject"], c["action"]) for c in swept] == [("L-1003", "deactivated")]
    with freeze_time("2026-03-01T00:00:00Z"):
        closed = kscli("--policy", policy, "license", "activate", "L-1003", "--machine", "pc")
        assert closed.exit_code == 4
        assert "the last day to activate was 2026-02-28, 2 years after" in closed.stderr


def test_a_bad_policy_file_stops_key_commands_before_writing_but_not_validate(kscli, store_path,
                                                                              tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(default_policy_text().replace("\nyears = 1\n", "\nyears = 0\n"),
                   encoding="utf-8")
    key = keys.generate()
    refused = kscli("--policy", str(bad), "license", "add", key, "--product", "P")
    assert refused.exit_code == 2
    assert "years" in refused.stderr and refused.stderr.count("\n") == 1
    assert not ledger_created(store_path)
    missing = str(tmp_path / "missing.toml")
    assert kscli("--policy", missing, "license", "validate", key).exit_code == 0
    assert kscli("--policy", str(bad), "license", "validate", key).exit_code == 0
    assert not ledger_created(store_path)


# --- where keys are kept -----------------------------------------------------------------------

def test_keys_go_to_the_keyring_when_one_works(kscli, store_path):
    key = keys.generate()
    add_key(kscli, key)
    lic, in_ledger = stored(store_path)["L-1001"]
    assert lic.secret_store == "keyring" and in_ledger is None
    assert vault()[("kscli", keys.key_hash(key))] == key
    doctor = kscli.json("doctor")
    secrets = [r for r in doctor if r["check"] == "secrets"]
    assert [r["result"] for r in secrets] == ["info"]
    assert "system keyring (tests.memory_keyring.MemoryKeyring)" in secrets[0]["detail"]


def kept_in_the_ledger(store_path: str) -> str:
    """What the warning says of keys kept in the ledger: a private file, or a database
    whose every role that reads the tables reads them."""
    if store_path.startswith("postgresql://"):
        return "(readable by every role that can read its tables)"
    return "license keys are kept in the ledger file"


@pytest.mark.parametrize("backend_name", ["keyring.backends.fail.Keyring",
                                          "tests.test_license_cli.BrokenKeyring"])
def test_a_headless_machine_keeps_keys_in_the_ledger_and_warns_once(kscli, store_path, monkeypatch,
                                                                    backend_name):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", backend_name)
    before = dict(vault())
    result = kscli("license", "issue", "--product", "Photo Editor", "--count", "3", fmt="json")
    assert result.exit_code == 0
    assert result.stderr.count("warning:") == 1
    assert kept_in_the_ledger(store_path) in result.stderr
    issued = result.json()
    records = stored(store_path)
    for item in issued:
        lic, secret = records[item["id"]]
        assert lic.secret_store == "ledger" and item["secret_store"] == "ledger"
        assert secret == item["key"]
    assert vault() == before
    assert kscli.json("license", "show", issued[2]["id"], "--reveal")["key"] == issued[2]["key"]
    doctor = kscli("doctor", fmt="json")
    secrets = [r for r in doctor.json() if r["check"] == "secrets"]
    assert {r["result"] for r in secrets} == {"info"}
    if backend_name.endswith("fail.Keyring"):  # no backend at all: doctor says where keys go
        assert "new license keys are kept in the ledger" in secrets[0]["detail"]
    assert "3 license keys kept in the ledger, not a keyring" in secrets[-1]["detail"]
    if os.name == "posix" and not store_path.startswith("postgresql://"):
        assert os.stat(store_path).st_mode & 0o077 == 0


@pytest.mark.parametrize("backend_name", ["keyring.backends.fail.Keyring",
                                          "tests.test_license_cli.BrokenKeyring"])
def test_keys_kept_in_the_ledger_warn_once_per_ledger_with_one_event(kscli, store_path, tmp_path,
                                                                     monkeypatch, backend_name):
    add_key(kscli)  # a working keyring: no event, no warning
    assert not [e for e in events(kscli) if e["subject"] == "ledger"]
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", backend_name)
    first = kscli("license", "issue", "--product", "Photo Editor", "--count", "2", fmt="json")
    assert first.exit_code == 0
    assert first.stderr.count("warning:") == 1
    assert kept_in_the_ledger(store_path) in first.stderr
    assert "once per ledger" in first.stderr
    second = kscli("license", "issue", "--product", "Photo Editor", fmt="json")
    key = keys.generate()
    third = kscli("license", "add", "-", "--product", "Photo Editor", input=key + "\n")
    for later in (second, third):
        assert later.exit_code == 0
        assert "warning" not in later.stderr
    assert [k["secret_store"] for k in kscli.json("license", "list")] == ["keyring"] + ["ledger"] * 4
    noted = [e for e in events(kscli) if e["action"] == "secrets-in-ledger"]
    assert len(noted) == 1 and noted[0]["subject"] == "ledger"
    detail = json.loads(noted[0]["detail"])
    assert detail["keyring"] == backend_name
    for item in first.json() + second.json():
        assert_no_key(json.dumps(noted), item["key"])
    assert_no_key(json.dumps(noted), key)
    for _ in range(2):  # doctor says it every time
        secrets = [r for r in kscli.json("doctor") if r["check"] == "secrets"]
        assert {r["result"] for r in secrets} == {"info"}
        assert "4 license keys kept in the ledger, not a keyring" in secrets[-1]["detail"]
    other = Kscli(str(tmp_path / "other" / "kscli.db"))  # another ledger warns for itself
    assert other("license", "issue", "--product", "P").stderr.count("warning:") == 1
    assert "warning" not in other("license", "issue", "--product", "P").stderr


def test_no_key_appears_in_outputs_errors_events_or_the_export(kscli, add_sub):
    key = keys.generate()
    sub = add_sub()
    texts = []

    def run(*args, **kwargs):
        result = kscli(*args, **kwargs)
        texts.append(result.stdout + result.stderr)
        return result

    assert run("license", "add", "-", "--product", "P", "--sub", sub["id"], input=key + "\n").exit_code == 0
    assert run("license", "add", "-", "--product", "P", input=key + "\n").exit_code == 4
    assert run("license", "add", "-", "--product", "P", input=key + "\n", fmt="json").exit_code == 4
    for fmt in ("table", "plain", "json", "jsonl", "csv"):
        run("license", "list", fmt=fmt)
        run("license", "show", "L-1001", fmt=fmt)
    run("license", "show", "-", input=key + "\n")
    assert run("license", "activate", "-", "--machine", "laptop", input=key + "\n").exit_code == 0
    assert run("license", "activate", "L-1001", "--machine", "desktop").exit_code == 4
    assert run("license", "activate", "L-1001", "--machine", "desktop", fmt="json").exit_code == 4
    assert run("license", "deactivate", "L-1001", "--machine", "laptop", fmt="json").exit_code == 0
    assert run("license", "activate", "-", "--machine", "x", input=keys.generate() + "\n").exit_code == 3
    run("sweep")
    run("sub", "history", sub["id"])
    run("doctor")
    export = run("export")
    assert export.exit_code == 0
    assert "L-1001" in export.stdout  # the grep looks at a real export
    for text in texts:
        assert_no_key(text, key)
    assert key in kscli("license", "show", "L-1001", "--reveal").stdout  # and the grep can see it


# --- init --sample -----------------------------------------------------------------------------

def test_sample_ledger_holds_unactivated_active_lapsed_and_an_issued_key(kscli, store_path):
    before = dict(vault())
    result = kscli("init", "--sample")
    assert result.exit_code == 0
    assert "warning" not in result.stderr
    assert vault() == before  # sample keys never touch a keyring
    listed = kscli.json("license", "list")
    assert {k["status"] for k in listed} == {"unactivated", "active", "deactivated"}
    assert all(k["secret_store"] == "ledger" for k in listed)
    active = next(k for k in listed if k["status"] == "active")
    assert [a["machine"] for a in active["activations"]] == ["laptop"]
    lapsed = next(k for k in listed if k["status"] == "deactivated")
    assert lapsed["status_reason"] == "activation-window-elapsed"
    sale = next(s for s in kscli.json("sub", "list") if s["product"] == "Photo Editor")
    photo = next(k for k in listed if k["sub_id"] == sale["id"])
    assert photo["issued"] is True and photo["product"] == "Photo Editor"
    assert keys.validate(kscli.json("license", "show", photo["id"], "--reveal")["key"])
    swept = kscli.json("sweep")
    assert [c for c in swept if c["subject"].startswith("L-")] == []  # the lapse is recorded
    stored_keys = stored(store_path)
    assert all(secret for _, secret in stored_keys.values())


# --- start-up: no keyring, no store --------------------------------------------------------------

def test_validate_runs_in_a_real_process_without_keyring_sqlite_or_the_store(tmp_path):
    key = keys.generate()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run([sys.executable, "-m", "kscli", "license", "validate", key],
                        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert (ok.returncode, ok.stderr) == (0, "")
    bad = subprocess.run([sys.executable, "-m", "kscli", "license", "validate", "-"],
                         input=swapped(key), capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=60)
    assert bad.returncode == 4 and "two are swapped" in bad.stderr and bad.stdout == ""
    assert "did you mean" not in bad.stderr
    probe = (
        "import sys\n"
        "import kscli.cli.license\n"
        "from kscli.cli import cli\n"
        f"cli.main(['license', 'validate', '{key}'], standalone_mode=False)\n"
        "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in "
        "('keyring', 'sqlite3', '_sqlite3', 'tabulate') or m.startswith(('kscli.store', "
        "'kscli.secrets', 'kscli.services'))))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.splitlines()[-1] == "LOADED []"
    assert not [f for f in tmp_path.rglob("*") if f.is_file()]  # no ledger, in home or here


def test_only_commands_that_touch_a_key_import_keyring(tmp_path):
    ledger = str(tmp_path / "k.db")
    probe = (
        "import sys\n"
        "from kscli.cli import cli\n"
        "def run(*args):\n"
        "    try:\n"
        f"        cli.main(['--store', {ledger!r}, '--format', 'json', *args], standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "    print(args[:2], 'keyring' in sys.modules, file=sys.stderr)\n"
        "run('init', '--sample')\n"
        "run('license', 'list')\n"
        "run('license', 'show', 'L-1001')\n"
        "run('license', 'activate', 'L-1001', '--machine', 'laptop')\n"
        "run('license', 'deactivate', 'L-1001', '--machine', 'laptop')\n"
        "run('sweep')\n"
        "run('license', 'add', '10000-00000-00000-00000-000G2', '--product', 'P')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("(")]
    assert lines == [
        "('init', '--sample') False", "('license', 'list') False", "('license', 'show') False",
        "('license', 'activate') False", "('license', 'deactivate') False", "('sweep',) False",
        "('license', 'add') True",
    ]


@pytest.fixture
def local_tz():
    """Set the machine's time zone for one test (TZ + tzset), restored afterwards."""
    before = os.environ.get("TZ")

    def use(name: str) -> None:
        os.environ["TZ"] = name
        time.tzset()
        assert (time.localtime(0).tm_gmtoff != 0) == (name != "UTC")

    yield use
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()
