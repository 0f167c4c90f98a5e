"""The world's people as Shopify, Stripe and Mailchimp API records (shapes in ../FORMAT.md).

Each module turns a person's Story into that vendor's records and reports the
identifiers each record exposes; the world writer decides where they go. May import the
rest of sources.synthetic, never pipelines/ or the source emulators.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class RecordSink(Protocol):
    def write(self, vendor: str, kind: str, record: dict, person_id: str | None, key: str | None = None) -> None:
        """Store one vendor record; `person_id` None for records that belong to nobody (products)."""


class IdentifierSink(Protocol):
    def record(self, identifiers: Iterable[tuple[str, str | None]], links: Iterable[str] = ()) -> None:
        """Note the identifiers one record exposes together, raw (the sink normalizes them), and
        the keys that join it to other records (`order:<id>`, `checkout:<id>`, `mc_eid:<id>`)."""
