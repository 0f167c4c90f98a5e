"""`headwater stream replay`: dead letters sent again through their stream.

A letter refused by the vendor (or by the event form) holds the event as it was to be
sent, so it goes through the consent gate and the vendor form again, not the
transformation; a letter of a failed transformation holds the event as it arrived and runs
the (fixed) transformation first. Filters are applied again too, so an event the stream no
longer wants is not sent. Each letter ends `delivered`, `filtered`, `skipped` or `failed`
(a new letter records why), and the warehouse copy is refreshed.
Imports destinations.streams.
"""

from __future__ import annotations

from collections import Counter

import orjson

from destinations.streams.forwarder import StreamRunner
from destinations.streams.publish import try_publish
from destinations.streams.state import StreamState
from headwater.config import HeadwaterConfig, find_named
from headwater.suppression import SuppressionList
from headwater.warehouse import Warehouse


async def replay_dead_letters(config: HeadwaterConfig, stream_name: str | None = None, ids: list[str] | None = None,
                              state: StreamState | None = None, **options) -> dict[str, str]:
    """Dead letter id -> how its replay ended."""
    state = state or StreamState(config.collect.spool_dir)
    letters = [d for d in state.dead_letters(stream_name, pending=True) if not ids or d["id"] in ids]
    results: dict[str, str] = {}
    suppression = SuppressionList(config.privacy.suppression_file)
    for name in sorted({d["stream"] for d in letters}):
        runner = StreamRunner(config, find_named(config.streams, name, "stream"), state, suppression=suppression,
                              **options)
        async with runner:
            for letter in (d for d in letters if d["stream"] == name):
                counts: Counter = Counter()
                dead: list = []
                runner.gate.start_chunk()
                pending = runner.prepare_one(orjson.loads(letter["message"]), f"replay:{letter['id']}", "", counts,
                                             dead, transform=letter["error_code"] == "transform")
                dead += await runner._deliver(pending, counts)
                for item in dead:
                    item.id = letter["id"]                  # the same letter, with the new reason
                state.commit(name, None, dead, {}, runner.gate.changes)
                outcome = ("failed" if dead else "delivered" if counts["forwarded", ""] else
                           next((f"{o}: {r}" for (o, r) in counts if o in ("filtered", "skipped")), "filtered"))
                results[letter["id"]] = outcome.split(":")[0]
                state.mark_replayed([(letter["id"], outcome)])
    try_publish(Warehouse(config.warehouse), state)
    return results
