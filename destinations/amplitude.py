"""Amplitude: conversions as events through HTTP V2, audiences as user properties via Identify.

HTTP V2 (`POST /2/httpapi`, https://amplitude.com/docs/apis/analytics/http-v2) takes the
`api_key` in the JSON body and at most 2,000 events a request; `insert_id` makes a retried
event count once (Amplitude deduplicates it for 7 days). A 400 names the bad events in
`events_with_invalid_fields` / `events_with_missing_fields` and ingests none of the
request, so those rows fail and the rest are sent again; 413 means split; 429 throttles
users or devices (`throttled_users`) and is retried. The Identify API (`POST /identify`,
form-encoded `api_key` + `identification`) sets `$set` on entry and `$unset` on exit.
Privacy deletions use the User Privacy API (`POST https://amplitude.com/api/2/deletions/users`,
https://amplitude.com/docs/apis/analytics/user-privacy): Basic auth `api_key:secret_key`, at most
100 `user_ids` a request (the person's profile ids, which syncs send as user_id, and user ids),
`requester` for Amplitude's audit and `ignore_invalid_id` (a person never synced is not an
error). The secret key is optional here and only a deletion asks for it.
Imports httpx, pydantic and destinations.base / event_fields.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from destinations.base import (Action, Batch, CredentialProblem, Destination, DestinationSettings, HttpRequest,
                               Outcome, RunContext, SkipRow, id_subjects, json_object, retry_after)
from destinations.event_fields import audience_property, epoch_ms, json_safe, present

DEFAULT_BASE_URL = "https://api2.amplitude.com"   # EU residency: https://api.eu.amplitude.com
MAX_EVENTS = 2000
MAX_IDENTIFICATIONS = 1000
MAX_DELETION_IDS = 100
# the ingestion host -> the User Privacy API's host; any other base_url (an emulator, a proxy) serves both
PRIVACY_HOSTS = {"https://api2.amplitude.com": "https://amplitude.com",
                 "https://api.eu.amplitude.com": "https://analytics.eu.amplitude.com"}


class AmplitudeCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_key: SecretStr
    secret_key: SecretStr | None = Field(None, description="the project's secret key; needed only for deletions")


class AmplitudeEventSettings(DestinationSettings):
    event_type: str = "Order Completed"
    min_id_length: int = Field(5, ge=1, description="Amplitude drops user ids shorter than this (its default: 5)")


class AmplitudeIdentifySettings(DestinationSettings):
    audience_property: str = "headwater_audience_{audience}"


def _error_body(response: httpx.Response) -> dict[str, Any]:
    body = json_object(response)
    return {"error": response.text[:300]} if body is None else body


def _is_bad_key(response: httpx.Response) -> bool:
    return response.status_code == 400 and "api key" in str(_error_body(response).get("error", "")).lower()


class _Amplitude(Destination):
    vendor = "amplitude"
    supports_deletion = True
    consent_category = "analytics"
    default_base_url = DEFAULT_BASE_URL
    requests_per_second = 10.0
    concurrency = 4
    Credentials = AmplitudeCredentials

    def api_key(self) -> str:
        return self.credentials.api_key.get_secret_value()

    def describe_error(self, response: httpx.Response) -> tuple[str, str]:
        body = _error_body(response)
        return str(body.get("code", response.status_code)), str(body.get("error", ""))[:300]

    def deletion_subjects(self, people: dict[str, list[str]]) -> list[dict[str, list[str]]]:
        self.deletion_credential("secret_key", "Amplitude deletes people only with the project's secret key "
                                               "(Settings > Projects > General)")
        return id_subjects(people, "user_ids", MAX_DELETION_IDS)

    def deletion_auth_headers(self) -> dict[str, str]:
        pair = f"{self.api_key()}:{self.credentials.secret_key.get_secret_value()}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    def deletion_request(self, people: dict[str, list[str]], context: RunContext) -> HttpRequest:
        host = PRIVACY_HOSTS.get(self.base_url, self.base_url)
        return HttpRequest("POST", f"{host}/api/2/deletions/users", {"Accept": "application/json"},
                           {"user_ids": people["user_ids"], "requester": "headwater privacy request",
                            "ignore_invalid_id": True})

    async def check_credentials(self, client: httpx.AsyncClient) -> str:
        """An HTTP V2 request with no events: Amplitude checks the key, then refuses the empty list."""
        response = await client.post(f"{self.base_url}/2/httpapi", json={"api_key": self.api_key(), "events": []})
        if _is_bad_key(response):
            raise CredentialProblem("Amplitude does not know this api_key; copy the project's API key "
                                    "(Settings > Projects > General), not the secret key")
        if response.status_code >= 500 or response.status_code == 429:
            raise CredentialProblem(f"Amplitude answered {response.status_code}; try again later")
        return "Amplitude accepted the api_key (a request with no events ingests nothing)"


class AmplitudeEvents(_Amplitude):
    """Conversions (or any event-shaped model) as Amplitude events."""

    type_name = "amplitude_events"
    batch_size = MAX_EVENTS
    default_mapping = {"user_id": "profile_id", "insert_id": "conversion_id", "time": "occurred_at",
                       "order_id": "order_id", "revenue": "value", "currency": "currency"}
    required_fields = ("user_id", "insert_id", "time")
    emulator = "destinations.emulators.amplitude:create_app"
    Settings = AmplitudeEventSettings

    def prepare(self, row: dict[str, Any], action: Action) -> dict[str, Any]:
        millis = epoch_ms(row.get("time"))
        if millis is None:
            raise SkipRow("time: missing or not a timestamp; map a timestamp column to time")
        user_id = str(row.get("user_id") or "")
        if len(user_id) < self.settings.min_id_length:
            raise SkipRow(f"user_id: {len(user_id)} characters, Amplitude needs at least "
                          f"{self.settings.min_id_length} (settings.min_id_length)")
        event: dict[str, Any] = {"user_id": user_id, "event_type": self.settings.event_type, "time": millis,
                                 "insert_id": str(row.get("insert_id") or f"{user_id}-{millis}")}
        if row.get("revenue") is not None:
            event["revenue"] = json_safe(row["revenue"])
        properties = present(row, "order_id", "currency")
        if properties:
            event["event_properties"] = properties
        return event

    def idempotency_key(self, item: dict[str, Any]) -> str | None:
        return item["insert_id"]

    stream_types = frozenset({"track", "page", "screen"})

    def stream_item(self, view: Any) -> dict[str, Any]:
        """HTTP V2 event: user_id and/or device_id (anonymousId), event_properties as sent, the
        identify-style traits of context.traits as user_properties, messageId as insert_id."""
        millis = epoch_ms(view.timestamp)
        if millis is None:
            raise SkipRow("timestamp: missing or not a time")
        event: dict[str, Any] = {"event_type": view.name, "time": millis, "insert_id": view.message_id}
        for key, value in (("user_id", view.user_id), ("device_id", view.anonymous_id)):
            if value and len(value) >= self.settings.min_id_length:
                event[key] = value
        if "user_id" not in event and "device_id" not in event:
            raise SkipRow(f"userId and anonymousId: neither has {self.settings.min_id_length} characters; "
                          "Amplitude needs one (settings.min_id_length)")
        if view.properties:
            event["event_properties"] = json_safe(view.properties)
        if view.traits:
            event["user_properties"] = json_safe(view.traits)
        if view.revenue is not None:
            try:
                event["revenue"] = float(view.revenue)
            except (TypeError, ValueError):
                pass
        if view.ip:
            event["ip"] = view.ip
        return event

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        body: dict[str, Any] = {"api_key": self.api_key(), "events": batch.items}
        if self.settings.min_id_length != 5:
            body["options"] = {"min_id_length": self.settings.min_id_length}
        return HttpRequest("POST", f"{self.base_url}/2/httpapi", {"Accept": "*/*"}, body)

    def parse_response(self, response: httpx.Response, batch: Batch) -> Outcome:
        status = response.status_code
        if status == 400:
            body = _error_body(response)
            if _is_bad_key(response):
                return Outcome("fatal", "invalid_api_key", "Amplitude does not know this api_key")
            row_errors: dict[int, tuple[str, str]] = {}
            for kind in ("events_with_invalid_fields", "events_with_missing_fields"):
                for field_name, indexes in (body.get(kind) or {}).items():
                    for index in indexes:
                        if 0 <= int(index) < len(batch):
                            word = "invalid" if "invalid" in kind else "missing"
                            row_errors.setdefault(int(index), (f"{word}:{field_name}",
                                                               f"{field_name} is {word} ({body.get('error', '')})"))
            if row_errors:
                return Outcome("rows", "400", str(body.get("error", "")), row_errors=row_errors)
        if status == 413:
            return Outcome("reject", "413", "payload too large")
        if status == 429:
            body = _error_body(response)
            users = ", ".join(list((body.get("throttled_users") or {}))[:3])
            return Outcome("retry", "429", f"throttled users: {users}" if users else str(body.get("error", "")),
                           retry_after(response) or 15.0)   # Amplitude: pause throttled users 15 s
        return super().parse_response(response, batch)


class AmplitudeIdentify(_Amplitude):
    """An audience as an Amplitude user property (`$set` on entry, `$unset` on exit)."""

    type_name = "amplitude_identify"
    batch_size = MAX_IDENTIFICATIONS
    supports_remove = True
    default_mapping = {"user_id": "profile_id", "email": "email", "first_name": "first_name",
                       "last_name": "last_name", "city": "city", "country": "country", "audience": "audience"}
    required_fields = ("user_id",)
    emulator = "destinations.emulators.amplitude:create_app"
    Settings = AmplitudeIdentifySettings

    def prepare(self, row: dict[str, Any], action: Action) -> dict[str, Any]:
        if not row.get("user_id"):
            raise SkipRow("user_id: missing; map the profile id column to user_id")
        flag = audience_property(self.settings.audience_property, row.get("audience"))
        if action == "remove":
            if flag is None:
                raise SkipRow("audience: missing; a removal unsets the audience property, so map audience")
            return {"user_id": str(row["user_id"]), "user_properties": {"$unset": {flag: "-"}}}
        values = {f: json_safe(v.strip() if isinstance(v, str) else v) for f, v in row.items()
                  if f not in ("user_id", "audience") and v not in (None, "")}
        if flag:
            values[flag] = True
        return {"user_id": str(row["user_id"]), "user_properties": {"$set": values}}

    stream_types = frozenset({"identify"})

    def stream_item(self, view: Any) -> dict[str, Any]:
        """An identify as `$set` of its traits on the user (and device) it names."""
        if not view.user_id and not view.anonymous_id:
            raise SkipRow("userId and anonymousId: both missing; Amplitude identifies a user or a device")
        item: dict[str, Any] = {"user_properties": {"$set": json_safe(view.traits)}}
        if view.user_id:
            item["user_id"] = view.user_id
        if view.anonymous_id:
            item["device_id"] = view.anonymous_id
        return item

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        return HttpRequest("POST", f"{self.base_url}/identify", {}, {"api_key": self.api_key(),
                                                                      "identification": batch.items}, encoding="form")

    def parse_response(self, response: httpx.Response, batch: Batch) -> Outcome:
        if _is_bad_key(response) or (response.status_code == 400 and "api_key" in response.text.lower()):
            return Outcome("fatal", "invalid_api_key", "Amplitude does not know this api_key")
        if response.status_code == 429:
            return Outcome("retry", "429", "throttled", retry_after(response) or 15.0)
        return super().parse_response(response, batch)
