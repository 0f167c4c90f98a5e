"""The spool loader against real DuckDB and PostgreSQL warehouses."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.load_helpers import RECEIVED, columns, events, identify, loader_config, rows, track, write_spool_file
from pipelines.spool_loader import LoadError, load_spool
from sources.collect.spool import HEADER, backlog, encode


def test_messages_land_in_segment_tables_and_columns(warehouse, tmp_path):
    config = loader_config(warehouse, tmp_path)
    order = track("m-track", revenue=42.5, orderId="o-1", products=[{"sku": "a"}], shipping={"method": "air"})
    order["context"] = {"page": {"url": "https://shop.test/cart"}, "campaign": {"source": "newsletter"}}
    write_spool_file(config, [events([
        order,
        identify("m-identify", "user-1", "2024-05-01T10:00:00Z", email="ada@example.com", firstName="Ada"),
        {"type": "page", "messageId": "m-page", "anonymousId": "anon-1", "name": "Pricing",
         "properties": {"path": "/pricing"}, "timestamp": RECEIVED},
        {"type": "screen", "messageId": "m-screen", "userId": "user-1", "name": "Home", "properties": {"tab": 2}},
        {"type": "group", "messageId": "m-group", "userId": "user-1", "groupId": "acme",
         "traits": {"employeeCount": 12}},
        {"type": "alias", "messageId": "m-alias", "userId": "user-1", "previousId": "anon-1"},
    ])])

    report = load_spool(config)

    assert report.files == 1 and report.loaded == 6 and report.duplicates == 0 and report.quarantined == 0
    [tracked] = rows(warehouse, "website", "tracks")
    assert (tracked["id"], tracked["event"], tracked["event_text"]) == ("m-track", "order_completed", "Order Completed")
    assert tracked["context_page_url"] == "https://shop.test/cart"
    assert tracked["context_campaign_source"] == "newsletter"
    assert tracked["timestamp"] == datetime(2024, 5, 1, 11, 59, tzinfo=timezone.utc)
    assert "revenue" not in columns(warehouse, "website", "tracks")  # properties only on the event table
    [completed] = rows(warehouse, "website", "order_completed")
    assert completed["revenue"] == 42.5 and completed["order_id"] == "o-1"
    assert completed["shipping_method"] == "air"
    assert completed["products"].replace(" ", "") == '[{"sku":"a"}]'
    assert completed["user_id"] == "user-1" and completed["uuid_ts"] is not None
    [identified] = rows(warehouse, "website", "identifies")
    assert (identified["email"], identified["first_name"]) == ("ada@example.com", "Ada")
    [page] = rows(warehouse, "website", "pages")
    assert (page["name"], page["path"], page["anonymous_id"]) == ("Pricing", "/pricing", "anon-1")
    assert rows(warehouse, "website", "screens")[0]["tab"] == 2
    [group] = rows(warehouse, "website", "groups")
    assert (group["group_id"], group["employee_count"]) == ("acme", 12)
    assert rows(warehouse, "website", "aliases")[0]["previous_id"] == "anon-1"
    assert backlog(Path(config.collect.spool_dir))["claimed"] == 0  # done() only after the commit


def test_replayed_spool_file_adds_no_rows(warehouse, tmp_path):
    config = loader_config(warehouse, tmp_path)
    path = write_spool_file(config, [events([track("m1", revenue=1), track("m2", revenue=2)])])
    copy = tmp_path / "copy.hws"
    shutil.copy(path, copy)
    load_spool(config)
    shutil.copy(copy, Path(config.collect.spool_dir) / "closed" / "replayed.hws")

    again = load_spool(config)

    assert again.files == 1 and again.loaded == 0 and again.duplicates == 2
    assert [row["id"] for row in rows(warehouse, "website", "tracks")] == ["m1", "m2"]
    assert len(rows(warehouse, "website", "order_completed")) == 2


def test_duplicate_message_id_in_later_file_keeps_first_copy(warehouse, tmp_path):
    config = loader_config(warehouse, tmp_path)
    write_spool_file(config, [events([track("m1", revenue=10)])])
    load_spool(config)
    write_spool_file(config, [events([track("m1", revenue=99), track("m2", revenue=5)])])

    report = load_spool(config)

    assert (report.loaded, report.duplicates) == (1, 1)
    assert {row["id"]: row["revenue"] for row in rows(warehouse, "website", "order_completed")} == {
        "m1": 10.0, "m2": 5.0}


def test_duplicate_within_one_load_keeps_the_copy_spooled_first(duckdb_warehouse, tmp_path):
    config = loader_config(duckdb_warehouse, tmp_path)
    write_spool_file(config, [events([track("m1", revenue=1)])])
    write_spool_file(config, [events([track("m1", revenue=2)])])

    report = load_spool(config)

    assert (report.files, report.loaded, report.duplicates) == (2, 1, 1)
    assert rows(duckdb_warehouse, "website", "order_completed")[0]["revenue"] == 1.0


def test_torn_last_record_is_skipped_and_the_rest_loads(duckdb_warehouse, tmp_path):
    config = loader_config(duckdb_warehouse, tmp_path)
    path = write_spool_file(config, [events([track("m1")]), events([track("m2")])])
    torn = encode(events([track("m3")]))
    with path.open("ab") as spool_file:
        spool_file.write(torn[: HEADER.size + 10])

    report = load_spool(config)

    assert report.torn_bytes == HEADER.size + 10
    assert [row["id"] for row in rows(duckdb_warehouse, "website", "tracks")] == ["m1", "m2"]


def test_new_property_adds_a_column(warehouse, tmp_path):
    config = loader_config(warehouse, tmp_path)
    write_spool_file(config, [events([track("m1", revenue=1)])])
    load_spool(config)
    assert "coupon" not in columns(warehouse, "website", "order_completed")
    write_spool_file(config, [events([track("m2", revenue=2, coupon="SPRING")])])

    load_spool(config)

    by_id = {row["id"]: row for row in rows(warehouse, "website", "order_completed")}
    assert by_id["m2"]["coupon"] == "SPRING" and by_id["m1"]["coupon"] is None


def test_type_conflict_goes_to_quarantine_and_the_batch_still_loads(warehouse, tmp_path):
    config = loader_config(warehouse, tmp_path)
    write_spool_file(config, [events([track("m1", revenue=10)])])
    load_spool(config)
    write_spool_file(config, [events([track("m2", revenue="abc"), track("m3", revenue=7), track("m4", tax=True),
                                      track("m5", tax="yes")])])

    report = load_spool(config)

    assert (report.loaded, report.quarantined) == (2, 2)
    assert sorted(row["id"] for row in rows(warehouse, "website", "order_completed")) == ["m1", "m3", "m4"]
    assert "m2" not in {row["id"] for row in rows(warehouse, "website", "tracks")}  # refused whole
    reasons = {row["message_id"]: row["reason"] for row in rows(warehouse, "website", "_quarantine")}
    assert "order_completed.revenue is double" in reasons["m2"] and "'abc'" in reasons["m2"]
    assert "order_completed.tax is boolean" in reasons["m5"]  # typed by m4, earlier in the same load


def test_users_has_latest_non_null_trait_per_user(warehouse, tmp_path):
    config = loader_config(warehouse, tmp_path)
    write_spool_file(config, [events([
        identify("i1", "user-1", "2024-05-01T10:00:00Z", email="old@example.com", plan="free"),
        identify("i2", "user-1", "2024-05-03T10:00:00Z", plan="pro"),
        identify("i3", "user-2", "2024-05-01T10:00:00Z", email="two@example.com"),
    ])])
    load_spool(config)
    # a later load with an older timestamp must not win; a newer non-null one must
    write_spool_file(config, [events([
        identify("i4", "user-1", "2024-05-02T10:00:00Z", plan="trial", email="new@example.com"),
        identify("i5", "user-1", "2024-05-04T10:00:00Z", email=None, company="Acme"),
    ])])

    load_spool(config)

    users = {row["id"]: row for row in rows(warehouse, "website", "users")}
    assert set(users) == {"user-1", "user-2"}
    assert (users["user-1"]["plan"], users["user-1"]["email"], users["user-1"]["company"]) == (
        "pro", "new@example.com", "Acme")
    assert (users["user-2"]["email"], users["user-2"]["plan"]) == ("two@example.com", None)


def test_unknown_source_is_kept_whole_in_the_headwater_quarantine(duckdb_warehouse, tmp_path):
    config = loader_config(duckdb_warehouse, tmp_path)
    write_spool_file(config, [events([track("m1")], source="retired_app"), events([track("m2")])])

    report = load_spool(config)

    assert report.loaded == 1
    [kept] = rows(duckdb_warehouse, "headwater", "_quarantine")
    assert kept["source"] == "retired_app" and "'retired_app' is not in the configuration" in kept["reason"]
    assert '"messageId":"m1"' in kept["payload"]


def test_webhook_record_loads_messages_and_raw_payload_once(duckdb_warehouse, tmp_path):
    config = loader_config(duckdb_warehouse, tmp_path, sources=("shop",))
    record = {"source": "shop", "kind": "webhook", "vendor": "shopify", "topic": "orders/create",
              "webhook_id": "wh-1", "received_at": RECEIVED, "raw": {"id": 1001, "total_price": "9.90"},
              "messages": [{"type": "track", "messageId": "shopify-wh-1", "event": "Order Completed",
                            "properties": {"order_id": "1001", "total": 9.9}, "timestamp": RECEIVED,
                            "receivedAt": RECEIVED}]}
    write_spool_file(config, [record])
    write_spool_file(config, [record])  # the vendor re-delivered it

    report = load_spool(config)

    assert (report.loaded, report.duplicates, report.quarantined) == (1, 1, 0)
    [webhook] = rows(duckdb_warehouse, "shop", "webhooks")
    assert (webhook["vendor"], webhook["topic"]) == ("shopify", "orders/create")
    assert '"total_price":"9.90"' in webhook["payload"].replace(" ", "")
    [order] = rows(duckdb_warehouse, "shop", "order_completed")
    assert order["user_id"] is None and order["total"] == 9.9


def test_unreachable_warehouse_leaves_files_for_the_next_load(duckdb_warehouse, tmp_path):
    config = loader_config(duckdb_warehouse, tmp_path)
    write_spool_file(config, [events([track("m1")])])
    broken = config.model_copy(update={"warehouse": "postgresql://postgres@127.0.0.1:1/nowhere"})

    with pytest.raises(LoadError, match="127.0.0.1:1"):
        load_spool(broken)

    assert backlog(Path(config.collect.spool_dir))["claimed"] == 1
    assert load_spool(config).loaded == 1
