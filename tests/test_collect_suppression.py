"""Suppressed people's events are dropped at the door: counted, never stored."""

from __future__ import annotations

import httpx

from headwater.config import parse_config
from headwater.loopback import LoopbackServer
from headwater.suppression import SuppressionList, email_hash, identifier_hash, write_suppression_file
from sources.collect.app import create_app
from tests.collect_helpers import WRITE_KEYS, collect_config_dict, spooled_messages


def test_events_of_suppressed_identifiers_are_dropped_and_counted(tmp_path):
    suppression_file = tmp_path / "suppressed.txt"
    write_suppression_file(suppression_file, {identifier_hash("user-gone"), email_hash("Gone@Example.com")})
    raw = collect_config_dict(tmp_path / "spool")
    raw["privacy"] = {"suppression_file": str(suppression_file)}
    with LoopbackServer(create_app(parse_config(raw))) as server:
        batch = [{"type": "track", "event": "A", "userId": "user-gone"},
                 {"type": "identify", "anonymousId": "device-1", "traits": {"email": " gone@example.COM "}},
                 {"type": "track", "event": "B", "anonymousId": "x", "context": {"traits": {"email": "gone@example.com"}}},
                 {"type": "track", "event": "Kept", "userId": "user-stays"}]
        response = httpx.post(f"{server.url}/v1/batch", json={"batch": batch}, auth=(WRITE_KEYS["website"], ""))
        only_suppressed = httpx.post(f"{server.url}/v1/track", json={"userId": "user-gone", "event": "C"},
                                     auth=(WRITE_KEYS["website"], ""))
        metrics = httpx.get(f"{server.url}/metrics").text
    assert response.status_code == 200 and only_suppressed.status_code == 200
    assert [m.get("event") for m in spooled_messages(tmp_path / "spool")] == ["Kept"]
    assert "headwater_messages_suppressed_total 4.0" in metrics


def test_suppression_list_reloads_when_the_file_changes(tmp_path):
    path = tmp_path / "suppressed.txt"
    now = [0.0]
    suppressions = SuppressionList(path, check_seconds=1.0, clock=lambda: now[0])
    assert not suppressions.suppresses({"userId": "late"})
    write_suppression_file(path, {identifier_hash("late")})
    assert not suppressions.suppresses({"userId": "late"}), "re-read at most once per check interval"
    now[0] = 1.5
    assert suppressions.suppresses({"userId": "late"})
    write_suppression_file(path, set())
    now[0] = 3.0
    assert not suppressions.suppresses({"userId": "late"}), "an unsuppressed person is tracked again"
