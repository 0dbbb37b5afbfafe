"""Completion of record ids from the ledger: read-only, fast, silent on any error.

The ledger is the one named by ``--store`` on the line being completed, else
``KSCLI_STORE``, else the default. A missing ledger completes nothing and is not
created; a ledger that cannot be read, or that would need a migration, completes
nothing either: a completion never writes and never prints into the shell.
"""

from __future__ import annotations

import os

from kscli.domain import ids
from kscli.domain.errors import printable

LIMIT = 200  # a shell shows no more than this usefully


def _store_spec(ctx) -> str | None:
    root = ctx.find_root()
    spec = root.params.get("store") if root is not None else None
    spec = spec or os.environ.get("KSCLI_STORE")
    if spec and spec.startswith("~"):
        spec = os.path.expanduser(spec)  # the shell has not expanded it on the line yet
    return spec


def _describe(*parts: object) -> str:
    """A short description: one line, no control characters, no commas (fish splits on them)."""
    text = " ".join(str(p) for p in parts if p not in (None, ""))
    text = printable(text, blank=True).replace(",", " ")
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def _wanted(prefix: str, incomplete: str) -> str:
    """What a matching id starts with: ``s-10`` and ``10`` both mean ``S-10``."""
    want = incomplete.strip().upper()
    if want.isdigit():
        want = prefix + want
    return want


def _records(ledger, prefix: str):
    """(id, description) of the records whose ids start with ``prefix``."""
    if prefix == ids.SUB:
        from kscli import clock
        from kscli.domain.timeline import state_at  # as it stands now, swept or not

        now = clock.now()
        for sub in ledger.subs():
            yield sub.id, _describe(state_at(sub, now).display_status + ":", sub.vendor,
                                    sub.product)
    elif prefix == ids.LICENSE:
        from kscli import clock
        from kscli.domain.licenses import effective  # a lapsed key shows as deactivated
        from kscli.policy_files import load_default

        now = clock.now()
        years = load_default().activation_years()  # descriptions use the built-in policy
        for lic in ledger.licenses():
            yield lic.id, _describe(effective(lic, now, years=years).status + ":", lic.product)
    elif prefix == ids.INCIDENT:
        for inc in ledger.incidents():
            yield inc.id, _describe(inc.state + ":", inc.sub_id, inc.summary)


def complete_ids(ctx, prefix: str, incomplete: str) -> list:
    """Completion items for the ids of one kind of record (prefix ``S-``, ``L-`` or ``I-``)."""
    try:
        from click.shell_completion import CompletionItem

        from kscli.paths import default_store
        from kscli.store import open_store
        from kscli.store.base import SCHEMA_VERSION  # (the newest schema this kscli writes)

        store = open_store(_store_spec(ctx) or default_store(), busy_timeout=0.5)
        if not store.exists():
            return []
        if store.schema_version() != SCHEMA_VERSION:
            return []  # reading it would migrate it first: not from a completion
        want = _wanted(prefix, incomplete)
        items = []
        with store.read() as ledger:
            for record_id, help_ in _records(ledger, prefix):
                if record_id.startswith(want):
                    items.append(CompletionItem(record_id, help=help_))
                    if len(items) >= LIMIT:
                        break
        return items
    except BaseException:  # noqa: BLE001 - completion must never print into a shell
        return []
