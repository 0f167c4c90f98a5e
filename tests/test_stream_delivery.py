"""Stream delivery under failure: a kill -9 mid-delivery, and one destination in a 429 storm."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from destinations.streams.service import run_streams
from destinations.streams.state import StreamState
from tests.stream_kit import SpoolFeed, StreamEmulators, stream_config, track

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def emulators():
    with StreamEmulators() as servers:
        yield servers


def wait_until(predicate, seconds: float = 60.0, what: str = "") -> None:
    """Poll for a condition; the deadline only keeps a broken run from hanging the suite."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.02)


def insert_ids(control) -> list[str]:
    return [e["properties"]["$insert_id"] for e in control.events.values()]


def test_kill_9_mid_delivery_under_load_loses_nothing_and_the_vendor_counts_each_event_once(tmp_path, emulators):
    total = 20_000
    config = stream_config(tmp_path, emulators, [{"name": "orders", "destination": "mixpanel",
                                                  "filter": {"types": ["track"]}}])
    raw = config.model_dump(mode="json", exclude_unset=True)
    raw["destinations"] = emulators.destinations()
    raw["destinations"][0]["requests_per_second"] = 200
    raw["streams"] = [{"name": "orders", "destination": "mixpanel", "filter": {"types": ["track"]}}]
    config_file = tmp_path / "headwater.yml"
    config_file.write_text(json.dumps(raw))

    feed = SpoolFeed(tmp_path / "spool")

    def write_load() -> None:       # the collect endpoint keeps writing while the forwarder dies
        for start in range(0, total, 100):
            feed.send([track(n) for n in range(start, start + 100)])
            if start % 2000 == 0:
                feed.rotate()
            time.sleep(0.002)
        feed.rotate()

    def forwarder() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "headwater.cli", "stream", "--config", str(config_file)],
                                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    control = emulators.mixpanel.control
    writer = threading.Thread(target=write_load)
    writer.start()
    process = forwarder()
    try:
        for threshold in (3_000, 9_000):
            wait_until(lambda: control.event_receipts >= threshold, what=f"{threshold} events at the emulator")
            process.send_signal(signal.SIGKILL)
            process.wait()
            assert control.event_receipts < total           # killed mid-delivery, not after the end
            process = forwarder()
        writer.join()
        wait_until(lambda: len(control.events) >= total, 120, "every event at the emulator")
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
        writer.join()

    delivered = insert_ids(control)
    assert len(delivered) == len(set(delivered)) == total
    assert set(delivered) == {f"msg-{n:06d}" for n in range(total)}
    assert control.event_receipts >= total       # resent after a kill, and deduplicated by $insert_id
    cursors = StreamState(tmp_path / "spool").cursors("orders")
    assert cursors and all(finished for _, finished in cursors.values())


def test_a_429_storm_on_one_destination_does_not_hold_back_the_other(tmp_path, emulators):
    config = stream_config(tmp_path, emulators, [
        {"name": "to_mixpanel", "destination": "mixpanel", "filter": {"types": ["track"]}},
        {"name": "to_amplitude", "destination": "amplitude", "filter": {"types": ["track"]}}])
    stormy = emulators.amplitude.control
    stormy.throttle(10 ** 9, retry_after=0.05)
    feed = SpoolFeed(tmp_path / "spool")
    for start in range(0, 3000, 100):
        feed.send([track(n) for n in range(start, start + 100)])
    feed.rotate()
    state = StreamState(tmp_path / "spool")
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(run_streams(config, stop, state=state)))
    thread.start()
    try:
        wait_until(lambda: len(emulators.mixpanel.control.events) == 3000, what="the healthy stream's events")
        throttled = sum(1 for r in stormy.requests if r.status == 429)
        assert throttled >= 2 and not stormy.events       # the storm is still on
        assert all(offset == 0 for offset, _ in state.cursors("to_amplitude").values())
        stormy.throttle(0)
        wait_until(lambda: len(stormy.events) == 3000, 90, "the stormy stream's events after the storm")
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
    assert sorted(e["insert_id"] for e in stormy.events.values()) == sorted(f"msg-{n:06d}" for n in range(3000))
    assert len(emulators.mixpanel.control.events) == 3000
