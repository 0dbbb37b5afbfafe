"""The sweep (`kscli sweep`): every time-based transition due, subscriptions and keys."""

from __future__ import annotations

from datetime import datetime

from kscli.domain import subscriptions as rules
from kscli.services import check_clock
from kscli.services.licenses import lapse_due
from kscli.store.base import Store


class SweepReport:
    """What a sweep did (or, with --dry-run, would do), one dict a change."""

    def __init__(self) -> None:
        self.changes: list[dict] = []

    def add(self, subject: str, action: str, message: str, reference: str | None) -> None:
        self.changes.append({"subject": subject, "action": action, "message": message,
                             "reference": reference})


def sweep(store: Store, now: datetime, *, policy=None, dry_run: bool = False,
          trust_clock: bool = False) -> SweepReport:
    """Apply every time-based transition due up to ``now``, in one transaction.

    ``policy`` (the effective Policy; the built-in one when None) gives the length of
    the license keys' activation window. Idempotent: what is done is recorded, so a
    second run finds nothing due.
    """
    if policy is None:
        from kscli.policy_files import load_default

        policy = load_default()
    years = policy.activation_years()
    report = SweepReport()
    opener = store.read if dry_run else store.write
    with opener() as ledger:
        check_clock(ledger, now, trust_clock)
        due = list(ledger.subs(status=("active", "cancelled"), period_end_before=now))
        for sub in due:
            changes = rules.due_transitions(sub, now)
            for change in changes:
                reference = None
                if not dry_run:
                    reference = ledger.append_event(sub.id, change.action, change.detail, now,
                                                    change.at).reference
                report.add(sub.id, change.action, change.message, reference)
            if changes and not dry_run:
                ledger.save(changes[-1].sub)
        # License keys whose activation window passed unactivated.
        lapse_due(ledger, now, dry_run, report, years=years)
    return report
