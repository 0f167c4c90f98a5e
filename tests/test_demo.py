"""`headwater demo` end to end, as CI runs it: a small generated world, every asset through
Dagster, a sync per destination type against its emulator; twice for idempotency; and on
PostgreSQL. Then `headwater status` on what the demo left."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from destinations.registry import DESTINATION_TYPES
from headwater.cli import cli
from headwater.warehouse import Warehouse

CURRENT_STATE = {
    "profiles": "SELECT profile_id FROM cdp.profiles",
    "identities": "SELECT profile_id, id_type, id_value FROM cdp.profile_identities",
    "audiences": "SELECT audience, profile_id FROM cdp.audience_members",
    "conversions": "SELECT conversion_id, profile_id, order_id FROM cdp.conversions",
    "tracks": "SELECT id FROM website.tracks",
    "orders": "SELECT id FROM shopify.orders",
}


@pytest.fixture
def small_world(tmp_path_factory):
    from sources.synthetic import generate_world

    world = tmp_path_factory.mktemp("world")
    generate_world(world, people=30, seed=3)
    return world


@pytest.fixture
def demo_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HEADWATER_CONFIG", raising=False)
    monkeypatch.delenv("HEADWATER_WAREHOUSE", raising=False)
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "ERROR")
    return tmp_path


def run_demo(*args: str):
    result = CliRunner().invoke(cli, ["demo", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def streamed(output: str, stream: str) -> int:
    """The `forwarded` figure of a stream in the demo's printout."""
    found = re.search(rf"{stream}\s+│\s+([\d,]+)", output)
    return int(found.group(1).replace(",", "")) if found else 0


def current_state(warehouse: Warehouse) -> dict[str, list]:
    return {name: sorted(tuple(row.values()) for row in warehouse.query(sql)) for name, sql in CURRENT_STATE.items()}


def test_demo_runs_everything_and_a_second_run_leaves_the_same_current_state(demo_folder, small_world):
    first = run_demo("--world", str(small_world))
    warehouse = Warehouse(f"duckdb:///{demo_folder / 'data' / 'warehouse.duckdb'}")
    for line in ("events collected", "people resolved", "audience sizes", "Sent to destinations"):
        assert line in first
    assert "failures" in first and "│ none" in first.split("failures", 1)[1].splitlines()[0]
    state = current_state(warehouse)
    assert state["profiles"] and state["audiences"] and state["conversions"] and state["orders"]
    runs = warehouse.query("SELECT destination_type, status FROM cdp.sync_runs")
    assert {r["destination_type"] for r in runs} == set(DESTINATION_TYPES)  # every destination type ran
    assert {r["status"] for r in runs} <= {"succeeded", "partial"}
    delivered = warehouse.query("SELECT sum(rows_succeeded) AS n FROM cdp.sync_runs")[0]["n"]
    assert delivered > 0

    # the replayed events went through the event streams, and the big-purchase workflow fired
    for stream in ("events_to_mixpanel", "tracks_to_amplitude", "signups_to_slack"):
        assert streamed(first, stream) > 0, first
    fired = re.search(r"workflows\s+│\s+([\d,]+) triggered\s+│\s+done (\d+)", first)
    assert fired and int(fired.group(1)) == int(fired.group(2)) > 0, first

    second = run_demo("--world", str(small_world))
    assert "0 new" in second  # every replayed message was a duplicate
    again = re.search(r"workflows\s+│\s+([\d,]+) triggered", second)
    assert again and again.group(1) == fired.group(1)  # the same orders: no second alert
    assert current_state(warehouse) == state
    assert len(warehouse.query("SELECT run_id FROM cdp.sync_runs")) == 2 * len(DESTINATION_TYPES)  # logs grow

    status = CliRunner().invoke(cli, ["status", "--config", "data/runtime/demo.yml"])
    assert status.exit_code == 0, status.output
    for source in ("website", "app", "shopify", "stripe", "mailchimp"):
        assert any(line.startswith(f"│ {source} ") and " ago)" in line for line in status.output.splitlines()), status.output
    assert "Spool backlog" in status.output and "never" not in status.output


@pytest.mark.postgres
def test_demo_runs_the_same_on_postgresql(demo_folder, small_world, postgres_warehouse):
    output = run_demo("--world", str(small_world), "--warehouse", postgres_warehouse.url)
    assert "│ none" in output.split("failures", 1)[1].splitlines()[0]
    state = current_state(postgres_warehouse)
    assert state["profiles"] and state["audiences"] and state["conversions"]
    assert {r["destination_type"] for r in postgres_warehouse.query("SELECT destination_type FROM cdp.sync_runs")} \
        == set(DESTINATION_TYPES)


def test_demo_with_a_bad_warehouse_url_says_so_in_one_line(demo_folder, small_world):
    result = CliRunner().invoke(cli, ["demo", "--world", str(small_world), "--warehouse", "mysql://x"])
    assert result.exit_code == 2
    assert result.output.strip() == ("error: --warehouse: must be a duckdb:///path/file.duckdb or "
                                     "postgresql://user@host:5432/db URL")


def test_status_before_any_load_says_what_to_run(demo_folder):
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 2
    assert result.output.strip() == ("error: no warehouse at data/warehouse.duckdb yet; "
                                     "run `headwater load` or `headwater demo` first")
