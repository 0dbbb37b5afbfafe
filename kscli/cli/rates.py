"""`kscli rates`: the European Central Bank's euro reference rates, kept offline."""

from __future__ import annotations

import click

from kscli.cli import params as p
from kscli.cli.app import get_app


@click.group()
def rates():
    """Exchange rates for `report --in`: the ECB's euro reference rates, offline.

    \b
    Example (the ECB's whole history, then the rates of a day):
      kscli rates import eurofxref-hist.zip && kscli rates show --as-of 2026-01-15
    """


@rates.command("import")
@click.argument("file", type=p.INPUT_FILE, metavar="FILE")
def import_(file):
    """Import the ECB's euro reference rates from FILE.

    FILE is one the European Central Bank publishes, recognised by content: the daily
    XML (eurofxref-daily.xml), the historical CSV (eurofxref-hist.csv) or either
    zipped. The whole file is read first: a bad line stops the import and nothing is
    written. A day and currency already held take the file's rate. Currencies kscli
    does not know (no longer issued, like CYP) are skipped. FILE may be - to read
    standard input.

    \b
    Examples:
      kscli rates import eurofxref-hist.zip
      curl -s https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml | kscli rates import -
    """
    import os

    from kscli.cli.output import emit_object
    from kscli.services.rates import import_rates

    app = get_app()
    name = getattr(file, "name", "-")
    source = "stdin" if name in ("-", "<stdin>") else os.path.basename(str(name))
    source = source.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    done = import_rates(app.store, app.now, file.read(), source)
    doc = {"source": done.source, "days": done.days, "currencies": done.currencies,
           "first_day": done.first.isoformat(), "last_day": done.last.isoformat(),
           "added": done.added, "replaced": done.replaced,
           "reference": done.event.reference if done.event else None}
    message = (f"{source}: {done.days} day{'s' if done.days != 1 else ''} "
               f"({done.first} to {done.last}), {len(done.currencies)} currencies; "
               f"{done.added} rates added, {done.replaced} replaced"
               + ("" if done.event else "; nothing changed"))
    emit_object(app.fmt, doc, message=message, quiet=app.quiet)
    if done.event and not app.quiet and app.fmt in ("table", "plain"):
        from kscli.cli.output import out

        out(f"reference {doc['reference']}")


@rates.command("show")
@p.as_of_option
def show(as_of):
    """Show the latest rates, or those of the nearest published day before --as-of.

    Each rate is units of the currency for one euro, with the day it was published and
    the file it came from.

    \b
    Example:
      kscli rates show --as-of 2026-01-15
    """
    from kscli.cli.output import emit_list, note
    from kscli.domain.errors import NotFound
    from kscli.services.rates import rate_book

    app = get_app()
    book = rate_book(app.store)
    day = (as_of or app.now).date()
    found = book.on(day)
    if not found:
        raise NotFound(f"no exchange rate published on or before {day}",
                       hint="import the ECB's rates with `kscli rates import FILE`")
    emit_list(app.fmt, ({"currency": c, "rate": str(r), "day": d.isoformat(), "source": s,
                         "base": "EUR"} for c, (d, r, s) in found.items()),
              [("Currency", "currency"), ("Per 1 EUR", "rate"), ("Day", "day"),
               ("Source", "source")])
    if app.fmt == "table":
        note(f"rates as of {day}: the nearest published day on or before it")
