"""Tracking-plan enforcement cost per event, in process, beside the work every event already costs.

The baseline is the collect endpoint's own per-message work (validate + enrich); the plan
row is `Enforcer.apply` on the same enriched messages, with bench/collect.py's plan (every
rule kind, all kept). No HTTP, no fsync: a steadier figure than the end-to-end benchmark on
a shared machine, and the one that bounds what the plan can add to it.

    .venv/bin/python bench/tracking_plan.py        # 3 runs x 2000 batches of 100 events
"""

from __future__ import annotations

import copy
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.collect import BENCH_PLAN, event  # noqa: E402
from sources.collect.messages import enrich, format_timestamp, new_message_ids, utc_now, validate  # noqa: E402
from sources.tracking_plan.config import SourcePlanConfig  # noqa: E402
from sources.tracking_plan.enforce import Enforcer  # noqa: E402
from sources.tracking_plan.plan import parse_plan  # noqa: E402

BATCH = 100


def one_batch(plan: Enforcer, messages: list[dict]) -> tuple[float, float]:
    """Microseconds per event: (validate + enrich, plan.apply), interleaved in one batch."""
    now = utc_now()
    text, ids = format_timestamp(now), new_message_ids(len(messages))
    batch = [copy.copy(m) for m in messages]
    start = time.perf_counter()
    for index, message in enumerate(batch):
        validate(message)
        enrich(message, received_at=now, received_at_text=text, ip="127.0.0.1", new_id=ids[index])
    middle = time.perf_counter()
    for message in batch:
        plan.apply(message)
    end = time.perf_counter()
    return (middle - start) / len(batch) * 1e6, (end - middle) / len(batch) * 1e6


def main() -> None:
    plan = Enforcer(parse_plan(BENCH_PLAN, "bench"), SourcePlanConfig(plan="bench.json"))
    messages = [event(i) for i in range(BATCH)]
    medians = []
    for _ in range(3):
        runs = [one_batch(plan, messages) for _ in range(2000)]
        medians.append((statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)))
    base, checked = statistics.median(m[0] for m in medians), statistics.median(m[1] for m in medians)
    print(f"{os.cpu_count()} cores, one process, median of 3 runs x 2000 batches of {BATCH}")
    print("| per event | us |\n| --- | ---: |")
    print(f"| validate + enrich (baseline) | {base:.2f} |\n| tracking plan check | {checked:.2f} |")


if __name__ == "__main__":
    main()
