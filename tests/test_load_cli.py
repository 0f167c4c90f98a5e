"""`headwater load` and `headwater quarantine list|replay` through the real CLI group."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from headwater.cli import cli
from headwater.config import load_config
from tests.load_helpers import RECEIVED, events, rows, track, write_spool_file

ENDPOINT_REASON = "message 0: userId: every message needs a userId or an anonymousId"


def _write_config(path: Path, warehouse, spool_dir: Path, sources: list[str]) -> Path:
    path.write_text(yaml.safe_dump({
        "warehouse": warehouse.url,
        "collect": {"spool_dir": str(spool_dir)},
        "sources": [{"name": name, "type": "events", "write_key": f"key-{name}"} for name in sources],
    }))
    return path


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_quarantine_list_and_replay_after_fixes(warehouse, tmp_path):
    config_file = _write_config(tmp_path / "headwater.yml", warehouse, tmp_path / "spool", ["website"])
    config = load_config(config_file)
    write_spool_file(config, [
        events([track("m1", revenue=10), track("m2", revenue="abc")]),
        {"source": "website", "kind": "quarantine", "received_at": RECEIVED,
         "items": [{"reason": ENDPOINT_REASON, "field": "userId", "index": 0,
                    "raw": {"type": "track", "event": "Signed Up", "messageId": "m-anon"}}]},
        events([track("m-mobile", event="App Opened")], source="mobile"),
    ])

    loaded = _run("load", "--config", str(config_file))
    assert loaded.exit_code == 0, loaded.output
    assert "1 new message(s)" in loaded.output and "3 quarantined" in loaded.output

    listed = _run("quarantine", "list", "--config", str(config_file))
    assert listed.exit_code == 0, listed.output
    flat = " ".join(listed.output.split())
    assert "order_completed.revenue is double" in flat
    assert "every message needs a userId" in flat
    assert "'mobile' is not in the configuration" in flat

    # the fixes: the analyst makes revenue text; the operator configures the mobile source
    warehouse.query("ALTER TABLE website.order_completed ALTER COLUMN revenue TYPE VARCHAR")
    _write_config(config_file, warehouse, tmp_path / "spool", ["website", "mobile"])

    replayed = _run("quarantine", "replay", "--config", str(config_file))
    assert replayed.exit_code == 0, replayed.output
    assert "re-spooled 2 message(s)" in replayed.output
    assert "still failing" in replayed.output and "userId: every message needs" in replayed.output

    reloaded = _run("load", "--config", str(config_file))
    assert reloaded.exit_code == 0, reloaded.output
    revenue = {row["id"]: row["revenue"] for row in rows(warehouse, "website", "order_completed")}
    assert revenue["m2"] == "abc" and float(revenue["m1"]) == 10  # the engine's own cast of the old value
    assert [row["id"] for row in rows(warehouse, "mobile", "app_opened")] == ["m-mobile"]
    left = rows(warehouse, "website", "_quarantine") + rows(warehouse, "headwater", "_quarantine")
    assert [row["message_id"] for row in left] == ["m-anon"]


def test_replay_of_a_still_conflicting_message_keeps_it_quarantined(duckdb_warehouse, tmp_path):
    config_file = _write_config(tmp_path / "headwater.yml", duckdb_warehouse, tmp_path / "spool", ["website"])
    write_spool_file(load_config(config_file), [events([track("m1", revenue=10), track("m2", revenue="abc")])])
    _run("load", "--config", str(config_file))

    replayed = _run("quarantine", "replay", "--config", str(config_file), "--id", "m2")

    assert "still failing" in replayed.output and "order_completed.revenue is double" in replayed.output
    assert [row["message_id"] for row in rows(duckdb_warehouse, "website", "_quarantine")] == ["m2"]
    assert not list((tmp_path / "spool" / "closed").glob("*.hws"))


def test_unknown_source_option_is_one_error_line(duckdb_warehouse, tmp_path):
    config_file = _write_config(tmp_path / "headwater.yml", duckdb_warehouse, tmp_path / "spool", ["website"])

    result = _run("quarantine", "list", "--config", str(config_file), "--source", "nosuch")

    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --source 'nosuch' is not a configured source; choose one of website, headwater"]


def test_load_with_an_empty_spool_says_so(duckdb_warehouse, tmp_path):
    config_file = _write_config(tmp_path / "headwater.yml", duckdb_warehouse, tmp_path / "spool", ["website"])

    result = _run("load", "--config", str(config_file))

    assert result.exit_code == 0 and "nothing to load" in result.output
