"""One event stream: tail the spool, filter, transform, gate consent, deliver, advance the cursor.

Delivery is at least once, made exactly once at the vendor by its idempotency key: every
item carries a key derived from the event's messageId (`$insert_id`, `insert_id`,
`event_id`, `unique_id`), and a file's cursor moves only after the vendor accepted (or for
good refused) every event before it. A crash between the two resends a chunk the vendor
then counts once.

Order and isolation: a chunk's events are split into lanes by person, each lane sends its
batches one after another (a person's events arrive in order), lanes run side by side up
to the destination's concurrency. Each stream has its own cursor, HTTP pool and task, so a
throttled or failing destination holds back only its own stream, and it holds at most one
chunk in memory while it waits (transient failures are retried with Retry-After until the
vendor answers; refused credentials pause the stream until they work again).
Imports destinations (base, delivery, engine, streams) and sources.collect.tail.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from destinations.base import Batch, RunContext, SkipRow
from destinations.delivery import Deliverer, DeliveryReport, Timing
from destinations.engine import make_destination
from destinations.streams.config import StreamConfig
from destinations.streams.consent import ConsentGate
from destinations.streams.events import MAPPABLE, apply_property_filters, event_view, filter_reason
from destinations.streams.state import DeadLetter, StreamState
from destinations.streams.transform import TransformFailed, Transformation
from headwater.config import ConfigError, HeadwaterConfig, find_named
from headwater.suppression import SuppressionList
from sources.collect.tail import SpoolTail

log = logging.getLogger("headwater.streams")

CHUNK_EVENTS = 2_000          # events one step takes from one file at most (bounds memory)
CHUNK_BYTES = 4 << 20
PAUSE_SECONDS = 30.0          # a stream whose credentials were refused tries again after this long


@dataclass
class Pending:
    """One event ready for the vendor."""

    key: str                  # file:offset:index[:n]: unique in the chunk
    message_id: str
    person: str
    item: Any
    message: dict
    file: str
    offset: int


@dataclass
class StepReport:
    frames: int = 0
    counts: Counter = field(default_factory=Counter)   # (outcome, reason) -> events


def dead_letter_id(stream: str, key: str) -> str:
    return hashlib.sha256(f"{stream}|{key}".encode()).hexdigest()[:32]


class SpoolFollower:
    """Follows every spool file from its own cursors; a subclass says what a chunk of frames
    becomes (`consume`) and what it does between chunks (`idle`)."""

    name: str
    gate: ConsentGate

    def __init__(self, config: HeadwaterConfig, name: str, state: StreamState, start: str,
                 suppression: SuppressionList | None, chunk_events: int):
        self.config, self.name, self.state, self.start = config, name, state, start
        self.tail = SpoolTail(config.collect.spool_dir)
        suppression = suppression or SuppressionList(config.privacy.suppression_file)
        self.gate = ConsentGate(state, suppression, config.traits.consent_default)
        self.chunk_events = chunk_events
        self.status = "starting"

    async def __aenter__(self):
        self._start_position()
        return self

    async def __aexit__(self, *exc) -> None:
        pass

    async def run(self, stop: asyncio.Event, poll_seconds: float = 0.05) -> None:
        async with self:
            while not stop.is_set():
                report = await self.step()
                await self.idle()
                if not report.frames:
                    try:
                        await asyncio.wait_for(stop.wait(), poll_seconds)
                    except asyncio.TimeoutError:
                        pass

    async def idle(self) -> None:
        """Work that is due whether or not events came (workflow waits ending)."""

    def _start_position(self) -> None:
        """`start: latest` on a reader that never ran: what is in the spool now counts as passed."""
        if self.start != "latest" or self.state.cursors(self.name):
            return
        for name in self.tail.files():
            where = self.tail.locate(name)
            if where is not None:
                size = where[0].stat().st_size
                self.state.commit(self.name, (name, size, where[1] != "open"))

    async def step(self) -> StepReport:
        """One chunk from every file with unread events; returns what it consumed."""
        total = StepReport()
        cursors = self.state.cursors(self.name)
        for name in sorted(self.tail.files()):
            offset, finished = cursors.get(name, (0, False))
            if finished:
                continue
            report = await self.forward_chunk(name, offset)
            total.frames += report.frames
            total.counts.update(report.counts)
        return total

    async def forward_chunk(self, name: str, offset: int) -> StepReport:
        read = self.tail.read(name, offset, CHUNK_BYTES)
        report = StepReport()
        if read.missing:
            log.warning("%s: spool file %s was removed before it was read to the end", self.name, name)
            self.state.forget_file(name)
            return report
        frames = read.frames
        count = 0
        for index, frame in enumerate(frames):   # whole frames, up to about chunk_events events
            count += len(frame.record.get("messages") or ())
            if count >= self.chunk_events:
                frames = frames[:index + 1]
                break
        end = frames[-1].end if frames else read.offset
        finished = read.finished and end == read.offset
        if not frames:
            if finished:
                self.state.commit(self.name, (name, end, True))
            return report
        self.gate.start_chunk()
        dead = await self.consume(frames, report.counts)
        self.state.commit(self.name, (name, end, finished), dead, dict(report.counts), self.gate.changes)
        report.frames = len(frames)
        return report

    async def consume(self, frames, counts: Counter) -> list[DeadLetter]:
        raise NotImplementedError


class StreamRunner(SpoolFollower):
    def __init__(self, config: HeadwaterConfig, stream: StreamConfig, state: StreamState, *,
                 transport: httpx.AsyncBaseTransport | None = None, timing: Timing | None = None,
                 suppression: SuppressionList | None = None, chunk_events: int = CHUNK_EVENTS,
                 pause_seconds: float = PAUSE_SECONDS):
        self.config, self.stream, self.state = config, stream, state
        self.entry = find_named(config.destinations, stream.destination, "destination")
        self.destination = make_destination(self.entry, stream.settings)
        if not self.destination.stream_types:
            raise ConfigError(f"stream {stream.name}: destination {self.entry.name} is of type {self.entry.type}, "
                              f"which takes no event streams; stream to one of: {', '.join(stream_types_list())}")
        unknown = sorted(set(stream.mapping) - MAPPABLE)
        if unknown:
            raise ConfigError(f"stream {stream.name}: mapping.{unknown[0]}: not an event field; use one of: "
                              f"{', '.join(sorted(MAPPABLE))}")
        try:
            self.transformation = Transformation(stream.transform)
        except (ImportError, AttributeError, ValueError) as error:
            raise ConfigError(f"stream {stream.name}: transform {stream.transform!r} cannot be loaded: {error}") from None
        super().__init__(config, stream.name, state, stream.start, suppression, chunk_events)
        self.category = stream.consent or self.destination.consent_category
        self.timing = timing or Timing()
        self.transport = transport
        self.pause_seconds = pause_seconds
        self.lanes = max(1, self.entry.concurrency or self.destination.concurrency)
        self.batch_size = self.destination.stream_batch_size()
        self.context = RunContext(stream.name, f"stream:{stream.name}", f"stream {stream.name}", settings=stream.settings)
        self._client: httpx.AsyncClient | None = None
        self._deliverer: Deliverer | None = None

    # --- the loop ------------------------------------------------------------------------
    async def __aenter__(self) -> "StreamRunner":
        limits = httpx.Limits(max_connections=self.lanes, max_keepalive_connections=self.lanes)
        self._client = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30.0), transport=self.transport)
        self._deliverer = Deliverer(self.destination, self._client, self.context, timing=self.timing,
                                    concurrency=self.lanes, rate=self.entry.requests_per_second,
                                    max_attempts=6, build=self.destination.stream_request)
        self._start_position()
        self.status = "running"
        return self

    async def __aexit__(self, *exc) -> None:
        if self._client is not None:
            await self._client.aclose()

    # --- one chunk -----------------------------------------------------------------------
    async def consume(self, frames, counts: Counter) -> list[DeadLetter]:
        pending, dead = self._prepare(frames, counts)
        return dead + await self._deliver(pending, counts)

    def _prepare(self, frames, counts: Counter) -> tuple[list[Pending], list[DeadLetter]]:
        pending: list[Pending] = []
        dead: list[DeadLetter] = []
        for frame in frames:
            record = frame.record
            if record.get("kind") != "events" or (self.stream.sources and record.get("source") not in self.stream.sources):
                continue
            for index, message in enumerate(record.get("messages") or ()):
                key = f"{frame.file}:{frame.offset}:{index}"
                prepared = self.prepare_one(message, key, record.get("source", ""), counts, dead)
                for item in prepared:
                    item.file, item.offset = frame.file, frame.offset
                pending.extend(prepared)
        return pending, dead

    def prepare_one(self, message: dict, key: str, source: str, counts: Counter, dead: list[DeadLetter],
                    transform: bool = True) -> list[Pending]:
        """Filters, consent, transformation, property filters and the vendor's form for one event."""
        if not isinstance(message, dict):
            return []
        self.gate.observe(message)
        if message.get("type") not in self.destination.stream_types:
            counts["filtered", "type"] += 1
            return []
        if (reason := filter_reason(self.stream, message)) is not None:
            counts["filtered", reason] += 1
            return []
        if (reason := self.gate.reason_to_skip(message, self.category)) is not None:
            counts["skipped", reason] += 1
            return []
        try:
            outputs = self.transformation.apply(message) if transform else [message]
        except TransformFailed as failure:
            counts["dead", "transform"] += 1
            dead.append(self._dead(key, message, "transform", str(failure), failure.trace))
            return []
        if not outputs:
            counts["filtered", "transform"] += 1
        result = []
        for number, output in enumerate(outputs):
            output = apply_property_filters(self.stream, output)
            view = event_view(output, source, self.stream.mapping)
            try:
                item = self.destination.stream_item(view)
            except SkipRow as skip:
                counts["skipped", f"vendor: {str(skip)[:80]}"] += 1
                continue
            except Exception as error:  # noqa: BLE001 - a malformed event must not stop the stream
                counts["dead", "form"] += 1
                dead.append(self._dead(f"{key}:{number}", output, "form", f"{error.__class__.__name__}: {error}", ""))
                continue
            result.append(Pending(f"{key}:{number}" if number else key, view.message_id, view.person, item, output,
                                  "", 0))
        return result

    def _dead(self, key: str, message: dict, code: str, text: str, trace: str) -> DeadLetter:
        file, _, rest = key.partition(":")
        offset = int(rest.split(":")[0]) if rest and rest.split(":")[0].isdigit() else 0
        return DeadLetter(dead_letter_id(self.stream.name, key), self.stream.name, self.entry.name,
                          str(message.get("messageId") or ""), file, offset, code,
                          self.destination.redact(text)[:1000], self.destination.redact(trace)[:8000],
                          orjson.dumps(message, default=str).decode())

    async def _deliver(self, pending: list[Pending], counts: Counter) -> list[DeadLetter]:
        """Send until every event is accepted or refused for good; returns the refused."""
        dead: list[DeadLetter] = []
        waiting = pending
        attempt = 0
        while waiting:
            self._deliverer.report = DeliveryReport()
            await asyncio.gather(*(self._send_lane(lane) for lane in self._lanes(waiting)))
            report = self._deliverer.report
            if report.fatal:
                self.status = f"paused: {report.fatal}"
                log.error("stream %s: %s refused the credentials (%s); retrying in %.0f s", self.stream.name,
                          self.entry.name, report.fatal, self.pause_seconds)
                await self.timing.sleep(self.pause_seconds)
                self._deliverer._first_sent = False          # the retry's first request again goes alone
                self._deliverer._first_answered = asyncio.Event()
                continue
            self.status = "running"
            retry = []
            for entry in waiting:
                failure = report.failed.get((entry.key, "upsert"))
                if failure is None:
                    counts["forwarded", ""] += 1
                elif (entry.key, "upsert") in report.transient:
                    retry.append(entry)
                else:
                    counts["dead", "vendor"] += 1
                    dead.append(self._dead(entry.key, entry.message, failure[0], failure[1], ""))
            waiting = retry
            if waiting:
                attempt += 1
                await self.timing.sleep(min(60.0, 2.0 ** attempt))
        return dead

    def _lanes(self, pending: list[Pending]) -> list[list[Pending]]:
        lanes: list[list[Pending]] = [[] for _ in range(self.lanes)]
        for entry in pending:
            lanes[zlib.crc32(entry.person.encode()) % self.lanes].append(entry)
        return [lane for lane in lanes if lane]

    async def _send_lane(self, lane: list[Pending]) -> None:
        for start in range(0, len(lane), self.batch_size):
            part = lane[start:start + self.batch_size]
            batch = Batch("upsert", [p.key for p in part], [p.item for p in part], [p.message_id for p in part])
            await self._deliverer.deliver([batch])


def stream_types_list() -> list[str]:
    from destinations.registry import DESTINATION_TYPES, destination_class

    return sorted(name for name in DESTINATION_TYPES if destination_class(name).stream_types)
