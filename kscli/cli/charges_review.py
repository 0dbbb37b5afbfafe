"""`kscli charges match|unmatch|dismiss`: a person's corrections of what the import
matched and of what `charges check` found."""

from __future__ import annotations

import click

from kscli.cli import params as p
from kscli.cli.app import get_app
from kscli.domain import ids

def _charge_id(charge_id: str) -> str:
    """A charge id as typed (``c-1042``, or ``1042``), or a usage error (exit 2)."""
    charge_id = charge_id.strip().upper()
    if charge_id.isdigit():
        charge_id = ids.CHARGE + charge_id
    if not ids.form(ids.CHARGE).fullmatch(charge_id):
        raise click.BadParameter(f"{charge_id!r} is not a charge id like C-1001",
                                 param_hint="CHARGE-ID")
    return charge_id


def _show_hand_match(done) -> None:
    from kscli.cli.output import emit_object, note
    from kscli.views import charge_view

    app = get_app()
    charge = done.charge
    doc = {**charge_view(charge), "before_sub_id": done.before,
           "reference": done.event.reference if done.event else None}
    what = f"matched to {charge.sub_id}" if charge.sub_id else "unmatched"
    if done.event is None:
        note(f"{charge.id} is already {what} by hand: nothing changed")
        if app.json:
            emit_object(app.fmt, doc)
        return
    message = f"{charge.id} {what} by hand (was {done.before or 'unmatched'}); importing " \
              "its statement again keeps it so"
    if app.json:
        emit_object(app.fmt, doc, message=message)
    elif not app.quiet:
        emit_object(app.fmt, doc, message=message, fields=[("reference", "reference")])


@click.command("match")
@click.argument("charge_id", metavar="CHARGE-ID")
@click.argument("sub_id", type=p.SUB_ID, metavar="SUB-ID")
def match(charge_id, sub_id):
    """Match a charge to a subscription by hand.

    For a charge the import matched wrongly, or not at all. The charge then stays matched to SUB-ID when its statement is imported again. The
    change is an event with a reference, before and after. `charges check` then holds
    the charge against SUB-ID (a different amount is reported as price-changed).

    \b
    Example:
      kscli charges match C-1042 S-1003
    """
    from kscli.services.charges import match_by_hand

    app = get_app()
    _show_hand_match(match_by_hand(app.store, app.now, _charge_id(charge_id), sub_id))


@click.command("unmatch")
@click.argument("charge_id", metavar="CHARGE-ID")
def unmatch(charge_id):
    """Unmatch a charge by hand: it pays for no subscription of the ledger.

    For a look-alike merchant matched by mistake. The charge then stays unmatched when its statement is imported again, and
    `charges check` no longer holds it against a subscription. The change is an event
    with a reference, before and after; `kscli charges match` matches it again.

    \b
    Example:
      kscli charges unmatch C-1042
    """
    from kscli.services.charges import match_by_hand

    app = get_app()
    _show_hand_match(match_by_hand(app.store, app.now, _charge_id(charge_id), None))


@click.command("dismiss")
@click.argument("finding_id", metavar="FINDING-ID")
@click.option("--reason", required=True, metavar="TEXT",
              help="Why the finding needs nothing more (kept in the event).")
def dismiss(finding_id, reason):
    """Record that a person looked at a finding of `charges check`.

    A dismissed finding is no longer shown by `charges check` (`--all` shows it with
    its reason) and no longer makes it exit 1. The dismissal is an event with a
    reference. A finding is dismissed once: dismissing it again changes nothing and
    says so. FINDING-ID is the F-... id `charges check` shows.

    \b
    Example:
      kscli charges dismiss F-7Q2K9MXA3B --reason "refunded by the vendor on 2026-11-30"
    """
    from kscli.cli.output import emit_object, note
    from kscli.domain.calendar import iso
    from kscli.domain.errors import printable
    from kscli.services.charges import dismiss_finding

    finding_id = finding_id.strip().upper()
    if not ids.FINDING_FORM.fullmatch(finding_id):
        raise click.BadParameter(f"{printable(finding_id[:40])!r} is not a finding id like "
                                 "F-7Q2K9MXA3B (see `kscli charges check --all`)",
                                 param_hint="FINDING-ID")
    if not reason.strip():
        raise click.BadParameter("the reason is empty: say why the finding needs nothing more",
                                 param_hint="--reason")
    app = get_app()
    done = dismiss_finding(app.store, app.now, finding_id, reason.strip(),
                           tolerance=app.policy.price_tolerance())
    doc = {"id": finding_id, "kind": done.finding.kind, "charge_id": done.finding.charge_id,
           "sub_id": done.finding.sub_id, "reason": done.event.detail.get("reason"),
           "reference": done.event.reference, "dismissed_at": iso(done.event.at)}
    if done.already:
        note(f"{finding_id} was already dismissed ({done.event.reference}: "
             f"{done.event.detail.get('reason')}): nothing changed")
        if app.json:
            emit_object(app.fmt, doc)
        return
    message = f"dismissed {finding_id} ({done.finding.kind} of {done.finding.charge_id})"
    if app.json:
        emit_object(app.fmt, doc, message=message)
    elif not app.quiet:
        emit_object(app.fmt, doc, message=message,
                    fields=[("reason", "reason"), ("reference", "reference")])
