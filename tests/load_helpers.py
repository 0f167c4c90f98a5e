"""Helpers for the spool loader's tests: spool files written the way the endpoint writes them."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from headwater.config import HeadwaterConfig, parse_config
from headwater.warehouse import Warehouse
from sources.collect.spool import SpoolWriter, encode

RECEIVED = "2024-05-01T12:00:00.000Z"
_names = itertools.count()


def loader_config(warehouse: Warehouse, tmp_path: Path, sources: tuple[str, ...] = ("website",)) -> HeadwaterConfig:
    return parse_config({
        "warehouse": warehouse.url,
        "collect": {"spool_dir": str(tmp_path / "spool")},
        "sources": [{"name": name, "type": "events", "write_key": f"key-{name}"} for name in sources],
    })


def write_spool_file(config: HeadwaterConfig, records: list[dict[str, Any]]) -> Path:
    """One closed spool file holding `records`, in order."""
    writer = SpoolWriter(Path(config.collect.spool_dir), name=f"test-{next(_names)}")
    for record in records:
        writer.write(encode(record))
    return writer.close()


def events(messages: list[dict[str, Any]], source: str = "website") -> dict[str, Any]:
    return {"source": source, "kind": "events", "received_at": RECEIVED, "messages": messages}


def track(message_id: str, event: str = "Order Completed", user_id: str | None = "user-1",
          timestamp: str = "2024-05-01T11:59:00.000Z", **properties: Any) -> dict[str, Any]:
    message = {"type": "track", "messageId": message_id, "event": event, "properties": properties,
               "timestamp": timestamp, "receivedAt": RECEIVED, "sentAt": RECEIVED,
               "originalTimestamp": timestamp}
    if user_id is not None:
        message["userId"] = user_id
    return message


def identify(message_id: str, user_id: str, timestamp: str, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "messageId": message_id, "userId": user_id, "traits": traits,
            "timestamp": timestamp, "receivedAt": RECEIVED}


def rows(warehouse: Warehouse, schema: str, table: str, order_by: str = "id") -> list[dict[str, Any]]:
    return warehouse.query(f'SELECT * FROM "{schema}"."{table}" ORDER BY {order_by}')


def columns(warehouse: Warehouse, schema: str, table: str) -> set[str]:
    found = warehouse.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        [schema, table],
    )
    return {row["column_name"] for row in found}
