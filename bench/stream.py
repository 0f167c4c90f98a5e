"""Event streams: events/s from the spool to one destination, and end-to-end latency at 1,000/s.

Two measures, each beside a baseline in the same run:

* **throughput**: N events already in the spool, forwarded by a `StreamRunner` to the
  Mixpanel emulator (a separate uvicorn process), against the same emulator fed directly
  with the same /import batches (2,000 events, the same 4 requests in flight): the ceiling
  of the receiving side on this machine.
* **latency** at a steady rate (default 1,000 events/s, batches of 10 every 10 ms): from the
  collect endpoint's 200 (`headwater serve`, fsync'd) through `headwater stream` to the
  emulator's receipt, against the sender posting the same events straight to the emulator.
  The emulator records when each `$insert_id` arrived; p50/p99 over every event.

    .venv/bin/python bench/stream.py                       # 3 runs, 100,000 events, 15 s at 1,000/s
    .venv/bin/python bench/stream.py --runs 5 --events 200000 --seconds 30 --rate 1000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from destinations.emulators import mixpanel  # noqa: E402
from destinations.streams.forwarder import StreamRunner  # noqa: E402
from destinations.streams.state import StreamState  # noqa: E402
from headwater.config import parse_config  # noqa: E402
from headwater.loopback import LoopbackServer, free_port  # noqa: E402
from sources.collect import spool  # noqa: E402

WRITE_KEY = "bench-key"
AUTH = "Basic " + base64.b64encode(f"{mixpanel.SERVICE_ACCOUNT[0]}:{mixpanel.SERVICE_ACCOUNT[1]}".encode()).decode()


def event(n: int, stamp: str) -> dict:
    return {"type": "track", "event": "Product Viewed", "messageId": f"bench-{n:08d}", "userId": f"user-{n % 5000}",
            "anonymousId": f"anon-{n % 5000}", "timestamp": stamp, "receivedAt": stamp,
            "properties": {"product_id": f"sku-{n % 300}", "price": 19.99, "currency": "EUR"},
            "context": {"consent": {"categoryPreferences": {"analytics": True}}}}


def mixpanel_item(message: dict) -> dict:
    millis = int(datetime.fromisoformat(message["timestamp"]).timestamp() * 1000)
    return {"event": message["event"], "properties": {**message["properties"], "time": millis,
                                                      "distinct_id": message["userId"],
                                                      "$insert_id": message["messageId"]}}


def document(workdir: Path, mixpanel_url: str) -> dict:
    return {"warehouse": f"duckdb:///{workdir / 'warehouse.duckdb'}", "collect": {"spool_dir": str(workdir / "spool"),
                                                                                  "rotate_seconds": 5},
            "privacy": {"suppression_file": str(workdir / "suppressed.txt")},
            "sources": [{"name": "bench", "type": "events", "write_key": WRITE_KEY}],
            "destinations": [{"name": "mixpanel", "type": "mixpanel_events", "base_url": mixpanel_url,
                              "requests_per_second": 1000, "credentials": {
                                  "service_account_username": mixpanel.SERVICE_ACCOUNT[0],
                                  "service_account_secret": mixpanel.SERVICE_ACCOUNT[1],
                                  "project_id": mixpanel.PROJECT_ID}}],
            "streams": [{"name": "bench", "destination": "mixpanel", "filter": {"types": ["track"]}}]}


def start(command: list[str], health: str) -> subprocess.Popen:
    process = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(health, timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{command[3:5]} did not start")


def emulator_process(port: int) -> subprocess.Popen:
    return start([sys.executable, "-m", "uvicorn", "destinations.emulators.mixpanel:create_app", "--factory",
                  "--port", str(port), "--log-level", "warning", "--no-access-log"], f"http://127.0.0.1:{port}/")


# --- throughput ---------------------------------------------------------------------------
def throughput_once(events: int) -> dict[str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    emulator = emulator_process(port)
    try:
        with tempfile.TemporaryDirectory() as folder:
            workdir = Path(folder)
            config = parse_config(document(workdir, url))
            stamp = datetime.now(timezone.utc).isoformat()
            messages = [event(n, stamp) for n in range(events)]
            writer = spool.SpoolWriter(workdir / "spool")
            for start_at in range(0, events, 100):
                writer.write(spool.encode({"source": "bench", "kind": "events", "received_at": stamp,
                                           "messages": messages[start_at:start_at + 100]}))
            writer.rotate()
            state = StreamState(workdir / "spool")
            runner = StreamRunner(config, config.streams[0], state)

            async def forward() -> float:
                async with runner:
                    began = time.perf_counter()
                    while (await runner.step()).frames:
                        pass
                    return time.perf_counter() - began

            forwarded_seconds = asyncio.run(forward())
            forwarded = state.counters("bench").get(("bench", "forwarded", ""), 0)
            assert forwarded == events, f"forwarded {forwarded} of {events}"

            async def direct() -> float:
                bodies = [orjson.dumps([mixpanel_item(m) for m in messages[i:i + 2000]]) for i in range(0, events, 2000)]
                queue = list(bodies)
                async with httpx.AsyncClient(timeout=60) as client:
                    async def lane() -> None:
                        while queue:
                            body = queue.pop()
                            response = await client.post(f"{url}/import", content=body, params={
                                "strict": "1", "project_id": mixpanel.PROJECT_ID},
                                headers={"Authorization": AUTH, "Content-Type": "application/json"})
                            response.raise_for_status()
                    began = time.perf_counter()
                    await asyncio.gather(*(lane() for _ in range(4)))
                    return time.perf_counter() - began

            direct_seconds = asyncio.run(direct())
    finally:
        emulator.terminate()
        emulator.wait(30)
    return {"stream_events_per_s": events / forwarded_seconds, "direct_events_per_s": events / direct_seconds}


# --- latency ------------------------------------------------------------------------------
class Receipts:
    """An ASGI wrapper around the Mixpanel emulator noting when each $insert_id arrived."""

    def __init__(self, app):
        self.app, self.times, self.lock = app, {}, threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].endswith("/import"):
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        arrived = time.time()
        try:
            ids = [e["properties"]["$insert_id"] for e in orjson.loads(body)]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            ids = []
        with self.lock:
            for insert_id in ids:
                self.times.setdefault(insert_id, arrived)
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


def paced(rate: int, seconds: float, post) -> dict[str, float]:
    """Send `rate` events/s in batches of 10 for `seconds`; messageId -> when it was acknowledged."""
    acked: dict[str, float] = {}
    per_batch, interval = 10, 10 / rate
    began = time.perf_counter()
    n = 0
    with httpx.Client(timeout=30) as client:
        while time.perf_counter() - began < seconds:
            due = began + (n // per_batch) * interval
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            stamp = datetime.now(timezone.utc).isoformat()
            batch = [event(n + i, stamp) for i in range(per_batch)]
            post(client, batch)
            now = time.time()
            for message in batch:
                acked[message["messageId"]] = now
            n += per_batch
    return acked


def percentiles(acked: dict[str, float], received: dict[str, float], wait_seconds: float = 30) -> dict[str, float]:
    deadline = time.monotonic() + wait_seconds
    while len(set(acked) & set(received)) < len(acked) and time.monotonic() < deadline:
        time.sleep(0.05)
    delays = sorted(max(received[k] - acked[k], 0.0) for k in acked if k in received)
    missing = len(acked) - len(delays)
    return {"p50_ms": 1000 * delays[len(delays) // 2], "p99_ms": 1000 * delays[int(len(delays) * 0.99) - 1],
            "events": len(acked), "missing": missing}


def latency_once(rate: int, seconds: float) -> dict[str, dict]:
    receipts = Receipts(mixpanel.create_app())
    with LoopbackServer(receipts) as emulator, tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        config_file = workdir / "headwater.yml"
        config_file.write_text(json.dumps(document(workdir, emulator.url)))
        port = free_port()
        collect = start([sys.executable, "-m", "headwater.cli", "serve", "--config", str(config_file), "--port",
                         str(port), "--log-level", "warning"], f"http://127.0.0.1:{port}/health")
        stream = subprocess.Popen([sys.executable, "-m", "headwater.cli", "stream", "--config", str(config_file)],
                                  env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)

            def via_collect(client, batch):
                client.post(f"http://127.0.0.1:{port}/v1/batch", auth=(WRITE_KEY, ""),
                            json={"batch": batch}).raise_for_status()

            streamed = percentiles(paced(rate, seconds, via_collect), receipts.times)
        finally:
            stream.terminate()
            collect.terminate()
            stream.wait(30)
            collect.wait(30)

        def direct(client, batch):
            client.post(f"{emulator.url}/import", params={"strict": "1", "project_id": mixpanel.PROJECT_ID},
                        headers={"Authorization": AUTH, "Content-Type": "application/json"}, content=orjson.dumps([mixpanel_item(m) for m in batch]),
                        ).raise_for_status()

        receipts.times.clear()
        baseline = percentiles(paced(rate, seconds, direct), receipts.times)
    return {"stream": streamed, "direct": baseline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    throughputs, latencies = [], []
    for run in range(args.runs):
        throughputs.append(throughput_once(args.events))
        latencies.append(latency_once(args.rate, args.seconds))
        print(f"run {run + 1}: {json.dumps(throughputs[-1], default=round)} {json.dumps(latencies[-1], default=round)}",
              flush=True)
    median = statistics.median
    print(f"\nthroughput (median of {args.runs}, {args.events:,} events): stream "
          f"{median(t['stream_events_per_s'] for t in throughputs):,.0f} events/s, emulator fed directly "
          f"{median(t['direct_events_per_s'] for t in throughputs):,.0f} events/s")
    for kind in ("stream", "direct"):
        print(f"latency at {args.rate:,}/s, {kind}: p50 {median(l[kind]['p50_ms'] for l in latencies):,.0f} ms, "
              f"p99 {median(l[kind]['p99_ms'] for l in latencies):,.0f} ms, missing "
              f"{max(l[kind]['missing'] for l in latencies)}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
