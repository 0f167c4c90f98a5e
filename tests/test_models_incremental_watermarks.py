"""What an incremental build reads from raw tables, on both engines (models/incremental.py).

Insert-only Segment tables are read once per load (`uuid_ts`); tables dlt merges are re-read
and replace their earlier rows. To see whether a build read a row again, a test changes a
row of an insert-only table in place (the loader never does): an incremental build must not
notice, a --full-refresh build must.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from headwater.config import parse_config
from tests.identity_world import build, load_raw, profile_of, row

NOW = datetime.now(timezone.utc)


def load(warehouse, rows: list[dict], loaded_at: datetime, table: str = "tracks") -> None:
    load_raw(warehouse, "web", table, [{**r, "uuid_ts": loaded_at} for r in rows])


def identifier_rows(warehouse, where: str = "TRUE") -> list[dict]:
    return warehouse.query(f"SELECT row_id, user_id, anonymous_id, email FROM cdp_staging.identifier_rows "
                           f"WHERE {where} ORDER BY row_id")


def test_build_reads_only_rows_of_loads_it_has_not_seen(warehouse):
    first = row(0, anonymous_id="a-1", user_id="u-1")
    load(warehouse, [first], NOW - timedelta(hours=2))
    build(warehouse)
    warehouse.query("UPDATE web.tracks SET user_id = 'u-edited' WHERE id = %s", [first["id"]])
    second = row(5, anonymous_id="a-2", user_id="u-2")
    load(warehouse, [second], NOW - timedelta(hours=1))

    build(warehouse)
    assert [(r["row_id"], r["user_id"]) for r in identifier_rows(warehouse)] == \
        sorted([(first["id"], "u-1"), (second["id"], "u-2")])
    assert profile_of(warehouse, "user_id", "u-2") is not None

    build(warehouse, full_refresh=True)
    assert {r["user_id"] for r in identifier_rows(warehouse)} == {"u-edited", "u-2"}


def test_a_load_that_commits_after_a_later_load_is_still_read(warehouse):
    later = row(0, anonymous_id="a-late", user_id="u-late")
    load(warehouse, [later], NOW - timedelta(minutes=5))
    build(warehouse)
    earlier = row(1, anonymous_id="a-early", user_id="u-early")  # its loader started first, committed last
    load(warehouse, [earlier], NOW - timedelta(minutes=30))

    build(warehouse)
    assert {r["user_id"] for r in identifier_rows(warehouse)} == {"u-late", "u-early"}
    assert profile_of(warehouse, "anonymous_id", "a-early") == profile_of(warehouse, "user_id", "u-early")


def test_a_changed_row_of_a_merged_table_replaces_its_earlier_observation(warehouse):
    cfg = parse_config({"sources": [{"name": "web", "type": "events", "write_key": "k"},
                                    {"name": "shop", "type": "shopify"}]})
    load_raw(warehouse, "shop", "customers", [{"id": 7, "email": "old@example.org", "created_at": NOW}])
    build(warehouse, cfg)
    warehouse.query("UPDATE shop.customers SET email = 'new@example.org' WHERE id = 7")  # dlt's merge on id

    build(warehouse, cfg)
    assert [r["email"] for r in identifier_rows(warehouse, "source = 'shop'")] == ["new@example.org"]
    assert profile_of(warehouse, "email", "new@example.org") == profile_of(warehouse, "shopify_customer_id", "7")
    assert profile_of(warehouse, "email", "old@example.org") is None


def test_loads_older_than_a_day_fold_into_one_watermark_row(warehouse):
    for days in (4, 3, 2):
        load(warehouse, [row(days, anonymous_id=f"a-{days}", user_id=f"u-{days}")], NOW - timedelta(days=days))
    load(warehouse, [row(9, anonymous_id="a-new", user_id="u-new")], NOW - timedelta(hours=1))
    build(warehouse)
    kept = warehouse.query("SELECT loaded_at, is_floor FROM cdp_staging.raw_watermarks WHERE model = %s "
                           "AND source = 'web' AND source_table = 'tracks' ORDER BY loaded_at",
                           ["cdp_staging.identifier_rows"])
    assert [r["is_floor"] for r in kept] == [True, False]
    assert NOW - timedelta(days=1) <= kept[0]["loaded_at"] < NOW - timedelta(hours=1) == kept[1]["loaded_at"]

    load(warehouse, [row(10, anonymous_id="a-next", user_id="u-next")], NOW)
    build(warehouse)
    assert len(identifier_rows(warehouse)) == 5
