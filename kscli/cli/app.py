"""What every command shares: the ledger, the policy, the format and one `now`."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from datetime import datetime


class App:
    """Plain attributes, no dataclass: this module is on every command's start-up path."""

    def __init__(self, store_spec: str | None = None, fmt: str = "table",
                 policy_path: str | None = None, quiet: bool = False, wide: bool = False) -> None:
        self.store_spec = store_spec
        self.fmt = fmt
        self.policy_path = policy_path
        self.quiet = quiet
        self.wide = wide  # tables show every cell whole (--wide)
        self._store: Any = None
        self._policy: Any = None
        self._now: datetime | None = None

    @property
    def now(self) -> datetime:
        """The time of this command, read once from the clock."""
        if self._now is None:
            from kscli import clock

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
            from kscli.domain.errors import BadValue
            from kscli.domain.policy import PolicyError

            try:
                if self.policy_path:
                    self._policy = policy_files.load_policy(self.policy_path)
                else:
                    self._policy = policy_files.load_default()
            except PolicyError as exc:  # the message names the file and the problem
                raise BadValue(
                    exc.message,
                    code="bad-policy",
                    hint=f"`kscli policy check {self.policy_path}` lists every problem"
                    if self.policy_path and os.path.isfile(self.policy_path) else None,
                ) from None
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
