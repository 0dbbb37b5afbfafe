"""`kscli policy`: the effective policy, and a linter for policy files."""

from __future__ import annotations

import click

from kscli.cli import LazyGroup
from kscli.cli import params as p
from kscli.cli.app import get_app


@click.group(cls=LazyGroup)
def policy():
    """Show the effective policy; lint a policy file.

    The policy is a TOML file of clauses with stable ids. `--policy FILE` (or
    KSCLI_POLICY) replaces the built-in one; start from `kscli policy show --toml`.

    \b
    Example:
      kscli policy show --toml > my-policy.toml && kscli policy check my-policy.toml
    """


def param_text(params: dict) -> str:
    """A clause's parameters on one line: ``days: annual=60; regions: EU(annual=60)``."""
    parts = []
    for key, value in params.items():
        if isinstance(value, dict):
            inner = []
            for name, sub in value.items():
                if isinstance(sub, dict):
                    inner.append(f"{name}(" + ", ".join(f"{k}={v}" for k, v in sub.items()) + ")")
                else:
                    inner.append(f"{name}={sub}")
            parts.append(f"{key}: " + (", ".join(inner) or "none"))
        elif isinstance(value, list):
            parts.append(f"{key}: " + (", ".join(str(v) for v in value) or "none"))
        else:
            parts.append(f"{key}: {value}")
    return "; ".join(parts)


@policy.command("show")
@click.option("--toml", "as_toml", is_flag=True,
              help="Print the built-in policy file itself, to copy and edit.")
def show(as_toml):
    """Print the effective policy: every clause with its id, title, text and parameters.

    \b
    Examples:
      kscli policy show
      kscli --policy my-policy.toml --format json policy show
    """
    from kscli.cli.output import clean, emit_list, emit_object, note

    app = get_app()
    if as_toml:
        from kscli.policy_files import default_policy_text, read_policy_text

        text = read_policy_text(app.policy_path) if app.policy_path else default_policy_text()
        app.policy  # the file shown must be one kscli accepts
        click.echo(text, nl=False)
        return
    current = app.policy
    if app.json:
        emit_object(app.fmt, current.to_dict())
        return
    rows = [{"id": c["id"], "title": c["title"], "text": c["text"],
             "parameters": param_text(c["params"])} for c in current.to_dict()["clauses"]]
    if app.fmt == "csv":
        emit_list(app.fmt, rows, [(k, k) for k in ("id", "title", "text", "parameters")])
        return
    if app.fmt == "plain":
        emit_list(app.fmt, rows, [(k, k) for k in ("id", "title", "text", "parameters")])
        return
    from tabulate import tabulate

    if not app.quiet:
        note(f"policy version {current.version} ({current.source})")
    table = [[clean(r["id"]), clean(r["title"]), clean(r["text"]), clean(r["parameters"]) or "-"]
             for r in rows]
    click.echo(tabulate(table, headers=["Clause", "Title", "Text", "Parameters"],
                        tablefmt="simple", disable_numparse=True,
                        maxcolwidths=_wrap_widths(table)))


def _wrap_widths(table) -> list[int | None]:
    """How wide the wrapped columns may be: title 22, text 60, parameters 30, or less so
    that the table fits COLUMNS or the terminal (text is wrapped, never cut)."""
    from kscli.cli.output import table_width

    width = table_width()
    title, text, params = 22, 60, 30
    if width is not None:
        clause = max(len("Clause"), *(len(row[0]) for row in table))
        room = width - clause - 3 * 2  # the gaps between the four columns
        title, params = (22, 30) if room >= 22 + 30 + 40 else (14, 18)
        text = max(16, room - title - params)
    return [None, title, text, params]


@policy.command("check")
@click.argument("file", type=p.INPUT_PATH, metavar="FILE")
def check(file):
    """Lint a policy file for CI: one line per problem, exit 1 on any error.

    Finds TOML syntax errors, unknown or missing clauses, wrong types, negative or
    out-of-range numbers, a region table that leaves a plan type uncovered, and
    (as warnings) rules that can never change an answer. Needs no ledger.

    \b
    Output lines:  FILE:LINE: CLAUSE: MESSAGE   (warnings say "warning:")
    Example (CI):
      kscli policy check policy.toml
    """
    from kscli.cli.output import clean, emit_object, note
    from kscli.domain.words import count_of
    from kscli.domain.errors import BadValue
    from kscli.domain.policy import ERROR, PolicyError
    from kscli.policy_files import lint_policy_file

    app = get_app()
    try:
        problems = lint_policy_file(file)
    except PolicyError as exc:
        raise BadValue(exc.message) from None
    errors = [pr for pr in problems if pr.severity == ERROR]
    warnings = len(problems) - len(errors)
    if app.json:
        emit_object(app.fmt, {"file": file, "valid": not errors, "errors": len(errors),
                              "warnings": warnings,
                              "problems": [pr.to_dict() for pr in problems]})
    else:
        for problem in problems:
            where = f"{file}:{problem.line}" if problem.line else file
            what = f"{problem.clause}: " if problem.clause else ""
            level = "warning: " if problem.severity != ERROR else ""
            click.echo(clean(f"{where}: {what}{level}{problem.message}"))
        if not app.quiet or errors:
            if errors:
                note(f"{file}: {count_of(len(errors), 'error')}, {count_of(warnings, 'warning')}: "
                     "kscli will not use this policy")
            elif warnings:
                note(f"{file}: valid, with {count_of(warnings, 'warning')}")
            else:
                note(f"{file}: valid")
    if errors:
        raise click.exceptions.Exit(1)
