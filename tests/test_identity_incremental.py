"""Identity components are recomputed only where edges changed, and agree with a full rebuild."""

from __future__ import annotations

import logging
import re

from tests.identity_world import at, build, config, load_raw, row

IDENTITIES = "SELECT profile_id, id_type, id_value, first_seen_at FROM cdp.profile_identities ORDER BY id_type, id_value"
REJECTIONS = ("SELECT id_type, id_value, other_id_type, other_id_value, reason FROM cdp.identity_rejections "
              "ORDER BY id_type, id_value, other_id_type, other_id_value, reason")


def recomputed(caplog) -> tuple[int, int]:
    """(identifiers recomputed, usable identifiers) from the resolver's log line of the last build."""
    lines = [r.getMessage() for r in caplog.records if r.name == "models.identity.resolve"]
    done, total = re.match(r"identity: (\d+) of (\d+) identifiers", lines[-1]).groups()
    return int(done), int(total)


def test_a_build_recomputes_only_the_components_new_edges_touch(warehouse, caplog):
    caplog.set_level(logging.INFO, logger="models.identity.resolve")
    load_raw(warehouse, "web", "identifies", [
        row(1, anonymous_id="dev-a", user_id="u-a", email="a@x.io"),
        row(2, anonymous_id="dev-b", user_id="u-b", email="b@x.io"),
        row(3, anonymous_id="dev-c", user_id="u-c")])
    build(warehouse, as_of=at(10))
    assert recomputed(caplog) == (8, 8)
    load_raw(warehouse, "web", "identifies", [row(20, anonymous_id="dev-a2", user_id="u-a")])
    build(warehouse, as_of=at(30))
    assert recomputed(caplog) == (4, 9)  # u-a's component (u-a, dev-a, a@x.io) and the new device
    build(warehouse, as_of=at(40))
    assert recomputed(caplog) == (0, 9)  # nothing new: nothing recomputed
    incremental = warehouse.query(IDENTITIES)
    assert {r["id_value"] for r in incremental if r["profile_id"] == incremental[0]["profile_id"]}
    build(warehouse, as_of=at(40), full_refresh=True)
    assert warehouse.query(IDENTITIES) == incremental


def test_guard_decisions_in_a_changed_component_match_a_full_rebuild(warehouse):
    """A second user id typing a household email: the guard's refusal is redone with the new edges."""
    load_raw(warehouse, "web", "identifies", [row(1, anonymous_id="dev-1", user_id="u-1", email="home@x.io"),
                                              row(2, anonymous_id="dev-9", user_id="u-9")])
    build(warehouse, as_of=at(10))
    load_raw(warehouse, "web", "identifies", [row(20, anonymous_id="dev-2", user_id="u-2", email="home@x.io")])
    build(warehouse, as_of=at(30))
    incremental, rejections = warehouse.query(IDENTITIES), warehouse.query(REJECTIONS)
    assert any(r["reason"] in ("limit_exceeded", "shared_identifier") for r in rejections)
    profiles = {r["id_value"]: r["profile_id"] for r in incremental}
    assert profiles["u-1"] != profiles["u-2"]
    build(warehouse, as_of=at(30), full_refresh=True)
    assert warehouse.query(IDENTITIES) == incremental
    assert warehouse.query(REJECTIONS) == rejections


def test_an_earlier_as_of_drops_edges_and_splits_the_component(warehouse):
    load_raw(warehouse, "web", "identifies", [row(1, anonymous_id="dev-1", user_id="u-1"),
                                              row(50, anonymous_id="dev-2", user_id="u-1")])
    build(warehouse, as_of=at(60))
    joined = {r["id_value"]: r["profile_id"] for r in warehouse.query(IDENTITIES)}
    assert joined["dev-1"] == joined["dev-2"]
    build(warehouse, as_of=at(10))  # the second row is in the future of this build: its identifiers go
    incremental = warehouse.query(IDENTITIES)
    assert "dev-2" not in {r["id_value"] for r in incremental}
    build(warehouse, as_of=at(10), full_refresh=True)
    assert warehouse.query(IDENTITIES) == incremental


def test_new_guard_settings_start_the_graph_over(warehouse, caplog):
    caplog.set_level(logging.INFO, logger="models.identity.resolve")
    load_raw(warehouse, "web", "identifies", [row(1, anonymous_id="dev-1", user_id="u-1"),
                                              row(2, anonymous_id="dev-1", user_id="u-2")])
    build(warehouse, as_of=at(10))
    apart = {r["id_value"]: r["profile_id"] for r in warehouse.query(IDENTITIES)}
    assert apart["u-1"] != apart["u-2"]  # user_id limit 1
    loose = config("web", identity={"id_types": {"user_id": {"limit": 2}}})
    build(warehouse, loose, as_of=at(10))
    assert recomputed(caplog)[0] == recomputed(caplog)[1]
    together = {r["id_value"]: r["profile_id"] for r in warehouse.query(IDENTITIES)}
    assert together["u-1"] == together["u-2"]
