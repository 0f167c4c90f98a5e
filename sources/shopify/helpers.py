"""Talking to the GraphQL Admin API: auth, pinned version, retries and cost-based throttling.

Why the throttling is ours: Shopify answers an over-budget query with HTTP 200 and a
`THROTTLED` error instead of a 429, and reports its bucket in `extensions.cost`. The
client waits exactly as long as the bucket needs to refill for that query
((requested - available) / restoreRate) and asks again, and before each request it waits
if the last known bucket cannot pay for the query, so a load slows down instead of failing.
One request is retried, never a listing restarted, so every record comes exactly once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from sources.shopify.settings import GRAPHQL_PATH, MAX_ATTEMPTS, MAX_THROTTLE_WAITS, SHOP_URL
from sources.vendor_http import (RETRY_STATUSES, MissingCredential, VendorError, VendorRejected,
                                 VendorUnreachable, retry_after_seconds)


@dataclass
class Bucket:
    """The last throttle status Shopify reported, and when we saw it."""

    available: float
    maximum: float
    restore_rate: float
    seen_at: float

    def available_at(self, now: float) -> float:
        return min(self.maximum, self.available + max(now - self.seen_at, 0.0) * self.restore_rate)


class ShopifyGraphQL:
    """POST queries to `/admin/api/<version>/graphql.json` with `X-Shopify-Access-Token`."""

    def __init__(self, source_name: str, base_url: str, api_version: str, access_token: str, *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 timeout: float = 60.0):
        self.label = f"shopify source {source_name!r}"
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + GRAPHQL_PATH.format(version=api_version)
        self.sleep, self.clock = sleep, clock
        self.bucket: Bucket | None = None
        self.requests_made = 0
        self.throttle_waits: list[float] = []
        self._last_cost: dict[str, float] = {}
        self._http = httpx.Client(headers={"X-Shopify-Access-Token": access_token,
                                           "Content-Type": "application/json"}, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "ShopifyGraphQL":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _wait_for_budget(self, query: str) -> None:
        cost = self._last_cost.get(query)
        if self.bucket is None or cost is None:
            return
        missing = cost - self.bucket.available_at(self.clock())
        if missing > 0:
            self._wait(missing / self.bucket.restore_rate)

    def _wait(self, seconds: float) -> None:
        seconds = math.ceil(seconds * 10) / 10
        self.throttle_waits.append(seconds)
        self.sleep(seconds)

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict:
        """The `data` of a successful answer; waits out throttling, retries transient failures."""
        attempts = throttled = 0
        while True:
            self._wait_for_budget(query)
            response = self._post(query, variables, attempts)
            if response is None:
                attempts += 1
                if attempts >= MAX_ATTEMPTS:
                    raise VendorError(f"{self.label}: {self.url} still failing after {MAX_ATTEMPTS} attempts")
                continue
            body = response.json()
            cost = (body.get("extensions") or {}).get("cost") or {}
            self._remember(query, cost)
            errors = body.get("errors") or []
            if any((error.get("extensions") or {}).get("code") == "THROTTLED" for error in errors):
                throttled += 1
                if throttled > MAX_THROTTLE_WAITS:
                    raise VendorError(f"{self.label}: still THROTTLED after {MAX_THROTTLE_WAITS} waits")
                self._wait(self._refill_seconds(cost))
                continue
            if errors:
                messages = "; ".join(str(error.get("message", error)) for error in errors[:3])
                raise VendorRejected(f"{self.label}: the GraphQL Admin API refused the query: {messages}", 200)
            return body["data"]

    def _post(self, query: str, variables: dict | None, attempt: int) -> httpx.Response | None:
        """The response to act on, or None when the request should simply be sent again."""
        self.requests_made += 1
        try:
            response = self._http.post(self.url, json={"query": query, "variables": variables or {}})
        except httpx.ConnectError as error:
            raise VendorUnreachable(f"{self.label}: cannot reach {self.base_url} ({error.__class__.__name__}); "
                                    f"check the network or the source's base_url") from None
        except (httpx.ReadError, httpx.RemoteProtocolError, httpx.TimeoutException):
            self.sleep(min(0.5 * 2**attempt, 30.0))
            return None
        if response.status_code in RETRY_STATUSES:
            self.sleep(retry_after_seconds(response, attempt))
            return None
        if response.status_code == 401:
            raise VendorRejected(f"{self.label}: Shopify rejected the access token (401: {_errors(response)}); "
                                 f"set access_token to the app's Admin API access token (shpat_...)", 401)
        if response.status_code in (402, 403, 404, 423):
            hint = {402: "the shop's plan is frozen", 403: "the app lacks an access scope (read_orders, read_customers, read_products)",
                    404: "check shop, base_url and api_version", 423: "the shop is locked"}[response.status_code]
            raise VendorRejected(f"{self.label}: {response.status_code} from Shopify ({_errors(response)}); {hint}",
                                 response.status_code)
        if response.status_code >= 400:
            raise VendorRejected(f"{self.label}: HTTP {response.status_code}: {_errors(response)}", response.status_code)
        return response

    def _remember(self, query: str, cost: dict) -> None:
        status = cost.get("throttleStatus")
        if status:
            self.bucket = Bucket(float(status["currentlyAvailable"]), float(status["maximumAvailable"]),
                                 float(status["restoreRate"]) or 1.0, self.clock())
        if cost.get("requestedQueryCost") is not None:
            self._last_cost[query] = float(cost["requestedQueryCost"])

    @staticmethod
    def _refill_seconds(cost: dict) -> float:
        status = cost.get("throttleStatus") or {}
        requested = float(cost.get("requestedQueryCost") or 0)
        rate = float(status.get("restoreRate") or 50)
        missing = requested - float(status.get("currentlyAvailable") or 0)
        return max(missing / rate, 1.0 / rate)


def _errors(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors")
    except ValueError:
        return response.text[:200]
    return str(errors)[:200]


def shopify_client(entry, *, sleep: Callable[[float], None] = time.sleep,
                   clock: Callable[[], float] = time.monotonic) -> ShopifyGraphQL:
    if entry.access_token is None or not entry.access_token.get_secret_value():
        raise MissingCredential(
            f"sources.{entry.name}.access_token is not set; add `access_token: ${{SHOPIFY_ACCESS_TOKEN}}` "
            f"to the source in headwater.yml and export SHOPIFY_ACCESS_TOKEN (the app's Admin API token)"
        )
    base_url = entry.base_url or SHOP_URL.format(shop=entry.shop)
    return ShopifyGraphQL(entry.name, base_url, entry.api_version, entry.access_token.get_secret_value(),
                          sleep=sleep, clock=clock)


def paginate(client: ShopifyGraphQL, query: str, connection: str, variables: dict[str, Any]) -> Iterator[list[dict]]:
    """Every page of a top-level connection, following `pageInfo.endCursor` while `hasNextPage`."""
    after: str | None = None
    while True:
        data = client.execute(query, {**variables, "after": after})
        page = data[connection]
        yield page["nodes"]
        info = page["pageInfo"]
        if not info["hasNextPage"]:
            return
        after = info["endCursor"]
