"""`kscli license sign|verify|machine-id|revoked|revoke`: signed license files.

Attached to the `license` group lazily (see ``SIGNED_FILES`` in kscli.cli.license),
so that `license validate` never imports this module nor the cryptography library.
"""

from __future__ import annotations

import click

from kscli.cli import params as p
from kscli.cli.app import get_app
from kscli.cli.license import _complete_ids, _show, _target, _years

MAX_FILE = 1_000_000


class MachineType(click.ParamType):
    """``--machine ID|auto``: 32 hex digits, or this machine."""

    name = "ID|auto"

    def convert(self, value, param, ctx):
        from kscli.domain.errors import BadValue
        from kscli.domain.license_token import parse_machine_id

        text = str(value).strip()
        if text.lower() == "auto":
            return "auto"
        try:
            return parse_machine_id(text)
        except BadValue as exc:
            self.fail(exc.message, param, ctx)


MACHINE = MachineType()


def _write(output: str | None, text: str) -> None:
    """A file kscli makes (private, 0600), or stdout for none or ``-``."""
    if output in (None, "-"):
        click.echo(text, nl=False)
        return
    from kscli.store.fs import atomic_write, ensure_folder, private_umask, write_errors

    private_umask()
    with write_errors(output):
        ensure_folder(output)
        atomic_write(output, text.encode("ascii"))


def _read(handle, what: str) -> str:
    from kscli.domain import license_token as tok

    data = handle.read(MAX_FILE + 1)
    kind = tok.LICENSE if what == "license" else tok.REVOCATIONS
    if len(data) > MAX_FILE:
        raise tok.malformed("it is larger than 1 MB", kind)
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise tok.malformed("it holds bytes that are not ASCII", kind) from None


def _output_option(command):
    return click.option("-o", "--output", type=click.Path(dir_okay=False), metavar="FILE",
                        help="Write the file here (private, 0600) instead of standard output.")(command)


@click.command("sign")
@click.argument("target", metavar="ID|KEY", shell_complete=_complete_ids)
@_output_option
@click.option("--expires", type=p.WHEN, metavar="DATE",
              help="Valid until this moment, excluded (a date alone is 00:00 UTC, so the "
                   "day before is the last whole day). Default: no expiry.")
@click.option("--machine", type=MACHINE, metavar="ID|auto",
              help="Bind it to one machine: the id the customer's `kscli license machine-id "
                   "--product P` printed, or auto for this machine. Default: any machine.")
@click.option("--entitlement", "entitlements", multiple=True, type=p.TextType(100),
              metavar="NAME", help="A feature it grants (repeatable).")
@click.option("--trust-clock", is_flag=True,
              help="Activate on the machine even though the clock reads earlier than the "
                   "newest event.")
def sign(target, output, expires, machine, entitlements, trust_clock):
    """Sign a license file for a key of the ledger, with the signer's current key.

    The file holds the product, the key's id and fingerprint (never the key),
    seats, entitlements, issue and expiry times, the last day to activate, the
    machine it is bound to and the signer key's id, as one token wrapped at 64
    columns between BEGIN and END lines (e-mail may re-wrap it). A license of a
    key not yet activated is valid until its activation window closes; sign a new
    one once the key is activated. A license bound to a machine activates the key
    on it (a seat, under the rules of `license activate`). Revoked and lapsed keys
    are refused. Signing is recorded as an event with a reference.

    \b
    Examples:
      kscli license sign L-1001 --machine 3f9a1c2e5b7d9e0144aa01bc92d3e4f5 -o customer.lic
      kscli license sign L-1002 --expires 2028-01-01 --entitlement pro --entitlement cloud
    """
    from kscli.cli.output import emit_object, note
    from kscli.secrets import Keeper
    from kscli.services.signing import SignerFiles, sign_license

    wanted = _target(target)
    app = get_app()
    years = _years(app)
    signed = sign_license(app.store, app.now, wanted, years=years, files=SignerFiles.default(),
                          keeper=Keeper(), expires_at=expires, machine=machine,
                          entitlements=tuple(entitlements), trust_clock=trust_clock)
    claims = signed.claims
    bound = f"machine {claims.machine}" if claims.machine else "any machine"
    message = (f"{claims.license_id}: "
               + (f"activated on machine {claims.machine}; " if signed.activation else "")
               + f"license file for {claims.product} signed by key {claims.signer}, for {bound}, "
               + (f"expires {claims.to_dict()['expires_at']}" if claims.expires_at else "no expiry"))
    record = {**claims.to_dict(), "file": None if output in (None, "-") else output,
              "reference": signed.event.reference,
              "activation_reference": signed.activation.reference if signed.activation else None}
    if app.json:
        if output in (None, "-"):
            record["license_file"] = signed.text
        else:
            _write(output, signed.text)
        emit_object(app.fmt, record, message=message, quiet=app.quiet)
        return
    _write(output, signed.text)
    if output in (None, "-"):
        if not app.quiet:
            note(f"{message}; reference {signed.event.reference}")
    elif not app.quiet:
        emit_object(app.fmt, record, message=message,
                    fields=[("file", "file"), ("signer", "signer"), ("reference", "reference"),
                            ("activation reference", "activation_reference")])


@click.command("verify")
@click.argument("file", type=click.File("rb"), metavar="FILE|-")
@click.option("--public-key", "public_key", required=True, metavar="KEY|FILE",
              help="The vendor's public key (ed25519:...), or a file of them as "
                   "`kscli signer show` prints it (retired keys included).")
@click.option("--product", type=p.TEXT, help="Refuse a license for another product.")
@click.option("--machine", type=MACHINE, metavar="ID|auto",
              help="The machine to check a bound license against (default: auto, this machine).")
@click.option("--revoked", "revoked", type=click.File("rb"), metavar="FILE",
              help="A revocation list from `kscli license revoked`: refuse what it lists.")
@p.as_of_option
def verify(file, public_key, product, machine, revoked, as_of):
    """Check a license file offline, with no ledger: exit 0 valid, 4 not.

    A refusal says why in one line: malformed, unknown token version, unknown
    signer key, bad signature, revoked, wrong product, bound to another machine,
    not yet valid, expired on DATE, or not activated in time. Any changed byte
    fails; spaces and line breaks inside the token are ignored. With --format
    json, every claim.

    \b
    Examples:
      kscli license verify customer.lic --public-key acme.pub --product "Photo Editor"
      kscli license verify - --public-key ed25519:... --revoked revoked.lst < customer.lic
    """
    from kscli.cli.output import emit_object
    from kscli.domain.calendar import iso
    from kscli.domain.license_token import VERSION
    from kscli.services.signing import read_public_keys, verify_license

    app = get_app()
    keys = read_public_keys(public_key)
    text = _read(file, "license")
    revoked_text = _read(revoked, "revocations") if revoked is not None else None
    now = as_of or app.now
    found = verify_license(text, keys, now, product=product, machine=machine,
                           revoked_text=revoked_text)
    claims = found.claims.to_dict()
    if app.quiet:
        return
    if app.fmt in ("json", "jsonl"):
        listing = found.revocations
        emit_object(app.fmt, {
            "valid": True, "version": VERSION, "checked_at": iso(now), "claims": claims,
            "machine_checked": found.machine,
            "revocation_list": None if listing is None else {
                "signer": listing.signer, "issued_at": iso(listing.issued_at),
                "revoked": len(listing.revoked)}})
        return
    if app.fmt == "csv":
        emit_object(app.fmt, {"valid": True, **claims})
        return
    seats = claims["seats"]
    parts = [f"valid: {claims['license_id']} {claims['product']} (fp {claims['key_fingerprint']})",
             f"{seats} seat{'s' if seats != 1 else ''}",
             "entitlements " + (", ".join(claims["entitlements"]) or "none"),
             f"expires {claims['expires_at']}" if claims["expires_at"] else "no expiry",
             "bound to this machine" if claims["machine"] else "any machine",
             f"signed by key {claims['signer']}"]
    click.echo("; ".join(parts))


@click.command("machine-id")
@click.option("--product", required=True, type=p.TEXT,
              help="The product it is for: each product (vendor) gets another id.")
def machine_id(product):
    """Print this machine's id for a product, to send to the vendor.

    A hash of the operating system's machine id (/etc/machine-id, or
    KSCLI_MACHINE_ID_FILE) salted with the product: the same machine gives
    different ids to different vendors. It is computed locally and never sent
    anywhere by kscli.

    \b
    Example:
      kscli license machine-id --product "Photo Editor"
    """
    from kscli.cli.output import emit_object
    from kscli.services.signing import this_machine

    app = get_app()
    found = this_machine(product)
    if app.quiet:
        return
    if app.fmt in ("table", "plain"):
        click.echo(found)
    else:
        emit_object(app.fmt, {"machine_id": found, "product": product})


@click.command("revoked")
@_output_option
def revoked(output):
    """Write the signed list of revoked keys, for `license verify --revoked FILE`.

    It lists every key of the ledger whose status is revoked (by `kscli license
    revoke`, or a refund), by id and fingerprint, signed with the current key.

    \b
    Example:
      kscli license revoked -o revoked.lst
    """
    from kscli.cli.output import note
    from kscli.secrets import Keeper
    from kscli.services.signing import SignerFiles, revocation_list

    app = get_app()
    text, listing = revocation_list(app.store, app.now, SignerFiles.default(), Keeper())
    _write(output, text)
    if not app.quiet:
        note(f"{len(listing.revoked)} revoked key(s) listed, signed by key {listing.signer}"
             + (f", in {output}" if output not in (None, "-") else ""))


@click.command("revoke")
@click.argument("target", metavar="ID|KEY", shell_complete=_complete_ids)
@click.option("--reason", type=p.TEXT, help="Why, kept in the event.")
@click.option("--yes", is_flag=True, help="Do not ask (needed off a terminal).")
def revoke(target, reason, yes):
    """Revoke a key: it can never be activated again, and `license revoked` lists it.

    This cannot be undone: it asks on a terminal, and needs --yes elsewhere.
    Revoking a revoked key changes nothing.

    \b
    Example:
      kscli license revoke L-1003 --reason "chargeback" --yes
    """
    from kscli.cli.common import confirm_or_refuse
    from kscli.services.licenses import revoke as revoke_license

    wanted = _target(target)
    app = get_app()
    years = _years(app)
    name = wanted.license_id or f"the key with fingerprint {wanted.fingerprint}"
    confirm_or_refuse(f"Revoke {name}? It cannot be undone.", yes)
    _show(app, revoke_license(app.store, wanted, app.now, reason), years)
