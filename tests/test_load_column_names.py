"""Issue 17: column names are resolved losslessly and deterministically, and what the loader
refuses goes to `_quarantine` with a reason (NUL text, times outside UTC's years, too wide)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pipelines.column_types import MAX_ROW_COLUMNS
from pipelines.segment_layout import place
from pipelines.spool_loader import load_spool
from tests.load_helpers import columns, events, identify, loader_config, rows, track, write_spool_file


def event_row(properties: dict, **extras) -> dict:
    return place({**track("m-1", **properties), **extras}).event_row


def test_names_that_collide_after_snake_case_keep_every_value():
    row = event_row({"A B": "spaced", "a_b": "literal"})
    assert row["a_b"] == "literal" and row["a_b_2"] == "spaced"  # the key that is the name keeps it


def test_non_ascii_only_and_blank_names_become_x_then_numbered_by_key():
    row = event_row({"☃": "snowman", "é": "e-acute", "": "blank", "x_2": "literal"})
    # ordered by key: "" < "é" < "☃"; x_2 is a key of its own, so the numbering skips it
    assert (row["x"], row["x_2"], row["x_3"], row["x_4"]) == ("blank", "literal", "e-acute", "snowman")


def test_resolution_does_not_depend_on_key_order():
    keys = {"A B": 1, "a_b": 2, "a": {"b": 3}, "☃": 4, "é": 5, "id": 6, "properties_id": 7}
    forward = event_row(keys)
    backward = event_row(dict(reversed(list(keys.items()))))
    assert forward == backward


def test_reserved_names_are_prefixed_and_never_overwritten():
    row = event_row({"id": "p-id", "uuid_ts": "p-ts", "received_at": "p-r", "event_text": "p-e", "_dlt_id": "p-d"},
                    uuid_ts="top-level", channel="server")
    assert row["id"] == "m-1" and row["event_text"] == "Order Completed"
    assert (row["properties_id"], row["properties_uuid_ts"], row["properties_received_at"]) == ("p-id", "p-ts", "p-r")
    assert (row["properties_event_text"], row["properties_dlt_id"]) == ("p-e", "p-d")
    assert row["message_uuid_ts"] == "top-level" and row["channel"] == "server"


def test_a_property_named_like_a_context_column_keeps_both():
    row = event_row({"context_ip": "from-properties"}, context={"ip": "10.0.0.1"})
    assert row["context_ip"] == "10.0.0.1" and row["context_ip_2"] == "from-properties"
    tracks_row = place({**track("m-1", context_ip="p"), "context": {"ip": "10.0.0.1"}}).row
    assert tracks_row["context_ip"] == "10.0.0.1" and "context_ip_2" not in tracks_row


def test_colliding_names_load_into_their_own_columns(tmp_path, warehouse):
    config = loader_config(warehouse, tmp_path)
    write_spool_file(config, [events([
        track("m-1", **{"A B": "spaced", "a_b": "literal", "☃": "snowman", "é": "e-acute"}),
        {**identify("m-2", "user-1", "2024-05-01T11:00:00Z"), "traits": {"Plan Name": "pro", "plan_name": "free"}},
    ])])
    report = load_spool(config)
    assert report.loaded == 2 and report.quarantined == 0
    [order] = rows(warehouse, "website", "order_completed")
    assert (order["a_b"], order["a_b_2"], order["x"], order["x_2"]) == ("literal", "spaced", "e-acute", "snowman")
    [identified] = rows(warehouse, "website", "identifies")
    assert (identified["plan_name"], identified["plan_name_2"]) == ("free", "pro")


def test_offsets_are_stored_as_the_same_instant_in_utc(tmp_path, warehouse):
    config = loader_config(warehouse, tmp_path)
    write_spool_file(config, [events([track("m-1", timestamp="2024-05-01T23:30:00+14:00")])])
    assert load_spool(config).loaded == 1
    [row] = rows(warehouse, "website", "tracks")
    moment = row["timestamp"]
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    assert moment == datetime(2024, 5, 1, 9, 30, tzinfo=timezone.utc)


def quarantined(warehouse) -> list[dict]:
    return rows(warehouse, "website", "_quarantine", order_by="message_id")


def test_what_the_loader_refuses_is_quarantined_with_a_reason_and_the_rest_loads(tmp_path, warehouse):
    config = loader_config(warehouse, tmp_path)
    wide = track("m-wide", **{f"p{index}": index for index in range(MAX_ROW_COLUMNS + 10)})
    write_spool_file(config, [events([
        track("m-good", revenue=1.5),
        track("m-nul", note="a\x00b"),
        track("m-year-one", timestamp="0001-01-01T00:00:00+14:00"),
        wide,
        {**track("m-blank"), "event": "   "},
    ])])
    report = load_spool(config)
    assert report.loaded == 1 and report.quarantined == 4
    reasons = {row["message_id"]: row["reason"] for row in quarantined(warehouse)}
    assert "NUL" in reasons["m-nul"] and "note" in reasons["m-nul"]
    assert "timestamp" in reasons["m-year-one"]
    assert f"{MAX_ROW_COLUMNS:,}" in reasons["m-wide"]
    assert "event" in reasons["m-blank"]
    assert all(reason.strip() for reason in reasons.values())
    assert len(columns(warehouse, "website", "order_completed")) < 50  # the wide message made no columns


def test_no_quarantine_row_has_an_empty_reason_even_from_an_old_spool(tmp_path, duckdb_warehouse):
    config = loader_config(duckdb_warehouse, tmp_path)
    write_spool_file(config, [{"source": "website", "kind": "quarantine", "received_at": "2024-05-01T12:00:00Z",
                               "items": [{"reason": "", "raw": {"a": 1}}, {"reason": "   ", "raw": {"b": 2}}]}])
    assert load_spool(config).quarantined == 2
    assert all(row["reason"].strip() for row in rows(duckdb_warehouse, "website", "_quarantine"))


@pytest.mark.parametrize("key", ["", "   "])
def test_a_blank_key_in_an_old_spool_loads_as_x(tmp_path, duckdb_warehouse, key):
    config = loader_config(duckdb_warehouse, tmp_path)
    write_spool_file(config, [events([track("m-1", **{key: "kept"})])])
    assert load_spool(config).loaded == 1
    assert rows(duckdb_warehouse, "website", "order_completed")[0]["x"] == "kept"


def test_a_nul_in_an_id_is_quarantined_and_never_fails_the_load(tmp_path, warehouse):
    config = loader_config(warehouse, tmp_path)
    webhook = {"source": "website", "kind": "webhook", "vendor": "stripe", "topic": "charge.succeeded",
               "webhook_id": "evt_\x00", "received_at": "2024-05-01T12:00:00Z", "raw": {"id": "evt_\x00"},
               "messages": []}
    write_spool_file(config, [events([track("m\x00nul"), track("m-fine")]), webhook])
    report = load_spool(config)  # PostgreSQL's COPY refuses a NUL anywhere; the load must not
    assert report.loaded == 1 and report.quarantined == 2
    kept = quarantined(warehouse)
    assert {row["message_id"] for row in kept} == {"m\\u0000nul", None}
    assert all("NUL" in row["reason"] for row in kept)
