"""The installed `kscli` as cron and CI run it: real processes, real pipes, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import installed_kscli

KSCLI = installed_kscli()


def run(*args, env=None, input=None):
    if KSCLI is None:
        pytest.fail("kscli is not installed: run `pip install .` first")
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([KSCLI, *args], capture_output=True, text=True, env=full_env,
                          input=input, timeout=60)


def test_version_and_help_run_from_the_installed_script():
    assert run("--version").stdout.startswith("kscli ")
    result = run("--help")
    assert result.returncode == 0 and "Commands:" in result.stdout


def test_startup_imports_neither_keyring_nor_tabulate_nor_sqlite():
    code = ("import sys, kscli.cli; from kscli.cli import cli; "
            "print(','.join(m for m in ('keyring','tabulate','sqlite3','importlib.metadata',"
            "'platformdirs','psycopg','tomllib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_sample_tour_and_exit_codes_in_real_processes(tmp_path):
    store = str(tmp_path / "sample.db")
    env = {"KSCLI_STORE": store}
    assert run("init", "--sample", env=env).returncode == 0
    listing = json.loads(run("--format", "json", "sub", "list", env=env).stdout)
    assert len(listing) >= 8
    assert run("sub", "show", "S-424242", env=env).returncode == 3
    refused = run("sub", "cancel", "S-1001", "--yes", env=env)
    assert refused.returncode == 4 and "cancel.commitment" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert oct(os.stat(store).st_mode & 0o777) == "0o600"


def test_a_closed_pipe_exits_quietly(tmp_path):
    store = str(tmp_path / "sample.db")
    run("init", "--sample", env={"KSCLI_STORE": store})
    pipeline = subprocess.run(
        f"'{KSCLI}' --store '{store}' --format jsonl sub list | head -n 1",
        shell=True, capture_output=True, text=True, timeout=60,
    )
    assert pipeline.returncode == 0
    assert json.loads(pipeline.stdout)["id"] == "S-1001"
    assert "Traceback" not in pipeline.stderr and "BrokenPipe" not in pipeline.stderr


def test_bad_option_is_a_usage_error_with_exit_2():
    result = run("--format", "yaml", "sub", "list")
    assert result.returncode == 2 and "yaml" in result.stderr
