"""Notice periods: the cancel-by day of a renewal, and where a late stop takes effect.

A subscription with a notice period (``notice``, a duration such as 30d or 1m) renews
unless auto-renew is turned off, or it is cancelled, by the cancel-by day of the
renewal: the renewal's UTC date minus the notice. That whole day counts; from 00:00
UTC of the next day the renewal can no longer be stopped, and a stop made then takes
effect at the next renewal whose cancel-by day has not passed [cancel.notice]. No
notice applies to the end of a free trial [cancel.trial]. The periods, renewals and
states these functions count on are kscli.domain.timeline's.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import NamedTuple

from kscli.domain.calendar import start_of_day
from kscli.domain.model import Subscription
from kscli.domain.timeline import duration_of, period_end_after, plan_length, state_at, trial_end

_ONE_DAY = timedelta(days=1)


def cancel_by_day(sub: Subscription, renewal: datetime) -> date | None:
    """The cancel-by day of a renewal: the UTC date of ``renewal`` minus ``notice``
    (months clamp to a month's end, as everywhere). The whole day counts: renew off or
    a cancellation is in time while now is before 00:00 UTC of the day after
    (``notice_closes_at``). None without a notice period, and for the end of a free
    trial (no notice applies to it) [cancel.notice]."""
    notice = duration_of(sub.notice)
    if notice is None or renewal == trial_end(sub):
        return None
    return notice.before(renewal).astimezone(renewal.tzinfo).date()


def notice_closes_at(sub: Subscription, renewal: datetime) -> datetime | None:
    """The first moment too late to stop ``renewal``: 00:00 UTC of the day after its
    cancel-by day; None when nothing can be too late (no notice period)."""
    day = cancel_by_day(sub, renewal)
    return None if day is None else start_of_day(day + _ONE_DAY)


def stoppable_from(sub: Subscription, first: datetime, at: datetime) -> datetime:
    """The first renewal from the boundary ``first`` on that acting at ``at`` still
    stops: ``first`` while its cancel-by day has not passed (or without a notice
    period), else the next whose cancel-by day has not (the ones before it are billed:
    the change takes effect one period later, or more) [cancel.notice]."""
    boundary = first
    while plan_length(sub) and not (sub.ends is not None and boundary >= sub.ends):
        closes = notice_closes_at(sub, boundary)
        if closes is None or at < closes:
            break
        boundary = period_end_after(sub, boundary)
    return boundary


def cancel_by(sub: Subscription, at: datetime) -> datetime | None:
    """The last day to act to stop the next renewal that can still be stopped, as 00:00
    UTC of that day (the whole day counts; see ``cancel_by_day``), for the
    subscription as it stands at ``at``; None without a notice period, and when no
    renewal is ahead to stop (auto-renew already off, cancelled, ended, or a fixed end
    first).

    As a deadline: if nothing is done by the end of that day, the subscription renews
    at ``cancel_by_renewal(sub, at)`` and bills that period; `kscli renew off ID` (or
    `kscli sub cancel ID`) on or before it stops that renewal. Renewals inside a
    commitment cannot be stopped, so the first one counted is at or after
    ``commitment_end``; during a free trial, its end is a deadline of its own
    (``trial_end``), so the first renewal after it is counted. Once a cancel-by day has
    passed, the next renewal's is given."""
    found = _next_stoppable(sub, at)
    if found is None:
        return None
    day = cancel_by_day(found.sub, found.renewal)
    return None if day is None else start_of_day(day)


def cancel_by_renewal(sub: Subscription, at: datetime) -> datetime | None:
    """The renewal that acting by ``cancel_by(sub, at)`` stops (None where that is None)."""
    found = _next_stoppable(sub, at)
    return None if found is None or cancel_by_day(found.sub, found.renewal) is None \
        else found.renewal


class _Stoppable(NamedTuple):
    sub: Subscription  # as it stands at the moment asked about
    renewal: datetime


def _next_stoppable(sub: Subscription, at: datetime) -> _Stoppable | None:
    if sub.notice is None:
        return None
    state = state_at(sub, at)
    current = state.sub
    if current.status != "active" or not current.auto_renew or not state.renews:
        return None
    first = current.period_end
    if first == trial_end(current):  # the trial's end is its own deadline (trial_end)
        first = period_end_after(current, first)
    while current.commitment_end is not None and first < current.commitment_end:
        first = period_end_after(current, first)
    renewal = stoppable_from(current, first, at)
    if current.ends is not None and renewal >= current.ends:
        return None
    return _Stoppable(current, renewal)
