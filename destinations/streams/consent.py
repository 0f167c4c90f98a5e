"""Whether a streamed event may go to a tool of a consent category: suppression, then consent.

The same signals the warehouse's consent model reads (models/profiles/consent_observations):
identify traits `consent_<category>` and Segment's `context.consent.categoryPreferences` on
any call, are read here live, as events pass, and remembered per person (hashed userId and
anonymousId) in the stream state. So a person who withdraws consent mid-stream has no later
event forwarded, even one that carries no consent of its own, and a person nobody ever heard
from gets `traits.consent_default` (unset: not granted), as a sync would. The suppression
list (privacy deletions) is re-read whenever it changes and wins over everything.
Imports headwater.suppression and destinations.streams.state only.
"""

from __future__ import annotations

import hashlib
from typing import Any

from destinations.streams.state import StreamState, utc_now
from headwater.suppression import SuppressionList

CATEGORIES = ("analytics", "advertising", "email", "sms")


def _hash(kind: str, value: Any) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def identifiers(message: dict[str, Any]) -> list[str]:
    return [_hash(kind, message[field]) for kind, field in (("user", "userId"), ("anon", "anonymousId"))
            if isinstance(message.get(field), str) and message.get(field)]


def _granted(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "granted", "denied", "yes", "no"):
        return value.strip().lower() in ("true", "granted", "yes")
    return None


def signals(message: dict[str, Any]) -> dict[str, bool]:
    """The consent a message states, per category (context preferences override traits)."""
    found: dict[str, bool] = {}
    traits = message.get("traits") if message.get("type") == "identify" else None
    if isinstance(traits, dict):
        for category in CATEGORIES:
            if (value := _granted(traits.get(f"consent_{category}"))) is not None:
                found[category] = value
    context = message.get("context")
    preferences = (context.get("consent") or {}).get("categoryPreferences") if isinstance(context, dict) and \
        isinstance(context.get("consent"), dict) else None
    if isinstance(preferences, dict):
        for category in CATEGORIES:
            if (value := _granted(preferences.get(category))) is not None:
                found[category] = value
    return found


class ConsentGate:
    """One per stream; `changes` collects what the current chunk learned, committed with its cursor."""

    def __init__(self, state: StreamState, suppression: SuppressionList | None, defaults: dict[str, bool]):
        self.state, self.suppression, self.defaults = state, suppression, defaults
        self._pending: dict[tuple[str, str], bool] = {}
        self.changes: list[tuple[str, str, bool, str]] = []

    def start_chunk(self) -> None:
        self._pending.clear()
        self.changes = []

    def observe(self, message: dict[str, Any]) -> None:
        """Remember the consent a message states; every message is observed, whether or not
        the stream forwards it (an identify withdrawing consent matters to a track stream)."""
        stated = signals(message)
        if not stated:
            return
        at = str(message.get("timestamp") or message.get("receivedAt") or utc_now())
        for identifier in identifiers(message):
            for name, granted in stated.items():
                self._pending[(identifier, name)] = granted
                self.changes.append((identifier, name, granted, at))

    def reason_to_skip(self, message: dict[str, Any], category: str) -> str | None:
        """None when the event may go; else why not (`suppressed`, `consent:<category>`).
        Call `observe` on the message first."""
        if self.suppression is not None and self.suppression.suppresses(message):
            return "suppressed"
        ids = identifiers(message)
        stated = signals(message)
        if category == "none":
            return None
        if category in stated:
            granted = stated[category]
        else:
            granted = self._remembered(ids, category)
        return None if granted else f"consent:{category}"

    def _remembered(self, ids: list[str], category: str) -> bool:
        for identifier in ids:
            if (identifier, category) in self._pending:
                return self._pending[(identifier, category)]
        known = self.state.consent_of(ids, category)
        return known[0] if known is not None else self.defaults.get(category, False)
