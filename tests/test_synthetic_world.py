"""The generated world: deterministic, within the Tracking API's limits, Segment-valid,
and shaped in time so windowed audiences and conversion windows have members."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from sources.collect.messages import validate
from sources.synthetic import generate_world, iter_events, iter_vendor_records, read_manifest
from sources.synthetic.files import MAX_BATCH_MESSAGES, batch_files, read_batch, read_bytes
from sources.synthetic.truth import iter_truth

END = datetime(2026, 11, 1, tzinfo=UTC)


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world")
    generate_world(out, 300, seed=11, end=END)
    return out


def test_same_seed_writes_byte_identical_world(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    generate_world(first, 120, seed=5, end=END, compress=True)
    generate_world(second, 120, seed=5, end=END, compress=True)
    digest = _tree_digest(first)
    assert len(digest) > 20
    assert digest == _tree_digest(second)


def test_different_seed_writes_a_different_world(tmp_path):
    generate_world(tmp_path / "a", 120, seed=5, end=END)
    generate_world(tmp_path / "b", 120, seed=6, end=END)
    a, b = _tree_digest(tmp_path / "a"), _tree_digest(tmp_path / "b")
    changed = [name for name in a if name.startswith(("events", "vendors/shopify/orders", "truth")) and a[name] != b.get(name)]
    assert "truth/identifiers.jsonl.gz" in changed and any(name.startswith("events/") for name in changed)


def test_gzipped_world_reads_the_same_as_plain(tmp_path):
    generate_world(tmp_path / "plain", 60, seed=2, end=END)
    generate_world(tmp_path / "gz", 60, seed=2, end=END, compress=True)
    assert all(p.name.endswith(".gz") for p in (tmp_path / "gz" / "events").rglob("batch-*"))
    for source in ("website", "app"):
        assert list(iter_events(tmp_path / "plain", source)) == list(iter_events(tmp_path / "gz", source))


def test_batches_respect_tracking_api_limits(world):
    for source in ("website", "app"):
        files = batch_files(world, source)
        assert files
        for path in files:
            body = read_bytes(path)
            messages = orjson.loads(body)["batch"]
            assert len(body) <= 500 * 1024
            assert 0 < len(messages) <= MAX_BATCH_MESSAGES
            assert max(len(orjson.dumps(m)) for m in messages) <= 32 * 1024


def test_every_message_passes_the_collect_endpoints_validation(world):
    types = Counter()
    for source in ("website", "app"):
        for message in iter_events(world, source):
            validate(dict(message))
            types[(source, message["type"])] += 1
    for expected in [("website", "page"), ("website", "identify"), ("website", "alias"), ("website", "track"),
                     ("app", "screen"), ("app", "track")]:
        assert types[expected] > 0, expected
    assert ("app", "page") not in types and ("website", "screen") not in types


def test_manifest_counts_match_the_files(world):
    manifest = read_manifest(world)
    for source in ("website", "app"):
        messages = [m for path in batch_files(world, source) for m in read_batch(path)]
        assert len(messages) == manifest.counts["messages_written"][source]
        assert len({m["messageId"] for m in messages}) == manifest.counts["events"][source]
    assert set(manifest.write_keys) == {"website", "app"}


def test_ecommerce_events_carry_the_spec_fields_and_shopify_order_ids(world):
    orders = [m for m in iter_events(world, "website") if m.get("event") == "Order Completed"]
    assert orders
    shop_ids = {o["legacyResourceId"] for o in iter_vendor_records(world, "shopify", "orders")}
    for message in orders:
        props = message["properties"]
        assert {"order_id", "revenue", "currency", "products"} <= set(props)
        assert props["products"] and all("product_id" in p and "price" in p for p in props["products"])
    shop_orders = [o for o in orders if not o["properties"]["order_id"].startswith("cs_")]
    assert shop_orders and all(o["properties"]["order_id"] in shop_ids for o in shop_orders)


def test_landing_pages_carry_click_ids_and_campaigns(world):
    pages = [m for m in iter_events(world, "website") if m["type"] == "page"]
    with_campaign = [p for p in pages if "campaign" in p["context"]]
    assert with_campaign
    clicks = Counter(key for p in with_campaign for key in ("gclid", "fbclid", "ttclid") if f"{key}=" in p["context"]["page"]["search"])
    assert set(clicks) == {"gclid", "fbclid", "ttclid"}
    assert all(p["context"]["campaign"]["source"] in p["context"]["page"]["url"] for p in with_campaign)


def test_events_consent_rides_in_context_and_identify_traits(world):
    identifies = [m for m in iter_events(world, "website") if m["type"] == "identify"]
    assert identifies
    for message in identifies:
        preferences = message["context"]["consent"]["categoryPreferences"]
        assert set(preferences) == {"analytics", "advertising", "email", "sms"}
        assert message["traits"]["consent"] == preferences


def test_world_is_denser_recently_so_short_windows_have_members(world):
    times = [datetime.fromisoformat(r["true_time"]) for r in iter_truth(world, "records") if r["kind"] == "event"]
    start = END - timedelta(days=round(6 * 30.44))
    assert min(times) >= start and max(times) <= END
    last_72h = sum(t > END - timedelta(hours=72) for t in times)
    last_7d = sum(t > END - timedelta(days=7) for t in times)
    assert last_72h > 0
    # a uniform spread would put 7/183 of events in the last week; recency makes it clearly more
    assert last_7d / len(times) > 1.5 * 7 / 183


def test_generate_refuses_a_folder_holding_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        generate_world(tmp_path, 10, seed=1, end=END)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_shipped_sample_is_what_its_recorded_command_generates(tmp_path):
    """data/sample must track the generator: regenerate it and compare byte for byte."""
    sample = Path(__file__).resolve().parent.parent / "data" / "sample"
    manifest = read_manifest(sample)
    generate_world(tmp_path, manifest.people, seed=manifest.seed, end=manifest.end, months=manifest.months,
                   rates=manifest.rates, compress=True)
    shipped = {k: v for k, v in _tree_digest(sample).items() if k != "README.md"}
    assert shipped == _tree_digest(tmp_path)
