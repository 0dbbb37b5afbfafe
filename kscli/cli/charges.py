"""`kscli charges`: bank or card statements held against the ledger."""

from __future__ import annotations

import sys

import click

from kscli.cli import LazyGroup
from kscli.cli import params as p
from kscli.cli.app import get_app
from kscli.domain import ids

# A statement with at least this many lines shows progress (on a terminal only).
PROGRESS_FROM = 500
# An import lists at most this many unmatched lines (`charges list --unmatched` has all).
SHOW_UNMATCHED = 50

CHARGE_KEYS = ("id", "posted_on", "description", "amount", "currency", "sub_id", "statement",
               "imported_at", "matched_by")
FINDING_KEYS = ("id", "kind", "sub_id", "charge_id", "posted_on", "amount", "currency",
                "expected_amount", "service_ended", "reference", "message", "dismissed",
                "dismissed_reason", "dismissed_reference")
_KIND_WORDS = {
    "after-cancellation": "after cancellation",
    "after-end": "after service ended",
    "after-refund": "after refund",
    "duplicate-in-period": "twice in one period",
    "price-changed": "price changed",
    "in-trial": "during a free trial",
}


@click.group(cls=LazyGroup)
def charges():
    """Bank or card statements held against the ledger: import, list, check.

    A line matches a subscription when the words of its vendor's name, or of one of its
    descriptors (`sub add|edit --match`), appear as whole words of the description.
    `charges match` and `charges unmatch` correct a match by hand; `charges dismiss`
    records that a finding of `charges check` was looked at.

    \b
    Example (import a statement, then look for charges that should not have happened):
      kscli charges import statement.csv && kscli charges check
    """


# Corrections by hand (kscli.cli.charges_review) and discovery (kscli.cli.discover),
# loaded when one of them runs.
charges.lazy.update({
    "discover": ("kscli.cli.discover", "discover", "Recurring charges that match no subscription."),
    "match": ("kscli.cli.charges_review", "match", "Match a charge to a subscription by hand."),
    "unmatch": ("kscli.cli.charges_review", "unmatch", "Unmatch a charge by hand."),
    "dismiss": ("kscli.cli.charges_review", "dismiss",
                "Record that a finding of `charges check` was looked at."),
})


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


# Built-in values of the options a preset may set (None: not set).
_IMPORT_DEFAULTS = {"date-col": "date", "description-col": ("description",),
                    "amount-col": "amount"}


@charges.command("import")
@click.argument("file", type=p.INPUT_FILE, metavar="FILE")
@click.option("--preset", metavar="NAME",
              help="Apply a known export's shape (see `kscli charges presets`); options "
                   "given here win.")
@click.option("--input-format", type=click.Choice(["csv", "ofx", "camt", "mt940"]),
              help="The file's format.  [default: recognised by its content]")
@click.option("--date-col", metavar="NAME",
              help="The column holding the booking date (a name, or a position: 1 is the "
                   "first).  [default: date]")
@click.option("--description-col", metavar="NAME", multiple=True,
              help="The column holding the text that names the vendor; repeat it to join "
                   "several.  [default: description]")
@click.option("--amount-col", metavar="NAME",
              help="The column holding the amount.  [default: amount]")
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
@click.option("--debits", type=click.Choice(["negative", "positive"]),
              help="Which sign is a charge: negative (bank accounts) or positive (many card "
                   "statements).  [default: negative; a file with no negative amount is "
                   "read as all charges, and the import says so]")
@click.option("--debit-col", metavar="NAME",
              help="The column of money out, for files with two amount columns.")
@click.option("--credit-col", metavar="NAME",
              help="The column of money in, with --debit-col.")
@click.option("--type-col", metavar="NAME",
              help="A column saying whether a line is a debit or a credit (amounts are then "
                   "read without their sign).")
@click.option("--debit-value", metavar="TEXT",
              help="The --type-col text of a charge, like debit.")
@click.option("--credit-value", metavar="TEXT",
              help="The --type-col text of a credit, like CR (other lines are charges).")
@click.option("--encoding", metavar="ENC",
              help="The file's encoding, like latin-1 or cp1252.  [default: UTF-8; UTF-8 and "
                   "UTF-16 byte-order marks are recognised]")
@click.option("--no-header", is_flag=True, default=None,
              help="The file has no header row: name columns by position (--date-col 1).")
@click.option("--skip-rows", type=click.IntRange(min=0), metavar="N",
              help="Rows to skip at the top before the header (or the data).")
@click.option("--dry-run", is_flag=True,
              help="Read and match the file, say what would be imported, write nothing.")
def import_(file, preset, input_format, date_col, description_col, amount_col, currency_col,
            date_format, delimiter, default_currency, debits, debit_col, credit_col, type_col,
            debit_value, credit_value, encoding, no_header, skip_rows, dry_run):
    """Import a bank or card statement and match its lines to subscriptions.

    Reads CSV, OFX/QFX, ISO 20022 CAMT.053 and SWIFT MT940, recognised by content.
    A line matches a subscription when the words of the vendor's name (or of one of
    its descriptors, `sub add --match`) appear as whole words of its description
    (case, accents, punctuation and * aside: PINEAPPLE CAFE is not Apple) and the
    currency is the subscription's; of the subscriptions it names, one whose price in
    force is the amount comes first (another amount still matches, and `charges check`
    reports it as price-changed). A charge matched or unmatched by hand keeps its
    match. Only debits are
    charges: credits, lines of zero, note rows (titles, balances) and pending rows are
    skipped and counted on stderr. The whole file is read first: one bad line stops
    the import with the line and column named, and nothing is imported. Importing the
    same statement twice adds nothing the second time. FILE may be - for standard input.

    \b
    Examples:
      kscli charges import statement.csv
      kscli charges import --preset dkb umsaetze.csv --dry-run
      kscli charges import card.csv --debits positive
      kscli charges import umsaetze.csv --date-col Buchungstag \\
        --description-col Verwendungszweck --amount-col Betrag --currency-col Währung \\
        --date-format %d.%m.%Y
    """
    import os

    from kscli.domain.statement import Columns
    from kscli.services.charges import import_statement, open_statement

    app = get_app()
    name = getattr(file, "name", "-")
    statement = "stdin" if name in ("-", "<stdin>") else os.path.basename(str(name))
    # a file name need not be UTF-8; the name kept with each charge is (U+FFFD for the rest)
    statement = statement.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    given = {"input-format": input_format, "date-col": date_col,
             "description-col": tuple(description_col) or None, "amount-col": amount_col,
             "currency-col": currency_col, "date-format": date_format,
             "delimiter": delimiter, "currency": default_currency, "debits": debits,
             "debit-col": debit_col, "credit-col": credit_col, "type-col": type_col,
             "debit-value": debit_value, "credit-value": credit_value, "encoding": encoding,
             "no-header": no_header, "skip-rows": skip_rows}
    settings = _with_preset(preset, given)
    description = settings["description-col"]
    columns = Columns(
        date=settings["date-col"],
        description=tuple(description) if isinstance(description, (list, tuple))
        else (description,),
        amount=settings["amount-col"], date_format=settings["date-format"] or None,
        delimiter=settings["delimiter"], debits=settings["debits"],
        debit_col=settings["debit-col"], credit_col=settings["credit-col"],
        type_col=settings["type-col"], debit_value=settings["debit-value"],
        credit_value=settings["credit-value"], encoding=settings["encoding"],
        header=not settings["no-header"], skip_rows=settings["skip-rows"] or 0,
        pending_dates=tuple(settings.get("pending-dates") or ()),
        **({"currency": settings["currency-col"]}
           if settings["currency-col"] is not None else {}))
    opener, size = _reopener(file)
    source = open_statement(opener, statement, columns, settings["currency"],
                            settings["input-format"], size)
    from kscli.cli.output import note
    from kscli.domain.statement import future_warning

    # a table shows the first charges; JSON lists every one
    keep = None if app.fmt in ("json", "jsonl") else max(SHOW_DRY_RUN, SHOW_UNMATCHED)
    if source.rows >= PROGRESS_FROM and not app.quiet and _stderr_is_terminal() and not dry_run:
        with click.progressbar(length=source.rows, label=f"importing {statement}",
                               file=sys.stderr) as bar:
            report = import_statement(app.store, app.now, source, statement,
                                      progress=bar.update, keep=keep)
    else:
        report = import_statement(app.store, app.now, source, statement, dry_run=dry_run,
                                  keep=keep)
    read = source.summary
    for warning in read.warnings:
        note(f"{statement}: {warning}")
    warning = future_warning(report.late, app.now)
    if warning:
        note(f"{statement}: {warning}")
    if not app.quiet:
        note(_read_summary(read, report, dry_run))
    skipped = {"format": read.format, "credits": read.credits,
               "credit_totals": {c: str(a) for c, a in sorted(read.credit_totals.items())},
               "zero": read.zero, "notes": read.notes, "pending": read.pending}
    if app.fmt == "csv":  # one row of flat cells
        skipped.pop("credit_totals")
    if dry_run:
        _show_dry_run(app, report, skipped)
        return
    _show_import(app, report, skipped)


def _reopener(file):
    """A function that opens the statement again from its start (each caller reads it
    on its own), and its size in bytes; standard input or a pipe is read into memory."""
    import io
    import os

    try:
        fd = file.fileno() if file.seekable() else None
    except (AttributeError, OSError, ValueError):
        fd = None
    if fd is None:
        data = file.read()
        return (lambda: io.BytesIO(data)), len(data)

    def opener():
        handle = os.fdopen(os.dup(fd), "rb")
        handle.seek(0)
        return handle

    return opener, os.fstat(fd).st_size


def _with_preset(preset: str | None, given: dict) -> dict:
    """The import's settings: what was given, else the preset's, else the default."""
    chosen: dict = {}
    if preset is not None:
        from kscli.paths import presets_folder
        from kscli.services.charges import load_presets

        presets = load_presets(presets_folder())
        if preset not in presets:
            raise click.BadParameter(
                f"no preset '{preset}' (see `kscli charges presets`: "
                f"{', '.join(sorted(presets))})", param_hint="--preset")
        chosen = presets[preset].settings
    settings = {}
    for key, value in given.items():
        settings[key] = value if value is not None else chosen.get(key,
                                                                   _IMPORT_DEFAULTS.get(key))
    settings["pending-dates"] = chosen.get("pending-dates")
    return settings


def _money_totals(totals) -> str:
    return ", ".join(f"{amount} {currency}" for currency, amount in sorted(totals.items()))


def _read_summary(read, report, dry_run: bool) -> str:
    """What the import did, for stderr: every line of the file accounted for."""
    counts = report.counts
    verb = "would import" if dry_run else "imported"
    parts = [f"{read.transactions} transaction{'s' if read.transactions != 1 else ''} read "
             f"({read.format})",
             f"{verb} {counts['imported']} charge{'s' if counts['imported'] != 1 else ''} "
             f"({counts['matched']} matched, {counts['unmatched']} unmatched)",
             f"{counts['already_present']} already present"]
    if read.credits:
        parts.append(f"{read.credits} credit{'s' if read.credits != 1 else ''} skipped "
                     f"({_money_totals(read.credit_totals)})")
    if read.zero:
        parts.append(f"{read.zero} of zero skipped")
    if read.notes:
        parts.append(f"{read.notes} note row{'s' if read.notes != 1 else ''} skipped")
    if read.pending:
        parts.append(f"{read.pending} pending skipped")
    return f"{report.statement}: " + "; ".join(parts)


# A dry run shows at most this many lines as they would be stored.
SHOW_DRY_RUN = 10


def _show_dry_run(app, report, skipped: dict) -> None:
    from kscli.cli.output import emit_list, emit_object, note
    from kscli.views import charge_view

    if app.quiet:
        return
    if app.fmt in ("json", "jsonl", "csv"):
        doc = {"statement": report.statement, **report.counts, **skipped, "reference": None,
               "dry_run": True}
        if app.fmt != "csv":
            doc["charges"] = [charge_view(charge) for _, charge in report.imported]
        emit_object(app.fmt, doc)
    else:
        emit_list(app.fmt, report.imported[:SHOW_DRY_RUN],
                  [("Line", "line"), ("Date", "date"), ("Description", "text"),
                   ("Amount", "amount"), ("Sub", "sub")],
                  table_row=lambda item: [str(item[0]), item[1].posted_on.isoformat(),
                                          item[1].description,
                                          f"{item[1].amount} {item[1].currency}",
                                          item[1].sub_id or "unmatched"],
                  empty="no new charges")
    note("dry run: nothing was written")


def _show_import(app, report, skipped: dict | None = None) -> None:
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
        doc = {"statement": report.statement, **counts, **(skipped or {}),
               "reference": reference}
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
        out("unmatched lines (no subscription's name or descriptor in the description, in "
            "that currency):")
        emit_list(app.fmt, unmatched[:SHOW_UNMATCHED],
                  [("Line", "line"), ("Charge", "id"), ("Date", "date"), ("Description", "text"),
                   ("Amount", "amount")],
                  table_row=lambda item: [str(item[0]), item[1].id,
                                          item[1].posted_on.isoformat(), item[1].description,
                                          f"{item[1].amount} {item[1].currency}"])
        if counts["unmatched"] > SHOW_UNMATCHED:
            out(f"... and {counts['unmatched'] - SHOW_UNMATCHED} more: "
                f"kscli charges list --unmatched")
        note("a line that pays for a subscription needs it in the ledger, or the way the "
             "statement writes it: `kscli sub add`, or `kscli sub edit ID --match TEXT`, then "
             "import the statement again (or `kscli charges match CHARGE-ID SUB-ID`)")


@charges.command("presets")
def presets():
    """List the statement presets: the shipped ones and your own, with what each sets.

    Your own presets are TOML files in kscli's config folder (`presets/NAME.toml`, the
    same keys as a shipped one: `charges import` options without their dashes, plus a
    title); one named like a shipped preset replaces it.

    \b
    Example:
      kscli charges presets
      kscli charges import --preset ing-de umsaetze.csv
    """
    from kscli.cli.output import emit_list, note
    from kscli.paths import presets_folder
    from kscli.services.charges import load_presets

    app = get_app()
    folder = presets_folder()
    found = load_presets(folder)

    def sets(preset) -> str:
        return "; ".join(f"{key} {' + '.join(value) if isinstance(value, list) else value}"
                         for key, value in preset.settings.items() if key != "title")

    rows = [{"name": preset.name, "title": preset.title,
             "source": preset.source, "sets": sets(preset)} for preset in found.values()]
    emit_list(app.fmt, rows, [("Name", "name"), ("Title", "title"), ("Source", "source"),
                              ("Sets", "sets")])
    if not app.quiet and app.fmt not in ("json", "jsonl", "csv"):
        note(f"your own presets go in {folder}/NAME.toml")


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
                             f"{c.amount} {c.currency}",
                             (c.sub_id or "unmatched") + (" (by hand)" if c.matched_by else ""),
                             c.statement],
        footer=footer,
        empty="no charges match" if filtered else
              "no charges yet (import a statement with `kscli charges import FILE.csv`)",
    )


@charges.command("remove")
@click.argument("charge_ids", nargs=-1, metavar="[CHARGE-ID]...")
@click.option("--import", "import_ref", metavar="REF",
              help="Every charge that the statement import with this reference added.")
@click.option("--yes", is_flag=True, help="Do not ask (needed off a terminal).")
def remove(charge_ids, import_ref, yes):
    """Remove charges imported by mistake: those named, or all that one import added.

    A statement read with the wrong sign or columns is undone with `--import REF` (the
    reference `charges import` printed) and can then be imported again correctly. The
    removal is recorded as one event with its own reference; the import's event stays in
    the history. A charge that an earlier import stored and this one only matched is
    kept.

    \b
    Examples:
      kscli charges remove --import KS-20261122-7Q2K9M --yes
      kscli charges remove C-1004 C-1005
    """
    from kscli.cli.common import confirm_or_refuse
    from kscli.cli.output import emit_object, note
    from kscli.domain.words import count_of
    from kscli.services.charges import remove_charges

    if not charge_ids and import_ref is None:
        raise click.UsageError("name the charges to remove, or --import REF for all of one import")
    for charge_id in charge_ids:
        if not ids.form(ids.CHARGE).fullmatch(charge_id):
            raise click.BadParameter(f"{charge_id!r} is not a charge id like C-1001",
                                     param_hint="CHARGE-ID")
    app = get_app()
    what = (f"the charges of import {import_ref}" if import_ref else "") + \
        (" and " if import_ref and charge_ids else "") + ", ".join(charge_ids)
    confirm_or_refuse(f"Remove {what} from the ledger?", yes)
    removal = remove_charges(app.store, app.now, charge_ids=charge_ids, import_ref=import_ref)
    message = f"removed {count_of(len(removal.removed), 'charge')}"
    doc = {"removed": [c.id for c in removal.removed], "count": len(removal.removed),
           "reference": removal.event.reference, "message": message}
    if app.json:
        emit_object(app.fmt, doc)
        return
    if not app.quiet:
        emit_object(app.fmt, doc, message=message, fields=[("reference", "reference")])
    if not removal.removed:
        note("no charge was left to remove: the event records that")


@charges.command("check")
@click.option("--since", type=p.WHEN, metavar="DATE",
              help="Only report charges posted on or after this date.")
@click.option("--all", "show_all", is_flag=True,
              help="Also show the findings dismissed with `kscli charges dismiss`, with "
                   "their reason (they still do not make the check fail).")
@p.as_of_option
def check(since, show_all, as_of):
    """Report every charge that should not have happened; exit 1 if there is any.

    Each finding has a stable id (F-..., the same on every run and after a statement
    is imported again) and a kind: after-cancellation (a charge after a cancellation
    ended the service), after-end (after auto-renew was turned off and the period
    ended), after-refund (on or after a refund), duplicate-in-period (a second charge
    in one billing period) or price-changed (the amount is not the price in force that
    day; the policy's charges.price-changed clause sets a tolerance for card exchange
    noise, 0 by default). Each finding names the reference of the cancellation (or
    refund, or renew-off) to show the bank as proof. A dispute with the bank is not a
    cancellation. A finding dismissed with `kscli charges dismiss ID --reason TEXT` is
    no longer shown (--all shows it) and no longer makes the check fail. Read-only;
    exits 0 with "no unexpected charges" when all is well.

    The renewal day belongs to the next period: after auto-renew was turned off or a
    cancellation at the end of the term, a charge dated on or after the UTC date on
    which the next period would have started is flagged; a charge on the last day of
    the paid period is not. Inside a commitment that date is the first renewal on or
    after the commitment's end. After `sub cancel --immediately`, a charge on the day
    service ended is not flagged, one the day after is.

    Subscriptions are taken as they stand now (or --as-of: renewals and expiries due
    by then count whether or not `kscli sweep` has recorded them; a charge posted
    later, or a cancellation or dismissal recorded later, is left out).

    \b
    Examples:
      kscli charges check --since 2026-01-01
      kscli charges check --all
      # crontab: silent unless a charge needs a look (then cron mails it)
      30 7 * * *  kscli --quiet sweep && kscli --quiet charges check
    """
    from kscli.cli.output import emit_list, note
    from kscli.services.charges import check_charges
    from kscli.views import finding_view

    app = get_app()
    now = as_of or app.now
    checked = check_charges(app.store, now, since=since.date() if since else None,
                            tolerance=app.policy.price_tolerance())
    shown = checked.findings if show_all else checked.open
    dismissed = len(checked.findings) - len(checked.open)
    views = [_with_dismissal(finding_view(f), checked.dismissed.get(f.id)) for f in shown]
    if app.fmt in ("json", "jsonl", "csv"):
        emit_list(app.fmt, views, [(k, k) for k in FINDING_KEYS])
    elif views:
        cells = lambda v: [v["id"], v["sub_id"], v["charge_id"], v["posted_on"],  # noqa: E731
                           f"{v['amount']} {v['currency']}", v["service_ended"] or "-",
                           v["reference"] or "-", _KIND_WORDS.get(v["kind"], v["kind"])
                           + (" (dismissed)" if v["dismissed"] else "")]
        columns = [("Finding", "id"), ("Sub", "sub_id"), ("Charge", "charge_id"),
                   ("Date", "posted_on"), ("Amount", "amount"),
                   ("Service ended", "service_ended"), ("Reference", "reference"),
                   ("What", "kind")]
        messages = lambda v: v["message"] + (  # noqa: E731
            f" [dismissed {v['dismissed_reference']}: {v['dismissed_reason']}]"
            if v["dismissed"] else "")
        if app.fmt == "plain":
            emit_list(app.fmt, views, columns, table_row=lambda v: [*cells(v), messages(v)])
        else:
            emit_list(app.fmt, views, columns, table_row=cells,
                      footer=["", *(f"{v['id']}  {messages(v)}" for v in views)])
    if not app.quiet:
        ignored = f" ({dismissed} dismissed{'' if show_all else ': --all shows them'})" \
            if dismissed else ""
        found = len(checked.open)
        note((f"{found} unexpected charge{'s' if found != 1 else ''}" if found
              else "no unexpected charges") + ignored)
    if checked.open:
        raise click.exceptions.Exit(1)


def _with_dismissal(view: dict, event) -> dict:
    """A finding's view with whether, when and why a person dismissed it."""
    return {**view, "dismissed": event is not None,
            "dismissed_reason": event.detail.get("reason") if event else None,
            "dismissed_reference": event.reference if event else None}
