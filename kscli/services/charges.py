"""Charge use cases: import a bank or card statement, list charges, check them.

``read_statement`` decodes and parses a whole statement before anything touches the
ledger (all or nothing); ``import_statement`` then matches and stores its lines in one
write transaction; ``check_charges`` holds the stored charges against the ledger,
read-only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from kscli.domain.model import LIVE_STATUSES, Charge, Event, Subscription
from kscli.domain.timeline import every_price
from kscli.domain.statement import (
    Columns,
    Finding,
    StatementError,
    StatementLine,
    decode_statement,
    find_unexpected,
    match_line,
    parse_statement,
)
from kscli.store.base import Store

ID_PREFIX = "C-"
EVENT_SUBJECT = "charges"
EVENT_ACTION = "charges-imported"


def read_statement(data: bytes, source: str, columns: Columns,
                   default_currency: str | None = None) -> list[StatementLine]:
    """Every charge line of a statement file; StatementError (exit 2) names the bad line."""
    try:
        return parse_statement(decode_statement(data), columns, default_currency)
    except StatementError as exc:
        error = StatementError(f"{source}: {exc.message}; nothing was imported")
        error.line, error.column = exc.line, exc.column
        raise error from None


@dataclass(frozen=True)
class ImportReport:
    """What an import did: the charges it added, and what it left as it was."""

    statement: str
    lines: int  # charge lines in the file
    imported: list[tuple[int, Charge]]  # (file line, charge) for every new charge
    already_present: int
    rematched: list[Charge]  # stored unmatched charges that now match a subscription
    event: Event | None

    @property
    def matched(self) -> int:
        return sum(1 for _, charge in self.imported if charge.sub_id is not None)

    @property
    def unmatched(self) -> list[tuple[int, Charge]]:
        return [(line, charge) for line, charge in self.imported if charge.sub_id is None]

    @property
    def counts(self) -> dict[str, int]:
        return {
            "lines": self.lines,
            "imported": len(self.imported),
            "matched": self.matched,
            "unmatched": len(self.unmatched),
            "already_present": self.already_present,
            "rematched": len(self.rematched),
        }


class _Matcher:
    """match_line over only the subscriptions with the line's price and currency."""

    def __init__(self, subs: Sequence[Subscription]) -> None:
        self.by_price: dict[tuple[str, Decimal], list[Subscription]] = {}
        for sub in subs:
            for price in every_price(sub):  # match_line takes the one in force that day
                self.by_price.setdefault((sub.currency, price), []).append(sub)

    def __call__(self, line: StatementLine) -> str | None:
        candidates = self.by_price.get((line.currency, line.amount))
        return match_line(line, candidates) if candidates else None


def import_statement(store: Store, now: datetime, lines: Sequence[StatementLine],
                     statement: str,
                     progress: Callable[[int], None] | None = None) -> ImportReport:
    """Match and store a parsed statement in one transaction.

    A line whose hash is already stored adds nothing (importing a statement twice, or
    two statements that overlap, stores each charge once); a stored charge that matched
    no subscription is matched again, so adding the missing subscription and importing
    the statement again fills it in. ``progress(n)`` is told after every n lines.
    """
    if not lines:  # nothing to store: leave the ledger as it is (and uncreated)
        return ImportReport(statement, 0, [], 0, [], None)
    with store.write() as ledger:
        matcher = _Matcher(list(ledger.subs(status=LIVE_STATUSES)))  # never a void one
        stored = {charge.line_hash: charge for charge in ledger.charges()}
        imported: list[tuple[int, Charge]] = []
        rematched: list[Charge] = []
        already = 0
        done = 0
        for line in lines:
            old = stored.get(line.line_hash)
            if old is not None:
                already += 1
                if old.sub_id is None:
                    sub_id = matcher(line)
                    if sub_id is not None:
                        old = old._replace(sub_id=sub_id)
                        ledger.save(old)
                        rematched.append(old)
            else:
                charge = Charge(
                    id=ledger.next_id(ID_PREFIX), posted_on=line.posted_on,
                    description=line.description, amount=line.amount, currency=line.currency,
                    line_hash=line.line_hash, sub_id=matcher(line), statement=statement,
                    imported_at=now,
                )
                stored[line.line_hash] = charge
                imported.append((line.line_no, charge))
            done += 1
            if progress is not None and done % 100 == 0:
                progress(100)
        if progress is not None and done % 100:
            progress(done % 100)
        if imported:
            ledger.add_many((charge for _, charge in imported), "charges")
        report = ImportReport(statement, len(lines), imported, already, rematched, None)
        if not imported and not rematched:
            return report
        detail: dict = {"statement": statement, **report.counts}
        if imported:
            detail["first_id"] = imported[0][1].id
            detail["last_id"] = imported[-1][1].id
        event = ledger.append_event(EVENT_SUBJECT, EVENT_ACTION, detail, now)
    return replace(report, event=event)


def list_charges(store: Store, *, sub_id: str | None = None, unmatched: bool = False,
                 since: date | None = None, until: date | None = None) -> list[Charge]:
    """Stored charges, oldest first; ``until`` keeps those posted on or before it.

    Raises NotFound (exit 3) for a subscription the ledger does not hold.
    """
    with store.read() as ledger:
        if sub_id is not None:
            ledger.require_sub(sub_id)
        charges = ledger.charges(sub_id=sub_id, unmatched=unmatched, since=since)
        return [c for c in charges if until is None or c.posted_on <= until]


def check_charges(store: Store, at: datetime, *, since: date | None = None) -> list[Finding]:
    """Every stored charge that should not have happened, as the subscriptions stand at
    ``at`` (read-only)."""
    with store.read() as ledger:
        subs = list(ledger.subs())
        charges = list(ledger.charges())
        if not charges:
            return []
        wanted = {c.sub_id for c in charges if c.sub_id is not None}
        events = [e for e in ledger.events() if e.subject in wanted]
    return find_unexpected(subs, charges, events, since=since, at=at)
