"""A new user's first hour: mistakes forgiven, output that fits, no data lost in silence.

Run through the installed `kscli` where the behaviour is the process's own (exit codes,
streams, terminal width), and through CliRunner elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import Kscli, installed_kscli, ledger_path

KSCLI = installed_kscli()


def run(*args, env=None, input=None, cwd=None):
    if KSCLI is None:
        pytest.fail("kscli is not installed: run `pip install .` first")
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([KSCLI, *args], capture_output=True, text=True, env=full_env,
                          input=input, timeout=60, cwd=cwd)


def no_traceback(result) -> None:
    assert "Traceback" not in result.stderr and "Error" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.fixture
def sample(tmp_path, any_store_spec):
    """The sample ledger on every backend (its keys are kept in the ledger)."""
    kscli = Kscli(any_store_spec)
    assert kscli("init", "--sample").exit_code == 0
    return kscli


# --- keys carried across export and import --------------------------------------------

def test_export_says_how_many_keys_it_left_out_and_import_marks_them_missing(sample, tmp_path):
    exported = sample("export")
    assert exported.exit_code == 0
    assert "left out 4 license keys" in exported.stderr and "--with-keys" in exported.stderr
    assert "secrets" not in json.loads(exported.stdout)["tables"]
    path = tmp_path / "no-keys.json"
    path.write_text(exported.stdout)

    moved = Kscli(ledger_path(tmp_path / "moved", "sqlite"))
    imported = moved("import", str(path))
    assert imported.exit_code == 0, imported.stderr
    assert "4 license keys" in imported.stderr and "import --keys" in imported.stderr
    assert moved.json("license", "show", "L-1004")["secret_store"] == "missing"

    revealed = moved("license", "show", "L-1004", "--reveal")
    assert revealed.exit_code == 1
    assert "missing" in revealed.stderr and "--with-keys" in revealed.stderr
    assert moved("license", "list", "--reveal").exit_code == 1
    doctor = moved("doctor", fmt="json")
    assert doctor.exit_code == 1
    failed = [c for c in doctor.json() if c["result"] == "FAIL"]
    assert [c["check"] for c in failed] == ["license keys"]
    assert "L-1004" in failed[0]["detail"] and "import --keys" in failed[0]["detail"]

    # the restore the doctor names puts every key back
    keys_file = tmp_path / "keys.json"
    with_keys = sample("export", "--with-keys", "-o", str(keys_file))
    assert with_keys.exit_code == 0 and "holds 4 license keys" in with_keys.stderr
    assert oct(os.stat(keys_file).st_mode & 0o777) == "0o600"
    restored = moved("import", "--keys", str(keys_file))
    assert restored.exit_code == 0 and "restored 4 license keys" in restored.stderr
    assert moved("doctor").exit_code == 0
    original = sample("license", "show", "L-1004", "--reveal", fmt="json").json()["key"]
    assert moved("license", "show", "L-1004", "--reveal", fmt="json").json()["key"] == original
    assert moved("import", "--keys", str(keys_file)).stderr.startswith("restored 0 license keys")


def test_the_readme_move_recipe_keeps_the_keys_in_real_processes(tmp_path):
    old, new = str(tmp_path / "old.db"), str(tmp_path / "new.json")
    assert run("--store", old, "init", "--sample").returncode == 0
    plain = run("--store", old, "export")
    assert plain.returncode == 0 and plain.stderr.startswith("left out 4 license keys")
    (tmp_path / "plain.json").write_text(plain.stdout)
    lost = str(tmp_path / "lost.db")
    imported = run("--store", lost, "import", str(tmp_path / "plain.json"))
    assert imported.returncode == 0 and "4 license keys" in imported.stderr
    revealed = run("--store", lost, "license", "show", "L-1004", "--reveal")
    assert revealed.returncode == 1 and revealed.stdout == ""
    assert revealed.stderr.startswith("Error: L-1004: the key itself is missing")
    assert len(revealed.stderr.splitlines()) == 1
    assert run("--store", lost, "doctor").returncode == 1
    # the README's recipe
    moved = tmp_path / "ledger.json"
    assert run("--store", old, "export", "--with-keys", "-o", str(moved)).returncode == 0
    assert run("--store", new, "import", str(moved)).returncode == 0
    key = run("--store", old, "--format", "json", "license", "show", "L-1004", "--reveal")
    again = run("--store", new, "--format", "json", "license", "show", "L-1004", "--reveal")
    assert again.returncode == 0 and json.loads(again.stdout)["key"] == json.loads(key.stdout)["key"]
    assert run("--store", new, "doctor").returncode == 0


def test_export_with_keys_carries_them_exactly(sample, tmp_path):
    path = tmp_path / "all.json"
    assert sample("export", "--with-keys", "-o", str(path)).exit_code == 0
    for backend in ("sqlite", "json"):
        moved = Kscli(ledger_path(tmp_path / backend, backend))
        imported = moved("import", str(path))
        assert imported.exit_code == 0 and "missing" not in imported.stderr
        assert moved("export", "--with-keys").stdout == path.read_text()
        assert moved("license", "show", "L-1001", "--reveal").exit_code == 0
        assert moved("doctor").exit_code == 0


def test_an_export_whose_key_is_not_its_records_key_is_refused(sample, tmp_path):
    doc = json.loads(sample("export", "--with-keys").stdout)
    doc["tables"]["secrets"][0]["key"], doc["tables"]["secrets"][1]["key"] = (
        doc["tables"]["secrets"][1]["key"], doc["tables"]["secrets"][0]["key"])
    path = tmp_path / "swapped.json"
    path.write_text(json.dumps(doc))
    moved = Kscli(ledger_path(tmp_path / "m", "sqlite"))
    refused = moved("import", str(path))
    assert refused.exit_code == 2 and "secrets row 1" in refused.stderr
    assert doc["tables"]["secrets"][0]["key"] not in refused.stderr
    assert not os.path.exists(moved.store)


# --- refund grounds ---------------------------------------------------------------------

def test_a_mistyped_ground_exits_2_with_did_you_mean_and_the_known_grounds(tmp_path):
    store = str(tmp_path / "s.db")
    assert run("--store", store, "init", "--sample").returncode == 0
    typo = run("--store", store, "refund", "check", "S-1002", "--ground", "hardware-faliure")
    assert typo.returncode == 2 and typo.stdout == ""
    no_traceback(typo)
    assert "did you mean 'hardware-failure'?" in typo.stderr
    assert "chargeback" in typo.stderr and "changed-my-mind" in typo.stderr
    request = run("--store", store, "refund", "request", "S-1002", "--ground", "dataloss", "--yes")
    assert request.returncode == 2 and "did you mean 'data-loss'?" in request.stderr
    shown = run("--store", store, "--format", "json", "sub", "show", "S-1002")
    assert json.loads(shown.stdout)["status"] == "active"  # nothing was refunded
    known = run("--store", store, "refund", "check", "S-1002", "--ground", "Hardware failure")
    assert known.returncode == 4 and "refund.exclusions" in known.stdout
    other = run("--store", store, "refund", "check", "S-1003", "--ground", "changed-my-mind")
    assert other.returncode == 0, other.stderr


def test_a_policy_file_lists_the_grounds_it_knows(tmp_path):
    from kscli.domain.policy_lint import parse_policy
    from kscli.policy_files import default_policy_text

    text = default_policy_text().replace('"billing-error",', '"billing-error", "late-delivery",')
    policy = parse_policy(text)
    assert policy.require_known_ground("late_delivery") == "late-delivery"
    assert "late-delivery" in policy.known_grounds()
    from kscli.domain.errors import BadValue

    with pytest.raises(BadValue) as refused:
        parse_policy(default_policy_text()).require_known_ground("late-delivery")
    assert refused.value.exit_code == 2 and "late-delivery" in refused.value.message


# --- doctor on a ledger that is not there ----------------------------------------------

def test_doctor_on_a_missing_ledger_named_explicitly_exits_1(tmp_path):
    missing = str(tmp_path / "ledgr.db")
    named = run("--store", missing, "doctor")
    assert named.returncode == 1 and "FAIL" in named.stdout and "does not exist" in named.stdout
    from_env = run("doctor", env={"KSCLI_STORE": str(tmp_path / "nope.json")})
    assert from_env.returncode == 1 and "nope.json does not exist" in from_env.stdout
    assert not os.path.exists(missing)
    # the default ledger, not yet created, is fine: nothing was named
    home = tmp_path / "home2"
    home.mkdir()
    default = run("doctor", env={"HOME": str(home), "XDG_DATA_HOME": str(home / "data")})
    assert default.returncode == 0, default.stdout


# --- paths: every command that takes one, every way a path can be wrong ------------------

SUB_ADD = ("sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan", "monthly",
           "--price", "9.99", "--currency", "USD")
WRITES, READS, OUTPUTS, INPUTS = "writes", "reads", "outputs", "inputs"
# (name, kind, argv with PATH where the path goes; LEDGER, EXPORT, NEW fixed places)
PATH_COMMANDS = [
    ("--store sub add", WRITES, ["--store", "PATH", *SUB_ADD]),
    ("--store json sub add", WRITES, ["--store", "PATH.json", *SUB_ADD]),
    ("--store import", WRITES, ["--store", "PATH", "import", "EXPORT"]),
    ("--store sub list", READS, ["--store", "PATH", "sub", "list"]),
    ("--store json license list", READS, ["--store", "PATH.json", "license", "list"]),
    ("export -o", OUTPUTS, ["--store", "LEDGER", "export", "-o", "PATH"]),
    ("--policy", INPUTS, ["--store", "LEDGER", "--policy", "PATH", "policy", "show"]),
    ("policy check", INPUTS, ["policy", "check", "PATH"]),
    ("import FILE", INPUTS, ["--store", "NEW", "import", "PATH"]),
    ("import --keys FILE", INPUTS, ["--store", "LEDGER", "import", "--keys", "PATH"]),
    ("charges import FILE", INPUTS, ["--store", "LEDGER", "charges", "import", "PATH"]),
]
# what each case must give: exit code by kind (0: it works, as documented)
PATH_CASES = {
    "missing folder": {WRITES: 0, READS: 0, OUTPUTS: 2, INPUTS: 2},
    "file where a folder should be": {WRITES: 2, READS: 2, OUTPUTS: 2, INPUTS: 2},
    "folder where a file should be": {WRITES: 2, READS: 2, OUTPUTS: 2, INPUTS: 2},
    "unwritable folder": {WRITES: 1, READS: 0, OUTPUTS: 1, INPUTS: 2},
    "read-only file system": {WRITES: 1, READS: 0, OUTPUTS: 1, INPUTS: None},
}
ADVICE = {
    "missing folder": ("does not exist", "No such file"),
    "file where a folder should be": ("is a file, not a folder", "Not a directory"),
    "folder where a file should be": ("is a folder, not a file", "Is a directory",
                                      "is a directory"),
    "unwritable folder": ("permission denied", "Permission denied"),
    "read-only file system": ("read-only",),
}


def _needed(tool: str, why: str):
    """A tool the path tests need: missing in CI is a failure, elsewhere a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{tool} is needed for {why}")
    pytest.skip(f"{tool} is needed for {why}")


@pytest.fixture
def read_only_fs(tmp_path):
    """A tmpfs mounted read-only, holding a ledger of each kind, a policy and a file."""
    place = tmp_path / "ro"
    place.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs",
                              str(place)], capture_output=True, text=True)
    if mounted.returncode != 0:
        _needed("mount (root, tmpfs)", "the read-only file system case: " + mounted.stderr)
    try:
        for name in ("x.db", "x.db.json"):  # ledgers to read, which no write can change
            assert run("--store", str(place / name), "init").returncode == 0
        assert subprocess.run(["mount", "-o", "remount,ro", str(place)]).returncode == 0
        yield place
    finally:
        subprocess.run(["umount", "-l", str(place)], capture_output=True)


def _without_dac_override(argv):
    """Run as root without the power to ignore file modes, as a user would run."""
    import shutil

    setpriv = shutil.which("setpriv")
    if setpriv is None:
        _needed("setpriv (util-linux)", "the unwritable folder case")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", *argv]


def test_every_path_of_every_command_fails_in_one_line_with_advice(tmp_path, read_only_fs):
    base = tmp_path / "paths"
    base.mkdir()
    ledger = str(base / "ledger.db")
    assert run("--store", ledger, "init", "--sample").returncode == 0
    export = base / "export.json"
    assert run("--store", ledger, "export", "-o", str(export)).returncode == 0
    (base / "afile").write_text("x")
    (base / "adir").mkdir()
    (base / "adir.json").mkdir()
    locked = base / "locked"
    locked.mkdir()
    (locked / "unreadable.json").write_text("{}")
    os.chmod(locked / "unreadable.json", 0)
    os.chmod(locked, 0o555)
    places = {
        "missing folder": str(base / "no" / "such" / "x.db"),
        "file where a folder should be": str(base / "afile" / "x.db"),
        "folder where a file should be": str(base / "adir"),
        "unwritable folder": str(locked / "x.db"),
        "read-only file system": str(read_only_fs / "x.db"),
    }
    before = sorted(str(p) for p in base.rglob("*"))
    seen = []
    for case, path in places.items():
        for name, kind, argv in PATH_COMMANDS:
            want = PATH_CASES[case][kind]
            if want is None:
                continue
            target = path.replace("/no/", f"/no{len(seen)}/")  # a new folder each time
            if case == "unwritable folder" and kind == INPUTS:
                target = str(locked / "unreadable.json")
            new = str(base / f"new-{len(seen)}.db")
            line = [a.replace("PATH", target) if a.startswith("PATH") else
                    {"LEDGER": ledger, "EXPORT": str(export), "NEW": new}.get(a, a)
                    for a in argv]
            command = [KSCLI, *line]
            if case == "unwritable folder":
                command = _without_dac_override(command)
            result = subprocess.run(command, capture_output=True, text=True, timeout=60)
            where = f"{case} / {name}: {result.stderr}"
            seen.append((case, name))
            assert result.returncode == want, where
            assert "Traceback" not in result.stderr, where
            if want:
                errors = [l for l in result.stderr.splitlines() if l.startswith("Error:")]
                assert len(errors) == 1, where
                assert any(a in errors[0] for a in ADVICE[case]), where
                assert not os.path.exists(new)
    assert len(seen) >= 50
    after = sorted(str(p) for p in base.rglob("*")
                   if not p.relative_to(base).parts[0].startswith("no"))  # made on purpose
    assert [p for p in after if p not in before] == []  # nothing written by a failure


# --- conventions: global options anywhere, near commands, bare kscli ------------------

def test_global_options_after_the_command_are_accepted_and_the_last_wins(tmp_path):
    store, other = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    assert run("--store", store, "init", "--sample").returncode == 0
    after = run("sub", "list", "--format", "json", "--store", store)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)[0]["id"] == "S-1001"
    last = run("--store", other, "--format", "csv", "sub", "list", "--store=" + store,
               "--format=jsonl")
    assert last.returncode == 0 and json.loads(last.stdout.splitlines()[0])["id"] == "S-1001"
    assert not os.path.exists(other)
    quiet = run("--store", store, "renew", "off", "S-1003", "-q")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    policy = tmp_path / "p.toml"
    policy.write_text(run("policy", "show", "--toml").stdout.replace("annual = 60", "annual = 30"))
    shown = run("policy", "show", "--policy", str(policy), "--format", "json")
    assert "30" in json.dumps(json.loads(shown.stdout))
    # after `--`, nothing is an option of kscli's
    add = run("--store", store, "incident", "open", "S-1004", "--summary", "x", "--", "--quiet")
    assert add.returncode == 2


@pytest.mark.parametrize("typed, nearest", [("subs", "sub"), ("swep", "sweep"),
                                            ("licens", "license"), ("polcy", "policy")])
def test_an_unknown_command_suggests_the_nearest(typed, nearest):
    result = run(typed)
    assert result.returncode == 2
    assert f"Did you mean '{nearest}'?" in result.stderr


@pytest.mark.parametrize("typed, nearest", [(("sub", "shw"), "show"), (("renew", "of"), "off"),
                                            (("license", "verfy"), "verify")])
def test_an_unknown_subcommand_suggests_the_nearest_on_every_click_version(typed, nearest):
    result = run(*typed)
    assert result.returncode == 2
    assert f"No such command '{typed[1]}'. Did you mean '{nearest}'?" in result.stderr


def test_licence_is_an_alias_of_license_and_not_listed(tmp_path):
    key = run("license", "validate", "1QASW-A7YHB-XDP0G-JE7WK-RFC3W")
    british = run("licence", "validate", "1QASW-A7YHB-XDP0G-JE7WK-RFC3W")
    assert british.returncode == key.returncode == 0 and british.stdout == key.stdout
    assert "licence" not in run("--help").stdout


def test_kscli_alone_prints_help_on_stdout_and_exits_0():
    bare = run()
    assert bare.returncode == 0 and bare.stderr == ""
    assert "Commands:" in bare.stdout and bare.stdout == run("--help").stdout


# --- tables fit the screen ------------------------------------------------------------

def _widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


@pytest.fixture
def sample_file(tmp_path):
    store = str(tmp_path / "sample.db")
    assert run("--store", store, "init", "--sample").returncode == 0
    assert run("--store", store, "renew", "off", "S-1003").returncode == 0
    return store


TABLES = [("sub", "list"), ("license", "list"), ("doctor",), ("sub", "history", "S-1003"),
          ("renew", "due", "--within", "400d"), ("charges", "check")]


def _first_cells(table: str) -> list[str]:
    """The id column of a table: the first word of each row between the rules and the
    first blank line."""
    rows = table.split("\n\n")[0].splitlines()[2:]
    return [line.split()[0] for line in rows if line.strip()]


@pytest.mark.parametrize("argv", TABLES, ids=" ".join)
def test_tables_fit_columns_with_an_ellipsis_and_wide_shows_everything(sample_file, argv,
                                                                       tmp_path):
    from datetime import date

    statement = tmp_path / "late.csv"  # a charge after Vandelay's service ended
    statement.write_text(f"date,description,amount,currency\n{date.today()},VANDELAY NOTES "
                         "MONTHLY,-3.00,USD\n")
    assert run("--store", sample_file, "charges", "import", str(statement)).returncode == 0
    env = {"COLUMNS": "80"}
    whole = run("--store", sample_file, *argv, "--wide", env=env)
    assert _widest(whole.stdout) > 80 and "…" not in whole.stdout
    fitted = run("--store", sample_file, *argv, env=env)
    assert fitted.returncode == whole.returncode
    assert _widest(fitted.stdout) <= 80 and "…" in fitted.stdout
    assert _first_cells(whole.stdout) == _first_cells(fitted.stdout)  # ids whole
    piped = run("--store", sample_file, *argv)  # no COLUMNS, not a terminal: whole
    assert piped.stdout == whole.stdout
    for fmt in ("plain", "csv", "json"):
        assert "…" not in run("--store", sample_file, "--format", fmt, *argv, env=env).stdout


def test_a_table_fits_the_terminal_it_is_printed_on(sample_file):
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 72, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    process = subprocess.Popen([KSCLI, "--store", sample_file, "sub", "list"], stdout=slave,
                               stderr=subprocess.PIPE, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed: the command is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert process.wait(timeout=60) == 0
    shown = b"".join(chunks).decode().replace("\r\n", "\n")
    assert "S-1001" in shown and "…" in shown
    assert _widest(shown) <= 72


# --- a declined confirmation ------------------------------------------------------------

def test_answering_no_at_a_confirmation_says_nothing_changed(sample_file):
    import pty

    master, slave = pty.openpty()
    env = {**os.environ, "CI": ""}
    process = subprocess.Popen([KSCLI, "--store", sample_file, "sub", "cancel", "S-1005"],
                               stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env)
    os.close(slave)
    os.write(master, b"n\n")
    out, err = process.communicate(timeout=60)
    os.close(master)
    assert process.returncode == 1
    assert err.decode().strip().endswith("nothing changed")
    shown = run("--store", sample_file, "--format", "json", "sub", "show", "S-1005")
    assert json.loads(shown.stdout)["status"] == "active"


# --- listings: one name for "within", limit, reverse, filters, search, the word rule ------

def ids(rows):
    return [row["id"] for row in rows]


def test_within_is_accepted_on_all_three_listings_and_the_old_names_still_work(sample):
    assert ids(sample.json("sub", "list", "--within", "30d")) == \
        ids(sample.json("sub", "list", "--renewing-within", "30d"))
    assert ids(sample.json("license", "list", "--within", "400d")) == \
        ids(sample.json("license", "list", "--due-within", "400d"))
    assert ids(sample.json("renew", "due", "--within", "400d"))
    for group in ("sub", "license"):
        helped = sample(group, "list", "--help").stdout
        assert "--within" in helped
        assert "--renewing-within" not in helped and "--due-within" not in helped


def test_limit_and_reverse_on_listings(sample):
    every = ids(sample.json("sub", "list"))
    assert ids(sample.json("sub", "list", "--limit", "3")) == every[:3]
    assert ids(sample.json("sub", "list", "--reverse")) == every[::-1]
    assert ids(sample.json("sub", "list", "--reverse", "--limit", "2")) == every[::-1][:2]
    keys = ids(sample.json("license", "list"))
    assert ids(sample.json("license", "list", "--reverse", "--limit", "1")) == keys[-1:]
    due = ids(sample.json("renew", "due", "--within", "400d"))
    assert ids(sample.json("renew", "due", "--within", "400d", "--limit", "1")) == due[:1]
    assert ids(sample.json("incident", "list", "--limit", "0")) == []
    table = sample("sub", "list", "--limit", "1")
    assert table.stdout.count("S-10") == 1
    assert table.stdout == sample("sub", "list", "--limit", "1").stdout
    # the totals count every subscription listed, not the one shown
    assert [l for l in table.stdout.splitlines() if l.startswith("total")] == \
        [l for l in sample("sub", "list").stdout.splitlines() if l.startswith("total")]


def test_vendor_and_account_match_whole_words_as_the_help_says(sample):
    assert ids(sample.json("sub", "list", "--vendor", "acme")) == ["S-1001"]  # "Acme Cloud"
    assert ids(sample.json("sub", "list", "--vendor", "ACME CLOUD")) == ["S-1001"]
    assert ids(sample.json("sub", "list", "--vendor", "acm")) == []
    assert ids(sample.json("sub", "list", "--vendor", "cloud acme")) == []
    assert ids(sample.json("sub", "list", "--product", "suite")) == ["S-1002", "S-1006"]
    ada = ids(sample.json("sub", "list", "--account", "ada"))  # ada@example.com: words ada, example, com
    assert "S-1001" in ada and "S-1004" not in ada
    assert ids(sample.json("license", "list", "--account", "ADA")) == \
        [lic["id"] for lic in sample.json("license", "list") if lic["account"].startswith("ada@")]
    assert "acme finds Acme Cloud, not Acmeware" in sample("sub", "list", "--help").stdout


def test_search_finds_text_in_vendor_product_account_and_id(sample):
    assert ids(sample.json("sub", "list", "--search", "OFFICE")) == ["S-1002"]  # product
    assert ids(sample.json("sub", "list", "--search", "ooli")) == ["S-1004"]  # part of a vendor
    assert ids(sample.json("sub", "list", "--search", "s-1003")) == ["S-1003"]  # id
    assert ids(sample.json("sub", "list", "--search", "RT-DE")) == ["S-1004"]  # account
    assert ids(sample.json("sub", "list", "--search", "no such thing")) == []


# --- machine-readable output ------------------------------------------------------------

def test_a_refusal_under_jsonl_is_one_line_with_error_message_and_clause(sample_file):
    missing = run("--store", sample_file, "--format", "jsonl", "sub", "show", "S-9999")
    assert missing.returncode == 3 and len(missing.stdout.splitlines()) == 1
    assert json.loads(missing.stdout) == {"error": "not-found", "clause": None,
                                          "message": json.loads(missing.stdout)["message"]}
    refused = run("--store", sample_file, "--format", "jsonl", "sub", "cancel", "S-1001", "--yes")
    assert refused.returncode == 4 and len(refused.stdout.splitlines()) == 1
    doc = json.loads(refused.stdout)
    assert set(doc) >= {"error", "message", "clause"} and doc["clause"] == "cancel.commitment"
    pretty = run("--store", sample_file, "--format", "json", "sub", "show", "S-9999")
    assert set(json.loads(pretty.stdout)) == {"error", "message", "clause"}


@pytest.mark.parametrize("argv", [("sub", "show", "S-1001"), ("sub", "list"), ("doctor",),
                                  ("policy", "show"), ("refund", "check", "S-1003"),
                                  ("sub", "show", "S-9999")], ids=" ".join)
def test_json_has_no_trailing_spaces(sample_file, argv):
    result = run("--store", sample_file, "--format", "json", *argv)
    assert result.stdout.strip()
    json.loads(result.stdout)
    assert [line for line in result.stdout.splitlines() if line != line.rstrip()] == []


def test_sub_show_and_sub_list_give_the_same_csv(sample_file):
    import csv
    import io

    listed = list(csv.DictReader(io.StringIO(run("--store", sample_file, "--format", "csv",
                                                 "sub", "list").stdout)))
    for row in listed:
        shown = list(csv.DictReader(io.StringIO(run("--store", sample_file, "--format", "csv",
                                                    "sub", "show", row["id"]).stdout)))
        assert shown == [row]
    assert listed[0]["commitment_end"].endswith("Z")  # one time format in both


# --- small text -------------------------------------------------------------------------

def test_counts_agree_with_their_nouns(sample, tmp_path):
    path = tmp_path / "all.json"
    assert sample("export", "--with-keys", "-o", str(path)).exit_code == 0
    imported = Kscli(ledger_path(tmp_path / "i", "json"))("import", str(path))
    assert "1 incident," in imported.stderr and "1 incidents" not in imported.stderr
    assert "11 subs" in imported.stderr and "(s)" not in imported.stderr


def test_each_group_summary_lists_every_subcommand():
    import re

    import click

    from kscli.cli import COMMANDS, cli

    ctx = click.Context(cli)
    listed = 0
    for name, (_, _, summary) in COMMANDS.items():
        group = cli.get_command(ctx, name)
        items = [item.strip(" .") for item in summary.split(":", 1)[-1].split(",")]
        if not isinstance(group, click.Group) or not all(re.fullmatch(r"[a-z-]+", i) for i in items):
            continue  # a summary in words, not a list of subcommands
        named = set(items)
        assert set(group.list_commands(ctx)) <= named, (name, summary)
        listed += 1
    assert listed >= 3  # license, signer and sub at least
    helped = " ".join(run("--help").stdout.split())
    assert ("license License keys: add, list, show, activate, deactivate, validate, issue, "
            "edit, history, revoke, sign, verify, machine-id, revoked.") in helped


def test_sweep_help_cron_example_is_quiet_on_both_commands():
    helped = run("sweep", "--help").stdout
    assert "kscli --quiet sweep && kscli --quiet charges check" in helped


def test_plan_is_shown_as_required_in_sub_add_help():
    helped = run("sub", "add", "--help").stdout
    options = helped[helped.index("Options:"):]
    plan = options[options.index("--plan"):options.index("--price")]
    assert "[required" in plan


def test_policy_check_finds_a_number_in_a_clause_text_that_its_parameter_contradicts(tmp_path):
    text = run("policy", "show", "--toml").stdout
    path = tmp_path / "p.toml"
    path.write_text(text.replace("annual = 60", "annual = 14"))
    checked = run("policy", "check", str(path))
    assert "refund.money-back" in checked.stdout and "the text says 60" in checked.stdout
    assert "14" in checked.stdout and "1 warning" in checked.stderr
    path.write_text(text.replace("max_business_days = 7", "max_business_days = 9"))
    timing = run("policy", "check", str(path))
    assert "refund.timing" in timing.stdout and "the text says 7" in timing.stdout
    path.write_text(text)
    assert run("policy", "check", str(path)).stderr.strip().endswith("valid")


def test_statement_lines_dated_in_the_future_are_named(sample_file, tmp_path):
    from datetime import date, timedelta

    soon = (date.today() + timedelta(days=40)).isoformat()
    past = (date.today() - timedelta(days=3)).isoformat()
    path = tmp_path / "s.csv"
    path.write_text(f"date,description,amount,currency\n{past},ACME CLOUD,-24.00,USD\n"
                    f"{soon},ACME CLOUD,-24.00,USD\n")
    imported = run("--store", sample_file, "charges", "import", str(path))
    assert imported.returncode == 0
    assert "1 line is dated in the future" in imported.stderr
    assert f"line 3 ({soon})" in imported.stderr and past not in imported.stderr
    again = run("--store", sample_file, "charges", "import", str(tmp_path / "s.csv"))
    assert "dated in the future" in again.stderr  # said each time the file is read


def test_today_anywhere_on_earth_is_not_the_future():
    from datetime import date, datetime, timezone

    from kscli.domain.statement import StatementLine, dated_after

    def line(day):
        return StatementLine(2, day, "ACME", 1, "USD", "h")

    kiribati_tomorrow = date(2026, 12, 2)
    before = datetime(2026, 12, 1, 9, 59, 59, tzinfo=timezone.utc)  # 23:59:59 at UTC+14
    at = datetime(2026, 12, 1, 10, 0, 0, tzinfo=timezone.utc)  # 00:00 on 2 December there
    assert dated_after([line(kiribati_tomorrow)], before) == [line(kiribati_tomorrow)]
    assert dated_after([line(kiribati_tomorrow)], at) == []
    assert dated_after([line(date(2026, 12, 3))], at) == [line(date(2026, 12, 3))]
    leap = datetime(2028, 2, 28, 10, 0, tzinfo=timezone.utc)
    assert dated_after([line(date(2028, 2, 29))], leap) == []
    assert dated_after([line(date(2028, 3, 1))], leap) == [line(date(2028, 3, 1))]


def test_policy_show_wraps_its_text_to_the_width_and_cuts_nothing():
    fitted = run("policy", "show", env={"COLUMNS": "80"})
    whole = run("policy", "show", "--wide", env={"COLUMNS": "80"})
    assert fitted.returncode == whole.returncode == 0
    assert _widest(fitted.stdout) <= 80 < _widest(whole.stdout)
    assert "…" not in fitted.stdout
    def clauses(text):
        return [line.split()[0] for line in text.splitlines()[2:] if line[:1].strip()]

    assert clauses(fitted.stdout) == clauses(whole.stdout) and len(clauses(whole.stdout)) >= 15


def test_a_mistyped_key_is_refused_with_4_even_when_the_ledger_cannot_be_read(tmp_path):
    from kscli.domain import keys

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a ledger at all" * 100)
    key = keys.format_key(keys.validate(keys.generate()))
    typo = key[:-1] + ("0" if key[-1] != "0" else "1")
    for argv in (("license", "activate", typo, "--machine", "m"),
                 ("license", "add", typo, "--product", "P")):
        result = run("--store", str(garbage), *argv)
        assert result.returncode == 4 and "mistyped or two are swapped" in result.stderr
        assert garbage.read_bytes() == b"not a ledger at all" * 100
