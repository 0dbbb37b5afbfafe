"""`kscli deadlines`, `kscli calendar`, `kscli remind`: every decision date ahead."""

from __future__ import annotations

import click

from kscli.cli import params as p
from kscli.cli.app import get_app

_COLUMNS = [("Date", "date"), ("In", "days"), ("Kind", "kind"), ("Subject", "subject"),
            ("Vendor", "vendor"), ("Product", "product"), ("If nothing is done", "happens"),
            ("To act", "command")]
_WHOLE = ("subject", "command")


def _within(default: str, text: str):
    return click.option("--within", type=p.DURATION, default=default, show_default=True,
                        metavar="DURATION", help=text)


def _upcoming(app, now, within):
    from kscli.services.deadlines import upcoming

    return upcoming(app.store, now, within.add_to(now), app.policy, past=now < app.now)


def _cells(record: dict) -> list:
    """A table's or plain text's cells of a deadline's JSON object."""
    from kscli.domain.deadlines import in_days

    return [record["date"], in_days(record["days"]), record["kind"], record["subject"],
            record["vendor"], record["product"], record["happens"], record["command"]]


def _emit(app, found, now, empty: str, limit=None, reverse=False) -> None:
    from kscli.cli.output import emit_list

    emit_list(app.fmt, p.limited((d.to_dict(now) for d in found), limit, reverse), _COLUMNS,
              table_row=_cells, empty=empty, whole=_WHOLE)


@click.command("deadlines")
@_within("30d", "How far ahead to look (whole UTC days): 7d, 2w, 1m, 1y.")
@p.listing_options
@p.as_of_option
def deadlines(within, limit, reverse, as_of):
    """Every decision date ahead, soonest first: what happens if nothing is done.

    Free trials ending (the first charge), the last days to cancel before a renewal
    with a notice period, renewals (and what they charge), service ends (auto-renew
    off, cancelled) and fixed ends, commitment ends, money-back windows closing (the
    policy's days for the plan and region, as `kscli refund check` counts them) and
    the last days to activate keys.
    Each row names the command that acts on it and the policy clause that decides it.
    A deadline counts when its UTC day is from today up to the day --within reaches,
    both included. --format json gives each with a stable `uid`.

    \b
    Example:
      kscli deadlines --within 30d
      kscli deadlines --as-of 2027-01-01 --format json
    """
    app = get_app()
    now = as_of or app.now
    found = _upcoming(app, now, within)
    _emit(app, found, now, f"no deadline within {within}", limit, reverse)


@click.command("calendar")
@click.option("-o", "--output", metavar="FILE.ics",
              help="Write the calendar to this file (private, 0600, replaced whole); "
                   "default: stdout.")
@_within("1y", "How far ahead the calendar reaches: 3m, 1y.")
@click.option("--alarm", type=p.DURATION, default="3d", show_default=True, metavar="DURATION",
              help="Each event's reminder, this long before its day: in days or weeks (7d, 1w).")
@p.as_of_option
def calendar(output, within, alarm, as_of):
    """The deadlines as an iCalendar (RFC 5545) file, for a calendar application.

    One all-day event per deadline on its UTC day, with an alarm before it, a summary
    and a description saying what happens and what to do. Each event has a stable UID
    (kind, record id and period, never the date), and SEQUENCE and LAST-MODIFIED grow
    when the record changes, so importing a newer file updates the events in place.
    Refresh it from cron and subscribe to the file.

    \b
    Example:
      kscli calendar -o ~/calendars/kscli.ics --within 1y --alarm 3d
    """
    if alarm.unit not in ("d", "w"):
        raise click.BadParameter(f"{alarm} is not in days or weeks: an iCalendar alarm "
                                 "has no months or years (write 30d or 4w)",
                                 param_hint="'--alarm'")
    from kscli import __version__, ical
    from kscli.services.deadlines import revisions

    if output not in (None, "-"):
        from kscli.store.fs import check_place

        check_place(output, writing=True, option="-o", example="kscli.ics")
    app = get_app()
    now = as_of or app.now
    found = _upcoming(app, now, within)
    text = ical.render(found, revisions(app.store, [d.subject for d in found]), now=app.now,
                       alarm=alarm, version=__version__)
    if output in (None, "-"):
        click.echo(text, nl=False)
        return
    from kscli.cli.output import note
    from kscli.store.fs import atomic_write, ensure_folder, write_errors

    with write_errors(output):  # a new private folder (0700), the file 0600, replaced whole
        ensure_folder(output)
        atomic_write(output, text.encode("utf-8"))
    if not app.quiet:
        note(f"wrote {len(found)} deadline{'s' if len(found) != 1 else ''} to {output}")


def digest(found, now, within) -> tuple[str, str]:
    """(title, text) of a reminder: one paragraph per deadline."""
    from kscli.domain.deadlines import in_days

    first = found[0]
    many = f"{len(found)} deadlines" if len(found) != 1 else "1 deadline"
    title = f"kscli: {many} within {within}, the first {in_days(first.days_from(now))} " \
            f"({first.day.isoformat()})"
    lines = [title, ""]
    for d in found:
        what = " ".join(x for x in (d.vendor, d.product) if x)
        lines.append(f"{d.day.isoformat()} ({in_days(d.days_from(now))})  {d.subject} {what}: "
                     f"{d.happens}")
        lines.append(f"    to act: {d.command}  [{d.clause}]")
    return title, "\n".join(lines) + "\n"


@click.command("remind")
@_within("7d", "Remind of the deadlines this far ahead (whole UTC days).")
@click.option("--notify", "addresses", multiple=True, metavar="URL",
              help="Also send the digest here (repeatable): https:// or http:// (a JSON "
                   "POST), ntfy://HOST/TOPIC, mailto:ADDRESS (through KSCLI_SMTP_URL).")
@click.option("--again", is_flag=True, help="Remind of every deadline in the window, even "
                                            "those reminded already.")
def remind(within, addresses, again):
    """For cron: a digest of the deadlines ahead not reminded yet; nothing when none.

    Each deadline is reminded once per channel: stdout is one (left out with
    --quiet), each --notify address another; a reminder is recorded in the ledger as
    an event of the deadline's record. A deadline that moves to another day is
    reminded again. A delivery that fails exits 1 with the reason, and nothing is
    recorded as reminded on that channel: the next run sends it again. Passwords and
    tokens in an address never appear in messages or the ledger.
    Mail goes through KSCLI_SMTP_URL (smtp://USER@HOST:PORT; STARTTLS whenever the
    server offers it, required to send a password), the password from
    KSCLI_SMTP_PASSWORD or the keyring (service kscli-smtp, user USER@HOST).

    \b
    Example (crontab, every morning at 8):
      0 8 * * *  kscli remind --within 7d --notify mailto:me@example.com
    """
    from kscli import notify
    from kscli.domain.errors import BadValue
    from kscli.services import deadlines as service

    addresses = tuple(dict.fromkeys(addresses))  # the same address twice is one channel
    for address in addresses:
        why = notify.problem(address)
        if why:
            raise BadValue(why, code="bad-notify")
    app = get_app()
    now = app.now
    found = _upcoming(app, now, within)
    channels = ([] if app.quiet else [service.STDOUT]) + [
        service.channel(address, notify.shown(address)) for address in addresses]
    pending = ({ch: list(found) for ch in channels} if again
               else service.not_reminded(app.store, found, channels))
    failures = []
    for ch, address in zip(channels, ([None] if not app.quiet else []) + list(addresses)):
        due = pending.get(ch, [])
        if not due:
            continue
        title, text = digest(due, now, within)
        if address is None:
            if app.fmt in ("table", "plain"):
                from kscli.cli.output import clean

                for line in text.splitlines():  # controls in a name shown as escapes
                    click.echo(clean(line))
            else:
                _emit(app, due, now, "")
        else:
            try:
                notify.send(address, title, text, [d.to_dict(now) for d in due])
            except notify.DeliveryFailed as failed:
                failures.append(failed)
                continue
        service.record_reminded(app.store, now, due, ch)
    if failures:
        from kscli.cli.output import note

        for failed in failures[1:]:
            note(f"Error: {failed.message}")
        raise failures[0]
