"""The sizes a policy file must keep.

Every command that loads a policy reads it whole, and the policy's version goes into
every event that cites it: a policy of 100,000 regions or a version of 50 MB would slow
every command and grow every ledger. `policy check` reports each limit a file breaks,
and a policy that breaks one is refused like any other invalid policy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any

MAX_VERSION = 64  # characters of 'version' (a date, a release name)
MAX_REGIONS = 1_000  # region tables in one clause
MAX_HOLIDAYS = 10_000  # dates in one clause's holidays (decades of public holidays)
MAX_POLICY_BYTES = 1_000_000  # a policy file (the built-in one is about 10 KB)


def check_version(check: Any, version: Any) -> str | None:
    """The policy's version (text of at most MAX_VERSION characters, or a TOML date), or
    None after telling ``check`` (policy_lint's checker) what is wrong."""
    if version is None:
        check.error(None, "missing 'version': add a line like version = \"2026-11-01\" at the top")
        return None
    if isinstance(version, date) and not isinstance(version, datetime):
        return version.isoformat()
    if not isinstance(version, str) or not version.strip():
        check.error(None, "'version' must be text, like version = \"2026-11-01\"", key="version")
        return None
    if len(version.strip()) > MAX_VERSION:  # it goes into every event that cites the policy
        check.error(None, f"'version' is {len(version.strip()):,} characters: at most "
                          f"{MAX_VERSION}, like version = \"2026-11-01\"", key="version")
        return None
    return version.strip()


def limits_broken(data: Mapping[str, Any]) -> Iterator[tuple[str | None, str, str]]:
    """(clause id, what is wrong, the key at fault) for each count limit ``data`` (a
    parsed policy file) breaks."""
    clauses = data.get("clause")
    if not isinstance(clauses, Mapping):
        return
    for clause_id, body in clauses.items():
        if not isinstance(body, Mapping):
            continue
        regions, holidays = body.get("regions"), body.get("holidays")
        if isinstance(regions, Mapping) and len(regions) > MAX_REGIONS:
            yield str(clause_id), (f"{len(regions):,} regions: a clause holds at most "
                                   f"{MAX_REGIONS:,}"), "regions"
        if isinstance(holidays, list) and len(holidays) > MAX_HOLIDAYS:
            yield str(clause_id), (f"{len(holidays):,} holidays: a clause holds at most "
                                   f"{MAX_HOLIDAYS:,}"), "holidays"
