"""`charges import` of a statement longer than one chunk: it streams (a first pass over
the CSV, then lines matched and written a chunk at a time in one transaction), the ids
come a block at a time, stored charges are looked up by hash; and it reads the file as
the whole-file reader did, on every backend."""

from __future__ import annotations

import io
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from kscli.domain.statement.formats import open_any
from kscli.domain.statement.lines import line_hash
from kscli.domain.statement.columns import Columns
from kscli.domain.statement.reading import CsvStatement, read_csv
from kscli.services.charges import CHUNK
from kscli.store import open_store
from kscli.store.charges import HASH_LOOKUP
from tests.conftest import Kscli

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
LINES = CHUNK * 2 + 7  # three chunks, the last one short


def statement(count: int, bad_at: int | None = None, sign: str = "-") -> str:
    out = ["date,description,amount,currency"]
    for i in range(count):
        amount = "twelve" if i == bad_at else f"{sign}{1 + i % 40}.{i % 100:02d}"
        out.append(f"2026-11-{1 + i % 28:02d},SHOP {i},{amount},USD")
    return "\n".join(out) + "\n"


@pytest.fixture
def ledger(any_store_spec):
    kscli = Kscli(any_store_spec)
    assert kscli("init", "--sample").exit_code == 0
    return kscli


def test_next_ids_reserves_a_block_that_next_id_continues(any_store_spec):
    store = open_store(any_store_spec)
    with store.write() as led:
        assert led.next_ids("C-", 0) == []
        assert led.next_ids("C-", 3) == ["C-1001", "C-1002", "C-1003"]
        assert led.next_id("C-") == "C-1004"
    with store.write() as led:
        assert led.next_ids("C-", 2) == ["C-1005", "C-1006"]
        assert led.next_ids("X-", 1) == ["X-1001"]  # each prefix its own counter


def test_next_ids_of_a_dropped_transaction_are_given_again(any_store_spec):
    store = open_store(any_store_spec)
    with store.write() as led:
        led.next_id("C-")
    with pytest.raises(RuntimeError), store.write() as led:
        assert led.next_ids("C-", 500)[0] == "C-1002"
        raise RuntimeError("dropped")
    with store.write() as led:
        assert led.next_ids("C-", 1) == ["C-1002"]


def test_charges_by_hashes_finds_the_stored_ones_past_one_lookup(ledger, tmp_path):
    path = tmp_path / "big.csv"
    path.write_text(statement(HASH_LOOKUP + 20))
    assert ledger("--quiet", "charges", "import", str(path)).exit_code == 0
    with open_store(ledger.store).read() as led:
        stored = {c.line_hash: c for c in led.charges()}
        wanted = [*list(stored)[: HASH_LOOKUP + 10], "0" * 64]
        found = led.charges_by_hashes(wanted)
    assert len(stored) == HASH_LOOKUP + 20
    assert found == {h: stored[h] for h in wanted[:-1]}


def test_holds_charges_says_whether_any_charge_is_stored(ledger, tmp_path):
    empty = open_store(ledger.store)
    with empty.write() as led:
        led.remove("charges", [c.id for c in led.charges()])
        assert led.holds_charges() is False
    path = tmp_path / "one.csv"
    path.write_text(statement(1))
    assert ledger("--quiet", "charges", "import", str(path)).exit_code == 0
    with open_store(ledger.store).read() as led:
        assert led.holds_charges() is True


def test_a_first_import_and_an_overlapping_one_store_each_line_once(any_store_spec, tmp_path):
    kscli = Kscli(any_store_spec)  # a ledger that holds no charge: the first import
    first, longer = tmp_path / "first.csv", tmp_path / "longer.csv"
    first.write_text(statement(LINES))
    longer.write_text(statement(LINES + 5))  # the same lines, and 5 more
    doc = kscli.json("charges", "import", str(first))
    assert (doc["imported"], doc["already_present"]) == (LINES, 0)
    again = kscli.json("charges", "import", str(longer))
    assert (again["imported"], again["already_present"]) == (5, LINES)
    assert len(kscli.json("charges", "list")) == LINES + 5


def test_a_long_statement_is_stored_whole_with_ids_in_file_order(ledger, tmp_path):
    path = tmp_path / "long.csv"
    path.write_text(statement(LINES))
    doc = ledger.json("charges", "import", str(path))
    assert (doc["lines"], doc["imported"], doc["unmatched"]) == (LINES, LINES, LINES)
    charges = doc["charges"]
    numbers = [int(c["id"].split("-")[1]) for c in charges]
    assert numbers == list(range(numbers[0], numbers[0] + LINES))
    assert [c["description"] for c in charges[:2]] == ["SHOP 0", "SHOP 1"]
    again = ledger.json("charges", "import", str(path))
    assert (again["imported"], again["already_present"]) == (0, LINES)
    assert len(ledger.json("charges", "list")) == LINES


def test_a_bad_line_past_the_first_chunk_writes_nothing(ledger, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(statement(3))
    first = ledger.json("charges", "import", str(good))
    bad = tmp_path / "bad.csv"
    bad.write_text(statement(LINES, bad_at=LINES - 2))
    result = ledger("charges", "import", str(bad))
    assert result.exit_code == 2
    assert f"line {LINES}, column 'amount'" in result.stderr
    assert "nothing was imported" in result.stderr and "Traceback" not in result.stderr
    assert len(ledger.json("charges", "list")) == 3
    # the ids the dropped import had reserved are given again
    more = tmp_path / "more.csv"
    more.write_text("date,description,amount,currency\n2026-11-30,LATER,-1.00,USD\n")
    later = ledger.json("charges", "import", str(more))
    assert int(later["charges"][0]["id"].split("-")[1]) == \
        int(first["charges"][-1]["id"].split("-")[1]) + 1


def test_a_bad_line_past_the_first_chunk_leaves_a_new_ledger_uncreated(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(statement(LINES, bad_at=LINES - 1))
    store = str(tmp_path / "new.db")
    result = Kscli(store)("charges", "import", str(bad))
    assert result.exit_code == 2 and "nothing was imported" in result.stderr
    assert not open_store(store).exists()


def test_a_long_card_statement_without_negative_amounts_is_read_as_charges(ledger, tmp_path):
    path = tmp_path / "card.csv"
    path.write_text(statement(LINES, sign=""))
    result = ledger("--format", "json", "charges", "import", str(path))
    assert result.exit_code == 0
    assert "no amount in it is negative, so every line was read as a charge" in result.stderr
    doc = result.json()
    assert (doc["imported"], doc["credits"]) == (LINES, 0)


def test_a_table_lists_the_first_unmatched_and_counts_them_all(ledger, tmp_path):
    path = tmp_path / "long.csv"
    path.write_text(statement(LINES))
    result = ledger("charges", "import", str(path))
    assert result.exit_code == 0
    assert f"imported {LINES}, matched 0, unmatched {LINES}" in result.stdout
    assert f"... and {LINES - 50} more: kscli charges list --unmatched" in result.stdout
    dry = ledger("charges", "import", str(path), "--dry-run")
    assert dry.exit_code == 0 and "(new 1)" not in dry.stdout  # all present now
    assert f"would import 0 charges (0 matched, 0 unmatched); {LINES} already present" \
        in dry.stderr


# Equal lines ------------------------------------------------------------------------

def _lines(text: str, **kwargs):
    stream = CsvStatement(lambda: io.StringIO(text, newline=""), size=len(text), **kwargs)
    return list(stream.lines()), stream


def test_equal_lines_are_told_apart_however_they_are_written():
    rows = ["date,description,amount,currency"]
    for i in range(3000):  # enough rows that the first pass's table sees collisions
        rows.append(f"2026-10-{1 + i % 28:02d},SHOP {i},{i}.50,EUR")
    rows += ["2026-11-02,Netflix  Monthly,9.99,EUR", "2026-11-02,NETFLIX MONTHLY,9.99,EUR",
             "2026-11-02T10:00:00,netflix monthly,\"9,99\",EUR",
             "2026-11-03,Café,10,EUR", "2026-11-03,Cafe\u0301,10.00,EUR",
             "2026-11-03,CAFÉ,10.0,EUR", "2026-11-03,Café,10.01,EUR"]
    lines, _ = _lines("\n".join(rows) + "\n")
    assert len({line.line_hash for line in lines}) == len(lines)
    tail = lines[-7:]

    def hashed(line, occurrence):
        return line_hash(line.posted_on, line.description, line.amount, line.currency,
                         occurrence)

    assert [line.line_hash for line in tail] == [
        hashed(tail[0], 0), hashed(tail[1], 1), hashed(tail[2], 2),
        hashed(tail[3], 0), hashed(tail[4], 1), hashed(tail[5], 2), hashed(tail[6], 0)]
    assert tail[4].amount == Decimal("10.00") and tail[2].posted_on == date(2026, 11, 2)


def test_a_streamed_statement_reads_as_the_whole_text_does():
    text = ("Konto;1234\n\nDatum;Text;Betrag;Waehrung\n01.11.2026;Miete;-900,00;EUR\n"
            "02.11.2026;Lohn;2.500,00;EUR\n03.11.2026;Kaffee;-1.234;EUR\n;Saldo;;\n"
            "04.11.2026;Kaffee;-1.234;EUR\n")
    columns = Columns(date="Datum", description="Text", amount="Betrag", currency="Waehrung",
                      date_format="%d.%m.%Y")
    whole = read_csv(text, columns)
    data = text.encode("utf-8")
    streamed = open_any(lambda: io.BytesIO(data), None, columns, size=len(data))
    lines = list(streamed.lines())
    assert lines == whole.lines and len(lines) == 3
    assert lines[1].amount == lines[2].amount == Decimal(1234)  # the file's decimal mark is ,
    assert lines[1].line_hash != lines[2].line_hash
    summary = streamed.summary
    assert (summary.credits, summary.notes, summary.transactions) == (1, 1, 4)
    assert streamed.rows == 5 and streamed.rows_read == 5


def test_an_undecodable_byte_is_named_by_line_when_streamed():
    data = ("date,description,amount\n" + "2026-11-01,A,-1.00\n" * 3).encode() + \
        b"2026-11-02,M\xfcller,-2.00\n"
    from kscli.domain.statement.lines import StatementError

    with pytest.raises(StatementError) as caught:
        open_any(lambda: io.BytesIO(data), size=len(data))
    assert caught.value.line == 5 and "byte 0xfc" in str(caught.value)
