"""A local Mixpanel ingestion API: `/import` (strict validation) and `/engage` (profile updates).

Enforces what Mixpanel documents: Basic auth with a service account (and `project_id`)
or the project API secret, else 401; at most 2,000 events or updates a request (413);
with `strict=1` every event needs a name, `time`, `distinct_id` and a `$insert_id` of at
most 36 letters, digits or dashes, and bad events come back in a 400's `failed_records`
while the good ones are imported; without strict, bad events are silently dropped.
Events are deduplicated on (event, distinct_id, time, $insert_id) as Mixpanel does.
`/engage` needs the project token in each update and exactly one operation.
The GDPR API (`POST /api/app/data-deletions/v3.0/?token=`) needs `Authorization: Bearer <GDPR
OAuth token>` (401 otherwise), the project token (400), 1 to 2,000 string `distinct_ids` and a
`compliance_type` of GDPR or CCPA; it erases those people's events and profile and records the task.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from dataclasses import dataclass, field

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from destinations.emulators.kit import DestinationControl, read_body

SERVICE_ACCOUNT = ("headwater-sa.mp-service-account", "sa-secret-0123456789abcdef")
PROJECT_ID = "3141592"
API_SECRET = "mp-api-secret-0123456789"
PROJECT_TOKEN = "mp-token-0123456789abcdef"
GDPR_OAUTH_TOKEN = "mp-gdpr-oauth-0123456789abcdef"
MAX_RECORDS = 2000
INSERT_ID = re.compile(r"^[A-Za-z0-9\-]{1,36}$")
OPERATIONS = ("$set", "$set_once", "$add", "$union", "$append", "$remove", "$unset", "$delete")


@dataclass
class MixpanelState:
    control: DestinationControl = field(default_factory=DestinationControl)
    profiles: dict[str, dict] = field(default_factory=dict)
    deletion_tasks: list[dict] = field(default_factory=list)   # accepted GDPR deletions: task_id, distinct_ids


def _error(status: int, message: str) -> Response:
    return JSONResponse({"code": status, "error": message, "status": "error"}, status_code=status)


def _authorized(request: Request) -> bool:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    if secrets.compare_digest(user.encode(), API_SECRET.encode()) and not password:
        return True
    return (secrets.compare_digest(user.encode(), SERVICE_ACCOUNT[0].encode())
            and secrets.compare_digest(password.encode(), SERVICE_ACCOUNT[1].encode())
            and request.query_params.get("project_id") == PROJECT_ID)


def _event_problem(index: int, event: object, rejected: set[str]) -> dict | None:
    """Mixpanel's failed-record entry for one event, or None when it is valid."""
    def failed(field_name: str, message: str) -> dict:
        insert_id = event.get("properties", {}).get("$insert_id") if isinstance(event, dict) else None
        return {"index": index, "$insert_id": insert_id, "field": field_name, "message": message}

    if not isinstance(event, dict) or not isinstance(event.get("properties"), dict):
        return failed("properties", "'properties' must be an object")
    if not isinstance(event.get("event"), str) or not event["event"]:
        return failed("event", "'event' must be a non-empty string")
    props = event["properties"]
    moment = props.get("time")
    if not isinstance(moment, int) or moment <= 0:
        return failed("properties.time", "'properties.time' is invalid: must be seconds or milliseconds since epoch")
    millis = moment if moment > 10**11 else moment * 1000
    if millis > (time.time() + 3600) * 1000:
        return failed("properties.time", "'properties.time' is more than 1 hour in the future")
    if not isinstance(props.get("distinct_id"), str):
        return failed("properties.distinct_id", "'properties.distinct_id' must be a string")
    if not isinstance(props.get("$insert_id"), str) or not INSERT_ID.match(props["$insert_id"]):
        return failed("properties.$insert_id",
                      "'properties.$insert_id' is required in strict mode: at most 36 letters, digits or dashes")
    if len(props) > 255:
        return failed("properties", "an event may have at most 255 properties")
    for name, value in props.items():
        if isinstance(value, str) and value in rejected:
            return failed(f"properties.{name}", f"'properties.{name}' has an invalid value")
    return None


def create_app(state: MixpanelState | None = None) -> Starlette:
    """`app.state.mixpanel` holds the control (log, faults, events) and the profiles."""
    state = state or MixpanelState()
    control = state.control

    async def import_events(request: Request) -> Response:
        if (fault := control.admit(request, _error)) is not None:
            return fault
        if not _authorized(request):
            return _error(401, "Invalid credentials: use a service account (with project_id) or the project secret")
        try:
            events = await read_body(request) if request.headers.get("content-type", "").startswith(
                "application/json") else [orjson.loads(line) for line in (await request.body()).splitlines() if line]
        except orjson.JSONDecodeError:
            return _error(400, "request body is not valid JSON")
        if not isinstance(events, list):
            return _error(400, "request body must be a JSON array of events")
        if len(events) > MAX_RECORDS:
            return _error(413, f"a request may carry at most {MAX_RECORDS} events, got {len(events)}")
        control.record_body(events)
        strict = request.query_params.get("strict") == "1"
        failed = []
        for index, event in enumerate(events):
            problem = _event_problem(index, event, control.rejected_values)
            if problem is not None:
                failed.append(problem)
                continue
            props = event["properties"]
            control.add_event(f"{event['event']}|{props['distinct_id']}|{props['time']}|{props['$insert_id']}", event)
        imported = len(events) - len(failed)
        if failed and strict:
            return JSONResponse({"code": 400, "error": "some data points in the request failed validation",
                                 "failed_records": failed, "num_records_imported": imported,
                                 "status": "Bad Request"}, status_code=400)
        return JSONResponse({"code": 200, "num_records_imported": imported, "status": "OK"})

    async def engage(request: Request) -> Response:
        if (fault := control.admit(request, _error)) is not None:
            return fault
        try:
            body = await read_body(request)
        except orjson.JSONDecodeError:
            return JSONResponse({"status": 0, "error": "request body is not valid JSON"})
        if isinstance(body, dict) and "data" in body:  # form-encoded data=[...]
            body = orjson.loads(body["data"])
        updates = body if isinstance(body, list) else [body] if isinstance(body, dict) else None
        if updates is None:
            return JSONResponse({"status": 0, "error": "body must be a JSON array of profile updates"})
        if len(updates) > MAX_RECORDS:
            return _error(413, f"a request may carry at most {MAX_RECORDS} updates, got {len(updates)}")
        control.record_body(updates)
        for update in updates:
            if not isinstance(update, dict) or not secrets.compare_digest(
                    str(update.get("$token", "")).encode(), PROJECT_TOKEN.encode()):
                return JSONResponse({"status": 0, "error": "$token is missing or invalid token"})
            operations = [op for op in OPERATIONS if op in update]
            if not update.get("$distinct_id") or len(operations) != 1:
                return JSONResponse({"status": 0, "error": "each update needs $distinct_id and exactly one operation"})
            values = update[operations[0]]
            flat = values if isinstance(values, list) else list(values.values()) if isinstance(values, dict) else []
            if any(isinstance(v, str) and v in control.rejected_values for v in flat):
                return JSONResponse({"status": 0, "error": f"invalid value in {operations[0]}"})
        with control.store_lock:
            for update in updates:
                profile = state.profiles.setdefault(update["$distinct_id"], {})
                if "$set" in update:
                    profile.update(update["$set"])
                elif "$unset" in update:
                    for name in update["$unset"]:
                        profile.pop(name, None)
        return JSONResponse({"status": 1, "error": None})

    async def data_deletions(request: Request) -> Response:
        if (fault := control.admit(request, _error)) is not None:
            return fault
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or not secrets.compare_digest(header[7:].encode(), GDPR_OAUTH_TOKEN.encode()):
            return _error(401, "Invalid or missing OAuth token: pass your GDPR OAuth token as a Bearer token")
        if not secrets.compare_digest(request.query_params.get("token", "").encode(), PROJECT_TOKEN.encode()):
            return _error(400, "token: a valid project token is required")
        try:
            body = await read_body(request)
        except orjson.JSONDecodeError:
            return _error(400, "request body is not valid JSON")
        ids = body.get("distinct_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
            return _error(400, "distinct_ids: a non-empty list of strings is required")
        if len(ids) > MAX_RECORDS:
            return _error(400, f"distinct_ids: at most {MAX_RECORDS} a request, got {len(ids)}")
        if body.get("compliance_type", "GDPR") not in ("GDPR", "CCPA"):
            return _error(400, "compliance_type: must be GDPR or CCPA")
        control.record_body(body)
        task_id = f"task-{len(state.deletion_tasks) + 1:06d}"
        with control.store_lock:
            for distinct_id in ids:
                state.profiles.pop(distinct_id, None)
            for key in [k for k, e in control.events.items() if e["properties"].get("distinct_id") in ids]:
                del control.events[key]
            state.deletion_tasks.append({"task_id": task_id, "distinct_ids": list(ids)})
        return JSONResponse({"status": "ok", "results": {"task_id": task_id}})

    app = Starlette(routes=[Route("/api/app/data-deletions/v3.0/", data_deletions, methods=["POST"]),
                            Route("/import", import_events, methods=["POST"]),
                            Route("/engage", engage, methods=["POST"])])
    app.state.mixpanel = state
    return app
