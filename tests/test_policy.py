"""The policy as data: the built-in default, parsing, linting, loading files."""

from __future__ import annotations

import json
import os
import tomllib
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kscli.domain.policy import CLAUSE_IDS, Policy, PolicyError, Problem
from kscli.domain.policy_lint import lint_policy, parse_policy
from kscli.policy_files import default_policy_text, lint_policy_file, load_default, load_policy

DEFAULT = default_policy_text()
MONEY_BACK_DAYS = '[clause."refund.money-back".days]\nannual = 60\n'
NEXT_CLAUSE = '[clause."refund.not-started"]'


def with_regions(regions: str) -> str:
    """The default policy with region tables added to refund.money-back."""
    return DEFAULT.replace(NEXT_CLAUSE, f"{regions}\n{NEXT_CLAUSE}", 1)


def errors(text: str) -> list[Problem]:
    return [p for p in lint_policy(text) if p.severity == "error"]


def warnings(text: str) -> list[Problem]:
    return [p for p in lint_policy(text) if p.severity == "warning"]


# --- the built-in default -----------------------------------------------------------


def test_default_policy_parses_with_exactly_the_eighteen_clauses():
    policy = load_default()
    assert isinstance(policy, Policy)
    assert tuple(policy.clauses) == CLAUSE_IDS
    assert len(policy.clauses) == 18
    assert policy.version == "2026-11-01"
    assert policy.source == "<built-in>"
    raw = tomllib.loads(DEFAULT)
    assert set(raw["clause"]) == set(CLAUSE_IDS)
    assert set(raw) == {"version", "clause"}


def test_default_policy_lints_clean():
    assert lint_policy(DEFAULT) == []


def test_every_default_clause_has_a_title_and_a_plain_text():
    for clause in load_default().clauses.values():
        assert clause.title and clause.text.endswith(".")


def test_default_money_back_is_60_days_for_annual_plans_everywhere():
    policy = load_default()
    assert policy.money_back_days("annual") == 60
    assert policy.money_back_days("12m", "EU") == 60
    assert policy.money_back_days("annual", "US") == 60
    assert policy.money_back_days("monthly") is None
    assert policy.money_back_days("3m") is None
    assert policy.money_back_days("once") is None
    assert policy.money_back_days("nonsense") is None


def test_default_grounds_timing_and_activation_window():
    policy = load_default()
    for ground in ("chargeback", "bank-dispute", "card-dispute"):
        assert policy.excluded_ground(ground) == "cancel.direct"
    for ground in (
        "os-reinstall-declined",
        "no-legal-copies",
        "repair-disc-declined",
        "data-loss",
        "failed-backup",
        "hardware-failure",
    ):
        assert policy.excluded_ground(ground) == "refund.exclusions"
    assert policy.excluded_ground("Hardware_Failure") == "refund.exclusions"
    assert policy.excluded_ground("changed-my-mind") is None
    assert policy.excluded_ground(None) is None
    assert policy.credit_days() == (5, 7)
    assert policy.holidays() == frozenset()
    assert policy.activation_years() == 1


def test_to_dict_is_json_ready_and_lists_every_clause_in_order():
    data = load_default().to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["version"] == "2026-11-01"
    assert [c["id"] for c in data["clauses"]] == list(CLAUSE_IDS)
    money_back = data["clauses"][CLAUSE_IDS.index("refund.money-back")]
    assert money_back["params"] == {"days": {"annual": 60}}


def test_parse_policy_accepts_an_already_parsed_mapping():
    policy = parse_policy(tomllib.loads(DEFAULT), source="dict")
    assert policy.clauses == load_default().clauses and policy.source == "dict"


def test_clause_lookup_of_an_unknown_id_names_it():
    with pytest.raises(KeyError, match="refund.nope"):
        load_default().clause("refund.nope")


# --- lint ------------------------------------------------------------------------------


def test_lint_catches_an_unknown_clause_and_suggests_the_near_one():
    text = DEFAULT + '\n[clause."refund.money-bak"]\ntitle = "x"\ntext = "y"\n'
    found = errors(text)
    assert len(found) == 1
    assert found[0].clause == "refund.money-bak"
    assert "unknown clause" in found[0].message and "refund.money-back" in found[0].message
    assert found[0].line == len(DEFAULT.splitlines()) + 2


def test_lint_explains_an_unquoted_dotted_clause_id():
    text = DEFAULT.replace('[clause."cancel.anytime"]', "[clause.cancel.anytime]")
    found = errors(text)
    assert any("put the id in quotes" in p.message for p in found)
    assert any(p.clause == "cancel.anytime" and "missing clause" in p.message for p in found)


def test_lint_catches_a_missing_clause():
    start = DEFAULT.index('[clause."refund.discretion"]')
    end = DEFAULT.index('[clause."refund.timing"]')
    found = errors(DEFAULT[:start] + DEFAULT[end:])
    assert [(p.clause, "missing clause" in p.message) for p in found] == [
        ("refund.discretion", True)
    ]


def test_lint_catches_days_that_are_not_a_whole_number():
    for value in ('"60"', "60.5", "true", "[60]"):
        found = errors(DEFAULT.replace(MONEY_BACK_DAYS, MONEY_BACK_DAYS.replace("60", value)))
        assert len(found) == 1, value
        assert found[0].clause == "refund.money-back"
        assert "whole number" in found[0].message
        assert found[0].line == DEFAULT.splitlines().index("annual = 60") + 1


def test_lint_catches_a_title_that_is_not_text():
    found = errors(DEFAULT.replace('title = "Cancel at any time"', "title = 42"))
    assert [(p.clause, p.message) for p in found] == [
        ("cancel.anytime", "'title' must be text in quotes, not a number")
    ]


def test_lint_catches_negative_days():
    found = errors(DEFAULT.replace(MONEY_BACK_DAYS, MONEY_BACK_DAYS.replace("60", "-1")))
    assert len(found) == 1 and "negative" in found[0].message


def test_lint_catches_negative_business_days_and_a_min_above_max():
    assert (
        "negative"
        in errors(DEFAULT.replace("min_business_days = 5", "min_business_days = -5"))[0].message
    )
    found = errors(DEFAULT.replace("min_business_days = 5", "min_business_days = 9"))
    assert len(found) == 1 and "more than max_business_days" in found[0].message


def test_lint_catches_a_region_table_leaving_a_plan_uncovered():
    text = DEFAULT.replace(
        MONEY_BACK_DAYS, '[clause."refund.money-back".days]\nannual = 60\n24m = 30\n'
    )
    text = text.replace(
        NEXT_CLAUSE, '[clause."refund.money-back".regions.EU]\nannual = 90\n\n' + NEXT_CLAUSE
    )
    found = errors(text)
    assert len(found) == 1
    assert "region EU leaves 24m uncovered" in found[0].message
    assert found[0].line == text.splitlines().index('[clause."refund.money-back".regions.EU]') + 1


def test_a_region_table_covering_every_plan_is_accepted_and_used():
    policy = parse_policy(
        with_regions('[clause."refund.money-back".regions.EU]\nannual = 90\nmonthly = 14\n')
    )
    assert policy.money_back_days("annual", "EU") == 90
    assert policy.money_back_days("monthly", "eu") == 14
    assert policy.money_back_days("monthly", "US") is None
    assert policy.money_back_days("annual", None) == 60


def test_a_region_can_remove_a_window_with_zero_days():
    policy = parse_policy(with_regions('[clause."refund.money-back".regions.XX]\nannual = 0\n'))
    assert policy.money_back_days("annual", "XX") is None
    assert lint_policy(with_regions('[clause."refund.money-back".regions.XX]\nannual = 0\n')) == []


def test_lint_warns_of_a_region_table_identical_to_the_default():
    text = with_regions('[clause."refund.money-back".regions.EU]\nannual = 60\n')
    assert errors(text) == []
    found = warnings(text)
    assert len(found) == 1 and "repeats the default table" in found[0].message
    parse_policy(text)  # a warning does not refuse the policy


def test_lint_warns_that_a_zero_day_window_never_applies():
    text = DEFAULT.replace(MONEY_BACK_DAYS, MONEY_BACK_DAYS + "monthly = 0\n")
    found = warnings(text)
    assert len(found) == 1 and "never applies" in found[0].message


def test_lint_warns_when_no_plan_has_a_money_back_window():
    text = DEFAULT.replace(MONEY_BACK_DAYS, '[clause."refund.money-back".days]\n')
    assert errors(text) == []
    assert any("never applies" in p.message for p in warnings(text))
    assert parse_policy(text).money_back_days("annual") is None


def test_lint_warns_of_a_ground_listed_by_both_clauses():
    text = DEFAULT.replace('"hardware-failure",\n]', '"hardware-failure",\n  "chargeback",\n]')
    found = warnings(text)
    assert (
        len(found) == 1
        and found[0].clause == "refund.exclusions"
        and "unreachable" in found[0].message
    )


def test_lint_catches_the_same_plan_type_written_twice():
    text = DEFAULT.replace(MONEY_BACK_DAYS, MONEY_BACK_DAYS + "12m = 30\n")
    found = errors(text)
    assert len(found) == 1 and "listed twice" in found[0].message


def test_lint_catches_a_plan_type_it_does_not_know():
    found = errors(DEFAULT.replace(MONEY_BACK_DAYS, MONEY_BACK_DAYS + "weekly = 3\n"))
    assert len(found) == 1 and "'weekly' is not a plan type" in found[0].message


def test_lint_catches_an_unknown_key_in_a_clause():
    found = errors(DEFAULT.replace("years = 1", "years = 1\nmonths = 3"))
    assert len(found) == 1 and "unknown key 'months'" in found[0].message


def test_lint_catches_a_missing_parameter_and_a_missing_version():
    found = errors(DEFAULT.replace("years = 1\n", ""))
    assert [p.message for p in found] == ["missing parameter 'years'"]
    found = errors(DEFAULT.replace('version = "2026-11-01"', ""))
    assert len(found) == 1 and "missing 'version'" in found[0].message


def test_lint_catches_an_unknown_top_level_key():
    text = DEFAULT.replace('version = "2026-11-01"', 'version = "2026-11-01"\nclauses = 1')
    found = errors(text)
    assert len(found) == 1 and "unknown top-level key 'clauses'" in found[0].message
    assert found[0].line == text.splitlines().index("clauses = 1") + 1


def test_a_region_need_not_list_a_plan_that_has_no_window_by_default():
    text = DEFAULT.replace(MONEY_BACK_DAYS, MONEY_BACK_DAYS + "monthly = 0\n")
    text = text.replace(
        NEXT_CLAUSE, '[clause."refund.money-back".regions.EU]\nannual = 30\n\n' + NEXT_CLAUSE
    )
    assert errors(text) == []
    assert parse_policy(text).money_back_days("annual", "EU") == 30


def test_lint_catches_a_holiday_that_is_not_a_date():
    found = errors(DEFAULT.replace("holidays = []", 'holidays = ["25 December"]'))
    assert len(found) == 1 and "is not a date" in found[0].message


def test_holidays_accept_toml_dates_and_iso_text():
    policy = parse_policy(DEFAULT.replace("holidays = []", 'holidays = [2026-12-25, "2027-01-01"]'))
    assert policy.holidays() == frozenset({date(2026, 12, 25), date(2027, 1, 1)})


def test_lint_catches_broken_toml_with_its_line():
    text = DEFAULT.replace("years = 1", "years = = 1")
    found = lint_policy(text)
    assert len(found) == 1
    assert found[0].line == text.splitlines().index("years = = 1") + 1
    assert found[0].message.startswith("TOML syntax error")
    assert str(found[0]).startswith(f"line {found[0].line}: TOML syntax error")


def test_lint_gives_a_line_for_broken_toml_at_the_end():
    found = lint_policy('version = "1"\nx = [\n')
    assert len(found) == 1 and found[0].line == 2


def test_parse_policy_refuses_what_lint_reports_as_an_error_in_one_line():
    text = DEFAULT.replace(MONEY_BACK_DAYS, MONEY_BACK_DAYS.replace("60", "-1"))
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert isinstance(caught.value, ValueError)
    assert "\n" not in str(caught.value)
    assert "refund.money-back" in str(caught.value) and "negative" in str(caught.value)


# --- fuzz: nothing but PolicyError escapes -------------------------------------------------

TOML_VALUES = st.sampled_from(
    [
        "-1",
        "0",
        '"x"',
        "true",
        "[]",
        "{}",
        "1.5",
        "2026-01-01",
        "99999999999999999999",
        '[1, "a"]',
        "{ annual = 1 }",
        '""',
        "[[1]]",
        "2026-01-01T00:00:00Z",
        "3650",
        "3651",
        '"2026-02-30"',
    ]
)


@st.composite
def mutated_default(draw) -> str:
    """The default policy with a few lines removed, or values replaced."""
    lines = DEFAULT.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "value", "text", "header"]))
        if action == "drop":
            lines.pop(index)
        elif action == "value" and "=" in lines[index]:
            key = lines[index].split("=", 1)[0]
            lines[index] = f"{key}= {draw(TOML_VALUES)}"
        elif action == "header":
            name = draw(st.sampled_from(["regions.EU", "regions.eu", "days", "regions", "x"]))
            plan = draw(st.sampled_from(["annual", "12m", "24m"]))
            lines.insert(
                index, f'[clause."refund.money-back".{name}]\n{plan} = {draw(TOML_VALUES)}'
            )
        else:
            lines[index] = draw(st.text(max_size=20))
        if not lines:
            break
    return "\n".join(lines)


def _lint_and_parse(text: str) -> None:
    problems = lint_policy(text)
    assert all(isinstance(p, Problem) and p.message for p in problems)
    has_error = any(p.severity == "error" for p in problems)
    try:
        policy = parse_policy(text)
    except PolicyError as exc:
        assert has_error and str(exc)
    else:
        assert not has_error
        json.dumps(policy.to_dict())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), mutated_default()))
def test_lint_and_parse_of_any_text_raise_nothing_but_policy_error(text):
    _lint_and_parse(text)


toml_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.dates(),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["version", "clause", "other"]),
        st.one_of(
            toml_like, st.dictionaries(st.sampled_from(CLAUSE_IDS + ("x",)), toml_like, max_size=4)
        ),
        max_size=3,
    )
)
def test_parse_of_any_mapping_raises_nothing_but_policy_error(data):
    try:
        parse_policy(data)
    except PolicyError:
        pass


def test_parse_policy_refuses_something_that_is_not_toml_text():
    with pytest.raises(PolicyError):
        parse_policy(b"version = 1")  # type: ignore[arg-type]


def test_deeply_nested_toml_is_a_policy_error():
    with pytest.raises(PolicyError):
        parse_policy("a = " + "[" * 5000)


# --- files -------------------------------------------------------------------------------


def test_load_policy_reads_a_user_file(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(
        DEFAULT.replace('version = "2026-11-01"', 'version = "desk-7"'), encoding="utf-8"
    )
    policy = load_policy(path)
    assert policy.version == "desk-7" and policy.source == str(path)


def test_load_policy_names_the_file_when_invalid(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(DEFAULT.replace("years = 1", "years = 0"), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"bad\.toml.*license\.activation-window.*years"):
        load_policy(path)


def test_load_policy_names_the_file_when_missing_or_unreadable(tmp_path):
    with pytest.raises(PolicyError, match=r"cannot read policy file .*missing\.toml"):
        load_policy(tmp_path / "missing.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(PolicyError, match=r"binary\.toml is not UTF-8"):
        load_policy(binary)
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path)  # a directory


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_load_policy_names_a_file_it_may_not_read(tmp_path):
    path = tmp_path / "private.toml"
    path.write_text(DEFAULT, encoding="utf-8")
    path.chmod(0)
    with pytest.raises(PolicyError, match=r"private\.toml"):
        load_policy(path)


def test_lint_policy_file_reports_problems_of_a_file(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        DEFAULT + '\n[clause."refund.extra"]\ntitle = "x"\ntext = "y"\n', encoding="utf-8"
    )
    assert [p.clause for p in lint_policy_file(path)] == ["refund.extra"]
