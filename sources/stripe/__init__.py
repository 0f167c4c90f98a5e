"""Stripe: customers, charges, payment intents, invoices, subscriptions, refunds, checkout sessions.

Loaded into one table per object, merged on Stripe's `id`. The first run (and any run whose
cursor is older than Stripe's 30-day event retention) reads the list endpoints from
`start_date` (`created[gte]`, `limit=100`, `starting_after`). Later runs read only the
Events API (`/v1/events`, `created[gte]` at the saved cursor, this object's `types[]`) and
merge the newest state of every object an event touched, so a cancelled subscription or an
edited customer is current in the warehouse; `*.deleted` customers and invoices are removed.
The cursor lives in dlt's resource state, which dlt keeps in the warehouse.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import dlt

from sources.stripe.helpers import (advance_cursor, events_since, latest_objects, list_objects,
                                    start_timestamp, stripe_client)
from sources.stripe.settings import DEFAULT_START_DATE, EVENT_RETENTION_SECONDS, OBJECTS, StripeObject


@dlt.source(name="stripe", max_table_nesting=1)
def stripe_source(entry, clock: Callable[[], float] = time.time,
                  sleep: Callable[[float], None] | None = None):
    """`entry` is a StripeSourceConfig; `clock`/`sleep` are seams for tests."""
    stripe_client(entry).close()  # fail now, before any load, if the key is missing
    start = start_timestamp(entry.start_date, DEFAULT_START_DATE)
    return [_object_resource(entry, obj, start, clock, sleep) for obj in OBJECTS]


def _object_resource(entry, obj: StripeObject, start: int, clock, sleep):
    @dlt.resource(name=obj.table, primary_key="id", write_disposition="merge",
                  columns={"deleted": {"data_type": "bool", "hard_delete": True}})
    def stripe_objects() -> Iterator[list[dict]]:
        state = dlt.current.resource_state()
        now = int(clock())
        cursor = state.get("events_cursor")
        with stripe_client(entry, sleep) as client:
            if cursor is None or cursor < now - EVENT_RETENTION_SECONDS:
                yield from list_objects(client, obj, start)
                state["events_cursor"], state["events_seen"] = now, []
                state["last_full_load"] = now
                return
            events = events_since(client, obj, cursor)
            rows = latest_objects(events, obj, set(state.get("events_seen", [])))
            if rows:
                yield rows
            state["events_cursor"], state["events_seen"] = advance_cursor(
                cursor, set(state.get("events_seen", [])), events, now)

    return stripe_objects
