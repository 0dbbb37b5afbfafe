"""`kscli incident`: support incidents, the facts the refund rules of support plans judge."""

from __future__ import annotations

import click

from kscli.cli import LazyGroup
from kscli.cli import params as p
from kscli.cli.app import get_app
from kscli.domain.model import INCIDENT_STATES

INCIDENT_FIELDS = (
    ("id", "id"), ("subscription", "sub_id"), ("summary", "summary"), ("state", "state"),
    ("opened", "opened_at"), ("closed", "closed_at"),
)


@click.group(cls=LazyGroup)
def incident():
    """Support incidents of support plans: open, resolve, exhaust, list.

    On a support plan the first incident carries a money-back guarantee: a full refund
    if it stays unresolved after every option was tried (`incident exhaust`); it is void
    once any incident is resolved [refund.initial-incident].

    \b
    Example:
      kscli incident open S-1004 --summary "VPN client crashes on start"
    """


def _show(outcome) -> None:
    from kscli.cli.common import show_outcome
    from kscli.views import incident_view

    show_outcome(get_app(), outcome, incident_view, INCIDENT_FIELDS)


@incident.command("open")
@click.argument("sub_id", metavar="SUB", type=p.SUB_ID)
@click.option("--summary", required=True, type=p.TEXT, help="What the customer reported.")
def open_(sub_id, summary):
    """Open an incident on a support plan and print its id and reference.

    \b
    Example:
      kscli incident open S-1004 --summary "printer driver fails after update"
    """
    from kscli.services.incidents import open_incident

    app = get_app()
    _show(open_incident(app.store, sub_id, app.now, summary))


@incident.command("resolve")
@click.argument("incident_id", metavar="INC", type=p.INCIDENT_ID)
def resolve(incident_id):
    """Mark an open incident resolved.

    Once any incident of a support plan is resolved, its first-incident guarantee is
    void [refund.initial-incident].

    \b
    Example:
      kscli incident resolve I-1001
    """
    from kscli.services.incidents import close_incident

    app = get_app()
    _show(close_incident(app.store, incident_id, app.now, "resolved"))


@incident.command("exhaust")
@click.argument("incident_id", metavar="INC", type=p.INCIDENT_ID)
def exhaust(incident_id):
    """Mark an open incident exhausted: every option was tried and it stays unresolved.

    An exhausted first incident makes the support plan refundable in full
    [refund.initial-incident].

    \b
    Example:
      kscli incident exhaust I-1001
    """
    from kscli.services.incidents import close_incident

    app = get_app()
    _show(close_incident(app.store, incident_id, app.now, "exhausted"))


@incident.command("list")
@click.option("--sub", "sub_id", type=p.SUB_ID, metavar="ID", help="Only this subscription's incidents.")
@click.option("--state", "states", type=click.Choice(INCIDENT_STATES), multiple=True,
              help="Only incidents in this state (repeatable).")
@p.listing_options
def list_(sub_id, states, limit, reverse):
    """List incidents, oldest first.

    \b
    Examples:
      kscli incident list --state open
      kscli --format json incident list --sub S-1004
    """
    from kscli.cli.output import emit_list
    from kscli.services.incidents import list_incidents
    from kscli.views import incident_view

    app = get_app()
    incidents = p.limited(list_incidents(app.store, sub_id, tuple(states)), limit, reverse)
    emit_list(
        app.fmt, (incident_view(inc) for inc in incidents),
        [("ID", "id"), ("Subscription", "sub_id"), ("State", "state"), ("Opened", "opened_at"),
         ("Closed", "closed_at"), ("Summary", "summary")],
        table_row=lambda r: [r["id"], r["sub_id"], r["state"], r["opened_at"][:10],
                             r["closed_at"][:10] if r["closed_at"] else "-", r["summary"]],
        empty="no incidents" + (" match" if sub_id or states else " yet"),
    )
