"""Security: private files, keys that never leak, hostile values stored and shown safely,
a clock set back, and a reader that leaves the pipe early."""

from __future__ import annotations

import csv
import io
import base64
import json
import os
import sqlite3
import stat
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

from tests.conftest import BACKENDS, Kscli, ledger_path
from tests.test_stress import installed, process_env, rows

UTC = timezone.utc
ESC = "\x1b"


def mode(path) -> str:
    return oct(stat.S_IMODE(os.stat(path).st_mode))


def run(*args: str, umask: int | None = None, env: dict | None = None, input: str | None = None):
    """The installed kscli in a real process (with the user's umask when given)."""
    return subprocess.run([installed(), *args], capture_output=True, text=True, input=input,
                          env=process_env(**(env or {})), timeout=120,
                          preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


ADD = ("sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan", "monthly", "--price",
       "9.99", "--currency", "USD")


# -- private files ---------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_files_and_folders_are_private_whatever_the_umask(tmp_path, backend):
    store = ledger_path(tmp_path / "deep", backend)
    assert run("--store", store, *ADD, umask=0o022).returncode == 0
    folder = os.path.dirname(store)
    assert mode(store) == "0o600"
    assert mode(folder) == mode(os.path.dirname(folder)) == "0o700"  # every folder it made
    if backend == "json":
        assert mode(store + ".lock") == "0o600"
    else:
        # the write-ahead log and shared memory exist while a connection is open
        reader = sqlite3.connect(store)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM subs").fetchone()
        assert run("--store", store, "renew", "off", "S-1001", umask=0o022).returncode == 0
        assert mode(store + "-wal") == mode(store + "-shm") == "0o600"
        reader.close()
    exported = tmp_path / "out" / "export.json"
    exported.parent.mkdir()
    assert run("--store", store, "export", "-o", str(exported), umask=0o022).returncode == 0
    assert mode(exported) == "0o600"
    leftovers = [n for n in os.listdir(folder) if mode(os.path.join(folder, n)) != "0o600"]
    assert leftovers == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_migration_backup_is_private_whatever_the_umask(tmp_path, backend):
    from tests.test_faults import _v1_json, _v1_sqlite

    store = ledger_path(tmp_path, backend)
    (_v1_json if backend == "json" else _v1_sqlite)(store)
    os.chmod(store, 0o600)
    assert run("--store", store, "renew", "off", "S-1001", umask=0o022).returncode == 0
    assert mode(store + ".v1.bak") == "0o600"


@pytest.mark.parametrize("backend", BACKENDS)
def test_doctor_fails_a_ledger_or_folder_that_others_can_write(tmp_path, backend):
    store = ledger_path(tmp_path, backend)
    kscli = Kscli(store)
    kscli.json(*ADD)
    healthy = kscli("--format", "json", "doctor")
    assert healthy.exit_code == 0, healthy.stdout
    os.chmod(store, 0o666)
    report = kscli("--format", "json", "doctor")
    assert report.exit_code == 1
    failed = [c for c in report.json() if c["result"] == "FAIL"]
    assert len(failed) == 1 and failed[0]["check"].startswith("ledger file")
    assert "writable by others" in failed[0]["detail"] and store in failed[0]["detail"]
    os.chmod(store, 0o600)
    os.chmod(os.path.dirname(store), 0o777)
    report = kscli("--format", "json", "doctor")
    assert report.exit_code == 1
    failed = [c for c in report.json() if c["result"] == "FAIL"]
    assert len(failed) == 1 and failed[0]["check"].startswith("ledger folder")


def test_doctor_fails_a_policy_file_that_others_can_write(tmp_path):
    from kscli.policy_files import default_policy_text

    policy = tmp_path / "policy.toml"
    policy.write_text(default_policy_text())
    os.chmod(policy, 0o644)
    kscli = Kscli(ledger_path(tmp_path, "sqlite"))
    assert kscli("init").exit_code == 0
    assert kscli("--policy", str(policy), "doctor").exit_code == 0
    os.chmod(policy, 0o646)
    report = kscli("--policy", str(policy), "--format", "json", "doctor")
    assert report.exit_code == 1
    failed = [c for c in report.json() if c["result"] == "FAIL"]
    assert len(failed) == 1 and failed[0]["check"].startswith("policy file")
    assert str(policy) in failed[0]["detail"] and "writable by others" in failed[0]["detail"]


# -- license keys never leak -----------------------------------------------------------

class Transcript:
    """Every command of a scenario, with everything it printed."""

    def __init__(self, kscli: Kscli) -> None:
        self.kscli = kscli
        self.printed: list[tuple[tuple, str]] = []

    def __call__(self, *args: str, allowed_to_show_keys: bool = False, **kwargs):
        result = self.kscli(*args, **kwargs)
        if not allowed_to_show_keys:
            self.printed.append((args, result.stdout + result.stderr))
        return result


def _spellings(key: str) -> list[str]:
    bare = key.replace("-", "")
    return [key, bare, key.lower(), bare.lower(), " ".join(key.split("-"))]


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_key_is_printed_stored_or_raised_without_reveal(tmp_path, backend, monkeypatch):
    import kscli.cli as root
    from kscli.domain import keys
    from tests.memory_keyring import vault

    raised = []
    real_fail = root._fail
    monkeypatch.setattr(root, "_fail", lambda app, exc: (raised.append(exc), real_fail(app, exc)))
    store = ledger_path(tmp_path, backend)
    k = Transcript(Kscli(store))

    sale = k("--format", "json", "sub", "add", "--vendor", "Pixel", "--product", "Photo Editor",
             "--kind", "software", "--price", "79", "--currency", "EUR").json()["id"]
    annual = k("--format", "json", "sub", "add", "--vendor", "Acme", "--product", "Cloud",
               "--plan", "annual", "--price", "120", "--currency", "EUR").json()["id"]
    own = keys.format_key(keys.generate())
    piped = keys.format_key(keys.generate())
    assert k("license", "add", own, "--product", "Photo Editor", "--sub", sale).exit_code == 0
    assert k("license", "add", "-", "--product", "Tool", input=piped + "\n").exit_code == 0
    issued = k("--format", "json", "license", "issue", "--product", "Cloud Agent", "--sub",
               annual, "--count", "2", allowed_to_show_keys=True).json()
    issued_keys = [item["key"] for item in issued]
    assert len(issued_keys) == 2 and all(keys.validate(key) for key in issued_keys)
    table_issue = k("license", "issue", "--product", "Spare", allowed_to_show_keys=True)
    spare = next(word for word in table_issue.stdout.split() if word.count("-") == 4
                 and len(word) == 29)
    every_key = [own, piped, *issued_keys, spare]

    for fmt in ("table", "plain", "json", "jsonl", "csv"):
        assert k("--format", fmt, "license", "list").exit_code == 0
        assert k("--format", fmt, "license", "show", "L-1001").exit_code == 0
    assert k("license", "show", own).exit_code == 0  # looked up by the key itself
    assert k("license", "show", "-", input=piped).exit_code == 0
    assert k("license", "activate", own, "--machine", "studio").exit_code == 0
    assert k("license", "activate", "L-1003", "--machine", "build-01").exit_code == 0
    assert k("license", "activate", own, "--machine", "studio").exit_code == 0  # no change
    assert k("license", "validate", own).exit_code == 0
    # typos of real keys: refused (exit 4) without echoing the key or a corrected copy
    typo = own[:3] + ("Z" if own[3] != "Z" else "Y") + own[4:]
    # two different neighbouring symbols swapped (the same two would give the key back)
    i = next(i for i in range(6, 28) if own[i] != own[i + 1] and "-" not in own[i:i + 2])
    swapped = own[:i] + own[i + 1] + own[i] + own[i + 2:]
    for bad in (typo, swapped, own + "X", own[:-1]):
        for argv in (("license", "add", bad, "--product", "P"),
                     ("license", "activate", bad, "--machine", "m"),
                     ("license", "show", bad), ("--format", "json", "license", "show", bad)):
            assert k(*argv).exit_code == 4, argv
        if bad != swapped:
            assert k("license", "validate", bad).exit_code == 4
    assert k("license", "add", own, "--product", "Again").exit_code == 4  # duplicate key
    assert k("--format", "json", "refund", "check", sale).exit_code == 4  # key issued: final
    assert k("refund", "request", annual, "--yes").exit_code == 0  # revokes its keys
    assert k("license", "deactivate", "L-1001", "--machine", "studio").exit_code == 0
    assert k("sweep").exit_code == 0
    # signed license files: the file, the signer and the revocation list hold no key
    lic_file = tmp_path / "own.lic"
    assert k("signer", "init", "--name", "Desk").exit_code == 0
    assert k("license", "sign", "L-1001", "-o", str(lic_file)).exit_code == 0
    assert k("--format", "json", "license", "sign", "L-1002", "--entitlement", "pro").exit_code == 0
    assert k("license", "sign", own, "--machine", "auto").exit_code == 0  # named by the key
    assert k("license", "sign", "-", input=piped + "\n").exit_code == 0
    assert k("license", "revoked").exit_code == 0

    def private_signing_key() -> str:
        current = k("--format", "json", "signer", "show").json()[0]["id"]
        return vault()[("kscli", "kscli-signer:" + current)]

    signing_keys = [private_signing_key()]
    assert k("signer", "rotate").exit_code == 0  # deletes the old private key
    signing_keys.append(private_signing_key())
    for fmt in ("table", "plain", "json", "jsonl", "csv"):
        assert k("--format", fmt, "signer", "show").exit_code == 0
    public = tmp_path / "desk.pub"
    public.write_text(k("signer", "show").stdout)
    for fmt in ("table", "json"):
        assert k("--format", fmt, "license", "verify", str(lic_file), "--public-key",
                 str(public)).exit_code == 0
    tampered = lic_file.read_text().replace("ks1.", "ks1.A", 1)
    assert k("license", "verify", "-", "--public-key", str(public), input=tampered).exit_code == 4
    assert len(set(signing_keys)) == 2
    assert k("doctor").exit_code in (0, 1)
    for sub_id in (sale, annual):
        assert k("--format", "json", "sub", "history", sub_id).exit_code == 0
    export = k("export")
    assert export.exit_code == 0
    exported = tmp_path / "export.json"
    assert k("export", "-o", str(exported)).exit_code == 0

    # the positive control: --reveal shows a key, so the search below would find one
    assert own in k("license", "show", "L-1001", "--reveal", allowed_to_show_keys=True).stdout
    assert set(vault().values()) >= set(every_key)  # the keys went to the keyring

    stored = b""
    for name in os.listdir(os.path.dirname(store)):
        with open(os.path.join(os.path.dirname(store), name), "rb") as handle:
            stored += handle.read()
    with open(exported, "rb") as handle:
        stored += handle.read()
    stored += lic_file.read_bytes()
    signer_folder = tmp_path / "home" / ".local" / "share" / "kscli"
    for name in os.listdir(signer_folder):
        stored += (signer_folder / name).read_bytes()
    events = json.dumps(rows(export.json()["tables"], "events"))
    raised_text = " ".join(
        f"{e!r} {e.message} {e.hint} {e.__cause__!r} {e.__context__!r}" for e in raised)
    assert raised, "the refusals above went through the error boundary"
    for key in every_key:
        for spelling in _spellings(key):
            leaks = [args for args, text in k.printed if spelling in text]
            assert leaks == [], f"{spelling} printed by {leaks}"
            assert spelling.encode() not in stored, f"{spelling} in the ledger or export"
            assert spelling not in events and spelling not in raised_text
    for private in signing_keys:
        raw = base64.urlsafe_b64decode(private + "=")
        for spelling in (private, base64.b64encode(raw).decode(), raw.hex()):
            leaks = [args for args, text in k.printed if spelling in text]
            assert leaks == [], f"a private signing key printed by {leaks}"
            assert spelling.encode() not in stored and raw not in stored
            assert spelling not in events and spelling not in raised_text

    # `license validate` never suggests a key, not even with --reveal
    suggested = k.kscli("license", "validate", swapped)
    if swapped != own:
        assert suggested.exit_code == 4 and own not in suggested.stdout
        assert own not in suggested.stderr
        revealed = k.kscli("license", "validate", swapped, "--reveal")
        assert revealed.exit_code == 4 and own not in revealed.stderr + revealed.stdout
        assert "did you mean" not in revealed.stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_without_a_keyring_keys_go_to_the_private_ledger_and_nowhere_else(tmp_path, backend):
    from kscli.domain import keys

    store = ledger_path(tmp_path, backend)
    key = keys.format_key(keys.generate())
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    outputs = [run("--store", store, "license", "add", "-", "--product", "P", input=key, env=env),
               run("--store", store, "--format", "json", "license", "list", env=env),
               run("--store", store, "license", "show", "L-1001", env=env),
               run("--store", store, "export", env=env)]
    assert [o.returncode for o in outputs] == [0, 0, 0, 0]
    assert "kept in the ledger file" in outputs[0].stderr  # the documented warning
    for spelling in _spellings(key):
        assert not [o.args for o in outputs if spelling in o.stdout + o.stderr]
    with open(store, "rb") as handle:
        assert key.encode() in handle.read()  # the documented fallback
    assert mode(store) == "0o600"
    shown = run("--store", store, "license", "show", "L-1001", "--reveal", env=env)
    assert key in shown.stdout


# -- hostile values --------------------------------------------------------------------

HOSTILE = {
    "vendor": "Robert'); DROP TABLE subs;--",
    "product": f"Red{ESC}[31m alert{ESC}[0m\nsecond line\r{ESC}]0;title\x07",
    "account": '"; DELETE FROM events; --\u202eevil',
    "region": "=HYPERLINK(\"http://x\",\"y\")",
}


def test_hostile_names_are_stored_exactly_and_printed_safely(any_store_spec):
    kscli = Kscli(any_store_spec)
    added = kscli.json("sub", "add", "--plan", "monthly", "--price", "5", "--currency", "EUR",
                       *[f"--{k}={v}" for k, v in HOSTILE.items()])
    kscli.json("sub", "add", "--vendor=+cmd|' /C calc'!A0", "--product=@SUM(1+1)*cmd",
               "--account=-2+3", "--plan", "monthly", "--price", "5", "--currency", "EUR")
    kscli.json(*ADD)
    shown = kscli.json("sub", "show", added["id"])
    assert {k: shown[k] for k in HOSTILE} == HOSTILE  # stored byte for byte
    listing = kscli.json("sub", "list")
    assert len(listing) == 3  # no statement ran: every row is still there
    assert [s["id"] for s in kscli.json("sub", "list", "--vendor", HOSTILE["vendor"])] == ["S-1001"]
    assert kscli.json("sub", "list", "--vendor", "x' OR '1'='1") == []
    assert kscli.json("sub", "list", "--account", "' OR 1=1 --") == []
    for hostile_id in ("S-1001' OR '1'='1", "1; DROP TABLE subs", f"S-1{ESC}[2J"):
        result = kscli("sub", "show", hostile_id)
        assert result.exit_code == 3 and ESC not in result.stderr
        assert result.stderr.count("\n") == 1
    assert len(kscli.json("sub", "list")) == 3
    kscli.json("renew", "off", "S-1001")

    for argv in (("sub", "list"), ("sub", "show", "S-1001"), ("sub", "history", "S-1001"),
                 ("renew", "due", "--within", "60d"), ("renew", "on", "S-1001")):
        for fmt in ("table", "plain"):
            result = kscli(*argv, fmt=fmt)
            assert result.exit_code == 0, (argv, result.stderr)
            text = result.stdout + result.stderr
            assert ESC not in text and "\x07" not in text and "\r" not in text
            assert "\u202e" not in text
            if argv[:2] == ("sub", "list") and fmt == "plain":
                assert len(result.stdout.splitlines()) == 3  # one line a subscription
    table = kscli("sub", "list").stdout
    assert "\\x1b[31m" in table and "\\n" in table  # shown, visibly escaped

    spreadsheet = kscli("sub", "list", fmt="csv").stdout
    cells = [cell for row in csv.reader(io.StringIO(spreadsheet)) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@") or
                (c[:1] == "-" and not c.lstrip("-").replace(".", "").isdigit())]
    assert "'=HYPERLINK(\"http://x\",\"y\")" in cells and "'-2+3" in cells
    assert "'+cmd|' /C calc'!A0" in cells and "'@SUM(1+1)*cmd" in cells


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_hostile_bank_statement_is_shown_safely(tmp_path, backend):
    kscli = Kscli(ledger_path(tmp_path, backend))
    kscli.json(*ADD)
    statement = tmp_path / "statement.csv"
    statement.write_text(
        "date,description,amount,currency\n"
        f"2026-11-02,\"ACME{ESC}]0;owned{ESC}\\ =cmd|' /C calc'!A0\",-9.99,USD\n"
        "2026-11-03,\"=HYPERLINK(\"\"http://evil\"\")\",-1.00,USD\n"
        "2026-11-04,\"@SUM(A1)\r\nsecond\",-2.00,USD\n", encoding="utf-8")
    imported = kscli("charges", "import", str(statement))
    assert imported.exit_code == 0, imported.stderr
    for fmt in ("table", "plain"):
        text = kscli("charges", "list", fmt=fmt).stdout
        assert "owned" in text and ESC not in text and "\r" not in text
    cells = [c for row in csv.reader(io.StringIO(kscli("charges", "list", fmt="csv").stdout))
             for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@")]
    stored = [c["description"] for c in kscli.json("charges", "list")]
    assert any(ESC in d for d in stored)  # kept as the bank wrote it


def test_a_name_of_10000_characters_is_refused_at_200_and_nothing_is_written(tmp_path):
    store = ledger_path(tmp_path, "sqlite")
    result = Kscli(store)("sub", "add", "--vendor", "V" * 10_000, "--product", "P", "--plan",
                          "monthly", "--price", "1", "--currency", "EUR")
    assert result.exit_code == 2
    assert "Invalid value for '--vendor': is longer than 200 characters" in result.stderr
    assert "V" * 201 not in result.stderr
    assert not os.path.exists(os.path.dirname(store))
    assert Kscli(store).json("sub", "add", "--vendor", "V" * 200, "--product", "P", "--plan",
                             "monthly", "--price", "1", "--currency", "EUR")["vendor"] == "V" * 200


# -- a clock set back ------------------------------------------------------------------

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_sweep_refuses_a_clock_set_back_more_than_ten_minutes_unless_trusted(any_store_spec):
    kscli = Kscli(any_store_spec)
    with freeze_time(T0):
        kscli.json(*ADD)
    with freeze_time(T0 - timedelta(minutes=10)):
        assert kscli("sweep").exit_code == 0  # ten minutes: still trusted
    with freeze_time(T0 - timedelta(minutes=10, seconds=1)):
        refused = kscli("sweep")
        assert refused.exit_code == 4
        assert refused.stderr.startswith("Error: the clock reads 2026-11-22T11:49:59Z")
        assert "--trust-clock" in refused.stderr and refused.stderr.count("\n") == 1
        assert kscli("sweep", fmt="json").json()["error"] == "clock-set-back"
        assert kscli("sweep", "--trust-clock").exit_code == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_activate_refuses_a_clock_set_back_more_than_ten_minutes_unless_trusted(tmp_path,
                                                                                 backend):
    kscli = Kscli(ledger_path(tmp_path, backend))
    with freeze_time(T0 - timedelta(days=30)):
        kscli("license", "issue", "--product", "Tool")
    with freeze_time(T0):
        kscli.json(*ADD)  # the newest event
    with freeze_time(T0 - timedelta(hours=1)):
        refused = kscli("license", "activate", "L-1001", "--machine", "m1")
        assert refused.exit_code == 4 and "clock" in refused.stderr
        assert refused.stderr.count("\n") == 1
        assert kscli.json("license", "show", "L-1001")["status"] == "unactivated"
        trusted = kscli("license", "activate", "L-1001", "--machine", "m1", "--trust-clock")
        assert trusted.exit_code == 0, trusted.stderr
    assert kscli.json("license", "show", "L-1001")["activations"][0]["machine"] == "m1"


# -- a reader that leaves early ----------------------------------------------------------

@pytest.fixture(scope="module")
def long_ledger(tmp_path_factory):
    """A ledger whose listing runs to hundreds of kilobytes."""
    from tests.test_faults import write_export

    folder = tmp_path_factory.mktemp("long")
    write_export(folder / "export.json", 1500, datetime(2026, 11, 1, tzinfo=UTC))
    store = str(folder / "long.db")
    assert Kscli(store)("import", str(folder / "export.json")).exit_code == 0
    return store


@pytest.mark.parametrize("fmt", ["jsonl", "table", "csv"])
def test_a_closed_pipe_on_a_long_listing_exits_0_quietly(long_ledger, fmt):
    store = long_ledger
    full = run("--store", store, "--format", fmt, "sub", "list")
    assert full.returncode == 0 and len(full.stdout.encode()) > 64 * 1024
    pipeline = subprocess.run(
        ["bash", "-o", "pipefail", "-c",
         f"'{installed()}' --store '{store}' --format {fmt} sub list | head -n 1"],
        capture_output=True, text=True, env=process_env(), timeout=120)
    assert pipeline.returncode == 0, pipeline.stderr
    assert pipeline.stdout == full.stdout.splitlines(keepends=True)[0]
    assert pipeline.stderr == ""


@pytest.mark.parametrize("named, blank, expected", [
    (False, False, "a\\x1b[31m\\x0ab\\u202ec"),  # a one-line message
    (True, False, "a\\x1b[31m\\nb\\u202ec"),  # a table cell
    (False, True, "a [31m b c"),  # a completion description
])
def test_one_stripper_of_control_characters_for_messages_cells_and_completions(named, blank,
                                                                               expected):
    from kscli.domain.errors import printable

    assert printable(f"a{ESC}[31m\nb\u202ec", named=named, blank=blank) == expected
    assert printable("plain text", named=named, blank=blank) == "plain text"


def test_a_completion_description_drops_a_bidirectional_override():
    from kscli.cli.complete import _describe

    assert _describe("active:", "Ac\u202eme", "Cloud,\x1b[2J") == "active: Ac me Cloud [2J"


def test_a_test_may_leave_a_secret_in_the_in_memory_keyring():
    from tests.memory_keyring import MemoryKeyring, vault

    MemoryKeyring().set_password("kscli", "left-behind", "a secret")
    assert vault() == {("kscli", "left-behind"): "a secret"}


def test_the_next_test_starts_with_an_empty_keyring():
    """conftest's isolated_env clears the in-memory keyring around every test (the one
    above leaves a secret: run in file order, this one would see it otherwise)."""
    from tests.memory_keyring import vault

    assert vault() == {}
