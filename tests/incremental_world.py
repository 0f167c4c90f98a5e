"""A synthetic world loaded into a warehouse in steps, the way production receives it.

Why steps: an incremental build is only proven by feeding it what production feeds it: some
events, a build, more events (late ones among them) and a new pull of every cloud source in
which earlier rows changed (an order cancelled after the first pull), then another build.
Events go through the real spool and loader (`SpoolWriter` files, `load_spool`), cloud
sources through dlt from the emulators; nothing is written into raw tables by hand.

Used by tests/test_models_incremental*.py and bench/build.py.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

from headwater.config import HeadwaterConfig, parse_config
from sources.collect.messages import enrich
from sources.collect.spool import SpoolWriter, encode
from sources.emulators import Emulators
from sources.synthetic.files import iter_events, iter_jsonl, open_write
from sources.synthetic.world import VENDOR_FILES, read_manifest

import orjson

MESSAGES_PER_RECORD = 500
MESSAGES_PER_FILE = 20_000  # the loader holds a group of files in memory: keep each file small


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def world_config(folder: Path, world: Path, warehouse_url: str, emulators: Emulators) -> HeadwaterConfig:
    """Events sources named as the world's write keys say, plus the three emulated cloud sources."""
    manifest = read_manifest(world)
    return parse_config({
        "warehouse": warehouse_url,
        "collect": {"spool_dir": str(folder / "spool")},
        "sources": [*({"name": name, "type": "events", "write_key": key} for name, key in manifest.write_keys.items()),
                    *emulators.source_entries()],
    })


def spool_events(world: Path, config: HeadwaterConfig, after: datetime | None = None,
                 until: datetime | None = None, every: int = 1) -> int:
    """Write the world's events with after < timestamp <= until (every `every`-th one) to closed spool files.

    Each message is received when its SDK sent it (`sentAt`), so the collect endpoint's
    clock-skew correction gives back the world's own timestamp and nothing depends on today.
    """
    writer = SpoolWriter(Path(config.collect.spool_dir), name="world", rotate_bytes=1 << 40, rotate_seconds=1e9)
    written = 0
    for source in read_manifest(world).write_keys:
        batch: list[dict] = []
        for index, message in enumerate(iter_events(world, source)):
            moment = parse_time(message["timestamp"])
            if (after is not None and moment <= after) or (until is not None and moment > until) or index % every:
                continue
            received = parse_time(message.get("sentAt") or message["timestamp"])
            batch.append(enrich(message, received_at=received, received_at_text=iso(received)))
            if len(batch) >= MESSAGES_PER_RECORD:
                writer.write(encode({"source": source, "kind": "events", "received_at": iso(received),
                                     "messages": batch}))
                written, batch = written + len(batch), []
                if written % MESSAGES_PER_FILE == 0:
                    writer.rotate()
        if batch:
            writer.write(encode({"source": source, "kind": "events", "received_at": iso(received), "messages": batch}))
            written += len(batch)
    writer.close()
    return written


def event_time_quantile(world: Path, share: float) -> datetime:
    """The event time below which `share` of the world's events happened (to hold the newest ones back)."""
    times = sorted(parse_time(message["timestamp"]) for source in read_manifest(world).write_keys
                   for message in iter_events(world, source))
    return times[min(len(times) - 1, int(len(times) * share))]


# when a vendor record came into being
_CREATED = ("createdAt", "created", "timestamp_signup", "timestamp_opt", "timestamp", "send_time")


def _order_before(record: dict, moment: datetime) -> dict:
    """A Shopify order cancelled after `moment` was not cancelled yet (nor updated since)."""
    if record.get("cancelledAt") and parse_time(record["cancelledAt"]) > moment:
        record["cancelledAt"] = None
        if record.get("updatedAt") and parse_time(record["updatedAt"]) > moment:
            record["updatedAt"] = iso(moment - timedelta(seconds=1))
    return record


def _member_before(record: dict, moment: datetime) -> dict:
    """A Mailchimp member who unsubscribed (or was cleaned) after `moment` was still subscribed then."""
    changed = record.get("last_changed")
    if record.get("status") in ("unsubscribed", "cleaned") and changed and parse_time(changed) > moment:
        record["status"] = "subscribed"
        record["last_changed"] = record.get("timestamp_opt") or record.get("timestamp_signup")
        record["unsubscribe_reason"] = None
    return record


# (vendor, kind) -> the record as it stood at an earlier moment
_EARLIER = {("shopify", "orders"): _order_before, ("mailchimp", "members"): _member_before}


def _created(record: dict) -> datetime | None:
    for key in _CREATED:
        value = record.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, timezone.utc)
        if isinstance(value, str) and value:
            try:
                return parse_time(value)
            except ValueError:
                continue
    return None


def vendor_world_as_of(world: Path, out: Path, moment: datetime) -> Path:
    """A copy of the world's vendor records as the vendors held them at `moment`.

    Records created later are left out; a member who unsubscribed later is still subscribed
    (an order cancelled later not cancelled yet), so the next pull brings the record back
    changed and dlt's merge replaces the row: the changed-source-row case an incremental
    build must handle.
    """
    if out.exists():
        shutil.rmtree(out)
    (out / "vendors").mkdir(parents=True)
    shutil.copy(world / "manifest.json", out / "manifest.json")
    for vendor, kinds in VENDOR_FILES.items():
        (out / "vendors" / vendor).mkdir()
        for kind in kinds:
            path = world / "vendors" / vendor / f"{kind}.jsonl"
            if not path.exists() and not Path(f"{path}.gz").exists():
                continue
            with open_write(out / "vendors" / vendor / f"{kind}.jsonl", compress=False) as handle:
                for record in iter_jsonl(path):
                    created = _created(record)
                    if created is not None and created > moment:
                        continue
                    if (vendor, kind) in _EARLIER:
                        record = _EARLIER[(vendor, kind)](record, moment)
                    handle.write(orjson.dumps(record) + b"\n")
    return out


def pull_vendors(config: HeadwaterConfig, vendor_world: Path) -> None:
    """Serve `vendor_world` from the emulators on the ports `config` names, and pull every cloud source."""
    from pipelines.cloud_sources import run_sources

    ports = {entry.type: int(str(entry.base_url).split(":")[2].split("/")[0])
             for entry in config.sources if entry.type != "events"}
    with Emulators(vendor_world, ports=ports):
        run_sources(config)
