"""Booking dates as statements write them: ISO 8601 unless a strptime format is given
(``01/02/2026`` is two different days in two countries, so it is never guessed)."""

from __future__ import annotations

import functools
from datetime import date, datetime

from kscli.domain.statement.lines import StatementError, _show


# A statement writes the same few hundred days again and again: each text is read once.
@functools.lru_cache(maxsize=4096)
def _try_date(text: str | None, date_format: str | None) -> date | None:
    """The date ``text`` writes (as ``_parse_date`` reads it), or None."""
    if not text:
        return None
    try:
        return _parse_date(text, date_format, 0, "")
    except StatementError:
        return None


def _parse_date(text: str, date_format: str | None, line_no: int, column: str) -> date:
    if not text:
        raise StatementError("the date is empty: every line needs one", line=line_no,
                             column=column)
    if date_format:
        try:
            return datetime.strptime(text, date_format).date()
        except (ValueError, TypeError, OverflowError, IndexError):
            iso = _iso_date(text)
            if iso is not None:
                return iso
            raise StatementError(
                f"'{_show(text)}' is not a date in the form {date_format} (give the "
                "statement's form with --date-format, or pick another column with --date-col)",
                line=line_no,
                column=column,
            ) from None
    iso = _iso_date(text)
    if iso is None:
        raise StatementError(
            f"'{_show(text)}' is not an ISO 8601 date like 2026-11-22 (give the statement's "
            "form with --date-format, e.g. %d.%m.%Y or %m/%d/%Y)",
            line=line_no,
            column=column,
        )
    return iso


def _iso_date(text: str) -> date | None:
    """An ISO 8601 date, or the date written in an ISO 8601 datetime (as written)."""
    if len(text) > 40 or not text.isascii():
        return None
    try:
        if len(text) <= 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("z", "Z")).date()
    except ValueError:
        return None
