"""Carry a person's deletion to destinations: audience removes and vendor deletion APIs.

Why through the engine's Deliverer: a deletion call meets the same 429s and bad minutes
as a sync, so it gets the same retries, Retry-After handling and secret redaction. Two
kinds of step, both declared by the destination class, never guessed:

- `supports_remove` destinations (Meta Custom Audiences, Google Customer Match, TikTok
  audiences, ...): the row the sync last delivered for the person (headwater_sync.delivered__S)
  is sent again as a `remove` batch, so the vendor drops exactly what it was given;
- `supports_deletion` destinations: the vendor's own data-deletion calls: the class splits
  the person into subjects (`deletion_subjects`: one per email for Klaviyo and Mailchimp, one
  list of ids for Mixpanel and Amplitude) and builds one `deletion_request` per subject.

`capture_targets` runs before the warehouse is erased (it reads sync state); the targets are
plain JSON so the privacy step can keep them encrypted until every step succeeded.
Imports destinations modules and httpx.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from destinations.base import Batch, CredentialProblem, Destination, HttpRequest, RunContext, SkipRow
from destinations.config import DestinationConfig, SyncConfig
from destinations.delivery import Deliverer, Timing, authorize
from destinations.registry import destination_class
from destinations.state import SCHEMA, table

SKIP_COLUMNS = ("row_key", "fingerprint", "delivered_at")


@dataclass
class DeletionOutcome:
    status: str          # succeeded | failed | skipped
    attempts: int
    detail: str


def capture_targets(destinations: list[DestinationConfig], syncs: list[SyncConfig], profile_ids: set[str],
                    people: dict[str, list[str]], run: Callable[[str, list], list[dict]],
                    existing_tables: set[str]) -> list[dict[str, Any]]:
    """Every deletion step this person needs, as JSON: {destination, sync, kind, rows|people}."""
    by_name = {entry.name: entry for entry in destinations}
    targets: list[dict[str, Any]] = []
    for sync in syncs:
        entry = by_name[sync.destination]
        if not destination_class(entry.type).supports_remove or f"delivered__{sync.name}" not in existing_tables \
                or not profile_ids:
            continue
        ids = sorted(profile_ids)
        rows = run(f"SELECT * FROM {table('delivered', sync.name)} WHERE row_key IN ({', '.join(['%s'] * len(ids))})",
                   ids)
        if rows:
            fields = [{k: (v if isinstance(v, (str, int, float, bool)) or v is None else str(v))
                       for k, v in row.items() if k not in ("fingerprint", "delivered_at")} for row in rows]
            targets.append({"destination": entry.name, "sync": sync.name, "kind": "remove", "rows": fields})
    for entry in destinations:
        if destination_class(entry.type).supports_deletion:
            targets.append({"destination": entry.name, "sync": None, "kind": "delete", "people": people})
    return targets


def target_name(target: dict[str, Any]) -> str:
    return f"{target['destination']}/{target['sync']}" if target.get("sync") else target["destination"]


class _DeletionCalls:
    """The destination, answering the vendor's deletion calls instead of sync batches.

    One subject a request (the Deliverer would otherwise pack many into one batch), the
    deletion's own lookup (a sync's list-removal lookup is not a deletion's), and the vendor's
    own reading of a deletion answer (Mailchimp's 404 means "already gone").
    """

    def __init__(self, destination: Destination):
        self._destination = destination

    def __getattr__(self, name: str) -> Any:
        return getattr(self._destination, name)

    def action_batch_size(self, action: str) -> int:
        return 1

    def lookup_request(self, batch: Batch, context: RunContext) -> HttpRequest | None:
        return self._destination.deletion_lookup_request(batch, context)

    def apply_lookup(self, batch: Batch, response: httpx.Response) -> None:
        """A deletion's lookup only has to succeed."""

    def auth_headers(self) -> dict[str, str]:
        return self._destination.deletion_auth_headers()

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        return self._destination.deletion_request(batch.items[0], context)

    def parse_response(self, response: httpx.Response, batch: Batch):
        return self._destination.parse_deletion_response(response, batch)


def send_deletion(entry: DestinationConfig, syncs: list[SyncConfig], target: dict[str, Any], *,
                  timing: Timing | None = None, max_attempts: int = 5) -> DeletionOutcome:
    sync = next((s for s in syncs if s.name == target.get("sync")), None)
    destination = destination_class(entry.type)(entry.name, entry.base_url, entry.credentials, entry.settings,
                                                 sync.settings if sync else None)
    return asyncio.run(_send(destination, entry, target, timing, max_attempts))


async def _send(destination: Destination, entry: DestinationConfig, target: dict[str, Any],
                timing: Timing | None, max_attempts: int) -> DeletionOutcome:
    run_id = uuid.uuid4().hex
    if target["kind"] == "remove":
        keys, items = [], []
        for row in target["rows"]:
            try:
                items.append(destination.prepare({k: v for k, v in row.items() if k not in SKIP_COLUMNS}, "remove"))
                keys.append(str(row["row_key"]))
            except SkipRow as reason:
                return DeletionOutcome("skipped", 0, f"nothing to match on: {reason}")
        sender: Any = destination
    else:
        try:
            items = destination.deletion_subjects(target["people"])
        except CredentialProblem as problem:
            return DeletionOutcome("failed", 0, destination.redact(str(problem)))
        if not items:
            return DeletionOutcome("skipped", 0, "no identifier this vendor deletes by")
        keys, sender = [f"subject-{i + 1}" for i in range(len(items))], _DeletionCalls(destination)
    batch = Batch("remove", keys, items, [""] * len(keys), 1, last=True)
    context = RunContext(f"privacy:{target_name(target)}", run_id, planned={"remove": len(keys)})
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0)) as client:
        try:
            await authorize(destination, client)
        except Exception as error:  # noqa: BLE001 - recorded on the step, retried next time
            return DeletionOutcome("failed", 0, destination.redact(f"authorization failed: {error}"))
        deliverer = Deliverer(sender, client, context, timing=timing, max_attempts=max_attempts,
                              concurrency=entry.concurrency, rate=entry.requests_per_second)
        report = await deliverer.deliver([batch])
    attempts = report.requests
    if report.failed:
        code, message = next(iter(report.failed.values()))
        return DeletionOutcome("failed", attempts, destination.redact(f"{code}: {message}"))
    return DeletionOutcome("succeeded", attempts, f"{len(keys)} sent in {attempts} request(s)")


def delivered_tables(run: Callable[[str, list], list[dict]]) -> set[str]:
    rows = run("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [SCHEMA])
    return {row["table_name"] for row in rows}
