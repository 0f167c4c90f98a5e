"""Workflows: when an event (or an audience change) happens, if it matches, maybe wait, then act.

A trigger instance is one (workflow, triggering event) pair; its id is derived from the
workflow and the event's messageId (or the audience, person and build time), so reading the
same spool again, or a client's retried event, never starts a second run. Runs live in the
stream state (`workflow_runs`): `waiting` until `due_at`, `cancelled` when the same person
sent an `unless` event in the meantime, `done` when every action ran, `failed` when a
vendor refused an action for good. `actions_done` is committed after each action, so a
restart continues with the next action, never repeats one the vendor accepted (a crash
between the vendor's answer and that commit resends it, under the same idempotency key).
The warehouse sees the runs as `cdp.workflow_runs`.
Imports destinations (base, delivery, engine, streams).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import orjson

from destinations.base import Batch, RunContext, SkipRow
from destinations.delivery import Deliverer, DeliveryReport, Timing
from destinations.engine import make_destination
from destinations.streams.config import WorkflowConfig
from destinations.streams.consent import identifiers
from destinations.streams.events import event_view, matches
from destinations.streams.forwarder import CHUNK_EVENTS, SpoolFollower
from destinations.streams.state import DeadLetter, StreamState, utc_now
from headwater.config import ConfigError, HeadwaterConfig, find_named
from headwater.suppression import SuppressionList

WORKFLOW_READER = "_workflows"     # the cursor name of the workflow engine in the stream state


def run_id(workflow: str, key: str) -> str:
    return hashlib.sha256(f"{workflow}|{key}".encode()).hexdigest()[:32]


def _moment(message: dict[str, Any]) -> datetime:
    """When the trigger happened, by the server's clock (receivedAt), so a client's clock
    cannot skip a wait."""
    for field in ("receivedAt", "timestamp"):
        try:
            value = datetime.fromisoformat(str(message[field]).replace("Z", "+00:00"))
            return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
        except (KeyError, ValueError):
            continue
    return datetime.now(timezone.utc)


def start_run(state: StreamState, workflow: WorkflowConfig, key: str, message: dict, moment: datetime,
              people: list[str]) -> bool:
    """A new run, unless this trigger instance already has one; True when it was new."""
    due = moment + timedelta(seconds=workflow.wait_seconds)
    inserted = state.execute(
        "INSERT INTO workflow_runs (id, workflow, trigger_key, person, identifiers, status, triggered_at, due_at, "
        "event, updated_at) VALUES (?, ?, ?, ?, ?, 'waiting', ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        (run_id(workflow.name, key), workflow.name, key, people[0] if people else "", orjson.dumps(people).decode(),
         moment.isoformat(), due.isoformat(), orjson.dumps(message, default=str).decode(), utc_now()))
    return inserted > 0


class WorkflowEngine(SpoolFollower):
    def __init__(self, config: HeadwaterConfig, state: StreamState, *, transport: httpx.AsyncBaseTransport | None = None,
                 timing: Timing | None = None, suppression: SuppressionList | None = None,
                 chunk_events: int = CHUNK_EVENTS, clock=lambda: datetime.now(timezone.utc)):
        super().__init__(config, WORKFLOW_READER, state, "earliest", suppression, chunk_events)
        self.workflows = [w for w in config.workflows if w.enabled]
        self.timing, self.transport, self.clock = timing or Timing(), transport, clock
        self.destinations = {}
        for workflow in self.workflows:
            for index, action in enumerate(workflow.actions):
                entry = find_named(config.destinations, action.destination, "destination")
                destination = make_destination(entry, action.settings)
                if not destination.stream_types:
                    raise ConfigError(f"workflow {workflow.name}: actions[{index}]: destination {entry.name} "
                                      f"({entry.type}) cannot take an action; use slack, webhook, mailchimp_audience, "
                                      "klaviyo_events or another event destination")
                self.destinations[(workflow.name, index)] = (entry, destination)
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> "WorkflowEngine":
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(30.0), transport=self.transport)
        self._start_position()
        self.status = "running"
        return self

    async def __aexit__(self, *exc) -> None:
        if self._client is not None:
            await self._client.aclose()

    # --- triggers ------------------------------------------------------------------------
    async def consume(self, frames, counts: Counter) -> list[DeadLetter]:
        for frame in frames:
            record = frame.record
            if record.get("kind") != "events":
                continue
            for message in record.get("messages") or ():
                if isinstance(message, dict):
                    self.observe(message, record.get("source", ""), counts)
        await self.idle()
        return []

    def observe(self, message: dict[str, Any], source: str, counts: Counter) -> None:
        """Cancel what this event ends (`unless`), then start the runs it triggers."""
        self.gate.observe(message)
        people = identifiers(message)
        moment = _moment(message)
        for workflow in self.workflows:
            if workflow.sources and source not in workflow.sources:
                continue
            if workflow.unless is not None and people and matches(workflow.unless, message):
                marks = ",".join("?" * len(people))
                cancelled = self.state.execute(
                    f"UPDATE workflow_runs SET status = 'cancelled', updated_at = ?, published = 0 WHERE workflow = ? "
                    f"AND status = 'waiting' AND triggered_at <= ? AND person IN ({marks})",
                    (utc_now(), workflow.name, moment.isoformat(), *people))
                counts["cancelled", workflow.name] += max(cancelled, 0)
            trigger = workflow.trigger.event
            if trigger is not None and matches(trigger, message):
                key = str(message.get("messageId") or "")
                if key and self.start_run(workflow, key, message, moment, people):
                    counts["triggered", workflow.name] += 1

    def start_run(self, workflow: WorkflowConfig, key: str, message: dict, moment: datetime,
                  people: list[str]) -> bool:
        return start_run(self.state, workflow, key, message, moment, people)

    # --- actions -------------------------------------------------------------------------
    async def idle(self) -> None:
        """Run every action of every run whose time has come."""
        now = self.clock().astimezone(timezone.utc).isoformat()
        for run in self.state.workflow_rows("status = 'waiting' AND due_at <= ?", (now,)):
            await self.act(run)

    async def act(self, run: dict[str, Any]) -> None:
        workflow = next((w for w in self.workflows if w.name == run["workflow"]), None)
        if workflow is None:
            return
        message = orjson.loads(run["event"])
        for index in range(run["actions_done"], len(workflow.actions)):
            outcome = await self._send(workflow, index, run, message)
            if outcome == "retry":
                return                                  # tried again on a later pass
            if outcome.startswith("failed"):
                self._update(run["id"], "failed", index, outcome)
                return
            self._update(run["id"], "running" if index + 1 < len(workflow.actions) else "done", index + 1,
                         outcome if outcome != "sent" else None)
        if not workflow.actions[run["actions_done"]:]:
            self._update(run["id"], "done", run["actions_done"], None)

    def _update(self, rid: str, status: str, done: int, note: str | None) -> None:
        # a run part-way through stays eligible: `running` is read as waiting by the next pass
        self.state.execute("UPDATE workflow_runs SET status = ?, actions_done = ?, error = ?, updated_at = ?, "
                           "published = 0 WHERE id = ?",
                           ("waiting" if status == "running" else status, done, note, utc_now(), rid))

    async def _send(self, workflow: WorkflowConfig, index: int, run: dict, message: dict) -> str:
        """`sent`, `skipped: why`, `retry` or `failed: why` for one action of one run."""
        entry, destination = self.destinations[(workflow.name, index)]
        action = workflow.actions[index]
        category = action.consent or destination.consent_category
        self.gate.start_chunk()
        if (reason := self.gate.reason_to_skip(message, category)) is not None:
            return f"skipped: {reason}"
        view = event_view(message)
        view.message_id = f"{run['id']}-{index}"        # each action its own idempotency key
        try:
            item = destination.stream_item(view)
        except SkipRow as skip:
            return f"skipped: {skip}"
        context = RunContext(workflow.name, run["id"], f"workflow {workflow.name}", settings=action.settings)
        deliverer = Deliverer(destination, self._client, context, timing=self.timing, max_attempts=4,
                              build=destination.stream_request)
        deliverer.report = DeliveryReport()
        key = f"{run['id']}:{index}"
        await deliverer.deliver([Batch("upsert", [key], [item], [key])])
        report = deliverer.report
        failure = report.failed.get((key, "upsert"))
        if failure is None:
            return "sent"
        if report.fatal or (key, "upsert") in report.transient:
            return "retry"
        return f"failed: {failure[0]}: {failure[1]}"[:500]


def audience_triggers(config: HeadwaterConfig, state: StreamState, session) -> int:
    """Start the runs of audience-triggered workflows from `cdp.audience_history` rows changed
    since the last call (a build writes them); the person's profile is the trigger event."""
    started = 0
    for workflow in (w for w in config.workflows if w.enabled and w.trigger.audience):
        column = "entered_at" if workflow.trigger.on == "entered" else "exited_at"
        mark = state.watermark(f"audience:{workflow.name}")
        rows = session.run(
            f"SELECT h.profile_id, h.{column} AS changed_at, p.* FROM cdp.audience_history AS h "
            f"JOIN cdp.profiles AS p ON p.profile_id = h.profile_id WHERE h.audience = %s AND h.{column} IS NOT NULL"
            + (f" AND h.{column} > %s" if mark else "") + f" ORDER BY h.{column}",
            [workflow.trigger.audience, *([datetime.fromisoformat(mark)] if mark else [])])
        for row in rows:
            changed = row["changed_at"] if row["changed_at"].tzinfo else row["changed_at"].replace(tzinfo=timezone.utc)
            traits = {k: v for k, v in row.items() if k not in ("changed_at",) and v is not None}
            consent = {c: row.get(f"consent_{c}") for c in ("analytics", "advertising", "email", "sms")
                       if row.get(f"consent_{c}") is not None}
            key = f"audience:{workflow.trigger.audience}:{workflow.trigger.on}:{row['profile_id']}:{changed.isoformat()}"
            message = {"type": "identify", "userId": row["profile_id"], "messageId": key,
                       "timestamp": changed.isoformat(), "traits": orjson.loads(orjson.dumps(traits, default=str)),
                       "context": {"consent": {"categoryPreferences": consent}},
                       "properties": {"audience": workflow.trigger.audience, "change": workflow.trigger.on}}
            if start_run(state, workflow, key, message, changed, identifiers(message)):
                started += 1
            state.set_watermark(f"audience:{workflow.name}", row["changed_at"].isoformat())
    return started
