"""`charges check` works a billing period out once for subscriptions alike (the same
plan, start and trial): what it finds for many subscriptions is what it finds for
each on its own, whatever they share."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from kscli.domain.model import Charge
from kscli.domain.statement.checks import find_unexpected
from tests.helpers import make_sub

UTC = timezone.utc
# the same moment in two zones: a month after it falls on 28 February in UTC, on
# 27 February in UTC as counted from 31 January at +05:00 (months clamp to the end)
START = datetime(2026, 1, 30, 22, 0, tzinfo=UTC)
AHEAD = START.astimezone(timezone(timedelta(hours=5)))


def _charges(sub_id: str, *days: str) -> list[Charge]:
    return [Charge(f"C-{sub_id[2:]}{i}", date.fromisoformat(day), "ACME", Decimal("9.99"),
                   "USD", f"h-{sub_id}-{i}", sub_id=sub_id) for i, day in enumerate(days)]


def _alone_and_together(subs, charges):
    alone = [f for sub in subs
             for f in find_unexpected([sub], [c for c in charges if c.sub_id == sub.id], [])]
    alone.sort(key=lambda f: (f.posted_on, f.sub_id, f.charge_id))
    return alone, find_unexpected(subs, charges, [])


def test_subscriptions_alike_each_get_their_own_duplicates():
    subs = [make_sub(f"S-{1001 + i}", started=START) for i in range(3)]
    charges = [c for sub in subs for c in _charges(sub.id, "2026-02-10", "2026-02-27")]
    alone, together = _alone_and_together(subs, charges)
    assert together == alone
    assert [(f.kind, f.sub_id) for f in together] == [
        ("duplicate-in-period", sub.id) for sub in subs]


def test_the_same_start_in_another_zone_keeps_its_own_periods():
    utc, ahead = make_sub("S-1001", started=START), make_sub("S-1002", started=AHEAD)
    assert utc.started_at == ahead.started_at  # (equal moments: alike as keys go)
    charges = _charges("S-1001", "2026-02-10", "2026-02-27") + _charges(
        "S-1002", "2026-02-10", "2026-02-27")
    for subs in ([utc, ahead], [ahead, utc]):
        alone, together = _alone_and_together(subs, charges)
        assert together == alone
        # 27 February is in the first period counted in UTC, starts the second at +05:00
        assert [(f.kind, f.sub_id) for f in together] == [("duplicate-in-period", "S-1001")]


def test_a_trial_or_another_plan_is_not_alike():
    subs = [make_sub("S-1001", started=START), make_sub("S-1002", started=START, trial="1m"),
            make_sub("S-1003", started=START, plan="annual")]
    charges = [c for sub in subs for c in _charges(sub.id, "2026-02-10", "2026-03-05")]
    alone, together = _alone_and_together(subs, charges)
    assert together == alone
    assert {(f.kind, f.sub_id) for f in together} >= {("duplicate-in-period", "S-1003")}
