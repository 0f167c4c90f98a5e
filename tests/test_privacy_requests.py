"""Regulations over HTTP (auth, inbox), suppress/unsuppress, access export, consent, CLI errors."""

from __future__ import annotations

import json

import httpx
from click.testing import CliRunner

from headwater.cli import cli
from headwater.loopback import LoopbackServer
from headwater.suppression import SuppressionList, email_hash, identifier_hash
from pipelines.privacy.export import export_person
from pipelines.privacy.regulations import PrivacyError, process_inbox, submit
from pipelines.spool_loader import load_spool
from sources.collect.app import create_app
from sources.collect.spool import read_records
from tests.privacy_world import ADMIN_TOKEN, ANN, BOB, events_for, make_world, populate


def _spooled(world) -> list[dict]:
    return [r for path in world.spool_dir.rglob("*.hws") for r in read_records(path)]


def test_regulation_endpoint_needs_the_admin_token_and_stores_nothing_without_it(duckdb_warehouse, tmp_path):
    world = make_world(duckdb_warehouse, tmp_path)
    body = {"regulationType": "suppress", "users": [{"email": ANN["email"]}], "requestedBy": "dpo@example.com"}
    with world.servers, LoopbackServer(create_app(world.config)) as server:
        url = f"{server.url}/v1/regulations"
        missing = httpx.post(url, json=body)
        wrong = httpx.post(url, json=body, headers={"Authorization": "Bearer not-the-token"})
        write_key = httpx.post(url, json=body, auth=("wk-privacy-website", ""))
        invalid = httpx.post(url, json={"regulationType": "forget", "users": [{"email": "x@y.z"}]},
                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert _spooled(world) == []
        accepted = httpx.post(url, json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert [r.status_code for r in (missing, wrong, write_key, invalid)] == [401, 401, 401, 400]
    assert invalid.json()["field"] == "regulationType"
    assert ADMIN_TOKEN not in wrong.text
    assert accepted.status_code == 202
    records = _spooled(world)
    assert [r["kind"] for r in records] == ["regulation"]
    assert records[0]["request_id"] == accepted.json()["requestId"]


def test_http_regulation_reaches_the_privacy_step_through_the_loader_inbox(warehouse, tmp_path):
    world = make_world(warehouse, tmp_path)
    with world.servers:
        populate(world)
        with LoopbackServer(create_app(world.config)) as server:
            answer = httpx.post(f"{server.url}/v1/regulations", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                json={"regulationType": "suppress", "users": [{"userId": ANN["user_id"]}]})
        load = load_spool(world.config)
        assert load.regulations == 1
        reports = process_inbox(world.config)
    assert [r.request_id for r in reports] == [answer.json()["requestId"]]
    assert warehouse.query("SELECT COUNT(*) AS n FROM headwater.privacy_inbox")[0]["n"] == 0
    suppressed = SuppressionList(world.config.privacy.suppression_file)
    # the request named only the userId; the graph adds her email, device and phone variants
    assert suppressed.suppresses({"anonymousId": ANN["anonymous_id"]})
    assert suppressed.suppresses({"traits": {"email": "ANN.LEE@example.org"}})
    assert suppressed.suppresses({"traits": {"phone": ANN["phone"]}})
    assert not suppressed.suppresses({"userId": BOB["user_id"]})


def test_suppress_drops_events_at_collect_and_unsuppress_lets_them_back(duckdb_warehouse, tmp_path):
    world = make_world(duckdb_warehouse, tmp_path)
    with world.servers:
        populate(world)
        submit(world.config, "suppress", [ANN["anonymous_id"]])
        world.post(events_for(ANN, "while-suppressed") + events_for(BOB, "x"))
        assert load_spool(world.config).loaded == 3          # only Bob's
        assert duckdb_warehouse.query("SELECT COUNT(*) AS n FROM website.identifies")[0]["n"] == 3, \
            "suppression keeps what was held; only deletion removes it"

        report = submit(world.config, "unsuppress", [ANN["email"]])
        world.post(events_for(ANN, "after"))
        assert load_spool(world.config).loaded == 3
    assert report.status == "succeeded"
    hashes = duckdb_warehouse.query("SELECT regulation, active FROM cdp.privacy_suppressions")
    assert hashes and all(not row["active"] for row in hashes)


def test_deleted_person_cannot_be_unsuppressed(duckdb_warehouse, tmp_path):
    world = make_world(duckdb_warehouse, tmp_path)
    world.raw["destinations"], world.raw["syncs"] = [], []
    from headwater.config import parse_config
    world.config = parse_config(world.raw)
    with world.servers:
        world.post(events_for(ANN, "a"))
        load_spool(world.config)
        submit(world.config, "suppress_with_delete", [ANN["user_id"]])
        try:
            submit(world.config, "unsuppress", [ANN["user_id"]])
        except PrivacyError as error:
            assert "deleted" in str(error)
        else:
            raise AssertionError("unsuppress of a deleted person must be refused")
    assert SuppressionList(world.config.privacy.suppression_file).suppresses({"userId": ANN["user_id"]})


def test_export_holds_profile_identities_events_audiences_and_what_was_sent(warehouse, tmp_path):
    world = make_world(warehouse, tmp_path)
    with world.servers:
        ids = populate(world)
        document = export_person(world.config, [ANN["stripe"]])
    assert document["profile_ids"] == [ids["ann"]]
    assert {(i["id_type"], i["id_value"]) for i in document["identities"]} >= {
        ("user_id", ANN["user_id"]), ("email", "ann.lee@example.org"), ("phone", "+16505550142"),
        ("stripe_customer_id", ANN["stripe"]), ("anonymous_id", ANN["anonymous_id"])}
    assert [p["profile_id"] for p in document["profile"]] == [ids["ann"]]
    assert [m["audience"] for m in document["audience_memberships"]] == ["vip"]
    assert set(document["sent_to_destinations"]) == {"vip_meta", "vip_tiktok"}
    assert [r["row_key"] for r in document["sent_to_destinations"]["vip_meta"]] == [ids["ann"]]
    tables = document["tables"]
    assert [r["event_text"] for r in tables["website.tracks"]] == ["Order Completed"]
    assert {r["id"] for r in tables["stripe.charges"]} == {"ch_ann_0001"}
    assert {r["id"] for r in tables["stripe.refunds"]} == {"re_ann_0001"}
    assert BOB["user_id"] not in json.dumps(document) and "bob@example.net" not in json.dumps(document)
    audit = warehouse.query("SELECT regulation, rows_found FROM cdp.privacy_requests")
    assert audit[0]["regulation"] == "export" and audit[0]["rows_found"] > 10


def test_consent_withdrawal_removes_the_person_from_every_synced_audience_next_run(warehouse, tmp_path):
    world = make_world(warehouse, tmp_path)
    with world.servers:
        ids = populate(world)
        warehouse.query("UPDATE cdp.profiles SET consent_advertising = FALSE WHERE profile_id = %s", [ids["ann"]])
        reports = [world.sync("vip_meta"), world.sync("vip_tiktok")]
    assert [r.removes for r in reports] == [1, 1]
    from destinations.normalize import hashed
    assert world.meta.members["6001"] == {hashed("meta", "email", BOB["email"])}
    assert world.tiktok.members["8001"] == {hashed("tiktok", "email", BOB["email"])}


def test_cli_errors_are_one_line_and_never_echo_identifiers(duckdb_warehouse, tmp_path):
    config_file = tmp_path / "headwater.yml"
    config_file.write_text(f"warehouse: {duckdb_warehouse.url}\ncollect: {{spool_dir: {tmp_path / 'spool'}}}\n"
                           f"privacy: {{suppression_file: {tmp_path / 's.txt'}}}\n")
    runner = CliRunner()
    blank = runner.invoke(cli, ["privacy", "suppress", "--config", str(config_file), "  "])
    assert blank.exit_code == 2 and blank.output.strip().startswith("error: give at least one identifier")
    assert len(blank.output.strip().splitlines()) == 1
    ok = runner.invoke(cli, ["privacy", "suppress", "--config", str(config_file), "secret.person@example.org"])
    assert ok.exit_code == 0, ok.output
    assert "secret.person" not in ok.output
    assert email_hash("secret.person@example.org") in (tmp_path / "s.txt").read_text()
    assert identifier_hash("secret.person@example.org") in (tmp_path / "s.txt").read_text()
    missing = runner.invoke(cli, ["privacy", "retry", "--config", str(config_file), "nope"])
    assert missing.exit_code == 2 and "no privacy request 'nope'" in missing.output
