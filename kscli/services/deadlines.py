"""Deadlines use cases: every decision date ahead, how often each record changed (the
calendar's SEQUENCE), and which deadlines were reminded on which channel.

A reminder is an event of the deadline's record with the action ``remind`` (no
migration, and it moves with `kscli export`): its detail names the deadline (uid and
day), the channel as shown (a URL without its user, password or token) and the
channel's id (a hash of the whole URL, so the same URL is the same channel). A
deadline counts as reminded on a channel when such an event names its uid, its
current day and the channel: a deadline that moves to another day is reminded again.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Iterable, Iterator, NamedTuple

from kscli.domain import deadlines as rules
from kscli.domain.deadlines import Deadline, LicenseFacts, SubFacts, Window
from kscli.domain.licenses import as_recorded_at
from kscli.domain.model import Event
from kscli.domain.policy import Policy
from kscli.store.base import Ledger, Store

REMIND = "remind"  # the action of a reminder's event
LIVE = ("active", "cancelled")  # the statuses that can have a deadline ahead


def upcoming(store: Store, now: datetime, until: datetime, policy: Policy, *,
             past: bool = False) -> list[Deadline]:
    """Every deadline from ``now`` to the day of ``until``, soonest first. ``past``:
    ``now`` is earlier than the clock, so what was recorded after it is undone."""
    from kscli.services.subs import states_at

    window = Window(now, until)
    with store.read() as ledger:
        subs = list(_sub_facts(ledger, states_at(ledger, now, past=past,
                                                 **({} if past else {"status": LIVE})), now))
        keys = list(_license_facts(ledger, now, past))
    return rules.upcoming(subs, keys, window, policy)


def _sub_facts(ledger: Ledger, found, now: datetime) -> Iterator[SubFacts]:
    for state, _ in found:
        sub = state.sub
        if state.status not in LIVE or (sub.created_at is not None and sub.created_at > now
                                        and sub.started_at > now):
            continue  # ended, void, or not recorded yet at ``now``
        events = tuple(e for e in ledger.events(sub.id) if e.at <= now)
        yield SubFacts(state, events)


def _license_facts(ledger: Ledger, now: datetime, past: bool) -> Iterator[LicenseFacts]:
    histories = ledger.histories_after(now, "licenses") if past else {}
    vendors: dict[str, str | None] = {}
    for lic in ledger.licenses(status=None if past else ("unactivated",)):
        if past and (lic.created_at or lic.purchased_at) > now:
            continue  # not recorded yet
        if lic.id in histories:
            lic = as_recorded_at(lic, histories[lic.id], now)
        if lic.sub_id and lic.sub_id not in vendors:
            sub = ledger.sub(lic.sub_id)
            vendors[lic.sub_id] = sub.vendor if sub is not None else None
        yield LicenseFacts(lic, vendors.get(lic.sub_id) if lic.sub_id else None)


class Revision(NamedTuple):
    """How often a record changed (its events: the calendar's SEQUENCE) and when last."""

    count: int
    last_at: datetime | None


def revisions(store: Store, subjects: Iterable[str]) -> dict[str, Revision]:
    """The events count and latest event time of each record."""
    found: dict[str, Revision] = {}
    with store.read() as ledger:
        for subject in sorted(set(subjects)):
            count, last = 0, None
            for event in ledger.events(subject):
                if event.action == REMIND:
                    continue  # a reminder changes nothing about the deadline
                count += 1
                last = event.at if last is None or event.at > last else last
            found[subject] = Revision(count, last)
    return found


# --- reminders ----------------------------------------------------------------------

class Channel(NamedTuple):
    """Where a digest goes: ``stdout``, or a --notify URL."""

    label: str  # as shown and recorded: no user, password or token
    ident: str  # a hash of the whole address: the same URL is the same channel


def channel(address: str, label: str) -> Channel:
    return Channel(label, hashlib.sha256(address.encode("utf-8")).hexdigest()[:16])


STDOUT = channel("stdout", "stdout")


def _reminded(ledger: Ledger, deadlines: Iterable[Deadline]) -> set[tuple[str, str, str]]:
    """(uid, day, channel id) of every reminder recorded for these deadlines' records."""
    found: set[tuple[str, str, str]] = set()
    for subject in sorted({d.subject for d in deadlines}):
        for event in ledger.events(subject):
            if event.action == REMIND:
                detail = event.detail
                found.add((str(detail.get("deadline")), str(detail.get("date")),
                           str(detail.get("channel_id"))))
    return found


def not_reminded(store: Store, deadlines: list[Deadline],
                 channels: Iterable[Channel]) -> dict[Channel, list[Deadline]]:
    """For each channel, the deadlines not reminded on it yet (in their order)."""
    with store.read() as ledger:
        done = _reminded(ledger, deadlines)
    return {ch: [d for d in deadlines if (d.uid, d.day.isoformat(), ch.ident) not in done]
            for ch in channels}


def record_reminded(store: Store, now: datetime, deadlines: list[Deadline],
                    ch: Channel) -> list[Event]:
    """One ``remind`` event per deadline reminded on ``ch``."""
    with store.write() as ledger:
        return [ledger.append_event(d.subject, REMIND, {
            "deadline": d.uid, "kind": d.kind, "date": d.day.isoformat(),
            "channel": ch.label, "channel_id": ch.ident}, now) for d in deadlines]
