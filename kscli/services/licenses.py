"""License key use cases: add, issue, look up, activate, deactivate, revoke, lapse.

Keys are secrets: the ledger keeps a key's hash, last four symbols and fingerprint;
the key itself goes where a :class:`kscli.secrets.Keeper` puts it. No event holds
a key.

The activation window's length is the effective policy's: every use case that shows
or judges a window takes ``years`` (``Policy.activation_years()``) from its caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from kscli.domain import ids, keys
from kscli.domain import licenses as rules
from kscli.domain.calendar import add_months
from kscli.domain.corrections import refuse_void
from kscli.domain.errors import NoChange, NotFound, Refused
from kscli.domain.model import Event, License, Subscription
from kscli.secrets import Keeper
from kscli.services import Outcome, check_clock
from kscli.store.base import Ledger, Store
from kscli.views import license_view

SECRETS_SUBJECT = "ledger"
SECRETS_ACTION = "secrets-in-ledger"


@dataclass(frozen=True)
class Target:
    """A key named on the command line: by id, or by the key's hash (never the key)."""

    license_id: str | None = None
    key_hash: str | None = None
    fingerprint: str | None = None

    @classmethod
    def of_key(cls, symbols: str) -> "Target":
        return cls(key_hash=keys.key_hash(symbols), fingerprint=keys.fingerprint(symbols))


@dataclass(frozen=True)
class Issued:
    """A key made by `license issue`: the record, the key (shown once), the event."""

    license: License
    key: str
    event: Event


def find(ledger: Ledger, target: Target) -> License:
    if target.license_id is not None:
        return ledger.require_license(target.license_id)
    found = ledger.license_by_hash(target.key_hash or "")
    if found is None:
        raise NotFound(f"no license key with fingerprint {target.fingerprint} in {ledger.location}",
                       hint="add it with `kscli license add`")
    return found


def one_swap_match(store: Store, text: str) -> License | None:
    """The one key of the ledger that a swap of two neighbouring symbols of ``text``
    (a key that failed its check) would give, or None when none or several would."""
    found: list[License] = []
    candidates = keys.one_swap_away(text)
    if not candidates:
        return None
    with store.read() as ledger:
        for symbols in candidates:
            lic = ledger.license_by_hash(keys.key_hash(symbols))
            if lic is not None:
                found.append(lic)
    return found[0] if len(found) == 1 else None


def _record(ledger: Ledger, change: rules.Change, now: datetime) -> Event:
    ledger.save(change.license)
    return ledger.append_event(change.license.id, change.action, change.detail, now, change.at)


def _sub_account(ledger: Ledger, sub_id: str | None, account: str | None) -> str | None:
    """Check that ``sub_id`` exists (exit 3 otherwise); a key inherits its account."""
    if sub_id is None:
        return account
    sub = ledger.require_sub(sub_id)
    refuse_void(sub)  # a record voided as a mistake takes nothing more
    return account or sub.account


def _keep(ledger: Ledger, keeper: Keeper, symbols: str, *, product: str,
          purchased_at: datetime, now: datetime, seats: int, account: str | None,
          sub_id: str | None, issued: bool) -> License:
    license_id = ledger.next_id(ids.LICENSE)
    where = keeper.put(ledger, license_id, keys.key_hash(symbols), keys.format_key(symbols))
    lic = rules.new_license(license_id, symbols=symbols, product=product,
                            purchased_at=purchased_at, now=now, seats=seats, account=account,
                            sub_id=sub_id, issued=issued, secret_store=where)
    ledger.add(lic)
    return lic


def _note_secrets_in_ledger(ledger: Ledger, keeper: Keeper, now: datetime) -> Event | None:
    """Record, once per ledger, that keys are kept in it because no keyring works.

    Called inside the transaction that stored the keys. The first time, it appends the
    ``secrets-in-ledger`` event (naming the keyring backend that failed, never a key)
    and sets ``keeper.warn`` so that the command warns; once the event exists, later
    commands stay silent.
    """
    if keeper.fallback is None:
        return None
    if any(e.action == SECRETS_ACTION for e in ledger.events(SECRETS_SUBJECT)):
        return None
    event = ledger.append_event(SECRETS_SUBJECT, SECRETS_ACTION,
                                {"keyring": keeper.failed_backend, "reason": keeper.fallback},
                                now)
    keeper.warn = True
    return event


def _added_message(lic: License, verb: str, now: datetime, years: int) -> str:
    deadline = rules.activation_deadline(lic.purchased_at, years=years)
    if rules.is_lapsed(lic, now, years=years):
        return (f"{lic.id}: {verb} a key for {lic.product}; never activated, its activation "
                f"window closed after {deadline}: it is deactivated [{rules.CLAUSE}]")
    return f"{lic.id}: {verb} a key for {lic.product}, to activate by {deadline}"


def add_license(store: Store, now: datetime, *, symbols: str, product: str,
                purchased_at: datetime, keeper: Keeper, years: int, seats: int = 1,
                account: str | None = None, sub_id: str | None = None) -> Outcome:
    """Record a key obtained elsewhere; ``symbols`` is already validated."""
    with store.write() as ledger:
        existing = ledger.license_by_hash(keys.key_hash(symbols))
        if existing is not None:
            raise Refused(f"this key is already in {ledger.location} as {existing.id}",
                          code="duplicate-key", hint=f"`kscli license show {existing.id}`")
        account = _sub_account(ledger, sub_id, account)
        lic = _keep(ledger, keeper, symbols, product=product, purchased_at=purchased_at,
                    now=now, seats=seats, account=account, sub_id=sub_id, issued=False)
        event = ledger.append_event(lic.id, "created",
                                    {"license": license_view(lic, now, years=years)}, now)
        _note_secrets_in_ledger(ledger, keeper, now)
    return Outcome(lic, _added_message(lic, "added", now, years), event)


def issue_licenses(store: Store, now: datetime, *, product: str, purchased_at: datetime,
                   keeper: Keeper, years: int, count: int = 1, seats: int = 1,
                   account: str | None = None,
                   sub_id: str | None = None,
                   generate: Callable[[], str] = keys.generate,
                   before_commit: Callable[[list[Issued]], None] | None = None) -> list[Issued]:
    """Make ``count`` new keys from ``secrets``, recorded unactivated and issued.

    ``before_commit(issued)`` hands the keys out (prints them, writes them to a file)
    inside the transaction: if it fails, nothing is recorded, so no key is ever recorded
    as issued that its issuer did not get."""
    issued: list[Issued] = []
    with store.write() as ledger:
        account = _sub_account(ledger, sub_id, account)
        for _ in range(count):
            symbols = keys.validate(generate())
            while ledger.license_by_hash(keys.key_hash(symbols)) is not None:
                symbols = keys.validate(generate())  # 110 random bits: practically never
            lic = _keep(ledger, keeper, symbols, product=product, purchased_at=purchased_at,
                        now=now, seats=seats, account=account, sub_id=sub_id, issued=True)
            event = ledger.append_event(lic.id, "issued",
                                        {"license": license_view(lic, now, years=years)}, now)
            issued.append(Issued(lic, keys.format_key(symbols), event))
        _note_secrets_in_ledger(ledger, keeper, now)
        if before_commit is not None:
            before_commit(issued)
    return issued


def show(store: Store, target: Target, keeper: Keeper | None = None, *,
         past: datetime | None = None) -> tuple[License, str | None]:
    """A key's record (as it stood at ``past``, a moment before now, when given), and
    the key itself when ``keeper`` is given (--reveal)."""
    with store.read() as ledger:
        lic = find(ledger, target)
        key = keeper.get(ledger, lic) if keeper is not None else None
        if past is not None:
            lic = rules.as_recorded_at(lic, ledger.events(lic.id), past)
        return lic, key


def listing(store: Store, now: datetime, *, years: int, statuses: Sequence[str] = (),
            product: str | None = None, account: str | None = None,
            due_until: datetime | None = None,
            keeper: Keeper | None = None, past: bool = False) -> list[tuple[License, str | None]]:
    """Keys by id (by last day to activate with ``due_until``), filtered on their
    effective status at ``now``; with ``keeper``, each with its key. ``past``: ``now``
    is earlier than the clock, so what was recorded later is undone, and a key
    recorded later is not listed."""
    wanted = set(statuses)
    out: list[tuple[License, str | None]] = []
    with store.read() as ledger:
        histories = ledger.histories_after(now, "licenses") if past else {}
        for recorded in ledger.licenses(account=account):
            if past and recorded.purchased_at > now:
                continue  # not bought yet
            lic = (rules.as_recorded_at(recorded, histories[recorded.id], now)
                   if recorded.id in histories else recorded)
            if wanted and rules.effective(lic, now, years=years).status not in wanted:
                continue
            if product and lic.product.casefold() != product.casefold():
                continue
            if due_until is not None and not rules.due_by(lic, now, due_until, years=years):
                continue
            out.append((lic, keeper.get(ledger, recorded) if keeper is not None else None))
    if due_until is not None:
        out.sort(key=lambda pair: (rules.activation_deadline(pair[0].purchased_at, years=years),
                                  ids.natural_key(pair[0].id)))
    return out


def activate(store: Store, target: Target, machine: str, now: datetime, *, years: int,
             trust_clock: bool = False) -> Outcome:
    """Activate a key on a machine, checking its window inside the write transaction.

    A first activation after the window is refused (exit 4), and the key's
    deactivation is recorded all the same: the refusal is raised after the commit.
    """
    with store.write() as ledger:
        lic = find(ledger, target)
        check_clock(ledger, now, trust_clock)
        try:
            change = rules.activate(lic, machine, now, years=years)
        except NoChange as nothing:
            return Outcome(lic, nothing.message)
        except rules.WindowElapsed as elapsed:
            if elapsed.lapse is None:
                raise
            reference = _record(ledger, elapsed.lapse, now).reference
            refusal = Refused(f"{elapsed.message} (recorded as {reference})",
                              code=elapsed.code, clause=elapsed.clause)
        else:
            return Outcome(change.license, change.message, _record(ledger, change, now))
    raise refusal


def apply(store: Store, target: Target, now: datetime,
          rule: Callable[[License, datetime], rules.Change]) -> Outcome:
    """Load a key, apply a rule, save it with its event; or report no change."""
    with store.write() as ledger:
        lic = find(ledger, target)
        try:
            change = rule(lic, now)
        except NoChange as nothing:
            return Outcome(lic, nothing.message)
        event = _record(ledger, change, now)
    return Outcome(change.license, change.message, event)


def deactivate(store: Store, target: Target, machine: str, now: datetime) -> Outcome:
    return apply(store, target, now, lambda lic, when: rules.deactivate(lic, machine, when))


def revoke_in(ledger: Ledger, license_id: str, now: datetime,
              reason: str | None = None) -> Event | None:
    """Revoke a key inside a caller's transaction (a refund); None if already revoked."""
    lic = find(ledger, Target(license_id=license_id))
    try:
        change = rules.revoke(lic, now, reason)
    except NoChange:
        return None
    return _record(ledger, change, now)


def revoke(store: Store, target: Target, now: datetime, reason: str | None = None) -> Outcome:
    return apply(store, target, now, lambda lic, when: rules.revoke(lic, when, reason))


def lapse_due(ledger: Ledger, now: datetime, dry_run: bool, report: Any, *,
              years: int) -> None:
    """The sweep's step: one `deactivated` event per key whose window (``years``
    long) passed unactivated.

    Idempotent: a recorded lapse changes the stored status, so it is found once.
    """
    # A window of N calendar years is at least 365 * N days long, so nothing bought
    # after this can be due.
    bound = now - timedelta(days=365 * years)
    for lic in list(ledger.licenses(status=("unactivated",), purchased_before=bound)):
        try:
            change = rules.lapse(lic, now, years=years)
        except NoChange:
            continue
        reference = None if dry_run else _record(ledger, change, now).reference
        report.add(lic.id, change.action, change.message, reference)


def fill_sample_keys(ledger: Ledger, now: datetime, software_sale: Subscription, *,
                     years: int) -> None:
    """Sample keys for `init --sample`: unactivated, active, lapsed, and the key issued
    for a one-time software sale. Their keys go into the ledger, never a keyring.
    ``years`` is the activation window of the policy the sample is made for."""
    keeper = Keeper(use_keyring=False)
    day = timedelta(days=1)

    def add(product: str, purchased: datetime, *, account: str = "ada@example.com",
            seats: int = 1, sub_id: str | None = None, issued: bool = False) -> License:
        symbols = keys.validate(keys.generate())
        lic = _keep(ledger, keeper, symbols, product=product, purchased_at=purchased,
                    now=purchased, seats=seats, account=account, sub_id=sub_id, issued=issued)
        ledger.append_event(lic.id, "issued" if issued else "created",
                            {"license": license_view(lic, purchased, years=years)}, now,
                            purchased)
        return lic

    add("Code Studio", add_months(now, -2) - 4 * day)
    laptop = add("Sketch Pad", add_months(now, -5), seats=2)
    activated_at = laptop.purchased_at + 2 * day
    change = rules.activate(laptop, "laptop", activated_at, years=years)
    ledger.save(change.license)
    ledger.append_event(laptop.id, change.action, change.detail, now, activated_at)
    # Bought a month and six days before its window of ``years`` would still be open.
    lapsed = add("Audio Mixer", add_months(now, -(12 * years + 1)) - 6 * day)
    _record(ledger, rules.lapse(lapsed, now, years=years), now)
    add(software_sale.product, software_sale.started_at, account=software_sale.account,
        sub_id=software_sale.id, issued=True)
