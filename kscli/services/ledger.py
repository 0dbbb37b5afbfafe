"""Whole-ledger use cases: init (with sample data), export, import (the export file's
reading and checks: kscli.services.export_file)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterator

from kscli import collector
from kscli.domain.errors import BadValue, Failure, json_escaped
from kscli.services.export_file import EXPORT_FORMAT, EXPORT_VERSION, Export, _bad, parse_export
from kscli.store.base import Conflict, Store
from kscli.store.loading import NotEmpty
from kscli.store.migrations import SCHEMA_VERSION
from kscli.store.schema import TABLES


def init_ledger(store: Store, now: datetime, *, sample: bool = False) -> str:
    existed = store.exists()
    with store.write() as ledger:
        if sample:
            if ledger.holds_records():
                raise Failure(
                    f"{ledger.location} already holds records; sample data goes into a new ledger",
                    hint="pick another file with --store",
                )
            from kscli.services.sample import fill_sample

            fill_sample(ledger, now)
    where = store.location
    if sample:
        return f"created {where} with sample data"
    return f"{'ledger ready' if existed else 'created'}: {where}"


def export_chunks(store: Store, *, with_keys: bool = False) -> Iterator[str]:
    """The whole ledger as JSON text, in chunks, in a stable order: one object a row,
    keyed by column name, so that people and tools like jq can read it.

    The license keys kept in the ledger file (table ``secrets``) are included only
    ``with_keys``; an import of an export without them marks those keys as missing."""
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with store.read() as ledger:
        yield ('{\n "format": "%s",\n "version": %d,\n "schema": %d,\n "tables": {'
               % (EXPORT_FORMAT, EXPORT_VERSION, SCHEMA_VERSION))
        first_table = True
        for name, table in TABLES.items():
            if name == "secrets" and not with_keys:
                continue  # keys leave the ledger only when asked for
            yield ("" if first_table else ",") + f'\n  "{name}": ['
            first_table = False
            order = ("seq",) if name == "events" else (table.key,)
            first = True
            names = table.names
            for row in ledger.tx.select(name, (), order=order):
                yield ("\n   " if first else ",\n   ") + json_escaped(encode(dict(zip(names, row))))
                first = False
            yield "\n  ]" if not first else "]"
        yield "\n }\n}\n"


def export_ledger(store: Store, *, with_keys: bool = False) -> str:
    return "".join(export_chunks(store, with_keys=with_keys))


def keys_kept_in_ledger(store: Store) -> int:
    """How many license keys the ledger file itself holds (what ``with_keys`` adds)."""
    with store.read() as ledger:
        return ledger.tx.count("secrets")


def import_ledger(store: Store, data: bytes, source: str) -> dict[str, int]:
    """Import a whole export into an empty ledger: every value in the file is checked
    before anything is kept, a chunk of rows at a time as it is read (SQLite writes each
    chunk as it comes, inside the one transaction, and checks them while it builds its
    indexes: kscli.store.loading).

    (A second process that checked while this one wrote was measured slower in 4 of 5
    paired imports of 200,000 subscriptions: bench/RESULTS.md.)"""
    # An export of 200,000 subscriptions is millions of objects, none of them in a
    # cycle: the cyclic garbage collector would walk them all again and again.
    with collector.paused():
        # the header is checked before the store is touched; read again (the same
        # text, so the same verdict) only if the store needs a second attempt
        first = [Export(data, source)]
        text = first[0].text
        del data  # (the file's bytes, 115 MB for 200,000 subscriptions: the text is kept)
        try:
            return store.import_checked(lambda: first.pop() if first else Export(text, source))
        except NotEmpty:
            raise Failure(
                f"{store.location} already holds records; kscli imports only into an empty ledger",
                hint="pick a new file with --store, or export this one first",
            ) from None
        except Conflict as exc:
            raise _bad(source, f"a value that must be unique is repeated ({exc})") from None


def restore_keys(store: Store, data: bytes, source: str, now: datetime, keeper: Any) -> tuple[int, int]:
    """Put back the keys an earlier import left out: from an export made with
    `kscli export --with-keys` of the old ledger, each key whose record here says it is
    missing, and that is the key the record describes (its hash matches). Returns how
    many were restored and how many of the file's keys this ledger did not need."""
    from kscli.domain import keys
    from kscli.secrets import MISSING

    tables = parse_export(data, source)
    if not tables["secrets"]:
        raise BadValue(f"{source} holds no license keys",
                       hint="make it with `kscli export --with-keys` on the old ledger")
    restored = 0
    with store.write() as ledger:
        for row in tables["secrets"]:
            lic = ledger.license(row["license_id"])
            symbols = keys.validate(row["key"])
            if lic is None or lic.secret_store != MISSING or lic.key_hash != keys.key_hash(symbols):
                continue
            where = keeper.put(ledger, lic.id, lic.key_hash, keys.format_key(symbols))
            ledger.save(lic._replace(secret_store=where))
            ledger.append_event(lic.id, "key-restored", {"secret_store": where}, now)
            restored += 1
    return restored, len(tables["secrets"]) - restored
