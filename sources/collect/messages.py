"""Validation and enrichment of Segment-spec messages, as Segment's Tracking API does it.

Why a module of its own: the collect endpoint, quarantine replay and the webhook
converters must agree on what a valid message is and on how it is enriched, so the rules
live here once. Plain dicts and no pydantic on this path: it runs for every event, and
at 100k events/s every microsecond counts.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

MESSAGE_TYPES = frozenset({"track", "identify", "page", "screen", "group", "alias"})

# analytics.js's short paths and the full ones, as Segment serves them
PATH_TYPES = {
    "track": "track", "t": "track",
    "identify": "identify", "i": "identify",
    "page": "page", "p": "page",
    "screen": "screen", "s": "screen",
    "group": "group", "g": "group",
    "alias": "alias", "a": "alias",
    "batch": "batch", "b": "batch", "import": "batch",
}

# field a message type cannot do without (besides userId/anonymousId)
REQUIRED_BY_TYPE = {"track": "event", "alias": "previousId", "group": "groupId"}
TIMESTAMP_FIELDS = ("timestamp", "sentAt", "originalTimestamp")
# fields the loader stores as text columns of their own (pipelines/segment_layout.TYPE_COLUMNS)
TEXT_COLUMN_FIELDS = ("name", "groupId", "previousId")


class InvalidMessage(ValueError):
    """A message that breaks a Tracking API rule; `field` names what to fix."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


_VARIANT = "89ab"


def new_message_ids(count: int) -> list[str]:
    """`count` random (version 4) UUIDs from one urandom call: uuid.uuid4() costs ~4 us each,
    a measurable share of the batch path."""
    digits = os.urandom(16 * count).hex()
    ids = []
    for start in range(0, 32 * count, 32):
        h = digits[start:start + 32]
        ids.append(f"{h[0:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}")
    return ids


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and a `Z`, the form Segment stores."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(value: Any, field: str) -> datetime:
    """`value` as an aware datetime that the warehouse can hold in UTC, or InvalidMessage.

    The loader parses these fields the same way (datetime.fromisoformat, naive means UTC),
    so what passes here loads there.
    """
    if not isinstance(value, str):
        raise InvalidMessage(field, "must be an ISO-8601 date string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidMessage(field, f"{value[:40]!r} is not an ISO-8601 date") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    if moment.year in (1, 9999):  # only there can an offset push the UTC time off the calendar
        try:
            moment.astimezone(timezone.utc)
        except (OverflowError, ValueError):
            raise InvalidMessage(field, f"{value[:40]!r} falls outside the years 1-9999 in UTC") from None
    return moment


def corrected_timestamp(received_at: datetime, sent: datetime, original: datetime) -> datetime:
    """Segment's clock-skew correction, `receivedAt - (sentAt - timestamp)`, or InvalidMessage
    when the two device times are so far apart that the result is no date at all."""
    try:
        corrected = received_at - (sent - original)  # received_at is UTC, so the result is too
    except OverflowError:
        raise InvalidMessage("sentAt", "is too far from timestamp to correct the device's clock; "
                                       "send both from the same clock") from None
    return corrected


def _identity(message: dict, field: str) -> str | None:
    value = message.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidMessage(field, "must be a string or a number")
    if not isinstance(value, str):
        value = str(value)
        message[field] = value
    return value


def validate(message: Any, message_type: str | None = None) -> dict:
    """Check one message against the Tracking API rules; returns it with `type` set.

    `message_type` comes from the path for single-call endpoints; in a batch each
    message carries its own `type`.
    """
    if not isinstance(message, dict):
        raise InvalidMessage("(message)", "must be a JSON object")
    if message_type is None:
        message_type = message.get("type")
        if not isinstance(message_type, str) or message_type not in MESSAGE_TYPES:
            raise InvalidMessage("type", f"must be one of {', '.join(sorted(MESSAGE_TYPES))}")
    else:
        message["type"] = message_type
    user_id, anonymous_id = _identity(message, "userId"), _identity(message, "anonymousId")
    if user_id is None and anonymous_id is None:
        raise InvalidMessage("userId", "every message needs a userId or an anonymousId")
    required = REQUIRED_BY_TYPE.get(message_type)
    if required is not None:
        value = message.get(required)
        if value is None or value == "" or (required != "event" and isinstance(value, (dict, list))):
            raise InvalidMessage(required, f"a {message_type} call needs {required}")
        if required == "event" and not isinstance(value, str):
            raise InvalidMessage("event", "must be a string")
        if required == "event" and value.isspace():
            raise InvalidMessage("event", "must not be blank")
    for name in TEXT_COLUMN_FIELDS:  # columns of their own on the type's table, whatever the type
        value = message.get(name)
        if value is not None and not isinstance(value, str):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidMessage(name, "must be a string")
            message[name] = str(value)
    for name in ("properties", "traits", "context", "integrations"):
        value = message.get(name)
        if value is not None and not isinstance(value, dict):
            raise InvalidMessage(name, "must be a JSON object")
    message_id = message.get("messageId")
    if message_id is not None and (not isinstance(message_id, str) or not message_id or len(message_id) > 200):
        raise InvalidMessage("messageId", "must be a non-empty string of at most 200 characters")
    return message  # the times are parsed (and range-checked) by enrich, which needs them anyway


def enrich(
    message: dict,
    *,
    received_at: datetime,
    received_at_text: str,
    ip: str | None = None,
    batch: dict | None = None,
    new_id: str | None = None,
) -> dict:
    """Add what the server knows: messageId, receivedAt, context.ip, skew-corrected time.

    Segment's clock-skew correction: the device's clock may be off, but the difference
    between when it sent the batch (`sentAt`) and when the event happened is right, so
    `timestamp = receivedAt - (sentAt - originalTimestamp)`. The caller's own timestamp is
    kept as `originalTimestamp`.
    """
    message.pop("writeKey", None)
    if batch:
        for key in ("context", "integrations"):
            shared = batch.get(key)
            if isinstance(shared, dict) and shared:
                own = message.get(key)
                message[key] = {**shared, **own} if own else dict(shared)
        if "sentAt" not in message and batch.get("sentAt") is not None:
            message["sentAt"] = batch["sentAt"]
    if not message.get("messageId"):
        message["messageId"] = new_id or new_message_ids(1)[0]
    message["receivedAt"] = received_at_text
    if ip is not None:
        context = message.get("context")
        if context is None:
            message["context"] = {"ip": ip}
        elif "ip" not in context:
            context["ip"] = ip

    sent_text = message.get("sentAt")
    sent = parse_timestamp(sent_text, "sentAt") if sent_text is not None else None  # a batch's sentAt, too
    original_field = "timestamp" if message.get("timestamp") is not None else "originalTimestamp"
    original_text = message.get(original_field)
    if original_text is None:
        message["timestamp"] = received_at_text
        return message
    original = parse_timestamp(original_text, original_field)
    message["originalTimestamp"] = original_text
    if sent is None:
        message["timestamp"] = format_timestamp(original)
        return message
    message["timestamp"] = format_timestamp(corrected_timestamp(received_at, sent, original))
    return message


def normalize_message(
    raw: Any,
    *,
    received_at: datetime | None = None,
    ip: str | None = None,
    batch: dict | None = None,
    message_type: str | None = None,
) -> dict:
    """Validate then enrich one message; raises InvalidMessage. Used outside the hot path."""
    received_at = received_at or utc_now()
    message = validate(raw, message_type)
    return enrich(message, received_at=received_at, received_at_text=format_timestamp(received_at), ip=ip,
                  batch=batch)
