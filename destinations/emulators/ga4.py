"""A local GA4 Measurement Protocol: `/mp/collect` and the validation server `/debug/mp/collect`.

Behaves as Google documents: `/mp/collect` answers 204 to anything, valid or not, and only
valid events with the right `measurement_id` + `api_secret` are kept (the rest silently
dropped, as in GA4); `/debug/mp/collect` records nothing and answers
`{"validationMessages": [{"fieldPath", "description", "validationCode"}]}`, and does not
check `api_secret`. Rules: `client_id` required, at most 25 events, names and parameters
per destinations.ga4's documented limits, `timestamp_micros` at most 72 hours old.
Purchases are deduplicated on `transaction_id`.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from destinations.emulators.kit import DestinationControl, read_body_or_none
from destinations.ga4 import MAX_EVENTS, event_problems

MEASUREMENT_ID = "G-HEADWATER1"
API_SECRET = "ga4-secret-0123456789"
MAX_AGE_MICROS = 72 * 3600 * 1_000_000


@dataclass
class GA4State:
    control: DestinationControl = field(default_factory=DestinationControl)
    dropped: int = 0                 # requests /mp/collect accepted with 2xx but did not record


def validation_messages(body: object, now_micros: int) -> list[dict[str, str]]:
    """What Google's validation server says about one request body."""
    def message(path: str, code: str, description: str) -> dict[str, str]:
        return {"fieldPath": path, "description": description, "validationCode": code}

    if not isinstance(body, dict):
        return [message("", "VALUE_INVALID", "Unable to parse Measurement Protocol JSON payload.")]
    found = []
    if not body.get("client_id") and not body.get("app_instance_id"):
        found.append(message("client_id", "VALUE_REQUIRED", "Measurement requires a client_id."))
    events = body.get("events")
    if not isinstance(events, list) or not events:
        found.append(message("events", "VALUE_REQUIRED", "Measurement requires at least one event."))
        return found
    if len(events) > MAX_EVENTS:
        found.append(message("events", "EXCEEDED_MAX_ENTITIES", f"A request may have at most {MAX_EVENTS} events."))
    stamp = body.get("timestamp_micros")
    if stamp is not None and (not isinstance(stamp, int) or now_micros - stamp > MAX_AGE_MICROS):
        found.append(message("timestamp_micros", "VALUE_OUT_OF_BOUNDS",
                             "timestamp_micros must be within the last 72 hours."))
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            found.append(message("events", "VALUE_INVALID", f"Event at index: [{index}] is not an object."))
            continue
        for code, description in event_problems(event):
            found.append(message(f"events[{index}]", code, f"Event at index: [{index}]: {description}."))
    return found


def create_app(state: GA4State | None = None) -> Starlette:
    """`app.state.ga4` holds the control: request log, faults, events kept by transaction_id."""
    state = state or GA4State()
    control = state.control

    def error(status: int, message: str) -> Response:
        return JSONResponse({"error": {"code": status, "message": message}}, status_code=status)

    async def collect(request: Request) -> Response:
        if (fault := control.admit(request, error)) is not None:
            return fault
        body = await read_body_or_none(request)
        control.record_body(body)
        credentials_ok = (request.query_params.get("measurement_id") == MEASUREMENT_ID and secrets.compare_digest(
            request.query_params.get("api_secret", "").encode(), API_SECRET.encode()))
        if not credentials_ok or validation_messages(body, time.time_ns() // 1000):
            state.dropped += 1
            return Response(status_code=204)      # GA4 never tells the sender
        for event in body["events"]:
            params = event.get("params") or {}
            key = params.get("transaction_id") or f"{body['client_id']}|{event['name']}|{time.time_ns()}"
            control.add_event(str(key), {**event, "client_id": body["client_id"], "user_id": body.get("user_id")})
        return Response(status_code=204)

    async def debug_collect(request: Request) -> Response:
        if (fault := control.admit(request, error)) is not None:
            return fault
        body = await read_body_or_none(request)
        return JSONResponse({"validationMessages": validation_messages(body, time.time_ns() // 1000)})

    app = Starlette(routes=[Route("/mp/collect", collect, methods=["POST"]),
                            Route("/debug/mp/collect", debug_collect, methods=["POST"])])
    app.state.ga4 = state
    return app
