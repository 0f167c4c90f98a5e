"""What every email and analytics destination derives from a warehouse row the same way.

Why one module: Klaviyo, Mailchimp, GA4, Mixpanel and Amplitude each want an event time in
their own unit, a dedup key under their own length rule, JSON-safe property values (the
warehouse hands back Decimal and datetime) and, for audience syncs, one user property
that says "in this audience". The arithmetic is the same everywhere, so it lives once.
Imports the standard library and destinations.base (for SkipRow) only.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from destinations.base import SkipRow

_ISO_Z = re.compile(r"Z$")


def as_utc(value: Any) -> datetime | None:
    """A timezone-aware UTC datetime from a warehouse TIMESTAMP (naive = UTC) or ISO text."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(_ISO_Z.sub("+00:00", str(value).strip()))
        except ValueError:
            return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def required_event_time(row: dict[str, Any], field: str = "event_time") -> datetime:
    """The row's event time in UTC; a row without one is skipped (logged), never sent."""
    moment = as_utc(row.get(field))
    if moment is None:
        raise SkipRow(f"{field} is empty or not a date")
    return moment


def epoch_ms(value: Any) -> int | None:
    moment = as_utc(value)
    return int(moment.timestamp() * 1000) if moment else None


def iso_time(value: Any) -> str | None:
    """`2026-11-20T10:15:00+00:00`, the ISO 8601 form JSON:API vendors take."""
    moment = as_utc(value)
    return moment.isoformat() if moment else None


def json_safe(value: Any) -> Any:
    """Decimal -> float, datetime -> ISO text; JSON-native values unchanged."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return as_utc(value).isoformat()
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


def present(row: dict[str, Any], *fields: str) -> dict[str, Any]:
    """The named fields of a row that have a value, JSON-safe."""
    return {f: json_safe(row[f]) for f in fields if row.get(f) is not None and row.get(f) != ""}


def dedup_key(key: Any, max_length: int, allowed: str = r"[A-Za-z0-9\-]") -> str:
    """The row key itself when the vendor accepts it, else its MD5 hex (stable across runs).

    Mixpanel's `$insert_id` must be at most 36 letters, digits or dashes; a conversion id
    that does not fit becomes a 32-character hex digest, the same on every retry.
    """
    text = str(key)
    if len(text) <= max_length and re.fullmatch(f"{allowed}+", text):
        return text
    return hashlib.md5(text.encode()).hexdigest()


def audience_property(template: str, audience: Any) -> str | None:
    """The user property that marks membership, e.g. `headwater_audience_cart_abandoners`."""
    if audience is None or str(audience) == "":
        return None
    return template.format(audience=re.sub(r"[^A-Za-z0-9_]", "_", str(audience)))


_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def render_template(template: str, fields: dict[str, Any]) -> str:
    """`{email|user_id} bought for {revenue} {currency}`: each `{a|b}` is the first of the fields
    that is set, empty when none is; no expression language, so a template cannot run code."""
    def one(match: re.Match) -> str:
        for name in match.group(1).split("|"):
            value = fields.get(name.strip())
            if value not in (None, ""):
                return str(json_safe(value))
        return ""

    return _PLACEHOLDER.sub(one, template)
