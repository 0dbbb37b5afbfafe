"""Parameter types: every command reads dates, durations, money and ids the same way."""

from __future__ import annotations

import sys

import click

from kscli.domain import ids

# The parsers are imported when a value is converted, not when this module loads:
# every command imports this module, few use every type.


class WhenType(click.ParamType):
    name = "DATE"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        from kscli.domain.calendar import CalendarError, parse_when

        try:
            return parse_when(value)
        except CalendarError as exc:
            self.fail(str(exc), param, ctx)


class DurationType(click.ParamType):
    name = "DURATION"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        from kscli.domain.calendar import CalendarError, parse_duration

        try:
            return parse_duration(value)
        except CalendarError as exc:
            self.fail(str(exc), param, ctx)


class MonthsType(DurationType):
    """A duration in whole months or years (a commitment term)."""

    def convert(self, value, param, ctx):
        duration = super().convert(value, param, ctx)
        if duration.months is None:
            self.fail(f"'{value}' is not a whole number of months: write 12m or 2y", param, ctx)
        return duration


class CurrencyType(click.ParamType):
    name = "CODE"

    def convert(self, value, param, ctx):
        from kscli.domain.money import MoneyError, parse_currency

        try:
            return parse_currency(value)
        except MoneyError as exc:
            self.fail(str(exc), param, ctx)


class PlanType(click.ParamType):
    name = "PLAN"

    def convert(self, value, param, ctx):
        from kscli.domain.model import PlanError, parse_plan

        try:
            return parse_plan(value)
        except PlanError as exc:
            self.fail(str(exc), param, ctx)


class TextType(click.ParamType):
    """Free text for a name: not empty, at most 200 characters."""

    name = "TEXT"

    def __init__(self, limit: int = 200) -> None:
        self.limit = limit

    def convert(self, value, param, ctx):
        text = str(value).strip()
        if not text:
            self.fail("must not be empty", param, ctx)
        if len(text) > self.limit:
            self.fail(f"is longer than {self.limit} characters", param, ctx)
        return text


class IdType(click.ParamType):
    """A record id such as S-1042; completed from the ledger in a shell."""

    name = "ID"

    def __init__(self, prefix: str, kind: str) -> None:
        self.prefix = prefix
        self.kind = kind

    def convert(self, value, param, ctx):
        text = str(value).strip().upper()
        if text.isdigit():
            text = self.prefix + text
        return text

    def shell_complete(self, ctx, param, incomplete):
        from kscli.cli.complete import complete_ids

        return complete_ids(ctx, self.prefix, incomplete)


class InputFileType(click.ParamType):
    """A file to read (``-`` is standard input where allowed), opened binary, or with
    ``path_only`` its checked path; one line saying what is wrong (exit 2) otherwise."""

    name = "file"

    def __init__(self, *, stdin: bool = True, path_only: bool = False) -> None:
        self.stdin = stdin
        self.path_only = path_only

    def convert(self, value, param, ctx):
        if hasattr(value, "read"):
            return value
        if value == "-" and self.stdin and not self.path_only:
            return click.File("rb").convert(value, param, ctx)
        try:
            handle = open(value, "rb")  # noqa: SIM115 - click closes it with the context
        except OSError as exc:
            from kscli.store.fs import read_error

            raise read_error(value, exc) from None
        if self.path_only:
            handle.close()
            return value
        if ctx is not None:
            ctx.call_on_close(handle.close)
        return handle


def read_secret_arg(value: str) -> str:
    """A KEY argument: ``-`` reads it from stdin, so it stays out of shell history."""
    if value == "-":
        line = sys.stdin.readline()
        if not line.strip():
            raise click.BadParameter("no key on standard input", param_hint="KEY")
        return line.strip()
    return value


INPUT_FILE = InputFileType()
INPUT_PATH = InputFileType(path_only=True)
WHEN = WhenType()
DURATION = DurationType()
MONTHS = MonthsType()
CURRENCY = CurrencyType()
PLAN = PlanType()
TEXT = TextType()
SUB_ID = IdType(ids.SUB, "subscription")
LICENSE_ID = IdType(ids.LICENSE, "license")
INCIDENT_ID = IdType(ids.INCIDENT, "incident")

WORD_RULE = ("whole words, any case and accents: acme finds Acme Cloud, not Acmeware")


def within_option(old_name: str, help_text: str, **kwargs):
    """``--within DURATION``, the one name of "how far ahead" on every listing, and the
    listing's older name (``old_name``) kept as a hidden alias; read both with
    :func:`within_of`."""
    def decorate(command):
        command = click.option(f"--{old_name}", old_name.replace("-", "_"), type=DURATION,
                               metavar="DURATION", hidden=True,
                               help="Same as --within (the older name).")(command)
        return click.option("--within", "within", type=DURATION, metavar="DURATION",
                            help=help_text, **kwargs)(command)
    return decorate


def within_of(within, old):
    """The --within value, or the older name's when only it was given."""
    return old if old is not None and within is None else within


def listing_options(command):
    """``--limit N`` and ``--reverse``: every listing shows its first N, either way."""
    command = click.option("--reverse", is_flag=True,
                           help="List in the opposite order.")(command)
    return click.option("--limit", type=click.IntRange(min=0), metavar="N",
                        help="Show only the first N (after --reverse).")(command)


def limited(items, limit: int | None, reverse: bool):
    """``items`` in the listing's order or reversed, at most ``limit`` of them."""
    from itertools import islice

    if reverse:
        items = list(items)[::-1]
    return items if limit is None else islice(items, limit)


as_of_option = click.option(
    "--as-of", "as_of", type=WHEN, default=None, metavar="DATE",
    help="Answer as on this date or time (a date alone is 00:00 UTC).",
)
