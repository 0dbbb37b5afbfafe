"""`kscli report --html FILE`: the report as one self-contained page.

Inline CSS and SVG only: no script, no font, no image or link fetched from anywhere,
so the page works offline and prints as it shows. Every number is the report's JSON
number, in elements marked with ``data-key`` (and each bar with ``class="bar"``).
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111;background:#fff}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}
td,th{padding:.2em .7em;border-bottom:1px solid #ccc;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
svg{display:block;max-width:100%}
.billed{fill:#2b5797}.projected{fill:#9fb7dd}
svg text{font:12px system-ui,sans-serif;fill:#111}
.key span{display:inline-block;width:1em;height:1em;vertical-align:middle;margin:0 .3em}
@media print{body{margin:0}}
"""


def _e(value) -> str:
    return escape(str(value), quote=True)


def _chart(rows: list[dict], key: str, currency: str) -> str:
    """A horizontal bar chart: one ``<g class="bar">`` per row, billed and projected."""
    row_h, label_w, bar_w, amount_w = 22, 170, 480, 150
    most = max((Decimal(r["billed"]) + Decimal(r["projected"]) for r in rows), default=Decimal(0))
    height = row_h * len(rows) + 4
    width = label_w + bar_w + amount_w
    parts = [f'<svg class="chart" data-currency="{_e(currency)}" xmlns="http://www.w3.org/2000/svg" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    for i, row in enumerate(rows):
        billed, projected = Decimal(row["billed"]), Decimal(row["projected"])
        b = float(billed / most * bar_w) if most > 0 else 0.0
        pj = float(projected / most * bar_w) if most > 0 else 0.0
        y = i * row_h + 2
        parts.append(f'<g class="bar" data-label="{_e(row[key])}" data-total="{_e(row["total"])}">'
                     f'<title>{_e(row[key])}: billed {_e(row["billed"])}, projected '
                     f'{_e(row["projected"])} {_e(currency)}</title>'
                     f'<text x="0" y="{y + 15}">{_e(row[key])}</text>'
                     f'<rect class="billed" x="{label_w}" y="{y}" width="{b:.2f}" height="{row_h - 6}"/>'
                     f'<rect class="projected" x="{label_w + b:.2f}" y="{y}" width="{pj:.2f}" '
                     f'height="{row_h - 6}"/>'
                     f'<text x="{label_w + bar_w + 8}" y="{y + 15}">{_e(row["total"])} '
                     f'{_e(currency)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: list[str], rows: list[list[tuple[str, str]]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f'<td data-key="{_e(k)}"{" class=n" if k in _NUMBERS else ""}>{_e(v)}</td>'
        for k, v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_NUMBERS = {"billed", "projected", "total", "yearly", "price", "amount"}


def _by_currency(rows: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for row in rows:
        found.setdefault(row["currency"], []).append(row)
    return found


def render(doc: dict) -> str:
    by = doc["by"]
    title = f"kscli spend report, as of {doc['as_of'][:10]}"
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           # nothing may be fetched: no script, no style, font or image from anywhere
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
           "style-src 'unsafe-inline'; img-src data:\">",
           f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{_e(title)}</h1>",
           f'<p>Months {_e(doc["months"][0])} to {_e(doc["months"][-1])} (current month '
           f'{_e(doc["current_month"])}); {doc["subscriptions"]} subscriptions, '
           f'{doc["bills"]} billings. '
           + (f'Amounts in {_e(doc["currency"])}.' if doc["currency"] else
              "Amounts per currency, never added across currencies.") + "</p>",
           '<p class="key"><span class="billed" style="background:#2b5797"></span>billed '
           '<span class="projected" style="background:#9fb7dd"></span>projected</p>']
    for part, rows in (("", doc["rows"]), (" (no rate: not converted)", doc["apart"])):
        for currency, found in _by_currency(rows).items():
            out.append(f'<h2>Spend per {_e(by)}, {_e(currency)}{_e(part)}</h2>')
            out.append(_chart(found, by, currency))
    keys = [by, "currency", "billed", "projected", "total", "source"]
    table_rows = [[(k, r[k]) for k in keys] for r in doc["rows"]]
    table_rows += [[(k, r[k]) for k in keys[:-1]] + [("source", r["source"] + " (no rate)")]
                   for r in doc["apart"]]
    out.append("<h2>Table</h2>")
    out.append(_table([k.capitalize() for k in keys], table_rows))
    if doc["rates"]:
        out.append("<h2>Exchange rates used</h2>")
        out.append(_table(["Currency", "First day", "Last day", "Source"],
                          [[("currency", r["currency"]), ("first_day", r["first_day"]),
                            ("last_day", r["last_day"]), ("source", r["source"])]
                           for r in doc["rates"]]))
    if doc["top"]:
        out.append("<h2>Top subscriptions by yearly cost</h2>")
        out.append(_table(["ID", "Vendor", "Product", "Plan", "Yearly", "Currency"],
                          [[("sub_id", t["sub_id"]), ("vendor", t["vendor"]),
                            ("product", t["product"]), ("plan", t["plan"]),
                            ("yearly", t["yearly_converted"]), ("currency", t["yearly_in"])]
                           for t in doc["top"]]))
    renewing = doc["renewing"]
    out.append(f'<h2>Renewing in the next {renewing["within_days"]} days: '
               f'<span data-key="renewing-count">{renewing["count"]}</span></h2>')
    if renewing["items"]:
        out.append(_table(["ID", "Vendor", "Product", "Renews", "Price", "Currency"],
                          [[("sub_id", i["sub_id"]), ("vendor", i["vendor"]),
                            ("product", i["product"]), ("renews_at", i["renews_at"][:10]),
                            ("price", i["price"]), ("currency", i["currency"])]
                           for i in renewing["items"]]))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_page(path: str, doc: dict) -> None:
    """Write the page whole (or not at all), private (0600)."""
    from kscli.store.fs import atomic_write, write_errors

    with write_errors(path):
        atomic_write(path, render(doc).encode("utf-8"))
