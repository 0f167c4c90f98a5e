"""Mailchimp HTTP details: data centre from the key, Basic auth, offset/count pagination.

Why offset pagination stops on `total_items`: Mailchimp reports the size of the filtered
collection with every page, so the last page is known without an extra empty request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import httpx

from sources.mailchimp.settings import API_ROOT, PAGE_COUNT
from sources.vendor_http import MissingCredential, RetryingClient


def describe_mailchimp_error(response: httpx.Response) -> str:
    """Mailchimp's problem+json `{"title", "detail"}` as one sentence."""
    try:
        problem = response.json()
        return f"{problem.get('title', 'error')}: {problem.get('detail', '')}"
    except (ValueError, AttributeError):
        return response.text[:200]


def api_root(entry) -> str:
    """`base_url` if set (an emulator), else the key's data centre: `xxxx-us21` -> us21."""
    if entry.base_url:
        return entry.base_url.rstrip("/")
    key = entry.api_key.get_secret_value()
    _, dash, dc = key.rpartition("-")
    if not dash or not dc.isalnum():
        raise MissingCredential(
            f"sources.{entry.name}.api_key does not end in a data centre like '-us21'; copy the whole key "
            f"from Mailchimp (Account > Extras > API keys) or set base_url"
        )
    return API_ROOT.format(dc=dc)


def mailchimp_client(entry, sleep: Callable[[float], None] | None = None) -> RetryingClient:
    if entry.api_key is None or not entry.api_key.get_secret_value():
        raise MissingCredential(
            f"sources.{entry.name}.api_key is not set; add `api_key: ${{MAILCHIMP_API_KEY}}` to the "
            f"source in headwater.yml and export MAILCHIMP_API_KEY"
        )
    extra = {"sleep": sleep} if sleep else {}
    return RetryingClient(f"mailchimp source {entry.name!r}", api_root(entry),
                          auth=("headwater", entry.api_key.get_secret_value()),
                          describe_error=describe_mailchimp_error, **extra)


def pages(client: RetryingClient, path: str, key: str, params: dict[str, str] | None = None) -> Iterator[list[dict]]:
    """Every page of a Mailchimp collection, `count=1000` at a time."""
    offset = 0
    while True:
        body = client.get(path, {**(params or {}), "count": str(PAGE_COUNT), "offset": str(offset)})
        items = body.get(key, [])
        if items:
            yield items
        offset += len(items)
        if not items or offset >= body.get("total_items", 0):
            return


def activity_rows(email: dict) -> Iterator[dict]:
    """One row per open/click/bounce, keyed by a stable hash of what makes it unique."""
    for activity in email.get("activity", []):
        row = {"campaign_id": email["campaign_id"], "list_id": email.get("list_id"),
               "email_id": email["email_id"], "email_address": email.get("email_address"),
               "action": activity.get("action"), "type": activity.get("type"),
               "timestamp": activity.get("timestamp"), "url": activity.get("url"), "ip": activity.get("ip")}
        identity = "|".join(str(row[k] or "") for k in ("campaign_id", "email_id", "action", "timestamp", "url"))
        row["activity_id"] = hashlib.md5(identity.encode()).hexdigest()
        yield row


def pages_since(client: RetryingClient, path: str, key: str, cursors: dict[str, str], parent_id: str,
                since_param: str, stamp: str, rows_of: Callable[[list[dict]], list[dict]]) -> Iterator[list[dict]]:
    """Rows of one parent's collection changed since its cursor, advancing the cursor once read.

    Mailchimp filters members and email activity per list or per campaign (`since_last_changed`,
    `since`), so the cursor is one timestamp per parent id in `cursors` (dlt resource state):
    the newest `stamp` seen, stored only after the last page so an interrupted run re-reads.
    `rows_of` turns a page into the rows to load; pages with no rows yield nothing.
    """
    since = cursors.get(parent_id)
    newest = since
    for page in pages(client, path, key, {since_param: since} if since else {}):
        rows = rows_of(page)
        if rows:
            yield rows
        stamps = [row[stamp] for row in rows if row.get(stamp)]
        if stamps and (newest is None or max(stamps) > newest):
            newest = max(stamps)
    if newest:
        cursors[parent_id] = newest
