"""The HTTP client every REST cloud source (Stripe, Mailchimp) shares: pooled, retrying.

Why one client: each vendor rate-limits with 429 + `Retry-After` and has the odd 5xx, and a
source must ride those out mid-pagination without losing or repeating a page. Retrying
one request (never restarting a listing) is what keeps "every record exactly once".
Errors that a person must fix come out as `VendorError` subclasses whose message names the
source, the vendor's own explanation and the fix, and never a credential.
Imports only httpx; used by sources/<vendor>/helpers.py.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class VendorError(Exception):
    """A cloud source failed in a way the user can act on; the message is one line."""


class MissingCredential(VendorError):
    """The source's config entry lacks its API credential."""


class VendorUnreachable(VendorError):
    """The vendor's API (or its emulator) could not be reached at all."""


class VendorRejected(VendorError):
    """The vendor answered with a non-retryable error (bad key, bad request...)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def retry_after_seconds(response: httpx.Response, attempt: int, cap: float = 60.0) -> float:
    """Seconds to wait before retrying: the server's `Retry-After` if given, else backoff."""
    header = response.headers.get("retry-after")
    if header:
        try:
            return min(max(float(header), 0.0), cap)
        except ValueError:
            moment = email.utils.parsedate_to_datetime(header)
            if moment is not None:
                return min(max((moment - datetime.now(timezone.utc)).total_seconds(), 0.0), cap)
    return min(0.5 * 2**attempt, cap)


class RetryingClient:
    """GET JSON from one vendor API, retrying 429/5xx/connection resets with backoff.

    `describe_error(response)` turns the vendor's error body into a short sentence, so the
    same client serves Stripe's `{"error": {...}}` and Mailchimp's problem+json.
    `sleep` is injectable so tests can observe the waits instead of spending them.
    """

    def __init__(self, vendor: str, base_url: str, *, headers: Mapping[str, str] | None = None,
                 auth: httpx.Auth | tuple[str, str] | None = None,
                 describe_error: Callable[[httpx.Response], str] = lambda r: r.text[:200],
                 max_attempts: int = 8, timeout: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep):
        self.vendor = vendor
        self.base_url = base_url.rstrip("/")
        self.describe_error = describe_error
        self.max_attempts = max_attempts
        self.sleep = sleep
        self.requests_made = 0
        self._client = httpx.Client(headers=dict(headers or {}), auth=auth, timeout=timeout)

    def get(self, path: str, params: Any = None) -> dict:
        url = f"{self.base_url}{path}"
        last_problem = ""
        for attempt in range(self.max_attempts):
            try:
                self.requests_made += 1
                response = self._client.get(url, params=params)
            except httpx.ConnectError as error:
                raise VendorUnreachable(
                    f"{self.vendor}: cannot reach {self.base_url} ({error.__class__.__name__}); "
                    f"check the network or the source's base_url"
                ) from None
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.TimeoutException) as error:
                last_problem = error.__class__.__name__
                self.sleep(min(0.5 * 2**attempt, 30.0))
                continue
            if response.status_code < 400:
                return response.json()
            if response.status_code in RETRY_STATUSES:
                last_problem = f"HTTP {response.status_code}"
                self.sleep(retry_after_seconds(response, attempt))
                continue
            raise VendorRejected(
                f"{self.vendor}: {path} answered {response.status_code}: {self.describe_error(response)}",
                response.status_code,
            )
        raise VendorError(f"{self.vendor}: {path} still failing after {self.max_attempts} attempts ({last_problem})")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "RetryingClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
