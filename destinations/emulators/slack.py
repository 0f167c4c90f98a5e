"""Slack incoming-webhook emulator: plain-text answers exactly as Slack gives them.

`ok` for a message with `text` or `blocks`; 400 `invalid_payload` for a body that is not
JSON, 400 `no_text` for one without text; 403 `invalid_token` / 404 `no_service` for a
webhook path it does not know; 429 with Retry-After when throttled.
"""

from __future__ import annotations

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from destinations.emulators.kit import DestinationControl

DEFAULT_PATH = "/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"


def create_app(webhook_path: str = DEFAULT_PATH, control: DestinationControl | None = None) -> Starlette:
    control = control or DestinationControl()

    def fault(status: int, message: str) -> Response:
        return PlainTextResponse("rate_limited" if status == 429 else "internal_error", status_code=status)

    async def post(request: Request) -> Response:
        if (injected := control.admit(request, fault)) is not None:
            return injected
        if request.url.path != webhook_path:
            known_workspace = request.url.path.split("/")[:3] == webhook_path.split("/")[:3]
            return PlainTextResponse("invalid_token" if known_workspace else "no_service",
                                     status_code=403 if known_workspace else 404)
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return PlainTextResponse("invalid_payload", status_code=400)
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return PlainTextResponse("no_text", status_code=400)
        control.record_body(body)
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/services/{rest:path}", post, methods=["POST"])])
    app.state.control = control
    return app
