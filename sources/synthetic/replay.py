"""Replay a world's events to a running collect endpoint, as the apps would have sent them.

Why rewrite times: a world (e.g. the shipped sample) was generated up to its `end`; replay
shifts every event time so the world ends now, and sets `sentAt` to the moment of sending
plus the device's simulated clock skew, so the server's correction
`timestamp = receivedAt - (sentAt - originalTimestamp)` lands each event at its intended
(shifted) time even for skewed devices. Real client: httpx.AsyncClient, POST /v1/batch,
Basic auth with the write key; 5xx, network errors and 429 (Retry-After) are retried,
other 4xx are reported, never hidden.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import orjson

from sources.synthetic.clock import device_skew_seconds, iso
from sources.synthetic.files import MAX_BATCH_BYTES, MAX_BATCH_MESSAGES, batch_files, read_batch
from sources.synthetic.settings import EVENT_SOURCES
from sources.synthetic.world import WorldError, read_manifest

MAX_RETRY_AFTER = 30.0


@dataclass
class Rejection:
    file: str
    status: int
    error: str


@dataclass
class ReplayReport:
    batches_sent: int = 0
    messages_sent: int = 0
    retries: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    failed: list[Rejection] = field(default_factory=list)  # gave up after retries
    shift_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.failed


def _parse(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def rewrite_batch(messages: list[dict], shift: float, seed: int, skew_rate: float, now: float) -> bytes:
    """The request body for sending `messages` at `now`: shifted times, sentAt = now + device skew."""
    for message in messages:
        message["timestamp"] = iso(_parse(message["timestamp"]) + shift)
        traits = message.get("traits")
        if traits and "createdAt" in traits:
            traits["createdAt"] = iso(_parse(traits["createdAt"]) + shift)
        message["sentAt"] = iso(now + device_skew_seconds(seed, skew_rate, message["anonymousId"]))
    return orjson.dumps({"batch": messages})


def _chunks(messages: list[dict]) -> list[list[dict]]:
    """Files already respect the limits; re-cut defensively in case a file was edited."""
    chunks, current, size = [], [], 12
    for message in messages:
        length = len(orjson.dumps(message)) + 1
        if current and (len(current) >= MAX_BATCH_MESSAGES or size + length > MAX_BATCH_BYTES):
            chunks.append(current)
            current, size = [], 12
        current.append(message)
        size += length
    if current:
        chunks.append(current)
    return chunks


async def replay_async(world_dir: Path | str, endpoint_url: str, write_keys: dict[str, str] | None = None,
                       concurrency: int = 8, shift_to_now: bool = True, progress: bool | Callable[[int], None] = True,
                       max_retries: int = 6, now: float | None = None) -> ReplayReport:
    manifest = read_manifest(world_dir)
    keys = dict(manifest.write_keys)
    keys.update(write_keys or {})
    files = [(source, path) for source in EVENT_SOURCES for path in batch_files(Path(world_dir), source)]
    missing = sorted({source for source, _ in files if not keys.get(source)})
    if missing:
        raise WorldError(f"no write key for source {missing[0]}; pass --write-key {missing[0]}=KEY")
    clock = (lambda: now) if now is not None else time.time
    report = ReplayReport(shift_seconds=(clock() - _parse(manifest.end)) if shift_to_now else 0.0)
    total = sum(manifest.counts.get("messages_written", {}).values())
    seed, skew_rate = manifest.seed, manifest.rates.clock_skew_device
    url = endpoint_url.rstrip("/") + "/v1/batch"
    queue: asyncio.Queue = asyncio.Queue()
    for item in files:
        queue.put_nowait(item)

    bar = None
    advance: Callable[[int], None]
    if callable(progress):
        advance = progress
    elif progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        task = bar.add_task("events", total=total or None)
        bar.start()
        advance = lambda n: bar.advance(task, n)  # noqa: E731
    else:
        advance = lambda n: None  # noqa: E731

    async def send(client: httpx.AsyncClient, source: str, path: Path, messages: list[dict]) -> None:
        attempt = 0
        while True:
            body = rewrite_batch(messages, report.shift_seconds, seed, skew_rate, clock())
            try:
                response = await client.post(url, content=body, auth=(keys[source], ""),
                                             headers={"content-type": "application/json"})
            except httpx.TransportError as error:
                status, error_text, wait = 0, f"network error: {type(error).__name__}", 0.2 * 2**attempt
            else:
                if response.status_code == 200:
                    report.batches_sent += 1
                    report.messages_sent += len(messages)
                    advance(len(messages))
                    return
                status, error_text = response.status_code, _error_text(response)
                if status == 429:
                    wait = min(float(response.headers.get("retry-after", "1") or 1), MAX_RETRY_AFTER)
                elif status >= 500:
                    wait = 0.2 * 2**attempt
                else:
                    report.rejected.append(Rejection(f"{source}/{path.name}", status, error_text))
                    advance(len(messages))
                    return
            attempt += 1
            if attempt > max_retries:
                report.failed.append(Rejection(f"{source}/{path.name}", status, error_text))
                advance(len(messages))
                return
            report.retries += 1
            await asyncio.sleep(wait)

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            try:
                source, path = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            messages = await asyncio.to_thread(read_batch, path)
            for chunk in _chunks(messages):
                await send(client, source, path, chunk)

    started = time.monotonic()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0), limits=limits) as client:
            try:  # fail in one line, not after retrying every file, when nothing listens there
                await client.get(endpoint_url.rstrip("/") + "/health")
            except httpx.TransportError as error:
                raise WorldError(f"cannot reach the collect endpoint at {endpoint_url} "
                                 f"({type(error).__name__}); start it with `headwater serve` or fix --url") from None
            await asyncio.gather(*(worker(client) for _ in range(max(1, concurrency))))
    finally:
        if bar is not None:
            bar.stop()
    report.seconds = time.monotonic() - started
    return report


def _error_text(response: httpx.Response) -> str:
    try:
        payload = response.json()
        text = payload.get("error") or payload.get("message") or response.text
    except ValueError:
        text = response.text
    return str(text)[:200]


def replay(world_dir: Path | str, endpoint_url: str, write_keys: dict[str, str] | None = None,
           concurrency: int = 8, shift_to_now: bool = True, progress: bool | Callable[[int], None] = True,
           max_retries: int = 6, now: float | None = None) -> ReplayReport:
    """Send every event batch of a world to `endpoint_url` (see module docstring)."""
    return asyncio.run(replay_async(world_dir, endpoint_url, write_keys, concurrency, shift_to_now, progress,
                                    max_retries, now))
