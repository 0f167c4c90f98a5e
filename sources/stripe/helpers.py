"""Stripe HTTP details: authentication, list pagination and the Events API cursor.

Why a cursor with "seen" ids: Stripe timestamps are whole seconds, so a run that stops at
second T may miss events created later in that same second. We ask for `created[gte]=T`
and skip the event ids already applied at T, which loses nothing and repeats nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import httpx

from sources.stripe.settings import PAGE_LIMIT, QUIET_ADVANCE_SECONDS, StripeObject
from sources.vendor_http import MissingCredential, RetryingClient


def describe_stripe_error(response: httpx.Response) -> str:
    """Stripe's `{"error": {"type", "message", "param"}}` as one sentence."""
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
    if not isinstance(error, dict):   # not Stripe's shape (a proxy, a wrong base_url): say what came
        return str(error)[:200]
    param = f" (param {error['param']})" if error.get("param") else ""
    return f"{error.get('type', 'error')}: {error.get('message', '')}{param}"


def stripe_client(entry, sleep: Callable[[float], None] | None = None) -> RetryingClient:
    if entry.api_key is None or not entry.api_key.get_secret_value():
        raise MissingCredential(
            f"sources.{entry.name}.api_key is not set; add `api_key: ${{STRIPE_API_KEY}}` to the "
            f"source in headwater.yml and export STRIPE_API_KEY (a restricted key with read access)"
        )
    headers = {
        "Authorization": f"Bearer {entry.api_key.get_secret_value()}",
        "Stripe-Version": entry.stripe_version,
    }
    extra = {"sleep": sleep} if sleep else {}
    return RetryingClient(f"stripe source {entry.name!r}", entry.base_url, headers=headers,
                          describe_error=describe_stripe_error, **extra)


def start_timestamp(start_date: str | None, default: str) -> int:
    """`start_date` (YYYY-MM-DD or ISO datetime) as Unix seconds, for `created[gte]`."""
    text = start_date or default
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"start_date {text!r} is not an ISO date; write it as YYYY-MM-DD") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def list_pages(client: RetryingClient, path: str, params: dict[str, str]) -> Iterator[list[dict]]:
    """Every page of a Stripe list endpoint, newest first, following `starting_after`."""
    starting_after: str | None = None
    while True:
        query = {**params, "limit": str(PAGE_LIMIT)}
        if starting_after:
            query["starting_after"] = starting_after
        page = client.get(path, query)
        data = page.get("data", [])
        if data:
            yield data
        if not page.get("has_more") or not data:
            return
        starting_after = data[-1]["id"]


def list_objects(client: RetryingClient, obj: StripeObject, created_gte: int) -> Iterator[list[dict]]:
    return list_pages(client, obj.path, {**dict(obj.list_params), "created[gte]": str(created_gte)})


def events_since(client: RetryingClient, obj: StripeObject, cursor: int) -> list[dict]:
    """Events of this object's types created at or after `cursor`, oldest first."""
    params = {"created[gte]": str(cursor)}
    params.update({f"types[{i}]": t for i, t in enumerate(obj.event_types)})
    events = [event for page in list_pages(client, "/v1/events", params) for event in page]
    events.reverse()  # Stripe lists newest first; apply in the order they happened
    events.sort(key=lambda event: event["created"])  # stable: keeps ties in that order
    return events


def latest_objects(events: list[dict], obj: StripeObject, seen: set[str]) -> list[dict]:
    """The newest state of each object the events touch (one row per id, for the merge)."""
    latest: dict[str, dict] = {}
    for event in events:
        if event["id"] in seen:
            continue
        current = event.get("data", {}).get("object") or {}
        if current.get("object") != obj.object_type or "id" not in current:
            continue
        row = dict(current)
        if event["type"].endswith(".deleted") and obj.object_type in ("customer", "invoice"):
            row["deleted"] = True  # Stripe's deleted-object marker; the merge removes the row
        latest[row["id"]] = row
    return list(latest.values())


def advance_cursor(cursor: int, seen: set[str], events: list[dict], now: int) -> tuple[int, list[str]]:
    """The next (cursor, seen ids): the newest event second, or an hour ago when quiet."""
    if events:
        newest = events[-1]["created"]
        if newest > cursor:
            return newest, sorted(e["id"] for e in events if e["created"] == newest)
        return cursor, sorted(seen | {e["id"] for e in events if e["created"] == cursor})
    quiet = now - QUIET_ADVANCE_SECONDS
    return (quiet, []) if quiet > cursor else (cursor, sorted(seen))
