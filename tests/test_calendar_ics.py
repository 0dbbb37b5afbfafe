"""`kscli calendar`: an RFC 5545 file that a real iCalendar parser reads back, with UIDs
that stay put so that importing a newer file updates events in place."""

from __future__ import annotations

import os
from datetime import date, timedelta

import pytest

from tests.conftest import require_module
from freezegun import freeze_time

icalendar = require_module("icalendar", "test")

from kscli.ical import escape_text, fold  # noqa: E402

EVERY_BACKEND = True


def _events(text: str) -> dict[str, object]:
    calendar = icalendar.Calendar.from_ical(text)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def _raw(kscli, *args) -> bytes:
    """The bytes `kscli calendar` writes on stdout (click's Result.stdout reads CRLF as LF)."""
    from click.testing import CliRunner

    from kscli.cli import cli

    result = CliRunner().invoke(cli, ["--store", kscli.store, "calendar", *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout_bytes


def _calendar(kscli, *args) -> str:
    return _raw(kscli, *args).decode("utf-8")


def test_every_deadline_is_an_all_day_event_with_an_alarm(kscli, add_sub):
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(vendor="Acme", price="9.99", started="2026-11-01")
        deadlines = kscli.json("deadlines", "--within", "1y")
        text = _calendar(kscli, "--within", "1y", "--alarm", "3d")
    events = _events(text)
    assert sorted(events) == sorted(f"{d['uid']}@kscli" for d in deadlines)
    first = events["renewal-S-1001-2@kscli"]
    assert first.decoded("DTSTART") == date(2026, 12, 1)
    assert first.decoded("DTEND") == date(2026, 12, 2)
    assert "VALUE=DATE" in text.split("DTSTART", 1)[1].split("\r\n", 1)[0]
    assert str(first["SUMMARY"]) == "Acme Cloud (S-1001) renews: 9.99 USD"
    description = str(first["DESCRIPTION"])
    assert "kscli renew off S-1001" in description and "charges 9.99 USD" in description
    assert "\n" in description  # escaped newlines read back as newlines
    alarms = first.walk("VALARM")
    assert len(alarms) == 1 and alarms[0].decoded("TRIGGER") == -timedelta(days=3)
    assert first.decoded("DTSTAMP").isoformat().startswith("2026-11-22T10:00:00")
    calendar = icalendar.Calendar.from_ical(text)
    assert str(calendar["VERSION"]) == "2.0" and "kscli" in str(calendar["PRODID"])


def test_lines_end_in_crlf_and_fold_at_75_octets(kscli, add_sub):
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(vendor="Société Générale de Logiciels Éditions Numériques", product="Ünïcødé ✓ " * 6,
                started="2026-11-01")
        raw = _raw(kscli)
    assert raw.endswith(b"END:VCALENDAR\r\n")
    lines = raw.split(b"\r\n")[:-1]
    assert b"\n" not in b"".join(lines) and all(len(line) <= 75 for line in lines)
    assert any(line.startswith(b" ") for line in lines)  # something was folded
    for line in lines:
        line.decode("utf-8")  # never folded inside a character
    event = next(iter(_events(raw.decode("utf-8")).values()))
    assert "Ünïcødé ✓ Ünïcødé" in str(event["SUMMARY"])


def test_text_is_escaped_and_reads_back_the_same(kscli, add_sub):
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(vendor="Smith, Jones; Co \\ Ltd", started="2026-11-01")
        text = _calendar(kscli)
    assert "Smith\\, Jones\\; Co \\\\ Ltd" in text
    event = next(iter(_events(text).values()))
    assert str(event["SUMMARY"]).startswith("Smith, Jones; Co \\ Ltd Cloud (S-1001)")


def test_escape_and_fold_by_the_rfc():
    assert escape_text("a,b;c\\d\ne\r\nf\x07") == "a\\,b\\;c\\\\d\\ne\\nf "
    line = "DESCRIPTION:" + "é" * 80
    folded = fold(line).encode("utf-8")
    parts = folded.split(b"\r\n")
    assert parts[-1] == b"" and all(len(p) <= 75 for p in parts)
    assert b"".join(p[1:] if i else p for i, p in enumerate(parts)).decode() == line
    assert fold("SHORT") == "SHORT\r\n"


def test_uids_are_stable_across_runs_and_a_moved_deadline_keeps_its_uid(kscli, add_sub):
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(started="2026-11-01")
        first = _events(_calendar(kscli, "--within", "1y"))
    with freeze_time("2026-11-22T11:00:00Z"):
        again = _events(_calendar(kscli, "--within", "1y"))
        assert sorted(again) == sorted(first)
        assert kscli("sub", "edit", "S-1001", "--plan", "annual").exit_code == 0
        moved = _events(_calendar(kscli, "--within", "2y"))
    # the next renewal stays; the one after it moves a year on and keeps its uid
    uid = "renewal-S-1001-3@kscli"
    assert first[uid].decoded("DTSTART") == date(2027, 1, 1)
    assert moved[uid].decoded("DTSTART") == date(2027, 12, 1)
    assert int(moved[uid]["SEQUENCE"]) > int(first[uid]["SEQUENCE"])
    assert moved[uid].decoded("LAST-MODIFIED") > first[uid].decoded("LAST-MODIFIED")
    assert int(again[uid]["SEQUENCE"]) == int(first[uid]["SEQUENCE"])  # nothing changed


def test_o_writes_a_private_file_atomically(kscli, add_sub, tmp_path, backend):
    target = tmp_path / "cal" / "kscli.ics"
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(started="2026-11-01")
        result = kscli("calendar", "-o", str(target))
        assert result.exit_code == 0 and result.stdout == ""
        assert f"to {target}" in result.stderr
        assert os.stat(target).st_mode & 0o777 == 0o600
        assert os.stat(target.parent).st_mode & 0o777 == 0o700
        first = target.read_bytes()
        assert _events(first.decode()) and first == _raw(kscli)
        os.chmod(target, 0o644)  # replaced whole: the new file is private again
        assert kscli("calendar", "-o", str(target)).exit_code == 0
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["kscli.ics"]  # no temporary left


def test_alarm_in_weeks_and_bad_alarms(kscli, add_sub):
    with freeze_time("2026-11-22T10:00:00Z"):
        add_sub(started="2026-11-01")
        text = _calendar(kscli, "--alarm", "1w")
        assert "TRIGGER:-P1W\r\n" in text
        for bad in ("1m", "1y", "soon"):
            result = kscli("calendar", "--alarm", bad)
            assert result.exit_code == 2 and "--alarm" in result.stderr, bad
            assert result.stdout == "" and "Traceback" not in result.stderr


def test_an_empty_ledger_is_a_valid_empty_calendar(kscli):
    text = _calendar(kscli)
    calendar = icalendar.Calendar.from_ical(text)
    assert calendar.walk("VEVENT") == [] and text.startswith("BEGIN:VCALENDAR\r\n")


def test_unwritable_target_is_one_line_and_exit_1(kscli, add_sub, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = kscli("calendar", "-o", str(blocker / "kscli.ics"))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ") and "is a file, not a folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
