"""A deleted person's bytes leave the DuckDB file itself, not only its tables."""

from __future__ import annotations

import shutil

import duckdb

from headwater.config import parse_config
from pipelines.privacy.regulations import submit
from pipelines.spool_loader import load_spool
from tests.privacy_world import BOB, events_for, make_world

PROBE = {"user_id": "u-quokka-7731", "anonymous_id": "anon-quokka-7731",
         "email": "zanzibar.quokka.7731@deletion-probe.example"}
NEEDLE = PROBE["email"].encode()


def test_deleted_email_is_gone_from_the_duckdb_file_bytes(duckdb_warehouse, tmp_path):
    world = make_world(duckdb_warehouse, tmp_path)
    world.raw["destinations"], world.raw["syncs"] = [], []
    world.config = parse_config(world.raw)
    with world.servers:
        assert world.post(events_for(PROBE, "probe") + events_for(BOB, "bystander")).status_code == 200
        load_spool(world.config)
    path = duckdb_warehouse.duckdb_path
    with duckdb.connect(str(path)) as connection:
        connection.execute("FORCE CHECKPOINT")
    assert NEEDLE in path.read_bytes(), "the probe must be on disk before the deletion, or this test proves nothing"

    # why a plain CHECKPOINT is not enough: the freed blocks keep their bytes
    baseline = tmp_path / "checkpoint_only.duckdb"
    shutil.copy(path, baseline)
    with duckdb.connect(str(baseline)) as connection:
        for schema, table in connection.execute(
                "SELECT table_schema, table_name FROM information_schema.columns "
                "WHERE column_name = 'email' AND table_schema = 'website'").fetchall():
            connection.execute(f'DELETE FROM "{schema}"."{table}" WHERE email = ?', [PROBE["email"]])
        connection.execute("FORCE CHECKPOINT")

    report = submit(world.config, "suppress_with_delete", [PROBE["email"]])

    assert report.status == "succeeded", report.steps
    assert NEEDLE not in path.read_bytes()
    assert NEEDLE in baseline.read_bytes()
    assert duckdb_warehouse.query("SELECT COUNT(*) AS n FROM website.identifies WHERE user_id = %s",
                                  [BOB["user_id"]])[0]["n"] == 1, "the bystander survives the rewrite"
    compaction = duckdb_warehouse.query("SELECT status, detail FROM cdp.privacy_request_steps WHERE step = 'compact'")
    assert compaction[0]["status"] == "succeeded" and "COPY FROM DATABASE" in compaction[0]["detail"]
