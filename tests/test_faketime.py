"""A key lapsing across its last day, with the whole process's clock moved by faketime.

freezegun moves Python's clock inside the test process; these tests run the installed
`kscli` as cron would, under libfaketime (Debian's `faketime`), in time zones far from
UTC, to show that the window closes at 00:00 UTC after the last day whatever the
machine's local time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import installed_kscli, ledger_path, require_module

FAKETIME = shutil.which("faketime")
KSCLI = installed_kscli()


@pytest.fixture(autouse=True)
def tools():
    if FAKETIME is None:
        if os.environ.get("CI"):
            pytest.fail("faketime is not installed: .ci/run installs Debian's faketime")
        pytest.skip("faketime is not installed (apt-get install faketime)")
    if KSCLI is None:
        pytest.fail("kscli is not installed: run `pip install .` first")


def at(utc: str, tz: str, store: str, *args: str) -> subprocess.CompletedProcess:
    """Run kscli with the clock at an instant given in UTC, on a machine in ``tz``."""
    instant = datetime.fromisoformat(utc.replace("Z", "+00:00")).astimezone(ZoneInfo(tz))
    env = {**os.environ, "TZ": tz, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    env.pop("KSCLI_STORE", None)
    return subprocess.run(
        [FAKETIME, "-f", "@" + instant.strftime("%Y-%m-%d %H:%M:%S"), KSCLI, "--store", store,
         *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("tz", ["UTC", "Pacific/Kiritimati", "America/Adak"])
@pytest.mark.parametrize("backend", ["sqlite", "json"])
def test_a_key_bought_on_29_february_lapses_at_midnight_utc_after_28_february(tmp_path, tz, backend):
    store = ledger_path(tmp_path, backend)
    issued = at("2024-03-01T10:00:00Z", tz, store, "license", "issue", "--product", "Editor",
                "--purchased", "2024-02-29T08:00:00Z", "--count", "3")
    assert issued.returncode == 0, issued.stderr

    listed = at("2025-02-28T23:59:55Z", tz, store, "--format", "json", "license", "list")
    keys = {k["id"]: k for k in json.loads(listed.stdout)}
    assert keys["L-1001"]["activation_deadline"] == "2025-02-28"
    assert {k["status"] for k in keys.values()} == {"unactivated"}

    last_second = at("2025-02-28T23:59:58Z", tz, store, "license", "activate", "L-1001",
                     "--machine", "laptop")
    assert last_second.returncode == 0, last_second.stderr

    first_after = at("2025-03-01T00:00:01Z", tz, store, "--format", "json", "license", "activate",
                     "L-1002", "--machine", "laptop")
    assert first_after.returncode == 4
    refusal = json.loads(first_after.stdout)
    assert refusal["error"] == "activation-window-elapsed"
    assert refusal["clause"] == "license.activation-window"
    assert "2025-03-01 00:00 UTC" in first_after.stderr

    # L-1003 was never touched: every command shows it deactivated before sweep runs,
    # and sweep records the lapse once.
    later = at("2025-03-01T00:00:30Z", tz, store, "--format", "json", "license", "show", "L-1003")
    assert json.loads(later.stdout)["status"] == "deactivated"
    swept = at("2025-03-01T00:01:00Z", tz, store, "--format", "json", "sweep")
    assert [(c["subject"], c["action"]) for c in json.loads(swept.stdout)] == [("L-1003", "deactivated")]
    again = at("2025-03-01T00:02:00Z", tz, store, "--format", "json", "sweep")
    assert json.loads(again.stdout) == []


def test_a_clock_set_back_is_refused_by_activate_and_sweep(tmp_path):
    store = ledger_path(tmp_path, "sqlite")
    assert at("2026-06-01T12:00:00Z", "UTC", store, "license", "issue", "--product", "Editor",
              "--purchased", "2026-06-01T00:00:00Z").returncode == 0
    for argv in (["license", "activate", "L-1001", "--machine", "m"], ["sweep"]):
        back = at("2026-06-01T11:00:00Z", "UTC", store, *argv)
        assert back.returncode == 4 and "--trust-clock" in back.stderr, argv
    trusted = at("2026-06-01T11:00:00Z", "UTC", store, "license", "activate", "L-1001",
                 "--machine", "m", "--trust-clock")
    assert trusted.returncode == 0, trusted.stderr


@pytest.mark.parametrize("tz", ["Pacific/Kiritimati", "America/Adak"])
def test_a_signed_license_expires_at_its_moment_whatever_the_local_time(tmp_path, tz):
    require_module("cryptography", "signing")
    store = ledger_path(tmp_path, "sqlite")
    assert at("2026-06-01T12:00:00Z", tz, store, "signer", "init").returncode == 0
    assert at("2026-06-01T12:00:00Z", tz, store, "license", "issue", "--product", "Editor",
              ).returncode == 0
    made = at("2026-06-01T12:00:00Z", tz, store, "license", "sign", "L-1001", "--expires",
              "2027-01-01", "-o", str(tmp_path / "editor.lic"))
    assert made.returncode == 0, made.stderr
    public = tmp_path / "vendor.pub"
    public.write_text(at("2026-06-01T12:00:01Z", tz, store, "signer", "show").stdout)
    check = ("license", "verify", str(tmp_path / "editor.lic"), "--public-key", str(public))

    last_second = at("2026-12-31T23:59:58Z", tz, store, *check)
    assert last_second.returncode == 0, last_second.stderr
    assert last_second.stdout.startswith("valid: L-1001 Editor")
    after = at("2027-01-01T00:00:00Z", tz, store, *check)
    assert after.returncode == 4
    assert after.stderr.strip() == "Error: L-1001: expired on 2027-01-01 00:00 UTC"


@pytest.mark.parametrize("tz", ["Pacific/Kiritimati", "America/Adak"])
def test_the_cancel_by_day_ends_at_midnight_utc_whatever_the_machine_s_zone(tmp_path, tz):
    store = ledger_path(tmp_path, "sqlite")
    added = at("2026-11-05T10:00:00Z", tz, store, "sub", "add", "--vendor", "Acme", "--product",
               "Cloud", "--plan", "monthly", "--price", "10", "--currency", "USD", "--started",
               "2026-11-05", "--notice", "10d")
    assert added.returncode == 0, added.stderr
    shown = at("2026-11-25T23:59:58Z", tz, store, "--format", "json", "sub", "show", "S-1001")
    assert json.loads(shown.stdout)["cancel_by"] == "2026-11-25"
    late = at("2026-11-26T00:00:02Z", tz, store, "--format", "json", "renew", "off", "S-1001")
    assert late.returncode == 0, late.stderr
    assert json.loads(late.stdout)["ends_at"] == "2027-01-05T00:00:00Z"
