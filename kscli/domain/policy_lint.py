"""Reading and checking a policy: ``parse_policy`` and the linter ``lint_policy``.

The model a policy becomes, and the rules of the money-back table, are in
``kscli.domain.policy``; the parameters each clause may carry are ``_PARAMS``.

``lint_policy`` reports problems of two severities. Errors make ``parse_policy``
refuse the policy: TOML syntax (with its line), a missing or unknown clause or key, a
wrong type, a negative or out-of-range number, an uncovered plan type in a region
table, ``min_business_days`` above ``max_business_days``. Warnings are rules that can
never change an answer, which a policy author most likely did not mean: a region
table identical to the default table, a 0-day entry that only repeats "no window", a
money-back table where no plan has a window, a ground listed twice or in both ground
lists (``cancel.direct`` is judged first, so the ``refund.exclusions`` entry is
unreachable), a holiday on a weekend.

Pure: this module parses text or an already-parsed mapping; it reads no file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from kscli.domain.errors import printable
from kscli.domain.policy_charges import check_price_changed
from kscli.domain.policy_limits import check_version, limits_broken
from kscli.domain.policy import (CLAUSE_IDS, ERROR, LATER_CLAUSES, WARNING, Clause, Policy,
                                 PolicyError, Problem, normalize_ground, plan_key)

MAX_DAYS = 3650
MAX_BUSINESS_DAYS = 365
MAX_YEARS = 100

# Parameters each clause may carry: name -> required?
_PARAMS: dict[str, dict[str, bool]] = {
    "charges.price-changed": {"tolerance_percent": False},
    "cancel.direct": {"grounds": True},
    "refund.exclusions": {"grounds": True, "other_grounds": False},
    "refund.money-back": {"days": True, "regions": False},
    "refund.timing": {"min_business_days": True, "max_business_days": True, "holidays": False},
    "license.activation-window": {"years": True},
}

_TOML_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")



def parse_policy(text: str | Mapping[str, Any], source: str = "<built-in>") -> Policy:
    """Read a policy from TOML text (or an already-parsed mapping).

    Raises PolicyError naming the first error that ``lint_policy`` would report.
    Warnings do not stop a policy from being used.
    """
    problems, version, clauses = _check(text)
    errors = [p for p in problems if p.severity == ERROR]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PolicyError(f"{errors[0]}{more}", tuple(problems))
    assert version is not None
    return Policy(version=version, clauses=clauses, source=source)


def lint_policy(text: str | Mapping[str, Any]) -> list[Problem]:
    """Every problem of a policy, errors and warnings, in the order of the file."""
    return _check(text)[0]


# -- checking ---------------------------------------------------------------------------


class _Checker:
    def __init__(self, text: str | None) -> None:
        self.text = text
        self.problems: list[Problem] = []

    def error(
        self, clause: str | None, message: str, *, key: str | None = None, line: int | None = None
    ) -> None:
        self.problems.append(Problem(clause and printable(clause), printable(message), ERROR,
                                     line or self.line_of(clause, key)))

    def warn(self, clause: str | None, message: str, *, key: str | None = None) -> None:
        self.problems.append(Problem(clause and printable(clause), printable(message), WARNING,
                                     self.line_of(clause, key)))

    def line_of(self, clause: str | None, key: str | None) -> int | None:
        """Best effort: the line of a clause's header, or of a key after it."""
        if self.text is None or (clause is None and key is None):
            return None
        lines = [("" if line.lstrip().startswith("#") else line) for line in self.text.splitlines()]
        start = 0
        if clause is not None:
            headers = (
                i
                for i, line in enumerate(lines)
                if line.lstrip().startswith("[") and clause in line
            )
            found = next(headers, None)
            if found is None:
                found = next((i for i, line in enumerate(lines) if clause in line), None)
            if found is None:
                return None
            start = found
        if key is not None:
            # `key = ...` at the start of a line, or inside an inline table `{ key = ... }`
            pattern = re.compile(
                rf"^\s*\[?[\"']?{re.escape(key)}\b|[{{,]\s*[\"']?{re.escape(key)}[\"']?\s*="
            )
            for i in range(start, len(lines)):
                if pattern.search(lines[i]) or (
                    i > start and f".{key}" in lines[i] and "[" in lines[i]
                ):
                    return i + 1
        return start + 1


def _check(source: str | Mapping[str, Any]) -> tuple[list[Problem], str | None, dict[str, Clause]]:
    if isinstance(source, str):
        import tomllib  # (a policy file's text; the built-in one is read from JSON)

        check = _Checker(source)
        try:
            data: Any = tomllib.loads(source)
        except tomllib.TOMLDecodeError as exc:
            return [_syntax_problem(source, str(exc))], None, {}
        except RecursionError:
            return [Problem(None, "TOML syntax error: values nested too deeply")], None, {}
    elif isinstance(source, Mapping):
        check = _Checker(None)
        data = source
    else:
        return [Problem(None, f"a policy is TOML text, not {type(source).__name__}")], None, {}

    version = check_version(check, data.get("version"))
    for clause_id, message, key in (broken := list(limits_broken(data))):
        check.error(clause_id, message, key=key)
    if broken:  # a policy too large is refused before its slow part
        return check.problems, version, {}
    for key in data:
        if key not in ("version", "clause"):
            check.error(
                None,
                f"unknown top-level key '{key}': a policy holds only 'version' and "
                '[clause."<id>"] tables',
                key=str(key),
            )

    clauses: dict[str, Clause] = {}
    raw_clauses = data.get("clause")
    if raw_clauses is None:
        check.error(None, 'no clauses: write each one as a [clause."<id>"] table')
        return check.problems, version, clauses
    if not isinstance(raw_clauses, Mapping):
        check.error(None, "'clause' must be a table of [clause.\"<id>\"] tables", key="clause")
        return check.problems, version, clauses

    for clause_id, body in raw_clauses.items():
        if clause_id not in CLAUSE_IDS:
            check.error(str(clause_id), _unknown_clause_message(str(clause_id), body))
            continue
        parsed = _check_clause(check, clause_id, body)
        if parsed is not None:
            clauses[clause_id] = parsed
    for clause_id in CLAUSE_IDS:
        if clause_id not in raw_clauses and clause_id in LATER_CLAUSES:
            check.warn(clause_id, f'missing clause: the built-in one applies until a '
                       f'[clause."{clause_id}"] table is added')
        elif clause_id not in raw_clauses:
            check.error(clause_id, f'missing clause: add a [clause."{clause_id}"] table')

    _check_across(check, clauses)
    _check_text_numbers(check, clauses)
    ordered = {cid: clauses[cid] for cid in CLAUSE_IDS if cid in clauses}
    return check.problems, version, ordered


def _syntax_problem(text: str, message: str) -> Problem:
    match = _TOML_LINE.search(message)
    if match:
        line = int(match.group(1))
        what = message[: match.start()].strip()
        return Problem(None, f"TOML syntax error: {what} (column {match.group(2)})", ERROR, line)
    line = max(1, len(text.splitlines()))
    what = re.sub(r"\s*\(at end of document\)", "", message).strip()
    return Problem(None, f"TOML syntax error: {what} (at the end of the document)", ERROR, line)


def _unknown_clause_message(clause_id: str, body: Any) -> str:
    if isinstance(body, Mapping):
        dotted = [f"{clause_id}.{sub}" for sub in body if f"{clause_id}.{sub}" in CLAUSE_IDS]
        if dotted:
            return (
                f"unknown clause '{clause_id}': put the id in quotes, "
                f'[clause."{dotted[0]}"], or TOML reads its dot as a sub-table'
            )
    import difflib  # (only an unknown clause needs it)

    close = difflib.get_close_matches(clause_id, CLAUSE_IDS, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return (
        f"unknown clause '{clause_id}'{hint}: a policy holds only the clauses of the default policy"
    )


def _check_clause(check: _Checker, clause_id: str, body: Any) -> Clause | None:
    if not isinstance(body, Mapping):
        check.error(clause_id, "must be a table with a title and a text")
        return None
    ok = True
    strings: dict[str, str] = {}
    for key in ("title", "text"):
        value = body.get(key)
        if value is None:
            check.error(clause_id, f"missing '{key}': every clause has a title and a text")
            ok = False
        elif not isinstance(value, str):
            check.error(
                clause_id, f"'{key}' must be text in quotes, not {_type_name(value)}", key=key
            )
            ok = False
        elif not value.strip():
            check.error(clause_id, f"'{key}' is empty", key=key)
            ok = False
        else:
            strings[key] = value.strip()

    allowed = _PARAMS.get(clause_id, {})
    for key in body:
        if key in ("title", "text") or key in allowed:
            continue
        known = ", ".join(sorted(allowed)) or "none"
        check.error(
            clause_id,
            f"unknown key '{key}' (this clause takes: title, text; parameters: {known})",
            key=str(key),
        )
        ok = False
    for key, required in allowed.items():
        if required and key not in body:
            check.error(clause_id, f"missing parameter '{key}'")
            ok = False

    params: dict[str, Any] = {}
    checker = _PARAM_CHECKS.get(clause_id)
    if checker is not None:
        got = checker(check, clause_id, body)
        if got is None:
            ok = False
        else:
            params = got
    if not ok:
        return None
    return Clause(clause_id, strings["title"], strings["text"], params)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, datetime):
        return "a date and time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _whole_number(
    check: _Checker, clause_id: str, key: str, value: Any, low: int, high: int, what: str
) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        check.error(
            clause_id, f"'{key}' must be a whole number of {what}, not {_type_name(value)}", key=key
        )
        return None
    if value < 0:
        check.error(clause_id, f"'{key}' is negative ({value}): {what} are 0 or more", key=key)
        return None
    if value < low or value > high:
        check.error(
            clause_id, f"'{key}' is {value}: it must be between {low} and {high} {what}", key=key
        )
        return None
    return value


def _grounds(check: _Checker, clause_id: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
    params: dict[str, Any] = {}
    for key in ("grounds", "other_grounds"):
        if key not in _PARAMS.get(clause_id, {}):
            continue
        listed = _ground_list(check, clause_id, body, key)
        if listed is None and key == "grounds":
            return None
        if listed is not None:
            params[key] = listed
    for ground in params.get("other_grounds", ()):
        if ground in params["grounds"]:
            check.warn(clause_id, f"ground '{ground}' is in both grounds and other_grounds: "
                       "it is excluded", key="other_grounds")
    return params


def _ground_list(check: _Checker, clause_id: str, body: Mapping[str, Any],
                 key: str) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        check.error(
            clause_id,
            f"'{key}' must be a list of texts, like [\"chargeback\"], not {_type_name(value)}",
            key=key,
        )
        return None
    grounds: list[str] = []
    for item in value:
        if not isinstance(item, str) or not normalize_ground(item):
            what = "empty text" if isinstance(item, str) else _type_name(item)
            check.error(
                clause_id, f"every ground must be non-empty text, not {what}", key=key
            )
            return None
        ground = normalize_ground(item)
        if ground in grounds:
            check.warn(clause_id, f"ground '{ground}' is listed twice", key=key)
            continue
        grounds.append(ground)
    return grounds


def _days_table(
    check: _Checker, clause_id: str, name: str, table: Any, key: str
) -> dict[str, int] | None:
    if not isinstance(table, Mapping):
        check.error(
            clause_id,
            f"{name} must be a table of plan type = days, like annual = 60, not "
            f"{_type_name(table)}",
            key=key,
        )
        return None
    days: dict[str, int] = {}
    ok = True
    for plan, value in table.items():
        plan_type = plan_key(plan)
        if plan_type is None:
            check.error(
                clause_id,
                f"{name}: '{plan}' is not a plan type: use annual, monthly, or a number of "
                "months like 24m",
                key=str(plan),
            )
            ok = False
            continue
        if plan_type in days:
            check.error(
                clause_id,
                f"{name}: '{plan}' is the same plan type as '{plan_type}', listed twice",
                key=str(plan),
            )
            ok = False
            continue
        number = _whole_number(check, clause_id, str(plan), value, 0, MAX_DAYS, "days")
        if number is None:
            ok = False
            continue
        days[plan_type] = number
    return days if ok else None


def _money_back(check: _Checker, clause_id: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
    if "days" not in body:
        return None
    default = _days_table(check, clause_id, "days", body["days"], "days")
    regions_raw = body.get("regions", {})
    if not isinstance(regions_raw, Mapping):
        check.error(
            clause_id,
            "'regions' must hold one table per region, like "
            f'[clause."{clause_id}".regions.EU], not {_type_name(regions_raw)}',
            key="regions",
        )
        return None
    regions: dict[str, dict[str, int]] = {}
    seen: dict[str, str] = {}
    ok = default is not None
    for region, table in regions_raw.items():
        name = f"region {region}"
        if not str(region).strip():
            check.error(clause_id, "a region needs a name", key="regions")
            ok = False
            continue
        folded = str(region).strip().casefold()
        if folded in seen:
            check.error(
                clause_id,
                f"region '{region}' is listed twice (as '{seen[folded]}' too; case does not count)",
                key=str(region),
            )
            ok = False
            continue
        seen[folded] = str(region)
        parsed = _days_table(check, clause_id, name, table, str(region))
        if parsed is None:
            ok = False
            continue
        regions[str(region)] = parsed
        if default is None:
            continue
        missing = [plan for plan in _windows(default) if plan not in parsed]
        if missing:
            check.error(
                clause_id,
                f"region {region} leaves {', '.join(missing)} uncovered: a region table replaces "
                "the default table, so list every plan type that has a window there "
                "(0 for no window)",
                key=str(region),
            )
            ok = False
        elif _windows(parsed) == _windows(default):
            check.warn(
                clause_id,
                f"region {region} repeats the default table: it can never change an answer",
                key=str(region),
            )
        else:
            for plan, days in parsed.items():
                if days == 0 and plan not in default:
                    check.warn(
                        clause_id,
                        f"region {region}: {plan} = 0 repeats that {plan} plans have no window",
                        key=plan,
                    )
    if default is not None:
        for plan, days in default.items():
            if days == 0:
                check.warn(
                    clause_id,
                    f"days: {plan} = 0 gives no window, the same as leaving it out: "
                    "it never applies",
                    key=plan,
                )
        if not _windows(default) and not any(_windows(t) for t in regions.values()):
            check.warn(clause_id, "no plan type has a money-back window: this clause never applies")
    if not ok:
        return None
    result: dict[str, Any] = {"days": default}
    if regions:
        result["regions"] = regions
    return result


def _windows(table: Mapping[str, int]) -> dict[str, int]:
    """The plan types that do have a window (0 days means none)."""
    return {plan: days for plan, days in table.items() if days}


def _timing(check: _Checker, clause_id: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
    if "min_business_days" not in body or "max_business_days" not in body:
        return None
    low, high = (
        _whole_number(check, clause_id, key, body[key], 0, MAX_BUSINESS_DAYS, "business days")
        for key in ("min_business_days", "max_business_days")
    )
    if low is None or high is None:
        return None
    if low > high:
        check.error(
            clause_id,
            f"min_business_days ({low}) is more than max_business_days ({high})",
            key="min_business_days",
        )
        return None
    raw = body.get("holidays", [])
    if not isinstance(raw, list):
        check.error(
            clause_id,
            f"'holidays' must be a list of dates, like [2026-12-25], not {_type_name(raw)}",
            key="holidays",
        )
        return None
    holidays: set[date] = set()
    for item in raw:
        day = _as_date(item)
        if day is None:
            check.error(
                clause_id, f"holiday {item!r} is not a date: write it as 2026-12-25", key="holidays"
            )
            return None
        if day.weekday() >= 5:
            check.warn(
                clause_id,
                f"holiday {day.isoformat()} is on a weekend: it changes nothing",
                key="holidays",
            )
        holidays.add(day)
    return {
        "min_business_days": low,
        "max_business_days": high,
        "holidays": [day.isoformat() for day in sorted(holidays)],
    }


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _activation(check: _Checker, clause_id: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
    if "years" not in body:
        return None
    years = _whole_number(check, clause_id, "years", body["years"], 1, MAX_YEARS, "years")
    return None if years is None else {"years": years}


_PARAM_CHECKS = {
    "charges.price-changed": check_price_changed,
    "cancel.direct": _grounds,
    "refund.exclusions": _grounds,
    "refund.money-back": _money_back,
    "refund.timing": _timing,
    "license.activation-window": _activation,
}


_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_TEXT_NUMBER = re.compile(
    r"(?<![\w.-])(\d+)(?![\w.-])|\b(" + "|".join(_NUMBER_WORDS)
    + r")\s+(?:business\s+|calendar\s+)?(?:days?|weeks?|months?|years?)\b", re.IGNORECASE)


def _numbers(value: Any) -> set[int]:
    """Every whole number among a clause's parameters, nested tables included."""
    if isinstance(value, bool):
        return set()
    if isinstance(value, int):
        return {value}
    if isinstance(value, Mapping):
        return set().union(*(_numbers(v) for v in value.values())) if value else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(_numbers(v) for v in value)) if value else set()
    return set()


def text_numbers(text: str) -> list[int]:
    """The numbers a clause's text states: digits, and number words before a unit of
    time ("one year"), in order."""
    return [int(m.group(1)) if m.group(1) else _NUMBER_WORDS[m.group(2).lower()]
            for m in _TEXT_NUMBER.finditer(text)]


def _check_text_numbers(check: _Checker, clauses: Mapping[str, Clause]) -> None:
    """A number in a clause's text that none of its parameters holds: the text tells
    customers one thing while kscli applies another (``annual = 14`` under a text that
    still says 60 days)."""
    for clause_id, clause in clauses.items():
        held = _numbers(clause.params)
        if not held:
            continue
        for number in dict.fromkeys(text_numbers(clause.text)):
            if number not in held:
                shown = ", ".join(str(n) for n in sorted(held))
                check.warn(clause_id, f"the text says {number}, but the parameters say {shown}: "
                           "make the text say what the parameters do", key="text")


def _check_across(check: _Checker, clauses: Mapping[str, Clause]) -> None:
    direct = clauses.get("cancel.direct")
    excluded = clauses.get("refund.exclusions")
    if direct is None or excluded is None:
        return
    for ground in excluded.params["grounds"]:
        if ground in direct.params["grounds"]:
            check.warn(
                "refund.exclusions",
                f"ground '{ground}' is also listed by cancel.direct, which is judged first: "
                "this entry is unreachable",
                key="grounds",
            )
