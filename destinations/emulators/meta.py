"""Meta Graph API emulator: Conversions API events and Custom Audience users.

Enforces what Meta documents: an access token on every call (OAuthException code 190
otherwise), at most 1,000 events per request, required `event_name`/`event_time`/
`action_source`/`user_data`, website events need `client_user_agent` and
`event_source_url`, no event older than 7 days, hashed fields as 64 lowercase hex; one
bad event rejects the whole request (Meta's behaviour), with Graph's error body.
Custom Audiences: schema keys, row width, at most 10,000 rows, sessions closed by
`last_batch_flag`. Events are deduplicated on (event_name, event_id) like Meta does.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from destinations.emulators.kit import DestinationControl, json_error, read_body
from destinations.normalize import is_sha256_hex

HASHED_USER_FIELDS = ("em", "ph", "fn", "ln", "ct", "st", "zp", "country")  # external_id: hashing optional
AUDIENCE_KEYS = {"EMAIL", "PHONE", "FN", "LN", "CT", "ST", "ZIP", "COUNTRY", "EXTERN_ID", "DOBY", "GEN", "MADID"}
MAX_EVENTS, MAX_USERS = 1000, 10_000
SEVEN_DAYS = 7 * 24 * 3600


def graph_error(status: int, message: str, code: int = 100, subcode: int | None = None,
                kind: str = "OAuthException") -> Response:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code, "fbtrace_id": "AemulatorTrace"}
    if subcode:
        error["error_subcode"] = subcode
        error["error_user_msg"] = message
    return json_error(status, {"error": error})


def create_app(access_token: str = "meta-test-token", control: DestinationControl | None = None,
               now=time.time) -> Starlette:
    control = control or DestinationControl()
    sessions: dict[int, dict[str, Any]] = {}

    def fault(status: int, message: str) -> Response:
        return graph_error(status, message, code=17 if status == 429 else 2, kind="OAuthException")

    def authorized(token: str | None) -> Response | None:
        if not token:
            return graph_error(400, "An access token is required to request this resource.", code=104)
        if token != access_token:
            return graph_error(400, f"Invalid OAuth access token - Cannot parse access token: {token}", code=190)
        return None

    async def events(request: Request) -> Response:
        if (injected := control.admit(request, fault)) is not None:
            return injected
        body = await read_body(request) or {}
        control.record_body(body)
        if (denied := authorized(body.get("access_token") or request.query_params.get("access_token"))):
            return denied
        data = body.get("data")
        if not isinstance(data, list) or not data:
            return graph_error(400, "(#100) The parameter data is required")
        if len(data) > MAX_EVENTS:
            return graph_error(400, f"(#100) data: at most {MAX_EVENTS} events per request, got {len(data)}")
        for index, event in enumerate(data):
            problem = _event_problem(event, now(), control)
            if problem:
                return graph_error(400, f"Invalid parameter: data[{index}]: {problem}", code=100, subcode=2804019)
        if not body.get("test_event_code"):
            for event in data:
                control.add_event(f"{event['event_name']}:{event.get('event_id', '')}", event)
        return JSONResponse({"events_received": len(data), "messages": [], "fbtrace_id": "AemulatorTrace"})

    async def users(request: Request) -> Response:
        if (injected := control.admit(request, fault)) is not None:
            return injected
        body = await read_body(request) or {}
        control.record_body({"method": request.method, **body})
        if (denied := authorized(body.get("access_token") or request.query_params.get("access_token"))):
            return denied
        payload = body.get("payload") or {}
        schema, rows = payload.get("schema"), payload.get("data")
        if isinstance(schema, str):
            schema = [schema]
        if not schema or not isinstance(rows, list) or not rows:
            return graph_error(400, "(#100) payload must contain schema and data")
        unknown = [key for key in schema if key not in AUDIENCE_KEYS]
        if unknown:
            return graph_error(400, f"(#100) Invalid schema key {unknown[0]}", subcode=1870065)
        if len(rows) > MAX_USERS:
            return graph_error(400, f"(#100) at most {MAX_USERS} users per request", subcode=1870053)
        session = body.get("session")
        if session:
            state = sessions.setdefault(int(session["session_id"]), {"closed": False})
            if state["closed"]:
                return graph_error(400, "(#100) session already finished: start a new session_id", subcode=1870188)
            if session.get("last_batch_flag"):
                state["closed"] = True
        invalid: dict[str, str] = {}
        accepted: list[str] = []
        for row in rows:
            if not isinstance(row, list) or len(row) != len(schema):
                return graph_error(400, f"(#100) each row must have {len(schema)} values, matching schema")
            bad = [v for key, v in zip(schema, row) if v and key != "EXTERN_ID" and
                   (not is_sha256_hex(v) or v in control.rejected_values)]
            if bad:
                invalid[bad[0]] = "invalid hash"
                continue
            accepted.append(row[0] or row[1] if len(row) > 1 else row[0])
        audience = request.path_params["audience"]
        (control.add_members if request.method == "POST" else control.remove_members)(audience, accepted)
        return JSONResponse({"audience_id": audience, "session_id": (session or {}).get("session_id", 0),
                             "num_received": len(rows), "num_invalid_entries": len(invalid),
                             "invalid_entry_samples": invalid})

    async def node(request: Request) -> Response:
        if (injected := control.admit(request, fault)) is not None:
            return injected
        if (denied := authorized(request.query_params.get("access_token"))):
            return denied
        return JSONResponse({"id": request.path_params["node"], "name": "Emulated object"})

    app = Starlette(routes=[
        Route("/{version}/{pixel}/events", events, methods=["POST"]),
        Route("/{version}/{audience}/users", users, methods=["POST", "DELETE"]),
        Route("/{version}/{node}", node, methods=["GET"]),
    ])
    app.state.control = control
    return app


def _event_problem(event: dict, now: float, control: DestinationControl) -> str | None:
    for field in ("event_name", "event_time", "action_source", "user_data"):
        if field not in event:
            return f"{field} is required"
    if not isinstance(event["event_time"], int):
        return "event_time must be a Unix timestamp in seconds"
    if now - event["event_time"] > SEVEN_DAYS:
        return "event_time is more than 7 days in the past"
    user = event["user_data"]
    for field in HASHED_USER_FIELDS:
        values = user.get(field)
        for value in (values if isinstance(values, list) else [values] if values else []):
            if not is_sha256_hex(str(value)):
                return f"user_data.{field} must be SHA-256 hashed (64 lowercase hex characters)"
            if value in control.rejected_values:
                return f"user_data.{field} is not a valid value"
    if event["action_source"] == "website":
        for field in ("client_user_agent",):
            if not user.get(field):
                return f"user_data.{field} is required for website events"
        if not event.get("event_source_url"):
            return "event_source_url is required for website events"
    return None
