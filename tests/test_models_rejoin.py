"""Rows joined to their person are redone only where they changed, and end as a full rebuild would.

A device browses anonymously (events, page views, a consent signal, an identify trait); a known
user exists on another device. A later load identifies the first device as that user: the two
profiles merge, and the device's earlier rows must move to the surviving profile in the
incremental build (which redoes only changed rows, models/rejoin.py) exactly as a --full-refresh
build puts them. On DuckDB and on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import models.rejoin
import models.row_owners
from headwater.config import parse_config
from headwater.warehouse import Warehouse
from models.build import BuildContext, build_models
from tests.identity_world import config, load_raw, profile_of, row
from tests.test_models_incremental import table_rows

NOW = datetime.now(timezone.utc)
JOINED = ("cdp.events", "cdp_staging.consent_observations", "cdp_staging.trait_observations",
          "cdp_staging.profile_page_views")


def load(warehouse: Warehouse, table: str, rows: list[dict], loaded_at: datetime) -> None:
    load_raw(warehouse, "web", table, [{**r, "uuid_ts": loaded_at, "received_at": r["timestamp"]} for r in rows])


def build(warehouse: Warehouse, as_of: datetime, **options) -> None:
    build_models(BuildContext(warehouse, config("web"), as_of, **options))


def state(warehouse: Warehouse) -> dict[str, list[tuple]]:
    return {table: table_rows(warehouse, table) for table in JOINED}


@pytest.fixture
def redone(monkeypatch) -> list[str]:
    """The targets models.rejoin brought up to date row by row (not rebuilt whole), however
    many of their few rows changed."""
    targets: list[str] = []
    original = models.rejoin._redo_changed_rows

    def spy(engine, context, join, *args):
        done = original(engine, context, join, *args)
        if done:
            targets.append(join.target.replace('"', ""))
        return done

    monkeypatch.setattr(models.rejoin, "WHOLE_SHARE", float("inf"))

    monkeypatch.setattr(models.rejoin, "_redo_changed_rows", spy)
    return targets


def test_a_merge_moves_earlier_rows_to_the_surviving_profile_as_a_full_rebuild_does(warehouse, redone):
    known = row(0, anonymous_id="dev-known", user_id="u-1", email="one@example.org")
    load(warehouse, "identifies", [known], NOW - timedelta(hours=5))
    device = [row(10, anonymous_id="dev-anon", event="product_viewed", event_text="Product Viewed"),
              row(11, anonymous_id="dev-anon", event="cart_viewed", event_text="Cart Viewed",
                  context_consent_category_preferences_email="true")]
    pages = [row(12, anonymous_id="dev-anon", context_page_url="https://shop.example/?gclid=g-1")]
    load(warehouse, "tracks", device, NOW - timedelta(hours=4))
    load(warehouse, "pages", pages, NOW - timedelta(hours=4))
    load(warehouse, "identifies", [row(13, anonymous_id="dev-anon", plan="trial")], NOW - timedelta(hours=4))
    build(warehouse, NOW - timedelta(hours=3))
    anonymous = profile_of(warehouse, "anonymous_id", "dev-anon")
    assert anonymous is not None and anonymous != profile_of(warehouse, "user_id", "u-1")

    load(warehouse, "identifies", [row(100, anonymous_id="dev-anon", user_id="u-1")], NOW - timedelta(hours=2))
    load(warehouse, "tracks", [row(101, anonymous_id="dev-known", event="order_completed",
                                   event_text="Order Completed")], NOW - timedelta(hours=2))
    redone.clear()
    build(warehouse, NOW)
    assert sorted(redone) == sorted(JOINED), "the second build should redo changed rows only"
    survivor = profile_of(warehouse, "user_id", "u-1")
    assert profile_of(warehouse, "anonymous_id", "dev-anon") == survivor
    incremental = state(warehouse)
    earlier = {r["event_id"]: r["profile_id"] for r in warehouse.query("SELECT event_id, profile_id FROM cdp.events")}
    assert {earlier[r["id"]] for r in device + pages} == {survivor}
    consent = warehouse.query("SELECT profile_id FROM cdp_staging.consent_observations WHERE row_id = %s",
                              [device[1]["id"]])
    assert [r["profile_id"] for r in consent] == [survivor]
    views = warehouse.query("SELECT profile_id FROM cdp_staging.profile_page_views")
    assert [r["profile_id"] for r in views] == [survivor]

    build(warehouse, NOW, full_refresh=True)
    rebuilt = state(warehouse)
    for table in JOINED:
        assert incremental[table], f"{table} is empty"
        assert incremental[table] == rebuilt[table], f"{table} differs after --full-refresh"


def test_rows_crossing_as_of_and_a_first_build_state_lost_match_a_full_rebuild(warehouse, redone):
    later = row(60 * 24 * 400, anonymous_id="dev-late", user_id="u-late", event="signed_up", event_text="Signed Up")
    load(warehouse, "tracks", [row(5, anonymous_id="dev-late", user_id="u-late", event="visited",
                                   event_text="Visited"), later], NOW - timedelta(hours=3))
    first_as_of = later["timestamp"] - timedelta(days=1)
    build(warehouse, first_as_of)
    assert [r["event"] for r in warehouse.query("SELECT event FROM cdp.events")] == ["Visited"]

    redone.clear()
    build(warehouse, later["timestamp"])
    assert "cdp.events" in redone
    assert sorted(r["event"] for r in warehouse.query("SELECT event FROM cdp.events")) == ["Signed Up", "Visited"]
    incremental = table_rows(warehouse, "cdp.events")

    warehouse.query("DROP TABLE cdp_staging.rejoin_state")  # lost state: the next build rebuilds whole
    redone.clear()
    build(warehouse, later["timestamp"])
    assert "cdp.events" not in redone
    assert table_rows(warehouse, "cdp.events") == incremental
    build(warehouse, later["timestamp"], full_refresh=True)
    assert table_rows(warehouse, "cdp.events") == incremental


def test_a_re_read_vendor_row_that_no_longer_signals_loses_its_observation(warehouse, redone):
    cfg = parse_config({"sources": [{"name": "web", "type": "events", "write_key": "k"},
                                    {"name": "shop", "type": "shopify"}]})
    load_raw(warehouse, "shop", "customers", [
        {"id": 7, "email": "seven@example.org", "email_marketing_state": "SUBSCRIBED", "updated_at": NOW},
        {"id": 8, "email": "eight@example.org", "email_marketing_state": "SUBSCRIBED", "updated_at": NOW}])
    load(warehouse, "identifies", [row(0, user_id="u-web", consent_email="true")], NOW - timedelta(hours=1))
    build_models(BuildContext(warehouse, cfg, NOW))
    assert len(warehouse.query("SELECT * FROM cdp_staging.consent_observations WHERE source = 'shop'")) == 2
    # dlt merges the changed customer: never asked, with no consent time, says nothing
    warehouse.query("UPDATE shop.customers SET email_marketing_state = 'NOT_SUBSCRIBED' WHERE id = 7")

    redone.clear()
    build_models(BuildContext(warehouse, cfg, NOW))
    assert "cdp_staging.consent_observations" in redone
    kept = table_rows(warehouse, "cdp_staging.consent_observations")
    assert sorted(r[2] for r in kept if r[0] == "shop") == ["8"] and len(kept) == 2
    build_models(BuildContext(warehouse, cfg, NOW, full_refresh=True))
    assert table_rows(warehouse, "cdp_staging.consent_observations") == kept


def test_row_owners_are_found_again_only_for_rows_that_changed(warehouse, monkeypatch):
    """cdp_staging.row_profiles is redone row by row: a deleted vendor row and a merge show in
    row_profile_changes, an untouched person's rows do not, and the table ends as a rebuild's."""
    cfg = parse_config({"sources": [{"name": "web", "type": "events", "write_key": "k"},
                                    {"name": "shop", "type": "shopify"}]})
    load_raw(warehouse, "shop", "customers", [{"id": 7, "email": "seven@example.org", "updated_at": NOW},
                                              {"id": 8, "email": "eight@example.org", "updated_at": NOW}])
    load(warehouse, "identifies", [row(0, user_id="u-1", email="one@example.org"),
                                   row(1, user_id="u-2", email="two@example.org")], NOW - timedelta(hours=3))
    load(warehouse, "tracks", [row(2, anonymous_id="dev-1", event="visited", event_text="Visited")],
         NOW - timedelta(hours=3))
    build_models(BuildContext(warehouse, cfg, NOW))
    device_row = warehouse.query("SELECT row_id FROM cdp_staging.row_profiles WHERE source_table = 'tracks'")

    warehouse.query("DELETE FROM shop.customers WHERE id = 8")  # gone at the vendor, merged away by dlt
    load(warehouse, "identifies", [row(3, anonymous_id="dev-1", user_id="u-1")], NOW - timedelta(hours=1))
    recomputed = []
    monkeypatch.setattr(models.row_owners, "_recompute", lambda *args: recomputed.append(args))
    build_models(BuildContext(warehouse, cfg, NOW))
    assert not recomputed, "the second build should find row owners again row by row"
    changes = {(r["source_table"], r["row_id"]) for r in warehouse.query(
        "SELECT source_table, row_id FROM cdp_staging.row_profile_changes")}
    new_identify = warehouse.query("SELECT id FROM web.identifies WHERE anonymous_id = 'dev-1'")[0]["id"]
    # the device's earlier row moved to u-1; the new identify row is new; customer 8 is gone
    assert changes == {("tracks", device_row[0]["row_id"]), ("identifies", new_identify), ("customers", "8")}
    incremental = table_rows(warehouse, "cdp_staging.row_profiles")
    assert not any(r[1] == "customers" and r[2] == "8" for r in incremental)
    monkeypatch.undo()
    build_models(BuildContext(warehouse, cfg, NOW, full_refresh=True))
    assert table_rows(warehouse, "cdp_staging.row_profiles") == incremental
