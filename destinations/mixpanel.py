"""Mixpanel: conversions as events through `/import`, audiences as profile properties via `/engage`.

`/import` (https://developer.mixpanel.com/reference/import-events) takes at most 2,000
events a request, authenticated with a service account (Basic `user:secret` plus the
`project_id` parameter) or the project's API secret; with `strict=1` Mixpanel validates
every event and answers 400 with `failed_records` (index, `$insert_id`, field, message)
while still importing the valid ones, so those rows are failed and the rest succeeded.
`$insert_id` (at most 36 letters, digits, dashes) makes a retried event count once.
`/engage` takes at most 2,000 profile updates, each with the project token and one
operation: `$set` on upsert, `$unset` of the audience property on remove.
Privacy deletions go to the GDPR API v3 (https://docs.mixpanel.com/reference/gdpr-api):
`POST https://mixpanel.com/api/app/data-deletions/v3.0/?token=<project token>` with
`Authorization: Bearer <GDPR OAuth token>` and `{"distinct_ids": [...<=2000], "compliance_type":
"GDPR"}`; the distinct ids are the person's profile ids (what syncs send) and user ids. The
OAuth token is a personal one (Profile & Preferences > Data & Privacy), so it is optional
here and only a deletion asks for it.
Imports httpx, pydantic and destinations.base / event_fields.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from destinations.base import (Action, Batch, CredentialProblem, Destination, DestinationSettings, HttpRequest,
                               Outcome, RunContext, SkipRow, id_subjects, json_object, retry_after)
from destinations.event_fields import audience_property, dedup_key, epoch_ms, json_safe, present

DEFAULT_BASE_URL = "https://api.mixpanel.com"   # EU residency: https://api-eu.mixpanel.com
MAX_BATCH = 2000
INSERT_ID_MAX = 36
MAX_DELETION_IDS = 2000
# the ingestion host -> the GDPR API's host; any other base_url (an emulator, a proxy) serves both
GDPR_HOSTS = {"https://api.mixpanel.com": "https://mixpanel.com", "https://api-eu.mixpanel.com": "https://eu.mixpanel.com"}


class MixpanelImportCredentials(BaseModel):
    """A service account (username, secret, project_id), or the legacy project API secret."""

    model_config = ConfigDict(extra="forbid")
    project_id: str | None = None
    service_account_username: str | None = None
    service_account_secret: SecretStr | None = None
    api_secret: SecretStr | None = None
    project_token: SecretStr | None = Field(None, description="names the project to the GDPR API (deletions)")
    gdpr_oauth_token: SecretStr | None = Field(None, description="GDPR OAuth token; needed only for deletions")

    @model_validator(mode="after")
    def _one_way_in(self) -> "MixpanelImportCredentials":
        account = (self.service_account_username, self.service_account_secret, self.project_id)
        if self.api_secret is None and not all(account):
            raise ValueError("give service_account_username, service_account_secret and project_id "
                             "(a Mixpanel service account), or api_secret (the project's API secret)")
        return self


class MixpanelEventSettings(DestinationSettings):
    event_name: str = "Order Completed"


class MixpanelProfileCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_token: SecretStr
    gdpr_oauth_token: SecretStr | None = Field(None, description="GDPR OAuth token; needed only for deletions")


class MixpanelProfileSettings(DestinationSettings):
    audience_property: str = "headwater_audience_{audience}"


def _error_text(response: httpx.Response) -> tuple[str, str]:
    body = json_object(response)
    if body is None:
        return str(response.status_code), response.text[:300]
    return str(body.get("code", response.status_code)), str(body.get("error") or body.get("status") or "")[:300]


class _MixpanelDeletion(Destination):
    """The GDPR API deletion both Mixpanel destination types offer."""

    supports_deletion = True

    def deletion_subjects(self, people: dict[str, list[str]]) -> list[dict[str, list[str]]]:
        self.deletion_credential("gdpr_oauth_token", "Mixpanel deletes people only with a GDPR OAuth token "
                                                     "(Profile & Preferences > Data & Privacy)")
        self.deletion_credential("project_token", "Mixpanel deletes people only with the project token "
                                                  "(Project Settings)")
        return id_subjects(people, "distinct_ids", MAX_DELETION_IDS)

    def deletion_auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.gdpr_oauth_token.get_secret_value()}"}

    def deletion_request(self, people: dict[str, list[str]], context: RunContext) -> HttpRequest:
        host = GDPR_HOSTS.get(self.base_url, self.base_url)
        return HttpRequest("POST", f"{host}/api/app/data-deletions/v3.0/", {"Accept": "application/json"},
                           {"distinct_ids": people["distinct_ids"], "compliance_type": "GDPR"},
                           params={"token": self.credentials.project_token.get_secret_value()})


class MixpanelEvents(_MixpanelDeletion):
    """Conversions (or any event-shaped model) as Mixpanel events."""

    type_name = "mixpanel_events"
    vendor = "mixpanel"
    consent_category = "analytics"
    default_base_url = DEFAULT_BASE_URL
    batch_size = MAX_BATCH
    requests_per_second = 5.0          # 5 x 2,000 = 10,000 events/s; Mixpanel limits /import by volume, not calls
    concurrency = 4
    default_mapping = {"distinct_id": "profile_id", "insert_id": "conversion_id", "time": "occurred_at",
                       "order_id": "order_id", "revenue": "value", "currency": "currency"}
    required_fields = ("distinct_id", "insert_id", "time")
    emulator = "destinations.emulators.mixpanel:create_app"
    Settings = MixpanelEventSettings
    Credentials = MixpanelImportCredentials

    def auth_headers(self) -> dict[str, str]:
        c = self.credentials
        if c.service_account_username and c.service_account_secret:
            pair = f"{c.service_account_username}:{c.service_account_secret.get_secret_value()}"
        else:
            pair = f"{c.api_secret.get_secret_value()}:"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    def _params(self) -> dict[str, str]:
        params = {"strict": "1"}
        if self.credentials.project_id:
            params["project_id"] = self.credentials.project_id
        return params

    def prepare(self, row: dict[str, Any], action: Action) -> dict[str, Any]:
        millis = epoch_ms(row.get("time"))
        if millis is None:
            raise SkipRow("time: missing or not a timestamp; map a timestamp column to time")
        if row.get("distinct_id") in (None, ""):
            raise SkipRow("distinct_id: missing; Mixpanel attributes every event to a distinct_id")
        properties = {"time": millis, "distinct_id": str(row["distinct_id"]),
                      "$insert_id": dedup_key(row.get("insert_id") or row["distinct_id"], INSERT_ID_MAX)}
        properties.update(present(row, "order_id", "revenue", "currency"))
        return {"event": self.settings.event_name, "properties": properties}

    def idempotency_key(self, item: dict[str, Any]) -> str | None:
        return item["properties"]["$insert_id"]

    stream_types = frozenset({"track", "page", "screen"})

    def stream_item(self, view: Any) -> dict[str, Any]:
        """Every property as sent; a page is "Viewed Home Page" as in Segment's Mixpanel mapping;
        the messageId is the `$insert_id`, so a resent event counts once."""
        millis = epoch_ms(view.timestamp)
        if millis is None:
            raise SkipRow("timestamp: missing or not a time")
        if not view.person:
            raise SkipRow("userId and anonymousId: both missing; Mixpanel attributes every event to a distinct_id")
        properties = {key: json_safe(value) for key, value in view.properties.items()}
        properties.update({"time": millis, "distinct_id": view.person,
                           "$insert_id": dedup_key(view.message_id or f"{view.person}-{millis}", INSERT_ID_MAX)})
        if view.user_id:
            properties["$user_id"] = view.user_id
        if view.anonymous_id:
            properties["$device_id"] = view.anonymous_id
        if view.page_url:
            properties.setdefault("$current_url", view.page_url)
        if view.ip:
            properties["ip"] = view.ip
        return {"event": view.name, "properties": properties}

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        return HttpRequest("POST", f"{self.base_url}/import", {"Accept": "application/json"}, batch.items,
                           params=self._params())

    def describe_error(self, response: httpx.Response) -> tuple[str, str]:
        return _error_text(response)

    def parse_response(self, response: httpx.Response, batch: Batch) -> Outcome:
        if response.status_code == 400:
            failed = (json_object(response) or {}).get("failed_records")
            if failed:
                # strict mode imported every record not listed: those rows succeeded.
                return Outcome("ok", row_errors={int(r["index"]): (str(r.get("field", "invalid")),
                                                                   str(r.get("message", ""))[:300])
                                                 for r in failed if 0 <= int(r.get("index", -1)) < len(batch)})
        return super().parse_response(response, batch)

    async def check_credentials(self, client: httpx.AsyncClient) -> str:
        """An empty strict import: Mixpanel authenticates it and imports nothing."""
        response = await client.post(f"{self.base_url}/import", params=self._params(), content=b"[]",
                                     headers={**self.auth_headers(), "Content-Type": "application/json"})
        if response.status_code in (401, 403):
            raise CredentialProblem(f"Mixpanel refused the credentials ({self.redact(_error_text(response)[1])}); "
                                    "check the service account username/secret and project_id, or api_secret")
        if response.status_code >= 300:
            raise CredentialProblem(f"Mixpanel answered {response.status_code} to an empty import: "
                                    f"{self.redact(_error_text(response)[1])}")
        return "an empty strict /import was accepted: the credentials can import into the project"


class MixpanelProfiles(_MixpanelDeletion):
    """An audience as a Mixpanel user profile property (`$set` on entry, `$unset` on exit)."""

    type_name = "mixpanel_profiles"
    vendor = "mixpanel"
    consent_category = "analytics"
    default_base_url = DEFAULT_BASE_URL
    batch_size = MAX_BATCH
    requests_per_second = 5.0
    supports_remove = True
    default_mapping = {"distinct_id": "profile_id", "email": "email", "phone": "phone", "first_name": "first_name",
                       "last_name": "last_name", "city": "city", "country": "country", "audience": "audience"}
    required_fields = ("distinct_id",)
    emulator = "destinations.emulators.mixpanel:create_app"
    Settings = MixpanelProfileSettings
    Credentials = MixpanelProfileCredentials

    # Mixpanel's reserved profile properties carry a `$`; country is an ISO code.
    RESERVED = {"email": "$email", "phone": "$phone", "first_name": "$first_name", "last_name": "$last_name",
                "city": "$city", "country": "$country_code"}

    def prepare(self, row: dict[str, Any], action: Action) -> dict[str, Any]:
        if row.get("distinct_id") in (None, ""):
            raise SkipRow("distinct_id: missing; map the profile id column to distinct_id")
        token = self.credentials.project_token.get_secret_value()
        update: dict[str, Any] = {"$token": token, "$distinct_id": str(row["distinct_id"]), "$ip": "0"}
        flag = audience_property(self.settings.audience_property, row.get("audience"))
        if action == "remove":
            if flag is None:
                raise SkipRow("audience: missing; a removal unsets the audience property, so map audience")
            update["$unset"] = [flag]
            return update
        values = {self.RESERVED[f]: json_safe(v.strip() if isinstance(v, str) else v)
                  for f, v in row.items() if f in self.RESERVED and v not in (None, "")}
        if flag:
            values[flag] = True
        update["$set"] = values
        return update

    stream_types = frozenset({"identify"})
    _VIEW_RESERVED = {"email": "$email", "phone": "$phone", "first_name": "$first_name", "last_name": "$last_name",
                      "city": "$city", "country": "$country_code"}
    _TRAIT_SPELLINGS = frozenset({"email", "phone", "firstName", "first_name", "lastName", "last_name", "city",
                                  "country", "address"})

    def stream_item(self, view: Any) -> dict[str, Any]:
        """An identify as a profile `$set` of its traits (Mixpanel's reserved names for the known ones)."""
        if not view.user_id:
            raise SkipRow("userId: missing; Mixpanel keeps profiles for identified users only")
        values = {key: json_safe(value) for key, value in view.traits.items() if key not in self._TRAIT_SPELLINGS}
        values.update({name: getattr(view, field) for field, name in self._VIEW_RESERVED.items() if getattr(view, field)})
        return {"$token": self.credentials.project_token.get_secret_value(), "$distinct_id": view.user_id,
                "$ip": view.ip or "0", "$set": values}

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        return HttpRequest("POST", f"{self.base_url}/engage", {"Accept": "application/json"}, batch.items,
                           params={"verbose": "1"})

    def describe_error(self, response: httpx.Response) -> tuple[str, str]:
        return _error_text(response)

    def parse_response(self, response: httpx.Response, batch: Batch) -> Outcome:
        if response.status_code == 200:
            body = json_object(response) or {}
            if body.get("status") == 0:
                error = str(body.get("error") or "rejected")
                if "token" in error.lower():
                    return Outcome("fatal", "invalid_token", error)
                return Outcome("reject", "rejected", error[:300])
            return Outcome("ok")
        if response.status_code == 429 or response.status_code >= 500:
            code, message = _error_text(response)
            return Outcome("retry", code, message, retry_after(response))
        return super().parse_response(response, batch)

    async def check_credentials(self, client: httpx.AsyncClient) -> str:
        response = await client.post(f"{self.base_url}/engage", params={"verbose": "1"}, content=b"[]",
                                     headers={"Content-Type": "application/json"})
        if response.status_code >= 300:
            raise CredentialProblem(f"Mixpanel answered {response.status_code} at /engage: "
                                    f"{self.redact(_error_text(response)[1])}")
        return ("the /engage endpoint answers; Mixpanel cannot verify a project token without writing a profile, "
                "so a wrong token shows as 'invalid token' on the first sync")
