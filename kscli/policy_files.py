"""Reading policy files: the packaged default and a user's ``--policy FILE``.

The only I/O of the policy engine; parsing and checking are in kscli.domain.policy_lint.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

from kscli.domain.policy import Policy, PolicyError, Problem
from kscli.domain.policy_lint import lint_policy, parse_policy

if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_SOURCE = "<built-in>"


def default_policy_text() -> str:
    """The TOML text of the built-in policy (``kscli/default_policy.toml``, beside this
    module: read as a file, not through importlib.resources, whose import costs every
    write a fifth of a Python start)."""
    return _packaged("default_policy.toml")


@functools.cache
def load_default() -> Policy:
    """The built-in policy, parsed once per process: from its JSON form
    (``kscli/default_policy.json``, generated from the TOML by ``tools/shipped.py``),
    checked by the same rules as any policy file."""
    import json

    return parse_policy(json.loads(_packaged("default_policy.json")), source=DEFAULT_SOURCE)


def _packaged(name: str) -> str:
    """The text of a file shipped in the package, beside this module."""
    with open(os.path.join(os.path.dirname(__file__), name), encoding="utf-8") as handle:
        return handle.read()


def read_policy_text(path: str | Path) -> str:
    """A policy file's text; PolicyError naming the file if it cannot be read."""
    from kscli.domain.policy_limits import MAX_POLICY_BYTES

    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_POLICY_BYTES + 1)
        if len(data) > MAX_POLICY_BYTES:
            raise PolicyError(f"policy file {path} is over {MAX_POLICY_BYTES:,} bytes: a policy is "
                              "a page of TOML (`kscli policy show --toml` gives one to start from)")
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError(f"policy file {path} is not UTF-8 text: save it as UTF-8 TOML") from None
    except IsADirectoryError:
        raise PolicyError(f"cannot read policy file {path}: it is a folder, not a file") from None
    except OSError as exc:
        from kscli.store.fs import read_error

        raise PolicyError(read_error(str(path), exc, "policy file").message) from None


def load_policy(path: str | Path) -> Policy:
    """A user's policy file, checked; PolicyError (naming the file) if unreadable or invalid."""
    text = read_policy_text(path)
    try:
        policy = parse_policy(text, source=str(path))
    except PolicyError as exc:
        raise PolicyError(f"policy file {path}: {exc.message}", exc.problems) from None
    return with_later_clauses(policy)


def with_later_clauses(policy: Policy) -> Policy:
    """The policy with the built-in clause in place of each later clause it lacks
    (kscli.domain.policy.LATER_CLAUSES: a file written before they existed)."""
    from dataclasses import replace

    from kscli.domain.policy import CLAUSE_IDS

    missing = [cid for cid in CLAUSE_IDS if cid not in policy.clauses]
    if not missing:
        return policy
    default = load_default()
    clauses = {cid: policy.clauses.get(cid) or default.clauses[cid] for cid in CLAUSE_IDS}
    return replace(policy, clauses=clauses)


def lint_policy_file(path: str | Path) -> list[Problem]:
    """Every problem of a policy file (for ``policy check FILE``); PolicyError if unreadable."""
    return lint_policy(read_policy_text(path))
