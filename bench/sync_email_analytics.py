"""Audience sync throughput to the email and analytics emulators: Klaviyo, Mailchimp, Mixpanel.

For each destination, on a fresh DuckDB warehouse with N consented audience members:
  first    the first sync: every member mapped, normalized, batched at the vendor's limit, sent
  resync   the same sync with nothing changed: the SQL diff finds no work
  full     baseline: `--full`, what every run would cost without the diff
The emulators run in their own process (uvicorn) so they do not share the engine's GIL; both
share this machine's 2 cores. The client-side rate limit is lifted so the engine, not the
vendor's quota, is measured.

    .venv/bin/python bench/sync_email_analytics.py                  # 100,000 members, 3 runs
    .venv/bin/python bench/sync_email_analytics.py --rows 20000 --runs 1
"""

from __future__ import annotations

import argparse
import os
import statistics

from audience_sync_world import emulator_process, timed_scenarios
from destinations.emulators import klaviyo, mailchimp, mixpanel

# destination type -> (emulator module, path suffix of base_url, credentials, settings)
TARGETS = {
    "klaviyo_list": ("klaviyo", "", {"api_key": klaviyo.API_KEY}, {"list_id": klaviyo.LIST_ID}),
    "mailchimp_audience": ("mailchimp", "/3.0", {"api_key": mailchimp.API_KEY}, {"list_id": mailchimp.LIST_ID}),
    "mixpanel_profiles": ("mixpanel", "", {"project_token": mixpanel.PROJECT_TOKEN}, {}),
}
SCENARIOS = [("first", None, False), ("resync", None, False), ("full", None, True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.rows:,} audience members, median of {args.runs} runs, {os.cpu_count()} cores")
    print("| destination | scenario | rows sent | seconds | members/s (audience size / seconds) |")
    print("| --- | --- | ---: | ---: | ---: |")
    for kind, (module, suffix, credentials, settings) in TARGETS.items():
        with emulator_process(module) as url:   # a fresh vendor per destination type
            destination = {"type": kind, "base_url": url + suffix, "credentials": credentials, "settings": settings}
            runs = [timed_scenarios(args.rows, destination, SCENARIOS) for _ in range(args.runs)]
        for name in ("first", "resync", "full"):
            seconds = statistics.median(run[name][0] for run in runs)
            print(f"| {kind} | {name} | {runs[0][name][1]:,} | {seconds:.2f} | {args.rows / seconds:,.0f} |")


if __name__ == "__main__":
    main()
