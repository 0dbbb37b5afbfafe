"""The functional core stays pure: kscli.domain imports nothing from the shell."""

from __future__ import annotations

import ast
import pathlib

import pytest

DOMAIN = pathlib.Path(__file__).resolve().parent.parent / "kscli" / "domain"
FORBIDDEN = ("click", "sqlite3", "json", "os", "keyring", "psycopg", "platformdirs",
             "tabulate", "subprocess", "kscli.cli", "kscli.store", "kscli.services",
             "kscli.clock", "kscli.paths", "kscli.secrets")


def imported(path: pathlib.Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_a_domain_module_imports_no_io_clock_or_outer_layer(path):
    bad = {name for name in imported(path)
           if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)}
    assert bad == set(), f"{path.name} imports {sorted(bad)}"


def test_the_domain_never_reads_the_clock():
    for path in DOMAIN.glob("*.py"):
        text = path.read_text()
        for call in ("datetime.now(", "date.today(", "time.time(", "datetime.utcnow("):
            assert call not in text, f"{path.name} reads the clock with {call}"
