"""The cancellation and refund policy as data: the model and its lookups.

A policy is a TOML document (the built-in default is ``kscli/default_policy.toml``)::

    version = "2026-11-01"

    [clause."refund.money-back"]
    title = "Money-back guarantee"
    text = "An annual plan is fully refunded ..."

    [clause."refund.money-back".days]
    annual = 60

    [clause."refund.money-back".regions.EU]
    annual = 60
    monthly = 14

It must hold exactly the clauses of ``CLAUSE_IDS``, each with a ``title`` and a
``text`` (one of ``LATER_CLAUSES`` may be missing: the built-in one applies). Reading and checking a policy (``parse_policy``, ``lint_policy``, the rules a
policy must follow) is in ``kscli.domain.policy_lint``; this module is what a parsed
policy is and answers.

Rules of the money-back table:

- keys are plan types: ``annual``, ``monthly`` or ``Nm`` (N months, 1 to 99); ``12m``
  is ``annual`` and ``1m`` is ``monthly``, so writing both is an error;
- a value is a whole number of days, 0 to 3650; day N is included (the window ends
  at 00:00 UTC of day N + 1). A plan type that is not listed, or is set to 0, has no
  money-back window;
- a region table *replaces* the default table for subscriptions of that region
  (matched without regard to case). It must therefore list every plan type that has a
  window in the default table (an error otherwise: the plan type would be
  "uncovered"; 0 removes the window in that region); it may add plan types of its own.

Pure: no file is read here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from kscli.domain.errors import BadValue, printable
from kscli.domain.model import PlanError, parse_plan, plan_months


CLAUSE_IDS: tuple[str, ...] = (
    "cancel.anytime",
    "cancel.commitment",
    "cancel.end-of-term",
    "cancel.partner",
    "cancel.direct",
    "cancel.notice",
    "cancel.trial",
    "refund.money-back",
    "refund.not-started",
    "refund.initial-incident",
    "refund.no-proration",
    "refund.billed-final",
    "refund.software-final",
    "refund.exclusions",
    "refund.discretion",
    "refund.timing",
    "license.activation-window",
    "charges.price-changed",
)

# Clauses added after policy files were first written: a file without one is still
# read (a warning says so), and kscli applies the built-in clause in its place.
LATER_CLAUSES: tuple[str, ...] = ("cancel.notice", "cancel.trial")

ERROR = "error"
WARNING = "warning"

class PolicyError(ValueError):
    """A policy that cannot be used; the message names the problem in one line."""

    def __init__(self, message: str, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems


@dataclass(frozen=True)
class Problem:
    """One finding of ``policy_lint.lint_policy``."""

    clause: str | None
    message: str
    severity: str = ERROR  # "error" or "warning"
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        what = f"{self.clause}: " if self.clause else ""
        return f"{where}{what}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "clause": self.clause,
            "line": self.line,
            "message": self.message,
        }


@dataclass(frozen=True)
class Clause:
    id: str
    title: str
    text: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "text": self.text, "params": copy_params(self.params)}


@dataclass(frozen=True)
class Policy:
    version: str
    clauses: dict[str, Clause]
    source: str = "<built-in>"

    def clause(self, clause_id: str) -> Clause:
        try:
            return self.clauses[clause_id]
        except KeyError:
            raise KeyError(f"the policy has no clause '{clause_id}'") from None

    def money_back_days(self, plan: str, region: str | None = None) -> int | None:
        """Days of the money-back window for a plan type in a region, or None for no window.

        ``plan`` is ``annual``, ``monthly`` or ``Nm`` (``12m`` is ``annual``). A region
        with its own table uses that table only; any other region uses the default table.
        """
        key = plan_key(plan)
        if key is None:
            return None
        params = self.clause("refund.money-back").params
        table: Mapping[str, int] = params.get("days", {})
        if region:
            wanted = region.strip().casefold()
            for name, regional in params.get("regions", {}).items():
                if name.casefold() == wanted:
                    table = regional
                    break
        days = table.get(key)
        return days if days else None

    def excluded_ground(self, ground: str | None) -> str | None:
        """The id of the clause that excludes a stated ground, or None if none does.

        ``cancel.direct`` (disputes) is judged before ``refund.exclusions``.
        """
        wanted = normalize_ground(ground)
        if not wanted:
            return None
        for clause_id in ("cancel.direct", "refund.exclusions"):
            if wanted in self.clause(clause_id).params.get("grounds", ()):
                return clause_id
        return None

    def known_grounds(self) -> list[str]:
        """Every ground the policy names: those ``cancel.direct`` and
        ``refund.exclusions`` judge, then the ``other_grounds`` no clause excludes."""
        known: list[str] = []
        for clause_id, key in (("cancel.direct", "grounds"), ("refund.exclusions", "grounds"),
                               ("refund.exclusions", "other_grounds")):
            for ground in self.clause(clause_id).params.get(key, ()):
                if ground not in known:
                    known.append(ground)
        return known

    def require_known_ground(self, ground: str | None) -> str | None:
        """A stated ground the policy knows (normalized), or None when none is stated;
        an unknown one (a typo would silently count as "no exclusion") is a BadValue
        naming the known grounds, with the closest."""
        wanted = normalize_ground(ground)
        if not wanted:
            return None
        known = self.known_grounds()
        if wanted in known:
            return wanted
        import difflib  # (only a misspelt name needs it)

        close = difflib.get_close_matches(wanted, known, n=1)
        raise BadValue(
            f"unknown ground '{printable(wanted[:60])}'"
            + (f" (did you mean '{close[0]}'?)" if close else "")
            + f"; the policy knows: {', '.join(known)}",
            code="unknown-ground",
            hint="a ground the policy does not list is added to refund.exclusions other_grounds "
                 "(or grounds) of a policy file",
        )

    def price_tolerance(self) -> Decimal:
        """Percent a charge may differ from the price in force (charges.price-changed)."""
        from kscli.domain.policy_charges import CLAUSE, tolerance

        clause = self.clauses.get(CLAUSE)
        return (tolerance(clause.params.get("tolerance_percent", 0)) if clause else None) \
            or Decimal(0)

    def credit_days(self) -> tuple[int, int]:
        params = self.clause("refund.timing").params
        return params["min_business_days"], params["max_business_days"]

    def holidays(self) -> frozenset[date]:
        days = self.clause("refund.timing").params.get("holidays", ())
        return frozenset(date.fromisoformat(day) for day in days)

    def activation_years(self) -> int:
        return self.clause("license.activation-window").params["years"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "source": self.source,
            "clauses": [self.clauses[cid].to_dict() for cid in CLAUSE_IDS if cid in self.clauses],
        }


def normalize_ground(ground: str | None) -> str:
    """``Hardware failure`` and ``hardware_failure`` both read as ``hardware-failure``."""
    if not ground:
        return ""
    return re.sub(r"[\s_]+", "-", ground.strip().lower())


def plan_key(plan: Any) -> str | None:
    """``annual``, ``monthly`` or ``Nm``; None for anything that is not a billing plan."""
    if not isinstance(plan, str):
        return None
    try:
        key = parse_plan(plan)
        if plan_months(key) is None:
            return None
    except PlanError:
        return None
    return key


def copy_params(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): copy_params(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [copy_params(v) for v in value]
    return value
