"""The refund decision: which clause of the policy decides a refund request, and why.

``decide_refund`` is a pure function of the subscription, its incidents, licenses and
events, the policy and ``now``. The same facts always give the same answer. The
caller passes the records of the subscription concerned.

Order of precedence (the first that holds decides):

1. a stated ground that the policy excludes: ``cancel.direct`` (chargebacks and
   disputes) or ``refund.exclusions``, whatever else holds;
2. a free trial that has billed nothing (``at`` inside it, or ended by it without a
   charge): ``cancel.trial``, nothing to refund; then a subscription already refunded,
   or expired: ``refund.billed-final``;
3. a purchase through a partner: ``cancel.partner`` (the answer names the portal);
4. by kind:
   - software (one-time sale): ``refund.software-final``, eligible only while no key
     has been issued;
   - support plan: ``refund.not-started`` (no incident ever opened: eligible), then
     ``refund.billed-final`` (the first incident was opened after the first billing
     period), then ``refund.initial-incident`` (void once any incident was resolved;
     not yet while the first incident is open; eligible once it is exhausted);
   - subscription: ``refund.money-back`` while the window of the plan type and region
     is open (day N included), else ``refund.billed-final``.

The amount is always the full price of the period concerned, never a part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from kscli.domain.calendar import UTC, add_business_days, whole_days, window_last_day
from kscli.domain.errors import BadValue
from kscli.domain.model import Event, Incident, License, PlanError, Subscription, parse_plan
from kscli.domain.money import MINOR_DIGITS, normalize
from kscli.domain.policy import Policy, normalize_ground
from kscli.domain.timeline import billed_price, ends_at, in_trial, period_at, trial_end

APPLIES = "applies"
DOES_NOT_APPLY = "does not apply"
DECIDES = "decides"

# Stable error codes of a refusal (the JSON `error` field).
NOT_ELIGIBLE = "refund-not-eligible"
ALREADY_REFUNDED = "already-refunded"
PARTNER_CHANNEL = "partner-channel"
EXCLUDED_GROUND = "excluded-ground"
INCIDENT_OPEN = "incident-open"
NOTHING_BILLED = "nothing-billed"

_GROUND_WORDS = {
    "chargeback": "a chargeback",
    "bank-dispute": "a bank dispute",
    "card-dispute": "a card dispute",
    "os-reinstall-declined": "a declined OS reinstall",
    "no-legal-copies": "missing legal copies of the software needed",
    "repair-disc-declined": "a refused repair disc",
    "data-loss": "data loss",
    "failed-backup": "a failed backup",
    "hardware-failure": "hardware that breaks",
}


@dataclass(frozen=True)
class Finding:
    """One clause evaluated: its outcome and a plain sentence saying why."""

    clause: str
    outcome: str  # "applies", "does not apply" or "decides"
    sentence: str

    def to_dict(self) -> dict[str, str]:
        return {"clause": self.clause, "outcome": self.outcome, "sentence": self.sentence}


@dataclass(frozen=True)
class RefundDecision:
    eligible: bool
    amount: Decimal | None
    currency: str
    clause: str
    reasons: tuple[Finding, ...]
    trace: tuple[Finding, ...]
    deadline: date | None
    deadline_text: str | None
    credit_from: date | None
    credit_by: date | None
    policy_version: str
    error: str | None
    partner_portal: str | None = None

    @property
    def message(self) -> str:
        """The deciding clause's sentence."""
        return next(f.sentence for f in self.trace if f.outcome == DECIDES)

    def to_dict(self) -> dict[str, Any]:
        return {
            "eligible": self.eligible,
            "amount": _amount_text(self.amount, self.currency),
            "currency": self.currency,
            "clause": self.clause,
            "message": self.message,
            "reasons": [f.to_dict() for f in self.reasons],
            "trace": [f.to_dict() for f in self.trace],
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "deadline_text": self.deadline_text,
            "credit_from": self.credit_from.isoformat() if self.credit_from else None,
            "credit_by": self.credit_by.isoformat() if self.credit_by else None,
            "policy_version": self.policy_version,
            "error": self.error,
            "partner_portal": self.partner_portal,
        }


def _amount_text(amount: Decimal | None, currency: str) -> str | None:
    if amount is None:
        return None
    if currency in MINOR_DIGITS:
        amount = normalize(amount, currency)
    return str(amount)


class _Decider:
    """Collects the trace of one decision and builds the RefundDecision at the end."""

    def __init__(self, sub: Subscription, now: datetime, policy: Policy) -> None:
        self.sub = sub
        self.now = now
        self.policy = policy
        self.findings: list[Finding] = []

    def note(self, clause: str, outcome: str, sentence: str) -> None:
        self.findings.append(Finding(clause, outcome, sentence))

    def refuse(self, clause: str, sentence: str, error: str = NOT_ELIGIBLE) -> RefundDecision:
        self.note(clause, DECIDES, sentence)
        return self._build(clause, eligible=False, error=error)

    def grant(
        self,
        clause: str,
        sentence: str,
        deadline: date | None = None,
        deadline_text: str | None = None,
    ) -> RefundDecision:
        self.note(clause, DECIDES, sentence)
        return self._build(clause, eligible=True, deadline=deadline, deadline_text=deadline_text)

    def _build(
        self,
        clause: str,
        *,
        eligible: bool,
        error: str | None = None,
        deadline: date | None = None,
        deadline_text: str | None = None,
    ) -> RefundDecision:
        credit_from = credit_by = None
        if eligible:
            processed = self.now.astimezone(UTC).date()
            low, high = self.policy.credit_days()
            holidays = self.policy.holidays()
            credit_from = add_business_days(processed, low, holidays)
            credit_by = add_business_days(processed, high, holidays)
            self.note(
                "refund.timing",
                APPLIES,
                f"if processed today ({processed}), the refund is typically credited between "
                f"{credit_from} and {credit_by} ({low} to {high} business days)",
            )
        findings = tuple(self.findings)
        return RefundDecision(
            eligible=eligible,
            amount=billed_price(self.sub) if eligible else None,  # what the period was billed
            currency=self.sub.currency,
            clause=clause,
            reasons=tuple(f for f in findings if f.outcome != DOES_NOT_APPLY),
            trace=findings,
            deadline=deadline,
            deadline_text=deadline_text,
            credit_from=credit_from,
            credit_by=credit_by,
            policy_version=self.policy.version,
            error=error,
            partner_portal=self.sub.partner_portal if clause == "cancel.partner" else None,
        )


def decide_refund(
    sub: Subscription,
    *,
    now: datetime,
    policy: Policy,
    incidents: Sequence[Incident] = (),
    licenses: Sequence[License] = (),
    events: Sequence[Event] = (),
    ground: str | None = None,
) -> RefundDecision:
    """Decide a refund request made at ``now`` under ``policy`` (see the module docstring)."""
    d = _Decider(sub, now, policy)

    # 1. An excluded ground refuses, whatever else holds.
    stated = normalize_ground(ground)
    excluded_by = policy.excluded_ground(stated)
    if excluded_by == "cancel.direct":
        return d.refuse(
            "cancel.direct",
            f"the stated ground ({stated}) is excluded: {_ground_words(stated)} is not a "
            "cancellation and is no ground for a refund; cancel with the provider instead",
            EXCLUDED_GROUND,
        )
    if stated:
        d.note("cancel.direct", DOES_NOT_APPLY, f"the stated ground ({stated}) is not a dispute")
    else:
        d.note("cancel.direct", DOES_NOT_APPLY, "no bank or card dispute was stated as the ground")
    if excluded_by == "refund.exclusions":
        return d.refuse(
            "refund.exclusions",
            f"the stated ground ({stated}) is excluded: "
            f"no refund is given for {_ground_words(stated)}",
            EXCLUDED_GROUND,
        )
    if stated:
        d.note("refund.exclusions", DOES_NOT_APPLY, f"the stated ground ({stated}) is not excluded")
    else:
        d.note("refund.exclusions", DOES_NOT_APPLY, "no excluded ground was stated")

    # 2. A free trial that billed nothing; already refunded, or expired.
    trial_over = trial_end(sub)
    if trial_over is not None:
        ended = sub.ended_at or sub.period_end
        if in_trial(sub, now) or (sub.status == "expired" and ended is not None
                                  and ended <= trial_over):
            return d.refuse(
                "cancel.trial",
                f"the free trial (until {_day(trial_over)}) has billed nothing: there is "
                "nothing to refund; cancelled before its end, it costs nothing",
                NOTHING_BILLED,
            )
        d.note("cancel.trial", DOES_NOT_APPLY,
               f"the free trial ended on {_day(trial_over)}: the paid periods started then")
    refunds = _refund_events(sub, events)
    if refunds:
        last = refunds[-1]
        return d.refuse(
            "refund.billed-final",
            f"this subscription was already refunded on {_day(last.at)} "
            f"(reference {last.reference}): a billed period is not refunded twice",
            ALREADY_REFUNDED,
        )
    if sub.status == "refunded":
        return d.refuse(
            "refund.billed-final",
            "this subscription was already refunded: a billed period is not refunded twice",
            ALREADY_REFUNDED,
        )
    if sub.status == "expired":
        ended = sub.ended_at or sub.period_end
        when = f" on {_day(ended)}" if ended else ""
        return d.refuse(
            "refund.billed-final",
            f"the subscription expired{when}: periods already billed are not refunded",
        )

    # 3. Bought through a partner.
    if sub.channel == "partner":
        where = sub.partner_portal or "the partner's portal (no portal address is recorded)"
        return d.refuse(
            "cancel.partner",
            f"bought through {sub.partner_name or 'a partner'}: refunds and cancellations "
            f"are handled in the partner's portal, {where}",
            PARTNER_CHANNEL,
        )
    d.note("cancel.partner", DOES_NOT_APPLY, "bought directly from the provider")

    # 4. By kind.
    if sub.kind == "software":
        return _decide_software(d, licenses)
    if sub.kind == "support":
        return _decide_support(d, incidents)
    return _decide_subscription(d)


def _decide_software(d: _Decider, licenses: Sequence[License]) -> RefundDecision:
    if licenses:
        ids = ", ".join(sorted(lic.id for lic in licenses))
        return d.refuse(
            "refund.software-final",
            f"a one-time software sale is final once its license key is issued: "
            f"{ids} was issued to the customer",
        )
    return d.grant(
        "refund.software-final",
        "no license key has been issued yet, so the sale is not final: full refund of the price",
    )


def _decide_support(d: _Decider, incidents: Sequence[Incident]) -> RefundDecision:
    sub = d.sub
    ordered = sorted(incidents, key=lambda inc: (inc.opened_at, inc.id))
    if not ordered:
        return d.grant(
            "refund.not-started",
            "no work has started on this support plan (no incident was ever opened): "
            "full refund of the period's price; the customer may then be refused further service",
        )
    first = ordered[0]
    d.note(
        "refund.not-started",
        DOES_NOT_APPLY,
        f"work has started: incident {first.id} was opened on {_day(first.opened_at)}",
    )

    first_period_end = _first_period_end(sub)
    if first_period_end is not None and first.opened_at >= first_period_end:
        d.note(
            "refund.initial-incident",
            DOES_NOT_APPLY,
            "the first-incident guarantee covers an incident of the first billing period only",
        )
        return d.refuse(
            "refund.billed-final",
            f"the first incident ({first.id}) was opened on {_day(first.opened_at)}, after the "
            f"first billing period ended on {_day(first_period_end)}: a failure to resolve "
            "issues outside the first billing period is no ground for a refund",
        )
    d.note(
        "refund.billed-final",
        DOES_NOT_APPLY,
        f"the first incident ({first.id}) was opened in the first billing period",
    )

    resolved = [inc for inc in ordered if inc.state == "resolved"]
    if resolved:
        on = f" on {_day(resolved[0].closed_at)}" if resolved[0].closed_at else ""
        return d.refuse(
            "refund.initial-incident",
            f"incident {resolved[0].id} was resolved{on}: the first-incident guarantee is "
            "void once any incident has been resolved",
        )
    if first.state == "exhausted":
        on = f" on {_day(first.closed_at)}" if first.closed_at else ""
        return d.grant(
            "refund.initial-incident",
            f"the first incident ({first.id}) stayed unresolved after every option was tried "
            f"(marked exhausted{on}): full refund of the period's price under the "
            "first-incident guarantee",
        )
    return d.refuse(
        "refund.initial-incident",
        f"the first incident ({first.id}) is still open: support must be allowed to try every "
        "option first, and the customer cannot stop support early to claim the guarantee; "
        "it applies once the incident is marked exhausted",
        INCIDENT_OPEN,
    )


def _first_period_end(sub: Subscription) -> datetime | None:
    return period_at(sub, sub.started_at)[1]


def _decide_subscription(d: _Decider) -> RefundDecision:
    sub, now = d.sub, d.now
    days = d.policy.money_back_days(sub.plan, sub.region)
    day = whole_days(sub.period_start, now)
    inside = days is not None and day <= days

    if sub.commitment_end is not None and sub.commitment_end > now:
        until = _day(sub.commitment_end)
        if inside:
            d.note(
                "cancel.commitment",
                APPLIES,
                f"the commitment until {until} does not block a money-back refund: "
                "a refund ends the commitment",
            )
        else:
            d.note(
                "cancel.commitment",
                APPLIES,
                f"the plan is committed until {until}: payments continue until then",
            )
    else:
        d.note("cancel.commitment", DOES_NOT_APPLY, "no commitment term is running")

    cancelled = sub.status == "cancelled"
    if cancelled or not sub.auto_renew:
        what = "cancelled" if cancelled else "auto-renew is off"
        since = f" on {_day(sub.cancelled_at)}" if cancelled and sub.cancelled_at else ""
        end = ends_at(sub)  # inside a commitment: its end, not the current period's
        until = f" until {_day(end)}" if end else ""
        if inside:
            sentence = f"{what}{since}, service continues{until}: this did not use up the window"
        else:
            sentence = f"{what}{since}: service continues{until} and future billing stops"
        d.note("cancel.end-of-term", APPLIES, sentence)
    else:
        d.note("cancel.end-of-term", DOES_NOT_APPLY, "the subscription has not been cancelled")

    plans = _plan_words(sub.plan)
    if days is None:
        d.note(
            "refund.money-back", DOES_NOT_APPLY, f"{plans} have no money-back window{_region(sub)}"
        )
        d.note("refund.no-proration", APPLIES, "no partial refunds for unused time")
        d.note(
            "cancel.anytime",
            APPLIES,
            "the subscription can be cancelled at any time, but cancelling is never a refund",
        )
        return d.refuse(
            "refund.billed-final",
            f"{plans} have no money-back window: cancelling is never a refund, "
            "and periods already billed are not refunded",
        )

    last_day = window_last_day(sub.period_start, days)
    start = _day(sub.period_start)
    if inside:
        d.note(
            "refund.no-proration",
            APPLIES,
            "the refund is the full price of the period, never a part",
        )
        left = (last_day - now.astimezone(UTC).date()).days
        when = "today" if left == 0 else f"in {left} day{'s' if left != 1 else ''}"
        return d.grant(
            "refund.money-back",
            f"day {day} of the {days}-day money-back window of {plans}{_region(sub)} "
            f"(the period started on {start}): full refund of the period's price",
            deadline=last_day,
            deadline_text=f"money-back window closes {last_day}, {when}",
        )
    d.note(
        "refund.money-back",
        DOES_NOT_APPLY,
        f"the {days}-day money-back window of the period that started on {start} "
        f"closed on {last_day} (today is day {day})",
    )
    d.note("refund.no-proration", APPLIES, "no partial refunds for unused time")
    return d.refuse(
        "refund.billed-final",
        f"the money-back window closed on {last_day} (today is day {day} of the period): "
        "periods already billed are not refunded",
    )


def discretion_reason(reason: str | None) -> str:
    """The reason of a refund at the provider's discretion, which it needs: the one place
    of that rule (the CLI asks it before any prompt, the override again)."""
    why = (reason or "").strip()
    if not why:
        raise BadValue("a refund at the provider's discretion needs a reason",
                       code="discretion-needs-reason", clause="refund.discretion",
                       hint="add --reason TEXT: a manual override is recorded with its reason")
    return why


def discretion_override(
    sub: Subscription, *, now: datetime, policy: Policy, reason: str
) -> RefundDecision:
    """A refund granted at the provider's discretion (refund.discretion); needs a reason."""
    why = discretion_reason(reason)
    return _Decider(sub, now, policy).grant(
        "refund.discretion", f"refunded at the provider's discretion: {why}"
    )


def _refund_events(sub: Subscription, events: Sequence[Event]) -> list[Event]:
    """Refunds recorded for the current period (or any, once the status says refunded)."""
    refunds = sorted(
        (e for e in events if e.action == "refunded"), key=lambda e: (e.at, e.reference)
    )
    if sub.status == "refunded":
        return refunds
    return [e for e in refunds if e.at >= sub.period_start]


def _ground_words(ground: str) -> str:
    return _GROUND_WORDS.get(ground, f"'{ground}'")


def _plan_words(plan: str) -> str:
    """``annual plans``, ``monthly plans``, ``24m plans`` (``12m`` reads as annual)."""
    try:
        return f"{parse_plan(plan)} plans"
    except PlanError:
        return f"{plan} plans"


def _region(sub: Subscription) -> str:
    return f" in region {sub.region}" if sub.region else ""


def _day(when: datetime) -> str:
    return when.astimezone(UTC).date().isoformat()
