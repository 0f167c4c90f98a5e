"""Shopify (GraphQL Admin API): customers, orders (line items, discounts, refunds), products
(variants) and abandoned checkouts, one table each (children in `<table>__<child>`).

Rows merge on Shopify's numeric id (`legacyResourceId`), the id webhooks carry. Each table
is incremental on `updated_at`: a run asks for `updated_at:>='<last value>'` sorted by
UPDATED_AT and follows `pageInfo.endCursor`; dlt keeps the cursor in its state table in the
warehouse, so any machine resumes it. `>=` rather than `>` because Shopify timestamps are
whole seconds: a record edited in the same second as the last run's newest one is re-read
(and merged away) instead of lost. A table's first load may run as a bulk operation
(`backfill: bulk`, or `auto` above `bulk_threshold` records). Cost-based throttling is
waited out, never failed on (see helpers.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import dlt

from sources.shopify.bulk import read_bulk_nodes, run_bulk_query
from sources.shopify.helpers import ShopifyGraphQL, paginate, shopify_client
from sources.shopify.nodes import RESOURCES, ShopifyResource
from sources.shopify.settings import BULK_BATCH_ROWS, BULK_POLL_SECONDS

__all__ = ["shopify_source"]


@dlt.source(name="shopify", max_table_nesting=1)
def shopify_source(entry, sleep: Callable[[float], None] = time.sleep,
                   clock: Callable[[], float] = time.monotonic, bulk_poll_seconds: float = BULK_POLL_SECONDS):
    """`entry` is a ShopifySourceConfig; `sleep`/`clock` are seams so tests never wait for real."""
    shopify_client(entry).close()  # fail now, before any load, if the token is missing
    return [_resource(entry, resource, sleep, clock, bulk_poll_seconds) for resource in RESOURCES]


def _start_value(entry) -> str | None:
    if not entry.start_date:
        return None
    text = entry.start_date if "T" in entry.start_date else f"{entry.start_date}T00:00:00Z"
    return text.replace("+00:00", "Z")


def _resource(entry, resource: ShopifyResource, sleep, clock, bulk_poll_seconds: float):
    @dlt.resource(name=resource.table, primary_key="id", write_disposition="merge",
                  columns=resource.column_hints(), nested_hints=resource.nested_hints())
    def shopify_nodes(
        updated_at=dlt.sources.incremental("updated_at", initial_value=None),
    ) -> Iterator[list[dict]]:
        state = dlt.current.resource_state()
        since = updated_at.start_value or _start_value(entry)
        search = f"updated_at:>='{_iso(since)}'" if since else None
        with shopify_client(entry, sleep=sleep, clock=clock) as client:
            if not state.get("backfilled") and _use_bulk(entry, client, resource, search):
                url = run_bulk_query(client, resource.bulk_query(search), bulk_poll_seconds)
                batch: list[dict] = []
                for node in read_bulk_nodes(url, resource) if url else []:
                    batch.append(resource.to_row(node))
                    if len(batch) >= BULK_BATCH_ROWS:
                        yield batch
                        batch = []
                if batch:
                    yield batch
            else:
                for page in paginate(client, resource.page_query(), resource.connection, {"query": search}):
                    yield [resource.to_row(_complete(client, resource, node)) for node in page]
        state["backfilled"] = True

    return shopify_nodes


def _iso(value) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def _use_bulk(entry, client: ShopifyGraphQL, resource: ShopifyResource, search: str | None) -> bool:
    """The first load of a table runs in bulk when configured, or (auto) when the shop is big."""
    if entry.backfill == "pages":
        return False
    if entry.backfill == "bulk":
        return True
    data = client.execute(resource.count_query(), {"query": search, "limit": entry.bulk_threshold + 1})
    count = data[f"{resource.connection}Count"] or {"count": 0}
    return count["count"] > entry.bulk_threshold


def _complete(client: ShopifyGraphQL, resource: ShopifyResource, node: dict) -> dict:
    """Fetch the rest of any child connection whose first page did not hold all of it."""
    for nested in resource.nested:
        connection = node.get(nested.field) or {}
        info = connection.get("pageInfo") or {}
        while info.get("hasNextPage"):
            data = client.execute(resource.follow_up_query(nested), {"id": node["id"], "after": info["endCursor"]})
            more = data["node"][nested.field]
            connection["nodes"].extend(more["nodes"])
            info = more["pageInfo"]
    return node


