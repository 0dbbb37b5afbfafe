"""`kscli charges`: bank or card statements held against the ledger."""

from __future__ import annotations

import sys

import click

from kscli.cli import LazyGroup
from kscli.cli import params as p
from kscli.cli.app import get_app

# A statement with at least this many lines shows progress (on a terminal only).
PROGRESS_FROM = 500
# An import lists at most this many unmatched lines (`charges list --unmatched` has all).
SHOW_UNMATCHED = 50

CHARGE_KEYS = ("id", "posted_on", "description", "amount", "currency", "sub_id", "statement",
               "imported_at")
FINDING_KEYS = ("kind", "sub_id", "charge_id", "posted_on", "amount", "currency",
                "service_ended", "reference", "message")
_KIND_WORDS = {
    "after-cancellation": "after cancellation",
    "after-renew-off": "after auto-renew off",
    "after-refund": "after refund",
    "duplicate": "twice in one period",
}


@click.group(cls=LazyGroup)
def charges():
    """Bank or card statements held against the ledger: import, list, check.

    \b
    Example (import a statement, then look for charges that should not have happened):
      kscli charges import statement.csv && kscli charges check
    """


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


@charges.command("import")
@click.argument("file", type=p.INPUT_FILE, metavar="FILE.csv")
@click.option("--date-col", default="date", show_default=True, metavar="NAME",
              help="The column holding the booking date.")
@click.option("--description-col", default="description", show_default=True, metavar="NAME",
              help="The column holding the text that names the vendor.")
@click.option("--amount-col", default="amount", show_default=True, metavar="NAME",
              help="The column holding the amount (debits may be negative).")
@click.option("--currency-col", default=None, metavar="NAME",
              help="The column holding the currency code.  [default: currency, if the file "
                   "has one]")
@click.option("--date-format", metavar="FMT",
              help="How the dates are written, as a strptime format like %d.%m.%Y.  "
                   "[default: ISO 8601, 2026-11-22]")
@click.option("--delimiter", metavar="D",
              help="The column separator: , ; | or tab.  [default: guessed]")
@click.option("--currency", "default_currency", type=p.CURRENCY,
              help="The currency of lines that name none, like EUR.")
def import_(file, date_col, description_col, amount_col, currency_col, date_format, delimiter,
            default_currency):
    """Import a bank or card statement (CSV) and match its lines to subscriptions.

    A line matches a subscription when the vendor's name appears in its description
    and the amount and currency equal the subscription's price. When some amounts are
    negative, those are the charges and the positive lines (credits) are skipped. The
    whole file is read first: one bad line stops the import with the line and column named, and nothing
    is imported. Importing the same statement twice adds nothing the second time.
    FILE.csv may be - to read standard input.

    \b
    Examples:
      kscli charges import statement.csv
      kscli charges import umsaetze.csv --date-col Buchungstag \\
        --description-col Verwendungszweck --amount-col Betrag --currency-col Währung \\
        --date-format %d.%m.%Y
    """
    import os

    from kscli.domain.statement import Columns
    from kscli.services.charges import import_statement, read_statement

    app = get_app()
    name = getattr(file, "name", "-")
    statement = "stdin" if name in ("-", "<stdin>") else os.path.basename(str(name))
    # a file name need not be UTF-8; the name kept with each charge is (U+FFFD for the rest)
    statement = statement.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    columns = Columns(date=date_col, description=description_col, amount=amount_col,
                      date_format=date_format or None, delimiter=delimiter,
                      **({"currency": currency_col} if currency_col is not None else {}))
    lines = read_statement(file.read(), statement, columns, default_currency)
    from kscli.domain.statement import future_warning

    warning = future_warning(lines, app.now)
    if warning:
        from kscli.cli.output import note

        note(f"{statement}: {warning}")

    if len(lines) >= PROGRESS_FROM and not app.quiet and _stderr_is_terminal():
        with click.progressbar(length=len(lines), label=f"importing {statement}",
                               file=sys.stderr) as bar:
            report = import_statement(app.store, app.now, lines, statement, progress=bar.update)
    else:
        report = import_statement(app.store, app.now, lines, statement)
    _show_import(app, report)


def _show_import(app, report) -> None:
    from kscli.cli.output import clean, emit_list, emit_object, note, out
    from kscli.views import charge_view

    counts = report.counts
    summary = (f"{report.statement}: imported {counts['imported']}, matched {counts['matched']}, "
               f"unmatched {counts['unmatched']}, already present {counts['already_present']}")
    if counts["rematched"]:
        summary += f" ({counts['rematched']} of them matched now)"
    if not report.lines:
        summary = (f"{report.statement}: no charges in it (credits and lines of zero are "
                   "skipped)")
    reference = report.event.reference if report.event else None
    if app.quiet:
        return
    if app.fmt in ("json", "jsonl", "csv"):
        doc = {"statement": report.statement, **counts, "reference": reference}
        if app.fmt != "csv":
            doc["charges"] = [charge_view(charge) for _, charge in report.imported]
        emit_object(app.fmt, doc)
        if report.event is None:
            note(f"{summary}; nothing changed")
        return
    if report.event is None:
        note(f"{summary}; nothing changed")
        return
    out(clean(summary))
    out(f"reference {reference}")
    unmatched = report.unmatched
    if unmatched:
        out("")
        out("unmatched lines (no subscription with that vendor and amount):")
        emit_list(app.fmt, unmatched[:SHOW_UNMATCHED],
                  [("Line", "line"), ("Charge", "id"), ("Date", "date"), ("Description", "text"),
                   ("Amount", "amount")],
                  table_row=lambda item: [str(item[0]), item[1].id,
                                          item[1].posted_on.isoformat(), item[1].description,
                                          f"{item[1].amount} {item[1].currency}"])
        if len(unmatched) > SHOW_UNMATCHED:
            out(f"... and {len(unmatched) - SHOW_UNMATCHED} more: "
                f"kscli charges list --unmatched")
        note("a line that pays for a subscription needs it in the ledger: add it with "
             "`kscli sub add`, then import the statement again to match it")


@charges.command("list")
@click.option("--unmatched", is_flag=True, help="Only charges that match no subscription.")
@click.option("--sub", "sub_id", type=p.SUB_ID, metavar="ID", help="Only this subscription's charges.")
@click.option("--since", type=p.WHEN, metavar="DATE", help="Only charges posted on or after this date.")
@p.listing_options
@p.as_of_option
def list_(unmatched, sub_id, since, limit, reverse, as_of):
    """List imported charges, oldest first, with totals per currency.

    With --as-of, only the charges posted by that date.

    \b
    Examples:
      kscli charges list --unmatched
      kscli --format json charges list --sub S-1001
    """
    from kscli.cli.output import emit_list
    from kscli.services.charges import list_charges
    from kscli.views import charge_view

    app = get_app()
    found = list_charges(app.store, sub_id=sub_id, unmatched=unmatched,
                         since=since.date() if since else None,
                         until=as_of.date() if as_of else None)
    found = list(p.limited(found, limit, reverse))
    if app.fmt in ("json", "jsonl", "csv"):
        emit_list(app.fmt, (charge_view(c) for c in found), [(k, k) for k in CHARGE_KEYS])
        return
    footer: list[str] = []
    if app.fmt == "table" and found:
        totals: dict[str, list] = {}
        for charge in found:
            total = totals.setdefault(charge.currency, [0, 0])
            total[0] += charge.amount
            total[1] += 1
        footer = [""] + [f"total {currency}: {amount} ({n} charge{'s' if n != 1 else ''})"
                         for currency, (amount, n) in sorted(totals.items())]
    filtered = unmatched or sub_id or since or as_of
    emit_list(
        app.fmt, found,
        [("ID", "id"), ("Date", "posted_on"), ("Description", "description"),
         ("Amount", "amount"), ("Sub", "sub_id"), ("Statement", "statement")],
        table_row=lambda c: [c.id, c.posted_on.isoformat(), c.description,
                             f"{c.amount} {c.currency}", c.sub_id or "unmatched", c.statement],
        footer=footer,
        empty="no charges match" if filtered else
              "no charges yet (import a statement with `kscli charges import FILE.csv`)",
    )


@charges.command("check")
@click.option("--since", type=p.WHEN, metavar="DATE",
              help="Only report charges posted on or after this date.")
@p.as_of_option
def check(since, as_of):
    """Report every charge that should not have happened; exit 1 if there is any.

    Flags a charge after a cancellation ended the service, after auto-renew was turned
    off and the period ended, on or after a refund, or a second charge in one billing
    period. Each finding names the reference of the cancellation (or refund, or
    renew-off) to show the bank as proof. A dispute with the bank is not a
    cancellation. Read-only; exits 0 with "no unexpected charges" when all is well.

    The renewal day belongs to the next period: after auto-renew was turned off or a
    cancellation at the end of the term, a charge dated on or after the UTC date on
    which the next period would have started is flagged; a charge on the last day of
    the paid period is not. Inside a commitment that date is the first renewal on or
    after the commitment's end. After `sub cancel --immediately`, a charge on the day
    service ended is not flagged, one the day after is.

    Subscriptions are taken as they stand now (or --as-of: renewals and expiries due
    by then count whether or not `kscli sweep` has recorded them; a charge posted
    later, or a cancellation recorded later, is left out).

    \b
    Examples:
      kscli charges check --since 2026-01-01
      # crontab: silent unless a charge needs a look (then cron mails it)
      30 7 * * *  kscli --quiet sweep && kscli --quiet charges check
    """
    from kscli.cli.output import emit_list, note
    from kscli.services.charges import check_charges
    from kscli.views import finding_view

    app = get_app()
    now = as_of or app.now
    findings = check_charges(app.store, now, since=since.date() if since else None)
    if not findings:
        if app.fmt in ("json", "jsonl", "csv"):
            emit_list(app.fmt, [], [(k, k) for k in FINDING_KEYS])
        if not app.quiet:
            note("no unexpected charges")
        return
    views = [finding_view(f) for f in findings]
    if app.fmt in ("json", "jsonl", "csv"):
        emit_list(app.fmt, views, [(k, k) for k in FINDING_KEYS])
    else:
        cells = lambda v: [v["sub_id"], v["charge_id"], v["posted_on"],  # noqa: E731
                           f"{v['amount']} {v['currency']}", v["service_ended"] or "-",
                           v["reference"] or "-", _KIND_WORDS.get(v["kind"], v["kind"])]
        columns = [("Sub", "sub_id"), ("Charge", "charge_id"), ("Date", "posted_on"),
                   ("Amount", "amount"), ("Service ended", "service_ended"),
                   ("Reference", "reference"), ("What", "kind")]
        if app.fmt == "plain":
            emit_list(app.fmt, views, columns, table_row=lambda v: [*cells(v), v["message"]])
        else:
            emit_list(app.fmt, views, columns, table_row=cells,
                      footer=["", *(v["message"] for v in views)])
    note(f"{len(findings)} unexpected charge{'s' if len(findings) != 1 else ''}")
    raise click.exceptions.Exit(1)
