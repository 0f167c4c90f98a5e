"""Time in the world: the window, how sessions spread over it, and device clock skew.

Times are float unix seconds inside the generator (cheap) and ISO 8601 strings with
milliseconds and `Z` on the wire (what Segment SDKs send). Sessions are denser in the
last weeks so that 72-hour (GA4), 7-day (Meta) and 30-day windows all have members.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from sources.synthetic.randomness import unit

DAY = 86400.0
RECENT_DAYS = 21
RECENT_SHARE = 0.35
MAX_SKEW_HOURS = 12


_DAY_PREFIX: dict[int, str] = {}


def iso(ts: float) -> str:
    """`2026-11-22T10:00:00.123Z`: fixed width, so rewriting never changes batch sizes.

    Hot path (three per event): the date part is cached per day, the rest is arithmetic.
    """
    millis = int(round(ts * 1000))
    seconds, millis = divmod(millis, 1000)
    day, second_of_day = divmod(seconds, 86400)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        if len(_DAY_PREFIX) > 4096:
            _DAY_PREFIX.clear()
        prefix = _DAY_PREFIX[day] = time.strftime("%Y-%m-%dT", time.gmtime(day * 86400))
    hours, rest = divmod(second_of_day, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{prefix}{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}Z"


def iso_seconds(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_offset(ts: float) -> str:
    """Mailchimp's style: `2026-11-22T10:00:00+00:00`."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def parse_end(text: str | None) -> datetime:
    """`--end 2026-11-01` or a full ISO time; default now (UTC, whole seconds)."""
    if text is None:
        return datetime.now(UTC).replace(microsecond=0)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def window_start(end: datetime, months: int) -> datetime:
    return end - timedelta(days=round(months * 30.44))


def session_time(rng: random.Random, start: float, end: float, before: float | None = None) -> float:
    """A session start: a share of sessions in the last weeks, the rest spread evenly."""
    stop = min(end, before) if before is not None else end
    recent_from = max(start, end - RECENT_DAYS * DAY)
    if before is None and rng.random() < RECENT_SHARE:
        return rng.uniform(recent_from, stop - 600)
    return rng.uniform(start, stop - 600)


def device_skew_seconds(seed: int, skew_rate: float, anonymous_id: str) -> float:
    """How far a device's clock is off, in seconds (0 for most devices).

    A pure function of the device id so that replay can reproduce the skew without the
    ground truth: sentAt must carry the same skew as the event timestamps for the server's
    correction to restore the true time.
    """
    if unit(seed, "skew", anonymous_id) >= skew_rate:
        return 0.0
    magnitude = 3600.0 + unit(seed, "skew-size", anonymous_id) * (MAX_SKEW_HOURS - 1) * 3600.0
    return round(magnitude if unit(seed, "skew-sign", anonymous_id) < 0.5 else -magnitude, 3)
