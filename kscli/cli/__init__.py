"""The command line: a thin click layer over kscli.services.

Subcommands are imported only when they run, so that `kscli --version` and a cron
job's `kscli renew due` pay only for what they use.
"""

from __future__ import annotations

import os
import sys

import click

from kscli import __version__
from kscli.cli.app import App
from kscli.domain.errors import KscliError

FORMATS = ("table", "plain", "json", "jsonl", "csv")  # --format

# name -> (module, attribute, one-line summary shown by `kscli --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("kscli.cli.ledger", "init", "Create the ledger, optionally with sample data."),
    "sub": ("kscli.cli.sub", "sub", "Subscriptions: add, list, show, cancel, history, dispute, "
            "edit, reprice, void, resume, import."),
    "renew": ("kscli.cli.renew", "renew", "Auto-renewal: turn it off or on, list what renews soon."),
    "license": ("kscli.cli.license", "license", "License keys: add, list, show, activate, "
                "deactivate, validate, issue, edit, history, revoke, sign, verify, "
                "machine-id, revoked."),
    "signer": ("kscli.cli.signer", "signer", "The vendor's signing key for license files: init, show, rotate."),
    "refund": ("kscli.cli.refund", "refund", "Refund eligibility under the policy, and requests."),
    "incident": ("kscli.cli.incident", "incident", "Support incidents of support plans."),
    "charges": ("kscli.cli.charges", "charges", "Bank or card statements held against the ledger."),
    "deadlines": ("kscli.cli.deadlines", "deadlines", "Every decision date ahead, soonest first."),
    "calendar": ("kscli.cli.deadlines", "calendar", "The deadlines as an iCalendar (.ics) file."),
    "remind": ("kscli.cli.deadlines", "remind", "For cron: remind of deadlines ahead, once each."),
    "show": ("kscli.cli.lookup", "show", "Show anything by its id or reference."),
    "history": ("kscli.cli.lookup", "history", "Show every event of any record."),
    "report": ("kscli.cli.report", "report", "Spend past and ahead, with charts; offline exchange rates."),
    "rates": ("kscli.cli.rates", "rates", "Exchange rates: import the ECB's euro reference rates, show them."),
    "policy": ("kscli.cli.policy", "policy", "Show the effective policy; lint a policy file."),
    "sweep": ("kscli.cli.ledger", "sweep", "Apply every renewal, expiry and lapse that is due."),
    "export": ("kscli.cli.ledger", "export", "Print the whole ledger as JSON."),
    "import": ("kscli.cli.ledger", "import_", "Load a ledger exported as JSON."),
    "doctor": ("kscli.cli.doctor", "doctor", "Check the ledger, the policy and the secrets backend."),
    "completion": ("kscli.cli.shell", "completion", "Print the shell completion script."),
}


# Other spellings a command answers to, not listed in help.
ALIASES: dict[str, str] = {"licence": "license"}

# The global options, accepted after the command too: (names, takes a value)
_GLOBAL_OPTIONS: dict[str, bool] = {"--store": True, "--format": True, "--policy": True,
                                    "--quiet": False, "-q": False, "--wide": False}


def hoist_global_options(args: list[str]) -> list[str]:
    """``kscli sub list --format json`` as ``kscli --format json sub list``: the global
    options given after the command move in front of it, in order, so that the one
    given last wins (as gh, kubectl and docker read their global flags). Nothing after
    ``--`` moves."""
    front: list[str] = []
    rest: list[str] = []
    i, seen_command = 0, False
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg
        takes_value = _GLOBAL_OPTIONS.get(name)
        if takes_value is None and (seen_command or not arg.startswith("-")):
            seen_command = True  # the command, or anything after it that is not global
            rest.append(arg)
        else:  # a global option (or, before the command, one click will judge)
            front.append(arg)
            if takes_value and "=" not in arg and i + 1 < len(args):
                i += 1
                front.append(args[i])
        i += 1
    return front + rest


def _fail(app: App | None, exc: KscliError) -> None:
    from kscli.cli.output import clean, dumps, one_line_json

    if app is not None and app.json and exc.exit_code in (3, 4):
        from kscli.cli.redact import mask_keys

        doc = exc.to_dict()
        sys.stdout.write(mask_keys(dumps(doc) if app.fmt == "json"
                                   else one_line_json(doc)) + "\n")
    message = exc.message if not exc.hint else f"{exc.message} ({exc.hint})"
    click.echo(f"Error: {clean(message)}", err=True)


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def __init__(self, *args, lazy: dict[str, tuple[str, str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx, name):
        name = ALIASES.get(name, name)
        if name in self.lazy:
            import importlib

            module, attr, _ = self.lazy[name]
            try:
                command = getattr(importlib.import_module(module), attr)
            except Exception:
                if ctx.resilient_parsing:  # completing in a shell: never a traceback
                    return None
                raise
            self.add_command(command, name)
        return super().get_command(ctx, name)

    def resolve_command(self, ctx, args):
        """An unknown command is answered with the nearest ones, loaded or not (the
        same words on every click version: click 8.2 and 8.3 suggest nothing)."""
        name = args[0] if args else None
        if isinstance(name, str) and not ctx.resilient_parsing and not name.startswith("-") \
                and self.get_command(ctx, name) is None:
            from difflib import get_close_matches

            visible = [n for n in self.list_commands(ctx) if n not in ALIASES]
            near = get_close_matches(name, visible)
            message = f"No such command {name!r}."
            if len(near) == 1:
                message += f" Did you mean {near[0]!r}?"
            elif near:
                message += " Did you mean one of " + ", ".join(map(repr, near)) + "?"
            raise click.UsageError(message, ctx=ctx)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx, formatter):
        # The registry's summaries, whether or not a module is loaded yet, so that
        # `kscli --help` reads the same in every process.
        rows = [(name, self.lazy[name][2]) for name in sorted(self.lazy)]
        rows += [(name, cmd.get_short_help_str(limit=60)) for name, cmd in sorted(self.commands.items())
                 if name not in self.lazy and not cmd.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(sorted(rows))


class RootGroup(LazyGroup):
    """The kscli command: the one boundary where errors become exit codes."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KscliError as exc:
            _fail(ctx.find_object(App), exc)
            ctx.exit(int(exc.exit_code))
        except BrokenPipeError:
            _quiet_stdout()
            ctx.exit(0)
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (see main)
            ctx.exit(_interrupted(ctx.find_object(App)))
        except OSError as exc:  # writing an export or output to a full or failing disk
            from kscli.store.fs import WRITE_ERRORS, cannot_write

            known = WRITE_ERRORS.get(exc.errno)
            if known is None or exc.filename is None:
                raise  # stdout itself: main() says so (there is nowhere to print a result)
            _fail(ctx.find_object(App), cannot_write(exc.filename, *known))
            ctx.exit(1)

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, hoist_global_options(list(args)))

    def main(self, *args, **kwargs):
        if os.environ.get("_KSCLI_COMPLETE"):
            import kscli.cli.shell  # noqa: F401  (registers kscli's completion scripts)
        try:
            return super().main(*args, **kwargs)
        except BrokenPipeError:
            _quiet_stdout()
            sys.exit(0)


def _interrupted(app: App | None) -> int:
    """Say whether an interrupted command had already recorded its change, and exit
    with the code that tells a script (7: it stands; 130: nothing changed)."""
    from kscli.domain.errors import ExitCode

    store = getattr(app, "_store", None)
    done = list(store.committed) if store is not None else []
    pending = list(store.committing) if store is not None else []
    events = done + pending
    _quiet_stdout()  # what is still buffered goes nowhere: the reader asked to stop
    if not events:
        click.echo("Interrupted: nothing was changed", err=True)
        return int(ExitCode.INTERRUPTED)
    shown = ", ".join(f"{e.subject} {e.action} {e.reference}" for e in events[:3])
    if len(events) > 3:
        shown += f" and {len(events) - 3} more"
    verb = "may have been recorded (the commit was under way)" if pending else "was recorded"
    click.echo(f"Interrupted, but the change {verb}: {shown}; it stands, and the output "
               "may be incomplete", err=True)
    return int(ExitCode.INTERRUPTED_AFTER_WRITE)


def _quiet_stdout() -> None:
    from kscli.cli.stdout import quiet

    quiet()


def _version(ctx, param, value):
    if value and not ctx.resilient_parsing:
        click.echo(f"kscli {__version__}")
        ctx.exit(0)


@click.group(
    cls=RootGroup,
    lazy=dict(COMMANDS),
    invoke_without_command=True,
    subcommand_metavar="COMMAND [ARGS]...",
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Example: kscli init --sample && kscli sub list",
)
@click.option("--store", metavar="PATH|URL", envvar="KSCLI_STORE",
              help="The ledger: *.json for the JSON backend, a postgresql:// URL, or an "
                   "SQLite file. [env KSCLI_STORE; default: kscli.db in the user data folder]")
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              envvar="KSCLI_FORMAT", default="table", show_default=True,
              help="Output format. [env KSCLI_FORMAT]")
@click.option("--policy", "policy_path", metavar="PATH", envvar="KSCLI_POLICY",
              help="A policy file (TOML) replacing the built-in policy. [env KSCLI_POLICY]")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success; errors still go to stderr.")
@click.option("--wide", is_flag=True,
              help="Tables show every cell whole. Without it a table fits COLUMNS or the "
                   "terminal, long text shortened with …; other formats are never shortened.")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="Show the version and exit.")
@click.pass_context
def cli(ctx, store, fmt, policy_path, quiet, wide):
    """kscli: a local-first ledger for software subscriptions and license keys.

    The options below are also accepted after the command (`kscli sub list --format
    json`); the one given last wins.

    It lists what you hold, cancels and turns off auto-renewal the way the policy says,
    activates license keys inside their one-year window, answers "is this refundable?"
    with the clauses that decided it, and gives a reference number for every change.
    """
    ctx.obj = App(store_spec=store, fmt=fmt, policy_path=policy_path, quiet=quiet, wide=wide)
    if ctx.invoked_subcommand is None and not ctx.resilient_parsing:  # `kscli` alone
        click.echo(ctx.get_help())
        ctx.exit(0)


def main() -> None:
    from kscli.cli import redact, stdout

    stdout.install()
    redact.install()
    # like Ctrl-C: say what stands (through _signal, the builtin under `signal`: that
    # module's import builds its enums, 1.4 ms of every start)
    import _signal

    _signal.signal(_signal.SIGTERM, _signal.default_int_handler)
    problem = _undecodable_argument(sys.argv[1:])
    if problem:
        sys.stderr.write(problem + "\n")
        sys.exit(2)
    try:
        cli.main(prog_name="kscli")
    except SystemExit as done:
        problem = stdout.finish()
        if problem is None:
            raise
        _exit_failed_write(problem)
    except OSError as exc:  # a write to stdout failed inside the command
        problem = stdout.failed_write(exc)
        if problem is None:
            raise
        _exit_failed_write(problem)


def _undecodable_argument(argv: list[str]) -> str | None:
    """An argument that is not UTF-8 text (Python keeps its bytes as lone surrogates) would
    be stored as garbage or fail deep in a backend: refuse it first, naming its place but
    not its bytes (it may be a key). A path that exists is a path, whatever its bytes."""
    for n, arg in enumerate(argv, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            if os.path.exists(arg):
                continue
            option = argv[n - 2] if n >= 2 and argv[n - 2].startswith("-") else None
            what = f"the value of {option}" if option else f"argument {n}"
            return (f"Error: {what} is not valid UTF-8 text (set the terminal to UTF-8, or "
                    "type the text again)")
    return None


def _exit_failed_write(problem: str) -> None:
    _quiet_stdout()  # what is left in the buffer can go nowhere
    sys.stderr.write(problem + "\n")
    sys.stderr.flush()
    os._exit(1)
