"""Mailchimp source throughput: members/s loaded into DuckDB from the emulator, vs fetching only.

Baseline: the same member pages (count=1000) fetched with the source's own client and
thrown away. Run:  .venv/bin/python bench/sources_mailchimp.py [--members 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics

os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")

from headwater.config import MailchimpSourceConfig  # noqa: E402
from headwater.loopback import LoopbackServer  # noqa: E402
from sources.mailchimp.emulator import DEFAULT_API_KEY, MailchimpEmulator, create_app, member_id  # noqa: E402
from sources.mailchimp.helpers import mailchimp_client, pages  # noqa: E402
from source_runs import load_fresh, per_second  # noqa: E402


def members(count: int) -> list[dict]:
    return [{"id": member_id(f"m{i}@x.io"), "email_address": f"m{i}@x.io", "list_id": "list000001",
             "status": "subscribed", "merge_fields": {"FNAME": f"M{i}", "LNAME": "X", "PHONE": ""},
             "stats": {"avg_open_rate": 0.3, "avg_click_rate": 0.1}, "last_changed": "2025-01-01T00:00:00+00:00"}
            for i in range(count)]


def fetch_members(entry) -> int:
    with mailchimp_client(entry) as client:
        return sum(len(page) for page in pages(client, "/lists/list000001/members", "members"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    emulator = MailchimpEmulator(lists=[{"id": "list000001", "name": "News"}], members=members(args.members))
    fetch_rates, load_rates = [], []
    with LoopbackServer(create_app(emulator)) as server:
        entry = MailchimpSourceConfig(name="mailchimp", type="mailchimp", api_key=DEFAULT_API_KEY,
                                      base_url=f"{server.url}/3.0")
        for _ in range(args.runs):
            fetch_rates.append(per_second(lambda: fetch_members(entry)))
            load_rates.append(per_second(lambda: load_fresh(entry)["members"]))
    print(f"mailchimp: {args.members} members, median of {args.runs} runs")
    print(f"  fetch only (baseline): {statistics.median(fetch_rates):,.0f} members/s")
    print(f"  full load into DuckDB: {statistics.median(load_rates):,.0f} members/s")


if __name__ == "__main__":
    main()
