"""The shipped completion scripts and man pages: current, complete, and warning-free."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kscli.domain.errors import EXIT_CODE_MEANINGS, ExitCode
from kscli.paths import ENVIRONMENT
from tools import shipped

REPO = Path(__file__).resolve().parent.parent
GROUPS = ("sub", "renew", "license", "signer", "refund", "incident", "charges", "policy",
          "rates")
MAN_PAGES = ["man/kscli.1", *(f"man/kscli-{g}.1" for g in GROUPS)]
SHIPPED = [*shipped.SHELL_FILES.values(), *MAN_PAGES, "kscli/default_policy.json"]
SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "ENVIRONMENT",
            "FILES", "EXAMPLES", "SEE ALSO")


@pytest.fixture(scope="module")
def fresh() -> dict[str, str]:
    return shipped.build()


def groff_or_skip() -> str:
    """groff's path; in CI a missing groff fails the test instead of skipping it."""
    groff = shutil.which("groff")
    if groff is None:
        if os.environ.get("CI"):
            pytest.fail("groff is not installed: .ci/run must install it (apt-get install groff)")
        pytest.skip("groff is not installed: install it to check that the man pages render "
                    "without warnings")
    return groff


def groff_warnings(groff: str, source: str) -> str:
    done = subprocess.run([groff, "-man", "-ww", "-z"], input=source.encode(),
                          capture_output=True, timeout=60)
    return done.stderr.decode(errors="replace")


# -- drift ----------------------------------------------------------------------------------


def test_the_build_makes_exactly_the_shipped_files(fresh):
    assert sorted(fresh) == sorted(SHIPPED)


def test_the_built_in_policy_read_from_json_is_the_toml_one():
    """Commands read the built-in policy from its JSON form; `policy show --toml` prints
    the TOML: both give the same policy, clause by clause and in the same order."""
    from kscli.domain.policy_lint import parse_policy
    from kscli.policy_files import DEFAULT_SOURCE, default_policy_text, load_default

    from_toml = parse_policy(default_policy_text(), source=DEFAULT_SOURCE)
    assert load_default() == from_toml
    assert list(load_default().clauses) == list(from_toml.clauses)
    assert len(from_toml.clauses) >= 18


@pytest.mark.parametrize("rel", SHIPPED)
def test_shipped_file_is_what_a_fresh_build_makes(rel, fresh):
    path = REPO / rel
    assert path.is_file(), f"{rel} is missing: run `python tools/shipped.py --write`"
    assert path.read_text(encoding="utf-8") == fresh[rel], (
        f"{rel} differs from a fresh build: run `python tools/shipped.py --write`")


def test_no_stale_man_page_is_left_in_the_tree(fresh):
    assert shipped.drift(REPO, fresh) == []


@pytest.mark.parametrize("shell", sorted(shipped.SHELL_FILES))
def test_completion_file_is_exactly_what_kscli_completion_prints(shell, fresh):
    from kscli.cli import cli

    result = CliRunner().invoke(cli, ["completion", shell], prog_name="kscli")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == fresh[shipped.SHELL_FILES[shell]]
    assert "_KSCLI_COMPLETE" in result.stdout


def test_check_lists_a_drifted_and_a_missing_file_and_write_repairs_them(tmp_path, capsys):
    assert shipped.main(["--write", "--root", str(tmp_path)]) == 0
    capsys.readouterr()
    assert shipped.main(["--check", "--root", str(tmp_path)]) == 0

    (tmp_path / "man" / "kscli-sub.1").write_text(".TH OLD 1\n", encoding="utf-8")
    (tmp_path / "completions" / "_kscli").unlink()
    (tmp_path / "man" / "kscli-gone.1").write_text(".TH GONE 1\n", encoding="utf-8")
    assert shipped.main(["--check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "man/kscli-sub.1: differs from a fresh build" in err
    assert "completions/_kscli: missing" in err
    assert "man/kscli-gone.1: no longer generated" in err
    assert "man/kscli-renew.1" not in err

    assert shipped.main(["--write", "--root", str(tmp_path)]) == 0
    assert shipped.main(["--check", "--root", str(tmp_path)]) == 0
    assert not (tmp_path / "man" / "kscli-gone.1").exists()


def test_the_script_runs_as_a_command_and_check_passes_on_the_repository():
    done = subprocess.run([sys.executable, "tools/shipped.py", "--check",
                           "--root", str(REPO)], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr


def test_build_is_the_same_whatever_the_terminal_width(monkeypatch, fresh):
    for columns in ("40", "250"):
        monkeypatch.setenv("COLUMNS", columns)
        assert shipped.build() == fresh


def test_building_leaves_the_live_commands_as_they_were(fresh):
    from kscli.cli import cli

    shipped.build()
    for args in (["-h"], ["sub", "-h"], ["license", "show", "-h"]):
        result = CliRunner().invoke(cli, args, prog_name="kscli")
        assert result.exit_code == 0, (args, result.stderr)
        assert result.stdout.startswith("Usage: kscli"), args


# -- man page content -------------------------------------------------------------------------


@pytest.mark.parametrize("rel", MAN_PAGES)
def test_man_page_has_every_section_in_order(rel, fresh):
    found = re.findall(r'^\.SH "([^"]+)"', fresh[rel], flags=re.M)
    assert [s for s in found if s in SECTIONS] == list(SECTIONS)


@pytest.mark.parametrize("rel", MAN_PAGES)
def test_man_page_has_no_build_date(rel, fresh):
    title = next(line for line in fresh[rel].splitlines() if line.startswith(".TH "))
    assert re.match(r'^\.TH "KSCLI[^"]*" 1 "" "kscli [^"]+" "kscli manual"$', title), title
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", title)


@pytest.mark.parametrize("rel", MAN_PAGES)
def test_man_page_lists_every_exit_code_and_variable_from_the_code(rel, fresh):
    page = fresh[rel]
    status = page.split('.SH "EXIT STATUS"', 1)[1].split(".SH ", 1)[0]
    for code in ExitCode:
        assert f"\\fB{int(code)}\\fR\n{shipped.prose(EXIT_CODE_MEANINGS[code])}" in status
    environment = page.split('.SH "ENVIRONMENT"', 1)[1].split(".SH ", 1)[0]
    for name in ENVIRONMENT:
        assert f"\\fB{shipped.roff(name)}\\fR" in environment


@pytest.mark.parametrize("group", GROUPS)
def test_group_page_documents_each_of_its_commands_with_an_example(group, fresh):
    page = fresh[f"man/kscli-{group}.1"]
    root = shipped.root_node()
    node = next(n for n in shipped.children(root) if n.path == (group,))
    for leaf in shipped.leaves(node):
        assert f'.SS "{shipped.roff(leaf.name)}"' in page
    assert ".EX\n" in page.split('.SH "EXAMPLES"', 1)[1]
    see_also = page.split('.SH "SEE ALSO"', 1)[1]
    assert ".BR kscli (1)," in see_also


@pytest.mark.parametrize("rel", MAN_PAGES)
def test_man_page_renders_without_a_warning(rel, fresh):
    groff = groff_or_skip()
    assert groff_warnings(groff, fresh[rel]) == ""


@pytest.mark.parametrize("rel", MAN_PAGES)
def test_shipped_man_page_renders_without_a_warning(rel):
    groff = groff_or_skip()
    path = REPO / rel
    if not path.is_file():
        pytest.fail(f"{rel} is missing: run `python tools/shipped.py --write`")
    done = subprocess.run([groff, "-man", "-ww", "-z", str(path)], capture_output=True,
                          timeout=60)
    assert done.stderr.decode(errors="replace") == ""


# -- escaping ---------------------------------------------------------------------------------


def test_roff_escapes_backslashes_hyphens_and_special_characters():
    assert shipped.roff(r"a\b") == r"a\eb"
    assert shipped.roff("--store") == r"\-\-store"
    assert shipped.roff("~/x ^y") == r"\(ti/x \(hay"
    assert shipped.roff("W\u00e4hrung \u2014 \u201cq\u201d") == r"W\[u00E4]hrung \(em \(lqq\(rq"
    assert shipped.roff("it's", code=True) == r"it\(aqs"
    assert shipped.roff("bell\x07") == "bell"


def test_a_text_line_never_starts_a_request():
    assert shipped.line(".hidden") == r"\&.hidden"
    assert shipped.line("'quoted") == r"\&'quoted"
    assert shipped.line(" indented") == r"\& indented"
    assert shipped.line("plain") == "plain"


def nasty_group() -> click.Group:
    @click.group(name="zz")
    def zz():
        """Odd help: 'quotes', "double", back\\slash and -dash.

        .TH this line starts with a dot
        'and this one with a quote, then \\fB not bold, W\u00e4hrung \u2014 \u2192 ok.

        \b
        Example (dots, quotes and backslashes):
          kscli zz run '.x' "y" --opt a\\b ~/.z ^c
        """

    @zz.command("run")
    @click.argument("thing", metavar=".THING")
    @click.option("--opt", metavar="'V'", default="-", show_default=True,
                  help=".starts with a dot \\e and ends with a backslash \\")
    def run(thing, opt):
        """Run it: \\n is not a newline.

        \b
        Example:
          kscli zz run .a --opt 'b c'
        """

    return zz


def test_help_with_roff_syntax_renders_literally_and_without_a_warning():
    groff = groff_or_skip()
    group = nasty_group()
    root = shipped.root_node()
    node = shipped.Node(("zz",), group, shipped.context(group, "zz", root.ctx))
    source = shipped.group_page(root, node, [node])
    assert groff_warnings(groff, source) == ""
    done = subprocess.run([groff, "-man", "-Tascii", "-P-c", "-rLL=200n"], input=source.encode(),
                          capture_output=True, timeout=60)
    text = re.sub(r".\x08", "", done.stdout.decode("ascii", errors="replace"))
    assert ".TH this line starts with a dot" in text
    assert "'and this one with a quote, then \\fB not bold" in text
    assert "kscli zz run '.x' \"y\" --opt a\\b ~/.z ^c" in text
    assert "Run it: \\n is not a newline." in text
    assert ".starts with a dot \\e and ends with a backslash \\" in text
