"""A small tracking plan and events that keep it or break one rule each, for the plan tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from headwater.config import HeadwaterConfig, parse_config
from tests.collect_helpers import collect_config_dict

PLAN = {
    "track": {
        "Order Completed": {
            "required": ["order_id", "revenue"],
            "properties": {
                "order_id": {"type": "string", "pattern": "^o-"},
                "revenue": {"type": "number"},
                "currency": {"type": "string", "enum": ["EUR", "USD"]},
            },
            "additionalProperties": False,
        },
        "Product Viewed": {"properties": {"product_id": {"type": "string"}, "price": {"type": "number"}}},
    },
    "identify": {"required": ["email"], "properties": {"email": {"type": "string"}, "age": {"type": "integer"}}},
    "page": {"properties": {"url": {"type": "string"}}},
}


def write_plan(folder: Path, plan: dict | None = None) -> Path:
    path = folder / "plan.yml"
    path.write_text(yaml.safe_dump(plan or PLAN))
    return path


def plan_config(tmp_path: Path, warehouse_url: str | None, plan: dict | None = None,
                **policies: str) -> HeadwaterConfig:
    """The collect test config (website + app) with `plan` (default PLAN) on `website` under `policies`."""
    raw = collect_config_dict(tmp_path / "spool", warehouse_url)
    raw["tracking_plan"] = {"sources": {"website": {"plan": str(write_plan(tmp_path, plan)), **policies}}}
    return parse_config(raw)


def order(message_id: str, **properties: Any) -> dict:
    return {"type": "track", "event": "Order Completed", "userId": "user-1", "messageId": message_id,
            "properties": {"order_id": "o-1", "revenue": 10.5, "currency": "EUR", **properties}}


def good_events() -> list[dict]:
    return [
        order("good-order"),
        {"type": "track", "event": "Product Viewed", "userId": "user-1", "messageId": "good-view",
         "properties": {"product_id": "sku-1", "price": 3}},
        {"type": "identify", "userId": "user-1", "messageId": "good-identify", "traits": {"email": "a@example.com"}},
        {"type": "page", "userId": "user-1", "messageId": "good-page", "properties": {"url": "https://x.example/"}},
        {"type": "alias", "userId": "user-1", "previousId": "anon-1", "messageId": "good-alias"},
    ]


# one event per violation type, with the violation the plan finds in it
BAD_EVENTS = {
    "unplanned_event": {"type": "track", "event": "Coupon Applied", "userId": "user-2", "messageId": "bad-unplanned",
                        "properties": {"code": "X"}},
    "missing_required": {"type": "identify", "userId": "user-3", "messageId": "bad-missing",
                         "traits": {"name": "Ada"}},
    "type_mismatch": order("bad-type", currency=5),
    "unplanned_property": order("bad-extra", coupon="SPRING"),
}
VIOLATION_OF = {"bad-unplanned": ("unplanned_event", None), "bad-missing": ("missing_required", "email"),
                "bad-type": ("type_mismatch", "currency"), "bad-extra": ("unplanned_property", "coupon")}
