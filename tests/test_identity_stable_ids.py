"""Profile ids survive builds; merges keep the older id and are logged; rebuilds agree."""

from __future__ import annotations

from tests.identity_world import at, build, load_raw, profile_of, row


def test_growing_profile_keeps_its_id(warehouse):
    load_raw(warehouse, "web", "identifies", [row(1, anonymous_id="dev-1", user_id="u-1")])
    build(warehouse, as_of=at(10))
    before = profile_of(warehouse, "user_id", "u-1")
    load_raw(warehouse, "web", "identifies", [row(20, anonymous_id="dev-2", user_id="u-1", email="a@b.io")])
    build(warehouse, as_of=at(30))
    assert profile_of(warehouse, "email", "a@b.io") == before
    assert profile_of(warehouse, "user_id", "u-1") == before


def test_merge_keeps_the_older_id_and_is_recorded(warehouse):
    load_raw(warehouse, "web", "tracks", [row(1, anonymous_id="dev-old"), row(5, anonymous_id="dev-new")])
    build(warehouse, as_of=at(10))
    old, new = profile_of(warehouse, "anonymous_id", "dev-old"), profile_of(warehouse, "anonymous_id", "dev-new")
    assert old != new
    load_raw(warehouse, "web", "identifies", [row(20, anonymous_id="dev-new", user_id="u-1"),
                                              row(21, anonymous_id="dev-old", user_id="u-1")])
    build(warehouse, as_of=at(30))
    assert profile_of(warehouse, "anonymous_id", "dev-new") == old
    assert profile_of(warehouse, "user_id", "u-1") == old
    merges = warehouse.query("SELECT merged_profile_id, surviving_profile_id, merged_at FROM cdp.profile_merges")
    assert [(m["merged_profile_id"], m["surviving_profile_id"], m["merged_at"]) for m in merges] == [(new, old, at(30))]
    build(warehouse, as_of=at(40))
    assert len(warehouse.query("SELECT * FROM cdp.profile_merges")) == 1


def test_full_refresh_gives_the_same_identities_as_incremental_builds(warehouse):
    load_raw(warehouse, "web", "identifies", [row(1, anonymous_id="dev-1", user_id="u-1"),
                                              row(2, anonymous_id="dev-2", email="x@y.io")])
    build(warehouse, as_of=at(10))
    load_raw(warehouse, "web", "identifies", [row(20, anonymous_id="dev-2", user_id="u-1"),
                                              row(21, anonymous_id="dev-3", user_id="u-3")])
    build(warehouse, as_of=at(30))
    query = "SELECT * FROM cdp.profile_identities ORDER BY id_type, id_value"
    incremental = warehouse.query(query)
    build(warehouse, as_of=at(30), full_refresh=True)
    assert warehouse.query(query) == incremental
    assert warehouse.query("SELECT * FROM cdp.profile_merges") == []
