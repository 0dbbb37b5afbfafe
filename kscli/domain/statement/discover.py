"""Forgotten subscriptions: recurring charges that match no subscription (`charges discover`).

The rule, step by step (pure: charges in, proposals out; the same charges in any order
give the same proposals):

1. **Merchant.** A charge's description is read as words (``kscli.domain.words``: case
   and accents folded, split on spaces, punctuation and ``*``). Words that change from
   one charge of a merchant to the next are dropped: every word holding a digit, that
   is anything but letters (reference and invoice numbers, dates, card numbers, long
   digit runs, ``P1A2B3``)
   and the names of months (English and German, full and three-letter: ``Oktober``,
   ``Nov``). Where words were dropped a gap is kept, so ``SPOTIFY 123 USA`` and
   ``SPOTIFY USA`` are two merchants. Charges with the same remaining words (and gaps)
   and the same currency are one merchant; a description with no word left is no
   merchant and is never proposed.
2. **Similar amounts.** Within a merchant, the amounts are taken from the smallest up;
   an amount joins the current band while it is at most ``SIMILAR`` (10%) above the
   band's smallest amount, else it starts a new band. Each band is judged on its own:
   a one-off purchase at a shop that also bills a subscription does not hide it.
3. **Cadence.** A band's charge days (one per day: two charges on one day count once
   for the cadence, and both are listed) must follow a schedule from the first charge:
   the k-th charge within the tolerance of the first plus k weeks (``weekly``, 2
   days), k months (``monthly``, 3 days), 3k months (``quarterly``, 4 days) or 12k
   months (``yearly``, 5 days). Months are calendar months clamped to the month's
   end (31 January, 28 February, 31 March), and the tolerance covers a charge posted
   after a weekend or a bank holiday. No period may be missed. At least 3 charges are
   needed (2 for yearly); the first cadence that fits, in that order, wins.
4. **Proposal.** The vendor is the longest run of kept words (the first of equal
   ones), as the latest charge writes it; it is also the statement descriptor
   (``--match``) a subscription recorded from it gets. The amount is the latest
   charge's. The next expected charge is the schedule's next date.

A weekly cadence has no kscli plan (plans are counted in months): it is proposed
with ``plan`` None and the reason, and is never recorded as a subscription.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter

from kscli.domain.calendar import add_months
from kscli.domain.ids import natural_key
from kscli.domain.words import fold, words

SIMILAR = Decimal("0.10")  # an amount up to 10% above a band's smallest is similar

# cadence: (months per step, or None for weeks; days of tolerance; fewest charges; plan)
CADENCES: dict[str, tuple[int | None, int, int, str | None]] = {
    "weekly": (None, 2, 3, None),
    "monthly": (1, 3, 3, "monthly"),
    "quarterly": (3, 4, 3, "3m"),
    "yearly": (12, 5, 2, "annual"),
}
NO_PLAN = "kscli plans are counted in months: a weekly charge cannot be recorded as one"

_MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "januar februar marz mai juni juli oktober dezember okt dez".split())
_GAP = ""  # where words were dropped
_WORD = re.compile(r"[^\W_]+")  # the pieces words.words splits a text into
_amount = attrgetter("amount")
_ASCII_WORD = re.compile(r"[a-z0-9]+")  # the same, in lower-case ASCII text
_NUMBERED = re.compile(r"[a-z0-9]*[0-9][a-z0-9]*")  # one of those holding a digit
# ASCII text in lower case with every digit written as "0"
_DIGITS_AS_ZERO = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ123456789",
                                  b"abcdefghijklmnopqrstuvwxyz000000000")


@dataclass(frozen=True)
class Charge:
    """What discovery reads of a charge (a stored Charge record has the same fields)."""

    id: str
    posted_on: date
    description: str
    amount: Decimal
    currency: str


# What discovery reads of a charge: a stored Charge, or a record of just these fields
# (Ledger.charge_fields) will do.
READ_FIELDS = tuple(field.name for field in fields(Charge))


@dataclass(frozen=True)
class Proposal:
    """A recurring charge that matches no subscription."""

    vendor: str  # as the latest charge writes it; also the descriptor (--match)
    amount: Decimal  # the latest charge's
    currency: str
    cadence: str  # weekly, monthly, quarterly, yearly
    plan: str | None  # the kscli plan it would be recorded with; None: it cannot be
    first: date
    last: date
    next_expected: date
    charge_ids: tuple[str, ...]

    @property
    def why_not(self) -> str | None:
        """Why ``--add`` cannot record it, or None."""
        return NO_PLAN if self.plan is None else None


def _kept(word: str) -> bool:
    """A word that stays the same from charge to charge: letters only, no month name."""
    return word.isalpha() and word not in _MONTHS


def merchant_key(description: str) -> tuple[str, ...]:
    """The merchant of a description: its kept words, ``""`` where words were dropped."""
    # ASCII text (most statements) is split without the Unicode folding: the same words
    found = _ASCII_WORD.findall(description.lower()) if description.isascii() \
        else words(description)
    key: list[str] = []
    for word in found:
        if word.isalpha() and word not in _MONTHS:  # _kept, inline: 100,000 charges
            key.append(word)
        elif key and key[-1]:
            key.append(_GAP)
    if key and not key[-1]:  # a gap at the end separates nothing
        key.pop()
    return tuple(key)


def vendor_text(description: str) -> str:
    """The longest run of kept words of a description (the first of equal ones), as
    written, with what stands between its words (``NETFLIX.COM``)."""
    runs: list[tuple[int, int, int]] = []
    run: list[int] | None = None
    for piece in _WORD.finditer(description):
        folded = words(piece.group())
        if folded and all(_kept(w) for w in folded):
            if run is None:
                run = [piece.start(), piece.end(), 0]
            run[1], run[2] = piece.end(), run[2] + 1
        elif run is not None:
            runs.append(tuple(run))
            run = None
    if run is not None:
        runs.append(tuple(run))
    if not runs:
        return ""
    start, end, _ = max(runs, key=lambda r: r[2])  # max keeps the first of equal lengths
    return description[start:end]


@lru_cache(maxsize=4096)  # (charges of many merchants fall on the same days)
def _step(months: int | None, start: date, k: int) -> date:
    """The k-th date of a schedule from ``start``: k weeks, or k times ``months`` months."""
    if months is None:
        return start + timedelta(weeks=k)
    return add_months(datetime.combine(start, time(), timezone.utc), months * k).date()


def _schedule(months: int | None, start: date, count: int):
    """The first ``count`` dates of a schedule from ``start`` (lazily: a check stops at
    the first date missed)."""
    return (_step(months, start, k) for k in range(count))


def cadence_of(days: Sequence[date]) -> str | None:
    """The cadence the charge days (sorted, distinct) follow, or None."""
    if len(days) < 2:
        return None
    gap = (days[1] - days[0]).days
    for name, (months, tolerance, fewest, _) in CADENCES.items():
        if len(days) < fewest:
            continue
        # the first gap rules most out before any month is counted: a step is 7 days,
        # or 28 to 31 days a month
        shortest, longest = (7, 7) if months is None else (28 * months, 31 * months)
        if not shortest - 2 * tolerance <= gap <= longest + 2 * tolerance:
            continue
        if all(abs((day - due).days) <= tolerance
               for day, due in zip(days, _schedule(months, days[0], len(days)))):
            return name
    return None


def _bands(charges: list[Charge]) -> list[list[Charge]]:
    """Charges of one merchant in bands of similar amounts (smallest first)."""
    bands: list[list[Charge]] = []
    limit = None
    # a band holds amounts from its smallest up: which band a charge joins depends on
    # its amount alone, so charges of one amount need no further order here
    for charge in sorted(charges, key=_amount):
        if limit is not None and charge.amount <= limit:
            bands[-1].append(charge)
        else:
            bands.append([charge])
            limit = charge.amount * (1 + SIMILAR)
    return bands


def discover(charges: Iterable[Charge]) -> list[Proposal]:
    """The proposals for ``charges`` (those that match no subscription), ordered by
    vendor, currency and first charge."""
    merchants: dict[tuple, list[Charge]] = {}
    # ASCII text with each word holding a digit written as "0" (a dropped word all the
    # same) gives the same merchant: the charges of one merchant share that shape,
    # whose key is worked out once. Before it, each digit written as "0" (in lower
    # case, by one byte table: far cheaper than the pattern) gives the same shape: the
    # same merchant again, looked up first
    shapes: dict[str, tuple[str, ...]] = {}
    digits: dict[bytes, tuple[str, ...]] = {}
    for charge in charges:
        text = charge.description
        if text.isascii():
            fine = text.encode().translate(_DIGITS_AS_ZERO)
            key = digits.get(fine)  # type: ignore[assignment]
            if key is None:
                shape = _NUMBERED.sub("0", text.lower())
                key = shapes.get(shape)
                if key is None:
                    key = shapes[shape] = merchant_key(shape)
                digits[fine] = key
        else:
            key = merchant_key(text)
        if key:
            merchants.setdefault((key, charge.currency), []).append(charge)
    proposals: list[Proposal] = []
    for (_, currency), found in merchants.items():
        if len(found) < 2:  # the cheap case first: one charge is never a cadence
            continue
        for band in _bands(found):
            if len(band) < 2:
                continue
            proposal = _proposal(band, currency)
            if proposal is not None:
                proposals.append(proposal)
    proposals.sort(key=lambda p: (fold(p.vendor), p.currency, p.first, p.charge_ids))
    return proposals


def _proposal(band: list[Charge], currency: str) -> Proposal | None:
    days = sorted({c.posted_on for c in band})
    cadence = cadence_of(days)
    if cadence is None:
        return None
    band = sorted(band, key=lambda c: (c.posted_on, natural_key(c.id)))
    months, _, _, plan = CADENCES[cadence]
    latest = band[-1]
    return Proposal(
        vendor=vendor_text(latest.description), amount=latest.amount, currency=currency,
        cadence=cadence, plan=plan, first=days[0], last=days[-1],
        next_expected=_step(months, days[0], len(days)),
        charge_ids=tuple(sorted((c.id for c in band), key=natural_key)))
