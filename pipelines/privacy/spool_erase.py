"""A deleted person in the spool: tombstones for files not yet loaded, rewrites for archived ones.

Why two ways: files in open/, closed/ and claimed/ belong to a writer or a loader that may
be using them right now, so they are never rewritten; instead the tombstone list (hashes
in the suppression file format, `<spool_dir>/tombstones.txt`) makes the loader drop the
person's messages as it reads them. Archived files are done with, so they are rewritten
atomically without the person's messages (events, webhook records, quarantined items and
regulation records naming them).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from headwater.durability import fsync_path
from headwater.suppression import SuppressionList, read_suppression_file, write_suppression_file
from sources.collect.spool import ARCHIVE, SUFFIX, frame, scan

TOMBSTONE_FILE = "tombstones.txt"


def tombstone_path(spool_dir: Path) -> Path:
    return Path(spool_dir) / TOMBSTONE_FILE


def add_tombstones(spool_dir: Path, hashes: set[str]) -> int:
    path = tombstone_path(spool_dir)
    current = set(read_suppression_file(path))
    write_suppression_file(path, current | hashes)
    return len(hashes - current)


def tombstones(spool_dir: Path) -> SuppressionList:
    return SuppressionList(tombstone_path(spool_dir), check_seconds=0.0)


def filter_record(record: Any, matcher: SuppressionList) -> tuple[Any | None, int]:
    """The record without the tombstoned person's messages (None when nothing is left), and how many went."""
    if not isinstance(record, dict) or not matcher.current():
        return record, 0
    kind = record.get("kind")
    if kind == "events":
        messages = record.get("messages") or []
        kept = [m for m in messages if not (isinstance(m, dict) and matcher.suppresses(m))]
        dropped = len(messages) - len(kept)
        return ({**record, "messages": kept} if kept else None), dropped
    if kind == "webhook":
        messages = [m for m in record.get("messages") or [] if isinstance(m, dict)]
        if any(matcher.suppresses(m) for m in messages):
            return None, len(messages) or 1
        return record, 0
    if kind == "quarantine":
        items = record.get("items") or []
        kept = [i for i in items if not (isinstance(i, dict) and isinstance(i.get("raw"), dict)
                                         and matcher.suppresses(i["raw"]))]
        return ({**record, "items": kept} if kept else None), len(items) - len(kept)
    if kind == "regulation":
        users = record.get("users") or []
        if any(matcher.suppresses({"userId": u.get("userId"), "anonymousId": u.get("anonymousId"),
                                   "traits": {"email": u.get("email"), "phone": u.get("phone")}})
               for u in users if isinstance(u, dict)):
            return None, 1
    return record, 0


def rewrite_archive(spool_dir: Path, matcher: SuppressionList) -> tuple[int, int]:
    """Rewrite archived files without tombstoned messages; returns (files rewritten, messages removed)."""
    folder = Path(spool_dir) / ARCHIVE
    files = removed = 0
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        kept: list[bytes] = []
        dropped_here = 0
        for payload in scan(path.read_bytes()).payloads:
            try:
                record = orjson.loads(payload)
            except orjson.JSONDecodeError:
                kept.append(payload)
                continue
            filtered, dropped = filter_record(record, matcher)
            dropped_here += dropped
            if filtered is record:
                kept.append(payload)
            elif filtered is not None:
                kept.append(orjson.dumps(filtered))
            elif dropped == 0:
                dropped_here += 1
        if not dropped_here:
            continue
        temporary = path.with_suffix(".rewrite")
        with open(temporary, "wb") as handle:
            for payload in kept:
                handle.write(frame(payload))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        fsync_path(path.parent)  # the rewrite is durable only once the rename is
        files += 1
        removed += dropped_here
    return files, removed
