"""Text from a ledger or a statement cannot act on a terminal through any format: CSV
shows controls as tables do, JSON escapes C1 and bidirectional controls as \\u
sequences (the same value, as valid JSON), and so does `kscli export`."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Kscli, ledger_path

HOSTILE = "Ev\x1b[31mil\x07\r\x9b2J\u202eX\u2066\u2028Y"
RAW = ["\x1b", "\x07", "\r", "\x9b", "\u202e", "\u2066", "\u2028"]


@pytest.fixture
def hostile(tmp_path):
    kscli = Kscli(ledger_path(tmp_path, "sqlite"))
    added = kscli("sub", "add", "--vendor", HOSTILE, "--product", "P", "--plan", "monthly",
                  "--price", "1", "--currency", "USD")
    assert added.exit_code == 0, added.stderr
    return kscli


@pytest.mark.parametrize("argv,fmt", [(["sub", "list"], "csv"), (["sub", "list"], "json"),
                                      (["sub", "list"], "jsonl"), (["sub", "show", "S-1001"], "json"),
                                      (["sub", "show", "S-1001"], "jsonl"),
                                      (["sub", "history", "S-1001"], "json"), (["export"], None)])
def test_no_format_lets_a_control_character_through(hostile, argv, fmt):
    result = hostile(*argv, fmt=fmt)
    assert result.exit_code == 0, result.stderr
    for char in RAW:
        assert char not in result.stdout, (argv, fmt, repr(char))
    if fmt != "csv":
        text = result.stdout
        docs = [json.loads(line) for line in text.splitlines()] if fmt == "jsonl" else [json.loads(text)]
        assert HOSTILE in _strings(docs)  # the value itself, unchanged
    else:
        assert "Ev\\x1b[31mil\\x07\\x0d\\x9b2J\\u202eX\\u2066\\u2028Y" in result.stdout


def _strings(value) -> set[str]:
    if isinstance(value, str):
        try:  # the export keeps event details as JSON text
            inner = json.loads(value)
        except ValueError:
            return {value}
        return {value} | (_strings(inner) if isinstance(inner, (dict, list)) else set())
    if isinstance(value, dict):
        return set().union(*map(_strings, value.values()))
    if isinstance(value, list):
        return set().union(*map(_strings, value))
    return set()


def test_a_csv_cell_is_still_defused_against_formulas_before_its_controls_are_shown():
    from kscli.cli.output import csv_cell

    assert csv_cell("=HYPERLINK(\"x\")\x1b") == "'=HYPERLINK(\"x\")\\x1b"
    assert csv_cell("-12.50") == "-12.50" and csv_cell(None) == ""
