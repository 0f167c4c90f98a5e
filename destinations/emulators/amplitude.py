"""A local Amplitude ingestion API: HTTP V2 (`/2/httpapi`) and the Identify API (`/identify`).

Enforces what Amplitude documents: the `api_key` in the body (else 400 "Invalid API key");
at most 2,000 events (413 above); every event needs `event_type` and a `user_id` or
`device_id` of at least `options.min_id_length` (default 5) characters and an integer
`time`; a bad event makes the whole request a 400 with `events_with_invalid_fields` /
`events_with_missing_fields` (field -> event indexes) and nothing is ingested; 429 names
`throttled_users` and `throttled_events`. Events are deduplicated on `insert_id`.
Identify takes form fields `api_key` and `identification` (a JSON array) and answers `success`.
The User Privacy API (`POST /api/2/deletions/users`) needs Basic `api_key:secret_key` (401
otherwise), 1 to 100 `user_ids` and/or `amplitude_ids`; unknown user ids are a 400 unless
`ignore_invalid_id` is true; it erases those users' events and properties and answers the job.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from destinations.emulators.kit import DestinationControl, read_body, read_body_or_none

API_KEY = "amp-0123456789abcdef0123456789abcdef"
SECRET_KEY = "amp-secret-fedcba9876543210fedcba98"
MAX_DELETION_IDS = 100
MAX_EVENTS = 2000
MAX_IDENTIFICATIONS = 1000


@dataclass
class AmplitudeState:
    control: DestinationControl = field(default_factory=DestinationControl)
    user_properties: dict[str, dict] = field(default_factory=dict)
    last_batch_users: list[str] = field(default_factory=list)
    deletion_jobs: list[dict] = field(default_factory=list)   # accepted deletion requests (user_ids, requester)


def _key_ok(value: object) -> bool:
    return isinstance(value, str) and secrets.compare_digest(value.encode(), API_KEY.encode())


def create_app(state: AmplitudeState | None = None) -> Starlette:
    """`app.state.amplitude` holds the control (log, faults, events by insert_id) and user properties."""
    state = state or AmplitudeState()
    control = state.control

    def throttled(status: int, message: str) -> Response:
        if status != 429:
            return JSONResponse({"code": status, "error": message}, status_code=status)
        users = {user: 1001 for user in state.last_batch_users[:5]}
        return JSONResponse({"code": 429, "error": "Too many requests for some devices and users",
                             "eps_threshold": 1000, "throttled_devices": {}, "throttled_users": users,
                             "throttled_events": list(range(len(state.last_batch_users)))}, status_code=429)

    async def httpapi(request: Request) -> Response:
        body = await read_body_or_none(request)
        if isinstance(body, dict) and isinstance(body.get("events"), list):
            state.last_batch_users = [str(e.get("user_id")) for e in body["events"] if isinstance(e, dict)]
        fault = control.admit(request, throttled)
        if fault is not None:
            return fault
        if not isinstance(body, dict):
            return JSONResponse({"code": 400, "error": "Invalid JSON request body"}, status_code=400)
        if "api_key" not in body:
            return JSONResponse({"code": 400, "error": "Request missing required field", "missing_field": "api_key"},
                                status_code=400)
        if not _key_ok(body["api_key"]):
            return JSONResponse({"code": 400, "error": "Invalid API key: " + str(body["api_key"])}, status_code=400)
        events = body.get("events")
        if not isinstance(events, list) or not events:
            return JSONResponse({"code": 400, "error": "Request missing required field", "missing_field": "events"},
                                status_code=400)
        if len(events) > MAX_EVENTS:
            return JSONResponse({"code": 413, "error": "Payload too large"}, status_code=413)
        control.record_body(body)
        min_length = int((body.get("options") or {}).get("min_id_length", 5))
        invalid: dict[str, list[int]] = {}
        missing: dict[str, list[int]] = {}
        for index, event in enumerate(events):
            if not isinstance(event, dict) or not event.get("event_type"):
                missing.setdefault("event_type", []).append(index)
                continue
            ident = event.get("user_id") or event.get("device_id")
            if not ident:
                missing.setdefault("user_id", []).append(index)
            elif len(str(ident)) < min_length:
                invalid.setdefault("user_id" if event.get("user_id") else "device_id", []).append(index)
            if "time" in event and (not isinstance(event["time"], int) or event["time"] <= 0):
                invalid.setdefault("time", []).append(index)
            for name, value in (event.get("event_properties") or {}).items():
                if isinstance(value, str) and value in control.rejected_values:
                    invalid.setdefault(f"event_properties.{name}", []).append(index)
        if invalid or missing:
            answer = {"code": 400, "error": "Request contains invalid or missing fields"}
            if invalid:
                answer["events_with_invalid_fields"] = invalid
            if missing:
                answer["events_with_missing_fields"] = missing
            return JSONResponse(answer, status_code=400)
        for event in events:
            control.add_event(str(event.get("insert_id") or f"{event.get('user_id')}|{time.time_ns()}"), event)
        return JSONResponse({"code": 200, "events_ingested": len(events),
                             "payload_size_bytes": len(await request.body()),
                             "server_upload_time": int(time.time() * 1000)})

    async def identify(request: Request) -> Response:
        fault = control.admit(request, lambda status, message: PlainTextResponse(message, status_code=status))
        if fault is not None:
            return fault
        form = await read_body(request) or {}
        if not isinstance(form, dict) or not _key_ok(form.get("api_key")):
            return PlainTextResponse("invalid api_key", status_code=400)
        try:
            identifications = orjson.loads(form.get("identification", ""))
        except orjson.JSONDecodeError:
            return PlainTextResponse("identification is not a JSON array", status_code=400)
        if not isinstance(identifications, list) or not identifications:
            return PlainTextResponse("missing identification", status_code=400)
        if len(identifications) > MAX_IDENTIFICATIONS:
            return PlainTextResponse("too many identifications", status_code=413)
        control.record_body({"api_key": form["api_key"], "identification": identifications})
        for item in identifications:
            if not isinstance(item, dict) or not (item.get("user_id") or item.get("device_id")):
                return PlainTextResponse("each identification needs user_id or device_id", status_code=400)
            properties = item.get("user_properties") or {}
            values = [v for op in properties.values() if isinstance(op, dict) for v in op.values()]
            if any(isinstance(v, str) and v in control.rejected_values for v in values):
                return PlainTextResponse("invalid user property value", status_code=400)
        with control.store_lock:
            for item in identifications:
                stored = state.user_properties.setdefault(str(item.get("user_id") or item.get("device_id")), {})
                properties = item.get("user_properties") or {}
                stored.update(properties.get("$set") or {})
                for name in properties.get("$unset") or {}:
                    stored.pop(name, None)
        return PlainTextResponse("success")

    async def deletions(request: Request) -> Response:
        fault = control.admit(request, lambda status, message: JSONResponse({"error": message}, status_code=status))
        if fault is not None:
            return fault
        header = request.headers.get("authorization", "")
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user = password = ""
        if not header.startswith("Basic ") or not _key_ok(user) or not secrets.compare_digest(
                password.encode(), SECRET_KEY.encode()):
            return JSONResponse({"error": "Invalid credentials: use api_key:secret_key"}, status_code=401)
        try:
            body = await read_body(request)
        except orjson.JSONDecodeError:
            return JSONResponse({"error": "Invalid JSON request body"}, status_code=400)
        body = body if isinstance(body, dict) else {}
        user_ids, amplitude_ids = body.get("user_ids") or [], body.get("amplitude_ids") or []
        if not isinstance(user_ids, list) or not isinstance(amplitude_ids, list) or not (user_ids or amplitude_ids):
            return JSONResponse({"error": "Request must include user_ids or amplitude_ids"}, status_code=400)
        if len(user_ids) > MAX_DELETION_IDS or len(amplitude_ids) > MAX_DELETION_IDS:
            return JSONResponse({"error": f"At most {MAX_DELETION_IDS} ids per request"}, status_code=400)
        known = set(state.user_properties) | {str(e.get("user_id")) for e in control.events.values()}
        unknown = [u for u in user_ids if str(u) not in known]
        if unknown and str(body.get("ignore_invalid_id")).lower() != "true":
            return JSONResponse({"error": f"Invalid user_ids: {', '.join(map(str, unknown[:5]))}"}, status_code=400)
        control.record_body(body)
        doomed = {str(u) for u in user_ids}
        with control.store_lock:
            for user_id in doomed:
                state.user_properties.pop(user_id, None)
            for key in [k for k, e in control.events.items() if str(e.get("user_id")) in doomed]:
                del control.events[key]
            state.deletion_jobs.append({"user_ids": sorted(doomed), "requester": body.get("requester")})
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 11 * 86400))
        return JSONResponse([{"day": day, "status": "staging", "amplitude_ids": [],
                              "user_ids": [{"user_id": u, "requester": body.get("requester"),
                                            "requested_on_day": time.strftime("%Y-%m-%d", time.gmtime())}
                                           for u in sorted(doomed)]}])

    app = Starlette(routes=[Route("/api/2/deletions/users", deletions, methods=["POST"]),
                            Route("/2/httpapi", httpapi, methods=["POST"]),
                            Route("/identify", identify, methods=["POST"])])
    app.state.amplitude = state
    return app
