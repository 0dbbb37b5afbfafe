"""`kscli completion`: the shell completion scripts, from click's completion classes."""

from __future__ import annotations

import click

COMPLETE_VAR = "_KSCLI_COMPLETE"


def completion_source(shell: str) -> str:
    from click.shell_completion import get_completion_class

    from kscli.cli import cli

    cls = get_completion_class(shell)
    return cls(cli, {}, "kscli", COMPLETE_VAR).source()


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell):
    """Print the completion script for a shell.

    Ids of subscriptions, keys and incidents complete from the ledger.

    \b
    Examples:
      eval "$(kscli completion bash)"          # in ~/.bashrc
      kscli completion fish > ~/.config/fish/completions/kscli.fish
    """
    click.echo(completion_source(shell), nl=False)
