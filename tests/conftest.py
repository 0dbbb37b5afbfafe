"""Shared fixtures: every test runs with its own home, ledger and clean environment."""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

BACKENDS = ["sqlite", "json"]


def installed_kscli() -> str | None:
    """The `kscli` script of the Python running the tests, else the one on PATH.

    The README's test command runs `.venv/bin/python -m pytest` without activating the
    virtualenv, so the script installed beside that Python is the one under test.
    """
    beside = Path(sys.executable).parent / ("kscli.exe" if os.name == "nt" else "kscli")
    return str(beside) if beside.is_file() else shutil.which("kscli")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """No test touches a real home, ledger, policy or keyring, nor another test's keyring."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for var in ("KSCLI_STORE", "KSCLI_FORMAT", "KSCLI_POLICY", "NO_COLOR", "KSCLI_BUSY_TIMEOUT",
                "KSCLI_JOBS", "COLUMNS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.memory_keyring.MemoryKeyring")
    from tests.memory_keyring import vault

    vault().clear()  # the in-memory keyring lives as long as the process: each test starts empty
    yield
    vault().clear()


def ledger_path(tmp_path, backend: str) -> str:
    return str(tmp_path / "ledger" / ("kscli.json" if backend == "json" else "kscli.db"))


# The CLI suites that exercise the store (a module setting EVERY_BACKEND = True) run on
# PostgreSQL as well; a test of theirs about files only is marked files_only. The rest
# run on the two file backends.
ALL_BACKENDS = [*BACKENDS, pytest.param("postgres", marks=pytest.mark.postgres)]


def pytest_configure(config):
    config.addinivalue_line("markers", "files_only: a test of an EVERY_BACKEND module about "
                                       "the ledger's file (runs on SQLite and JSON only)")


def _parametrizes(metafunc, name: str) -> bool:
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0]
        if name in ([n.strip() for n in names.split(",")] if isinstance(names, str) else names):
            return True
    return False


def pytest_generate_tests(metafunc):
    """Each test that uses a ledger (the ``backend`` fixture, through ``kscli`` or
    ``store_path``) runs once per backend: see ALL_BACKENDS above."""
    if "backend" not in metafunc.fixturenames or _parametrizes(metafunc, "backend"):
        return
    every = (getattr(metafunc.module, "EVERY_BACKEND", False)
             and metafunc.definition.get_closest_marker("files_only") is None)
    metafunc.parametrize("backend", ALL_BACKENDS if every else BACKENDS, indirect=True)


@pytest.fixture
def backend(request):
    return request.param


@pytest.fixture
def store_path(tmp_path, backend):
    """A ledger (not yet created) of the backend: a path, or a postgresql:// URL of a new,
    empty database (``--store`` takes either)."""
    if backend == "postgres":
        return fresh_pg_store_spec(require_pg())
    return ledger_path(tmp_path, backend)


def ledger_created(spec: str) -> bool:
    """Whether a command created the ledger: its file, or its tables on the server."""
    if spec.startswith("postgresql://"):
        from kscli.store import open_store

        return open_store(spec).exists()
    return os.path.exists(spec)


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    def json(self):
        return json.loads(self.stdout)


class Kscli:
    """Runs kscli commands against one ledger through click's CliRunner."""

    def __init__(self, store: str | None):
        self.store = store

    def __call__(self, *args: str, input: str | None = None, fmt: str | None = None,
                 env: dict | None = None) -> Result:
        from kscli.cli import cli

        argv: list[str] = []
        if self.store is not None:
            argv += ["--store", self.store]
        if fmt:
            argv += ["--format", fmt]
        argv += list(args)
        result = CliRunner().invoke(cli, argv, input=input, env=env, catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr, result.exception)

    def json(self, *args: str, **kwargs):
        result = self(*args, fmt="json", **kwargs)
        assert result.exit_code == 0, (result.exit_code, result.stderr)
        return result.json()


@pytest.fixture
def kscli(store_path):
    """kscli bound to a fresh ledger, once per backend."""
    return Kscli(store_path)


@pytest.fixture
def add_sub(kscli):
    """Add a subscription through the CLI and return its JSON object."""

    def add(**options):
        defaults = {"vendor": "Acme", "product": "Cloud", "plan": "monthly", "price": "9.99",
                    "currency": "USD"}
        defaults.update(options)
        argv = ["sub", "add"]
        for key, value in defaults.items():
            flag = "--" + key.replace("_", "-")
            if value is True:
                argv.append(flag)
            elif value not in (None, False):
                argv += [flag, str(value)]
        return kscli.json(*argv)

    return add


def pg_dsn() -> str | None:
    """The PostgreSQL server for tests: KSCLI_TEST_PG_DSN (`.ci/run` starts one)."""
    return os.environ.get("KSCLI_TEST_PG_DSN") or None


def require_module(name: str, extra: str):
    """The module, importable; locally a missing optional extra skips, in CI (which
    installs every extra) it fails."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail(f'{name} is not installed: CI installs ".[{extra}]"')
        pytest.skip(f'no {name}: install "kscli[{extra}]" to run these tests', allow_module_level=True)


def require_psycopg() -> None:
    """Skip locally without the PostgreSQL extra; in CI it is installed, so a lack fails."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail('psycopg is not installed: CI installs ".[test,postgres]"')
        pytest.skip('no psycopg: install "kscli[postgres]" to run the PostgreSQL tests')


def require_pg() -> str:
    """Skip locally without a server; in CI a missing server is a failure, never a skip."""
    require_psycopg()
    dsn = pg_dsn()
    if dsn is None:
        if os.environ.get("CI"):
            pytest.fail("KSCLI_TEST_PG_DSN is not set: .ci/run must start PostgreSQL for the tests")
        pytest.skip("no PostgreSQL: set KSCLI_TEST_PG_DSN=postgresql://... to run these tests")
    return dsn


def fresh_pg_store_spec(dsn: str) -> str:
    """A new, empty database on the test server, as a postgresql:// URL."""
    from tests.pg_util import fresh_database

    return fresh_database(dsn)


@pytest.fixture(params=["sqlite", "json", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store_spec(request, tmp_path):
    """A ledger spec for every backend, PostgreSQL included (a fresh database each time)."""
    if request.param == "postgres":
        return fresh_pg_store_spec(require_pg())
    return ledger_path(tmp_path, request.param)


def exported_events(kscli, subject: str) -> list[dict]:
    """The events of one subject as `kscli export` gives them, details parsed."""
    exported = json.loads(kscli("export").stdout)
    found = []
    for event in exported["tables"]["events"]:
        if event["subject"] == subject:
            detail = event["detail"]
            found.append({**event, "detail": json.loads(detail) if isinstance(detail, str)
                          else detail})
    return found
