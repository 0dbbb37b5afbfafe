"""`kscli sub`: subscriptions."""

from __future__ import annotations

import click

from kscli.cli import LazyGroup
from kscli.cli import params as p
from kscli.cli.app import get_app
from kscli.cli.common import SUB_FIELDS, confirm_or_refuse, show_outcome, sub_record
from kscli.domain.model import KINDS, SUB_SHOWN_STATUSES, TRIAL

SORT_KEYS = ("id", "vendor", "product", "price", "renewal", "started", "status", "account")


@click.group(cls=LazyGroup)
def sub():
    """Subscriptions: add, list, show, cancel, history, dispute, edit, reprice, void, resume.

    \b
    Example:
      kscli sub add --vendor Acme --product Cloud --plan monthly --price 9.99 --currency USD
    """


@sub.command("add")
@click.option("--vendor", required=True, type=p.TEXT, help="Who bills it.")
@click.option("--product", required=True, type=p.TEXT, help="What it is.")
@click.option("--plan", type=p.PLAN,
              help="monthly, annual, or Nm for N months (once for a one-time software sale).  "
                   "[required, except with --kind software]")
@click.option("--price", required=True, help="Price of one billing period, like 9.99.")
@click.option("--currency", required=True, type=p.CURRENCY, help="ISO 4217 code, like USD.")
@click.option("--kind", type=click.Choice(KINDS), default="subscription",
              show_default=True, help="A recurring service, a support plan, or a one-time software sale.")
@click.option("--account", type=p.TEXT, default="default", show_default=True, help="Whose it is.")
@click.option("--started", type=p.WHEN, help="Start of the first period (default: now).")
@click.option("--commitment", type=p.MONTHS, help="A commitment term such as 12m: no cancelling before it ends.")
@click.option("--no-auto-renew", is_flag=True, help="Do not renew at the end of the period.")
@click.option("--partner", type=p.TEXT, help="The partner it was bought through.")
@click.option("--partner-portal", type=p.TEXT, metavar="URL", help="Where the partner cancels it.")
@click.option("--region", type=p.TEXT, help="Region, for region-specific refund windows (e.g. EU).")
@click.option("--match", "match", type=p.TEXT, multiple=True, metavar="TEXT",
              help="How statements write it, like \"PAYPAL *NETFLIX\" (repeatable): a line "
                   "whose description holds it matches, as the vendor's name does.")
@click.option("--trial", type=p.DURATION,
              help="A free trial from the start, like 14d or 1m: the first charge is at its end "
                   "unless cancelled before (the paid periods count from there).")
@click.option("--notice", type=p.DURATION,
              help="A cancellation notice period, like 30d or 1m: renew off or a cancellation must "
                   "come that long before a renewal (the cancel-by day itself counts) to stop it.")
@click.option("--ends", type=p.WHEN, metavar="DATE",
              help="A fixed end: no renewal at or after it, service ends there.")
def add(vendor, product, plan, price, currency, kind, account, started, commitment, no_auto_renew,
        partner, partner_portal, region, match, trial, notice, ends):
    """Add a subscription and print it with its id.

    With --trial the first period is the free trial (status trial, nothing billed);
    the first charge, and the paid periods and any commitment, start at its end.
    --notice: stopping a renewal (renew off, sub cancel) after its cancel-by day (the
    renewal's UTC date minus the notice) is accepted and takes effect one period
    later [cancel.notice]. `kscli deadlines` lists these dates.

    \b
    Examples:
      kscli sub add --vendor Acme --product "Cloud Pro" --plan annual --price 120 \\
        --currency EUR --commitment 24m
      kscli sub add --vendor Streamly --product Family --plan monthly --price 17.99 \\
        --currency USD --trial 1m --notice 7d
    """
    from kscli.domain.money import MoneyError, parse_price
    from kscli.domain.timeline import state_at
    from kscli.services.subs import add_subscription
    from kscli.views import sub_view

    app = get_app()
    try:
        amount = parse_price(price, currency)
    except MoneyError as exc:
        raise click.BadParameter(str(exc), param_hint="--price") from None
    if plan is None:
        if kind != "software":
            raise click.BadParameter("a plan is needed: monthly, annual or Nm", param_hint="--plan")
        plan = "once"
    if plan == "once" and kind != "software":
        raise click.BadParameter("only a one-time software sale (--kind software) has plan once",
                                 param_hint="--plan")
    _partner_pair(partner, partner_portal)
    outcome = add_subscription(
        app.store, app.now, account=account, vendor=vendor, product=product, plan=plan,
        kind=kind, price=amount, currency=currency, started_at=started or app.now,
        commitment_months=commitment.months if commitment else None,
        auto_renew=not no_auto_renew, partner_name=partner, partner_portal=partner_portal,
        region=region, matches=match, trial=trial, notice=notice, ends=ends,
    )
    # shown as it stands now, as every read shows it: a start in the past has renewed
    # since, a start ahead has not started yet
    show_outcome(app, outcome, lambda sub: sub_view(state_at(sub, app.now)), SUB_FIELDS,
                 lambda sub: sub_record(state_at(sub, app.now)))


def _partner_pair(partner, partner_portal) -> None:
    """A partner is given with its portal (where it cancels): `sub add` and `sub edit`."""
    if bool(partner) != bool(partner_portal):
        raise click.BadParameter("give --partner and --partner-portal together",
                                 param_hint="--partner")


@sub.command("list")
@click.option("--status", type=click.Choice(SUB_SHOWN_STATUSES),
              multiple=True, help="Only these statuses (repeatable); ending = auto-renew off; "
                                  "void lists the voided ones.")
@click.option("--include-void", is_flag=True,
              help="Also list subscriptions voided as entered by mistake (never in the totals).")
@click.option("--vendor", help=f"Only this vendor ({p.WORD_RULE}).")
@click.option("--product", help="Only this product (whole words, any case and accents).")
@click.option("--account", help="Only this account (whole words, any case and accents).")
@click.option("--search", metavar="TEXT",
              help="Only those with TEXT in the vendor, product, account or id (any part of "
                   "a word, any case and accents).")
@p.within_option("renewing-within",
                 "Only active subscriptions whose period ends within this time, like 7d.")
@click.option("--sort", type=click.Choice(SORT_KEYS), default="id", show_default=True)
@p.listing_options
@p.as_of_option
def list_(status, include_void, vendor, product, account, search, within, renewing_within, sort,
          limit, reverse, as_of):
    """List subscriptions as they stand now (or --as-of), with totals per currency.

    Renewals and expiries due by then count whether or not `kscli sweep` has recorded
    them. --as-of in the past shows what held then: what was recorded later (a
    cancellation, a renewal, auto-renew turned off) is left out, and a subscription
    that had not started yet is listed as not-started; in the future it projects
    renewals and expiries.

    Totals count what will bill again (active, auto-renew on or inside a commitment),
    per currency; amounts in different currencies are never added together (they
    count every subscription listed, whatever --limit shows).

    --vendor, --product and --account match whole words, whatever the case and
    accents: `--vendor acme` finds "Acme Cloud" but not "Acmeware", `--vendor "cloud
    pro"` finds "Acme Cloud Pro". --search finds any part of a word.

    --format jsonl of an SQLite ledger of 20,000 or more, sorted by id, runs in two
    processes where kscli has two cores: the same lines from one snapshot, in a little
    over half the time and as much CPU time (KSCLI_JOBS=1 keeps it in one).

    \b
    Examples:
      kscli sub list --status active --sort renewal --limit 5
      kscli --format json sub list --vendor acme --as-of 2027-01-01
      kscli sub list --search cloud
    """
    from kscli.cli.output import emit_list, stored_lines, write_json
    from kscli.services.subs import states_at, total_by_currency
    from kscli.views import SUB_FIELDS, sub_view

    from kscli.domain.model import VOID
    from kscli.domain.words import contains_text

    app = get_app()
    now = as_of or app.now
    renewing_within = p.within_of(within, renewing_within)
    wanted = set(status)
    until = renewing_within.add_to(now) if renewing_within else None
    order = {"renewal": ("period_end", "id"), "started": ("started_at", "id"),
             "price": ("currency", "id"), "id": ("id",)}.get(sort, (sort, "id"))
    past = now < app.now
    hide_void = not include_void and VOID not in wanted

    def listed(ledger, bounds):
        # Each state comes with its row: a streamed listing takes the stored row's
        # times as they are (a new row only where the state differs from the record).
        # (a record is void from when it was voided on: only the past needs its state)
        pairs = states_at(ledger, now, past=past, renewing_until=until, vendor=vendor,
                          product=product, account=account, order=order,
                          without_void=hide_void and not past, **bounds)
        if hide_void and past:
            pairs = ((s, row) for s, row in pairs if s.status != VOID)
        if wanted:
            pairs = ((s, row) for s, row in pairs if s.display_status in wanted)
        if search:
            pairs = ((s, row) for s, row in pairs
                     if any(contains_text(text, search)
                            for text in (s.sub.vendor, s.sub.product, s.sub.account, s.sub.id)))
        return pairs

    from kscli.domain.model import SUBSCRIPTION

    width = len(SUBSCRIPTION.fields)

    def json_lines(end):  # straight from the stored rows, no dict between
        return stored_lines(SUB_FIELDS, width, end)

    if app.fmt == "jsonl" and sort == "id" and limit is None and not reverse:
        from kscli.cli.halves import list_in_halves

        # a long listing of SQLite, in two processes where two cores are free
        list_in_halves(app.store, lambda ledger, bounds: write_json(
            app.fmt, listed(ledger, bounds), json_lines))
        return
    with app.store.read() as ledger:
        pairs = listed(ledger, {})
        if sort in ("price", "renewal", "status"):  # what the state says, not the record
            key = {"price": lambda pair: (pair[0].sub.currency, pair[0].sub.price),
                   "renewal": lambda pair: (pair[0].sub.period_end is not None,
                                            pair[0].sub.period_end or now),
                   "status": lambda pair: pair[0].status}[sort]
            pairs = sorted(pairs, key=key)
        everything = None
        if limit is not None or reverse:
            if app.fmt == "table":  # the totals count every one listed, shown or not
                pairs = list(pairs)
                everything = [s for s, _ in pairs]
            pairs = p.limited(pairs, limit, reverse)
        if app.fmt in ("json", "jsonl"):
            write_json(app.fmt, pairs, json_lines)
            return
        if app.fmt == "csv":
            emit_list(app.fmt, (sub_view(s, row) for s, row in pairs), [(k, k) for k in CSV_KEYS])
            return
        found = [s for s, _ in pairs]
        footer = []
        if app.fmt == "table":
            counted = everything if everything is not None else found
            for currency, (monthly, yearly, n) in total_by_currency(counted).items():
                footer.append(f"total {currency}: {monthly} a month, {yearly} a year ({n} renewing)")
        emit_list(
            app.fmt, found,
            [("ID", "id"), ("Vendor", "vendor"), ("Product", "product"), ("Plan", "plan"),
             ("Price", "price"), ("Status", "status"), ("Renews / ends", "next"),
             ("Account", "account")],
            table_row=_row, footer=([""] + footer) if footer else (),
            empty="no subscriptions" + (" match" if wanted or vendor or product or account or search
                                        or until or limit == 0 else
                                        f" in {ledger.location} yet (add one with `kscli sub add`)"),
        )


CSV_KEYS = ("id", "account", "vendor", "product", "plan", "kind", "price", "currency", "status",
            "display_status", "auto_renew", "started_at", "period_start", "period_end",
            "commitment_end", "ends_at", "channel", "partner_name", "partner_portal", "region",
            "disputed", "trial", "trial_ends_at", "notice", "cancel_by", "ends")


def renews_or_ends(state) -> str:
    """The "Renews / ends" column: the next renewal, the end, or both (a plan that keeps
    renewing inside its commitment after auto-renew was turned off)."""
    from kscli.views import day

    sub = state.sub
    if not state.started:
        text = f"starts {day(sub.started_at)}"
        return text + (f", renews {day(sub.period_end)}" if state.renews and state.ends_at is None
                       else f", ends {day(state.ends_at)}" if state.ends_at else "")
    if state.renews:
        text = (f"first charge {day(sub.period_end)}" if state.display_status == TRIAL
                else f"renews {day(sub.period_end)}")
        return text + (f", ends {day(state.ends_at)}" if state.ends_at else "")
    if sub.period_end is None and sub.status == "active":
        return "one-time"
    if state.ends_at is None:
        return "-"
    return ("ends " if sub.status in ("active", "cancelled") else "ended ") + day(state.ends_at)


def _row(state):
    sub = state.sub
    status = state.display_status
    if sub.disputed:
        status += " (disputed)"
    return [sub.id, sub.vendor, sub.product, sub.plan, f"{sub.price} {sub.currency}", status,
            renews_or_ends(state), sub.account]


@sub.command("show")
@click.argument("sub_id", metavar="ID", type=p.SUB_ID)
@p.as_of_option
def show(sub_id, as_of):
    """Show one subscription as it stands now (or --as-of).

    Renewals and expiries due by then count whether or not `kscli sweep` has recorded
    them; --as-of in the past leaves out what was recorded later, and shows a
    subscription that had not started yet as not-started.

    \b
    Example:
      kscli sub show S-1001 --as-of 2027-06-01
    """
    from kscli.cli.output import emit_list, emit_object
    from kscli.domain.timeline import state_at
    from kscli.views import sub_view

    app = get_app()
    now = as_of or app.now
    with app.store.read() as ledger:
        found = ledger.require_sub(sub_id)
        history = list(ledger.events(sub_id)) if now < app.now else None
    state = state_at(found, now, history)
    if app.json:
        emit_object(app.fmt, sub_view(state))
    elif app.fmt == "csv":  # the columns and times of `sub list`'s CSV
        emit_list(app.fmt, [sub_view(state)], [(k, k) for k in CSV_KEYS])
    else:
        emit_object(app.fmt, sub_record(state), fields=SUB_FIELDS)


@sub.command("cancel")
@click.argument("sub_id", metavar="ID", type=p.SUB_ID)
@click.option("--immediately", is_flag=True, help="End service now (still no refund for unused time).")
@click.option("--at-partner", "at_partner", metavar="REF", type=p.TEXT,
              help="Record a cancellation made in the partner's portal, with its reference.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed off a terminal).")
def cancel(sub_id, immediately, at_partner, yes):
    """Cancel a subscription: service runs to the end of the paid period.

    Cancelling never refunds by itself [cancel.anytime]; a plan inside its commitment
    cannot be cancelled before the commitment ends [cancel.commitment]; a partner
    purchase is cancelled in the partner's portal [cancel.partner].

    \b
    Examples:
      kscli sub cancel S-1001 --yes
      kscli sub cancel S-1002 --at-partner PX-7781 --yes
    """
    from kscli.services.subs import cancel as cancel_sub
    from kscli.views import sub_view

    app = get_app()
    what = "end its service now" if immediately else "stop its renewal at the end of the period"
    confirm_or_refuse(f"Cancel {sub_id} and {what}?", yes)
    outcome = cancel_sub(app.store, sub_id, app.now, immediately=immediately, at_partner=at_partner,
                         policy=app.policy)
    show_outcome(app, outcome, sub_view, SUB_FIELDS, sub_record)


@sub.command("history")
@click.argument("sub_id", metavar="ID", type=p.SUB_ID)
def history(sub_id):
    """Show every event of a subscription, with its reference number.

    The events of its incidents and license keys are shown with it, in the order
    they happened (the Subject column names which record each is about).

    \b
    Example:
      kscli sub history S-1001
    """
    from kscli.cli.common import emit_events

    app = get_app()
    with app.store.read() as ledger:
        ledger.require_sub(sub_id)
        events = list(ledger.events_about(sub_id))
    emit_events(app, events)


@sub.command("dispute")
@click.argument("sub_id", metavar="ID", type=p.SUB_ID)
@click.option("--note", type=p.TEXT, help="What the bank or card issuer said.")
def dispute(sub_id, note):
    """Record a chargeback or bank dispute: a flag, not a cancellation [cancel.direct].

    \b
    Example:
      kscli sub dispute S-1001 --note "card issuer case 55121"
    """
    from kscli.services.subs import dispute as dispute_sub
    from kscli.views import sub_view

    app = get_app()
    outcome = dispute_sub(app.store, sub_id, app.now, note, policy=app.policy)
    show_outcome(app, outcome, sub_view, SUB_FIELDS, sub_record)


@sub.command("edit")
@click.argument("sub_id", metavar="ID", type=p.SUB_ID)
@click.option("--vendor", type=p.TEXT, help="Who bills it.")
@click.option("--product", type=p.TEXT, help="What it is.")
@click.option("--account", type=p.TEXT, help="Whose it is.")
@click.option("--region", type=p.TEXT, help="Region, for region-specific refund windows.")
@click.option("--partner", type=p.TEXT, help="The partner it was bought through (with --partner-portal).")
@click.option("--partner-portal", type=p.TEXT, metavar="URL", help="Where the partner cancels it.")
@click.option("--plan", type=p.PLAN,
              help="A new plan (monthly, annual or Nm) from the next renewal; no proration.")
@click.option("--match", "match", type=p.TEXT, multiple=True, metavar="TEXT",
              help="Add a way statements write it (repeatable).")
@click.option("--no-match", "no_match", type=p.TEXT, multiple=True, metavar="TEXT",
              help="Remove one (repeatable).")
@click.option("--trial", type=p.DURATION,
              help="A free trial from the start, like 14d (only before the first charge).")
@click.option("--no-trial", "no_trial", is_flag=True, help="Clear the free trial (same rule).")
@click.option("--notice", type=p.DURATION, help="A cancellation notice period, like 30d.")
@click.option("--no-notice", "no_notice", is_flag=True, help="Clear the notice period.")
@click.option("--ends", type=p.WHEN, metavar="DATE",
              help="A fixed end: no renewal at or after it.")
@click.option("--no-ends", "no_ends", is_flag=True, help="Clear the fixed end.")
def edit(sub_id, vendor, product, account, region, partner, partner_portal, plan, match,
         no_match, trial, no_trial, notice, no_notice, ends, no_ends):
    """Correct a subscription's facts: one event with the fields before and after.

    Only the fields given change; its periods, price, status, keys and charges stay
    as they are. --plan takes effect at the next renewal: the current period is not
    billed again (no proration), and `sub show` lists the plan from that date. A value `sub add` refuses is refused the same way (exit 2, nothing
    written); a void subscription cannot change (exit 4). --partner and
    --partner-portal go together, and make the channel partner. --trial, --notice
    and --ends set the free trial, notice period and fixed end, and --no-trial,
    --no-notice and --no-ends clear them; a trial can change only before the first
    charge (its first period moves to the trial's end), a fixed end must come after
    the current period's start (exit 4 otherwise).

    \b
    Examples:
      kscli sub edit S-1001 --account "Globex Ltd"
      kscli sub edit S-1001 --plan annual
      kscli sub edit S-1003 --match "PAYPAL *NETFLIX" --no-match NETFLIX.COM
      kscli sub edit S-1002 --partner Northwind --partner-portal https://portal.example
      kscli sub edit S-1001 --notice 30d --no-ends
    """
    from kscli.services.corrections import edit as edit_sub
    from kscli.views import sub_view

    _partner_pair(partner, partner_portal)
    terms = {}
    for name, value, clear in (("trial", trial, no_trial), ("notice", notice, no_notice),
                               ("ends", ends, no_ends)):
        if value is not None and clear:
            raise click.BadParameter(f"give --{name} or --no-{name}, not both",
                                     param_hint=f"--{name}")
        if value is not None or clear:
            terms[name] = value
    app = get_app()
    outcome = edit_sub(app.store, sub_id, app.now, vendor=vendor, product=product,
                       account=account, region=region, partner_name=partner,
                       partner_portal=partner_portal, plan=plan, match=match,
                       no_match=no_match, terms=terms)
    show_outcome(app, outcome, sub_view, SUB_FIELDS, sub_record)


@sub.command("void")
@click.argument("sub_id", metavar="ID", type=p.SUB_ID)
@click.option("--reason", required=True, type=p.TEXT, help="Why it was a mistake (kept in its history).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed off a terminal).")
def void(sub_id, reason, yes):
    """Void a subscription entered by mistake (a duplicate, a wrong customer).

    It leaves listings (`sub list --include-void` shows it), totals, renewals, `sweep`
    and charge matching, and can no longer change; its history stays, with the void
    event. Charges matched to it are unmatched (importing their statement again
    matches them to the right subscription); its license keys stay tied to it. The
    message and the event name both.

    \b
    Example:
      kscli sub void S-1003 --reason "duplicate of S-1002" --yes
    """
    from kscli.services.corrections import void as void_sub
    from kscli.views import sub_view

    app = get_app()
    confirm_or_refuse(f"Void {sub_id} as entered by mistake?", yes)
    outcome = void_sub(app.store, sub_id, app.now, reason)
    show_outcome(app, outcome, sub_view, SUB_FIELDS, sub_record)


@sub.command("resume")
@click.argument("sub_id", metavar="ID", type=p.SUB_ID)
@click.option("--at-partner", "at_partner", metavar="REF", type=p.TEXT,
              help="Record a resumption made in the partner's portal, with its reference.")
def resume(sub_id, at_partner):
    """Undo a cancellation while service still runs: active again, auto-renew on.

    Only before the end of the paid period [cancel.end-of-term]: after it the service
    has ended and `kscli sub add` records it anew. A partner purchase is resumed in
    the partner's portal and recorded with --at-partner REF [cancel.partner].

    \b
    Examples:
      kscli sub resume S-1001
      kscli sub resume S-1002 --at-partner PX-7790
    """
    from kscli.services.corrections import resume as resume_sub
    from kscli.views import sub_view

    app = get_app()
    outcome = resume_sub(app.store, sub_id, app.now, at_partner=at_partner, policy=app.policy)
    show_outcome(app, outcome, sub_view, SUB_FIELDS, sub_record)


@sub.command("reprice")
@click.argument("sub_id", metavar="ID", type=p.SUB_ID)
@click.option("--price", required=True, help="The new price of one billing period, like 12.99.")
@click.option("--from", "since", type=p.WHEN, metavar="DATE",
              help="In force from this date (default: the start of the next period).")
def reprice(sub_id, price, since):
    """Record a new price, in force from a date; the price history is kept.

    Totals use the price in force now, renewals (their expected charge) and charge
    matching the price in force on their date, refunds the price a period was billed
    at (the one in force at its start). A date inside the current period is allowed:
    that period was billed at the old price and is not billed again (no proration).
    A date before the subscription started is refused. `sub show` lists the history.

    \b
    Examples:
      kscli sub reprice S-1001 --price 12.99
      kscli sub reprice S-1001 --price 12.99 --from 2027-01-01
    """
    from kscli.domain.timeline import state_at
    from kscli.services.corrections import reprice as reprice_sub
    from kscli.views import sub_view

    app = get_app()
    outcome = reprice_sub(app.store, sub_id, app.now, price, since)
    show_outcome(app, outcome, lambda sub: sub_view(state_at(sub, app.now)), SUB_FIELDS,
                 lambda sub: sub_record(state_at(sub, app.now)))


sub.lazy["import"] = ("kscli.cli.sub_import", "import_", "Bring subscriptions in from a CSV list or a Wallos export.")  # noqa: E501
