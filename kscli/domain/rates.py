"""Euro reference rates, as the European Central Bank publishes them: pure parsers and
the one rule for converting an amount.

The ECB publishes, every working day, how many units of about thirty currencies one
euro buys: ``eurofxref-daily.xml`` (one day, gesmes/ecb namespaces),
``eurofxref-hist.csv`` (every day since 1999: a ``Date`` column, one column per
currency, a trailing comma, ``N/A`` where a currency had no rate) and both zipped.
``parse_rates`` reads any of them by content. A rate is a Decimal: units of the
currency for one euro. ``RateBook`` answers the rate of a day (the nearest earlier
published day: no rates on weekends and holidays) and converts between any two
currencies through the euro.
"""

from __future__ import annotations

import bisect
import io
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Iterable, NamedTuple

from kscli.domain.errors import BadValue, shown
from kscli.domain.money import MINOR_DIGITS

BASE = "EUR"
_GESMES = "http://www.gesmes.org/xml/2002-08-01"
_ECB = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
_DECLARATION = re.compile(rb"<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)
# a zip holds one file; a larger one is refused before it is read whole
MAX_UNZIPPED = 64 * 1024 * 1024

Rates = dict[date, dict[str, Decimal]]  # day -> currency -> units for one euro


class RateError(BadValue):
    """A rates file that is not one the ECB publishes (exit 2)."""


def _rate(text: str, where: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        raise RateError(f"{where}: {shown(text)} is not a rate") from None
    if not value.is_finite() or value <= 0:
        raise RateError(f"{where}: {shown(text)} is not a positive rate")
    return value


def _day(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise RateError(f"{where}: {shown(text)} is not a date like 2026-11-30") from None


def _currency(text: str, where: str) -> str | None:
    """A known ISO 4217 code, None for one kscli does not know (skipped: the ECB's
    history holds currencies that no longer exist, like CYP)."""
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise RateError(f"{where}: {shown(text)} is not a currency code")
    return code if code in MINOR_DIGITS else None


def parse_xml(data: bytes) -> Rates:
    """The daily (or 90-day) XML: ``Cube time=DAY`` holding ``Cube currency= rate=``."""
    import xml.etree.ElementTree as ET

    if _DECLARATION.search(data):
        raise RateError("the XML file declares a DOCTYPE or entities: the ECB's files have "
                        "none, kscli does not read such a file")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise RateError(f"the XML file cannot be read ({exc})") from None
    if root.tag != f"{{{_GESMES}}}Envelope":
        raise RateError("the XML file is not the ECB's euro reference rates "
                        "(no gesmes:Envelope)")
    rates: Rates = {}
    for cube in root.iter(f"{{{_ECB}}}Cube"):
        when = cube.get("time")
        if when is None:
            continue
        day = _day(when, "the XML file")
        found = rates.setdefault(day, {})
        for item in cube.findall(f"{{{_ECB}}}Cube"):
            code = _currency(item.get("currency") or "", f"the XML file, {day}")
            if code is not None:
                found[code] = _rate(item.get("rate") or "", f"the XML file, {day} {code}")
    if not rates:
        raise RateError("the XML file holds no rates")
    return rates


def parse_csv(text: str) -> Rates:
    """The historical CSV: ``Date, USD, JPY, ...,`` then a line per day, ``N/A`` where a
    currency had no rate that day."""
    import csv

    lines = csv.reader(io.StringIO(text))
    header = next(lines, None)
    if not header or header[0].strip() != "Date":
        raise RateError("the CSV file is not the ECB's euro reference rates "
                        "(its first column is not Date)")
    columns = [_currency(name, "the CSV header") if name.strip() else None
               for name in header[1:]]
    rates: Rates = {}
    for number, row in enumerate(lines, start=2):
        if not row or not "".join(row).strip():
            continue
        where = f"the CSV file, line {number}"
        day = _day(row[0], where)
        found = rates.setdefault(day, {})
        for code, cell in zip(columns, row[1:]):
            cell = cell.strip()
            if code is None or not cell or cell == "N/A":
                continue
            found[code] = _rate(cell, f"{where} {code}")
    if not rates:
        raise RateError("the CSV file holds no rates")
    return rates


def _unzip(data: bytes) -> bytes:
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [i for i in archive.infolist() if not i.is_dir()]
            if len(names) != 1:
                raise RateError(f"the zip holds {len(names)} files: the ECB's holds one")
            if names[0].file_size > MAX_UNZIPPED:
                raise RateError("the zipped file is larger than any the ECB publishes")
            return archive.read(names[0])
    except zipfile.BadZipFile as exc:
        raise RateError(f"the zip cannot be read ({exc})") from None


def parse_rates(data: bytes) -> Rates:
    """Any file the ECB publishes, recognised by content: zip, XML or CSV."""
    if data.startswith(b"PK\x03\x04"):
        data = _unzip(data)
    body = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if body.startswith(b"<"):
        return parse_xml(body)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RateError("the file is neither the ECB's XML, CSV nor zip") from None
    return parse_csv(text)


class Rate(NamedTuple):
    """The rate used for one conversion: units of ``to`` for one ``of``."""

    of: str
    to: str
    rate: Decimal
    day: date | None  # the published day used (None: the same currency)
    source: str | None


class RateBook:
    """Rates per currency, by day: ``entries`` are (day, currency, rate, source)."""

    def __init__(self, entries: Iterable[tuple[date, str, Decimal, str]]) -> None:
        by_currency: dict[str, list[tuple[date, Decimal, str]]] = {}
        for day, currency, rate, source in entries:
            by_currency.setdefault(currency, []).append((day, rate, source))
        self._days: dict[str, list[date]] = {}
        self._rates: dict[str, list[tuple[date, Decimal, str]]] = {}
        for currency, rows in by_currency.items():
            rows.sort(key=lambda r: r[0])
            self._rates[currency] = rows
            self._days[currency] = [r[0] for r in rows]

    @property
    def currencies(self) -> list[str]:
        return sorted(self._rates)

    def days(self) -> list[date]:
        return sorted({d for days in self._days.values() for d in days})

    def latest_day(self) -> date | None:
        days = [d[-1] for d in self._days.values() if d]
        return max(days) if days else None

    def euro_rate(self, currency: str, day: date) -> tuple[date, Decimal, str] | None:
        """(published day, units for one euro, source) on ``day`` or the nearest earlier
        published day; None when there is none."""
        if currency == BASE:
            return None
        days = self._days.get(currency)
        if not days:
            return None
        i = bisect.bisect_right(days, day)
        return self._rates[currency][i - 1] if i else None

    def on(self, day: date) -> dict[str, tuple[date, Decimal, str]]:
        """Every currency's rate on ``day`` (nearest earlier published day)."""
        found = {c: self.euro_rate(c, day) for c in self._rates}
        return {c: r for c, r in sorted(found.items()) if r is not None}

    def rate(self, of: str, to: str, day: date) -> Rate | None:
        """Units of ``to`` for one ``of`` on ``day``: through the euro (a cross rate
        between two other currencies is their two euro rates); None without a rate."""
        if of == to:
            return Rate(of, to, Decimal(1), None, None)
        a = None if of == BASE else self.euro_rate(of, day)
        b = None if to == BASE else self.euro_rate(to, day)
        if (of != BASE and a is None) or (to != BASE and b is None):
            return None
        rate_of = a[1] if a else Decimal(1)
        rate_to = b[1] if b else Decimal(1)
        used = [r for r in (a, b) if r]
        published = min(r[0] for r in used)
        source = " + ".join(sorted({r[2] for r in used}))
        return Rate(of, to, rate_to / rate_of, published, source)


def entries(rates: Rates) -> list[tuple[date, str, Decimal]]:
    """(day, currency, rate) in day and currency order."""
    return [(day, code, rates[day][code]) for day in sorted(rates) for code in sorted(rates[day])]
