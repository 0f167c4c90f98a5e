"""Shifting a world's vendor records so a shipped world ends today."""

from __future__ import annotations

from datetime import datetime, timezone

from sources.synthetic import iter_vendor_records, read_manifest
from sources.synthetic.shift import DAY, shift_record, shifted_vendor_world, whole_day_shift

SAMPLE = "data/sample"


def test_iso_and_unix_timestamps_move_and_nothing_else_does():
    record = {"id": "ch_1", "created": 1_788_151_778, "amount": 1_500_000_000, "createdAt": "2026-06-21T20:59:31Z",
              "last_changed": "2026-06-21T20:59:31+00:00", "items": [{"current_period_end": 1_795_927_778}],
              "note": "2026-06-21", "legacyResourceId": "5900000000001"}
    shifted = shift_record(record, 3 * DAY)
    assert shifted["created"] == 1_788_151_778 + 3 * DAY
    assert shifted["items"][0]["current_period_end"] == 1_795_927_778 + 3 * DAY
    assert shifted["createdAt"] == "2026-06-24T20:59:31Z"
    assert shifted["last_changed"] == "2026-06-24T20:59:31+00:00"
    # an amount in cents that happens to look like a unix time, a plain date, an id: untouched
    assert shifted["amount"] == 1_500_000_000 and shifted["note"] == "2026-06-21"
    assert shifted["legacyResourceId"] == "5900000000001"


def test_shift_is_whole_days_and_brings_the_end_within_the_last_day():
    now = datetime(2026, 11, 22, 15, 30, tzinfo=timezone.utc)
    seconds = whole_day_shift("2026-11-01T00:00:00Z", now)
    assert seconds % DAY == 0 and seconds == 21 * DAY
    assert whole_day_shift("2026-11-01T00:00:00Z", datetime(2026, 11, 22, 23, 59, tzinfo=timezone.utc)) == seconds


def test_shifted_sample_serves_orders_up_to_today_and_is_stable_within_a_day(tmp_path):
    now = datetime.now(timezone.utc)
    out = shifted_vendor_world(SAMPLE, tmp_path / "shifted", now)
    latest = max(datetime.fromisoformat(o["createdAt"].replace("Z", "+00:00"))
                 for o in iter_vendor_records(out, "shopify", "orders"))
    original = max(datetime.fromisoformat(o["createdAt"].replace("Z", "+00:00"))
                   for o in iter_vendor_records(SAMPLE, "shopify", "orders"))
    expected = whole_day_shift(read_manifest(SAMPLE).end, now)
    assert expected > 0, "the shipped sample ends in the past"
    assert (latest - original).total_seconds() == expected and latest <= now
    first = (out / "vendors" / "stripe" / "charges.jsonl").read_bytes()
    shifted_vendor_world(SAMPLE, tmp_path / "shifted", now)
    assert (out / "vendors" / "stripe" / "charges.jsonl").read_bytes() == first
    assert read_manifest(out).write_keys == read_manifest(SAMPLE).write_keys
