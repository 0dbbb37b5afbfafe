"""Whole-ledger commands: init, sweep, export, import."""

from __future__ import annotations

import sys

import click

from kscli.cli.app import get_app


@click.command()
@click.option("--sample", is_flag=True, help="Fill it with realistic sample data showing every status and rule.")
def init(sample):
    """Create the ledger (and its folder); with --sample, fill it with sample data.

    \b
    Example (a throwaway ledger to try kscli on):
      kscli --store /tmp/try.db init --sample && kscli --store /tmp/try.db sub list
    """
    from kscli.cli.output import note
    from kscli.services.ledger import init_ledger

    app = get_app()
    result = init_ledger(app.store, app.now, sample=sample)
    if not app.quiet:
        note(result)


@click.command()
@click.option("--dry-run", is_flag=True, help="Show what is due without changing anything.")
@click.option("--trust-clock", is_flag=True, help="Act even though the clock reads earlier than the newest event.")
def sweep(dry_run, trust_clock):
    """Apply every renewal, expiry and key lapse that is due (run it from cron).

    Catches up several periods if cron did not run; a second run changes nothing.

    \b
    Example (crontab, every night at 02:10):
      10 2 * * *  kscli --quiet sweep && kscli charges check
    """
    from kscli.cli.output import emit_list, note
    from kscli.services.subs import sweep as run_sweep

    app = get_app()
    report = run_sweep(app.store, app.now, policy=app.policy, dry_run=dry_run,
                       trust_clock=trust_clock)
    if app.quiet:
        return
    emit_list(app.fmt, report.changes,
              [("Subject", "subject"), ("Action", "action"), ("What", "message"),
               ("Reference", "reference")],
              empty="nothing due")
    if app.fmt == "table" and report.changes:
        verb = "would apply" if dry_run else "applied"
        note(f"{verb} {len(report.changes)} change(s)")


@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write to a file (0600) instead of stdout.")
def export(output):
    """Print the whole ledger as JSON (license keys themselves are never included).

    \b
    Example:
      kscli export > ledger-backup.json
    """
    from kscli.services.ledger import export_ledger

    app = get_app()
    text = export_ledger(app.store)
    if output:
        from kscli.store.fs import atomic_write, write_errors

        with write_errors(output):  # whole or not at all, and private (0600)
            atomic_write(output, text.encode())
    else:
        sys.stdout.write(text)


@click.command("import")
@click.argument("file", type=click.File("rb"), metavar="FILE")
def import_(file):
    """Load a ledger exported with `kscli export` into this (empty) ledger.

    The import is whole or nothing, and only into a ledger with no records, so an
    export then import then export gives the same file. Every value is checked and the
    first bad one is named with its row; nothing is kept unless all pass. A large file
    into SQLite is checked by a second process while this one writes, and a new SQLite
    ledger appears at its path only once complete.

    \b
    Example (move a ledger to the JSON backend):
      kscli export > all.json && kscli --store team.json import all.json
    """
    from kscli.cli.output import note
    from kscli.services.ledger import import_ledger

    app = get_app()
    counts = import_ledger(app.store, file.read(), getattr(file, "name", "FILE"))
    if not app.quiet:
        note("imported " + ", ".join(f"{n} {name}" for name, n in counts.items() if name != "counters"))
