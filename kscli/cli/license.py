"""`kscli license`: license keys.

A key is a secret: outputs show it masked (``*****-*****-*****-*****-*FC3W  fp
3f9a1c2e``) unless ``--reveal`` is given, and `license issue` prints new keys once.
Wherever a command takes a KEY, ``-`` reads it from stdin.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import click

from kscli.cli import LazyGroup
from kscli.cli import params as p
from kscli.cli.app import get_app
from kscli.domain import ids
from kscli.domain.model import LICENSE_STATUSES

# L-1001, L1001, l-1001 or 1001
_ID = re.compile(rf"^\s*{ids.LICENSE[:-1]}-?(\d{{1,9}})\s*$|^\s*(\d{{1,9}})\s*$", re.IGNORECASE)
SEATS = click.IntRange(1, 10000)  # `license add`, `issue` and `edit`

LICENSE_FIELDS = (
    ("id", "id"), ("product", "product"), ("account", "account"), ("subscription", "sub_id"),
    ("key", "key_text"), ("status", "status_text"), ("purchased", "purchased_at"),
    ("last day to activate", "deadline_text"), ("seats", "seats_text"),
    ("activations", "activations_text"), ("issued", "issued"), ("key kept in", "secret_store"),
)
CSV_KEYS = ("id", "product", "account", "sub_id", "key_masked", "fingerprint", "status",
            "status_reason", "purchased_at", "activation_deadline", "seats", "seats_used",
            "activations", "issued", "secret_store")


def _complete_ids(ctx, param, incomplete):
    from kscli.cli.complete import complete_ids

    return complete_ids(ctx, ids.LICENSE, incomplete)


def _valid_key(text: str, *, prefix: str = "invalid key", extra: dict | None = None,
               ledger_hint: bool = False) -> str:
    """The canonical symbols of a key, checked offline before any store is opened.

    A refusal says what is wrong and where, never the key. A key that fails its check
    is never "corrected" into another valid key (that one may be somebody else's):
    with ``ledger_hint`` (activate, add), the hint names the key of the ledger that one
    swap of neighbouring symbols would give, by id and fingerprint, when exactly one does.
    """
    from kscli.domain import keys
    from kscli.domain.keys import KeyRejected

    try:
        return keys.validate(text)
    except keys.InvalidKey as exc:
        hint = None
        if ledger_hint and exc.kind == "check":
            from kscli.domain.errors import KscliError
            from kscli.services.licenses import one_swap_match

            try:
                lic = one_swap_match(get_app().store, text)
            except KscliError:  # a ledger that cannot be read: the key's fault comes first
                lic = None
            if lic is not None:
                hint = (f"did you mean {lic.id} (fp {lic.fingerprint}), the one key of this "
                        "ledger that a swap of two neighbouring symbols gives?")
        raise KeyRejected(exc, hint=hint, prefix=prefix, extra=extra) from None


def _target(value: str, *, ledger_hint: bool = False):
    """ID|KEY: a key id such as L-1001 (or 1001), or a key (``-`` reads stdin)."""
    from kscli.services.licenses import Target

    text = p.read_secret_arg(value)
    match = _ID.match(text)
    if match:
        return Target(license_id=ids.LICENSE + (match.group(1) or match.group(2)))
    return Target.of_key(_valid_key(text, prefix="not a key id like L-1001, nor a valid key",
                                    ledger_hint=ledger_hint))


def _purchased(value, now):
    if value is not None and value > now:
        raise click.BadParameter("a purchase cannot be in the future", param_hint="--purchased")
    return value or now


def _keeper_warning(app, keeper) -> None:
    """The one warning of a ledger whose keys went to the ledger file: the command that
    recorded its `secrets-in-ledger` event warns; later ones stay silent."""
    from kscli.cli.output import note

    if keeper.warn:
        note(f"warning: {keeper.fallback}: license keys are kept in "
             f"{app.store.secrets_place}; this is said once per ledger, "
             "`kscli doctor` says where keys go")


def _years(app) -> int:
    """The activation window of the effective policy (read before the ledger is touched,
    so that a bad --policy file changes nothing)."""
    return app.policy.activation_years()


def license_record(lic, now, key: str | None = None, *, years: int) -> dict[str, Any]:
    """The view plus the lines a person reads (table and plain output)."""
    from kscli.domain import licenses as rules
    from kscli.views import day, license_view

    record = license_view(lic, now, key, years=years)
    record["key_text"] = key if key is not None else f"{record['key_masked']}  fp {lic.fingerprint}"
    record["status_text"] = record["status"] + (f" ({record['status_reason']})"
                                                if record["status_reason"] else "")
    deadline = rules.activation_deadline(lic.purchased_at, years=years)
    text = deadline.isoformat()
    if record["status"] == "unactivated":
        left = (deadline - now.date()).days
        text += " (today)" if left == 0 else f" ({left} day{'s' if left != 1 else ''} left)"
    elif record["status_reason"] == rules.LAPSED:
        text += " (window closed)"
    record["deadline_text"] = text
    record["seats_text"] = f"{record['seats_used']} of {lic.seats} used"
    record["activations_text"] = ", ".join(f"{a.machine} ({day(a.at)})" for a in lic.activations)
    return record


def _show(app, outcome, years: int) -> None:
    from kscli.cli.common import show_outcome
    from kscli.views import license_view

    show_outcome(app, outcome, lambda lic: license_view(lic, app.now, years=years),
                 LICENSE_FIELDS, lambda lic: license_record(lic, app.now, years=years))


# Signed license files: their own module, imported only when one of them runs.
_FILES = "kscli.cli.license_files"
SIGNED_FILES = {
    "sign": (_FILES, "sign", "Sign a license file for a key (offline proof)."),
    "verify": (_FILES, "verify", "Check a license file offline: exit 0 valid, 4 not."),
    "machine-id": (_FILES, "machine_id", "Print this machine's id for a product."),
    "revoked": (_FILES, "revoked", "Write the signed list of revoked keys."),
    "revoke": (_FILES, "revoke", "Revoke a key for good."),
}


@click.group(cls=LazyGroup, lazy=SIGNED_FILES)
def license():  # noqa: A001 - the command is `kscli license`
    """License keys: add, list, show, activate, validate, issue; signed license files.

    Signed license files (`sign`, `verify`, `machine-id`, `revoked`) prove offline
    that the vendor issued a key, for what and until when (extra kscli[signing]).

    A key must be activated within the activation window of the policy
    [license.activation-window]: one year of purchase by default, the whole last
    day counting (in UTC). Keys are shown masked unless --reveal is given.
    Wherever a command takes a KEY, - reads it from standard input.

    \b
    Example:
      kscli license add - --product "Photo Editor" --purchased 2026-03-01 < key.txt
    """


def _recorded_key_options(command):
    """The options `license add` and `license issue` share: where a key comes from."""
    for option in reversed((
        click.option("--purchased", type=p.WHEN, help="When it was bought (default: now)."),
        click.option("--account", type=p.TEXT,
                     help="Whose it is (default: the subscription's account)."),
        click.option("--sub", "sub_id", type=p.SUB_ID,
                     help="The subscription or sale it belongs to."),
        click.option("--seats", type=SEATS, default=1, show_default=True,
                     help="On how many machines a key may be active at once."),
    )):
        command = option(command)
    return command


@license.command("add")
@click.argument("key", metavar="KEY")
@click.option("--product", required=True, type=p.TEXT, help="What the key unlocks.")
@_recorded_key_options
def add(key, product, purchased, account, sub_id, seats):
    """Record a key (validated first) and print it masked, with its id.

    The key itself goes to the system keyring, or into the ledger file where no
    keyring works (with a warning).

    \b
    Examples:
      kscli license add 1QASW-A7YHB-XDP0G-JE7WK-RFC3W --product "Photo Editor"
      pbpaste | kscli license add - --product "Photo Editor" --sub S-1009
    """
    from kscli.secrets import Keeper
    from kscli.services.licenses import add_license

    symbols = _valid_key(p.read_secret_arg(key), ledger_hint=True)
    app = get_app()
    years = _years(app)
    keeper = Keeper()
    outcome = add_license(app.store, app.now, symbols=symbols, product=product,
                          purchased_at=_purchased(purchased, app.now), keeper=keeper,
                          years=years, seats=seats, account=account, sub_id=sub_id)
    _keeper_warning(app, keeper)
    _show(app, outcome, years)


@license.command("issue")
@click.option("--product", required=True, type=p.TEXT, help="What the keys unlock.")
@click.option("--count", type=click.IntRange(1, 1000), default=1, show_default=True,
              help="How many keys to make.")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False),
              help="Write the keys into this new file (mode 0600) instead of stdout.")
@_recorded_key_options
def issue(product, count, output, purchased, account, sub_id, seats):
    """Make new keys, record them as issued, and print them in full, once.

    This is the one output that shows keys without --reveal: copy them now
    (`kscli license show ID --reveal` shows one again). An issued key makes a
    one-time software sale final [refund.software-final].

    The keys are printed (or written to -o FILE, a new file only you can read) before
    they are recorded: if the output cannot be written, or the command is stopped while
    it prints, no key is recorded as issued. If recording then fails, the keys printed
    are not issued, and the error says so.

    \b
    Examples:
      kscli --format json license issue --product "Photo Editor" --sub S-1009
      kscli --format jsonl license issue --product "Photo Editor" --count 500 -o keys.jsonl
    """
    from kscli.cli.output import note
    from kscli.domain.errors import BadValue, KscliError
    from kscli.domain.words import count_of
    from kscli.secrets import Keeper
    from kscli.services.licenses import issue_licenses

    app = get_app()
    years = _years(app)
    keeper = Keeper()
    if output is not None and os.path.lexists(output):
        raise BadValue(f"{output} already exists", hint="name a new file for the keys")
    shown: list[int] = []

    def hand_out(issued) -> None:
        if output is None:
            if not app.quiet:
                _print_issued(app, issued, years)
                sys.stdout.flush()  # out in full before the keys are recorded
        else:
            _write_issued(app, issued, years, output)
        shown.append(len(issued))

    try:
        issued = issue_licenses(app.store, app.now, product=product,
                                purchased_at=_purchased(purchased, app.now), keeper=keeper,
                                years=years, count=count, seats=seats, account=account,
                                sub_id=sub_id, before_commit=hand_out)
    except KscliError as exc:
        if shown and output is None:
            exc.message += (f"; the {count_of(shown[0], 'key')} printed above "
                            f"{'was' if shown[0] == 1 else 'were'} not issued")
        if shown and output is not None:
            _discard(output)
        raise
    except BaseException:
        if shown and output is not None:
            _discard(output)
        raise
    _keeper_warning(app, keeper)
    if output is not None:
        note(f"issued {count_of(len(issued), 'key')} into {output} (mode 0600)")
    elif app.fmt == "table" and not app.quiet:
        note(f"issued {count_of(len(issued), 'key')}, shown this once: copy them now "
             "(`kscli license show ID --reveal` shows one again)")


def _issued_records(app, issued, years: int) -> list[dict]:
    from kscli.views import license_view

    return [{**license_view(i.license, app.now, i.key, years=years),
             "reference": i.event.reference} for i in issued]


def _print_issued(app, issued, years: int, fmt: str | None = None) -> None:
    from kscli.cli.output import emit_list

    emit_list(fmt or app.fmt, _issued_records(app, issued, years),
              [("ID", "id"), ("Key", "key"), ("Product", "product"),
               ("Last day to activate", "activation_deadline"), ("Reference", "reference")],
              whole=("key",))  # shown this once: never shortened


def _write_issued(app, issued, years: int, output: str) -> None:
    """The keys into a new private file, synced, in the command's format (a table as
    plain, tab-separated)."""
    import contextlib
    import io

    from kscli.domain.errors import BadValue
    from kscli.store import fs

    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        _print_issued(app, issued, years, "plain" if app.fmt == "table" else app.fmt)
    with fs.write_errors(output):
        try:
            fd = fs.create_private(output)
        except FileExistsError:
            raise BadValue(f"{output} already exists", hint="name a new file for the keys") from None
        try:
            data = memoryview(text.getvalue().encode("utf-8"))
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            _discard(output)
            raise
        os.close(fd)


def _discard(output: str) -> None:
    try:
        os.unlink(output)
    except OSError:
        pass


@license.command("list")
@click.option("--unactivated", is_flag=True,
              help="Only keys not activated yet (same as --status unactivated).")
@p.within_option("due-within", "Only unactivated keys whose last day to activate is within "
                                "this time, like 30d.")
@click.option("--status", type=click.Choice(LICENSE_STATUSES), multiple=True,
              help="Only these statuses (repeatable).")
@click.option("--product", help="Only this product (any case).")
@click.option("--account", help=f"Only this account ({p.WORD_RULE}).")
@click.option("--reveal", is_flag=True, help="Show the keys themselves.")
@p.listing_options
@p.as_of_option
def list_(unactivated, within, due_within, status, product, account, reveal, limit, reverse,
          as_of):
    """List keys: masked key, status, last day to activate, seats.

    A key never activated shows as deactivated from the moment its window closes,
    whether or not `kscli sweep` has run. --as-of in the past shows the keys bought by
    then as they stood: activations, deactivations and revocations recorded later are
    left out.

    \b
    Examples:
      kscli license list --unactivated --within 30d
      kscli --format json license list --status active --account ada
    """
    from kscli.cli.output import emit_list
    from kscli.services.licenses import listing

    app = get_app()
    now = as_of or app.now
    years = _years(app)
    due_within = p.within_of(within, due_within)
    statuses = set(status) | ({"unactivated"} if unactivated else set())
    keeper = None
    if reveal:
        from kscli.secrets import Keeper

        keeper = Keeper()
    found = listing(app.store, now, years=years, statuses=sorted(statuses), product=product,
                    account=account, due_until=due_within.add_to(now) if due_within else None,
                    keeper=keeper, past=now < app.now)
    found = list(p.limited(found, limit, reverse))
    records = [license_record(lic, now, key, years=years) if not app.json
               else _json_view(lic, now, key, reveal, years) for lic, key in found]
    filtered = bool(statuses or product or account or due_within or limit == 0)
    emit_list(
        app.fmt, records,
        [(k, k) for k in CSV_KEYS + (("key",) if reveal else ())] if app.fmt == "csv" else
        [("ID", "id"), ("Product", "product"), ("Key", "key"), ("Status", "status"),
         ("Purchased", "purchased"), ("Last day", "activation_deadline"), ("Seats", "seats"),
         ("Account", "account")],
        table_row=None if app.fmt == "csv" else _row,
        empty="no license keys match" if filtered else
        f"no license keys in {app.store.location} yet (add one with `kscli license add`)",
        whole=("key",) if reveal else (),  # a key shown is never shortened
    )
    unrevealed = [lic for lic, key in found if reveal and key is None]
    if unrevealed:
        raise _key_not_found(unrevealed)


def _key_not_found(missing):
    """--reveal of keys whose key itself cannot be found: exit 1, saying how to restore."""
    from kscli.domain.errors import Failure
    from kscli.secrets import MISSING

    ids = ", ".join(lic.id for lic in missing[:5]) + (" ..." if len(missing) > 5 else "")
    if all(lic.secret_store == MISSING for lic in missing):
        return Failure(f"{ids}: the key itself is missing from this ledger (it was left out of "
                       "the export this ledger was imported from)",
                       hint="`kscli export --with-keys -o keys.json` on the old ledger, then "
                            "`kscli import --keys keys.json` here")
    return Failure(f"{ids}: the key itself was not found in the "
                   + " or ".join(sorted({lic.secret_store for lic in missing})),
                   hint="`kscli doctor` says where keys are kept")


def _json_view(lic, now, key, reveal, years: int):
    from kscli.views import license_view

    view = license_view(lic, now, key, years=years)
    if reveal and key is None:
        view["key"] = None  # --reveal asked for it, but it could not be found
    return view


def _row(record) -> list:
    return [record["id"], record["product"], record["key_text"], record["status"],
            record["purchased_at"][:10], record["deadline_text"],
            f"{record['seats_used']}/{record['seats']}", record["account"]]


@license.command("show")
@click.argument("target", metavar="ID|KEY", shell_complete=_complete_ids)
@click.option("--reveal", is_flag=True, help="Show the key itself.")
@p.as_of_option
def show(target, reveal, as_of):
    """Show one key: masked key and fingerprint, status, window, seats, activations.

    --as-of in the past shows the key as it stood then (what was recorded later is left
    out).

    \b
    Examples:
      kscli license show L-1001
      kscli license show - --reveal < key.txt
    """
    from kscli.cli.output import emit_object
    from kscli.services.licenses import show as show_license

    wanted = _target(target)
    app = get_app()
    now = as_of or app.now
    years = _years(app)
    keeper = None
    if reveal:
        from kscli.secrets import Keeper

        keeper = Keeper()
    lic, key = show_license(app.store, wanted, keeper, past=now if now < app.now else None)
    if reveal and key is None:
        raise _key_not_found([lic])
    if app.json:
        emit_object(app.fmt, _json_view(lic, now, key, reveal, years))
    else:
        emit_object(app.fmt, license_record(lic, now, key, years=years), fields=LICENSE_FIELDS)


@license.command("activate")
@click.argument("target", metavar="ID|KEY", shell_complete=_complete_ids)
@click.option("--machine", required=True, type=p.TEXT, help="A label for the machine.")
@click.option("--trust-clock", is_flag=True,
              help="Act even though the clock reads earlier than the newest event.")
def activate(target, machine, trust_clock):
    """Activate a key on a machine, within its window and its seats.

    The activation window [license.activation-window], one year by default, gates
    the first activation only; after it the key is deactivated and the command
    exits 4. Activating on the same machine again changes nothing.

    \b
    Examples:
      kscli license activate L-1001 --machine laptop
      kscli license activate - --machine build-01 < key.txt
    """
    from kscli.services.licenses import activate as activate_license

    wanted = _target(target, ledger_hint=True)
    app = get_app()
    years = _years(app)
    _show(app, activate_license(app.store, wanted, machine, app.now, years=years,
                                trust_clock=trust_clock), years)


@license.command("deactivate")
@click.argument("target", metavar="ID|KEY", shell_complete=_complete_ids)
@click.option("--machine", required=True, type=p.TEXT, help="The machine to free a seat from.")
def deactivate(target, machine):
    """Deactivate a key on one machine, freeing its seat.

    \b
    Example:
      kscli license deactivate L-1001 --machine old-laptop
    """
    from kscli.services.licenses import deactivate as deactivate_license

    wanted = _target(target)
    app = get_app()
    years = _years(app)
    _show(app, deactivate_license(app.store, wanted, machine, app.now), years)


@license.command("validate")
@click.argument("key", metavar="KEY")
@click.option("--reveal", is_flag=True, hidden=True,
              help="Accepted for older scripts: kscli never shows a corrected key.")
def validate(key, reveal):
    """Check a key offline: no ledger, no keyring (for CI). Exit 0 valid, 4 invalid.

    Says what is wrong and where when that is certain (the length, a bad symbol at
    position N); a failed check says a symbol is mistyped or two are swapped, as two
    check symbols cannot tell which. It never suggests another key: one that passes
    the check may be somebody else's (`license activate` and `license add` name the
    key of your ledger a swap would give, when exactly one would).

    \b
    Examples:
      kscli license validate 1QASW-A7YHB-XDP0G-JE7WK-RFC3W
      kscli license validate - < key.txt
    """
    from kscli.domain import keys

    app = get_app()
    symbols = _valid_key(p.read_secret_arg(key), extra={"valid": False})
    last4 = keys.last4(symbols)
    view = {"valid": True, "key_masked": keys.mask(last4), "key_last4": last4,
            "fingerprint": keys.fingerprint(symbols)}
    if app.quiet:
        return
    if app.fmt in ("json", "jsonl", "csv"):
        from kscli.cli.output import emit_object  # (and json: not for the one text line)

        emit_object(app.fmt, view)
    else:
        click.echo(f"valid  {view['key_masked']}  fp {view['fingerprint']}")


@license.command("edit")
@click.argument("target", metavar="ID|KEY", shell_complete=_complete_ids)
@click.option("--account", type=p.TEXT, help="Whose it is.")
@click.option("--sub", "sub_id", type=p.SUB_ID,
              help="The subscription or sale it belongs to (its account too, unless --account).")
@click.option("--seats", type=SEATS, help="On how many machines it may be active at once.")
def edit(target, account, sub_id, seats):
    """Correct a key's account, subscription or seats: one event with before and after.

    A value `license add` refuses is refused the same way; seats never go below the
    machines the key is active on. Moving a key to another subscription gives it that
    subscription's account unless --account is given, as `license add` does.

    \b
    Examples:
      kscli license edit L-1001 --sub S-1002
      kscli license edit L-1001 --seats 5
    """
    from kscli.services.corrections import edit_license

    wanted = _target(target)
    app = get_app()
    years = _years(app)
    _show(app, edit_license(app.store, wanted, app.now, account=account, sub_id=sub_id,
                            seats=seats), years)


@license.command("history")
@click.argument("target", metavar="ID|KEY", shell_complete=_complete_ids)
def history(target):
    """Show every event of a key, with its reference number.

    \b
    Example:
      kscli license history L-1001
    """
    from kscli.cli.common import emit_events
    from kscli.services.licenses import find

    wanted = _target(target)
    app = get_app()
    with app.store.read() as ledger:
        lic = find(ledger, wanted)
        events = list(ledger.events(lic.id))
    emit_events(app, events)
