"""Collect endpoint per-message cost in process: the ASGI app called directly, no HTTP stack.

Why: end-to-end figures on this shared 2-core machine move by tens of percent between runs;
calling the app in process (real validation, enrichment, storable check and group commit to
a temporary spool) isolates what the endpoint's own code costs. Give one or more source trees
to compare them interleaved, e.g. the tree before a change exported with `git archive`:

    .venv/bin/python bench/collect_inprocess.py /tmp/before /path/to/this/checkout --rounds 3
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

RUN = '''
import asyncio, base64, statistics, sys, tempfile, time
import orjson
from headwater.config import parse_config
from sources.collect.app import create_app

def event(i):
    return {"type": "track", "event": "Product Viewed", "userId": f"user-{i}", "anonymousId": f"anon-{i}",
            "properties": {"product_id": f"sku-{i}", "price": 19.99, "currency": "EUR", "category": "tickets"},
            "context": {"page": {"url": "https://tickets.example/p/1", "referrer": "https://search.example/"},
                        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) bench"},
            "timestamp": "2026-11-20T10:00:00.000Z", "sentAt": "2026-11-20T10:00:01.000Z"}

body = orjson.dumps({"batch": [event(i) for i in range(100)]})
auth = b"Basic " + base64.b64encode(b"bench-key:")

async def main():
    app = create_app(parse_config({"collect": {"spool_dir": tempfile.mkdtemp()},
                                   "sources": [{"name": "web", "type": "events", "write_key": "bench-key"}]}))
    await app.startup()
    scope = {"type": "http", "method": "POST", "path": "/v1/batch", "client": ("127.0.0.1", 1),
             "headers": [(b"authorization", auth), (b"content-type", b"application/json")]}
    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}
    statuses = []
    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        await asyncio.gather(*[app(scope, receive, send) for _ in range(200)])
        runs.append((time.perf_counter() - started) / 200 / 100 * 1e6)
    await app.shutdown()
    assert set(statuses) == {200}, set(statuses)
    print(round(statistics.median(runs), 2))

asyncio.run(main())
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[Path, list[float]] = {tree: [] for tree in args.trees}
    for _ in range(args.rounds):
        for tree in args.trees:  # interleaved, so load on the machine hits every tree alike
            out = subprocess.run([sys.executable, "-c", RUN], cwd=tree, env={"PYTHONPATH": str(tree.resolve())},
                                 capture_output=True, text=True, check=True).stdout
            results[tree].append(float(out.strip()))
    for tree, values in results.items():
        print(f"{tree}: {sorted(values)[len(values) // 2]} us a message (runs: {values})")


if __name__ == "__main__":
    main()
