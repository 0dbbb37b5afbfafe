"""`kscli renew`: auto-renewal."""

from __future__ import annotations

import click

from kscli.cli import LazyGroup
from kscli.cli import params as p
from kscli.cli.app import get_app
from kscli.cli.common import SUB_FIELDS, show_outcome, sub_record


@click.group(cls=LazyGroup)
def renew():
    """Auto-renewal: turn it off or on, list what renews soon.

    \b
    Example:
      kscli renew off S-1001
    """


@renew.command("off")
@click.argument("sub_id", metavar="ID", type=p.SUB_ID)
def off(sub_id):
    """Turn auto-renew off: service runs to the end of the paid period, billing stops.

    Inside a commitment it takes effect when the commitment ends [cancel.commitment].

    \b
    Example:
      kscli renew off S-1001
    """
    from kscli.services.subs import renew_off
    from kscli.views import sub_view

    app = get_app()
    show_outcome(app, renew_off(app.store, sub_id, app.now, app.policy), sub_view, SUB_FIELDS, sub_record)


@renew.command("on")
@click.argument("sub_id", metavar="ID", type=p.SUB_ID)
def on(sub_id):
    """Turn auto-renew back on (before the period ends).

    \b
    Example:
      kscli renew on S-1001
    """
    from kscli.services.subs import renew_on
    from kscli.views import sub_view

    app = get_app()
    show_outcome(app, renew_on(app.store, sub_id, app.now, app.policy), sub_view, SUB_FIELDS, sub_record)


@renew.command("due")
@click.option("--within", type=p.DURATION, default="7d", show_default=True, metavar="DURATION",
              help="How far ahead to look: 7d, 2w, 1m.")
@p.listing_options
@p.as_of_option
def due(within, limit, reverse, as_of):
    """List active subscriptions whose period ends soon: what renews, what ends.

    Counted from now (or --as-of) as the subscriptions stand then: renewals due
    before it count whether or not `kscli sweep` has recorded them, so a plan whose
    last recorded period ended long ago is listed at its next renewal.

    \b
    Example (a cron reminder):
      kscli renew due --within 7d
    """
    from kscli.cli.output import emit_list
    from kscli.domain.calendar import iso
    from kscli.services.subs import renewing

    app = get_app()
    now = as_of or app.now
    until = within.add_to(now)

    def records():
        for state in renewing(app.store, now, until, past=now < app.now):
            sub, renews = state.sub, state.renews
            yield {"id": sub.id, "vendor": sub.vendor, "product": sub.product,
                   "account": sub.account, "price": str(sub.price), "currency": sub.currency,
                   "period_end": iso(sub.period_end),
                   "renews": renews, "action": "renews" if renews else "ends"}

    emit_list(
        app.fmt, p.limited(records(), limit, reverse),
        [("ID", "id"), ("Vendor", "vendor"), ("Product", "product"), ("On", "period_end"),
         ("What", "action"), ("Charge", "price"), ("Account", "account")],
        table_row=lambda r: [r["id"], r["vendor"], r["product"], r["period_end"][:10], r["action"],
                             f"{r['price']} {r['currency']}" if r["renews"] else "-", r["account"]],
        empty=f"nothing renews or ends within {within}",
    )
