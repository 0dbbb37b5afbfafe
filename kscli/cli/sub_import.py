"""`kscli sub import FILE`: subscriptions from a CSV list or a Wallos export.

Attached to the `sub` group lazily (kscli.cli.sub), so that the other `sub` commands
never import it.
"""

from __future__ import annotations

import click

from kscli.cli import params as p
from kscli.cli.app import get_app

_FORMATS = ("auto", "csv", "wallos-json", "wallos-csv")


@click.command("import")
@click.argument("file", type=p.INPUT_FILE, metavar="FILE")
@click.option("--input-format", "fmt", type=click.Choice(_FORMATS), default="auto",
              show_default=True,
              help="The file's shape: a CSV list, or Wallos's JSON or CSV export (auto: "
                   "recognised by its content).")
@click.option("--vendor-col", metavar="NAME", help="CSV list: the vendor's column.  [default: vendor]")
@click.option("--product-col", metavar="NAME", help="CSV list: the product's column.  [default: product]")
@click.option("--plan-col", metavar="NAME",
              help="CSV list: the plan or cycle (monthly, annual, 3m, Every 3 Months).  "
                   "[default: plan]")
@click.option("--price-col", metavar="NAME",
              help="CSV list: the price (9.99, $15.99, €59,99).  [default: price]")
@click.option("--currency-col", metavar="NAME", help="CSV list: the currency code.  [default: currency]")
@click.option("--started-col", metavar="NAME", help="CSV list: the start date.  [default: started]")
@click.option("--next-payment-col", metavar="NAME",
              help="CSV list: the next payment date, when there is no start date (it then "
                   "starts one period before).  [default: next payment]")
@click.option("--account-col", metavar="NAME", help="CSV list: whose it is.  [default: account]")
@click.option("--notes-col", metavar="NAME", help="CSV list: notes (kept in the import's event).  [default: notes]")
@click.option("--date-format", metavar="FMT",
              help="CSV list: how dates are written, like %d.%m.%Y.  [default: ISO 8601]")
@click.option("--delimiter", metavar="D", help="CSV list: the column separator.  [default: guessed]")
@click.option("--encoding", metavar="ENC", help="The file's encoding.  [default: UTF-8]")
@click.option("--currency", "default_currency", type=p.CURRENCY,
              help="The currency of prices that name none, like EUR.")
@click.option("--dry-run", is_flag=True, help="Read and map the file, say what would be added, write nothing.")
def import_(file, fmt, vendor_col, product_col, plan_col, price_col, currency_col, started_col,
            next_payment_col, account_col, notes_col, date_format, delimiter, encoding,
            default_currency, dry_run):
    """Bring subscriptions in from a CSV list or a Wallos export (JSON or CSV).

    All or nothing: every record is read first; one that cannot be mapped is named on
    a line of its own with the field at fault, and nothing is imported (exit 2). A
    record without a name is skipped, and said. The import is one event with its
    reference (`kscli show REF`); each subscription gets its own, as with `sub add`.

    \b
    Wallos: Name is the vendor and the product; Payment Cycle Monthly, Yearly,
    Every N Months or Years (Daily and Weekly have no kscli plan: plans are counted
    in months); Price with its symbol ($ is USD); the subscription starts one
    period before Next Payment (Wallos keeps no start date); State Disabled,
    Active No or a Cancellation Date make it cancelled on that date (service to the
    end of its period); Renewal Manual is auto-renew off; Notes are kept in the
    import's event.

    \b
    Examples:
      kscli sub import wallos-export.json --dry-run
      kscli sub import subscriptions.csv --vendor-col Service --price-col Cost \\
        --currency EUR --date-format %d.%m.%Y
    """
    import os

    from kscli.cli.output import emit_object, note
    from kscli.domain.errors import BadValue
    from kscli.domain.words import count_of
    from kscli.services.sub_import import (
        already_there,
        import_subscriptions,
        read_subscriptions,
    )

    app = get_app()
    name = getattr(file, "name", "-")
    source = "stdin" if name in ("-", "<stdin>") else os.path.basename(str(name))
    columns = {"vendor": vendor_col, "product": product_col, "plan": plan_col,
               "price": price_col, "currency": currency_col, "started": started_col,
               "next_payment": next_payment_col, "account": account_col, "notes": notes_col}
    read = read_subscriptions(file.read(), source, app.now, fmt=fmt, columns=columns,
                              delimiter=delimiter, encoding=encoding,
                              default_currency=default_currency, date_format=date_format)
    mapped = read.mapped
    if mapped.problems:
        for problem in mapped.problems:
            note(f"{source}: {problem}")
        raise BadValue(f"{source}: {count_of(len(mapped.problems), 'problem')} in the file; "
                       "nothing was imported", hint="fix the records named above, or leave "
                       "them out, and import the file again")
    if not app.quiet:
        for skipped in mapped.skipped:
            note(f"{source}: {skipped}")
    rows = [{"record": new.record, "vendor": new.fields["vendor"],
             "product": new.fields["product"], "plan": new.fields["plan"],
             "price": str(new.fields["price"]), "currency": new.fields["currency"],
             "started_at": new.fields["started_at"].strftime("%Y-%m-%d"),
             "status": "cancelled" if new.cancelled_at else "active"} for new in mapped.subs]
    if dry_run:
        there = already_there(app.store, app.now, read)
        rows = [row for row in rows if row["record"] not in there]
        skipped = [*mapped.skipped, *there.values()]
        for line in there.values() if not app.quiet else ():
            note(f"{source}: {line}")
        if app.json:
            emit_object(app.fmt, {"source": source, "format": read.format,
                                  "subscriptions": rows, "skipped": skipped,
                                  "reference": None, "dry_run": True})
        elif not app.quiet:
            _table(app, rows)
        note(f"dry run: {count_of(len(rows), 'subscription')} would be imported; nothing was "
             "written")
        return
    imported = import_subscriptions(app.store, app.now, read, source)
    reference = imported.event.reference if imported.event else None
    rows = [{"id": imported.records[row["record"]].id, **row} for row in rows
            if row["record"] in imported.records]
    message = f"{source}: imported {count_of(len(rows), 'subscription')} ({read.format})"
    if not app.quiet:
        for skipped in imported.skipped[len(mapped.skipped):]:
            note(f"{source}: {skipped}")
    if app.json:
        emit_object(app.fmt, {"source": source, "format": read.format, "subscriptions": rows,
                              "skipped": imported.skipped, "reference": reference,
                              "message": message})
        return
    if app.quiet:
        return
    if not rows:
        note(f"{source}: {message.split(': ', 1)[1]}; nothing changed")
        return
    _table(app, rows)
    click.echo(message)
    click.echo(f"reference {reference}")


def _table(app, rows) -> None:
    from kscli.cli.output import emit_list

    emit_list(app.fmt, rows, [("ID", "id"), ("Vendor", "vendor"), ("Product", "product"),
                              ("Plan", "plan"), ("Price", "price"), ("Started", "started_at"),
                              ("Status", "status")],
              table_row=lambda r: [r.get("id", f"(record {r['record']})"), r["vendor"],
                                   r["product"], r["plan"], f"{r['price']} {r['currency']}",
                                   r["started_at"], r["status"]])
