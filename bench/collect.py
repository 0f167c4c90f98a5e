"""Collect endpoint throughput: acknowledged events/s and latency, beside a do-nothing baseline.

Runs `headwater serve` (durable: every 200 is fsync'd), the same with a tracking plan
enforced on every event (`headwater+plan`: the bench event's properties typed, required,
enum- and pattern-checked, unplanned properties flagged), and, as the baseline in the same
run, the same uvicorn setup serving an app that answers 200 without reading, parsing or
writing. Runs are interleaved (baseline, headwater, headwater+plan, then again). Load comes from `wrk` (apt-get install wrk) so the load generator costs as
little CPU as possible; it still shares this machine's cores with the server, and the
figures say so.

    .venv/bin/python bench/collect.py                 # 3 runs x 8 s per scenario
    .venv/bin/python bench/collect.py --runs 5 --duration 10 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from headwater.loopback import free_port  # noqa: E402
from sources.collect.spool import CLOSED, OPEN, read_records  # noqa: E402

WRITE_KEY = "bench-key"
NULL_APP = '''
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"success":true}'})
'''


def event(index: int) -> dict:
    return {"type": "track", "event": "Product Viewed", "userId": f"user-{index}", "anonymousId": f"anon-{index}",
            "properties": {"product_id": f"sku-{index}", "price": 19.99, "currency": "EUR", "category": "tickets"},
            "context": {"page": {"url": "https://tickets.example/p/1", "referrer": "https://search.example/"},
                        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) bench"},
            "timestamp": "2026-11-20T10:00:00.000Z", "sentAt": "2026-11-20T10:00:01.000Z"}


# the bench event's plan: every rule kind the checker has, all kept by event(), so the figure
# is the cost of checking (the common case), not of recording violations
BENCH_PLAN = {"track": {"Product Viewed": {
    "required": ["product_id", "price"],
    "properties": {"product_id": {"type": "string", "pattern": "^sku-"}, "price": {"type": "number"},
                   "currency": {"type": "string", "enum": ["EUR", "USD"]}, "category": {"type": "string"}},
    "additionalProperties": False}}}
KINDS = ("baseline", "headwater", "headwater+plan")

SCENARIOS = {
    "single": ("/v1/track", 1, lambda: {k: v for k, v in event(1).items() if k != "type"}),
    "batch100": ("/v1/batch", 100, lambda: {"batch": [event(i) for i in range(100)]}),
}


def wrk_script(path: Path, body: dict) -> Path:
    script = path.with_suffix(".lua")
    import base64

    auth = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    script.write_text(
        'wrk.method = "POST"\n'
        f'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Basic {auth}"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
    )
    return script


def parse_wrk(output: str) -> dict:
    def duration(text: str) -> float:
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    latencies = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": duration(latencies["50"]), "p99_ms": duration(latencies["99"]),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
    }


class Server:
    def __init__(self, kind: str, workers: int, workdir: Path):
        self.kind, self.workers, self.workdir = kind, workers, workdir
        self.port = free_port()
        self.spool_dir = workdir / "spool"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Server":
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        if self.kind.startswith("headwater"):
            config = self.workdir / "headwater.yml"
            document = {"collect": {"spool_dir": str(self.spool_dir)},
                        "sources": [{"name": "bench", "type": "events", "write_key": WRITE_KEY}]}
            if self.kind == "headwater+plan":
                (self.workdir / "plan.json").write_text(json.dumps(BENCH_PLAN))
                document["tracking_plan"] = {"sources": {"bench": {
                    "plan": str(self.workdir / "plan.json"), "unplanned_event": "quarantine",
                    "missing_required": "quarantine", "type_mismatch": "flag", "unplanned_property": "flag"}}}
            config.write_text(json.dumps(document))
            command = [sys.executable, "-m", "headwater.cli", "serve", "--config", str(config), "--port",
                       str(self.port), "--workers", str(self.workers), "--log-level", "warning"]
        else:
            (self.workdir / "null_app.py").write_text(NULL_APP)
            command = [sys.executable, "-m", "uvicorn", "null_app:app", "--app-dir", str(self.workdir), "--port",
                       str(self.port), "--workers", str(self.workers), "--log-level", "warning", "--no-access-log"]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.kind} server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)

    def spooled_records(self) -> list[dict]:
        return [record for folder in (CLOSED, OPEN) for path in (self.spool_dir / folder).glob("*.hws")
                for record in read_records(path)]

    def spooled_messages(self) -> int:
        return sum(len(r.get("messages", [])) for r in self.spooled_records())


def run_once(kind: str, scenario: str, workers: int, duration: int, connections: int) -> dict:
    path, per_request, make_body = SCENARIOS[scenario]
    with tempfile.TemporaryDirectory(prefix="hw-bench-", dir=ROOT / "data" if (ROOT / "data").exists() else None) as tmp:
        workdir = Path(tmp)
        script = wrk_script(workdir / scenario, make_body())
        server = Server(kind, workers, workdir).start()
        try:
            output = subprocess.run(
                ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script),
                 f"http://127.0.0.1:{server.port}{path}"], capture_output=True, text=True, check=True).stdout
        finally:
            server.stop()
        result = parse_wrk(output)
        result["events_per_s"] = result["requests_per_s"] * per_request
        if kind.startswith("headwater"):
            acknowledged = (result["requests"] - result["non_2xx"]) * per_request
            spooled = server.spooled_messages()
            # wrk counts only completed responses; every one of them must be on disk
            result["durable_check"] = "ok" if spooled >= acknowledged else f"LOST {acknowledged - spooled}"
            if kind == "headwater+plan" and not all("plan" in r for r in server.spooled_records()):
                result["durable_check"] += ", NOT PLAN-CHECKED"
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("error: wrk is not installed; install it with `apt-get install wrk`")

    rows, raw = [], []
    for scenario in SCENARIOS:
        runs_of: dict[str, list[dict]] = {kind: [] for kind in KINDS}
        for _ in range(args.runs):  # interleaved, so drifting machine load hits every kind alike
            for kind in KINDS:
                runs_of[kind].append(run_once(kind, scenario, args.workers, args.duration, args.connections))
        for kind, runs in runs_of.items():
            raw.append({"kind": kind, "scenario": scenario, "runs": runs})
            median = {key: statistics.median(r[key] for r in runs)
                      for key in ("events_per_s", "requests_per_s", "p50_ms", "p99_ms")}
            checks = {r.get("durable_check", "-") for r in runs}
            errors = sum(r["non_2xx"] for r in runs)
            rows.append(f"| {scenario} | {kind} | {median['events_per_s']:,.0f} | {median['requests_per_s']:,.0f} | "
                        f"{median['p50_ms']:.2f} | {median['p99_ms']:.2f} | {errors} | {', '.join(sorted(checks))} |")
            print(rows[-1], flush=True)
    print(f"\n{os.cpu_count()} cores, {args.workers} server worker(s), wrk -t2 -c{args.connections} "
          f"-d{args.duration}s on the same machine, median of {args.runs} runs")
    print("| scenario | server | events/s | requests/s | p50 ms | p99 ms | non-2xx | every 200 spooled |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    print("\n".join(rows))
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2))


if __name__ == "__main__":
    main()
