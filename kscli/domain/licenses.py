"""License key rules: the activation window, seats, activation, revocation.

Each rule takes a License and ``now`` and returns a Change (the new record, the event
to append, the sentence to print), raises Refused naming what forbids it, or raises
NoChange when there is nothing to do.

The window [license.activation-window]: the last day to activate is the purchase date
in UTC plus ``years`` calendar years (29 February gives 28 February), and that whole
day counts, so activation is allowed while ``now`` is before 00:00 UTC of the day
after. ``years`` is the policy's (``Policy.activation_years()``, one in the default
policy): every function that needs the window takes it as a parameter, and this module
keeps no length of its own. The window gates the first activation only. A key still
unactivated after it is deactivated with the reason ``activation-window-elapsed``;
:func:`effective` shows that from the very moment the window closes, whether or not
the lapse was recorded yet.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Iterable, NamedTuple

from kscli.domain import keys
from kscli.domain.keys import KeyRejected  # noqa: F401 - part of this module's API
from kscli.domain.calendar import UTC, add_years, start_of_day
from kscli.domain.errors import NoChange, Refused
from kscli.domain.model import Activation, Event, License

CLAUSE = "license.activation-window"
LAPSED = "activation-window-elapsed"


class Change(NamedTuple):
    """A new state for a key and the event that records it."""

    license: License
    action: str
    message: str
    detail: dict[str, Any] = {}
    at: datetime | None = None  # when the change took effect, if not now


class WindowElapsed(Refused):
    """An activation after the window closed.

    ``lapse`` is the change to record (the key's deactivation) when it was not
    recorded yet: the refusal still writes it.
    """

    def __init__(self, message: str, lapse: Change | None = None) -> None:
        super().__init__(message, code=LAPSED, clause=CLAUSE)
        self.lapse = lapse


# --- the window ------------------------------------------------------------------

def activation_deadline(purchased_at: datetime, *, years: int) -> date:
    """The last day to activate: the purchase date (UTC) plus ``years`` calendar years."""
    return add_years(purchased_at.astimezone(UTC).date(), years)


def closes_after(last_day: date) -> datetime:
    """00:00 UTC of the day after ``last_day``: a window whose last day counts whole."""
    return start_of_day(last_day + timedelta(days=1))


def window_closes_at(purchased_at: datetime, *, years: int) -> datetime:
    """00:00 UTC of the day after the last day: the first moment activation is refused."""
    return closes_after(activation_deadline(purchased_at, years=years))


def window_open(lic: License, now: datetime, *, years: int) -> bool:
    return now < window_closes_at(lic.purchased_at, years=years)


def is_lapsed(lic: License, now: datetime, *, years: int) -> bool:
    """Never activated and past its window, whether or not the lapse is recorded."""
    return lic.status == "unactivated" and not window_open(lic, now, years=years)


def effective(lic: License, now: datetime, *, years: int) -> License:
    """The key as every command shows it at ``now``, under a window of ``years``.

    An unactivated key past its window is deactivated (reason
    ``activation-window-elapsed``) from the moment the window closes. A lapse once
    recorded is final: a later policy with a longer window does not reopen it, as a
    recorded decision keeps the policy it was made under.
    """
    if is_lapsed(lic, now, years=years):
        return lic._replace(status="deactivated", status_reason=LAPSED)
    return lic


def as_recorded_at(lic: License, history: Iterable[Event], at: datetime) -> License:
    """The key as it stood at ``at``: what was recorded after it (activations, machines
    deactivated, a revocation, a lapse) undone from the key's events. Apply
    :func:`effective` for the lapse. (Whether it was bought by then is its
    ``purchased_at``, as a subscription's start is its ``started_at``.)"""
    events = list(history)
    later = [e for e in events if e.at > at]
    if not later and all(a.at <= at for a in lic.activations):
        return lic
    acts = list(lic.activations)
    status, reason = lic.status, lic.status_reason
    for event in reversed(later):
        machine = event.detail.get("machine")
        if event.action == "activated":
            for i in range(len(acts) - 1, -1, -1):
                if _same_machine(acts[i].machine, str(machine)):
                    del acts[i]
                    break
        elif event.action == "machine-deactivated" and machine:
            since = [e.at for e in events if e.action == "activated" and e.at <= event.at
                     and _same_machine(str(e.detail.get("machine")), str(machine))]
            acts.append(Activation(str(machine), max(since) if since else event.at))
        elif event.action in ("revoked", "deactivated"):
            status, reason = "active", None
    acts = sorted((a for a in acts if a.at <= at), key=lambda a: a.at)
    ever = bool(acts) or any(e.action == "activated" and e.at <= at for e in events)
    if status == "active" and not ever:  # its first activation came later
        status = "unactivated"
    return lic._replace(status=status, status_reason=reason, activations=tuple(acts))


def due_by(lic: License, now: datetime, until: datetime, *, years: int) -> bool:
    """Still unactivated at ``now`` with its last day on or before ``until``'s day."""
    last_day = activation_deadline(lic.purchased_at, years=years)
    return (effective(lic, now, years=years).status == "unactivated"
            and last_day <= until.astimezone(UTC).date())


def seats_used(lic: License) -> int:
    return len(lic.activations)


# --- records and events ----------------------------------------------------------------

def new_license(license_id: str, *, symbols: str, product: str, purchased_at: datetime,
                now: datetime, seats: int = 1, account: str | None = None,
                sub_id: str | None = None, issued: bool = False,
                secret_store: str = "keyring") -> License:
    """A key just recorded: unactivated; only its hash, last four and fingerprint kept."""
    return License(
        id=license_id, product=product, purchased_at=purchased_at,
        key_hash=keys.key_hash(symbols), key_last4=keys.last4(symbols),
        fingerprint=keys.fingerprint(symbols), seats=seats, account=account, sub_id=sub_id,
        issued=issued, secret_store=secret_store, created_at=now,
    )


def key_detail(lic: License) -> dict[str, str]:
    """How an event names a key: never the key, only its last four and fingerprint."""
    return {"key_last4": lic.key_last4, "fingerprint": lic.fingerprint}


def _day(value: date | datetime) -> str:
    return value.strftime("%Y-%m-%d")


def years_text(years: int) -> str:
    """``one year``, ``2 years``: the window's length in a sentence."""
    return "one year" if years == 1 else f"{years} years"


def _closed_sentence(lic: License, years: int) -> str:
    closes = window_closes_at(lic.purchased_at, years=years)
    return (f"its activation window closed at {closes:%Y-%m-%d %H:%M} UTC (the last day to "
            f"activate was {_day(activation_deadline(lic.purchased_at, years=years))}, "
            f"{years_text(years)} after the purchase on {_day(lic.purchased_at.astimezone(UTC))})")


def lapse(lic: License, now: datetime, *, years: int) -> Change:
    """Record the deactivation of a key whose window of ``years`` passed unactivated."""
    if not is_lapsed(lic, now, years=years):
        raise NoChange(f"{lic.id}: nothing to lapse", lic)
    closes = window_closes_at(lic.purchased_at, years=years)
    new = lic._replace(status="deactivated", status_reason=LAPSED)
    return Change(
        new, "deactivated",
        f"{lic.id}: never activated, {_closed_sentence(lic, years)}: deactivated [{CLAUSE}]",
        {"reason": LAPSED, "clause": CLAUSE,
         "activation_deadline": _day(activation_deadline(lic.purchased_at, years=years)),
         **key_detail(lic)},
        at=closes,
    )


def _same_machine(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _seats_text(lic: License) -> str:
    return f"{seats_used(lic)} of {lic.seats} seat{'s' if lic.seats != 1 else ''} used"


def activate(lic: License, machine: str, now: datetime, *, years: int) -> Change:
    """Activate a key on a machine.

    The window (``years`` long) gates the first activation only; seats are enforced;
    the same machine again changes nothing. A first activation after the window raises
    WindowElapsed carrying the lapse to record.
    """
    if lic.status == "revoked":
        raise Refused(f"{lic.id} was revoked: it cannot be activated", code="key-revoked")
    if any(_same_machine(a.machine, machine) for a in lic.activations):
        raise NoChange(f"{lic.id} is already activated on {machine}; nothing changed", lic)
    if lic.status == "deactivated" and lic.status_reason == LAPSED:
        raise WindowElapsed(
            f"{lic.id} cannot be activated: it was never activated and "
            f"{_closed_sentence(lic, years)}; the key is deactivated [{CLAUSE}]"
        )
    if lic.status == "deactivated" and lic.status_reason != LAPSED:
        raise Refused(f"{lic.id} is deactivated ({lic.status_reason or 'no reason given'}): "
                      "it cannot be activated", code="key-deactivated")
    if is_lapsed(lic, now, years=years):
        raise WindowElapsed(
            f"{lic.id} cannot be activated: it was never activated and "
            f"{_closed_sentence(lic, years)}; the key is now deactivated [{CLAUSE}]",
            lapse(lic, now, years=years),
        )
    if seats_used(lic) >= lic.seats:
        machines = ", ".join(a.machine for a in lic.activations)
        raise Refused(
            f"{lic.id} is active on {seats_used(lic)} of {lic.seats} seats ({machines}): "
            f"no seat left for {machine}",
            code="seats-exhausted",
            hint=f"free one with `kscli license deactivate {lic.id} --machine NAME`",
        )
    # Never activated before: unactivated, or a lapse recorded under a shorter window
    # than the one now in force (the only deactivated key that gets this far).
    first = lic.status != "active"
    new = lic._replace(status="active", status_reason=None,
                              activations=(*lic.activations, Activation(machine, now)))
    detail: dict[str, Any] = {"machine": machine, "seats_used": seats_used(new),
                              "seats": new.seats, **key_detail(lic)}
    if first:
        detail["clause"] = CLAUSE
        detail["activation_deadline"] = _day(activation_deadline(lic.purchased_at, years=years))
    return Change(new, "activated", f"{lic.id}: activated on {machine} ({_seats_text(new)})",
                  detail)


def deactivate(lic: License, machine: str, now: datetime) -> Change:
    """Remove a machine's activation, freeing its seat; the key stays activated."""
    kept = tuple(a for a in lic.activations if not _same_machine(a.machine, machine))
    if len(kept) == len(lic.activations):
        where = ", ".join(a.machine for a in lic.activations) or "no machine"
        raise NoChange(
            f"{lic.id} is not activated on {machine} (it is on {where}); nothing changed", lic
        )
    removed = next(a for a in lic.activations if _same_machine(a.machine, machine))
    new = lic._replace(activations=kept)
    return Change(
        new, "machine-deactivated",
        f"{lic.id}: deactivated on {removed.machine}, seat freed ({_seats_text(new)})",
        {"machine": removed.machine, "seats_used": seats_used(new), "seats": new.seats,
         **key_detail(lic)},
    )


def revoke(lic: License, now: datetime, reason: str | None = None) -> Change:
    """Revoke a key (a refunded sale): it can never be activated again."""
    if lic.status == "revoked":
        raise NoChange(f"{lic.id} is already revoked; nothing changed", lic)
    new = lic._replace(status="revoked", status_reason=reason)
    detail: dict[str, Any] = {**key_detail(lic)}
    if reason:
        detail["reason"] = reason
    return Change(new, "revoked", f"{lic.id}: revoked" + (f" ({reason})" if reason else ""),
                  detail)
