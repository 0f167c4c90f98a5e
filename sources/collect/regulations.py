"""`POST /v1/regulations`: a privacy request (suppress, unsuppress, delete) received over HTTP.

Why it only spools: the collect endpoint never opens the warehouse, so a regulation is
authenticated, validated and written durably to the spool as one record, answered 202
with a request id; the loader hands the record to the privacy step's inbox
(`headwater.privacy_inbox`), and `headwater privacy process` (or the Dagster asset) acts on it.

Auth is an admin token (`privacy.admin_token`), never a write key: a write key ships inside
every web page, and anyone holding one must not be able to erase people. The token is
compared in constant time and never logged; a refused request stores nothing.

Body, in RudderStack's regulation shape:
    {"regulationType": "suppress" | "unsuppress" | "suppress_with_delete",
     "users": [{"userId": "...", "anonymousId": "...", "email": "...", "phone": "..."}],
     "requestedBy": "dpo@example.com"}
Record: {"kind": "regulation", "request_id", "regulation", "users", "requested_by", "received_at"}.
"""

from __future__ import annotations

import hmac
import uuid
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sources.collect import spool
from sources.collect.messages import format_timestamp, utc_now

MAX_BODY_BYTES = 64 * 1024
IDENTIFIER_FIELDS = ("userId", "anonymousId", "email", "phone")


class RegulatedUser(BaseModel):
    """One person, named by any of their identifiers; the privacy step resolves the rest."""

    model_config = ConfigDict(extra="forbid")

    userId: str | None = None
    anonymousId: str | None = None
    email: str | None = None
    phone: str | None = None

    @field_validator("*")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank; leave the field out instead")
        return value

    @model_validator(mode="after")
    def _at_least_one(self) -> "RegulatedUser":
        if not any(getattr(self, name) for name in IDENTIFIER_FIELDS):
            raise ValueError(f"give at least one of {', '.join(IDENTIFIER_FIELDS)}")
        return self

    def identifiers(self) -> list[str]:
        return [value for name in IDENTIFIER_FIELDS if (value := getattr(self, name))]


class RegulationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    regulationType: Literal["suppress", "unsuppress", "suppress_with_delete"]
    users: list[RegulatedUser] = Field(min_length=1, max_length=1000)
    requestedBy: str | None = Field(None, max_length=200)


class RegulationRejected(Exception):
    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def authorized(configured: str | None, authorization: bytes | None) -> bool:
    """Bearer token check in constant time; a missing configuration refuses everyone."""
    if not configured or not authorization or authorization[:7].lower() != b"bearer ":
        return False
    return hmac.compare_digest(configured.encode(), authorization[7:].strip())


def parse_request(body: bytes) -> RegulationRequest:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise RegulationRejected(400, f"the body is not valid JSON: {error.msg}") from None
    try:
        return RegulationRequest.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(body)"
        raise RegulationRejected(400, f"{where}: {first['msg']}", where) from None


def regulation_record(request: RegulationRequest, request_id: str | None = None) -> dict:
    """The spool record the loader turns into a `headwater.privacy_inbox` row."""
    return {"kind": "regulation", "source": None, "request_id": request_id or uuid.uuid4().hex,
            "regulation": request.regulationType, "requested_by": request.requestedBy or "http",
            "users": [user.model_dump(exclude_none=True) for user in request.users],
            "received_at": format_timestamp(utc_now())}


async def handle(app, headers: dict, receive):
    """The collect endpoint's `/v1/regulations` branch: authenticate, validate, spool, 202."""
    from sources.collect.app import RequestRejected, error_reply, json_reply

    token = app.config.privacy.admin_token
    configured = token.get_secret_value() if token is not None else None
    try:
        if not authorized(configured, headers.get(b"authorization")):
            reason = ("regulations are disabled: set privacy.admin_token" if not configured
                      else "send the admin token as `Authorization: Bearer <token>`")
            raise RegulationRejected(401, reason)
        request = parse_request(await app._read_body(headers, receive, MAX_BODY_BYTES))
    except RegulationRejected as rejected:
        details = {"field": rejected.field} if rejected.field else {}
        raise RequestRejected(error_reply(rejected.status, rejected.message, **details), "regulation") from None
    record = regulation_record(request)
    await app.committer.commit(spool.encode(record))
    return json_reply(202, {"success": True, "requestId": record["request_id"],
                            "regulationType": record["regulation"], "users": len(record["users"])})
