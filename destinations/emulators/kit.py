"""What every destination emulator shares: a request log with bodies, faults, and storage.

Built on sources.emulator_kit's EmulatorControl (request log, injected 429/5xx), adding
what a destination test asserts on: the bodies received and what the vendor now holds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sources.emulator_kit import EmulatorControl


@dataclass
class DestinationControl(EmulatorControl):
    """The test's handle on a running emulator."""

    bodies: list[Any] = field(default_factory=list)
    # what the vendor holds now: events by dedup key, audience members by id
    events: dict[str, dict] = field(default_factory=dict)
    event_receipts: int = 0
    members: dict[str, set[str]] = field(default_factory=dict)
    rejected_values: set[str] = field(default_factory=set)   # identifier values the vendor refuses
    store_lock: threading.Lock = field(default_factory=threading.Lock)

    def reject_value(self, value: str) -> None:
        """Make the emulator refuse any item carrying this (hashed) value, as invalid data."""
        self.rejected_values.add(value)

    def record_body(self, body: Any) -> None:
        with self.store_lock:
            self.bodies.append(body)

    def add_event(self, key: str, event: dict) -> None:
        with self.store_lock:
            self.event_receipts += 1
            self.events.setdefault(key, event)  # the vendor deduplicates on the key

    def add_members(self, audience: str, ids: list[str]) -> None:
        with self.store_lock:
            self.members.setdefault(audience, set()).update(ids)

    def remove_members(self, audience: str, ids: list[str]) -> None:
        with self.store_lock:
            self.members.setdefault(audience, set()).difference_update(ids)


async def read_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(raw.decode()))
    return orjson.loads(raw)


async def read_body_or_none(request: Request) -> Any:
    """The parsed body, or None when it is empty or not JSON: for vendors that treat a malformed
    body like a missing one (GA4 drops it silently, Amplitude and Klaviyo answer their usual 400)."""
    try:
        return await read_body(request)
    except orjson.JSONDecodeError:
        return None


def json_error(status: int, body: dict, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


ErrorRenderer = Callable[[int, str], Response]
