"""The sync engine end to end: warehouse diff state, delivery to a real emulator, run logs.

Runs on DuckDB and PostgreSQL, against the Meta Custom Audiences emulator (removals,
sessions) and the Meta Conversions API emulator (event_id dedup).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from destinations.delivery import VirtualTime
from destinations.emulators.kit import DestinationControl
from destinations.emulators.meta import create_app
from destinations.engine import run_sync
from destinations.normalize import hashed
from headwater.config import ConfigError
from headwater.loopback import LoopbackServer
from tests.sync_fixtures import conversion, create_cdp, execute, profile, sync_config

TOKEN = "meta-secret-token-1234"


@pytest.fixture
def meta():
    control = DestinationControl()
    with LoopbackServer(create_app(access_token=TOKEN, control=control)) as server:
        server.control = control
        yield server


def audience_config(warehouse, server, mode="mirror", token=TOKEN, **sync):
    return sync_config(
        warehouse,
        {"name": "meta", "type": "meta_audience", "base_url": server.url,
         "credentials": {"access_token": token}, "settings": {"audience_id": "6001"}},
        {"name": "vip_meta", "source": {"audience": "vip"}, "destination": "meta", "mode": mode, **sync})


def email_hash(number: int) -> str:
    return hashed("meta", "email", f"person.{number}@example.com")


def run(config, **kwargs):
    return run_sync(config, "vip_meta", timing=VirtualTime(), **kwargs)


def test_first_sync_delivers_every_consented_member_and_second_sends_nothing(warehouse, meta):
    create_cdp(warehouse, [profile(i) for i in range(12)] + [profile(12, consent_advertising=False)],
               [("vip", f"p{i:05d}") for i in range(13)] + [("other", "p00011")])
    config = audience_config(warehouse, meta)

    first = run(config)
    assert (first.rows_planned, first.rows_succeeded, first.rows_failed) == (12, 12, 0)
    assert meta.control.members["6001"] == {email_hash(i) for i in range(12)}
    requests_after_first = len(meta.control.requests)

    second = run(config)
    assert second.rows_planned == 0 and second.rows_sent == 0
    assert len(meta.control.requests) == requests_after_first  # not one request
    runs = warehouse.query("SELECT rows_planned, rows_succeeded, status FROM cdp.sync_runs ORDER BY started_at")
    assert [(r["rows_planned"], r["rows_succeeded"], r["status"]) for r in runs] == [(12, 12, "succeeded"), (0, 0, "succeeded")]


def test_changed_rows_send_only_the_diff_and_mirror_removes_leavers_and_withdrawn_consent(warehouse, meta):
    create_cdp(warehouse, [profile(i) for i in range(10)], [("vip", f"p{i:05d}") for i in range(10)])
    config = audience_config(warehouse, meta)
    run(config)
    meta.control.bodies.clear()

    execute(warehouse, "UPDATE cdp.profiles SET last_name = 'Smith' WHERE profile_id = 'p00004'")
    execute(warehouse, "DELETE FROM cdp.audience_members WHERE profile_id = 'p00007'")
    execute(warehouse, "UPDATE cdp.profiles SET consent_advertising = FALSE WHERE profile_id = 'p00008'")
    report = run(config)

    # p00004 changed: its old version is removed, then the new one added (audience rows are match keys)
    assert (report.upserts, report.removes) == (1, 3)
    assert [body["method"] for body in meta.control.bodies] == ["DELETE", "POST"]
    by_method = {body["method"]: body["payload"]["data"] for body in meta.control.bodies}
    assert [row[0] for row in by_method["POST"]] == [email_hash(4)]
    assert by_method["POST"][0][3] == hashed("meta", "last_name", "smith")
    assert sorted(row[0] for row in by_method["DELETE"]) == sorted([email_hash(4), email_hash(7), email_hash(8)])
    assert meta.control.members["6001"] == {email_hash(i) for i in range(10) if i not in (7, 8)}
    assert run(config).rows_planned == 0


def test_upsert_mode_never_removes_and_add_only_never_resends_changes(warehouse, meta):
    create_cdp(warehouse, [profile(i) for i in range(4)], [("vip", f"p{i:05d}") for i in range(4)])
    upsert = audience_config(warehouse, meta, mode="upsert")
    run(upsert)
    execute(warehouse, "DELETE FROM cdp.audience_members WHERE profile_id = 'p00000'")
    assert run(upsert).removes == 0

    add_only = audience_config(warehouse, meta, mode="add_only")
    execute(warehouse, "UPDATE cdp.profiles SET last_name = 'Changed'")
    execute(warehouse, "INSERT INTO cdp.audience_members VALUES ('vip', 'p00000', NULL)")
    report = run(add_only)
    assert (report.upserts, report.removes) == (0, 0)  # p00000 was delivered before; changes are not resent


def test_429_and_5xx_storm_ends_with_every_row_delivered_exactly_once(warehouse, meta, monkeypatch):
    from destinations.meta import MetaConversions

    monkeypatch.setattr(MetaConversions, "batch_size", 5)  # six batches, so the storm hits several
    create_cdp(warehouse, [profile(i) for i in range(30)], [], [conversion(i) for i in range(30)])
    config = sync_config(
        warehouse,
        {"name": "capi", "type": "meta_conversions", "base_url": meta.url, "credentials": {"access_token": TOKEN},
         "settings": {"pixel_id": "1234"}, "concurrency": 1, "requests_per_second": 1000},
        {"name": "purchases", "source": {"model": "cdp.conversions"}, "destination": "capi"})
    meta.control.throttle(3, retry_after=7)
    meta.control.fail_request(5, 503)
    meta.control.fail_request(6, 500)
    meta.control.fail_request(9, 502)
    timing = VirtualTime()
    report = run_sync(config, "purchases", timing=timing)

    assert report.rows_succeeded == 30 and report.rows_failed == 0 and report.retries == 6
    assert meta.control.event_receipts == 30 and len(meta.control.events) == 30  # each exactly once
    backoffs = [w for w in timing.waits if w > 0.01]  # the rest is the rate limiter's spacing
    assert backoffs[:3] == [7, 7, 7]                   # Retry-After honoured, not guessed
    # 5xx: exponential backoff, 0.5s * 2**attempt scaled by jitter (pinned at 0.5 -> x0.75 here)
    ladder = {0.5 * 2 ** attempt * 0.75 for attempt in range(4)}
    assert len(backoffs[3:]) == 3 and set(backoffs[3:]) <= ladder


def test_rejected_row_lands_in_sync_errors_and_is_retried_next_run(warehouse, meta):
    create_cdp(warehouse, [profile(i) for i in range(8)], [], [conversion(i) for i in range(8)])
    config = sync_config(
        warehouse,
        {"name": "capi", "type": "meta_conversions", "base_url": meta.url, "credentials": {"access_token": TOKEN},
         "settings": {"pixel_id": "1234"}},
        {"name": "purchases", "source": {"model": "cdp.conversions"}, "destination": "capi"})
    bad = hashed("meta", "email", "person.5@example.com")
    meta.control.reject_value(bad)

    first = run_sync(config, "purchases", timing=VirtualTime())
    assert (first.rows_succeeded, first.rows_failed, first.status) == (7, 1, "partial")
    errors = warehouse.query("SELECT row_key, action, error_code, error_message FROM cdp.sync_errors")
    assert [(e["row_key"], e["action"], e["error_code"]) for e in errors] == [("c00005", "upsert", "100/2804019")]
    assert "user_data.em" in errors[0]["error_message"]
    assert set(meta.control.events) == {f"Purchase:c{i:05d}" for i in range(8) if i != 5}

    meta.control.rejected_values.clear()
    second = run_sync(config, "purchases", timing=VirtualTime())
    assert (second.rows_planned, second.rows_succeeded) == (1, 1)
    assert len(meta.control.events) == 8


def test_events_older_than_seven_days_are_skipped_and_logged_never_sent(duckdb_warehouse, meta):
    create_cdp(duckdb_warehouse, [profile(1), profile(2)], [],
               [conversion(1), conversion(2, age=timedelta(days=8))])
    config = sync_config(
        duckdb_warehouse,
        {"name": "capi", "type": "meta_conversions", "base_url": meta.url, "credentials": {"access_token": TOKEN},
         "settings": {"pixel_id": "1234"}},
        {"name": "purchases", "source": {"model": "cdp.conversions"}, "destination": "capi"})
    report = run_sync(config, "purchases", timing=VirtualTime())
    assert (report.rows_succeeded, report.rows_skipped) == (1, 1)
    assert set(meta.control.events) == {"Purchase:c00001"}
    skipped = duckdb_warehouse.query("SELECT row_key, error_code FROM cdp.sync_errors")
    assert skipped == [{"row_key": "c00002", "error_code": "skipped"}]
    assert run_sync(config, "purchases", timing=VirtualTime()).rows_planned == 0  # not retried forever


def test_bad_token_fails_the_run_without_advancing_state_and_never_logs_the_secret(warehouse, meta):
    create_cdp(warehouse, [profile(i) for i in range(3)], [("vip", f"p{i:05d}") for i in range(3)])
    wrong = "wrong-token-XYZ-987"
    report = run(audience_config(warehouse, meta, token=wrong))
    assert report.status == "failed" and "190" in report.message
    logged = warehouse.query("SELECT * FROM cdp.sync_runs") + warehouse.query("SELECT * FROM cdp.sync_errors")
    assert wrong not in repr(logged)          # the emulator echoes the token; the engine must not
    assert run(audience_config(warehouse, meta)).rows_planned == 3  # nothing was marked delivered


def test_full_resync_sends_everything_again(duckdb_warehouse, meta):
    create_cdp(duckdb_warehouse, [profile(i) for i in range(5)], [("vip", f"p{i:05d}") for i in range(5)])
    config = audience_config(duckdb_warehouse, meta)
    run(config)
    assert run(config, full=True).rows_planned == 5


def test_large_upload_uses_one_session_closed_by_its_last_batch(duckdb_warehouse, meta, monkeypatch):
    from destinations.meta import MetaCustomAudience

    monkeypatch.setattr(MetaCustomAudience, "batch_size", 4)
    create_cdp(duckdb_warehouse, [profile(i) for i in range(10)], [("vip", f"p{i:05d}") for i in range(10)])
    run(audience_config(duckdb_warehouse, meta), chunk=3)
    sessions = [body["session"] for body in meta.control.bodies]
    assert len({s["session_id"] for s in sessions}) == 1
    assert sorted(s["batch_seq"] for s in sessions) == [1, 2, 3]
    assert [s["last_batch_flag"] for s in sessions][-1] is True and sum(s["last_batch_flag"] for s in sessions) == 1
    assert len(meta.control.members["6001"]) == 10


def test_mapping_typo_is_a_precise_error(duckdb_warehouse, meta):
    create_cdp(duckdb_warehouse, [profile(1)], [("vip", "p00001")])
    config = audience_config(duckdb_warehouse, meta, mapping={"email": "emial"})
    with pytest.raises(ConfigError, match=r"mapping\.email: column 'emial' is in neither cdp\.profiles"):
        run(config)


def test_withdrawn_consent_removes_the_person_even_in_upsert_mode(warehouse, meta):
    create_cdp(warehouse, [profile(i) for i in range(4)], [("vip", f"p{i:05d}") for i in range(4)])
    config = audience_config(warehouse, meta, mode="upsert")
    run(config)
    execute(warehouse, "UPDATE cdp.profiles SET consent_advertising = FALSE WHERE profile_id = 'p00002'")
    report = run(config)
    assert (report.upserts, report.removes) == (0, 1)
    assert meta.control.members["6001"] == {email_hash(i) for i in (0, 1, 3)}
    execute(warehouse, "UPDATE cdp.profiles SET consent_advertising = TRUE WHERE profile_id = 'p00002'")
    assert run(config).upserts == 1  # granted again: sent again


def test_custom_audience_invalid_entries_in_a_200_are_row_errors_retried_next_run(duckdb_warehouse, meta):
    create_cdp(duckdb_warehouse, [profile(i) for i in range(4)], [("vip", f"p{i:05d}") for i in range(4)])
    config = audience_config(duckdb_warehouse, meta)
    meta.control.reject_value(email_hash(2))
    report = run(config)
    assert (report.rows_succeeded, report.rows_failed) == (3, 1)
    assert duckdb_warehouse.query("SELECT row_key, error_code FROM cdp.sync_errors") == [
        {"row_key": "p00002", "error_code": "invalid_entry"}]
    meta.control.rejected_values.clear()
    assert run(config).rows_planned == 1 and meta.control.members["6001"] == {email_hash(i) for i in range(4)}


def test_a_sync_already_running_elsewhere_is_refused_until_its_lease_expires(warehouse, meta):
    from datetime import datetime, timezone

    from destinations.engine import SyncError
    from destinations.state import SqlSession, ensure_log_tables, take_lease

    create_cdp(warehouse, [profile(1)], [("vip", "p00001")])
    config = audience_config(warehouse, meta)
    with warehouse.connect() as connection:
        session = SqlSession(connection, warehouse.dialect)
        ensure_log_tables(session)
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        assert take_lease(session, "vip_meta", "other-worker", now, 3600) is None
        session.commit()
    with pytest.raises(SyncError, match="already running \\(run other-worker"):
        run(config)
    assert meta.control.requests == []
    execute(warehouse, "UPDATE headwater_sync.sync_leases SET expires_at = TIMESTAMP '2000-01-01 00:00:00'")
    assert run(config).rows_succeeded == 1   # a dead worker's lease is taken over
    assert warehouse.query("SELECT * FROM headwater_sync.sync_leases") == []  # and released after the run


def test_an_unreachable_destination_fails_the_rows_and_logs_the_run(duckdb_warehouse):
    from headwater.loopback import free_port

    create_cdp(duckdb_warehouse, [profile(1)], [("vip", "p00001")])
    dead = type("Dead", (), {"url": f"http://127.0.0.1:{free_port()}"})()
    report = run(audience_config(duckdb_warehouse, dead))
    assert (report.rows_failed, report.status) == (1, "partial")
    errors = duckdb_warehouse.query("SELECT error_code FROM cdp.sync_errors")
    assert errors == [{"error_code": "network"}]
    assert duckdb_warehouse.query("SELECT status FROM cdp.sync_runs") == [{"status": "partial"}]
