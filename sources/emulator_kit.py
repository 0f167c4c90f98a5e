"""What every vendor emulator needs besides the vendor's own rules: a request log and faults.

Tests assert on what a source asked for (the log: "the incremental run fetched only the
changes") and inject the failures real APIs produce mid-pagination (429 with Retry-After,
a 500 on the Nth request). Each emulator renders the fault in its vendor's error format
through `error_response`, so the source sees exactly what the real API would send.
Imports only starlette; used by sources/<vendor>/emulator.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    params: dict[str, list[str]]
    status: int = 0

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None


def query_lists(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


@dataclass
class EmulatorControl:
    """Shared by a test and the running app: the request log and the pending faults."""

    requests: list[RecordedRequest] = field(default_factory=list)
    _throttle_left: int = 0
    _retry_after: float = 1.0
    _failures: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def throttle(self, requests: int, retry_after: float = 1.0) -> None:
        """Answer the next `requests` calls with 429 and this `Retry-After` (seconds)."""
        with self._lock:
            self._throttle_left, self._retry_after = requests, retry_after

    def fail_request(self, number: int, status: int = 500) -> None:
        """Answer the `number`-th request from now (1 = the next one) with `status`."""
        with self._lock:
            self._failures[len(self.requests) + number] = status

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self._failures.clear()

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def admit(self, request: Request, error_response: Callable[[int, str], Response]) -> Response | None:
        """Log the request; return the injected fault's response, or None to serve it."""
        with self._lock:
            number = len(self.requests) + 1
            status = self._failures.pop(number, None)
            throttled = status is None and self._throttle_left > 0
            if throttled:
                self._throttle_left -= 1
                status = 429
            self.requests.append(RecordedRequest(request.method, request.url.path, query_lists(request), status or 200))
            retry_after = self._retry_after
        if status is None:
            return None
        if status == 429:
            response = error_response(429, "Too many requests hit the API too quickly.")
            response.headers["Retry-After"] = f"{retry_after:g}"
            return response
        return error_response(status, "An unexpected error occurred on the server.")


def vendor_records(world, vendor: str, kind: str) -> list[dict]:
    """One kind of a synthetic world's vendor records (`OUT/vendors/<vendor>/<kind>.jsonl[.gz]`).

    Uses the generator's own reader when it is installed, so the format has one owner.
    """
    import gzip
    from pathlib import Path

    import orjson

    folder = Path(world) / "vendors" / vendor
    if not folder.is_dir():
        raise FileNotFoundError(f"{world} has no vendors/{vendor} folder; is it a generated world?")
    try:
        from sources.synthetic import iter_vendor_records  # the contract in sources/synthetic/FORMAT.md
    except ImportError:
        iter_vendor_records = None
    if iter_vendor_records is not None:
        try:
            return list(iter_vendor_records(world, vendor, kind))
        except FileNotFoundError:  # a partial world (e.g. a test's) simply lacks this kind
            return []
    for path, opener in ((folder / f"{kind}.jsonl", open), (folder / f"{kind}.jsonl.gz", gzip.open)):
        if path.exists():
            with opener(path, "rb") as handle:
                return [orjson.loads(line) for line in handle if line.strip()]
    return []
