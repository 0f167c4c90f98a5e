"""The world's people as Shopify, Stripe and Mailchimp API records (shapes in ../FORMAT.md).

Each module turns a person's Story into that vendor's records and reports the
identifiers each record exposes; the world writer decides where they go. May import the
rest of sources.synthetic, never pipelines/ or the source emulators.
"""

from __future__ import annotations

from typing import Protocol


class RecordSink(Protocol):
    def write(self, vendor: str, kind: str, record: dict, person_id: str | None, key: str | None = None) -> None:
        """Store one vendor record; `person_id` None for records that belong to nobody (products)."""


class IdentifierSink(Protocol):
    def add(self, id_type: str, raw: str | None) -> None:
        """Note an identifier as this person exposes it (raw: normalized by the sink)."""
