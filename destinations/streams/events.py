"""One Segment message as the fields every vendor's event form reads, and the stream filters.

Why one view: Mixpanel, Amplitude, GA4, Meta, TikTok, Klaviyo and the rest each want the
same dozen facts of an event (who, when, what, which order, how much, from where), only in
their own shape. `EventView` reads them once, the same way for every vendor: the user's
ids, the display name Segment's destinations give a page or screen ("Viewed Home Page"),
email and phone from traits or context.traits, revenue and order id under their common
spellings; a stream's `mapping` points a field at another path. Filters (type, event
names, conditions, drop, sample, property allow/drop) run before the vendor sees anything.
Imports headwater.conditions and destinations.streams.config only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from destinations.streams.config import AllOf, AnyOf, EventFilter, NotOf, StreamConfig
from headwater.conditions import PropertyFilter

TRAIT_TYPES = frozenset({"identify", "group"})
_MISSING = object()


def read_path(message: dict[str, Any], path: str) -> Any:
    """`a.b.c` in nested dicts, None when any step is missing."""
    node: Any = message
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def read_property(message: dict[str, Any], name: str) -> Any:
    """A condition's property: from properties (traits for identify/group) by its name as sent,
    else a dotted path from the top of the message."""
    bag = message.get("traits" if message.get("type") in TRAIT_TYPES else "properties")
    if isinstance(bag, dict) and name in bag:
        return bag[name]
    if "." in name:
        return read_path(message, name)
    return None


def condition_holds(condition: Any, message: dict[str, Any]) -> bool:
    if isinstance(condition, PropertyFilter):
        return condition.holds(read_property(message, condition.property))
    if isinstance(condition, AllOf):
        return all(condition_holds(child, message) for child in condition.all)
    if isinstance(condition, AnyOf):
        return any(condition_holds(child, message) for child in condition.any)
    if isinstance(condition, NotOf):
        return not condition_holds(condition.not_, message)
    raise TypeError(f"not an event condition: {condition!r}")


def matches(event_filter: EventFilter, message: dict[str, Any]) -> bool:
    if message.get("type") not in event_filter.types:
        return False
    if event_filter.events and message.get("type") == "track" and message.get("event") not in event_filter.events:
        return False
    return all(condition_holds(condition, message) for condition in event_filter.where)


def sampled_in(message_id: str, share: float) -> bool:
    """Stable on replay and restart: the same messageId is always in or always out."""
    if share >= 1:
        return True
    bucket = int.from_bytes(hashlib.sha256(message_id.encode()).digest()[:8], "big") / 2 ** 64
    return bucket < share


def filter_reason(stream: StreamConfig, message: dict[str, Any]) -> str | None:
    """Why the stream does not take this message (None: it does)."""
    if not matches(stream.filter, message):
        return "filter"
    if any(condition_holds(condition, message) for condition in stream.drop):
        return "drop"
    if not sampled_in(str(message.get("messageId") or ""), stream.sample):
        return "sample"
    return None


def apply_property_filters(stream: StreamConfig, message: dict[str, Any]) -> dict[str, Any]:
    """allow_properties / drop_properties over properties and traits (a shallow copy is changed)."""
    if stream.allow_properties is None and not stream.drop_properties:
        return message
    result = dict(message)
    for bag_name in ("properties", "traits"):
        bag = result.get(bag_name)
        if not isinstance(bag, dict):
            continue
        if stream.allow_properties is not None:
            result[bag_name] = {k: v for k, v in bag.items() if k in stream.allow_properties}
        else:
            result[bag_name] = {k: v for k, v in bag.items() if k not in stream.drop_properties}
    return result


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    return None


@dataclass
class EventView:
    """What vendors read of one message; `message` is the whole message as it will be sent."""

    message: dict[str, Any]
    type: str
    message_id: str
    timestamp: Any
    user_id: str | None
    anonymous_id: str | None
    event: str | None                 # the track name; None for other types
    name: str                         # the display name Segment's destinations use
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    city: str | None = None
    country: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    page_url: str | None = None
    page_title: str | None = None
    revenue: Any = None
    currency: str | None = None
    order_id: str | None = None
    source: str = ""

    @property
    def person(self) -> str:
        """The id a vendor attributes the event to: userId when known, else anonymousId."""
        return self.user_id or self.anonymous_id or ""

    def fields(self) -> dict[str, Any]:
        """The template fields (Slack text, workflow messages)."""
        names = ("type", "message_id", "timestamp", "user_id", "anonymous_id", "event", "name", "email", "phone",
                 "first_name", "last_name", "city", "country", "page_url", "revenue", "currency", "order_id",
                 "source")
        values = {name: getattr(self, name) for name in names}
        return {**self.traits, **self.properties, **{k: v for k, v in values.items() if v is not None}}


MAPPABLE = frozenset(EventView.__dataclass_fields__) - {"message", "properties", "traits", "source", "type"}


def display_name(message: dict[str, Any]) -> str:
    kind = message.get("type")
    if kind == "track":
        return str(message.get("event") or "")
    if kind in ("page", "screen"):
        name = message.get("name") or (message.get("properties") or {}).get("name")
        noun = "Page" if kind == "page" else "Screen"
        return f"Viewed {name} {noun}" if name else f"Loaded a {noun}"
    return {"identify": "Identify", "group": "Group", "alias": "Alias"}.get(str(kind), str(kind))


def event_view(message: dict[str, Any], source: str = "", mapping: dict[str, str] | None = None) -> EventView:
    context = message.get("context") if isinstance(message.get("context"), dict) else {}
    properties = message.get("properties") if isinstance(message.get("properties"), dict) else {}
    traits = {**(context.get("traits") if isinstance(context.get("traits"), dict) else {}),
              **(message.get("traits") if isinstance(message.get("traits"), dict) else {})}
    page = context.get("page") if isinstance(context.get("page"), dict) else {}
    address = traits.get("address") if isinstance(traits.get("address"), dict) else {}
    view = EventView(
        message=message, type=str(message.get("type") or ""), message_id=str(message.get("messageId") or ""),
        timestamp=_first(message.get("timestamp"), message.get("receivedAt")),
        user_id=_text(message.get("userId")), anonymous_id=_text(message.get("anonymousId")),
        event=_text(message.get("event")) if message.get("type") == "track" else None, name=display_name(message),
        properties=properties, traits=traits,
        email=_text(_first(traits.get("email"), properties.get("email"))),
        phone=_text(_first(traits.get("phone"), properties.get("phone"))),
        first_name=_text(_first(traits.get("firstName"), traits.get("first_name"))),
        last_name=_text(_first(traits.get("lastName"), traits.get("last_name"))),
        city=_text(_first(address.get("city"), traits.get("city"))),
        country=_text(_first(address.get("country"), traits.get("country"))),
        ip=_text(context.get("ip")), user_agent=_text(context.get("userAgent")),
        page_url=_text(_first(page.get("url"), properties.get("url") if message.get("type") == "page" else None)),
        page_title=_text(_first(page.get("title"), properties.get("title") if message.get("type") == "page" else None)),
        revenue=_first(properties.get("revenue"), properties.get("total"), properties.get("value")),
        currency=_text(properties.get("currency")),
        order_id=_text(_first(properties.get("order_id"), properties.get("orderId"))),
        source=source)
    for target, path in (mapping or {}).items():
        setattr(view, target, read_path(message, path))
    return view


def _text(value: Any) -> str | None:
    if value is None or value == "" or isinstance(value, (dict, list)):
        return None
    return str(value)
