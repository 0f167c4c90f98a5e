"""Replay sends a world to the real collect endpoint (sources.collect.app on loopback):
every message lands in the spool, the server's skew correction restores intended times,
server errors are retried and bad write keys are reported."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from headwater.config import parse_config
from headwater.loopback import LoopbackServer
from sources.collect import spool
from sources.collect.app import create_app
from sources.synthetic import generate_world, iter_events, read_manifest
from sources.synthetic.files import batch_files
from sources.synthetic.replay import replay
from sources.synthetic.truth import iter_truth

END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("replay-world")
    generate_world(out, 60, seed=8, end=END, rates={"clock_skew_device": 0.5, "duplicate_message": 0.05})
    return out


def _collect_app(world: Path, spool_dir: Path):
    keys = read_manifest(world).write_keys
    config = parse_config({"collect": {"spool_dir": str(spool_dir)},
                           "sources": [{"name": s, "type": "events", "write_key": k} for s, k in keys.items()]})
    return create_app(config)


def _spooled(spool_dir: Path) -> list[dict]:
    messages = []
    for path in sorted(spool_dir.rglob(f"*{spool.SUFFIX}")):
        for record in spool.read_records(path):
            if record.get("kind") == "events":
                messages.extend(record["messages"])
    return messages


class FlakyFront:
    """Answers the first requests to /v1/batch with the given statuses, then passes through."""

    def __init__(self, app, statuses: list[tuple[int, dict]]):
        self.app, self.statuses, self.seen = app, list(statuses), 0

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/v1/batch" and self.statuses:
            status, headers = self.statuses.pop(0)
            self.seen += 1
            while (await receive()).get("more_body"):
                pass
            await send({"type": "http.response.start", "status": status,
                        "headers": [(k.encode(), v.encode()) for k, v in headers.items()]})
            await send({"type": "http.response.body", "body": b'{"success":false,"error":"try later"}'})
            return
        await self.app(scope, receive, send)


def test_replayed_world_lands_every_message_id_in_the_spool(world, tmp_path):
    with LoopbackServer(_collect_app(world, tmp_path / "spool")) as server:
        report = replay(world, server.url, concurrency=4, progress=False)
    assert report.ok, report.rejected + report.failed
    expected = {m["messageId"] for s in ("website", "app") for m in iter_events(world, s)}
    spooled = _spooled(tmp_path / "spool")
    assert {m["messageId"] for m in spooled} == expected
    assert report.messages_sent == len(spooled) == sum(read_manifest(world).counts["messages_written"].values())


def test_server_skew_correction_restores_each_events_intended_time(world, tmp_path):
    with LoopbackServer(_collect_app(world, tmp_path / "spool")) as server:
        report = replay(world, server.url, concurrency=2, progress=False)
    truth = {r["key"]: r for r in iter_truth(world, "records") if r["kind"] == "event"}
    skewed = 0
    for message in _spooled(tmp_path / "spool"):
        intended = datetime.fromisoformat(truth[message["messageId"]]["true_time"]).timestamp() + report.shift_seconds
        corrected = datetime.fromisoformat(message["timestamp"]).timestamp()
        assert abs(corrected - intended) < 30, message["messageId"]
        if abs(truth[message["messageId"]]["skew_seconds"]) >= 3600:
            skewed += 1
            device_clock = datetime.fromisoformat(message["originalTimestamp"]).timestamp()
            assert abs(device_clock - intended) >= 3600 - 30  # the device was wrong, the server fixed it
    assert skewed > 0
    assert abs(report.shift_seconds - (datetime.now(UTC) - END).total_seconds()) < 120


def test_replay_retries_server_errors_and_honours_retry_after(world, tmp_path):
    front = FlakyFront(_collect_app(world, tmp_path / "spool"),
                       [(503, {}), (500, {}), (429, {"Retry-After": "0"})])
    with LoopbackServer(front) as server:
        report = replay(world, server.url, concurrency=1, progress=False)
    assert front.seen == 3 and report.retries == 3 and report.ok
    expected = {m["messageId"] for s in ("website", "app") for m in iter_events(world, s)}
    assert {m["messageId"] for m in _spooled(tmp_path / "spool")} == expected


def test_replay_reports_batches_rejected_for_a_wrong_write_key(world, tmp_path):
    with LoopbackServer(_collect_app(world, tmp_path / "spool")) as server:
        report = replay(world, server.url, write_keys={"website": "not-the-key"}, progress=False)
    website_files = len(batch_files(world, "website"))
    assert len(report.rejected) == website_files and not report.failed
    assert {r.status for r in report.rejected} == {401}
    assert all("not-the-key" not in r.error for r in report.rejected)  # a key never echoes into reports
    spooled = {m["messageId"] for m in _spooled(tmp_path / "spool")}
    assert spooled == {m["messageId"] for m in iter_events(world, "app")}
