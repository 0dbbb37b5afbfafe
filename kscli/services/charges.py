"""Charge use cases: import a bank or card statement, list charges, check them.

``read_statement`` decodes and parses a whole statement (CSV, OFX, CAMT.053 or MT940)
before anything touches the ledger (all or nothing); ``import_statement`` then matches
and stores its lines in one write transaction (or, with ``dry_run``, says what it would
store and writes nothing); ``check_charges`` holds the stored charges against the
ledger, read-only.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import BinaryIO

from kscli import collector
from kscli.domain import ids
from kscli.domain.model import LIVE_STATUSES, Charge, Event
from kscli.domain.statement import (
    Columns,
    Finding,
    StatementError,
    StatementLine,
    dated_after,
    find_unexpected,
)
from kscli.domain.statement.checks import CHECKED_FIELDS
from kscli.domain.statement.formats import open_any, read_any
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
        raise _named(exc, source) from None


def open_statement(open_binary: Callable[[], BinaryIO], source: str, columns: Columns,
                   default_currency: str | None = None, fmt: str | None = None,
                   size: int = 0) -> StatementSource:
    """The statement in the file ``open_binary`` opens (again at each call): a CSV
    statement streams, so that a file of any size is read in bounded memory. What can
    be told without reading the values (the header, the CSV itself) is checked here; a
    bad value stops ``lines()``. Either way StatementError (exit 2) names the line."""
    try:
        return _Named(open_any(open_binary, fmt, columns, default_currency, size), source)
    except StatementError as exc:
        raise _named(exc, source) from None


def _named(exc: StatementError, source: str) -> StatementError:
    error = StatementError(f"{source}: {exc.message}; nothing was imported")
    error.line, error.column = exc.line, exc.column
    return error


class _Named:
    """A statement whose errors name its file."""

    def __init__(self, statement, source: str) -> None:
        self._statement = statement
        self.format = statement.format
        self.source = source

    @property
    def rows(self) -> int:
        return self._statement.rows

    @property
    def rows_read(self) -> int:
        return self._statement.rows_read

    @property
    def summary(self) -> Statement:
        return self._statement.summary

    def lines(self) -> Iterator[StatementLine]:
        try:
            yield from self._statement.lines()
        except StatementError as exc:
            raise _named(exc, self.source) from None


# What `import_statement` takes: the lines, or a statement that gives them (``lines()``).
StatementSource = _Named


@dataclass(frozen=True)
class ImportReport:
    """What an import did: the charges it added, and what it left as it was.

    ``imported`` and ``rematched`` hold every charge, or the first ``keep`` of them
    when the import was told to keep so many; the counts are of all of them.
    """

    statement: str
    lines: int  # charge lines in the file
    imported: list[tuple[int, Charge]]  # (file line, charge) for new charges
    already_present: int
    rematched: list[Charge]  # stored unmatched charges that now match a subscription
    event: Event | None
    totals: tuple[int, int, int] | None = None  # imported, matched, rematched, if cut short
    unmatched_kept: list[tuple[int, Charge]] | None = None  # the first unmatched, if cut short
    late: list[StatementLine] = field(default_factory=list)  # lines dated in the future

    @property
    def matched(self) -> int:
        if self.totals is not None:
            return self.totals[1]
        return sum(1 for _, charge in self.imported if charge.sub_id is not None)

    @property
    def unmatched(self) -> list[tuple[int, Charge]]:
        if self.unmatched_kept is not None:
            return self.unmatched_kept
        return [(line, charge) for line, charge in self.imported if charge.sub_id is None]

    @property
    def counts(self) -> dict[str, int]:
        imported, matched, rematched = self.totals if self.totals is not None else (
            len(self.imported), self.matched, len(self.rematched))
        return {
            "lines": self.lines,
            "imported": imported,
            "matched": matched,
            "unmatched": imported - matched,
            "already_present": self.already_present,
            "rematched": rematched,
        }


# How many lines an import matches and writes at a time.
CHUNK = 2000


def import_statement(store: Store, now: datetime,
                     lines: Sequence[StatementLine] | StatementSource, statement: str,
                     progress: Callable[[int], None] | None = None,
                     dry_run: bool = False, keep: int | None = None) -> ImportReport:
    """Match and store a statement's lines in one transaction.

    A line whose hash is already stored adds nothing (importing a statement twice, or
    two statements that overlap, stores each charge once); a stored charge that matched
    no subscription is matched again, so adding the missing subscription and importing
    the statement again fills it in. ``progress(n)`` is told after every n lines.
    With ``dry_run`` the ledger is only read: the report says what would be stored
    (the charge ids are the ones the next import would give) and nothing is written.

    ``lines`` may be a statement that streams its lines (``open_statement``): they are
    then matched and written a chunk at a time, and a bad line met on the way drops the
    transaction (nothing is written). Into a ledger not yet created, a statement longer
    than a chunk is read through once first, so that a bad line leaves it uncreated.
    ``keep`` bounds how many charges the report holds (None: all of them).
    """
    read = lines.lines if hasattr(lines, "lines") else (lambda: lines)
    stream = iter(read())
    first = list(itertools.islice(stream, CHUNK))
    if not first:  # nothing to store: leave the ledger as it is (and uncreated)
        return ImportReport(statement, 0, [], 0, [], None)
    if len(first) == CHUNK and hasattr(lines, "lines") and not dry_run \
            and not store.exists():
        for _ in stream:  # check every line before the ledger is made
            pass
        stream = iter(read())
        first = []
    chunks = itertools.chain(first, stream)
    rows = getattr(lines, "rows", None)
    # every line makes a few records (tuples: no cycles), 100,000 and more, which the
    # cycle collector would otherwise walk again and again, with the subscriptions
    with collector.paused():
        if dry_run and not store.exists():
            return _plan(None, now, chunks, statement, progress, dry_run, keep, rows, lines)[0]
        with (store.read() if dry_run else store.write()) as ledger:
            report, write = _plan(ledger, now, chunks, statement, progress, dry_run, keep,
                                  rows, lines)
            if write is None:
                return report
            event = write()
    return replace(report, event=event)


def _plan(ledger, now: datetime, lines: Iterable[StatementLine], statement: str,
          progress: Callable[[int], None] | None, dry_run: bool, keep: int | None,
          rows: int | None, source):
    """The import's report, and (unless a dry run or nothing changes) the function that
    writes its last charges and returns its event. Charges are written a chunk at a
    time as they are matched (never in a dry run)."""
    matcher = VendorIndex(list(ledger.subs(status=LIVE_STATUSES))  # never a void one
                          if ledger is not None else []).match
    limit = keep if keep is not None else -1
    kept: list[tuple[int, Charge]] = []
    unmatched_kept: list[tuple[int, Charge]] = []
    rematched: list[Charge] = []
    late: list[StatementLine] = []
    imported = matched = rematched_count = already = done = told = 0
    first_id = last_id = None
    pending: list[Charge] = []  # matched, not yet written
    if ledger is not None and not dry_run:
        ledger.tx.expect_rows(rows if rows is not None else CHUNK)

    def tell() -> None:
        nonlocal told
        if progress is None:
            return
        at = getattr(source, "rows_read", done) if rows is not None else done
        if at > told:
            progress(at - told)
            told = at

    # A statement tells its lines apart by their hashes (equal lines by their occurrence
    # in the file: lines.Tally), so that in a ledger that held no charge before, none
    # of them can be stored already: they are not looked up (a first import).
    look_up = ledger is not None and (not hasattr(source, "lines") or ledger.holds_charges())
    for chunk in _chunks(lines, CHUNK):
        stored = ledger.charges_by_hashes([line.line_hash for line in chunk]) \
            if look_up else {}
        new = len({line.line_hash for line in chunk} - stored.keys())
        if dry_run or ledger is None:
            numbers = range(imported + 1, imported + new + 1)
            charge_ids = iter([f"(new {number})" for number in numbers])
        else:
            charge_ids = iter(ledger.next_ids(ids.CHARGE, new))
        late.extend(dated_after(chunk, now))
        for line in chunk:
            old = stored.get(line.line_hash)
            if old is not None:
                already += 1
                if old.sub_id is None and may_rematch(old):  # unmatched, not by hand: again
                    sub_id = matcher(line)
                    if sub_id is not None:
                        old = old._replace(sub_id=sub_id)
                        if not dry_run:
                            ledger.save(old)
                        rematched_count += 1
                        if rematched_count <= limit or limit < 0:
                            rematched.append(old)
            else:
                charge = Charge(
                    id=next(charge_ids), posted_on=line.posted_on,
                    description=line.description, amount=line.amount,
                    currency=line.currency, line_hash=line.line_hash, sub_id=matcher(line),
                    statement=statement, imported_at=now,
                )
                stored[line.line_hash] = charge  # the same line twice is stored once
                imported += 1
                first_id = first_id or charge.id
                last_id = charge.id
                if charge.sub_id is not None:
                    matched += 1
                elif len(unmatched_kept) < limit or limit < 0:
                    unmatched_kept.append((line.line_no, charge))
                if len(kept) < limit or limit < 0:
                    kept.append((line.line_no, charge))
                pending.append(charge)
            done += 1
            if progress is not None and done % 100 == 0:
                tell()
        if pending and not dry_run:
            ledger.add_many(pending, "charges")
            ledger.check_written()  # what this chunk wrote, checked while it is at hand
        pending = []
    tell()
    report = ImportReport(statement, done, kept, already, rematched, None,
                          totals=(imported, matched, rematched_count),
                          unmatched_kept=unmatched_kept, late=late)
    if dry_run or (not imported and not rematched_count):
        return report, None

    def write() -> Event:
        detail: dict = {"statement": statement, **report.counts}
        if imported:
            detail["first_id"] = first_id
            detail["last_id"] = last_id
        return ledger.append_event(EVENT_SUBJECT, EVENT_ACTION, detail, now)

    return report, write


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


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
    # an unmatched charge is no finding; find_unexpected orders the charges itself
    charges = ledger.charge_fields(CHECKED_FIELDS, matched=True)
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
