"""`headwater stream test`: what a stream would send for given events, sending nothing.

The events go through the stream's own path (filters, consent, transformation, property
filters, the vendor's event form) with a throwaway state, and the requests are written as a
dry run writes them (destinations.delivery.PlanWriter: secrets as ***), so what is shown is
byte for byte what the vendor would get, never a credential.
Imports destinations.streams and destinations.delivery.
"""

from __future__ import annotations

import io
from collections import Counter

import orjson

from destinations.base import Batch
from destinations.delivery import PlanWriter
from destinations.streams.config import StreamConfig
from destinations.streams.forwarder import StreamRunner
from destinations.streams.state import StreamState
from headwater.config import HeadwaterConfig


def preview(config: HeadwaterConfig, stream: StreamConfig, events: list[dict]) -> list[str]:
    runner = StreamRunner(config, stream, StreamState(None, ":memory:"))
    lines: list[str] = []
    for number, event in enumerate(events):
        counts: Counter = Counter()
        dead: list = []
        runner.gate.start_chunk()
        pending = runner.prepare_one(event, f"preview:{number}", (stream.sources or [""])[0], counts, dead)
        label = event.get("messageId") or f"event {number + 1}"
        for (outcome, reason), _ in counts.items():
            lines.append(f"# {label}: {outcome}" + (f" ({reason})" if reason else ""))
        for letter in dead:
            lines.append(f"# {label}: dead letter ({letter.error_code}): {letter.error_message}")
            if letter.traceback:
                lines.extend(f"#   {line}" for line in letter.traceback.rstrip().splitlines())
        if not pending:
            continue
        handle = io.StringIO()
        writer = PlanWriter(handle, runner.destination)
        for start in range(0, len(pending), runner.batch_size):
            part = pending[start:start + runner.batch_size]
            request = runner.destination.stream_request(
                Batch("upsert", [p.key for p in part], [p.item for p in part], [p.message_id for p in part]),
                runner.context)
            if request is not None:
                writer.write(request)
        lines.append(f"# {label}: would send to {runner.entry.name} ({runner.entry.type})")
        lines.extend(orjson.dumps(orjson.loads(line), option=orjson.OPT_INDENT_2).decode()
                     for line in handle.getvalue().splitlines())
    return lines
