"""Calendar arithmetic: durations, months, years, whole days, business days.

Every date rule of kscli goes through this module so that month ends, leap days and
weekends are handled in one place. All datetimes are aware and in UTC.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

from kscli.domain.errors import shown
from typing import NamedTuple

UTC = timezone.utc

_DURATION = re.compile(r"^\s*(\d{1,4})\s*([dwmy])\s*$", re.IGNORECASE)

# The years a date may name, and the longest duration: wide enough for any purchase,
# renewal or window, narrow enough that a date plus a duration stays in the calendar.
MIN_YEAR, MAX_YEAR = 1900, 2999
_LONGEST = {"d": 9999, "w": 5218, "m": 1200, "y": 100}  # about 100 years


class CalendarError(ValueError):
    """A date, time or duration that cannot be read."""


class Duration(NamedTuple):
    """A length of time written ``7d``, ``2w``, ``12m`` or ``1y``."""

    count: int
    unit: str  # "d", "w", "m" or "y"

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"

    def add_to(self, when: datetime) -> datetime:
        if self.unit == "d":
            return when + timedelta(days=self.count)
        if self.unit == "w":
            return when + timedelta(weeks=self.count)
        if self.unit == "m":
            return add_months(when, self.count)
        return add_months(when, 12 * self.count)

    def before(self, when: datetime) -> datetime:
        """``when`` minus this duration (months clamp to the month's last day, as
        ``add_to``): 15 March minus 1m is 15 February, 31 March minus 1m 28 or 29
        February."""
        if self.unit == "d":
            return when - timedelta(days=self.count)
        if self.unit == "w":
            return when - timedelta(weeks=self.count)
        return add_months(when, -self.count * (1 if self.unit == "m" else 12))

    @property
    def months(self) -> int | None:
        """The length in whole months, or None for day and week durations."""
        if self.unit == "m":
            return self.count
        if self.unit == "y":
            return 12 * self.count
        return None


def parse_duration(text: str) -> Duration:
    """Read ``7d``, ``2w``, ``12m`` or ``1y``; raise CalendarError otherwise."""
    match = _DURATION.match(text or "")
    if not match:
        raise CalendarError(
            f"{shown(text)} is not a duration: write a whole number and a unit, like 7d, 2w, 12m or 1y"
        )
    count, unit = int(match.group(1)), match.group(2).lower()
    if count > _LONGEST[unit]:
        raise CalendarError(f"{shown(text)} is too long: at most 100 years (100y, 1200m or 5218w)")
    return Duration(count, unit)


def parse_when(text: str) -> datetime:
    """Read an ISO 8601 date or datetime; a date alone means 00:00 UTC.

    A datetime without an offset is taken as UTC; one with an offset is converted.
    """
    raw = (text or "").strip()
    if not raw or len(raw) > 40:
        raise CalendarError(f"{shown(text)} is not a date: write it as 2026-11-22 or 2026-11-22T14:00:00Z")
    try:
        if len(raw) == 10:
            parsed = datetime.combine(date.fromisoformat(raw), time(), tzinfo=UTC)
        else:
            parsed = datetime.fromisoformat(raw.replace("z", "Z"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise CalendarError(
            f"{shown(text)} is not a valid date: write it as 2026-11-22 or 2026-11-22T14:00:00Z"
        ) from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise CalendarError(f"{shown(text)} is out of range: dates run from {MIN_YEAR} to {MAX_YEAR}")
    return parsed


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def month_length(year: int, month: int) -> int:
    """Days in a month (1 to 12) of the Gregorian calendar: February has 29 in a year
    divisible by 4, except centuries not divisible by 400."""
    leap = month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return _MONTH_DAYS[month - 1] + leap


def add_months(when: datetime, months: int) -> datetime:
    """Add calendar months, clamping to the month's last day (31 Jan + 1m = 28/29 Feb)."""
    index = when.year * 12 + (when.month - 1) + months
    year, month = divmod(index, 12)
    day = when.day
    if day > 28:  # the month's length matters only past the 28th
        day = min(day, month_length(year, month + 1))
    # the constructor, not when.replace(...): three times as fast (keywords are slow),
    # and listings of a ledger not swept for a while call this for many rows
    return when.__class__(year, month + 1, day, when.hour, when.minute, when.second,
                          when.microsecond, when.tzinfo)


def add_years(day: date, years: int) -> date:
    """Add calendar years to a date; 29 February becomes 28 February."""
    year = day.year + years
    return date(year, day.month, min(day.day, month_length(year, day.month)))


def whole_days(start: datetime, now: datetime) -> int:
    """Whole UTC days from the day of ``start`` to the day of ``now`` (day 0 is the start)."""
    return (now.astimezone(UTC).date() - start.astimezone(UTC).date()).days


def window_last_day(start: datetime, days: int) -> date:
    """The last day of a window of ``days`` days counted from ``start``'s day (day N included)."""
    return start.astimezone(UTC).date() + timedelta(days=days)


def is_business_day(day: date, holidays: frozenset[date] = frozenset()) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_business_days(day: date, count: int, holidays: frozenset[date] = frozenset()) -> date:
    """The business day ``count`` business days after ``day``.

    A day that is not a business day counts from the next business day, so a
    Saturday plus 5 business days lands on the same day as the Friday before it plus 5.
    """
    current = day
    remaining = count
    if not is_business_day(current, holidays) and remaining > 0:
        while not is_business_day(current, holidays):
            current += timedelta(days=1)
        remaining -= 1  # the next business day is the first one counted
    while remaining > 0:
        current += timedelta(days=1)
        if is_business_day(current, holidays):
            remaining -= 1
    return current


def iso(when: datetime | None) -> str | None:
    """ISO 8601 UTC text with a ``Z``, to the second; None stays None."""
    if when is None:
        return None
    if when.tzinfo is not UTC:
        when = when.astimezone(UTC)
    # the fields' two-digit texts looked up and put together by an f-string: twice as
    # fast as %-formatting them, four times isoformat, eight times strftime (listings
    # call this for every period they work out)
    year = when.year
    return (f"{year if year > 999 else '%04d' % year}-{_TWO[when.month]}-{_TWO[when.day]}"
            f"T{_TWO[when.hour]}:{_TWO[when.minute]}:{_TWO[when.second]}Z")


_TWO = tuple("%02d" % n for n in range(60))


def from_iso(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text)
