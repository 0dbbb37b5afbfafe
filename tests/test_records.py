"""One description per record kind (kscli.domain.model): what is derived from it."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.conftest import Kscli

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=timezone.utc)


def _sample_rows(tmp_path):
    from kscli.store import open_store

    spec = str(tmp_path / "kscli.db")
    assert Kscli(spec)("init", "--sample").exit_code == 0
    with open_store(spec).read() as ledger:
        return {name: list(ledger.tx.select(name, ())) for name in
                ("subs", "licenses", "incidents", "charges", "events")}


def test_each_record_type_has_the_fields_of_its_description():
    from kscli.domain.model import RECORDS

    for kind, record in RECORDS.items():
        assert kind._fields == record.names
        assert kind(**{f.name: None for f in record.fields})._fields == record.names


def test_the_generated_row_reader_reads_what_the_plain_rule_reads(tmp_path):
    from kscli.rows import CODECS, Codec

    for name, rows in _sample_rows(tmp_path).items():
        codec = CODECS[name]
        assert codec.from_row is not Codec.from_row.__get__(codec)
        for row in rows:
            record = codec.from_row(row)
            assert record == Codec.from_row(codec, row)
            assert type(record) is codec.type
            assert codec.to_row(record) == row


def test_a_storage_column_renamed_leaves_the_public_json_as_it_was():
    """A scratch copy of the description keeps ``vendor`` in a column ``vendor_name``:
    the table and its rows change, the record and its public JSON do not."""
    from kscli.domain.model import SUBSCRIPTION
    from kscli.domain.subscriptions import new_subscription
    from kscli.domain.timeline import as_it_stands
    from kscli.rows import codec_for
    from kscli.store.schema import table_of
    from kscli.views import SUB_DERIVED, json_layout, sub_view, view_of

    scratch = SUBSCRIPTION.renamed("vendor", "vendor_name")
    table = table_of(scratch)
    assert "vendor_name" in table.names and "vendor" not in table.names
    sub = new_subscription("S-1001", account="ada", vendor="Acme", product="Cloud",
                           plan="monthly", kind="subscription", price=Decimal("9.99"),
                           currency="USD", started_at=NOW, commitment_months=None,
                           auto_renew=True, partner_name=None, partner_portal=None,
                           region=None, now=NOW)
    codec = codec_for(scratch)
    assert codec.columns[2] == "vendor_name"
    row = codec.to_row(sub)
    assert codec.from_row(row) == tuple(sub)
    layout = json_layout(scratch, SUB_DERIVED)
    assert view_of(layout, as_it_stands(sub), row) == sub_view(sub)
    assert "vendor" in sub_view(sub) and "vendor_name" not in sub_view(sub)


# (a subscription's prices and plans are shown as its price_history and plan_history)
@pytest.mark.parametrize("name,hidden", [("subs", {"created_at", "prices", "plans", "matches"}), ("charges", {"line_hash"}),
                                         ("licenses", {"key_hash"})])
def test_fields_without_a_json_key_are_never_in_the_public_view(name, hidden):
    from kscli.store.schema import TABLES

    record = TABLES[name].description
    assert {f.name for f in record.fields if f.public_key is None} == hidden


def test_the_csv_columns_of_sub_list_are_keys_of_its_json():
    """`sub list --format csv` picks and orders columns for spreadsheets; each is a key of
    the subscription's public JSON (never a storage column's name)."""
    from kscli.cli.sub import CSV_KEYS
    from kscli.views import SUB_FIELDS

    keys = [key for key, _, _ in SUB_FIELDS]
    assert set(CSV_KEYS) <= set(keys) and len(set(CSV_KEYS)) == len(CSV_KEYS)


def test_the_import_checks_every_rule_the_description_states(tmp_path):
    """A value each field's choices or rule refuses is refused by the import, naming
    the field (one validator: the description)."""
    import json

    from kscli.domain.model import SUBSCRIPTION

    spec = str(tmp_path / "a.db")
    kscli = Kscli(spec)
    assert kscli("init", "--sample").exit_code == 0
    good = json.loads(kscli("export").stdout)
    ruled = [f for f in SUBSCRIPTION.fields if f.choices is not None or f.check is not None]
    assert {"plan", "kind", "price", "currency", "status", "channel"} <= {f.name for f in ruled}
    for f in ruled:
        doc = json.loads(json.dumps(good))
        doc["tables"]["subs"][0][f.stored_as] = "-1" if f.kind == "dec" else "bogus"
        bad = tmp_path / f"bad-{f.name}.json"
        bad.write_text(json.dumps(doc))
        result = Kscli(str(tmp_path / f"{f.name}.db"))("import", str(bad))
        assert result.exit_code == 2, (f.name, result.stderr)
        assert f"subs row 1, {f.stored_as}" in result.stderr
        assert not (tmp_path / f"{f.name}.db").exists()


def test_a_license_view_is_its_description_plus_what_the_domain_works_out():
    from datetime import datetime, timezone

    from kscli.domain.model import LICENSE, License
    from kscli.views import license_view

    at = datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc)
    lic = License("L-1001", "Editor", at, "0" * 64, "FC3W", "0000aaaa")
    view = license_view(lic, at, years=1)
    public = [f.public_key for f in LICENSE.fields if f.public_key]
    assert [k for k in view if k in public] == public and "key_hash" not in view
    assert set(view) - set(public) == {"activation_deadline", "window_closes_at", "key_masked",
                                       "seats_used"}
    assert view["purchased_at"] == "2026-01-05T09:30:00Z" and view["activations"] == []
