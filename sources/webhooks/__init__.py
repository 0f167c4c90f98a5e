"""Inbound vendor webhooks, received by the collect endpoint at /webhooks/{vendor}/{source}.

Each vendor module exposes `receive(entry, headers, body, received_at) -> dict`, which
verifies the signature in constant time and returns one spool record:

    {"source": entry.name, "kind": "webhook", "vendor": "shopify", "topic": "orders/create",
     "webhook_id": "...", "received_at": "...", "raw": {...original payload...},
     "messages": [complete Segment-spec messages, messageId derived from the webhook id]}

or raises `WebhookRejected` (401 bad signature, 400 malformed). A signed delivery whose shape
the converter does not understand is still kept: `messages` is empty and `unconverted` says
why, and the loader stores the raw payload and quarantines that note. The collect endpoint
spools the record durably before answering 200; the loader puts `messages` into the
source's Segment tables and `raw` into its `webhooks` table, both deduplicated on id,
so a re-delivered webhook never duplicates.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

VENDOR_MODULES = {"shopify": "sources.shopify.webhooks", "stripe": "sources.stripe.webhooks"}


class WebhookRejected(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def converted(convert: Callable[..., list[dict]], *args: Any) -> dict[str, Any]:
    """`{"messages": [...]}` from the vendor's converter, or `{"messages": [], "unconverted": why}`.

    Why: the signature proved the vendor sent it, so refusing it (or a 500) would lose a
    real delivery over a shape we did not foresee (a field that is a string, not an object).
    """
    try:
        return {"messages": convert(*args)}
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as error:
        return {"messages": [], "unconverted": f"{type(error).__name__}: {error}"[:300]}


def receiver(vendor: str):
    """The vendor's `receive` function, or None for a vendor without webhooks."""
    module = VENDOR_MODULES.get(vendor)
    return importlib.import_module(module).receive if module else None
