"""TikTok Business API emulator: Events API 2.0 and segment mapping.

Enforces: the `Access-Token` header (code 40001 otherwise), `event_source` and
`event_source_id`, at most 1,000 events, `event`/`event_time` on each, hashed
email/phone/external_id as 64 lowercase hex, segment mapping with id_schema, action
add/delete and at most 10,000 ids. Errors come as HTTP 200 with a non-zero `code`, as
TikTok's do; throttling as 429 with Retry-After. Events deduplicate on event_id.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from destinations.emulators.kit import DestinationControl, read_body
from destinations.normalize import is_sha256_hex

MAX_EVENTS, MAX_IDS = 1000, 10_000


def tiktok_answer(code: int, message: str, status: int = 200, data: Any = None) -> Response:
    return JSONResponse({"code": code, "message": message, "request_id": secrets.token_hex(8), "data": data or {}},
                        status_code=status)


def create_app(access_token: str = "tiktok-test-token", advertiser_id: str = "7001",
               control: DestinationControl | None = None) -> Starlette:
    control = control or DestinationControl()

    def fault(status: int, message: str) -> Response:
        return tiktok_answer(40100 if status == 429 else 50000, message, status)

    async def admitted(request: Request) -> tuple[Any, Response | None]:
        if (injected := control.admit(request, fault)) is not None:
            return None, injected
        if request.headers.get("access-token") != access_token:
            return None, tiktok_answer(40001, "No permission to operate. Access token is invalid or expired.")
        body = await read_body(request) if request.method == "POST" else None
        if body is not None:
            control.record_body({"path": request.url.path, **body})
        return body, None

    async def track(request: Request) -> Response:
        body, error = await admitted(request)
        if error is not None:
            return error
        if body.get("event_source") not in ("web", "app", "offline", "crm") or not body.get("event_source_id"):
            return tiktok_answer(40002, "event_source and event_source_id are required")
        data = body.get("data") or []
        if not data or len(data) > MAX_EVENTS:
            return tiktok_answer(40002, f"data must hold 1 to {MAX_EVENTS} events")
        for index, event in enumerate(data):
            if not event.get("event") or not isinstance(event.get("event_time"), int):
                return tiktok_answer(40002, f"data[{index}]: event and event_time (Unix seconds) are required")
            for field in ("email", "phone", "external_id"):
                value = (event.get("user") or {}).get(field)
                if value is not None and (not is_sha256_hex(str(value)) or value in control.rejected_values):
                    return tiktok_answer(40002, f"data[{index}].user.{field} must be SHA-256 hashed")
        if not body.get("test_event_code"):
            for event in data:
                control.add_event(event.get("event_id") or secrets.token_hex(8), event)
        return tiktok_answer(0, "OK")

    async def mapping(request: Request) -> Response:
        body, error = await admitted(request)
        if error is not None:
            return error
        if body.get("action") not in ("add", "delete") or not body.get("id_schema"):
            return tiktok_answer(40002, "action must be add or delete, and id_schema is required")
        if advertiser_id not in (body.get("advertiser_ids") or []):
            return tiktok_answer(40002, "advertiser_ids must hold the audience's advertiser")
        rows = body.get("batch_data") or []
        if not rows or len(rows) > MAX_IDS:
            return tiktok_answer(40002, f"batch_data must hold 1 to {MAX_IDS} entries")
        ids = []
        for index, row in enumerate(rows):
            for entry in row:
                if not is_sha256_hex(str(entry.get("id"))) or entry.get("id") in control.rejected_values:
                    return tiktok_answer(40002, f"batch_data[{index}]: id must be SHA-256 hashed")
                ids.append(entry["id"])
        for audience in body.get("audience_ids") or []:
            (control.add_members if body["action"] == "add" else control.remove_members)(audience, ids)
        return tiktok_answer(0, "OK")

    async def advertiser_info(request: Request) -> Response:
        _, error = await admitted(request)
        if error is not None:
            return error
        return tiktok_answer(0, "OK", data={"list": [{"advertiser_id": advertiser_id, "name": "Emulated"}]})

    app = Starlette(routes=[
        Route("/open_api/v1.3/event/track/", track, methods=["POST"]),
        Route("/open_api/v1.3/segment/mapping/", mapping, methods=["POST"]),
        Route("/open_api/v1.3/advertiser/info/", advertiser_info, methods=["GET"]),
    ])
    app.state.control = control
    return app
