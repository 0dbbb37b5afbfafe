"""Completion of record ids from the ledger: read-only, fast, silent on any error."""

from __future__ import annotations

import os


def _store_spec(ctx) -> str | None:
    root = ctx.find_root()
    spec = root.params.get("store") if root is not None else None
    return spec or os.environ.get("KSCLI_STORE")


def complete_ids(ctx, prefix: str, incomplete: str) -> list:
    from click.shell_completion import CompletionItem

    try:
        from kscli.paths import default_store
        from kscli.store import open_store

        store = open_store(_store_spec(ctx) or default_store(), busy_timeout=0.5)
        if not store.exists():
            return []
        items = []
        want = incomplete.upper()
        with store.read() as ledger:
            if prefix == "S-":
                for sub in ledger.subs():
                    if sub.id.startswith(want):
                        items.append(CompletionItem(sub.id, help=f"{sub.status}, {sub.vendor} {sub.product}"))
            elif prefix == "L-":
                for lic in ledger.licenses():
                    if lic.id.startswith(want):
                        items.append(CompletionItem(lic.id, help=f"{lic.status}, {lic.product}"))
            elif prefix == "I-":
                for inc in ledger.incidents():
                    if inc.id.startswith(want):
                        items.append(CompletionItem(inc.id, help=f"{inc.state}, {inc.sub_id}"))
        return items[:200]
    except BaseException:  # noqa: BLE001 - completion must never print into a shell
        return []
