"""Helpers the command modules share: printing outcomes, confirmations, errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import click

from kscli.cli.app import App, interactive
from kscli.cli.output import emit_object, note

if TYPE_CHECKING:
    from kscli.services import Outcome

SUB_FIELDS: Sequence[tuple[str, str]] = (
    ("id", "id"), ("vendor", "vendor"), ("product", "product"), ("account", "account"),
    ("plan", "plan"), ("plan history", "plan_history_text"), ("kind", "kind"), ("price", "price_text"),
    ("price history", "price_history_text"), ("status", "display_status"),
    ("auto-renew", "auto_renew"), ("started", "started_at"), ("period", "period_text"),
    ("ends", "ends_at"), ("commitment until", "commitment_end"), ("channel", "channel"),
    ("partner", "partner_name"), ("partner portal", "partner_portal"), ("region", "region"),
    ("statements say", "match_text"), ("trial", "trial"), ("trial until", "trial_ends_at"),
    ("notice", "notice"), ("cancel by", "cancel_by"), ("fixed end", "ends"),
    ("disputed", "disputed"),
    ("refuse service", "refuse_service"),
)


def sub_record(sub) -> dict[str, Any]:
    """The fields a table shows of a subscription (a record, or its state at a moment)."""
    from kscli.views import day, sub_view

    record = sub_view(sub)
    sub = getattr(sub, "sub", sub)  # a SubState holds its record
    record["price_text"] = f"{sub.price} {sub.currency}"
    record["price_history_text"] = ", ".join(
        f"{change['price']} from {change['from'][:10]}" for change in record["price_history"]) or None
    record["plan_history_text"] = ", ".join(
        f"{change['plan']} from {change['from'][:10]}" for change in record["plan_history"]) or None
    record["match_text"] = ", ".join(record["match"]) or None
    record["period_text"] = (f"{day(sub.period_start)} to {day(sub.period_end)}"
                             if sub.period_end else day(sub.period_start))
    for key in ("started_at", "ends_at", "commitment_end", "trial_ends_at", "ends"):
        if record.get(key):
            record[key] = record[key][:10] if key != "started_at" else record[key]
    if record["disputed"] is False:
        record["disputed"] = None
    if record["refuse_service"] is False:
        record["refuse_service"] = None
    return record


def show_outcome(app: App, outcome: Outcome, view: Callable[[Any], dict],
                 fields: Sequence[tuple[str, str]] = (), record: Callable[[Any], dict] | None = None) -> None:
    """Print what a command did; a command that changed nothing says so on stderr."""
    data = view(outcome.record)
    if outcome.warnings is not None:
        for warning in outcome.warnings if not app.quiet else ():
            note(f"warning: {warning}")
        data["warnings"] = list(outcome.warnings)
    if outcome.event is not None:
        data = {**data, "reference": outcome.event.reference}
    else:
        data = {**data, "changed": False}
    if app.json:
        emit_object(app.fmt, data, message=outcome.message, quiet=app.quiet and outcome.changed)
        return
    if not outcome.changed:
        note(outcome.message)
        return
    if app.quiet:
        return
    shown = record(outcome.record) if record else data
    if outcome.event is not None:
        shown = {**shown, "reference": outcome.event.reference}
    emit_object(app.fmt, shown, message=outcome.message,
                fields=[*fields, ("reference", "reference")] if fields else [("reference", "reference")])


def confirm_or_refuse(question: str, yes: bool) -> None:
    """A destructive step asks on a terminal; elsewhere it needs --yes."""
    if yes:
        return
    if not interactive():
        raise click.UsageError(f"{question} Not on a terminal: add --yes to confirm.")
    if not click.confirm(question, default=False, err=True):
        note("nothing changed")
        raise click.exceptions.Exit(1)


def emit_events(app, events: Iterable[Any]) -> None:
    """Events as `sub history` prints them: a list (JSON) or a table with a summary."""
    from kscli.cli.output import emit_list
    from kscli.views import event_view

    emit_list(app.fmt, [event_view(e) for e in events],
              [("At", "at"), ("Reference", "reference"), ("Subject", "subject"),
               ("Action", "action"), ("Detail", "summary")],
              table_row=lambda e: [e["at"], e["reference"], e["subject"], e["action"],
                                   summary(e["detail"])])


def summary(detail: dict) -> str:
    """An event's detail on one line: a correction as its fields before -> after."""
    parts = []
    before, after = detail.get("before"), detail.get("after")
    if isinstance(before, dict) and isinstance(after, dict):  # a correction
        parts += [f"{key}: {before.get(key)} -> {value}" for key, value in after.items()]
    for key, value in detail.items():
        if key == "subscription" or isinstance(value, (dict, list)):
            continue
        parts.append(f"{key}={value}")
    return ", ".join(parts)
