"""A deletion request end to end, on DuckDB and PostgreSQL: warehouse, spool, destinations, audit."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from destinations.delivery import VirtualTime
from destinations.normalize import hashed
from headwater.config import ConfigError, parse_config
from pipelines.privacy.regulations import retry, submit
from pipelines.spool_loader import load_spool
from sources.collect.spool import ARCHIVE, CLOSED, read_records
from tests.privacy_world import ANN, ANN_TRACES, BOB, events_for, make_world, populate, text_of_every_table

KEY = Fernet.generate_key().decode()


def spool_text(spool_dir: Path) -> str:
    return " ".join(str(record) for path in spool_dir.rglob("*.hws") for record in read_records(path)).lower()


def test_deleted_person_leaves_no_trace_in_warehouse_spool_or_audiences(warehouse, tmp_path):
    world = make_world(warehouse, tmp_path, encryption_key=KEY)
    with world.servers:
        ids = populate(world)
        assert world.meta.members["6001"] == {hashed("meta", "email", ANN["email"]), hashed("meta", "email", BOB["email"])}
        # Ann writes again before the deletion; that spool file is closed but not loaded yet
        assert world.post(events_for(ANN, "late") + events_for(BOB, "late")).status_code == 200
        assert list((world.spool_dir / CLOSED).glob("*.hws"))
        assert "u-ann-0001" in spool_text(world.spool_dir / ARCHIVE)

        report = submit(world.config, "suppress_with_delete", ["ann.lee@EXAMPLE.org"], requested_by="dpo")

        assert report.status == "succeeded", report.steps
        assert report.profile_ids == [ids["ann"]]
        load = load_spool(world.config)            # the unloaded file: Ann's messages dropped by tombstones
        assert load.tombstoned == 3 and load.loaded == 3

        texts = text_of_every_table(warehouse)
        leaks = {table: trace for table, text in texts.items() for trace in ANN_TRACES + (ids["ann"].lower(),)
                 if trace in text and not table.startswith("cdp.privacy")}
        assert leaks == {}
        assert "u-bob-0002" in texts["website.identifies"] and "ch_bob_0002" in texts["stripe.refunds"]
        assert "dlt-bob-ch-r" in texts["stripe.charges__refunds"] and "dlt-ann-ch-r" not in texts["stripe.charges__refunds"]
        assert not any(trace in spool_text(world.spool_dir) for trace in ANN_TRACES)
        assert "u-bob-0002" in spool_text(world.spool_dir / ARCHIVE)

        # every audience emulator received its removal and no longer holds her
        assert world.meta.members["6001"] == {hashed("meta", "email", BOB["email"])}
        assert world.tiktok.members["8001"] == {hashed("tiktok", "email", BOB["email"])}

        # replays of her old events are dropped at the door
        assert world.post(events_for(ANN, "replay")).status_code == 200
        assert load_spool(world.config).loaded == 0

    steps = {(r["step"], r["target"]): r for r in warehouse.query(
        "SELECT * FROM cdp.privacy_request_steps WHERE request_id = %s", [report.request_id])}
    assert {"website.identifies", "website.tracks", "website.order_completed", "website.pages", "stripe.customers",
            "stripe.charges", "stripe.charges__refunds", "stripe.refunds", "cdp.profiles",
            "cdp.profile_identities"} <= {target for step, target in steps if step == "delete"}
    assert steps[("destination", "meta/vip_meta")]["status"] == "succeeded"
    assert steps[("destination", "tiktok/vip_tiktok")]["status"] == "succeeded"
    assert {("suppress", "collect suppression file"), ("tombstone", "spool (unloaded files)"),
            ("delete", "spool archive"), ("compact", warehouse.dialect)} <= set(steps)
    assert all(r["status"] == "succeeded" for r in steps.values())
    request = warehouse.query("SELECT * FROM cdp.privacy_requests WHERE request_id = %s", [report.request_id])[0]
    assert request["status"] == "succeeded" and request["requested_by"] == "dpo"
    assert request["identifiers_encrypted"] is None, "only hashes remain once every step succeeded"
    assert request["rows_deleted"] > 10


def test_failed_destination_step_keeps_identifiers_encrypted_until_retry_succeeds(duckdb_warehouse, tmp_path):
    world = make_world(duckdb_warehouse, tmp_path, encryption_key=KEY)
    with world.servers:
        populate(world)
        world.meta.throttle(20, retry_after=30)
        report = submit(world.config, "suppress_with_delete", [ANN["user_id"]], timing=VirtualTime())
        assert report.status == "pending"
        request = duckdb_warehouse.query("SELECT * FROM cdp.privacy_requests")[0]
        sealed = request["identifiers_encrypted"]
        assert sealed and "ann" not in sealed.lower()
        assert "ann.lee" in Fernet(KEY.encode()).decrypt(sealed.encode()).decode().lower()
        assert hashed("meta", "email", ANN["email"]) in world.meta.members["6001"]

        world.meta.throttle(0)
        again = retry(world.config, report.request_id, timing=VirtualTime())

        assert again.status == "succeeded"
        assert world.meta.members["6001"] == {hashed("meta", "email", BOB["email"])}
    request = duckdb_warehouse.query("SELECT * FROM cdp.privacy_requests")[0]
    assert request["identifiers_encrypted"] is None and request["status"] == "succeeded"


def test_deletion_with_destinations_needs_the_encryption_key(duckdb_warehouse, tmp_path):
    world = make_world(duckdb_warehouse, tmp_path)
    with world.servers:
        populate(world)
        with pytest.raises(ConfigError, match="privacy.encryption_key is not set"):
            submit(world.config, "suppress_with_delete", [ANN["user_id"]])
    assert duckdb_warehouse.query("SELECT COUNT(*) AS n FROM website.identifies")[0]["n"] == 2, "nothing half-done"
