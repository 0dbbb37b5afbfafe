"""`kscli doctor`: check the ledger, the policy and where keys are kept."""

from __future__ import annotations

import click

from kscli.cli.app import get_app


@click.command()
@click.option("--quick", is_flag=True,
              help="Skip the checks that read the whole ledger (every value, and SQLite's "
                   "integrity_check: quick_check instead).")
def doctor(quick: bool):
    """Check the ledger, the store, the policy file and the secrets backend.

    Prints one line per check and exits 1 if any fails. Where license keys are kept
    and whether completion is installed are reported as information, never failures.
    Without --quick it also reads every stored value, as an import of the ledger's
    export would check it, and runs SQLite's full integrity_check; cron jobs that run
    doctor often can pass --quick.

    \b
    Example:
      kscli doctor
    """
    from kscli.cli.output import emit_list
    from kscli.services.doctor import run_checks

    app = get_app()
    results = run_checks(app, quick)
    emit_list(app.fmt, results,
              [("Check", "check"), ("Result", "result"), ("Detail", "detail")],
              table_row=lambda r: [r["check"], r["result"], r["detail"]])
    if any(r["result"] == "FAIL" for r in results):
        raise click.exceptions.Exit(1)
