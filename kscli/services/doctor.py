"""Checks for `kscli doctor`: each a (check, result, detail) line."""

from __future__ import annotations

import os
import stat
from typing import Any, Callable

from kscli.domain.errors import KscliError

# Other parts of kscli add checks here: each returns a list of result dicts.
EXTRA_CHECKS: list[Callable[[Any], list[dict[str, str]]]] = []


def line(check: str, result: str, detail: str) -> dict[str, str]:
    return {"check": check, "result": result, "detail": detail}


def _mode_check(name: str, path: str, want_private: bool = True) -> dict[str, str] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        return line(name, "FAIL", f"{path} is writable by others (mode {mode:o}): chmod go-w {path}")
    if want_private and mode & 0o077:
        return line(name, "WARN", f"{path} is readable by others (mode {mode:o}): chmod 600 {path}")
    return line(name, "ok", f"{path} mode {mode:o}")


def run_checks(app) -> list[dict[str, str]]:
    results: list[dict[str, str]] = []
    try:
        store = app.store
        results.append(line("store", "ok", f"{store.kind} ledger at {store.location}"))
        for name, passed, detail in store.checks():
            results.append(line(name, "ok" if passed else "FAIL", detail))
        path = getattr(store, "path", None)
        if path and os.path.exists(path):
            for check in (_mode_check("ledger file", path),
                          _mode_check("ledger folder", os.path.dirname(os.path.abspath(path)), False)):
                if check:
                    results.append(check)
    except KscliError as exc:
        results.append(line("store", "FAIL", exc.message))
    try:
        policy = app.policy
        results.append(line("policy", "ok", f"version {policy.version} from {policy.source}"))
        if app.policy_path:
            check = _mode_check("policy file", app.policy_path, want_private=False)
            if check:
                results.append(check)
    except KscliError as exc:
        results.append(line("policy", "FAIL", exc.message))
    except Exception as exc:  # a policy that cannot be read is a failed check, not a crash
        results.append(line("policy", "FAIL", str(exc)))
    for extra in EXTRA_CHECKS:
        results.extend(extra(app))
    return results
