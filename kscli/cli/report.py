"""`kscli report`: spend past and ahead, as bar charts, a table, JSON, CSV or a page."""

from __future__ import annotations

from decimal import Decimal

import click

from kscli.domain.report import GROUPS

from kscli.cli import params as p
from kscli.cli.app import get_app

BLOCKS = " ▏▎▍▌▋▊▉█"  # eighths of a character cell
PROJECTED = "░"  # a projected amount: light shade, readable without colour
OFF_TERMINAL = 80


@click.command()
@click.option("--months", type=click.IntRange(0, 600), default=12, show_default=True,
              metavar="N", help="Months of spend up to the current one (billed).")
@click.option("--forecast", type=click.IntRange(0, 600), default=12, show_default=True,
              metavar="N", help="Months ahead to project after the current one.")
@click.option("--by", type=click.Choice(GROUPS), default="month", show_default=True,
              help="What each row of the table sums (subscription: one row per subscription "
                   "and currency, so that every total can be traced).")
@click.option("--in", "target", type=p.CURRENCY, metavar="CODE",
              help="Convert every amount into this currency (rates from `kscli rates import`).")
@click.option("--html", "html_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write the report as one self-contained HTML page (mode 0600).")
@p.as_of_option
def report(months, forecast, by, target, html_file, as_of):
    """Spend per month, past and projected, with charts; top subscriptions; what renews.

    A subscription is billed its price at the start of each period until its service
    ends (cancellation, end after `renew off`, end of a commitment). In a month with
    imported charges matched to a subscription, those charges replace its price (the
    Source column says which). Amounts stay per currency unless --in is given: then a
    billed amount converts at the ECB rate of its day (the nearest earlier published
    day), a projection at the latest rate, and a currency without a rate is listed
    apart, unconverted. Bars: solid blocks billed, light shade projected.

    \b
    Examples:
      kscli report --in EUR
      kscli report --by vendor --months 24 --forecast 0
      kscli report --in EUR --html spend.html
    """
    from kscli.services.report import spend_report

    app = get_app()
    if html_file:  # a place that cannot be written is said before the work
        from kscli.store.fs import check_place

        check_place(html_file, writing=True, option="--html", example="report.html",
                    makes_folders=False)
    at = as_of or app.now
    found = spend_report(app.store, at, app.now, months=months, forecast=forecast, by=by,
                         target=target)
    doc = report_doc(found)
    if html_file:
        from kscli.cli.report_html import write_page

        write_page(html_file, doc)
    if app.quiet:
        return
    if app.fmt in ("json", "jsonl"):
        from kscli.cli.output import emit_object

        emit_object(app.fmt, doc)
    elif app.fmt == "csv":
        _csv(doc)
    else:
        _text(doc, app.fmt)
    if html_file:
        from kscli.cli.output import note

        note(f"wrote {html_file}")


def report_doc(found) -> dict:
    """The report as JSON: every number, amounts as strings."""
    renewing = dict(found.renewing)
    renewing["items"] = [{**item, "renews_at": item["renews_at"].strftime("%Y-%m-%dT%H:%M:%SZ")}
                         for item in renewing["items"]]
    return {
        "as_of": found.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "by": found.by,
        "currency": found.target,
        "months": found.months,
        "current_month": found.current,
        "rows": found.rows,
        "apart": found.apart,
        "rates": found.rates,
        "top": found.top,
        "renewing": renewing,
        "subscriptions": found.subscriptions,
        "bills": found.bills,
    }


CSV_KEYS = ("currency", "billed", "projected", "total", "source")


def _csv(doc: dict) -> None:
    import csv
    import sys

    from kscli.cli.output import csv_cell

    by = doc["by"]
    keys = [by, *(["vendor", "product"] if by == "subscription" else []), *CSV_KEYS] + \
        (["when"] if by == "month" else []) + ["converted"]
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(keys)
    for rows, converted in ((doc["rows"], "yes" if doc["currency"] else "no"),
                            (doc["apart"], "no")):
        for row in rows:
            writer.writerow([csv_cell(row.get(k)) for k in keys[:-1]] + [converted])


def bar(billed: Decimal, projected: Decimal, most: Decimal, width: int) -> str:
    """A bar of at most ``width`` cells: billed in eighths of █, projected in ░."""
    if most <= 0 or width <= 0:
        return ""
    eighths = int(billed * width * 8 / most)
    full, part = divmod(eighths, 8)
    text = "█" * full + (BLOCKS[part] if part else "")
    total = int((billed + projected) * width / most + Decimal("0.5"))
    if projected > 0:
        text += PROJECTED * max(total - len(text), 1)
    return text


def chart_lines(rows: list[dict], key: str, width: int) -> list[str]:
    """One line per row: label, bar, amount (and the source when not the ledger)."""
    labels = [str(r[key]) for r in rows]
    amounts = [f"{r['total']} {r['currency']}" for r in rows]
    notes = ["" if r["source"] in ("ledger", "none") else f" {r['source']}" for r in rows]
    label_w = min(max(map(len, labels), default=0), 24)
    amount_w = max(map(len, amounts), default=0)
    note_w = max(map(len, notes), default=0)
    bar_w = max(width - label_w - amount_w - note_w - 4, 4)
    most = max((Decimal(r["billed"]) + Decimal(r["projected"]) for r in rows), default=Decimal(0))
    lines = []
    for row, label, amount, extra in zip(rows, labels, amounts, notes):
        drawn = bar(Decimal(row["billed"]), Decimal(row["projected"]), most, bar_w)
        if len(label) > label_w:
            label = label[:label_w - 1] + "…"
        lines.append(f"{label:<{label_w}}  {drawn:<{bar_w}}  {amount:>{amount_w}}{extra}".rstrip())
    return lines


def _width() -> int:
    from kscli.cli.output import table_width

    return table_width() or OFF_TERMINAL


def _say(text: str, width: int) -> None:
    """A sentence under a table, wrapped to the width."""
    import textwrap

    from kscli.cli.output import clean, out

    out("\n".join(textwrap.wrap(clean(text), width, subsequent_indent="  ",
                                 break_on_hyphens=False)))


def _by_currency(rows: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for row in rows:
        found.setdefault(row["currency"], []).append(row)
    return found


def _text(doc: dict, fmt: str) -> None:
    from kscli.cli.output import clean, out, render_table

    by = doc["by"]
    width = _width()
    if fmt == "table":
        title = f"per {by}"
        if not doc["rows"] and not doc["apart"]:
            out(f"no spend from {doc['months'][0]} to {doc['months'][-1]}")
        for part, rows in (("", doc["rows"]), (" (no rate: not converted)", doc["apart"])):
            for currency, found in _by_currency(rows).items():
                out(f"Spend {title}, {currency}{part}   █ billed  ░ projected")
                for line in chart_lines(found, by, width):
                    out(clean(line))
                out("")
    named = by == "subscription"  # its id, and then who and what it is
    headers = ["ID" if named else by.capitalize(), *(["Vendor", "Product"] if named else []),
               "Currency", "Billed", "Projected", "Total", "Source"]
    cells = [[r[by], *([r["vendor"], r["product"]] if named else []), r["currency"],
              r["billed"], r["projected"], r["total"], r["source"] + suffix]
             for rows, suffix in ((doc["rows"], ""), (doc["apart"], " (no rate)"))
             for r in rows]
    if fmt == "plain":
        for row in cells:
            out("\t".join(clean(c) for c in row))
        return
    if cells:
        out(render_table(cells, headers))
    if doc["rates"]:
        out("")
        for rate in doc["rates"]:
            span = rate["first_day"] if rate["first_day"] == rate["last_day"] \
                else f"{rate['first_day']} to {rate['last_day']}"
            _say(f"rates {rate['currency']} to {doc['currency']}: ECB days {span} "
                 f"({rate['source']})", width)
    if doc["apart"]:
        names = ", ".join(sorted({r["currency"] for r in doc["apart"]}))
        _say(f"no rate to {doc['currency']} for {names}: shown apart, not converted "
             "(kscli rates import FILE)", width)
    if doc["top"]:
        out("")
        out("Top subscriptions by yearly cost")
        out(render_table([[t["sub_id"], t["vendor"], t["product"], t["plan"],
                           f"{t['yearly_converted']} {t['yearly_in']}"] for t in doc["top"]],
                         ["ID", "Vendor", "Product", "Plan", "Yearly"]))
    renewing = doc["renewing"]
    out("")
    _say(f"Renewing in the next {renewing['within_days']} days: {renewing['count']}"
         + (" (" + ", ".join(f"{t['amount']} {t['currency']}" for t in renewing["totals"]) + ")"
            if renewing["totals"] else ""), width)
    if renewing["items"]:
        out(render_table([[i["sub_id"], i["vendor"], i["product"], i["renews_at"][:10],
                           f"{i['price']} {i['currency']}"] for i in renewing["items"]],
                         ["ID", "Vendor", "Product", "Renews", "Price"]))
        if renewing["count"] > len(renewing["items"]):
            out(f"... and {renewing['count'] - len(renewing['items'])} more: "
                "kscli renew due --within 30d")
