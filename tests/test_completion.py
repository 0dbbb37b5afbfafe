"""Shell completion of record ids from the ledger, driven as bash and zsh drive it.

The shells run ``kscli`` with ``_KSCLI_COMPLETE=bash_complete`` (or ``zsh_complete``),
``COMP_WORDS`` (the line) and ``COMP_CWORD`` (the index of the word being completed);
kscli answers ``type,value`` lines (bash) or ``type``/``value``/``help`` triples (zsh).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from kscli.cli.params import IdType
from kscli.domain.model import Incident, License
from kscli.store import open_store
from tools import shipped

REPO = Path(__file__).resolve().parent.parent
SUB_ID_COMMANDS = [("sub", "show"), ("sub", "cancel"), ("sub", "history"), ("renew", "off"),
                   ("renew", "on"), ("refund", "check"), ("refund", "request"),
                   ("incident", "open")]
LICENSE_ID_COMMANDS = [("license", "show"), ("license", "activate"), ("license", "deactivate")]
INCIDENT_ID_COMMANDS = [("incident", "resolve"), ("incident", "exhaust")]
WHEN = datetime(2026, 3, 1, tzinfo=timezone.utc)


def complete(words: list[str], shell: str = "bash", env: dict | None = None):
    """Run kscli as the shell's completion function does; the last word is being completed."""
    from kscli.cli import cli

    environ = {"_KSCLI_COMPLETE": f"{shell}_complete",
               "COMP_WORDS": " ".join(shlex.quote(w) if w else "" for w in words),
               "COMP_CWORD": str(len(words) - 1), **(env or {})}
    result = CliRunner().invoke(cli, [], env=environ, prog_name="kscli")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def bash_values(result) -> list[str]:
    return [line.split(",", 1)[1] for line in result.stdout.splitlines() if line.startswith("plain,")]


def zsh_items(result) -> dict[str, str]:
    lines = result.stdout.split("\n")
    return {lines[i + 1]: lines[i + 2] for i in range(0, len(lines) - 2, 3) if lines[i] == "plain"}


@pytest.fixture
def ledger(kscli, add_sub, store_path):
    """A ledger with three subscriptions (one turned off), two keys and an incident."""
    add_sub(vendor="Acme", product="Cloud")
    add_sub(vendor="Globex", product="Office Suite", plan="annual", price="120")
    add_sub(vendor="Hooli", product="Priority Support", kind="support", plan="annual",
            price="300")
    assert kscli("renew", "off", "S-1002").exit_code == 0
    with open_store(store_path).write() as led:
        for product in ("Photo Editor", "Audio Mixer"):
            led.add(License(id=led.next_id("L-"), product=product, purchased_at=WHEN,
                            key_hash=product.encode().hex().ljust(64, "0"), key_last4="RFC3",
                            fingerprint="3f9a1c2e"))
        led.add(Incident(id=led.next_id("I-"), sub_id="S-1003", summary="VPN client crashes",
                         opened_at=WHEN))
    return store_path


# -- which commands complete which ids --------------------------------------------------------


@pytest.mark.parametrize("command", SUB_ID_COMMANDS, ids=" ".join)
def test_subscription_ids_complete_from_the_store_on_the_line(command, ledger):
    result = complete(["kscli", "--store", ledger, *command, ""])
    assert result.exit_code == 0
    assert bash_values(result) == ["S-1001", "S-1002", "S-1003"]
    assert result.stderr == ""


@pytest.mark.parametrize("command", SUB_ID_COMMANDS, ids=" ".join)
def test_subscription_ids_come_with_status_and_product(command, ledger):
    items = zsh_items(complete(["kscli", "--store", ledger, *command, "S-"], shell="zsh"))
    assert items == {"S-1001": "active: Acme Cloud", "S-1002": "ending: Globex Office Suite",
                     "S-1003": "active: Hooli Priority Support"}


@pytest.mark.parametrize("command", LICENSE_ID_COMMANDS, ids=" ".join)
def test_license_ids_complete_with_status_and_product(command, ledger):
    with_help = zsh_items(complete(["kscli", "--store", ledger, *command, ""], shell="zsh"))
    assert set(with_help) == {"L-1001", "L-1002"}
    assert with_help["L-1001"].endswith(": Photo Editor")
    assert with_help["L-1001"].split(":")[0] in ("unactivated", "deactivated")
    assert bash_values(complete(["kscli", "--store", ledger, *command, "L-1002"])) == ["L-1002"]


@pytest.mark.parametrize("command", INCIDENT_ID_COMMANDS, ids=" ".join)
def test_incident_ids_complete_with_state_and_subscription(command, ledger):
    items = zsh_items(complete(["kscli", "--store", ledger, *command, ""], shell="zsh"))
    assert items == {"I-1001": "open: S-1003 VPN client crashes"}


def _id_arguments():
    """(command path, id prefix) for every argument of the tree typed as a record id."""
    out = []
    for node in shipped.walk():
        before: list[str] = []  # a word for each argument ahead of it (charges match C-1 S-)
        for param in node.command.params:
            if param.param_type_name != "argument":
                continue
            if isinstance(param.type, IdType):
                out.append(((*node.path, *before), param.type.prefix))
            before.append("X-1")
    return out


@pytest.mark.parametrize("path,prefix", _id_arguments(), ids=lambda v: " ".join(v) if isinstance(v, tuple) else v)
def test_every_id_argument_in_the_tree_completes_only_its_own_kind(path, prefix, ledger):
    values = bash_values(complete(["kscli", "--store", ledger, *path, ""]))
    assert values, f"`kscli {' '.join(path)}` completes no id"
    assert all(v.startswith(prefix) for v in values), values


def test_options_that_take_a_subscription_id_complete_it(ledger):
    values = bash_values(complete(["kscli", "--store", ledger, "license", "add", "KEY",
                                   "--sub", "S-100"]))
    assert values == ["S-1001", "S-1002", "S-1003"]


# -- what is typed so far ---------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["S-1002", "s-1002", "1002"])
def test_typed_prefix_narrows_the_ids_in_any_case_or_as_a_number(typed, ledger):
    assert bash_values(complete(["kscli", "--store", ledger, "sub", "show", typed])) == ["S-1002"]


def test_a_prefix_that_matches_nothing_completes_nothing(ledger):
    result = complete(["kscli", "--store", ledger, "sub", "show", "S-9"])
    assert bash_values(result) == []
    assert result.exit_code == 0


def test_store_equals_form_on_the_line_is_understood(ledger):
    assert bash_values(complete(["kscli", f"--store={ledger}", "renew", "on", "S-1003"])) == ["S-1003"]


# -- which ledger -----------------------------------------------------------------------------


def test_without_store_on_the_line_kscli_store_names_the_ledger(ledger):
    result = complete(["kscli", "sub", "show", ""], env={"KSCLI_STORE": ledger})
    assert bash_values(result) == ["S-1001", "S-1002", "S-1003"]


def test_store_on_the_line_wins_over_kscli_store(ledger, tmp_path):
    other = str(tmp_path / "other.db")
    result = complete(["kscli", "--store", ledger, "sub", "show", ""], env={"KSCLI_STORE": other})
    assert bash_values(result) == ["S-1001", "S-1002", "S-1003"]
    assert not os.path.exists(other)


def test_a_tilde_in_store_means_the_home_folder(kscli, tmp_path):
    home_ledger = Path(os.environ["HOME"]) / "books" / "kscli.json"
    from tests.conftest import Kscli

    Kscli(str(home_ledger)).json("sub", "add", "--vendor", "Acme", "--product", "Cloud",
                                 "--plan", "monthly", "--price", "5", "--currency", "USD")
    result = complete(["kscli", "--store", "~/books/kscli.json", "sub", "show", ""])
    assert bash_values(result) == ["S-1001"]


# -- read-only and silent ---------------------------------------------------------------------


def test_a_missing_ledger_completes_nothing_and_is_not_created(tmp_path):
    missing = tmp_path / "nowhere" / "kscli.db"
    result = complete(["kscli", "--store", str(missing), "sub", "show", ""])
    assert (result.exit_code, result.stdout.strip(), result.stderr) == (0, "", "")
    assert not missing.exists() and not missing.parent.exists()


def test_the_default_ledger_is_not_created_by_a_completion():
    from kscli.paths import default_store

    result = complete(["kscli", "sub", "show", ""])
    assert (result.exit_code, result.stdout.strip(), result.stderr) == (0, "", "")
    assert not os.path.exists(default_store())


@pytest.mark.parametrize("name,content", [
    ("kscli.db", b"this is not a database\n"),
    ("kscli.db", b"SQLite format 3\x00" + b"\xff" * 200),
    ("kscli.json", b"{not json"),
    ("kscli.json", b'{"format": "something else"}'),
])
def test_a_garbage_ledger_gives_no_output_no_traceback_and_stays_untouched(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    for shell in ("bash", "zsh"):
        result = complete(["kscli", "--store", str(path), "sub", "show", ""], shell=shell)
        assert (result.exit_code, result.stdout.strip(), result.stderr) == (0, "", "")
    assert path.read_bytes() == content


def test_completion_does_not_change_the_ledger(ledger):
    before = Path(ledger).read_bytes()
    complete(["kscli", "--store", ledger, "sub", "cancel", ""])
    complete(["kscli", "--store", ledger, "license", "show", ""])
    assert Path(ledger).read_bytes() == before


def test_a_garbage_ledger_is_silent_in_a_real_process(tmp_path):
    path = tmp_path / "kscli.db"
    path.write_bytes(b"garbage")
    env = {**os.environ, "_KSCLI_COMPLETE": "bash_complete",
           "COMP_WORDS": f"kscli --store {path} sub show ", "COMP_CWORD": "5"}
    done = subprocess.run([sys.executable, "-m", "kscli"], env=env, capture_output=True,
                          text=True, timeout=60, cwd=REPO)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "", "")


# -- a real bash, with the shipped script -----------------------------------------------------


def test_sourcing_the_shipped_bash_script_completes_commands_options_and_ids(ledger, tmp_path):
    bash = shutil.which("bash")
    if bash is None:
        if os.environ.get("CI"):
            pytest.fail("bash is not installed")
        pytest.skip("bash is not installed")
    script = REPO / shipped.SHELL_FILES["bash"]
    assert script.is_file(), "run `python tools/shipped.py --write`"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "kscli"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m kscli "$@"\n')
    wrapper.chmod(0o755)
    program = f"""
source {shlex.quote(str(script))}
complete -p kscli
show() {{ COMPREPLY=(); COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _kscli_completion kscli;
          echo "[${{COMPREPLY[*]}}]"; }}
show kscli su
show kscli sub cancel --imm
show kscli --store {shlex.quote(ledger)} sub show S-100
"""
    done = subprocess.run([bash, "--norc", "--noprofile", "-c", program], capture_output=True,
                          text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
                               "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "complete -o nosort -F _kscli_completion kscli",
        "[sub]",
        "[--immediately]",
        "[S-1001 S-1002 S-1003]",
    ]
