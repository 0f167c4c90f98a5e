"""Google Data Manager API emulator, with the OAuth2 token endpoint in front of it.

Enforces: a Bearer token issued by its /token endpoint (refresh-token grant checked
against the configured client, jwt-bearer grant checked against the service account's
public key), `destinations` with operatingAccount and productDestinationId, HEX encoding,
at most 10,000 audience members / 2,000 events and 10 identifiers each, hashed
identifiers as 64 lowercase hex, Customer Match terms of service on ingest,
`eventTimestamp` on events. Errors are google.rpc.Status bodies whose BadRequest
fieldViolations name the bad items, as Google's are. Events deduplicate on transactionId.
"""

from __future__ import annotations

import base64
import json
import re
import secrets as token_source
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from destinations.emulators.kit import DestinationControl, json_error, read_body
from destinations.normalize import is_sha256_hex

MAX_MEMBERS, MAX_EVENTS, MAX_IDENTIFIERS = 10_000, 2_000, 10
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
_REGION = re.compile(r"^[A-Z]{2}$")


def rpc_error(code: int, message: str, violations: list[dict] | None = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message, "status": _STATUS.get(code, "UNKNOWN")}
    if violations:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations}]
    return json_error(code, {"error": error})


def create_app(client_id: str = "client-id", client_secret: str = "client-secret",
               refresh_token: str = "refresh-token", service_account_public_key: bytes | None = None,
               control: DestinationControl | None = None) -> Starlette:
    control = control or DestinationControl()
    issued: set[str] = set()

    async def token(request: Request) -> Response:
        form = await read_body(request) or {}
        grant = form.get("grant_type")
        if grant == "refresh_token":
            if form.get("client_id") != client_id or form.get("client_secret") != client_secret:
                return json_error(401, {"error": "invalid_client", "error_description": "The OAuth client was not found."})
            if form.get("refresh_token") != refresh_token:
                return json_error(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            if service_account_public_key is None or not _valid_jwt(form.get("assertion", ""), service_account_public_key):
                return json_error(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        else:
            return json_error(400, {"error": "unsupported_grant_type", "error_description": f"grant_type {grant!r}"})
        access = "ya29." + token_source.token_urlsafe(24)
        issued.add(access)
        return JSONResponse({"access_token": access, "expires_in": 3599, "token_type": "Bearer"})

    def authorized(request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in issued:
            return rpc_error(401, "Request had invalid authentication credentials. Expected OAuth 2 access token.")
        return None

    def fault(status: int, message: str) -> Response:
        return rpc_error(status, message)

    async def admitted(request: Request) -> tuple[dict | None, Response | None]:
        if (injected := control.admit(request, fault)) is not None:
            return None, injected
        if (denied := authorized(request)) is not None:
            return None, denied
        body = await read_body(request) or {}
        control.record_body({"path": request.url.path, **body})
        problem = _destinations_problem(body)
        if problem:
            return None, rpc_error(400, problem, [{"field": "destinations", "description": problem}])
        if body.get("encoding") != "HEX":
            return None, rpc_error(400, "encoding must be HEX or BASE64 when identifiers are hashed",
                                   [{"field": "encoding", "description": "must be HEX", "reason": "INVALID_ENCODING"}])
        return body, None

    async def members(request: Request) -> Response:
        body, error = await admitted(request)
        if error is not None:
            return error
        removing = request.url.path.endswith(":remove")
        items = body.get("audienceMembers") or []
        if not items or len(items) > MAX_MEMBERS:
            return rpc_error(400, f"audience_members must hold 1 to {MAX_MEMBERS} members, got {len(items)}",
                             [{"field": "audience_members", "description": "too many or none",
                               "reason": "TOO_MANY_AUDIENCE_MEMBERS"}])
        if not removing and (body.get("termsOfService") or {}).get("customerMatchTermsOfServiceStatus") != "ACCEPTED":
            return rpc_error(400, "The Customer Match terms of service must be accepted",
                             [{"field": "terms_of_service", "description": "not accepted",
                               "reason": "TERMS_OF_SERVICE_NOT_ACCEPTED"}])
        violations = [v for index, member in enumerate(items)
                      for v in _user_data_problems(f"audience_members[{index}]", member.get("userData"), control)]
        if violations:
            return rpc_error(400, "Request contains an invalid argument.", violations)
        ids = [_identity(member["userData"]) for member in items]
        destination = body["destinations"][0]["productDestinationId"]
        (control.remove_members if removing else control.add_members)(destination, ids)
        return JSONResponse({"requestId": token_source.token_hex(8)})

    async def events(request: Request) -> Response:
        body, error = await admitted(request)
        if error is not None:
            return error
        items = body.get("events") or []
        if not items or len(items) > MAX_EVENTS:
            return rpc_error(400, f"events must hold 1 to {MAX_EVENTS} events, got {len(items)}",
                             [{"field": "events", "description": "too many or none", "reason": "TOO_MANY_EVENTS"}])
        violations = []
        for index, event in enumerate(items):
            if not event.get("eventTimestamp"):
                violations.append({"field": f"events[{index}].event_timestamp", "description": "required",
                                   "reason": "REQUIRED_FIELD_MISSING"})
            if event.get("userData") is not None:
                violations += _user_data_problems(f"events[{index}]", event["userData"], control)
        if violations:
            return rpc_error(400, "Request contains an invalid argument.", violations)
        for event in items:
            control.add_event(event.get("transactionId") or token_source.token_hex(8), event)
        return JSONResponse({"requestId": token_source.token_hex(8)})

    async def request_status(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        return rpc_error(404, f"Request {request.query_params.get('requestId')} was not found.")

    app = Starlette(routes=[
        Route("/token", token, methods=["POST"]),
        Route("/v1/audienceMembers:ingest", members, methods=["POST"]),
        Route("/v1/audienceMembers:remove", members, methods=["POST"]),
        Route("/v1/events:ingest", events, methods=["POST"]),
        Route("/v1/requestStatus:retrieve", request_status, methods=["GET"]),
    ])
    app.state.control = control
    return app


def _destinations_problem(body: dict) -> str | None:
    destinations = body.get("destinations")
    if not destinations or len(destinations) > 10:
        return "destinations must hold 1 to 10 destinations"
    for destination in destinations:
        account = destination.get("operatingAccount") or {}
        if not account.get("accountId") or not account.get("accountType"):
            return "destinations[].operatingAccount needs accountType and accountId"
        if not destination.get("productDestinationId"):
            return "destinations[].productDestinationId is required"
    return None


def _user_data_problems(where: str, user: dict | None, control: DestinationControl) -> list[dict]:
    identifiers = (user or {}).get("userIdentifiers") or []
    if not identifiers:
        return [{"field": f"{where}.user_data", "description": "at least one user identifier is required",
                 "reason": "REQUIRED_FIELD_MISSING"}]
    if len(identifiers) > MAX_IDENTIFIERS:
        return [{"field": f"{where}.user_data", "description": "at most 10 user identifiers",
                 "reason": "TOO_MANY_USER_IDENTIFIERS"}]
    problems = []
    for position, identifier in enumerate(identifiers):
        hashed = {k: v for k, v in identifier.items() if k in ("emailAddress", "phoneNumber")}
        address = identifier.get("address")
        if address:
            hashed.update({k: address.get(k) for k in ("givenName", "familyName")})
            if not _REGION.match(address.get("regionCode") or "") or not address.get("postalCode"):
                problems.append({"field": f"{where}.user_data.user_identifiers[{position}].address",
                                 "description": "regionCode (2 uppercase letters) and postalCode are required",
                                 "reason": "INVALID_ADDRESS"})
        for name, value in hashed.items():
            if not isinstance(value, str) or not is_sha256_hex(value) or value in control.rejected_values:
                problems.append({"field": f"{where}.user_data.user_identifiers[{position}].{name}",
                                 "description": "must be a SHA-256 hash, hex encoded", "reason": "INVALID_HEX_ENCODING"})
    return problems


def _identity(user: dict) -> str:
    first = user["userIdentifiers"][0]
    return first.get("emailAddress") or first.get("phoneNumber") or json.dumps(first, sort_keys=True)


def _valid_jwt(assertion: str, public_key_pem: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        header, claims, signature = assertion.split(".")
        key = serialization.load_pem_public_key(public_key_pem)
        key.verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), f"{header}.{claims}".encode(),
                   padding.PKCS1v15(), hashes.SHA256())
        payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        return "datamanager" in payload.get("scope", "")
    except (ValueError, InvalidSignature):
        return False
