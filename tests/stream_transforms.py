"""Transformations the stream tests load by `module:function`, as a user's own module would be."""

from __future__ import annotations

BROKEN = {"on": True}


def mask_and_split(event: dict):
    """Raises for a poisoned event; drops test events; splits a bundle into two events."""
    properties = event.get("properties") or {}
    if properties.get("poison") and BROKEN["on"]:
        raise ValueError("cannot read poison")
    if properties.get("test"):
        return None
    if properties.get("bundle"):
        second = dict(event, event="Bundle Item", properties={"sku": "B-2"})
        return [event, second]
    event["properties"] = {**properties, "masked": True}
    return event
