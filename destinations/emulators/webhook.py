"""A webhook receiver that does what the Webhook destination asks of receivers.

Verifies `X-Headwater-Signature` in constant time over "{timestamp}.{body}", refuses
timestamps older than the tolerance (401), drops a repeated `Idempotency-Key` (200, no
effect), and keeps the rows it accepted; the test's reference receiver.
"""

from __future__ import annotations

import hmac
import time

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from destinations.emulators.kit import DestinationControl
from destinations.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

TOLERANCE_SECONDS = 300


def create_app(signing_secret: str = "webhook-secret", control: DestinationControl | None = None,
               now=time.time) -> Starlette:
    control = control or DestinationControl()
    seen_keys: set[str] = set()

    def fault(status: int, message: str) -> Response:
        return JSONResponse({"error": message}, status_code=status)

    async def receive(request: Request) -> Response:
        if (injected := control.admit(request, fault)) is not None:
            return injected
        raw = await request.body()
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        expected = sign(signing_secret, timestamp, raw)
        if not hmac.compare_digest(expected, request.headers.get(SIGNATURE_HEADER, "")):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        if not timestamp.isdigit() or abs(now() - int(timestamp)) > TOLERANCE_SECONDS:
            return JSONResponse({"error": "stale timestamp"}, status_code=401)
        body = orjson.loads(raw)
        control.record_body(body)
        if body.get("action") == "ping":
            return JSONResponse({"ok": True})
        key = request.headers.get("idempotency-key")
        if key and key in seen_keys:
            return JSONResponse({"ok": True, "duplicate": True})
        bad = [row["key"] for row in body.get("rows", []) if any(str(v) in control.rejected_values
                                                                  for v in row.get("fields", {}).values())]
        if bad:
            return JSONResponse({"error": f"rows refused: {', '.join(bad)}"}, status_code=422)
        if key:
            seen_keys.add(key)
        keys = [row["key"] for row in body.get("rows", [])]
        for row in body.get("rows", []):
            control.add_event(f"{body['action']}:{row['key']}:{orjson.dumps(row['fields']).decode()}", row)
        (control.add_members if body["action"] == "upsert" else control.remove_members)(body.get("sync") or "", keys)
        return JSONResponse({"ok": True, "received": len(keys)})

    app = Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])
    app.state.control = control
    return app
