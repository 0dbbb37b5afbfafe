"""Every command's --help: a one-line summary and at least one example."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from kscli import __version__
from kscli.cli import COMMANDS, cli
from tools import shipped

NODES = list(shipped.walk())
PATHS = [n.path for n in NODES]


def run(*args: str):
    result = CliRunner().invoke(cli, list(args), prog_name="kscli", terminal_width=100)
    return result


def test_the_walk_reaches_every_top_level_command():
    top = {p[0] for p in PATHS if len(p) == 1}
    assert top == set(COMMANDS)


def test_root_help_lists_every_command_with_an_example():
    result = run("--help")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Usage: kscli [OPTIONS] COMMAND [ARGS]...")
    for name, (_, _, summary) in COMMANDS.items():
        assert f"  {name} " in result.stdout
    assert "Example" in result.stdout


def test_short_help_option_is_the_same_as_long():
    assert run("-h").stdout == run("--help").stdout


def test_version_prints_the_version_and_exits_0():
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout == f"kscli {__version__}\n"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "kscli")
def test_help_exits_0_with_a_one_line_summary_and_an_example(path):
    node = NODES[PATHS.index(path)]
    help_text = (node.command.help or "").strip()
    summary = help_text.split("\n\n", 1)[0]
    assert summary, f"`{node.name}` has no help text"
    assert "\n" not in summary and len(summary) <= 100, (
        f"`{node.name}`: the summary must be one line of at most 100 characters: {summary!r}")

    result = run(*path, "--help")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"Usage: {node.name}"), result.stdout[:80]
    assert summary.split()[0] in result.stdout
    assert "Example" in result.stdout, f"`{node.name} --help` has no example"


@pytest.mark.parametrize("path", [p for p in PATHS if p], ids=" ".join)
def test_every_example_runs_the_command_it_documents(path):
    node = NODES[PATHS.index(path)]
    examples = shipped.parse_help(node.command).examples
    lines = [line for example in examples for line in example.lines]
    # a group's examples may show any of its commands; a command's show itself
    assert any(" ".join(path) in line for line in lines), (
        f"`{node.name} --help` shows no example that uses `{node.name}`: {lines}")
