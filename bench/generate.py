"""Benchmark: how fast the synthetic world is generated, and with how much memory.

For each size, in fresh child processes (so peak RSS is per run): generate_world with
the default rates, and a baseline that writes the same number of fixed Segment-sized
JSON lines with orjson (the floor any generator pays for serialising and writing).
Reports the median of --runs runs: people/s, events/s, peak RSS, and the ratio to the
baseline. Run from the repository root:

    .venv/bin/python bench/generate.py --people 10000 100000 --runs 3
    .venv/bin/python bench/generate.py --people 1000000 --runs 1     # ~35M events, optional
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIXED_EVENT = {
    "type": "track", "messageId": "00000000-0000-4000-8000-000000000000", "anonymousId": "a" * 36,
    "userId": "1000001", "event": "Product Viewed",
    "properties": {"product_id": "8100000000001", "sku": "TKT01-GEN", "name": "Northern Lights Festival 2026",
                   "category": "festival", "price": 189.0, "currency": "USD"},
    "timestamp": "2026-11-01T00:00:00.000Z", "sentAt": "2026-11-01T00:00:01.000Z",
    "context": {"library": {"name": "analytics.js", "version": "5.2.0"}, "ip": "11.0.0.36", "locale": "en-US",
                "page": {"path": "/products/northern-lights-festival-2026", "referrer": "", "search": "",
                         "title": "Northern Lights Festival 2026 | Headwater Live",
                         "url": "https://headwater-live.example/products/northern-lights-festival-2026"},
                "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15",
                "consent": {"categoryPreferences": {"analytics": True, "advertising": True, "email": False,
                                                    "sms": False}}},
    "integrations": {},
}


def child_world(people: int, out: Path) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from sources.synthetic import generate_world

    started = time.perf_counter()
    manifest = generate_world(out, people, seed=1, end="2026-11-01T00:00:00Z")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "events": sum(manifest.counts["events"].values()),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child_baseline(lines: int, out: Path) -> dict:
    import orjson

    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(out / "fixed.jsonl", "wb") as handle:
        for _ in range(lines):
            handle.write(orjson.dumps(FIXED_EVENT) + b"\n")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "events": lines,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_child(kind: str, size: int, scratch: Path) -> dict:
    out = scratch / f"{kind}-{size}"
    try:
        result = subprocess.run([sys.executable, __file__, "--child", kind, str(size), str(out)],
                                check=True, capture_output=True, text=True)
        return json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scratch", type=Path, default=None, help="folder for the generated worlds (deleted)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, size, out = args.child
        result = (child_world if kind == "world" else child_baseline)(int(size), Path(out))
        print(json.dumps(result))
        return

    scratch = Path(tempfile.mkdtemp(prefix="hw-bench-", dir=args.scratch))
    rows = []
    try:
        for people in args.people:
            worlds = [run_child("world", people, scratch) for _ in range(args.runs)]
            events = worlds[0]["events"]
            baselines = [run_child("baseline", events, scratch) for _ in range(args.runs)]
            world_s = statistics.median(w["seconds"] for w in worlds)
            base_s = statistics.median(b["seconds"] for b in baselines)
            rows.append({
                "people": people, "events": events, "runs": args.runs,
                "people_per_s": people / world_s, "events_per_s": events / world_s,
                "peak_rss_mb": statistics.median(w["peak_rss_mb"] for w in worlds),
                "baseline_events_per_s": events / base_s,
                "baseline_peak_rss_mb": statistics.median(b["peak_rss_mb"] for b in baselines),
                "slowdown_vs_baseline": world_s / base_s,
            })
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("| people | events | people/s | events/s | peak RSS | baseline events/s | baseline peak RSS | x baseline time |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['people']:,} | {r['events']:,} | {r['people_per_s']:,.0f} | {r['events_per_s']:,.0f} | "
              f"{r['peak_rss_mb']:.0f} MB | {r['baseline_events_per_s']:,.0f} | {r['baseline_peak_rss_mb']:.0f} MB | "
              f"{r['slowdown_vs_baseline']:.1f} |")


if __name__ == "__main__":
    main()
