"""`kscli refund`: refund eligibility under the policy, and refund requests."""

from __future__ import annotations

import click

from kscli.cli import LazyGroup
from kscli.cli import params as p
from kscli.cli.app import get_app

ground_option = click.option(
    "--ground", metavar="GROUND", type=p.TEXT,
    help="The customer's stated ground, e.g. chargeback, os-reinstall-declined, data-loss, "
         "hardware-failure; the policy's exclusions judge it. A ground the policy does not "
         "list is refused (exit 2): `kscli policy show` lists them.",
)


@click.group(cls=LazyGroup)
def refund():
    """Refund eligibility under the policy, and refund requests.

    Every answer names the clauses that decided it; `--format json` carries the whole
    trace of clauses evaluated. Exit code 0 when eligible, 4 when not.

    \b
    Example:
      kscli refund check S-1003 && kscli refund request S-1003 --yes
    """


@refund.command("check")
@click.argument("sub_id", metavar="ID", type=p.SUB_ID)
@ground_option
@p.as_of_option
def check(sub_id, ground, as_of):
    """Is a refund due? Answer with the amount, the clauses and the deadlines; change nothing.

    Exits 0 when eligible and 4 when not, so scripts can branch on it.

    \b
    Examples:
      kscli refund check S-1003
      kscli refund check S-1003 --as-of 2027-01-10
      kscli refund check S-1004 --ground os-reinstall-declined
      kscli --format json refund check S-1003 | jq .trace
    """
    from kscli.services.refunds import check_refund

    app = get_app()
    now = as_of or app.now
    ground = app.policy.require_known_ground(ground)
    sub, decision = check_refund(app.store, sub_id, now, app.policy, ground)
    show_decision(app, sub, decision, now, as_of is not None)
    if not decision.eligible:
        raise click.exceptions.Exit(4)


@refund.command("request")
@click.argument("sub_id", metavar="ID", type=p.SUB_ID)
@ground_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed off a terminal).")
@click.option("--discretion", is_flag=True,
              help="Refund at the provider's discretion, whatever the policy answers "
                   "[refund.discretion]; needs --reason.")
@click.option("--reason", type=p.TEXT, help="Why; required with --discretion, recorded in the event.")
def request(sub_id, ground, yes, discretion, reason):
    """Record a refund if the policy grants it: service ends, keys are revoked.

    The subscription becomes `refunded`, its service ends now, its license keys are
    revoked, and an event with a reference keeps the amount, the clauses, the expected
    credit dates and the policy version. When the policy says no, nothing changes and
    the command exits 4. A manual override needs --discretion and --reason.

    \b
    Examples:
      kscli refund request S-1003 --yes
      kscli refund request S-1007 --discretion --reason "outage of 3 days in March" --yes
    """
    from kscli.cli.common import confirm_or_refuse
    from kscli.cli.output import note
    from kscli.domain.refund import discretion_reason
    from kscli.services.refunds import check_refund, request_refund

    app = get_app()
    if discretion:
        discretion_reason(reason)  # refused before any question
    ground = app.policy.require_known_ground(ground)
    now = app.now
    if not yes:
        sub, decision = check_refund(app.store, sub_id, now, app.policy, ground)
        if not decision.eligible and not discretion:
            show_decision(app, sub, decision, now, False)
            note(f"{sub_id}: no refund recorded; nothing changed")
            raise click.exceptions.Exit(4)
        amount = f"{decision.to_dict()['amount'] or sub.price} {sub.currency}"
        how = " at the provider's discretion" if discretion else ""
        confirm_or_refuse(f"Refund {amount} on {sub_id}{how}, end its service now and revoke "
                          "its license keys?", yes)
    outcome = request_refund(app.store, sub_id, now, app.policy, ground=ground, reason=reason,
                             discretion=discretion)
    if not outcome.changed:
        show_decision(app, outcome.sub, outcome.decision, now, False)
        note(f"{sub_id}: no refund recorded; nothing changed")
        raise click.exceptions.Exit(4)
    show_refunded(app, outcome, now)


# -- rendering ------------------------------------------------------------------------


def _amount(decision) -> str:
    return f"{decision.to_dict()['amount']} {decision.currency}"


def _reason_lines(decision) -> list[str]:
    """Each clause that decided or applied, the deciding one first, as a sentence and id."""
    findings = [f for f in decision.reasons if f.clause != "refund.timing"]
    findings.sort(key=lambda f: f.outcome != "decides")
    return [f"  - {f.sentence} [{f.clause}]" for f in findings]


def _credit_line(decision, policy, now, as_of: bool) -> str:
    low, high = policy.credit_days()
    when = f"on {now.date().isoformat()}" if as_of else "today"
    return (f"if processed {when}, credited between {decision.credit_from} and "
            f"{decision.credit_by} ({low} to {high} business days) [refund.timing]")


def decision_lines(sub, decision, policy, now, as_of: bool) -> list[str]:
    head = f"{sub.id} {sub.vendor} {sub.product}: "
    if decision.eligible:
        head += f"eligible for a full refund of {_amount(decision)} [{decision.clause}]"
    else:
        head += f"not eligible for a refund [{decision.clause}]"
    lines = [head, *_reason_lines(decision)]
    if decision.deadline_text:
        lines.append(decision.deadline_text)
    if decision.eligible and decision.credit_from:
        lines.append(_credit_line(decision, policy, now, as_of))
    if decision.partner_portal:
        lines.append(f"partner portal: {decision.partner_portal}")
    lines.append(f"policy version {decision.policy_version}"
                 + (f" ({policy.source})" if policy.source != "<built-in>" else ""))
    return lines


def decision_record(sub, decision, now) -> dict:
    from kscli.domain.calendar import iso

    return {"sub_id": sub.id, **decision.to_dict(), "as_of": iso(now)}


def show_decision(app, sub, decision, now, as_of: bool) -> None:
    from kscli.cli.output import clean, emit_object, note

    record = decision_record(sub, decision, now)
    if app.json:
        emit_object(app.fmt, record)
        return
    if app.quiet:
        if not decision.eligible:
            note(f"Error: {sub.id}: not eligible for a refund: {decision.message} "
                 f"[{decision.clause}]")
        return
    if app.fmt == "csv":
        flat = {k: v for k, v in record.items() if k not in ("reasons", "trace")}
        emit_object(app.fmt, flat)
        return
    for line in decision_lines(sub, decision, app.policy, now, as_of):
        click.echo(clean(line))


def show_refunded(app, outcome, now) -> None:
    from kscli.cli.common import SUB_FIELDS, sub_record
    from kscli.cli.output import clean, emit_object
    from kscli.views import sub_view

    decision = outcome.decision
    message = (f"{outcome.sub.id}: refunded {_amount(decision)} [{decision.clause}]; "
               "service ended now")
    if app.json:
        data = {**sub_view(outcome.sub), "reference": outcome.event.reference,
                "refund": decision_record(outcome.sub, decision, now),
                "revoked_licenses": list(outcome.revoked)}
        if outcome.overrides is not None:
            data["overrides"] = {"clause": outcome.overrides.clause,
                                 "eligible": outcome.overrides.eligible}
        emit_object(app.fmt, data, message=message, quiet=app.quiet)
        return
    if app.quiet:
        return
    if app.fmt == "csv":
        emit_object(app.fmt, {**sub_view(outcome.sub), "reference": outcome.event.reference})
        return
    lines = [message, *_reason_lines(decision)]
    if decision.credit_from:
        lines.append(_credit_line(decision, app.policy, now, False))
    if outcome.overrides is not None:
        lines.append(f"the policy alone answered {'eligible' if outcome.overrides.eligible else 'not eligible'} "
                     f"[{outcome.overrides.clause}]")
    if outcome.revoked:
        lines.append("license keys revoked: " + ", ".join(outcome.revoked))
    if outcome.sub.refuse_service and decision.clause == "refund.not-started":
        lines.append("note: the customer may be refused further service [refund.not-started]")
    lines.append(f"policy version {decision.policy_version}")
    for line in lines:
        click.echo(clean(line))
    emit_object(app.fmt, {**sub_record(outcome.sub), "reference": outcome.event.reference},
                fields=[*SUB_FIELDS, ("reference", "reference")])
