"""A full headwater.yml for the Dagster tests: two events sources, the three cloud sources and
one sync per destination type, with emulator URLs that need not be running (loading the
definitions never calls a vendor)."""

from __future__ import annotations

from pathlib import Path

import yaml

from dagster_project.demo_destinations import EMULATOR_APPS, destination_sections

CLOUD_SOURCES = [
    {"name": "shopify", "type": "shopify", "base_url": "http://127.0.0.1:9", "access_token": "shpat_emulator"},
    {"name": "stripe", "type": "stripe", "base_url": "http://127.0.0.1:9", "api_key": "rk_test_headwater_emulator"},
    {"name": "mailchimp", "type": "mailchimp", "base_url": "http://127.0.0.1:9/3.0",
     "api_key": "0123456789abcdef0123456789abcdef-us21"},
]


def project_document(warehouse_url: str, spool_dir: Path, schedules: bool = False) -> dict:
    return {
        "warehouse": warehouse_url,
        "collect": {"spool_dir": str(spool_dir)},
        "sources": [{"name": "website", "type": "events", "write_key": "wk_web"},
                    {"name": "app", "type": "events", "write_key": "wk_app"}, *CLOUD_SOURCES],
        **destination_sections({vendor: "http://127.0.0.1:9" for vendor in EMULATOR_APPS}),
        "schedules": {"enabled": schedules},
        "tracking_plan": {"sources": {"website": {"plan": str(spool_dir.parent / "tracking_plan.yml")}}},
    }


def write_project(folder: Path, warehouse_url: str, schedules: bool = False) -> Path:
    path = folder / "headwater.yml"
    (folder / "tracking_plan.yml").write_text(yaml.safe_dump({"track": {"Order Completed": {"required": ["order_id"]}}}))
    path.write_text(yaml.safe_dump(project_document(warehouse_url, folder / "spool", schedules)))
    return path
