"""The house's layers, read from the source: no import cycle, each layer imports inward only.

- ``kscli.domain`` (the functional core) imports the standard library and itself, and no
  I/O, clock or outer layer;
- ``kscli.cli`` reaches the store only through its public modules (``PUBLIC_STORE``);
- ``kscli.views`` does not import ``kscli.store``;
- no module imports itself again through others (a cycle), function-level imports
  included: an import inside a function is still a dependency, only a later one;
- no module in ``kscli/`` is over ``MAX_LINES`` lines.

What does not hold yet is in ``ALLOWED``, each entry naming who removes it; an entry
that no longer occurs fails too, so that the list only shrinks.
"""

from __future__ import annotations

import ast
import pathlib
import sys
from functools import cache

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kscli"
DOMAIN = PACKAGE / "domain"
MAX_LINES = 600

# Standard-library modules the domain may not import: they read files, the environment,
# the clock's zone database, a database or a process.
FORBIDDEN = ("click", "sqlite3", "json", "os", "keyring", "psycopg", "platformdirs",
             "tabulate", "subprocess", "kscli.cli", "kscli.store", "kscli.services",
             "kscli.clock", "kscli.paths", "kscli.secrets")

# The store's public face, which the CLI may import: `kscli.store` (open_store, describe,
# Store, Ledger), `kscli.store.base` (the Store and Ledger interface and the rows it hands
# back) and `kscli.store.fs` (safe file writing and its error wording, which every file
# kscli writes uses, license files and exports too). Everything else under kscli.store
# (schema, sql, sqlite, jsonfile, postgres, memory) is a backend's internals.
PUBLIC_STORE = frozenset({"kscli.store", "kscli.store.base", "kscli.store.fs"})

# Violations known today, each with who removes it. Keys: ("imports", importer, imported)
# or ("lines", path relative to the repository).
ALLOWED: dict[tuple[str, ...], str] = {
}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, pathlib.Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: pathlib.Path,
               modules: dict[str, pathlib.Path] = MODULES) -> dict[str, int]:
    """Every module a source file imports (absolute name -> first line), wherever the
    import statement is: top level, a function, a TYPE_CHECKING block."""
    found: dict[str, int] = {}
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.setdefault(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                # `from kscli.store import fs` imports the module kscli.store.fs
                submodule = f"{module}.{alias.name}"
                found.setdefault(submodule if submodule in modules else module, node.lineno)
    return found


def graph_of(modules: dict[str, pathlib.Path]) -> dict[str, dict[str, int]]:
    """module -> the modules among ``modules`` it imports (and the line of each import)."""
    return {name: {m: line for m, line in imports_of(name, path, modules).items()
                   if m in modules}
            for name, path in modules.items()}


@cache
def graph() -> dict[str, dict[str, int]]:
    return graph_of(MODULES)


def find_cycle(edges: dict[str, dict[str, int]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def describe(cycle: list[str], edges: dict[str, dict[str, int]]) -> str:
    return " -> ".join(f"{a} (line {edges[a][b]})" for a, b in zip(cycle, cycle[1:])) \
        + f" -> {cycle[-1]}"


def test_no_import_cycle_among_kscli_modules():
    edges = graph()
    cycle = find_cycle(edges)
    assert cycle is None, f"import cycle: {describe(cycle, edges)}"


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path):
    """The test above could pass by reading too little: here it must see a cycle."""
    pkg = tmp_path / "kscli"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from kscli import b\n")
    (pkg / "b.py").write_text("import json\n\n\ndef late():\n    from .a import thing\n")
    edges = graph_of({"kscli": pkg / "__init__.py", "kscli.a": pkg / "a.py",
                      "kscli.b": pkg / "b.py"})
    assert find_cycle(edges) == ["kscli.a", "kscli.b", "kscli.a"]
    assert describe(find_cycle(edges), edges) == \
        "kscli.a (line 1) -> kscli.b (line 5) -> kscli.a"
    assert find_cycle({"kscli.a": {"kscli.b": 1}, "kscli.b": {}}) is None


def test_the_graph_sees_relative_and_function_level_imports():
    edges = graph()
    # kscli.cli.ledger imports the sweep inside its command function
    assert "kscli.services.sweep" in edges["kscli.cli.ledger"]
    # `from kscli.store import fs` names the module kscli.store.fs
    assert all(m in MODULES for targets in edges.values() for m in targets)


def _violations() -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for importer, targets in graph().items():
        for target in targets:
            store_internal = target.startswith("kscli.store.") and target not in PUBLIC_STORE
            if importer.startswith("kscli.cli") and store_internal:
                found.add(("imports", importer, target))
            if importer == "kscli.views" and (target == "kscli.store"
                                              or target.startswith("kscli.store.")):
                found.add(("imports", importer, target))
    for path in MODULES.values():
        if len(path.read_text(encoding="utf-8").splitlines()) > MAX_LINES:
            found.add(("lines", path.relative_to(ROOT).as_posix()))
    return found


def test_cli_and_views_keep_to_the_store_s_public_face_and_modules_stay_short():
    unexpected = sorted(_violations() - ALLOWED.keys())
    assert unexpected == [], (
        f"{unexpected}: the CLI imports only {sorted(PUBLIC_STORE)} of the store, the views "
        f"none of it, and a module has at most {MAX_LINES} lines")


def test_every_allowance_is_still_needed():
    stale = sorted(ALLOWED.keys() - _violations())
    assert stale == [], f"{stale} no longer occur: remove them from ALLOWED"


@pytest.mark.parametrize("path", sorted(DOMAIN.rglob("*.py")), ids=lambda p: p.name)
def test_a_domain_module_imports_no_io_clock_or_outer_layer(path):
    bad = {name for name in imports_of(module_name(path), path)
           if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)}
    assert bad == set(), f"{path.name} imports {sorted(bad)}"


# Parsers of statement formats the domain may call: pure functions of the bytes they are
# given (no file, network or clock), each imported only when its format is read (the
# `statements` extra).
PARSERS = {"kscli/domain/statement/mt940.py": {"mt940"},
           "kscli/domain/statement/camt.py": {"defusedxml", "defusedxml.ElementTree"}}


# The builtin SHA-256 module under both its names (CPython 3.12 renamed _sha256 to
# _sha2): each interpreter lists only its own in sys.stdlib_module_names.
BUILTIN_HASHES = {"_sha2", "_sha256"}


@pytest.mark.parametrize("path", sorted(DOMAIN.rglob("*.py")), ids=lambda p: p.name)
def test_a_domain_module_imports_only_the_standard_library_and_the_domain(path):
    outward = {name for name in imports_of(module_name(path), path)
               if name != "kscli.domain" and not name.startswith("kscli.domain.")
               and name.split(".")[0] not in sys.stdlib_module_names | BUILTIN_HASHES}
    outward -= PARSERS.get(str(path.relative_to(ROOT)), set())
    assert outward == set(), f"{path.name} imports {sorted(outward)}"


def test_the_domain_never_reads_the_clock():
    for path in DOMAIN.rglob("*.py"):
        text = path.read_text()
        for call in ("datetime.now(", "date.today(", "time.time(", "datetime.utcnow("):
            assert call not in text, f"{path.name} reads the clock with {call}"
