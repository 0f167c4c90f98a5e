"""A local Mailchimp Marketing API (3.0) for tests and the demo.

It enforces what a client can trip over: Basic auth with the API key as password (any
username) or a Bearer token, else 401 with Mailchimp's problem+json body; `count` 1..1000
(default 10) and `offset` with `total_items`; `since_last_changed`, `status` and `unique_email_id`
(the `mc_eid` of a campaign link) on members and `since`
on email activity (strictly after, ISO 8601); 404 for an unknown list or campaign.
Tests change data through `MailchimpEmulator` (changes are stamped with the emulator's
clock) and inject 429/5xx through `control`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sources.emulator_kit import EmulatorControl, vendor_records

DEFAULT_API_KEY = "0123456789abcdef0123456789abcdef-us21"
ERRORS_DOC = "https://mailchimp.com/developer/marketing/docs/errors/"
MAX_COUNT = 1000


class MailchimpProblem(Exception):
    def __init__(self, status: int, title: str, detail: str):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def problem(status: int, title: str, detail: str) -> Response:
    body = {"type": ERRORS_DOC, "title": title, "status": status, "detail": detail, "instance": str(uuid.uuid4())}
    return Response(orjson.dumps(body), status_code=status, media_type="application/problem+json")


def member_id(email: str) -> str:
    """Mailchimp's subscriber hash: MD5 of the lowercase email."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


def _parse_time(text: str, param: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MailchimpProblem(400, "Invalid Resource", f"{param}: '{text}' is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class MailchimpEmulator:
    """Lists, members per list, campaigns, reports, email activity and unsubscribes."""

    def __init__(self, lists: list[dict] = (), members: list[dict] = (), campaigns: list[dict] = (),
                 reports: list[dict] = (), email_activity: list[dict] = (), unsubscribes: list[dict] = (),
                 api_key: str = DEFAULT_API_KEY, clock: Callable[[], float] = time.time):
        self.api_key = api_key
        self._clock = clock
        self._lock = threading.RLock()
        self.lists = {item["id"]: copy.deepcopy(item) for item in lists}
        self.members: dict[str, dict[str, dict]] = {list_id: {} for list_id in self.lists}
        for member in members:
            self.members.setdefault(member["list_id"], {})[member["id"]] = copy.deepcopy(member)
        self.campaigns = {item["id"]: copy.deepcopy(item) for item in campaigns}
        self.reports = {item["id"]: copy.deepcopy(item) for item in reports}
        self.email_activity: dict[str, dict[str, dict]] = {}
        for email in email_activity:
            self.email_activity.setdefault(email["campaign_id"], {})[email["email_id"]] = copy.deepcopy(email)
        self.unsubscribes: dict[str, list[dict]] = {}
        for unsubscribe in unsubscribes:
            self.unsubscribes.setdefault(unsubscribe["campaign_id"], []).append(copy.deepcopy(unsubscribe))
        self.control = EmulatorControl()

    @classmethod
    def from_world(cls, world: Path | str, **options) -> "MailchimpEmulator":
        kinds = ("lists", "members", "campaigns", "reports", "email_activity", "unsubscribes")
        return cls(**{kind: vendor_records(world, "mailchimp", kind) for kind in kinds}, **options)

    def now_iso(self) -> str:
        return datetime.fromtimestamp(int(self._clock()), timezone.utc).isoformat()

    # -- mutations ---------------------------------------------------------------------
    def upsert_member(self, list_id: str, email: str, **fields: Any) -> dict:
        """Add or change a member; `last_changed` becomes now, as in Mailchimp."""
        with self._lock:
            members = self.members[list_id]
            key = member_id(email)
            member = members.setdefault(key, {"id": key, "email_address": email, "list_id": list_id,
                                              "unique_email_id": secrets.token_hex(5),
                                              "status": "subscribed", "merge_fields": {}})
            member.update(copy.deepcopy(fields))
            member["last_changed"] = self.now_iso()
            return copy.deepcopy(member)

    def record_activity(self, campaign_id: str, email: str, action: str, **fields: Any) -> None:
        """Append an open/click/bounce by this recipient, stamped now."""
        with self._lock:
            emails = self.email_activity.setdefault(campaign_id, {})
            key = member_id(email)
            record = emails.setdefault(key, {"campaign_id": campaign_id,
                                             "list_id": self.reports.get(campaign_id, {}).get("list_id"),
                                             "email_id": key, "email_address": email, "activity": []})
            record["activity"].append({"action": action, "timestamp": self.now_iso(), **fields})

    def current_members(self) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(m) for members in self.members.values() for m in members.values()]

    # -- reads -------------------------------------------------------------------------
    def collection(self, path: str, params: dict[str, str]) -> dict:
        count, offset = _paging(params)
        parts = path.strip("/").split("/")
        with self._lock:
            if parts == ["lists"]:
                key, items = "lists", list(self.lists.values())
            elif parts == ["campaigns"]:
                key, items = "campaigns", list(self.campaigns.values())
            elif parts == ["reports"]:
                key, items = "reports", list(self.reports.values())
            elif len(parts) == 3 and parts[0] == "lists" and parts[2] == "members":
                key, items = "members", self._members(parts[1], params)
            elif len(parts) == 3 and parts[0] == "reports" and parts[2] == "email-activity":
                key, items = "emails", self._activity(parts[1], params)
            elif len(parts) == 3 and parts[0] == "reports" and parts[2] == "unsubscribed":
                self._report(parts[1])
                key, items = "unsubscribes", list(self.unsubscribes.get(parts[1], []))
            else:
                raise MailchimpProblem(404, "Resource Not Found", "The requested resource could not be found.")
            page = copy.deepcopy(items[offset:offset + count])
        return {key: page, "total_items": len(items), "_links": []}

    def _members(self, list_id: str, params: dict[str, str]) -> list[dict]:
        if list_id not in self.lists:
            raise MailchimpProblem(404, "Resource Not Found", "The requested resource could not be found.")
        items = list(self.members.get(list_id, {}).values())
        if "since_last_changed" in params:
            since = _parse_time(params["since_last_changed"], "since_last_changed")
            items = [m for m in items if _parse_time(m["last_changed"], "last_changed") > since]
        if "status" in params:
            items = [m for m in items if m.get("status") == params["status"]]
        if "unique_email_id" in params:  # what a campaign link's mc_eid names
            items = [m for m in items if m.get("unique_email_id") == params["unique_email_id"]]
        return items

    def _report(self, campaign_id: str) -> dict:
        if campaign_id not in self.reports:
            raise MailchimpProblem(404, "Resource Not Found", "The requested resource could not be found.")
        return self.reports[campaign_id]

    def _activity(self, campaign_id: str, params: dict[str, str]) -> list[dict]:
        self._report(campaign_id)
        emails = list(self.email_activity.get(campaign_id, {}).values())
        if "since" not in params:
            return emails
        since = _parse_time(params["since"], "since")
        recent = []
        for email in emails:
            kept = [a for a in email["activity"] if _parse_time(a["timestamp"], "timestamp") > since]
            if kept:
                recent.append({**email, "activity": kept})
        return recent


def _paging(params: dict[str, str]) -> tuple[int, int]:
    try:
        count, offset = int(params.get("count", "10")), int(params.get("offset", "0"))
    except ValueError:
        raise MailchimpProblem(400, "Invalid Resource", "count and offset must be integers") from None
    if not 1 <= count <= MAX_COUNT:
        raise MailchimpProblem(400, "Invalid Resource", f"count: must be between 1 and {MAX_COUNT}, got {count}")
    if offset < 0:
        raise MailchimpProblem(400, "Invalid Resource", f"offset: must be 0 or more, got {offset}")
    return count, offset


def _authorized(request: Request, api_key: str) -> Response | None:
    header = request.headers.get("authorization", "")
    supplied = ""
    if header.lower().startswith("basic "):
        try:
            supplied = base64.b64decode(header[6:]).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            supplied = ""
    elif header.lower().startswith(("bearer ", "apikey ")):
        supplied = header.split(" ", 1)[1].strip()
    if supplied and secrets.compare_digest(supplied.encode(), api_key.encode()):
        return None
    return problem(401, "API Key Invalid",
                   "Your API key may be invalid, or you've attempted to access the wrong datacenter.")


def create_app(world: Path | str | MailchimpEmulator | None = None, api_key: str = DEFAULT_API_KEY,
               clock: Callable[[], float] = time.time) -> Starlette:
    """The emulator under /3.0; `app.state.emulator` is the `MailchimpEmulator` behind it."""
    if isinstance(world, MailchimpEmulator):
        emulator = world
    elif world is None:
        emulator = MailchimpEmulator(api_key=api_key, clock=clock)
    else:
        emulator = MailchimpEmulator.from_world(world, api_key=api_key, clock=clock)

    async def endpoint(request: Request) -> Response:
        fault = emulator.control.admit(request, lambda status, message: problem(
            status, "Too Many Requests" if status == 429 else "Internal Server Error", message))
        if fault is not None:
            return fault
        denied = _authorized(request, emulator.api_key)
        if denied is not None:
            return denied
        path = request.path_params["path"]
        try:
            if path.strip("/") == "ping":
                body: dict = {"health_status": "Everything's Chimpy!"}
            else:
                body = emulator.collection(path, dict(request.query_params))
        except MailchimpProblem as error:
            return problem(error.status, error.title, error.detail)
        return Response(orjson.dumps(body), media_type="application/json")

    app = Starlette(routes=[Route("/3.0/{path:path}", endpoint, methods=["GET"])])
    app.state.emulator = emulator
    return app
