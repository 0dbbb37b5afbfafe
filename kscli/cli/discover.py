"""`kscli charges discover`: recurring charges that match no subscription.

Attached to the `charges` group lazily (kscli.cli.charges), so that the other
`charges` commands never import it.
"""

from __future__ import annotations

import click

from kscli.cli import params as p
from kscli.cli.app import get_app

PROPOSAL_KEYS = ("vendor", "amount", "currency", "cadence", "plan", "first_charge",
                 "last_charge", "next_expected", "charges", "charge_ids", "can_add", "why_not")


def proposal_view(proposal) -> dict:
    """The JSON object of a proposal."""
    return {"vendor": proposal.vendor, "amount": str(proposal.amount),
            "currency": proposal.currency, "cadence": proposal.cadence, "plan": proposal.plan,
            "first_charge": proposal.first.isoformat(), "last_charge": proposal.last.isoformat(),
            "next_expected": proposal.next_expected.isoformat(),
            "charges": len(proposal.charge_ids), "charge_ids": list(proposal.charge_ids),
            "can_add": proposal.plan is not None, "why_not": proposal.why_not}


@click.command("discover")
@click.option("--add", is_flag=True,
              help="Record each proposal as a subscription (after confirmation).")
@click.option("--account", type=p.TEXT, default="default", show_default=True,
              help="With --add: whose the new subscriptions are.")
@click.option("--yes", is_flag=True, help="With --add: do not ask (needed off a terminal).")
def discover(add, account, yes):
    """List recurring charges that match no subscription: forgotten subscriptions.

    Reads the imported charges that match no subscription and proposes those of one
    merchant, with similar amounts, on a regular cadence: weekly, monthly, quarterly
    or yearly (at least 3 charges, 2 for yearly). One-off and irregular purchases are
    not proposed. Read-only unless --add.

    \b
    The rule (the same charges in any order give the same proposals):
    - merchant: the description's words (case and accents folded, split on
      punctuation and *), without the words that change from charge to charge:
      any word holding a digit (references, dates, card numbers) and month names;
    - similar amounts: at most 10% above the smallest of the band;
    - cadence: the k-th charge within 2 days of the first plus k weeks, 3 days of
      k months, 4 days of 3k months or 5 days of 12k months (weekends, holidays and
      month ends); no period missed.

    Each proposal gives the vendor (the longest run of kept words, as the latest
    charge writes it), the latest amount, the cadence, the first and last charge, the
    next expected one and the charge ids. --add records each as `sub add` would:
    started on its first charge's day, plan monthly, 3m or annual, price the latest
    amount, the vendor's text as its statement descriptor (--match), product the same
    text (change it with `kscli sub edit`); the unmatched charges are then matched
    again, and one event records it. A weekly charge has no plan (plans are counted
    in months): it is listed, and --add says so and skips it.

    \b
    Examples:
      kscli charges discover
      kscli --format json charges discover
      kscli charges discover --add --yes
    """
    from kscli.cli.output import note
    from kscli.services.discover import proposals

    app = get_app()
    found = proposals(app.store)
    if not add:
        _show(app, found)
        if not app.quiet and not app.json:
            for proposal in found:
                if proposal.why_not:
                    note(f"{proposal.vendor}: {proposal.why_not}")
            if not found:
                note("no recurring charges without a subscription")
        return
    _add(app, found, account, yes)


def _show(app, found) -> None:
    from kscli.cli.output import emit_list

    views = [proposal_view(proposal) for proposal in found]
    if app.fmt in ("json", "jsonl", "csv"):
        if app.fmt == "csv":
            views = [{**view, "charge_ids": " ".join(view["charge_ids"])} for view in views]
        emit_list(app.fmt, views, [(k, k) for k in PROPOSAL_KEYS])
        return
    emit_list(app.fmt, views,
              [("Vendor", "vendor"), ("Amount", "amount"), ("Cadence", "cadence"),
               ("Plan", "plan"), ("First", "first_charge"), ("Last", "last_charge"),
               ("Next expected", "next_expected"), ("Charges", "charge_ids")],
              table_row=lambda v: [v["vendor"], f"{v['amount']} {v['currency']}", v["cadence"],
                                   v["plan"] or "-", v["first_charge"], v["last_charge"],
                                   v["next_expected"], " ".join(v["charge_ids"])])


def _add(app, found, account: str, yes: bool) -> None:
    from kscli.cli.common import confirm_or_refuse
    from kscli.cli.output import emit_list, emit_object, note
    from kscli.domain.words import count_of
    from kscli.services.discover import add_proposals

    addable = [proposal for proposal in found if proposal.plan is not None]
    for proposal in found:
        if proposal.why_not and not app.quiet:
            note(f"{proposal.vendor}: not recorded ({proposal.why_not})")
    if not addable:
        if app.json:
            emit_object(app.fmt, {"added": [], "skipped": [proposal_view(p) for p in found],
                                  "matched": [], "reference": None})
        if not app.quiet:
            note("nothing to record: no recurring charge without a subscription that a plan fits")
        return
    if not app.json and not app.quiet:
        _show(app, addable)
    confirm_or_refuse(f"Record {count_of(len(addable), 'subscription')} from these charges?",
                      yes)
    result = add_proposals(app.store, app.now, account)
    for warning in result.warnings if not app.quiet else ():
        note(f"warning: {warning}")
    added = [{**proposal_view(proposal), "sub_id": sub.id, "reference": event.reference}
             for proposal, sub, event in result.added]
    reference = result.event.reference if result.event else None
    message = (f"recorded {count_of(len(added), 'subscription')}; "
               f"{count_of(len(result.matched), 'charge')} now match them")
    if app.json:
        emit_object(app.fmt, {"added": added,
                              "skipped": [proposal_view(p) for p in result.skipped],
                              "matched": result.matched, "reference": reference,
                              "warnings": list(result.warnings), "message": message})
        return
    if app.quiet:
        return
    emit_list(app.fmt, added, [("Sub", "sub_id"), ("Vendor", "vendor"), ("Plan", "plan"),
                               ("Price", "amount"), ("Started", "first_charge"),
                               ("Reference", "reference")],
              table_row=lambda v: [v["sub_id"], v["vendor"], v["plan"],
                                   f"{v['amount']} {v['currency']}", v["first_charge"],
                                   v["reference"]])
    click.echo(message)
    if reference:
        click.echo(f"reference {reference}")
