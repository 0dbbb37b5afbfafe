"""Charge use cases: import a bank or card statement, list charges, check them.

``read_statement`` decodes and parses a whole statement (CSV, OFX, CAMT.053 or MT940)
before anything touches the ledger (all or nothing); ``import_statement`` then matches
and stores its lines in one write transaction (or, with ``dry_run``, says what it would
store and writes nothing); ``check_charges`` holds the stored charges against the
ledger, read-only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from kscli.domain import ids
from kscli.domain.model import LIVE_STATUSES, Charge, Event
from kscli.domain.statement import (
    Columns,
    Finding,
    StatementError,
    StatementLine,
    find_unexpected,
)
from kscli.domain.statement.formats import read_any
from kscli.domain.statement.lines import Statement
from kscli.domain.statement.matching import VendorIndex, may_rematch
from kscli.store.base import Store

EVENT_SUBJECT = "charges"
EVENT_ACTION = "charges-imported"
REMOVED_ACTION = "charges-removed"


def read_statement(data: bytes, source: str, columns: Columns,
                   default_currency: str | None = None,
                   fmt: str | None = None) -> Statement:
    """What a statement file holds (format ``fmt``, or recognised by its content);
    StatementError (exit 2) names the bad line."""
    try:
        return read_any(data, fmt, columns, default_currency)
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


def import_statement(store: Store, now: datetime, lines: Sequence[StatementLine],
                     statement: str,
                     progress: Callable[[int], None] | None = None,
                     dry_run: bool = False) -> ImportReport:
    """Match and store a parsed statement in one transaction.

    A line whose hash is already stored adds nothing (importing a statement twice, or
    two statements that overlap, stores each charge once); a stored charge that matched
    no subscription is matched again, so adding the missing subscription and importing
    the statement again fills it in. ``progress(n)`` is told after every n lines.
    With ``dry_run`` the ledger is only read: the report says what would be stored
    (the charge ids are the ones the next import would give) and nothing is written.
    """
    if not lines:  # nothing to store: leave the ledger as it is (and uncreated)
        return ImportReport(statement, 0, [], 0, [], None)
    if dry_run and not store.exists():
        return _plan(None, now, lines, statement, progress, dry_run)[0]
    with (store.read() if dry_run else store.write()) as ledger:
        report, write = _plan(ledger, now, lines, statement, progress, dry_run)
        if write is None:
            return report
        event = write()
    return replace(report, event=event)


def _plan(ledger, now: datetime, lines: Sequence[StatementLine], statement: str,
          progress: Callable[[int], None] | None, dry_run: bool):
    """The import's report, and (unless a dry run or nothing changes) the function that
    writes it and returns its event."""
    matcher = VendorIndex(list(ledger.subs(status=LIVE_STATUSES))  # never a void one
                          if ledger is not None else []).match
    stored = {charge.line_hash: charge for charge in ledger.charges()} \
        if ledger is not None else {}
    next_number = 0
    imported: list[tuple[int, Charge]] = []
    rematched: list[Charge] = []
    already = 0
    done = 0
    for line in lines:
        old = stored.get(line.line_hash)
        if old is not None:
            already += 1
            if old.sub_id is None and may_rematch(old):
                sub_id = matcher(line)
                if sub_id is not None:
                    old = old._replace(sub_id=sub_id)
                    if not dry_run:
                        ledger.save(old)
                    rematched.append(old)
        else:
            if dry_run:
                next_number += 1
                charge_id = f"(new {next_number})"
            else:
                charge_id = ledger.next_id(ids.CHARGE)
            charge = Charge(
                id=charge_id, posted_on=line.posted_on,
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
    report = ImportReport(statement, len(lines), imported, already, rematched, None)
    if dry_run or (not imported and not rematched):
        return report, None

    def write() -> Event:
        if imported:
            ledger.add_many((charge for _, charge in imported), "charges")
        detail: dict = {"statement": statement, **report.counts}
        if imported:
            detail["first_id"] = imported[0][1].id
            detail["last_id"] = imported[-1][1].id
        return ledger.append_event(EVENT_SUBJECT, EVENT_ACTION, detail, now)

    return report, write


@dataclass(frozen=True)
class Removal:
    """What `charges remove` took out, and its event."""

    removed: list[Charge]
    event: Event


def remove_charges(store: Store, now: datetime, *, charge_ids: Sequence[str] = (),
                   import_ref: str | None = None) -> Removal:
    """Remove charges from the ledger: those named, or every charge a statement import
    added (its event's reference), so that a wrong import can be imported again
    correctly. One event records what was removed; the import's own event stays.

    The charges of an import are those it stored: the same statement and import time as
    its event (a charge an earlier import stored and this one only matched stays). A
    charge id or reference the ledger does not hold is NotFound (exit 3); nothing is
    removed then.
    """
    from kscli.domain.errors import NotFound, Refused

    with store.write() as ledger:
        wanted: list[Charge] = []
        detail: dict = {}
        if import_ref is not None:
            event = ledger.event(import_ref)
            if event is None:
                raise NotFound(f"no event {import_ref} in {ledger.location}",
                               hint="`kscli sub history` and `kscli export` show references")
            if event.action != EVENT_ACTION:
                raise Refused(f"{import_ref} is not a statement import ({event.action} of "
                              f"{event.subject})", code="not-an-import")
            statement = event.detail.get("statement")
            wanted = [c for c in ledger.charges()
                      if c.imported_at == event.at and c.statement == statement]
            detail.update(import_reference=import_ref, statement=statement)
        for charge_id in charge_ids:
            charge = ledger.charge(charge_id)
            if charge is None:
                raise NotFound(f"no charge {charge_id} in {ledger.location}",
                               hint="`kscli charges list` shows the ids")
            if charge not in wanted:
                wanted.append(charge)
        wanted.sort(key=lambda c: ids.natural_key(c.id))
        ledger.remove("charges", [c.id for c in wanted])
        detail.update(count=len(wanted), charges=[c.id for c in wanted][:1000])
        if len(wanted) > 1000:
            detail["last_id"] = wanted[-1].id
        event = ledger.append_event(EVENT_SUBJECT, REMOVED_ACTION, detail, now)
    return Removal(wanted, event)


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


DISMISSED_ACTION = "finding-dismissed"
MATCHED_ACTION = "charge-matched"
UNMATCHED_ACTION = "charge-unmatched"


@dataclass(frozen=True)
class Checked:
    """What `charges check` found: every finding, oldest first, and the dismissals
    (finding id -> its event) of those a person has looked at."""

    findings: list[Finding]
    dismissed: dict[str, Event]

    @property
    def open(self) -> list[Finding]:
        """The findings nobody dismissed (those that make `charges check` exit 1)."""
        return [f for f in self.findings if f.id not in self.dismissed]


def _check_input(ledger) -> tuple[list, list[Charge], list[Event], list[Event]]:
    """The subscriptions, charges, the events of the charged subscriptions, and the
    dismissals, as the check reads them."""
    subs = list(ledger.subs())
    charges = list(ledger.charges(matched=True))  # an unmatched charge is no finding
    if not charges:
        return subs, charges, [], []
    wanted = {c.sub_id for c in charges if c.sub_id is not None}
    events, dismissals = [], []
    for event in ledger.events():
        if event.subject in wanted:
            events.append(event)
        elif event.action == DISMISSED_ACTION:
            dismissals.append(event)
    return subs, charges, events, dismissals


def check_charges(store: Store, at: datetime, *, since: date | None = None,
                  tolerance: Decimal = Decimal(0)) -> Checked:
    """Every stored charge that should not have happened, as the subscriptions stand at
    ``at``, with the dismissals recorded by then (read-only). ``tolerance``: the
    percent a charge may differ from the price in force (the policy's
    charges.price-changed)."""
    with store.read() as ledger:
        subs, charges, events, dismissals = _check_input(ledger)
    if not charges:
        return Checked([], {})
    dismissed: dict[str, Event] = {}
    for event in dismissals:
        if event.at <= at:
            dismissed.setdefault(event.subject, event)
    found = find_unexpected(subs, charges, events, since=since, at=at, tolerance=tolerance)
    return Checked(found, dismissed)


@dataclass(frozen=True)
class Dismissal:
    """A finding a person looked at (`charges dismiss`): the finding, its event, and
    whether it had been dismissed before (then ``event`` is that first dismissal)."""

    finding: Finding
    event: Event
    already: bool


def dismiss_finding(store: Store, now: datetime, finding_id: str, reason: str, *,
                    tolerance: Decimal = Decimal(0)) -> Dismissal:
    """Record that a person looked at a finding of `charges check` (an event with the
    reason): it no longer counts. A finding `charges check` does not make now is
    NotFound (exit 3); one dismissed before is left as it is (``already``)."""
    from kscli.domain.errors import NotFound

    if not store.exists():  # (nothing to dismiss: and no ledger made for it)
        raise NotFound(f"no finding {finding_id} in {store.location}",
                       hint="`kscli charges check --all` shows the ids")
    with store.write() as ledger:
        subs, charges, events, dismissals = _check_input(ledger)
        found = next((f for f in find_unexpected(subs, charges, events, at=now,
                                                 tolerance=tolerance) if f.id == finding_id),
                     None)
        if found is None:
            raise NotFound(f"no finding {finding_id} in {ledger.location}",
                           hint="`kscli charges check --all` shows the ids")
        first = next((e for e in dismissals if e.subject == finding_id), None)
        if first is not None:
            return Dismissal(found, first, True)
        event = ledger.append_event(finding_id, DISMISSED_ACTION, {
            "kind": found.kind, "charge_id": found.charge_id, "sub_id": found.sub_id,
            "reason": reason}, now)
    return Dismissal(found, event, False)


@dataclass(frozen=True)
class HandMatch:
    """A charge matched or unmatched by hand, and its event (None: it already stood so)."""

    charge: Charge
    before: str | None
    event: Event | None


def match_by_hand(store: Store, now: datetime, charge_id: str, sub_id: str | None) -> HandMatch:
    """Match a charge to a subscription by hand (``sub_id`` None: unmatch it). The
    charge is marked as matched by hand, so that importing its statement again leaves
    it as it is; an event records before and after. An unknown charge or subscription
    is NotFound (exit 3); a void subscription is refused (exit 4)."""
    from kscli.domain.errors import NotFound, Refused
    from kscli.domain.model import BY_HAND, VOID

    if not store.exists():  # (no charge to match: and no ledger made for it)
        raise NotFound(f"no charge {charge_id} in {store.location}",
                       hint="`kscli charges list` shows the ids")
    with store.write() as ledger:
        charge = ledger.charge(charge_id)
        if charge is None:
            raise NotFound(f"no charge {charge_id} in {ledger.location}",
                           hint="`kscli charges list` shows the ids")
        if sub_id is not None:
            sub = ledger.require_sub(sub_id)
            if sub.status == VOID:
                raise Refused(f"{sub_id} is void (entered by mistake): a charge cannot pay "
                              "for it", code="void")
        before = charge.sub_id
        if before == sub_id and charge.matched_by == BY_HAND:
            return HandMatch(charge, before, None)
        charge = charge._replace(sub_id=sub_id, matched_by=BY_HAND)
        ledger.save(charge)
        event = ledger.append_event(
            charge_id, MATCHED_ACTION if sub_id else UNMATCHED_ACTION,
            {"before": {"sub_id": before}, "after": {"sub_id": sub_id}}, now)
    return HandMatch(charge, before, event)


# Presets --------------------------------------------------------------------------

# The keys a preset may set: `charges import` options without their dashes, and the
# kind of value each takes.
PRESET_KEYS: dict[str, type | tuple[type, ...]] = {
    "title": str, "input-format": str, "date-col": str, "description-col": (str, list),
    "amount-col": str, "currency-col": str, "date-format": str, "delimiter": str,
    "currency": str, "debits": str, "debit-col": str, "credit-col": str, "type-col": str,
    "debit-value": str, "credit-value": str, "encoding": str, "no-header": bool,
    "skip-rows": int, "pending-dates": list,
}


@dataclass(frozen=True)
class Preset:
    name: str
    settings: dict
    source: str  # "shipped" or the user's file

    @property
    def title(self) -> str:
        return str(self.settings.get("title", ""))


def _check_preset(name: str, settings: object, source: str) -> Preset:
    if not isinstance(settings, dict):
        raise StatementError(f"{source}: preset '{name}' is not a table of settings")
    for key, value in settings.items():
        kind = PRESET_KEYS.get(key)
        if kind is None:
            raise StatementError(
                f"{source}: preset '{name}' sets '{key}', which is no `charges import` option "
                f"(use: {', '.join(sorted(PRESET_KEYS))})")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise StatementError(f"{source}: preset '{name}': '{key}' has the wrong kind of "
                                 "value")
    return Preset(name, dict(settings), source)


def load_presets(user_folder: str | None) -> dict[str, Preset]:
    """The shipped presets, then the user's (``NAME.toml`` in ``user_folder``, a table
    of the same keys; a user's preset replaces a shipped one of its name)."""
    import os
    import tomllib
    from importlib.resources import files

    presets: dict[str, Preset] = {}
    shipped = tomllib.loads(files("kscli.presets").joinpath("statements.toml")
                            .read_text(encoding="utf-8"))
    for name, settings in shipped.items():
        presets[name] = _check_preset(name, settings, "shipped")
    if user_folder and os.path.isdir(user_folder):
        for entry in sorted(os.listdir(user_folder)):
            if not entry.endswith(".toml"):
                continue
            path = os.path.join(user_folder, entry)
            try:
                with open(path, "rb") as handle:
                    settings = tomllib.load(handle)
            except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise StatementError(f"{path}: the preset cannot be read ({exc})") from None
            name = entry[: -len(".toml")]
            presets[name] = _check_preset(name, settings, path)
    return presets
