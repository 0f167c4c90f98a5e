"""`generate_world`: stream a whole fictional business to disk, one person at a time.

Why streaming: a million people make ~50M events; each person is built, written and
forgotten, so memory stays flat (only batch buffers, per-campaign counters and the small
registry of shared identifiers are kept). Everything is a pure function of the seed and
the person index, in person order, so the output is byte-identical for a seed.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs

from sources.synthetic.clock import iso, iso_seconds, parse_end, window_start
from sources.synthetic.files import BatchWriter, JsonlWriter
from sources.synthetic.people import make_person
from sources.synthetic.randomness import keyed_rng, rng_hex
from sources.synthetic.settings import EVENT_SOURCES, Manifest, WorldRates
from sources.synthetic.story import Counters, StoryWriter
from sources.synthetic.truth import ObservedIdentifiers, TruthWriter
from sources.synthetic.vendors import mailchimp, shopify, stripe

VENDOR_FILES = {
    "shopify": ("products", "customers", "orders", "abandoned_checkouts"),
    "stripe": ("customers", "charges", "payment_intents", "invoices", "subscriptions", "refunds", "checkout_sessions"),
    "mailchimp": ("lists", "members", "campaigns", "reports", "email_activity", "unsubscribes"),
}
_SINGULAR = {"customers": "customer", "orders": "order", "abandoned_checkouts": "abandoned_checkout",
             "charges": "charge", "payment_intents": "payment_intent", "invoices": "invoice",
             "subscriptions": "subscription", "refunds": "refund", "checkout_sessions": "checkout_session",
             "members": "member", "email_activity": "email_activity", "unsubscribes": "unsubscribe"}
_OWNED = ("events", "vendors", "truth", "manifest.json")


class WorldError(ValueError):
    """A generation request that cannot be honoured, phrased for the person asking."""


class _WorldSink:
    """Where vendor records go: their JSON Lines file, plus a truth record for the person."""

    def __init__(self, root: Path, compress: bool, truth: TruthWriter):
        self.truth = truth
        self.files = {(vendor, kind): JsonlWriter(root / "vendors" / vendor / f"{kind}.jsonl", compress)
                      for vendor, kinds in VENDOR_FILES.items() for kind in kinds}

    def write(self, vendor: str, kind: str, record: dict, person_id: str | None, key: str | None = None) -> None:
        self.files[(vendor, kind)].write(record)
        if person_id is not None and key is not None:
            self.truth.record(f"{vendor}_{_SINGULAR[kind]}", key, person_id)

    def close(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for (vendor, kind), writer in self.files.items():
            writer.close()
            counts.setdefault(vendor, {})[kind] = writer.count
        return counts


def message_identifiers(message: dict) -> list[tuple[str, str | None]]:
    """The identifiers a Segment message carries, as the models read them."""
    found = [("anonymous_id", message["anonymousId"]), ("user_id", message.get("userId"))]
    traits = message.get("traits")
    if traits and message["type"] == "identify":
        found += [("email", traits.get("email")), ("phone", traits.get("phone"))]
    return found


def message_links(message: dict) -> list[str]:
    """Keys a message shares with other records: the order or checkout it completes or starts,
    and the Mailchimp email id (mc_eid) of the campaign link that opened its page."""
    links = []
    properties = message.get("properties") or {}
    if message.get("event") in ("Order Completed", "Checkout Started"):
        if properties.get("order_id"):
            links.append(f"order:{properties['order_id']}")
        if properties.get("checkout_id"):
            links.append(f"checkout:{properties['checkout_id']}")
    search = ((message.get("context") or {}).get("page") or {}).get("search") or ""
    for eid in parse_qs(search.lstrip("?")).get("mc_eid", ()):
        links.append(f"mc_eid:{eid}")
    return links


def write_keys(seed: int) -> dict[str, str]:
    rng = keyed_rng(seed, "write-keys", "world")
    return {source: f"wk_{source}_{rng_hex(rng, 24)}" for source in EVENT_SOURCES}


def _prepare(out: Path) -> None:
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").exists():
        raise WorldError(f"{out} is not empty and holds no generated world; choose an empty or new folder")
    for name in _OWNED:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def generate_world(out_dir: Path | str, people: int, seed: int, end: datetime | str | None = None, months: int = 6,
                   rates: WorldRates | Mapping[str, float] | None = None, compress: bool = False,
                   progress: Callable[[int], None] | None = None) -> Manifest:
    """Write a world of `people` people to `out_dir` (layout in FORMAT.md) and return its manifest."""
    if people < 2:
        raise WorldError("people must be at least 2 (pairs of people share devices, emails and phones)")
    if not 1 <= months <= 60:
        raise WorldError("months must be between 1 and 60")
    rates = rates if isinstance(rates, WorldRates) else WorldRates.model_validate(dict(rates or {}))
    end_time = end if isinstance(end, datetime) else parse_end(end)
    start_time = window_start(end_time, months)
    start, stop = start_time.timestamp(), end_time.timestamp()
    out = Path(out_dir)
    _prepare(out)

    truth = TruthWriter(out / "truth")
    sink = _WorldSink(out, compress, truth)
    batches = {source: BatchWriter(out / "events" / source, compress) for source in EVENT_SOURCES}
    events = {source: 0 for source in EVENT_SOURCES}
    account = mailchimp.MailchimpAccount(seed, start, stop)
    stories = StoryWriter(seed, rates, start, stop, Counters(), account.sends())
    shopify.write_products(sink)

    for index in range(people):
        person = make_person(seed, index, people, rates)
        observed = ObservedIdentifiers(person)
        duplicates: list = []

        def deliver(emitted) -> None:
            message = emitted.message
            batches[emitted.source].add(message)
            events[emitted.source] += 1
            truth.record("event", message["messageId"], person.id, source=emitted.source,
                         true_time=iso(emitted.true_time), skew_seconds=emitted.skew, late=emitted.late,
                         duplicated=emitted.duplicated)
            observed.record(message_identifiers(message), message_links(message))
            if emitted.duplicated:
                duplicates.append(emitted)

        story = stories.write(person, deliver)
        for emitted in story.late_messages:  # the offline device finally sends its queue
            deliver(emitted)
        for emitted in duplicates:  # the SDK retried after a lost response: same messageId again
            batches[emitted.source].add(emitted.message)
        shopify.write_person(seed, story, sink, observed)
        stripe.write_person(seed, rates, stop, story, sink, observed)
        account.write_person(story, sink, observed, rates.email_variant)
        truth.person_done(observed)
        if progress is not None and (index + 1) % 500 == 0:
            progress(index + 1)
    account.write_account(sink)

    counts = sink.close()
    counts["events"] = events
    counts["messages_written"] = {s: w.messages for s, w in batches.items()}
    for writer in batches.values():
        writer.close()
    counts["batches"] = {s: w.files for s, w in batches.items()}
    counts["truth"] = truth.close()
    if progress is not None:
        progress(people)
    manifest = Manifest(seed=seed, people=people, start=iso_seconds(start), end=iso_seconds(stop), months=months,
                        rates=rates, write_keys=write_keys(seed), counts=counts, compressed=compress)
    (out / "manifest.json").write_text(json.dumps(manifest.model_dump(mode="json"), indent=2) + "\n")
    return manifest


def read_manifest(world_dir: Path | str) -> Manifest:
    path = Path(world_dir) / "manifest.json"
    if not path.exists():
        raise WorldError(f"{world_dir} has no manifest.json; generate a world there first (headwater generate)")
    return Manifest.model_validate_json(path.read_text())
