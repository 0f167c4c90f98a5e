"""Delivering batches: pooled async HTTP, bounded concurrency, rate limit, retries, splitting.

Why here and not in each vendor: every vendor throttles (429 + Retry-After), has bad
minutes (5xx, resets) and rejects whole batches for one bad row. One engine rides all of
that out the same way: honour Retry-After, back off exponentially with jitter, split a
rejected batch in halves until the bad rows stand alone, and resend the good ones. The
request for a batch is built once, so retries carry the same idempotency keys.
Time (`sleep`, `clock`, `jitter`) is injectable: tests and benchmarks never really wait.
Imports httpx, orjson and destinations.base.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from destinations.base import Batch, Destination, DestinationAuthError, HttpRequest, Outcome, RunContext
from headwater.redaction import redact

RETRYABLE_TRANSPORT = (httpx.TransportError,)


FATAL_STATUSES = frozenset({401, 403})   # credentials or permissions: stop the run at once


@dataclass
class Timing:
    """Real time by default; `VirtualTime` in tests."""

    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic
    jitter: Callable[[], float] = random.random
    wall: Callable[[], float] = time.time   # Unix time for what is stamped into a request as it is sent


class VirtualTime(Timing):
    """A clock that advances only when someone sleeps, recording every wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.started = time.time()
        self.waits: list[float] = []
        super().__init__(sleep=self._sleep, clock=lambda: self.now, jitter=lambda: 0.5,
                         wall=lambda: self.started + self.now)

    async def _sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


class RateLimiter:
    """At most `rate` requests per second per destination, spaced evenly."""

    def __init__(self, rate: float, timing: Timing):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.timing = timing
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = self.timing.clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            await self.timing.sleep(start - now)


@dataclass
class DeliveryReport:
    sent: int = 0                      # rows in requests that reached the vendor
    succeeded: int = 0
    failed: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # (key, action) -> (code, msg)
    transient: set[tuple[str, str]] = field(default_factory=set)  # failed keys still retryable (retries ran out)
    requests: int = 0
    retries: int = 0
    fatal: str | None = None


class PlanWriter:
    """Dry run: write each request as one JSON line, secrets as "***", send nothing."""

    def __init__(self, handle, destination: Destination):
        self.handle, self.destination = handle, destination

    def write(self, request: HttpRequest) -> None:
        secrets = self.destination.secrets()
        line = {"destination": self.destination.name, "method": request.method,
                "url": _redact(_url_with_params(request), secrets),
                "headers": {k: _redact_header(k, v, secrets) for k, v in
                            {**request.headers, **self.destination.auth_headers(),
                             **({"Content-Type": request.content_type()} if request.body is not None else {})}.items()},
                "body": _redact(request.body, secrets)}
        self.handle.write(orjson.dumps(line).decode() + "\n")


def _url_with_params(request: HttpRequest) -> str:
    if not request.params:
        return request.url
    return str(httpx.URL(request.url, params=request.params))


def _redact_header(name: str, value: str, secrets: list[str]) -> str:
    if name.lower() in ("authorization", "access-token", "x-api-key", "api-key", "proxy-authorization"):
        return "***"
    return _redact(value, secrets)


def _redact(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: ("***" if k in ("access_token", "client_secret", "refresh_token") else _redact(v, secrets))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, secrets) for v in value]
    return value


class Deliverer:
    """Sends batches for one destination; collects per-row outcomes into a DeliveryReport."""

    def __init__(self, destination: Destination, client: httpx.AsyncClient | None, context: RunContext, *,
                 timing: Timing | None = None, concurrency: int | None = None, rate: float | None = None,
                 max_attempts: int = 8, backoff_base: float = 0.5, backoff_cap: float = 60.0,
                 plan: PlanWriter | None = None,
                 build: Callable[[Batch, RunContext], HttpRequest | None] | None = None):
        self.destination, self.client, self.context, self.plan = destination, client, context, plan
        # syncs send destination.build_request; event streams send destination.stream_request
        self.build = build or destination.build_request
        self.timing = timing or Timing()
        self.max_attempts, self.backoff_base, self.backoff_cap = max_attempts, backoff_base, backoff_cap
        self.semaphore = asyncio.Semaphore(concurrency or destination.concurrency)
        self.limiter = RateLimiter(rate or destination.requests_per_second, self.timing)
        self.report = DeliveryReport()
        # the run's first request goes alone: a wrong key then costs one request, not one per
        # concurrent slot (see _first_answer)
        self._first_sent = False
        self._first_answered = asyncio.Event()

    async def _first_answer(self) -> bool:
        """Wait until the run's first request is answered; True for the caller that sends it."""
        if not self._first_sent:
            self._first_sent = True
            return True
        await self._first_answered.wait()
        return False

    async def deliver(self, batches: list[Batch]) -> DeliveryReport:
        await asyncio.gather(*(self._deliver_batch(batch, top=True) for batch in batches))
        return self.report

    async def _deliver_batch(self, batch: Batch, top: bool = False) -> None:
        if self.report.fatal:
            self._fail(batch, "not_sent", self.report.fatal)
            return
        if not len(batch):
            return
        limit = self.destination.action_batch_size(batch.action)
        if len(batch) > limit:
            chunks = [Batch(batch.action, batch.keys[i:i + limit], batch.items[i:i + limit],
                            batch.fingerprints[i:i + limit], batch.sequence, batch.last and i + limit >= len(batch))
                      for i in range(0, len(batch), limit)]
            await asyncio.gather(*(self._deliver_batch(chunk, top=top) for chunk in chunks))
            return
        lookup = self.destination.lookup_request(batch, self.context)
        if lookup is not None and self.plan is not None:
            self.plan.write(lookup)
        elif lookup is not None:
            found = await self._send_with_retries(lookup, batch, count_sent=False, lookup=True)
            if found.kind != "ok":
                if found.kind == "fatal":
                    self.report.fatal = self.report.fatal or self.destination.redact(f"{found.code}: {found.message}")
                self._fail(batch, found.code, found.message)
                return
        request = self.build(batch, self.context)
        if request is None:  # the lookup showed nothing to change at the vendor
            self.report.succeeded += len(batch)
            return
        if self.plan is not None:
            self.plan.write(request)
            self.report.requests += 1
            self.report.sent += len(batch)
            self.report.succeeded += len(batch)
            return
        outcome = await self._send_with_retries(request, batch, count_sent=top)
        if outcome.kind == "ok":
            self.report.succeeded += len(batch) - len(outcome.row_errors)
            for index, (code, message) in outcome.row_errors.items():
                self._fail_row(batch, index, code, message)
        elif outcome.kind == "rows" and outcome.row_errors:
            for index, (code, message) in outcome.row_errors.items():
                self._fail_row(batch, index, code, message)
            rest = [i for i in range(len(batch)) if i not in outcome.row_errors]
            if rest:
                await self._deliver_batch(batch.only(rest))
        elif outcome.kind in ("reject", "rows") and len(batch) > 1:
            first, second = batch.split()
            if batch.last:  # the half that closes a vendor session must arrive after the other
                await self._deliver_batch(first)
                await self._deliver_batch(second)
            else:
                await asyncio.gather(self._deliver_batch(first), self._deliver_batch(second))
        elif outcome.kind == "fatal":
            self.report.fatal = self.report.fatal or self.destination.redact(f"{outcome.code}: {outcome.message}")
            self._fail(batch, outcome.code, outcome.message)
        else:
            if outcome.kind == "retry":
                self.report.transient.update((key, batch.action) for key in batch.keys)
            self._fail(batch, outcome.code, outcome.message)

    def _fail(self, batch: Batch, code: str, message: str) -> None:
        for index in range(len(batch)):
            self._fail_row(batch, index, code, message)

    def _fail_row(self, batch: Batch, index: int, code: str, message: str) -> None:
        self.report.failed[(batch.keys[index], batch.action)] = (
            self.destination.redact(str(code))[:100], self.destination.redact(str(message))[:1000])

    async def _send_with_retries(self, request: HttpRequest, batch: Batch, count_sent: bool,
                                 lookup: bool = False) -> Outcome:
        outcome = Outcome("retry", "not_sent", "no attempt made")
        for attempt in range(self.max_attempts):
            if self.report.fatal:   # another batch hit a credential error: nothing more is sent
                return Outcome("fatal", "not_sent", self.report.fatal)
            if attempt:
                self.report.retries += 1
            first = await self._first_answer()
            async with self.semaphore:
                await self.limiter.wait()
                if self.report.fatal:
                    return Outcome("fatal", "not_sent", self.report.fatal)
                self.report.requests += 1
                content = request.content()
                try:
                    response = await self.client.request(
                        request.method, request.url, params=request.params or None,
                        headers={**request.headers, **self.destination.auth_headers(),
                                 **self.destination.send_headers(content, self.timing.wall()),
                                 **({"Content-Type": request.content_type()} if request.body is not None else {})},
                        content=content)
                except RETRYABLE_TRANSPORT as error:
                    outcome = Outcome("retry", "network", f"{error.__class__.__name__} talking to {self.destination.base_url}")
                    response = None
                finally:
                    if first:
                        self._first_answered.set()
                if response is not None:
                    if count_sent:
                        self.report.sent += len(batch)
                        count_sent = False
                    if response.status_code in FATAL_STATUSES:
                        # the vendor refused the credentials: fatal whatever the destination's own
                        # reading, so no destination halves a batch or retries against a 401
                        outcome = Destination.parse_response(self.destination, response, batch)
                    else:
                        outcome = (self._read_lookup(response, batch) if lookup
                                   else self.destination.parse_response(response, batch))
            if outcome.kind == "fatal" and not self.report.fatal:
                self.report.fatal = self.destination.redact(f"{outcome.code}: {outcome.message}")
            if outcome.kind != "retry":
                return outcome
            await self.timing.sleep(self._delay(outcome, attempt))
        return Outcome("retry", outcome.code or "retries_exhausted",
                       f"still failing after {self.max_attempts} attempts: {outcome.message}")

    def _read_lookup(self, response: httpx.Response, batch: Batch) -> Outcome:
        """A lookup is judged by status alone (the base rules); on success its answer feeds the batch."""
        outcome = Destination.parse_response(self.destination, response, batch)
        if outcome.kind == "ok":
            self.destination.apply_lookup(batch, response)
        return outcome

    def _delay(self, outcome: Outcome, attempt: int) -> float:
        if outcome.retry_after is not None:
            return min(outcome.retry_after, self.backoff_cap)
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** attempt)
        return ceiling * (0.5 + 0.5 * self.timing.jitter())  # "equal jitter": never zero, never in step


async def authorize(destination: Destination, client: httpx.AsyncClient) -> None:
    try:
        await destination.authorize(client)
    except httpx.TransportError as error:
        raise DestinationAuthError(f"cannot reach {destination.name}'s token endpoint ({error.__class__.__name__})") from None
