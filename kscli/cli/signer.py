"""`kscli signer`: the vendor's Ed25519 signing key for license files."""

from __future__ import annotations

import click

from kscli.cli import LazyGroup
from kscli.cli import params as p
from kscli.cli.app import get_app

SIGNER_FIELDS = (("id", "id"), ("name", "name"), ("public key", "public_key"),
                 ("created", "created_at"), ("retired", "retired_at"),
                 ("private key in", "private_key_in"))


@click.group(cls=LazyGroup)
def signer():
    """The vendor's Ed25519 signing key for license files: init, show, rotate.

    The private key goes to the system keyring, or where no keyring works to a
    private file (0600) in kscli's data folder, with a warning the first time.
    Public keys are kept in signer.json beside it; `signer show` prints them for
    customers, who check license files with `kscli license verify` (needs the
    extra kscli[signing]).

    \b
    Example:
      kscli signer init --name "Acme support desk" && kscli signer show > acme.pub
    """


def _made(new, message: str) -> None:
    from kscli.cli.output import emit_object, note

    app = get_app()
    if new.warning:
        note("warning: " + new.warning)
    emit_object(app.fmt, new.key.view(), message=message, fields=SIGNER_FIELDS,
                quiet=app.quiet)


def _where(key) -> str:
    return "the system keyring" if key.private_key_in == "keyring" else "a private file"


@signer.command("init")
@click.option("--name", type=p.TEXT, help="A name for the signer, shown with its public keys.")
def init(name):
    """Make the signing key pair (Ed25519). Refused when a signer exists.

    \b
    Example:
      kscli signer init --name "Acme support desk"
    """
    from kscli.secrets import Keeper
    from kscli.services.signing import SignerFiles, init_signer

    new = init_signer(SignerFiles.default(), Keeper(), get_app().now, name)
    _made(new, f"signer key {new.key.id} made; its private key is in {_where(new.key)}")


@signer.command("rotate")
@click.option("--name", type=p.TEXT, help="A new name (default: the current one).")
def rotate(name):
    """Make a new key pair; the old public key is kept to verify what it signed.

    New license files are signed with the new key, and the old private key is
    deleted. Give customers the new output of `kscli signer show`: it holds every
    key kept, the old ones included.

    \b
    Example:
      kscli signer rotate && kscli signer show > acme.pub
    """
    from kscli.secrets import Keeper
    from kscli.services.signing import SignerFiles, rotate_signer

    new, old = rotate_signer(SignerFiles.default(), Keeper(), get_app().now, name)
    _made(new, f"signer key {new.key.id} made, now current; key {old.id} retired, kept "
               "for verification")


@signer.command("show")
def show():
    """Print the public keys: the current one first, then those retired.

    The output is a file `kscli license verify --public-key FILE` reads; with
    --format json, a list of every key with its id and dates. No private key is
    ever printed.

    \b
    Examples:
      kscli signer show > acme.pub
      kscli --format json signer show
    """
    from kscli.cli.output import emit_list
    from kscli.services.signing import SignerFiles, current_key, signer_keys

    app = get_app()
    files = SignerFiles.default()
    current = current_key(files)
    keys = signer_keys(files)
    if app.fmt in ("json", "jsonl", "csv"):
        emit_list(app.fmt, [k.view() for k in keys],
                  [(k, k) for k in ("id", "name", "public_key", "created_at", "retired_at",
                                    "current", "private_key_in")], table_row=None)
        return
    lines = [f"# kscli signer{' ' + repr(current.name) if current.name else ''}: public keys "
             "for `kscli license verify --public-key FILE`"]
    for key in keys:
        state = "current" if key.retired_at is None else f"retired {key.retired_at}"
        lines += [f"# key {key.id} ({state}, made {key.created_at})", key.public_key]
    click.echo("\n".join(lines))
