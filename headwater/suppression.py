"""The suppression file: hashed identifiers whose events the collect endpoint drops.

Why a file of hashes: the collect endpoint never opens the warehouse, yet must drop the
events of people who asked to be suppressed or deleted. The privacy step resolves a
request to every identifier of the profile and writes their SHA-256 hashes here (never
the identifiers themselves); each collect process reloads the file when it changes.

Matching is on the values a message carries, as sent: userId, anonymousId, and the
email/phone in traits or context.traits. Emails are compared trimmed and lowercased;
other values exactly, so the privacy step writes a hash for every raw variant it has
seen of a phone number. Format: one lowercase hex digest per line; `#` lines are notes.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from headwater.durability import fsync_path

DEFAULT_SUPPRESSION_FILE = Path("data/privacy/suppressed_identifiers.txt")


def identifier_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def email_hash(value: str) -> str:
    return identifier_hash(value.strip().lower())


def write_suppression_file(path: Path, hashes: set[str]) -> None:
    """Replace the file atomically (a reader never sees half of it) and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    lines = ["# headwater suppression list: SHA-256 of identifiers whose events are dropped"]
    lines.extend(sorted(hashes))
    temporary.write_text("\n".join(lines) + "\n")
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_path(path.parent)  # the rename itself survives a power cut only once its folder is flushed


def read_suppression_file(path: Path) -> frozenset[str]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return frozenset()
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


class SuppressionList:
    """The current suppression set, re-read at most once per `check_seconds` when it changed."""

    def __init__(self, path: Path, check_seconds: float = 1.0, clock=time.monotonic):
        self.path, self.check_seconds, self._clock = Path(path), check_seconds, clock
        self._stamp: tuple[int, int] | None = None
        self._checked_at = float("-inf")
        self.hashes: frozenset[str] = frozenset()
        self.refresh()

    def refresh(self) -> None:
        self._checked_at = self._clock()
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._stamp = stamp
            self.hashes = read_suppression_file(self.path) if stamp else frozenset()

    def current(self) -> frozenset[str]:
        if self._clock() - self._checked_at >= self.check_seconds:
            self.refresh()
        return self.hashes

    def suppresses(self, message: dict) -> bool:
        """True when any identifier the message carries is on the list."""
        hashes = self.current()
        if not hashes:
            return False
        for field in ("userId", "anonymousId"):
            value = message.get(field)
            if isinstance(value, str) and value and identifier_hash(value) in hashes:
                return True
        for traits in (message.get("traits"), (message.get("context") or {}).get("traits")):
            if not isinstance(traits, dict):
                continue
            email, phone = traits.get("email"), traits.get("phone")
            if isinstance(email, str) and email and email_hash(email) in hashes:
                return True
            if isinstance(phone, str) and phone and identifier_hash(phone.strip()) in hashes:
                return True
        return False
