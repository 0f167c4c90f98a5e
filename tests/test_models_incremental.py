"""Incremental builds reach the same current state as a full rebuild, on the synthetic world.

The world arrives in three steps, like production: events up to a first cut-off with the
vendors as they stood then; more events (and some from after the next build's as_of, which
that build must ignore but not lose) with the vendors a month later, some list members
now unsubscribed (dlt merges the changed rows); then the rest. After an incremental build at each
step, a --full-refresh build as of the same instant must leave every current-state table
row for row as the incremental builds left it. On DuckDB and on PostgreSQL.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest

import models.by_profile
import models.rejoin
import models.row_owners
from headwater.warehouse import Warehouse
from models.build import BuildContext, build_models
from models.catalog import catalog
from pipelines.spool_loader import load_spool
from sources.emulators import Emulators
from sources.synthetic.world import generate_world
from tests.incremental_world import parse_time, pull_vendors, spool_events, vendor_world_as_of, world_config

CURRENT_STATE = ("cdp.profile_identities", "cdp.profiles", "cdp.profile_traits", "cdp.audience_members",
                 "cdp.conversions", "cdp.attribution", "cdp.events",
                 # rows joined to their person, redone only where they changed (models/rejoin.py)
                 "cdp_staging.consent_observations", "cdp_staging.trait_observations",
                 "cdp_staging.profile_page_views",
                 # per-person tables, redone only for the people whose rows changed (models/by_profile.py)
                 "cdp.consent_history", "cdp_staging.latest_traits", "cdp_staging.profile_core")


def table_rows(warehouse: Warehouse, table: str) -> list[tuple]:
    """Every row, floats rounded (sums may add up in another order), sorted."""
    def cell(value):
        return round(value, 9) if isinstance(value, float) and math.isfinite(value) else value

    rows = [tuple(cell(v) for v in row.values()) for row in warehouse.query(f"SELECT * FROM {table}")]
    return sorted(rows, key=lambda row: tuple((value is None, str(value)) for value in row))


def current_state(warehouse: Warehouse) -> dict[str, list[tuple]]:
    return {table: table_rows(warehouse, table) for table in CURRENT_STATE}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("world")
    generate_world(folder, people=150, seed=11, end="2026-11-01")
    return folder


def build_in_steps(warehouse: Warehouse, world: Path, folder: Path) -> tuple:
    """Load and build incrementally in three steps; returns (config, final as_of, counts of the last build)."""
    end = parse_time("2026-11-01T00:00:00Z")
    first, second, final = end - timedelta(days=75), end - timedelta(days=30), end + timedelta(days=1)
    emulators = Emulators(None)
    config = world_config(folder, world, warehouse.url, emulators)

    spool_events(world, config, until=first)
    load_spool(config)
    pull_vendors(config, vendor_world_as_of(world, folder / "vendors_first", first))
    build_models(BuildContext(warehouse, config, first))

    # events up to the second cut-off, and every other later one: loaded now, built later
    spool_events(world, config, after=first, until=second)
    spool_events(world, config, after=second, every=2)
    load_spool(config)
    pull_vendors(config, vendor_world_as_of(world, folder / "vendors_second", second))
    build_models(BuildContext(warehouse, config, second))

    spool_events(world, config, after=second)  # the rest; the copies loaded before are dropped on id
    load_spool(config)
    pull_vendors(config, world)
    return config, final, build_models(BuildContext(warehouse, config, final))


@pytest.fixture(params=["cheapest", "row_by_row"])
def redo_mode(request, monkeypatch) -> str:
    """cheapest: as shipped (a table with many changed rows or people is rebuilt whole);
    row_by_row: never rebuilt whole for that reason, so the rows and people redone in each
    build are the only way each table is kept (the small world changes most people per step)."""
    if request.param == "row_by_row":
        monkeypatch.setattr(models.rejoin, "WHOLE_SHARE", float("inf"))
        monkeypatch.setattr(models.by_profile, "WHOLE_SHARE", float("inf"))
    return request.param


def test_incremental_builds_match_a_full_rebuild_as_of_the_same_time(warehouse, world, tmp_path, redo_mode):
    redone: list[str] = []

    def spy_on(module, name: str):
        original = getattr(module, name)

        def spy(engine, model, *args):
            done = original(engine, model, *args)
            redone.extend([model.key] if done else [])
            return done
        return spy

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(models.by_profile, "_redo", spy_on(models.by_profile, "_redo"))
        patch.setattr(models.row_owners, "_redo_changed_rows", spy_on(models.row_owners, "_redo_changed_rows"))
        config, final, counts = build_in_steps(warehouse, world, tmp_path)
    # the second and third builds found each raw row's person again only for the rows that changed
    assert redone.count("cdp_staging.row_profiles") == 2
    if redo_mode == "row_by_row":  # and redid each per-person table by person
        assert sorted(k for k in redone if k != "cdp_staging.row_profiles") == sorted(
            2 * [m.key for m in catalog() if m.by_profile is not None])
    incremental = current_state(warehouse)
    changed = warehouse.query(
        "SELECT COUNT(*) AS n FROM cdp.consent_history WHERE source = 'mailchimp' AND NOT granted "
        "AND changed_at > %s", [final - timedelta(days=76)])
    assert changed[0]["n"] > 0, "members who unsubscribed after the first pull should withdraw consent"
    assert counts["cdp.events"] > 1000 and counts["cdp.conversions"] > 10

    build_models(BuildContext(warehouse, config, final, full_refresh=True))
    rebuilt = current_state(warehouse)
    for table in CURRENT_STATE:
        assert incremental[table], f"{table} is empty"
        assert incremental[table] == rebuilt[table], f"{table} differs after --full-refresh"
