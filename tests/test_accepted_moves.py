"""Whatever a command accepted, the ledger can be moved: export, then import into every
backend, gives the same records (one rule for every value: kscli.checks)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Kscli, fresh_pg_store_spec, ledger_path, pg_dsn

# Text as people and statements write it, and as they should not: controls, NUL,
# bidirectional overrides, astral characters, lone surrogates (undecodable bytes).
_TEXT = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF),
                min_size=1, max_size=12)
_DAY = st.dates(min_value=__import__("datetime").date(1890, 1, 1),
                max_value=__import__("datetime").date(3005, 12, 31))


def _targets(tmp: Path) -> list[str]:
    targets = [ledger_path(tmp, "sqlite").replace("ledger", "to-sqlite"),
               ledger_path(tmp, "json").replace("ledger", "to-json")]
    if pg_dsn():
        targets.append(fresh_pg_store_spec(pg_dsn()))
    return targets


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vendor=_TEXT, product=_TEXT, started=_DAY, price=st.decimals("0", "99999", places=2),
       plan=st.sampled_from(["monthly", "annual", "3m"]), description=_TEXT, posted=_DAY)
def test_what_a_command_accepts_an_import_accepts_on_every_backend(
        vendor, product, started, price, plan, description, posted):
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        source = Kscli(ledger_path(tmp, "sqlite"))
        source("sub", "add", "--vendor", vendor, "--product", product, "--plan", plan,
               "--price", str(price), "--currency", "USD", "--started", started.isoformat())
        statement = tmp / "statement.csv"
        quoted = description.replace('"', '""')
        try:
            statement.write_text(f'Date,Description,Amount,Currency\n'
                                 f'{posted.isoformat()},"{quoted}",-{price},USD\n',
                                 encoding="utf-8")
        except UnicodeEncodeError:
            statement.write_bytes(b"Date,Description,Amount,Currency\n")
        source("charges", "import", str(statement))
        exported = source("export")
        assert exported.exit_code == 0, exported.stderr
        before = json.loads(exported.stdout)["tables"]
        dump = tmp / "export.json"
        dump.write_text(exported.stdout, encoding="utf-8")
        for target in _targets(tmp):
            moved = Kscli(target)
            result = moved("import", str(dump))
            assert result.exit_code == 0, (target, result.stderr)
            after = json.loads(moved("export").stdout)["tables"]
            assert after == before, target


@pytest.mark.parametrize("argv,field", [
    (["--started", "2999-12-31"], "period_end"),
    (["--started", "1899-12-31"], None),
])
def test_a_value_an_import_would_refuse_is_refused_when_written(tmp_path, argv, field):
    kscli = Kscli(ledger_path(tmp_path, "json"))
    result = kscli("sub", "add", "--vendor", "Acme", "--product", "Cloud", "--plan", "monthly",
                   "--price", "5", "--currency", "USD", *argv)
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr and "1900 to 2999" in result.stderr
    if field:
        assert result.stderr.count("\n") == 1
        assert f"S-1001: {field} '3000-01-31T00:00:00Z' is outside the years 1900 to 2999" \
            in result.stderr
    assert not Path(ledger_path(tmp_path, "json")).exists()  # nothing written
