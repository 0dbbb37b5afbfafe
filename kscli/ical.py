"""An RFC 5545 calendar of deadlines, written with the standard library.

Each deadline is an all-day event on its UTC day (DTSTART;VALUE=DATE, DTEND the day
after), with its stable uid (``UID:renewal-S-1003-4@kscli``), DTSTAMP (when the file
was made), LAST-MODIFIED and SEQUENCE (the time and count of its record's events: both
grow when the record changes, so an importer updates the event in place), a summary
and a description saying what to do, and a VALARM the given time before it.

Lines end in CRLF and are folded at 75 octets (never inside a UTF-8 character); TEXT
values escape backslash, semicolon, comma and newline; other control characters, which
RFC 5545 does not allow in TEXT, become spaces.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Iterable, Mapping

from kscli.domain.calendar import UTC, Duration

UID_DOMAIN = "kscli"
_LIMIT = 75  # octets per line, CRLF not counted


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11)."""
    out = []
    for ch in value.replace("\r\n", "\n"):
        if ch == "\\":
            out.append("\\\\")
        elif ch in ";,":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def fold(line: str) -> str:
    """One content line, folded at 75 octets, with its CRLF."""
    data = line.encode("utf-8")
    if len(data) <= _LIMIT:
        return line + "\r\n"
    parts, start, limit = [], 0, _LIMIT
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # inside a character
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start, limit = end, _LIMIT - 1  # a continuation line starts with a space
    return "\r\n ".join(parts) + "\r\n"


def alarm_trigger(before: Duration) -> str:
    """``-P3D``, ``-P2W``: RFC 5545 durations have no months or years."""
    if before.unit == "d":
        return f"-P{before.count}D"
    if before.unit == "w":
        return f"-P{before.count}W"
    raise ValueError(f"{before} is not in days or weeks")


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _day(day: date) -> str:
    return day.strftime("%Y%m%d")


def description(deadline) -> str:
    return (f"If nothing is done: {deadline.happens}.\n"
            f"To act before then: {deadline.command}\n"
            f"Policy clause: {deadline.clause}")


def render(deadlines: Iterable, revisions: Mapping[str, tuple[int, datetime | None]], *,
           now: datetime, alarm: Duration, version: str) -> str:
    """The whole calendar as text (CRLF line ends)."""
    trigger = alarm_trigger(alarm)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:-//kscli//kscli {version}//EN",
             "CALSCALE:GREGORIAN", "METHOD:PUBLISH", "X-WR-CALNAME:kscli deadlines"]
    stamp = _stamp(now)
    for d in deadlines:
        count, last_at = revisions.get(d.subject, (0, None))
        text = d.title
        lines += ["BEGIN:VEVENT", f"UID:{d.uid}@{UID_DOMAIN}", f"DTSTAMP:{stamp}"]
        if last_at is not None:
            lines.append(f"LAST-MODIFIED:{_stamp(last_at)}")
        lines += [
            f"SEQUENCE:{count}",
            f"DTSTART;VALUE=DATE:{_day(d.day)}",
            f"DTEND;VALUE=DATE:{_day(d.day + timedelta(days=1))}",
            f"SUMMARY:{escape_text(text)}",
            f"DESCRIPTION:{escape_text(description(d))}",
            f"CATEGORIES:{escape_text(d.kind)}",
            "TRANSP:TRANSPARENT",
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            f"DESCRIPTION:{escape_text(text)}",
            f"TRIGGER:{trigger}",
            "END:VALARM",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) for line in lines)
