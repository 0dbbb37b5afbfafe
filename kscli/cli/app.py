"""What every command shares: the ledger, the policy, the format and one `now`."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import click

from kscli import clock


@dataclass
class App:
    store_spec: str | None = None
    fmt: str = "table"
    policy_path: str | None = None
    quiet: bool = False
    _store: Any = field(default=None, repr=False)
    _policy: Any = field(default=None, repr=False)
    _now: datetime | None = field(default=None, repr=False)

    @property
    def now(self) -> datetime:
        """The time of this command, read once from the clock."""
        if self._now is None:
            self._now = clock.now()
        return self._now

    @property
    def store(self):
        if self._store is None:
            from kscli.paths import busy_timeout, default_store
            from kscli.store import open_store

            self._store = open_store(self.store_spec or default_store(), busy_timeout())
        return self._store

    @property
    def policy(self):
        if self._policy is None:
            from kscli import policy_files

            if self.policy_path:
                self._policy = policy_files.load_policy(self.policy_path)
            else:
                self._policy = policy_files.load_default()
        return self._policy

    @property
    def json(self) -> bool:
        return self.fmt in ("json", "jsonl")


def get_app() -> App:
    ctx = click.get_current_context()
    app = ctx.find_object(App)
    if app is None:  # a subcommand invoked on its own, as in some tests
        app = ctx.ensure_object(App)
    return app


def interactive() -> bool:
    return sys.stdin.isatty() and os.environ.get("CI", "") == ""
