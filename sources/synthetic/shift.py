"""Move a world's vendor records in time, so a shipped world can end today.

Why: replay shifts events to end now, but the emulators serve vendor records as written,
so a world generated weeks ago would have every Shopify order and Stripe charge older than
Meta's 7-day and GA4's 72-hour windows. The shift is a whole number of days, so two demo
runs on the same day serve identical records and the warehouse comes out the same.

Timestamps are found by shape, not by field list: ISO-8601 date-times anywhere (Shopify,
Mailchimp) keep their own format; integers that look like unix seconds under Stripe's
time fields (`created`, `*_at`, `*_start`, `*_end`, ...) move by the same amount.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from sources.synthetic.files import iter_jsonl, open_write
from sources.synthetic.world import read_manifest

DAY = 86_400
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
UNIX_TIME_KEYS = frozenset({"created", "date", "start_date", "due_date", "available_on", "effective_at"})
UNIX_TIME_SUFFIXES = ("_at", "_start", "_end", "_date")
UNIX_RANGE = (1_000_000_000, 4_000_000_000)


def whole_day_shift(world_end: str, now: datetime | None = None) -> int:
    """Seconds (a multiple of a day) that bring `world_end` to within the last day."""
    end = datetime.fromisoformat(world_end.replace("Z", "+00:00"))
    now = now or datetime.now(timezone.utc)
    return max(0, int((now - end).total_seconds()) // DAY) * DAY


def _shift_iso(text: str, seconds: int) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    shifted = moment.isoformat()
    if "." not in text:
        shifted = moment.replace(microsecond=0).isoformat()
    return shifted.replace("+00:00", "Z") if text.endswith("Z") else shifted


def _is_unix_key(key: str) -> bool:
    return key in UNIX_TIME_KEYS or key.endswith(UNIX_TIME_SUFFIXES)


def shift_record(value: Any, seconds: int, key: str = "") -> Any:
    """A copy of `value` with every timestamp it holds moved by `seconds`."""
    if isinstance(value, dict):
        return {k: shift_record(v, seconds, k) for k, v in value.items()}
    if isinstance(value, list):
        return [shift_record(v, seconds, key) for v in value]
    if isinstance(value, str) and ISO_DATETIME.match(value):
        return _shift_iso(value, seconds)
    if (isinstance(value, int) and not isinstance(value, bool) and _is_unix_key(key)
            and UNIX_RANGE[0] <= value < UNIX_RANGE[1]):
        return value + seconds
    return value


def shifted_vendor_world(world_dir: Path, out_dir: Path, now: datetime | None = None) -> Path:
    """Write `out_dir/vendors/...` (and the manifest) with records shifted to end by `now`.

    Returns `out_dir`, a world the emulators can serve. Rewritten only when the shift
    changed, so repeated calls on one day cost nothing.
    """
    world_dir, out_dir = Path(world_dir), Path(out_dir)
    manifest = read_manifest(world_dir)
    seconds = whole_day_shift(manifest.end, now)
    stamp = out_dir / "SHIFT"
    marker = f"{world_dir.resolve()} +{seconds}s\n"
    if stamp.exists() and stamp.read_text() == marker:
        return out_dir
    for source in sorted((world_dir / "vendors").glob("*/*.jsonl*")):
        kind = source.name.split(".jsonl")[0]
        target = out_dir / "vendors" / source.parent.name / f"{kind}.jsonl"
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in target.parent.glob(f"{kind}.jsonl*"):
            stale.unlink()
        with open_write(target, compress=False) as handle:
            for record in iter_jsonl(source):
                handle.write(orjson.dumps(shift_record(record, seconds)) + b"\n")
    (out_dir / "manifest.json").write_bytes((world_dir / "manifest.json").read_bytes())
    stamp.write_text(marker)
    return out_dir
