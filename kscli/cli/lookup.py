"""`kscli show REF-OR-ID` and `kscli history ID`: any record or event by its id or
reference, and the events of any record."""

from __future__ import annotations

from typing import Any

import click

from kscli.cli.common import emit_events, summary

from kscli.domain import ids

from kscli.cli.app import get_app

# The kinds of id, by prefix: (what it names, the table, the command that lists them)
# each kind of id: its table and the command that lists the ids (the noun people call
# one by is its record description's)
_KINDS = {ids.SUB: ("subs", "kscli sub list"), ids.LICENSE: ("licenses", "kscli license list"),
          ids.INCIDENT: ("incidents", "kscli incident list"),
          ids.CHARGE: ("charges", "kscli charges list")}
_REFERENCE = "KS-"


def _kind(text: str, param_hint: str) -> tuple[str, str]:
    """(the id or reference in capitals, its prefix), or exit 2 saying what is wanted."""
    value = text.strip().upper()
    for prefix in (*_KINDS, _REFERENCE):
        if value.startswith(prefix) and len(value) > len(prefix):
            return value, prefix
    raise click.BadParameter(
        f"'{text[:40]}' is not an id (S-1001, L-1001, I-1001, C-1001) nor a reference "
        "(KS-20261122-7Q2K9M)", param_hint=param_hint)


def _require(ledger, record_id: str, prefix: str) -> Any:
    table, listing = _KINDS[prefix]
    return ledger.require(table, record_id, listing)


@click.command("show")
@click.argument("ref", metavar="REF-OR-ID")
@click.pass_context
def show(ctx, ref):
    """Show anything by its id or reference: a record, or an event with its subject.

    A record is shown as its own show command shows it: S- is a subscription (`sub
    show`), L- a license key (`license show`), I- an incident, C- a charge. KS-... is
    the event of that reference (`--format json`: the event, with `record`: its
    subject as it stands now, or null for a ledger-wide event such as a statement
    import).

    \b
    Examples:
      kscli show KS-20261122-7Q2K9M
      kscli show L-1002
    """
    from kscli.cli.output import emit_object
    from kscli.domain.errors import NotFound
    from kscli.views import record_view

    value, prefix = _kind(ref, "REF-OR-ID")
    if prefix == "S-":
        from kscli.cli.sub import show as sub_show

        return ctx.invoke(sub_show, sub_id=value, as_of=None)
    if prefix == "L-":
        from kscli.cli.license import show as license_show

        return ctx.invoke(license_show, target=value, reveal=False, as_of=None)
    app = get_app()
    with app.store.read() as ledger:
        if prefix != _REFERENCE:
            emit_object(app.fmt, record_view(_require(ledger, value, prefix)))
            return None
        event = ledger.event(value)
        if event is None:
            raise NotFound(f"no event with reference {value} in {ledger.location}",
                           hint="`kscli history ID` lists a record's events and references")
        subject = _subject(ledger, event.subject, app.now)
    view = {**record_view(event), "record": subject}
    if app.json:
        emit_object(app.fmt, view)
        return None
    emit_object(app.fmt, {**view, "summary": summary(event.detail),
                          "record": _subject_line(subject)},
                fields=[("reference", "reference"), ("at", "at"), ("subject", "subject"),
                        ("action", "action"), ("detail", "summary"), ("record", "record")])
    return None


def _subject(ledger, subject: str, now) -> dict | None:
    """The JSON of an event's subject as it stands now; None for a ledger-wide one."""
    from kscli.views import record_view

    prefix = next((p for p in _KINDS if subject.startswith(p)), None)
    if prefix is None:
        return None
    record = ledger.record(_KINDS[prefix][0], subject)
    if record is None:
        return None
    if prefix == "S-":
        from kscli.domain.timeline import state_at
        from kscli.views import sub_view

        return sub_view(state_at(record, now))
    if prefix == "L-":
        from kscli.views import license_view

        return license_view(record, now, years=get_app().policy.activation_years())
    return record_view(record)


def _subject_line(subject: dict | None) -> str | None:
    """The subject on one line: what it is and its status."""
    if subject is None:
        return None
    words = [subject.get(k) for k in ("vendor", "product", "account", "summary", "description")]
    status = subject.get("display_status") or subject.get("status") or subject.get("state")
    text = " ".join(str(w) for w in words if w)
    return f"{subject['id']}: {text}" + (f" ({status})" if status else "")


@click.command("history")
@click.argument("record_id", metavar="ID")
def history(record_id):
    """Show every event of any record (S-, L-, I-, C-), with its reference number.

    A subscription's history holds the events of its incidents and keys too, as
    `sub history` shows it.

    \b
    Examples:
      kscli history S-1001
      kscli history L-1002
    """
    value, prefix = _kind(record_id, "ID")
    if prefix == _REFERENCE:
        raise click.BadParameter(f"{value} is a reference: `kscli show {value}` shows its event",
                                 param_hint="ID")
    app = get_app()
    with app.store.read() as ledger:
        _require(ledger, value, prefix)
        events = list(ledger.events_about(value) if prefix == "S-" else ledger.events(value))
    emit_events(app, events)
