"""Subscriptions brought in from elsewhere (`sub import`): a CSV list with named
columns, or an export of Wallos (JSON, wrapped or a bare array, and its unquoted CSV).

Pure: the records come in as dicts of text (the service parses JSON and CSV), each is
mapped to the fields `sub add` takes, or to the problems that stop the import (one per
record, naming the field). The choices where a file is silent:

- Wallos ``Name`` is the vendor and the product (Wallos has no product); a record
  with an empty ``Name`` is skipped, and the import says so.
- Cycles: ``Monthly``, ``Yearly``, ``Every N Months`` (``Nm``), ``Every N Years``
  (``12N`` months, up to 99), and kscli's own ``monthly``, ``annual``, ``Nm``.
  ``Daily``, ``Weekly`` and ``Every N Days|Weeks`` have no kscli plan (plans are
  counted in months): such a record is a problem, and nothing is imported.
- Prices: ``$15.99``, ``€59,99``, ``£8.50``, ``$10``, ``15.99 EUR`` (the statement
  amount reader): the symbol or code gives the currency (``$`` is USD), else the
  currency column, else ``--currency``.
- ``Next Payment`` (or a next-payment column): Wallos keeps no start date, so the
  subscription starts one period before it and its current period ends on it. A start
  column is taken as it is.
- ``State`` Disabled, ``Active`` No, or a ``Cancellation Date`` (empty or null is
  none) make it cancelled: on the cancellation date (else the import's time), with
  service to the end of its period, as `sub cancel` records it. ``Renewal`` Manual is
  auto-renew off.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from kscli.domain.calendar import add_months, start_of_day
from kscli.domain.money import MINOR_DIGITS
from kscli.domain.statement.amounts import _AmountError, read_amount

WALLOS_FIELDS = ("Name", "Payment Cycle", "Next Payment", "Renewal", "Category",
                 "Payment Method", "Paid By", "Price", "Notes", "URL", "State",
                 "Notifications", "Cancellation Date", "Active")

# The roles of a CSV list, and the column each has unless an option names another.
ROLES = ("vendor", "product", "plan", "price", "currency", "started", "next_payment",
         "account", "notes")
CSV_DEFAULTS = {"vendor": "vendor", "product": "product", "plan": "plan", "price": "price",
                "currency": "currency", "started": "started", "next_payment": "next payment",
                "account": "account", "notes": "notes"}
# A Wallos record's fields in those roles.
WALLOS_ROLES = {"vendor": "Name", "product": "Name", "plan": "Payment Cycle",
                "price": "Price", "next_payment": "Next Payment", "notes": "Notes"}

_EVERY = re.compile(r"^every\s+(\d{1,3})\s+(day|week|month|year)s?$")
_MONTHS = re.compile(r"^([1-9][0-9]?)m$")


@dataclass(frozen=True)
class NewSub:
    """What one record becomes: `sub add`'s fields, and a cancellation if it has one."""

    record: int  # 1-based place in the file
    fields: dict
    cancelled_at: datetime | None = None
    notes: str | None = None


@dataclass
class Mapped:
    subs: list[NewSub] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # a line each, saying why
    problems: list[str] = field(default_factory=list)  # a line each, naming the field


def plan_of(text: str) -> str | None:
    """The kscli plan a cycle is written as, or None."""
    cycle = " ".join(text.strip().lower().split())
    if cycle in ("monthly", "month", "1m"):
        return "monthly"
    if cycle in ("yearly", "annual", "annually", "year", "12m"):
        return "annual"
    if cycle in ("quarterly",):
        return "3m"
    months = _MONTHS.match(cycle)
    if months:
        return months.group(0)
    every = _EVERY.match(cycle)
    if every:
        n, unit = int(every.group(1)), every.group(2)
        count = {"month": n, "year": 12 * n}.get(unit)
        if count is None or not 1 <= count <= 99:
            return None
        return "monthly" if count == 1 else "annual" if count == 12 else f"{count}m"
    return None


def _date(text: str, date_format: str | None) -> date | None:
    text = text.strip()
    try:
        if date_format:
            return datetime.strptime(text, date_format).date()
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _yes(text: str | None) -> bool:
    return (text or "").strip().lower() in ("yes", "true", "1", "enabled", "automatic")


def map_records(records: Iterable[Mapping[str, object]], *, wallos: bool,
                columns: Mapping[str, str] | None = None, default_currency: str | None = None,
                date_format: str | None = None, now: datetime,
                months_of: Callable[[str], int | None]) -> Mapped:
    """Each record as the fields of `sub add`, the skipped ones, and the problems.

    ``columns`` maps a role to its column name (CSV lists); ``months_of`` is the
    domain's plan_months (passed in, so that the plan rule stays in kscli.domain.model).
    """
    roles = dict(WALLOS_ROLES) if wallos else {**CSV_DEFAULTS, **(columns or {})}
    out = Mapped()
    for number, record in enumerate(records, start=1):
        def get(role: str) -> str:
            name = roles.get(role)
            value = record.get(name) if name else None
            return "" if value is None else str(value).strip()

        def column(role: str) -> str:
            return roles[role]

        where = f"record {number}"
        vendor = get("vendor")
        if not vendor:
            out.skipped.append(f"{where}: skipped, its {column('vendor')} is empty")
            continue
        where = f"record {number} ({vendor})"
        problems: list[str] = []
        product = get("product") or vendor
        cycle = get("plan")
        plan = plan_of(cycle) if cycle else None
        if plan is None:
            problems.append(f"{where}: {column('plan')} {cycle!r} is no kscli plan (monthly, "
                            "annual, Nm, Every N Months or Years; plans are counted in months)"
                            if cycle else f"{where}: {column('plan')} is empty")
        price_text = get("price")
        currency_text = get("currency").upper() if "currency" in roles else ""
        price: Decimal | None = None
        currency: str | None = None

        def currency_of(marker: str | None, explicit: bool) -> str:
            code = marker or currency_text or default_currency
            if code is None:
                raise _AmountError("names no currency (add a currency column, or "
                                   "--currency)", True)
            if code not in MINOR_DIGITS:
                raise _AmountError(f"is in {code}, a currency kscli keeps no prices in", True)
            return code

        if not price_text:
            problems.append(f"{where}: {column('price')} is empty")
        else:
            try:
                sign, price, currency = read_amount(price_text, None, currency_of)
                if sign < 0:
                    problems.append(f"{where}: {column('price')} {price_text!r} is negative")
            except _AmountError as exc:
                reason = exc.reason if exc.standalone else f"is not a price{exc.reason}"
                problems.append(f"{where}: {column('price')} {price_text!r} {reason.lstrip(': ')}")
        started: datetime | None = None
        start_text = get("started")
        next_text = get("next_payment")
        if start_text:
            day = _date(start_text, date_format)
            if day is None:
                problems.append(f"{where}: {column('started')} {start_text!r} is not a date "
                                + ("like " + date_format if date_format else "(ISO 8601, 2026-11-22)"))
            else:
                started = start_of_day(day)
        elif next_text:
            day = _date(next_text, date_format)
            if day is None:
                problems.append(f"{where}: {column('next_payment')} {next_text!r} is not a "
                                "date " + ("like " + date_format if date_format
                                           else "(ISO 8601, 2026-11-22)"))
            elif plan is not None:
                started = add_months(start_of_day(day), -(months_of(plan) or 0))
        else:
            started = now
        cancelled_at: datetime | None = None
        if wallos:
            gone = (get_raw(record, "State").lower() == "disabled"
                    or get_raw(record, "Active").lower() == "no")
            cancel_text = get_raw(record, "Cancellation Date")
            if cancel_text:
                day = _date(cancel_text, None)
                if day is None:
                    problems.append(f"{where}: Cancellation Date {cancel_text!r} is not a date "
                                    "(ISO 8601, 2026-11-22)")
                else:  # noon of that day (a date alone is no time), never ahead of now
                    cancelled_at = min(start_of_day(day) + timedelta(hours=12), now)
            elif gone:
                cancelled_at = now
            renewal = get_raw(record, "Renewal")
            auto_renew = not renewal or _yes(renewal)
        else:
            auto_renew = True
        if problems:  # one line for the record, naming each field at fault
            out.problems.append(f"{where}: " + "; ".join(
                problem[len(where) + 2:] for problem in problems))
            continue
        account = (get("account") if "account" in roles else "") or "default"
        out.subs.append(NewSub(number, dict(
            account=account, vendor=vendor, product=product, plan=plan, kind="subscription",
            price=price, currency=currency, started_at=started, commitment_months=None,
            auto_renew=auto_renew, partner_name=None, partner_portal=None, region=None),
            cancelled_at, get("notes") or None))
    return out


def get_raw(record: Mapping[str, object], name: str) -> str:
    value = record.get(name)
    return "" if value is None else str(value).strip()


def wallos_csv_rows(lines: list[list[str]]) -> list[dict[str, str]]:
    """Wallos's unquoted CSV as records: the first row names the fields. Wallos replaces
    commas with spaces in every field but URL, so a row with too many fields has commas
    in its URL: the fields before and after the URL are counted from each end."""
    if not lines:
        return []
    header = [name.strip() for name in lines[0]]
    url = header.index("URL") if "URL" in header else None
    out: list[dict[str, str]] = []
    for row in lines[1:]:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header) and url is not None:
            after = len(header) - url - 1
            row = [*row[:url], ",".join(row[url:len(row) - after]), *row[len(row) - after:]]
        out.append(dict(zip(header, row)))
    return out
