"""`kscli policy show` and `kscli policy check` through the CLI."""

from __future__ import annotations

import os
import re

import pytest

from kscli.domain.policy import CLAUSE_IDS
from kscli.policy_files import default_policy_text, load_default
from tests.conftest import Kscli


@pytest.fixture
def no_store(tmp_path):
    """kscli pointed at a ledger path that must never be created."""
    return Kscli(str(tmp_path / "nowhere" / "kscli.db"))


def write(tmp_path, text: str, name: str = "policy.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def line_of(text: str, fragment: str) -> int:
    """The first line outside comments that holds ``fragment``."""
    return next(i for i, line in enumerate(text.splitlines(), 1)
                if fragment in line and not line.lstrip().startswith("#"))


def test_show_prints_every_clause_with_id_title_text_and_parameters(no_store, tmp_path):
    result = no_store("policy", "show")
    assert result.exit_code == 0
    for clause_id in CLAUSE_IDS:
        assert re.search(rf"^{re.escape(clause_id)}\s", result.stdout, re.M), clause_id
    assert "Money-back guarantee" in result.stdout
    assert "policy version 2026-11-01" in result.stderr
    plain = no_store("policy", "show", fmt="plain").stdout.splitlines()
    assert len(plain) == len(CLAUSE_IDS)
    assert plain[CLAUSE_IDS.index("refund.money-back")].split("\t")[3] == "days: annual=60"
    assert plain[CLAUSE_IDS.index("cancel.direct")].endswith(
        "\tgrounds: chargeback, bank-dispute, card-dispute")
    assert plain[CLAUSE_IDS.index("refund.timing")].endswith(
        "\tmin_business_days: 5; max_business_days: 7; holidays: none")
    assert not os.path.exists(tmp_path / "nowhere")


def test_show_json_is_the_policy_as_data(no_store):
    shown = no_store.json("policy", "show")
    assert shown == load_default().to_dict()
    assert [c["id"] for c in shown["clauses"]] == list(CLAUSE_IDS)
    money_back = shown["clauses"][CLAUSE_IDS.index("refund.money-back")]
    assert money_back["params"] == {"days": {"annual": 60}}


def test_show_follows_the_policy_option(no_store, tmp_path):
    text = default_policy_text().replace('version = "2026-11-01"', 'version = "acme-7"')
    text = text.replace("\nannual = 60\n", "\nannual = 30\nmonthly = 14\n")
    path = write(tmp_path, text)
    shown = no_store.json("--policy", path, "policy", "show")
    assert shown["version"] == "acme-7" and shown["source"] == path
    money_back = shown["clauses"][CLAUSE_IDS.index("refund.money-back")]
    assert money_back["params"]["days"] == {"annual": 30, "monthly": 14}
    table = no_store("policy", "show", env={"KSCLI_POLICY": path})
    assert "days: annual=30, monthly=14" in table.stdout
    assert "policy version acme-7" in table.stderr


def test_show_toml_prints_a_file_that_checks_clean(no_store, tmp_path):
    result = no_store("policy", "show", "--toml")
    assert result.exit_code == 0 and result.stdout == default_policy_text()
    path = write(tmp_path, result.stdout)
    assert no_store("policy", "check", path).exit_code == 0


def test_check_a_good_file_exits_0(no_store, tmp_path):
    path = write(tmp_path, default_policy_text())
    result = no_store("policy", "check", path)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert f"{path}: valid" in result.stderr
    assert not os.path.exists(tmp_path / "nowhere")


def test_check_a_broken_file_prints_one_line_per_problem_and_exits_1(no_store, tmp_path):
    text = default_policy_text().replace("\nannual = 60\n", "\nannual = -5\n")
    text = text.replace('[clause."refund.discretion"]', '[clause."refund.discretoin"]')
    path = write(tmp_path, text)
    result = no_store("policy", "check", path)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:{line_of(text, 'annual = -5')}: refund.money-back: 'annual' is negative (-5): "
        "days are 0 or more",
        f"{path}:{line_of(text, 'refund.discretoin')}: refund.discretoin: unknown clause "
        "'refund.discretoin' (did you mean 'refund.discretion'?): a policy holds only the "
        "clauses of the default policy",
        f"{path}: refund.discretion: missing clause: add a [clause.\"refund.discretion\"] table",
    ]
    assert "3 errors" in result.stderr
    assert not os.path.exists(tmp_path / "nowhere")


def test_check_finds_a_negative_number_in_an_inline_table_on_its_line(no_store, tmp_path):
    text = default_policy_text().replace(
        '[clause."refund.money-back".days]\nannual = 60\n', ''
    ).replace(
        'title = "Money-back guarantee"', 'title = "Money-back guarantee"\ndays = { annual = -1 }'
    )
    path = write(tmp_path, text)
    result = no_store("policy", "check", path)
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{path}:{line_of(text, 'annual = -1')}: refund.money-back:")


def test_check_a_region_that_leaves_a_plan_uncovered(no_store, tmp_path):
    text = default_policy_text() + (
        '\n[clause."refund.money-back".regions.EU]\nmonthly = 14\n'
    )
    path = write(tmp_path, text)
    result = no_store("policy", "check", path, fmt="json")
    assert result.exit_code == 1
    report = result.json()
    assert report["valid"] is False and report["errors"] == 1
    assert report["problems"][0]["clause"] == "refund.money-back"
    assert "leaves annual uncovered" in report["problems"][0]["message"]
    assert report["problems"][0]["line"] == line_of(text, "regions.EU")


def test_check_warnings_alone_exit_0(no_store, tmp_path):
    text = default_policy_text() + '\n[clause."refund.money-back".regions.US]\nannual = 60\n'
    path = write(tmp_path, text)
    result = no_store("policy", "check", path)
    assert result.exit_code == 0
    assert re.fullmatch(
        rf"{re.escape(path)}:\d+: refund.money-back: warning: region US repeats the default "
        r"table: it can never change an answer\n", result.stdout)
    assert "1 warning" in result.stderr


def test_check_a_toml_syntax_error_names_its_line(no_store, tmp_path):
    text = default_policy_text().replace("min_business_days = 5", "min_business_days = ")
    path = write(tmp_path, text)
    result = no_store("policy", "check", path)
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{path}:{line_of(text, 'min_business_days =')}: TOML syntax")


def test_check_a_missing_file_is_a_usage_error(no_store, tmp_path):
    result = no_store("policy", "check", str(tmp_path / "absent.toml"))
    assert result.exit_code == 2 and "absent.toml" in result.stderr


def test_check_does_not_open_the_ledger_even_a_broken_one(tmp_path):
    garbage = tmp_path / "ledger.db"
    garbage.write_bytes(b"not a database at all" * 10)
    path = write(tmp_path, default_policy_text())
    result = Kscli(str(garbage))("policy", "check", path)
    assert result.exit_code == 0
    assert garbage.read_bytes() == b"not a database at all" * 10


def test_a_broken_policy_option_exits_2_naming_the_file(no_store, tmp_path):
    path = write(tmp_path, default_policy_text().replace("\nannual = 60\n", "\nannual = -5\n"),
                 name="mine.toml")
    result = no_store("--policy", path, "policy", "show")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"Error: policy file {path}: ")
    assert f"kscli policy check {path}" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_cancellation_rules_record_the_version_of_the_policy_that_decided():
    from datetime import datetime, timezone
    from decimal import Decimal

    from kscli.domain import subscriptions as rules
    from kscli.domain.policy_lint import parse_policy

    now = datetime(2026, 11, 22, 10, tzinfo=timezone.utc)
    sub = rules.new_subscription(
        "S-1001", account="a", vendor="Acme", product="Cloud", plan="monthly",
        kind="subscription", price=Decimal("9.99"), currency="USD", started_at=now,
        commitment_months=None, auto_renew=True, partner_name=None, partner_portal=None,
        region=None, now=now,
    )
    policy = parse_policy(default_policy_text().replace('"2026-11-01"', '"acme-9"'))
    for change in (rules.cancel(sub, now, policy=policy), rules.renew_off(sub, now, policy),
                   rules.dispute(sub, now, None, policy)):
        assert change.detail["policy_version"] == "acme-9"
        assert change.detail["clause"] in CLAUSE_IDS
    # Without a policy the rules behave as before: same clause ids, no version.
    assert rules.cancel(sub, now).detail == {
        "clause": "cancel.anytime", "refund": False, "ends_at": "2026-12-22T10:00:00Z"}


# -- limits: a hostile policy cannot stall commands or grow the ledger ----------------

def _built_in(kscli_runner) -> str:
    return kscli_runner("policy", "show", "--toml").stdout  # the built-in policy


@pytest.mark.parametrize("make,fragment", [
    (lambda base: base.replace('version = "2026-11-01"', 'version = "' + "v" * 65 + '"'),
     "'version' is 65 characters: at most 64"),
    (lambda base: base + "".join(f'\n[clause."refund.money-back".regions.R{i}]\nmonthly = 3\n'
                                 f"annual = 20\n" for i in range(1001)),
     "refund.money-back: 1,001 regions: a clause holds at most 1,000"),
    (lambda base: base.replace("holidays = []", "holidays = [" + ", ".join(
        f"{2000 + i // 300}-0{1 + (i % 300) // 30 % 9}-{1 + i % 28:02d}" for i in range(10001)) + "]"),
     "10,001 holidays: a clause holds at most 10,000"),
])
def test_a_policy_past_a_limit_is_reported_and_refused(no_store, tmp_path, make, fragment):
    from tests.conftest import Kscli

    kscli = Kscli(None)
    base = _built_in(kscli)
    assert 'version = "2026-11-01"' in base and "holidays = []" in base
    path = tmp_path / "hostile.toml"
    path.write_text(make(base))
    checked = kscli("policy", "check", str(path))
    assert checked.exit_code == 1 and fragment in checked.stdout + checked.stderr
    used = Kscli(str(tmp_path / "l.db"))("--policy", str(path), "policy", "show")
    assert used.exit_code != 0 and fragment in used.stderr and "Traceback" not in used.stderr


def test_a_policy_file_over_a_megabyte_is_refused_unread(no_store, tmp_path):
    from tests.conftest import Kscli

    path = tmp_path / "huge.toml"
    path.write_text(_built_in(Kscli(None)) + "#" + "x" * 1_000_001 + "\n")
    result = Kscli(None)("policy", "check", str(path))
    assert result.exit_code == 2 and "is over 1,000,000 bytes" in result.stderr
