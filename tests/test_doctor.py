"""`kscli doctor`: one line per check, exit 1 when any fails, never a crash."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from kscli.policy_files import default_policy_text


def checks(kscli, *args: str, env: dict | None = None):
    """(exit code, the JSON list, the plain lines) of one doctor run."""
    as_json = kscli(*args, "doctor", fmt="json", env=env)
    plain = kscli(*args, "doctor", fmt="plain", env=env)
    assert as_json.exit_code == plain.exit_code
    return as_json.exit_code, as_json.json(), plain.stdout.splitlines()


def by_name(results, name: str) -> list[dict]:
    return [r for r in results if r["check"] == name]


def test_healthy_ledger_passes_with_one_line_per_check(kscli, add_sub, backend):
    add_sub()
    code, results, lines = checks(kscli)
    assert code == 0
    assert len(lines) == len(results)
    for line, result in zip(lines, results):
        assert line == "\t".join((result["check"], result["result"], result["detail"]))
    assert all(r["result"] in ("ok", "info", "WARN") for r in results), results
    names = [r["check"] for r in results]
    for name in ("store", "schema", "references", "ledger file", "ledger folder", "policy",
                 "completion"):
        assert name in names
    if backend == "sqlite":
        assert by_name(results, "integrity")[0]["result"] == "ok"


def test_table_format_prints_a_header_then_one_line_per_check(kscli, add_sub):
    add_sub()
    count = len(kscli.json("doctor"))
    result = kscli("doctor")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Check", "Result", "Detail"]
    assert len(lines) == 2 + count


def test_json_is_a_list_of_check_result_detail(kscli, add_sub):
    add_sub()
    results = kscli.json("doctor")
    assert isinstance(results, list) and results
    for item in results:
        assert set(item) == {"check", "result", "detail"}
        assert all(isinstance(v, str) and v for v in item.values())


def test_store_line_names_the_backend_and_the_ledger(kscli, add_sub, backend, store_path):
    add_sub()
    store = by_name(kscli.json("doctor"), "store")
    assert store == [{"check": "store", "result": "ok",
                      "detail": f"{backend} ledger at {store_path}"}]


def test_schema_version_is_reported(kscli, add_sub):
    from kscli.store.migrations import SCHEMA_VERSION

    add_sub()
    schema = by_name(kscli.json("doctor"), "schema")[0]
    assert schema["result"] == "ok"
    assert f"schema version {SCHEMA_VERSION}" in schema["detail"]


def test_world_writable_ledger_fails_and_exits_1(kscli, add_sub, store_path):
    add_sub()
    os.chmod(store_path, 0o666)
    code, results, _ = checks(kscli)
    assert code == 1
    ledger_file = by_name(results, "ledger file")[0]
    assert ledger_file["result"] == "FAIL"
    assert "writable by others" in ledger_file["detail"] and "chmod" in ledger_file["detail"]


def test_ledger_readable_by_others_is_a_warning_not_a_failure(kscli, add_sub, store_path):
    add_sub()
    os.chmod(store_path, 0o644)
    code, results, _ = checks(kscli)
    assert code == 0
    assert by_name(results, "ledger file")[0]["result"] == "WARN"


@pytest.mark.parametrize("content", [b"garbage, not a ledger\n", b"\x00" * 64, b"{"])
def test_garbage_ledger_is_reported_not_crashed_on(kscli, store_path, content):
    Path(store_path).parent.mkdir(parents=True, exist_ok=True)
    Path(store_path).write_bytes(content)
    os.chmod(store_path, 0o600)
    code, results, lines = checks(kscli)  # Kscli re-raises anything but SystemExit
    assert code == 1
    store = by_name(results, "store")
    assert [s["result"] for s in store] == ["FAIL"]
    assert store_path in store[0]["detail"] and "not a readable kscli ledger" in store[0]["detail"]
    assert len(lines) == len(results)
    assert Path(store_path).read_bytes() == content


def test_missing_ledger_named_with_store_fails_and_is_not_created(kscli, store_path):
    code, results, _ = checks(kscli)
    assert code == 1  # a mistyped --store must not pass a CI check
    assert "does not exist" in by_name(results, "store")[0]["detail"]
    assert not os.path.exists(store_path)


# -- the policy file --------------------------------------------------------------------------


def write_policy(tmp_path, text: str, mode: int = 0o644) -> str:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return str(path)


def test_built_in_policy_is_reported_with_its_version(kscli):
    assert kscli("init").exit_code == 0  # an existing ledger: a missing one named fails
    policy = by_name(kscli.json("doctor"), "policy")[0]
    assert policy["result"] == "ok" and "<built-in>" in policy["detail"]


def test_good_policy_file_passes(kscli, tmp_path):
    assert kscli("init").exit_code == 0  # an existing ledger: a missing one named fails
    path = write_policy(tmp_path, default_policy_text())
    code, results, _ = checks(kscli, "--policy", path)
    assert code == 0
    assert by_name(results, "policy")[0]["detail"].endswith(f"from {path}")
    assert by_name(results, "policy file mode")[0]["result"] == "ok"


def test_policy_file_from_the_environment_is_checked(kscli, tmp_path):
    path = write_policy(tmp_path, "this is = not [valid toml\n")
    code, results, _ = checks(kscli, env={"KSCLI_POLICY": path})
    assert code == 1
    assert by_name(results, "policy")[0]["result"] == "FAIL"


def test_invalid_policy_file_fails_and_points_at_policy_check(kscli, tmp_path):
    text = default_policy_text() + '\n[clause."refund.made-up"]\ntitle = "x"\n'
    path = write_policy(tmp_path, text)
    code, results, _ = checks(kscli, "--policy", path)
    assert code == 1
    policy = by_name(results, "policy")[0]
    assert policy["result"] == "FAIL"
    assert "refund.made-up" in policy["detail"]
    assert f"kscli policy check {path}" in policy["detail"]


def test_missing_policy_file_fails(kscli, tmp_path):
    code, results, _ = checks(kscli, "--policy", str(tmp_path / "nope.toml"))
    assert code == 1
    assert by_name(results, "policy")[0]["result"] == "FAIL"


def test_policy_file_writable_by_others_fails(kscli, tmp_path):
    path = write_policy(tmp_path, default_policy_text(), mode=0o666)
    code, results, _ = checks(kscli, "--policy", path)
    assert code == 1
    mode = by_name(results, "policy file mode")[0]
    assert mode["result"] == "FAIL" and "writable by others" in mode["detail"]


# -- information: completion and secrets ------------------------------------------------------


@pytest.fixture(autouse=True)
def bare_environment(tmp_path, monkeypatch):
    """An environment without kscli's own completion files (`pip install` of kscli puts
    them under sys.prefix/share, which doctor rightly finds)."""
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))


def completion_line(kscli) -> dict:
    result = kscli("doctor", fmt="json")
    assert result.exit_code == 0
    [line] = by_name(result.json(), "completion")
    assert line["result"] == "info"
    return line


def test_completion_not_installed_is_information_not_failure(kscli):
    assert kscli("init").exit_code == 0  # an existing ledger: a missing one named fails
    line = completion_line(kscli)
    assert "kscli completion" in line["detail"]


@pytest.mark.parametrize("shell,rel", [
    ("fish", ".config/fish/completions/kscli.fish"),
    ("fish", ".local/share/fish/vendor_completions.d/kscli.fish"),
    ("bash", ".local/share/bash-completion/completions/kscli"),
    ("zsh", ".local/share/zsh/site-functions/_kscli"),
    ("zsh", ".zfunc/_kscli"),
])
def test_completion_installed_under_home_is_found(kscli, shell, rel):
    assert kscli("init").exit_code == 0  # an existing ledger: a missing one named fails
    path = Path(os.environ["HOME"]) / rel
    path.parent.mkdir(parents=True)
    path.write_text("# kscli completion\n")
    line = completion_line(kscli)
    assert line["detail"].startswith("installed for")
    assert f"{shell} ({path})" in line["detail"]


@pytest.mark.parametrize("shell,rel", [
    ("bash", "share/bash-completion/completions/kscli"),
    ("zsh", "share/zsh/site-functions/_kscli"),
    ("fish", "share/fish/vendor_completions.d/kscli.fish"),
])
def test_completion_installed_with_kscli_into_its_environment_is_found(kscli, shell, rel):
    assert kscli("init").exit_code == 0  # (doctor fails a named ledger that does not exist)
    path = Path(sys.prefix) / rel
    path.parent.mkdir(parents=True)
    path.write_text("# kscli completion\n")
    assert f"{shell} ({path})" in completion_line(kscli)["detail"]


def test_completion_loaded_from_bashrc_is_found(kscli):
    assert kscli("init").exit_code == 0  # an existing ledger: a missing one named fails
    bashrc = Path(os.environ["HOME"]) / ".bashrc"
    bashrc.write_text('eval "$(kscli completion bash)"\n')
    assert f"bash ({bashrc})" in completion_line(kscli)["detail"]


def test_xdg_config_home_is_where_fish_completion_is_looked_for(kscli, tmp_path):
    config = tmp_path / "elsewhere"
    path = config / "fish" / "completions" / "kscli.fish"
    path.parent.mkdir(parents=True)
    path.write_text("#\n")
    result = kscli("doctor", fmt="json", env={"XDG_CONFIG_HOME": str(config)})
    assert f"fish ({path})" in by_name(result.json(), "completion")[0]["detail"]


def test_where_license_keys_are_kept_is_information(kscli):
    assert kscli("init").exit_code == 0  # an existing ledger: a missing one named fails
    secrets = by_name(kscli.json("doctor"), "secrets")
    assert secrets and all(s["result"] == "info" for s in secrets)


def test_a_ledger_file_created_but_never_written_is_healthy_and_empty(tmp_path):
    """kill -9 between creating the file and the first write leaves an empty SQLite file."""
    import sqlite3

    from tests.conftest import Kscli

    path = tmp_path / "ledger" / "kscli.db"
    path.parent.mkdir(mode=0o700)
    sqlite3.connect(path).execute("PRAGMA user_version").fetchone()  # an empty database
    path.chmod(0o600)
    runner = Kscli(str(path))
    doctor = runner("--format", "json", "doctor")
    assert doctor.exit_code == 0, doctor.stdout
    assert any("holds nothing yet" in c["detail"] for c in doctor.json())
    assert runner.json("sub", "list") == []
    assert runner("sub", "add", "--vendor", "A", "--product", "B", "--plan", "monthly",
                  "--price", "1", "--currency", "USD").exit_code == 0
    assert runner("doctor").exit_code == 0
