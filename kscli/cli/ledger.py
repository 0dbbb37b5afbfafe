"""Whole-ledger commands: init, sweep, export, import."""

from __future__ import annotations

import sys

import click

from kscli.cli import params as p
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
      10 2 * * *  kscli --quiet sweep && kscli --quiet charges check
    """
    from kscli.cli.output import emit_list, note
    from kscli.domain.words import count_of
    from kscli.services.sweep import sweep as run_sweep

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
        note(f"{verb} {count_of(len(report.changes), 'change')}")


@click.command()
@click.option("--output", "-o", metavar="FILE", help="Write to a file (0600) instead of stdout.")
@click.option("--with-keys", is_flag=True,
              help="Include the license keys kept in the ledger file (the export then holds "
                   "secrets: write it with -o, which makes it private).")
def export(output, with_keys):
    """Print the whole ledger as JSON.

    License keys kept in the ledger file are left out unless --with-keys is given
    (the command says how many it left out); keys in the system keyring stay there.
    An import of an export without its keys marks them as missing, and `kscli doctor`
    then names the command that restores them.

    \b
    Examples:
      kscli export > ledger-backup.json
      kscli export --with-keys -o ledger-with-keys.json
    """
    from kscli.cli.output import note
    from kscli.domain.words import count_of
    from kscli.services.ledger import export_ledger, keys_kept_in_ledger

    app = get_app()
    if output:
        from kscli.store.fs import check_place

        check_place(output, writing=True, option="-o", example="ledger.json", makes_folders=False)
    kept = keys_kept_in_ledger(app.store)
    text = export_ledger(app.store, with_keys=with_keys)
    if kept and with_keys:
        note(f"warning: this export holds {count_of(kept, 'license key')}: keep it private"
             + ("" if output else " (-o FILE writes it with mode 0600)"))
    elif kept:
        note(f"left out {count_of(kept, 'license key')} kept in the ledger: "
             "`kscli export --with-keys -o FILE` includes them")
    if output:
        from kscli.store.fs import atomic_write, write_errors

        with write_errors(output):  # whole or not at all, and private (0600)
            atomic_write(output, text.encode())
    else:
        sys.stdout.write(text)


@click.command("import")
@click.argument("file", type=p.INPUT_FILE, metavar="FILE")
@click.option("--keys", "keys_only", is_flag=True,
              help="Only put back the license keys an earlier import left out, from an "
                   "export made with --with-keys (into a ledger that holds their records).")
def import_(file, keys_only):
    """Load a ledger exported with `kscli export` into this (empty) ledger.

    The import is whole or nothing, and only into a ledger with no records, so an
    export then import then export gives the same file. Every value is checked and the
    first bad one is named with its row; nothing is kept unless all pass (SQLite
    checks while it builds its indexes). A new SQLite ledger appears at its path only
    once complete.

    An export made without --with-keys leaves out the keys kept in the old ledger
    file: their records are marked as missing their key, and `import --keys` with an
    export made with --with-keys puts them back.

    \b
    Examples (move a ledger to the JSON backend, keys included):
      kscli export --with-keys -o all.json && kscli --store team.json import all.json
      kscli --store team.json import --keys all.json
    """
    from kscli.cli.output import note
    from kscli.domain.words import count_of

    app = get_app()
    if keys_only:
        from kscli.secrets import Keeper
        from kscli.services.ledger import restore_keys

        restored, unneeded = restore_keys(app.store, file.read(), getattr(file, "name", "FILE"),
                                          app.now, Keeper())
        if not app.quiet:
            note(f"restored {count_of(restored, 'license key')}"
                 + (f"; {unneeded} in the file were not missing here" if unneeded else ""))
        return
    from kscli.services.ledger import import_ledger

    counts = import_ledger(app.store, file.read(), getattr(file, "name", "FILE"))
    if not app.quiet:
        note("imported " + ", ".join(count_of(n, name[:-1] if name.endswith("s") else name, name)
                                     for name, n in counts.items()
                                     if name not in ("counters", "secrets", "keys_missing")))
    missing = counts.get("keys_missing", 0)
    if missing:
        note(f"warning: {count_of(missing, 'license key')} kept in the old ledger "
             f"{'was' if missing == 1 else 'were'} left out of "
             f"{getattr(file, 'name', 'the file')}: their records say the key is missing; "
             "`kscli import --keys FILE` with an export made by `kscli export --with-keys` "
             "puts them back")

