"""The public JSON shapes of kscli's records (the README and `man kscli` describe them).

snake_case keys, ISO 8601 UTC times with ``Z``, money as decimal strings beside its
currency. Scripts depend on these shapes: add keys, never rename or remove one.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, NamedTuple

from kscli.domain.calendar import iso
from kscli.domain.model import SUBSCRIPTION, Event, License, Subscription
from kscli.domain.records import Record
from kscli.domain.timeline import SubState, as_it_stands, state_at
from kscli.rows import codec_of, to_row

if TYPE_CHECKING:
    from kscli.domain.statement import Finding


# (a row holds the record's fields in order: kscli.rows)
_PERIOD_END, _ENDED_AT = SUBSCRIPTION.names.index("period_end"), SUBSCRIPTION.names.index("ended_at")
_PERIOD_START, _STATUS = SUBSCRIPTION.names.index("period_start"), SUBSCRIPTION.names.index("status")
assert _PERIOD_END == _PERIOD_START + 1  # states() patches the two side by side


def _display_status(state: SubState, row: tuple) -> str:
    return state.display_status


def _ends_at(state: SubState, row: tuple) -> str | None:
    end, sub = state.ends_at, state.sub
    # Most often one of the record's own times: its stored text is its JSON form.
    if end is sub.period_end:
        return row[_PERIOD_END]
    if end is sub.ended_at:
        return row[_ENDED_AT]
    return iso(end)


def states(pairs: Iterable[tuple[Subscription, tuple]], at: datetime,
           histories: dict[str, list[Event]] | None = None) -> Iterator[tuple[SubState, tuple]]:
    """(record, stored row) pairs as (state at ``at``, its row): the row is the stored
    one while the record stands at ``at``, a new one where a renewal, an expiry or an
    earlier period changed it. ``histories`` (events by subscription) undo what was
    recorded after ``at``."""
    for sub, row in pairs:
        state = state_at(sub, at, histories.get(sub.id) if histories else None)
        new = state.sub
        if new is sub:
            yield state, row
        elif new.price != sub.price or new.plan != sub.plan:  # from the history (timeline)
            yield state, to_row(new)
        elif new.auto_renew is not sub.auto_renew or new.cancelled_at is not sub.cancelled_at:
            yield state, to_row(new)
        elif new.status is sub.status and new.ended_at is sub.ended_at:  # renewed
            # the new period most often starts where the stored one ended: its text is
            # the stored text
            start = row[_PERIOD_END] if new.period_start == sub.period_end else iso(new.period_start)
            yield state, (*row[:_PERIOD_START], start, iso(new.period_end),
                          *row[_PERIOD_START + 2:])
        elif new.period_end is sub.period_end and new.period_start is sub.period_start \
                and new.ended_at == sub.period_end:  # expired at the end of its period
            patched = list(row)
            patched[_STATUS], patched[_ENDED_AT] = new.status, row[_PERIOD_END]
            yield state, tuple(patched)
        else:
            yield state, to_row(new)


# The JSON object of a subscription, key by key, in order: its public fields (those
# of its description with a JSON key), each the stored value, already in its JSON form
# (ISO 8601 UTC times with Z, decimal text, 0/1 flags shown as false/true), and after
# its status the keys worked out by the domain's rules from its state (and stored row).
# `sub_view` and the JSON lines of `sub list` are both made from this one layout.
# (each of these runs for every row of a listing that has what it reads: Derived's
# ``unless`` answers the others, most of a ledger, without a call)
def _price_history(state: SubState, row: tuple) -> list[dict[str, str]]:
    return [{"from": since, "price": price} for since, price in sorted(state.sub.prices.items())]


def _match(state: SubState, row: tuple) -> list[str]:
    return sorted(state.sub.matches)


def _plan_history(state: SubState, row: tuple) -> list[dict[str, str]]:
    return [{"from": since, "plan": plan} for since, plan in sorted(state.sub.plans.items())]


def _trial_ends_at(state: SubState, row: tuple) -> str | None:
    from kscli.domain.timeline import trial_end

    return iso(trial_end(state.sub))


def _cancel_by(state: SubState, row: tuple) -> str | None:
    """The cancel-by day of the next renewal that can still be stopped (a date)."""
    from kscli.domain.notice import cancel_by

    found = cancel_by(state.sub, state.at)
    return None if found is None else found.date().isoformat()


def _none() -> None:
    return None


class Derived(NamedTuple):
    """A key of the public JSON worked out from a state and its stored row:
    ``rule(state, row)``; while the record's field ``unless`` is empty (no history, no
    trial, no notice) the value is ``empty()`` without a call. ``text``: the value is
    text or null. ``position`` is the place of ``unless`` in the record (json_layout)."""

    key: str
    rule: Callable[[SubState, tuple], Any]
    text: bool = False
    unless: str | None = None
    empty: Callable[[], Any] = _none
    position: int | None = None

    def value(self, state: Any, row: tuple) -> Any:
        if self.position is not None and not state.sub[self.position]:
            return self.empty()
        return self.rule(state, row)


SUB_DERIVED: dict[str, tuple[Derived, ...]] = {
    "plan": (Derived("plan_history", _plan_history, unless="plans", empty=list),),
    "currency": (Derived("price_history", _price_history, unless="prices", empty=list),),
    "status": (Derived("display_status", _display_status, text=True),
               Derived("ends_at", _ends_at, text=True)),
    "region": (Derived("match", _match, unless="matches", empty=list),),
    "trial": (Derived("trial_ends_at", _trial_ends_at, text=True, unless="trial"),),
    "notice": (Derived("cancel_by", _cancel_by, text=True, unless="notice"),),
}


def json_layout(record: Record, derived: dict[str, tuple[Derived, ...]]
                ) -> tuple[tuple[str, str, Any], ...]:
    """A record's public JSON as (key, kind, source): kind "bool" or "text" with the
    position of its stored value in the row (text that may be null), or "derived" with
    its Derived (placed after the field it is listed under, ``unless`` found in the
    record)."""
    names = record.names
    layout: list[tuple[str, str, Any]] = []
    for position, f in enumerate(record.fields):
        if f.public_key is not None:
            layout.append((f.public_key, "bool" if f.kind == "bool" else "text", position))
        layout.extend((d.key, "derived", d._replace(position=None if d.unless is None
                                                    else names.index(d.unless)))
                      for d in derived.get(f.name, ()))
    return tuple(layout)


SUB_FIELDS = json_layout(SUBSCRIPTION, SUB_DERIVED)


def sub_view(sub: Subscription | SubState, stored: tuple | None = None) -> dict[str, Any]:
    """The JSON object of a subscription (SUB_JSON): of its state at a moment, or of a
    record as it stands (as of the start of its period).

    ``stored`` is the row the record was read from, if at hand: its times and price
    are already in their JSON form. Both give the same object.
    """
    state = sub if isinstance(sub, SubState) else as_it_stands(sub)
    return view_of(SUB_FIELDS, state, to_row(state.sub) if stored is None else stored)


def view_of(layout: tuple[tuple[str, str, Any], ...], state: Any, row: tuple) -> dict[str, Any]:
    """The JSON object a layout (json_layout) describes, of a state and its row."""
    return {key: source.value(state, row) if kind == "derived" else
            bool(row[source]) if kind == "bool" else row[source]
            for key, kind, source in layout}


def license_view(lic: License, now: datetime, key: str | None = None, *,
                 years: int) -> dict[str, Any]:
    """A key as of ``now`` (its effective status) under an activation window of
    ``years`` (the effective policy's); the key itself only when given. Its public
    fields as its description gives them (record_view), and beside them what the
    domain works out: the masked key, the last day to activate, the seats in use."""
    from kscli.domain import licenses as license_rules
    from kscli.domain.keys import mask

    shown = license_rules.effective(lic, now, years=years)
    view = record_view(lic, {
        "purchased_at": (
            ("activation_deadline",
             license_rules.activation_deadline(lic.purchased_at, years=years).isoformat()),
            ("window_closes_at", iso(license_rules.window_closes_at(lic.purchased_at,
                                                                    years=years)))),
        "key_last4": (("key_masked", mask(lic.key_last4)),),
        "status": (("status", shown.status),),
        "status_reason": (("status_reason", shown.status_reason),),
        "seats": (("seats_used", license_rules.seats_used(lic)),),
    })
    if key is not None:
        view["key"] = key
    return view


def record_view(record: Any, derived: dict[str, tuple[tuple[str, Any], ...]] | None = None
                ) -> dict[str, Any]:
    """The public JSON object of a record (its description's public fields): times and
    amounts in their stored text (ISO 8601 UTC with Z, decimal text), flags as
    true/false, objects as they are, activations as a list of machines and times. The
    (key, value) pairs ``derived`` names after a field follow it (a key already there
    takes the new value in its place: an effective status)."""
    codec = codec_of(record)
    row = codec.to_row(record)
    view: dict[str, Any] = {}
    for i, f in enumerate(codec.record.fields):
        if f.public_key is not None:
            view[f.public_key] = (
                record[i] if f.kind in ("bool", "json", "int") else
                [{"machine": a.machine, "at": iso(a.at)} for a in record[i]] if f.kind == "acts"
                else row[i])
        for key, value in (derived or {}).get(f.name, ()):
            view[key] = value
    return view


event_view = incident_view = charge_view = record_view


def finding_view(finding: Finding) -> dict[str, Any]:
    """A charge that should not have happened (`kscli charges check`)."""
    return {
        "id": finding.id,
        "kind": finding.kind,
        "sub_id": finding.sub_id,
        "charge_id": finding.charge_id,
        "posted_on": finding.posted_on.isoformat(),
        "amount": str(finding.amount),
        "currency": finding.currency,
        "expected_amount": str(finding.expected) if finding.expected is not None else None,
        "service_ended": finding.service_ended.isoformat() if finding.service_ended else None,
        "reference": finding.reference,
        "message": finding.message,
    }


def day(value: datetime | date | None) -> str:
    """A date as people read it in tables: 2026-11-22, or - for none."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    return value.isoformat()
