"""Klaviyo: an audience as list members (bulk import jobs), conversions as events.

Klaviyo's JSON:API (https://developers.klaviyo.com/en/reference/api_overview): every call
carries `Authorization: Klaviyo-API-Key <private key>` and a dated `revision` header.
- Upserts: `POST /api/profile-bulk-import-jobs`, at most 10,000 profiles a job, with the
  list in the job's `relationships.lists`, so importing also adds them to the list. A job
  with an invalid profile is refused as a whole with one error per bad profile
  (`source.pointer` = `/data/attributes/profiles/data/<i>/...`): those rows fail, the rest
  are sent again.
- Removals: `DELETE /api/lists/{id}/relationships/profiles` takes Klaviyo's own profile
  ids (at most 1,000), so each batch of at most 100 first looks its ids up with
  `GET /api/profiles?filter=any(external_id,[...])` (100 is the page-size maximum). A
  person Klaviyo no longer has needs no removal.
- Events: `POST /api/events`, one event a request, `unique_id` = the conversion id so a
  retried event is recorded once.
- Deletion (privacy requests): `POST /api/data-privacy-deletion-jobs`, one job per email or
  E.164 phone number of the person (Klaviyo takes exactly one identifier a job and deletes
  every profile matching it); 202 when queued. The key needs the data-privacy:write scope.
Errors are `{"errors": [{"id", "status", "code", "title", "detail", "source"}]}`.
Imports httpx, pydantic and destinations.base / normalize / event_fields.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from destinations.base import (Action, Batch, CredentialProblem, Destination, DestinationSettings, HttpRequest,
                               Outcome, RunContext, SkipRow, json_object)
from destinations.event_fields import iso_time, json_safe
from destinations.normalize import e164, email_basic

DEFAULT_BASE_URL = "https://a.klaviyo.com"
REVISION = "2026-10-15"            # the revision klaviyo-api 25.0.0 (our test oracle) speaks
MAX_IMPORT = 10_000
MAX_LOOKUP = 100
POINTER_PREFIX = "/data/attributes/profiles/data/"


class KlaviyoCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_key: SecretStr = Field(description="a private API key, pk_...")

    @field_validator("api_key")
    @classmethod
    def _private(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("pk_"):
            raise ValueError("must be a private API key (pk_...); a public site id cannot write profiles")
        return value


class KlaviyoListSettings(DestinationSettings):
    list_id: str = Field(description="the list id: Lists & segments > the list > Settings")
    revision: str = REVISION


class KlaviyoEventSettings(DestinationSettings):
    metric_name: str = "Placed Order"
    revision: str = REVISION
    backfill: bool = Field(False, description="record without triggering flows (for historical conversions)")


def klaviyo_errors(response: httpx.Response) -> list[dict[str, Any]]:
    errors = (json_object(response) or {}).get("errors")
    return errors if isinstance(errors, list) else []


def profile_identity(row: dict[str, Any]) -> dict[str, str]:
    """Klaviyo's identifiers: email lowercased, phone in E.164 (dropped when invalid), external_id."""
    identity = {}
    if (email := email_basic(row.get("email"))) is not None:
        identity["email"] = email
    if row.get("phone_number") and (phone := e164(str(row["phone_number"]), str(row.get("country") or "US")[:2])):
        identity["phone_number"] = phone
    if row.get("external_id") not in (None, ""):
        identity["external_id"] = str(row["external_id"])
    return identity


class _Klaviyo(Destination):
    vendor = "klaviyo"
    consent_category = "email"
    default_base_url = DEFAULT_BASE_URL
    concurrency = 4
    supports_deletion = True
    Credentials = KlaviyoCredentials

    def deletion_subjects(self, people: dict[str, list[str]]) -> list[dict[str, list[str]]]:
        """One deletion job per identifier: Klaviyo refuses a job naming two."""
        emails = sorted({e for e in map(email_basic, people.get("emails") or []) if e})
        phones = sorted({p for p in people.get("phones") or [] if p and p.startswith("+")})
        return [{"email": [e]} for e in emails] + [{"phone_number": [p]} for p in phones]

    def deletion_request(self, people: dict[str, list[str]], context: RunContext) -> HttpRequest:
        [(identifier, [value])] = people.items()
        job = {"type": "data-privacy-deletion-job",
               "attributes": {"profile": {"data": {"type": "profile", "attributes": {identifier: value}}}}}
        return HttpRequest("POST", f"{self.base_url}/api/data-privacy-deletion-jobs", self._headers(), {"data": job})

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Klaviyo-API-Key {self.credentials.api_key.get_secret_value()}"}

    def _headers(self) -> dict[str, str]:
        return {"revision": self.settings.revision, "Accept": "application/vnd.api+json"}

    def describe_error(self, response: httpx.Response) -> tuple[str, str]:
        errors = klaviyo_errors(response)
        if not errors:
            return str(response.status_code), response.text[:300]
        return str(errors[0].get("code") or response.status_code), str(errors[0].get("detail") or "")[:300]

    async def _check(self, client: httpx.AsyncClient, path: str, what: str) -> httpx.Response:
        response = await client.get(f"{self.base_url}{path}", headers={**self._headers(), **self.auth_headers()})
        if response.status_code in (401, 403):
            code, detail = self.describe_error(response)
            raise CredentialProblem(f"Klaviyo refused the key ({code}: {self.redact(detail)}); use a private key "
                                    f"with {what} scope")
        if response.status_code == 400 and any(e.get("source", {}).get("parameter") == "revision"
                                               for e in klaviyo_errors(response)):
            raise CredentialProblem(f"settings.revision: Klaviyo does not accept {self.settings.revision!r}")
        return response


class KlaviyoList(_Klaviyo):
    type_name = "klaviyo_list"
    batch_size = MAX_IMPORT
    requests_per_second = 2.0          # bulk import jobs: burst 10/s, steady 150/m
    supports_remove = True
    default_mapping = {"email": "email", "phone_number": "phone", "external_id": "profile_id",
                       "first_name": "first_name", "last_name": "last_name", "city": "city", "region": "state",
                       "zip": "postal_code", "country": "country"}
    identifier_fields = ("email", "phone_number", "external_id")
    emulator = "destinations.emulators.klaviyo:create_app"
    Settings = KlaviyoListSettings

    def action_batch_size(self, action: Action) -> int:
        return MAX_LOOKUP if action == "remove" else MAX_IMPORT

    def prepare(self, row: dict[str, Any], action: Action) -> dict[str, Any]:
        identity = profile_identity(row)
        if action == "remove":
            if "external_id" not in identity:
                raise SkipRow("external_id: needed to find the Klaviyo profile to remove; map the profile id to it")
            return {"external_id": identity["external_id"]}
        if not identity:
            raise SkipRow("email, phone_number, external_id: none is usable; Klaviyo needs one to match a profile")
        attributes: dict[str, Any] = dict(identity)
        for name in ("first_name", "last_name"):
            if row.get(name) not in (None, ""):
                attributes[name] = str(row[name]).strip()
        location = {k: str(row[k]).strip() for k in ("city", "region", "zip", "country") if row.get(k) not in (None, "")}
        if location:
            attributes["location"] = location
        return {"type": "profile", "attributes": attributes}

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest | None:
        if batch.action == "remove":
            ids = [item.get("id", f"<profile id of external_id {item['external_id']}>") for item in batch.items]
            ids = [i for i in ids if i is not None]          # None: Klaviyo has no such profile
            if not ids:
                return None
            return HttpRequest("DELETE", f"{self.base_url}/api/lists/{self.settings.list_id}/relationships/profiles",
                               self._headers(), {"data": [{"type": "profile", "id": i} for i in ids]})
        job = {"type": "profile-bulk-import-job",
               "attributes": {"profiles": {"data": batch.items}},
               "relationships": {"lists": {"data": [{"type": "list", "id": self.settings.list_id}]}}}
        return HttpRequest("POST", f"{self.base_url}/api/profile-bulk-import-jobs", self._headers(), {"data": job})

    def lookup_request(self, batch: Batch, context: RunContext) -> HttpRequest | None:
        if batch.action != "remove":
            return None
        wanted = orjson.dumps([item["external_id"] for item in batch.items]).decode()
        return HttpRequest("GET", f"{self.base_url}/api/profiles", self._headers(),
                           params={"filter": f"any(external_id,{wanted})", "fields[profile]": "external_id",
                                   "page[size]": str(MAX_LOOKUP)})

    def apply_lookup(self, batch: Batch, response: httpx.Response) -> None:
        found = {p["attributes"].get("external_id"): p["id"] for p in response.json().get("data", [])}
        for item in batch.items:
            item["id"] = found.get(item["external_id"])

    def parse_response(self, response: httpx.Response, batch: Batch) -> Outcome:
        if response.status_code == 400 and batch.action == "upsert":
            row_errors: dict[int, tuple[str, str]] = {}
            for error in klaviyo_errors(response):
                pointer = str((error.get("source") or {}).get("pointer", ""))
                if pointer.startswith(POINTER_PREFIX):
                    index = pointer[len(POINTER_PREFIX):].split("/", 1)[0]
                    if index.isdigit() and int(index) < len(batch):
                        row_errors[int(index)] = (str(error.get("code") or "invalid"),
                                                  f"{pointer.rsplit('/', 1)[-1]}: {error.get('detail', '')}"[:300])
            if row_errors:
                return Outcome("rows", "invalid", "Klaviyo refused the job for some profiles", row_errors=row_errors)
        return super().parse_response(response, batch)

    async def check_credentials(self, client: httpx.AsyncClient) -> str:
        response = await self._check(client, f"/api/lists/{self.settings.list_id}", "lists:read")
        if response.status_code == 404:
            raise CredentialProblem(f"settings.list_id: Klaviyo has no list {self.settings.list_id!r}")
        if response.status_code >= 300:
            raise CredentialProblem(f"Klaviyo answered {response.status_code}: {self.describe_error(response)[1]}")
        name = response.json()["data"]["attributes"].get("name")
        return f"the key can read list {name!r} ({self.settings.list_id}) at revision {self.settings.revision}"


class KlaviyoEvents(_Klaviyo):
    type_name = "klaviyo_events"
    batch_size = 1                     # /api/events creates one event a request
    requests_per_second = 50.0         # burst 350/s, steady 3,500/m
    concurrency = 8
    default_mapping = {"unique_id": "conversion_id", "email": "email", "phone_number": "phone",
                       "external_id": "profile_id", "time": "occurred_at", "value": "value", "currency": "currency",
                       "order_id": "order_id"}
    identifier_fields = ("email", "phone_number", "external_id")
    emulator = "destinations.emulators.klaviyo:create_app"
    Settings = KlaviyoEventSettings

    def prepare(self, row: dict[str, Any], action: Action) -> dict[str, Any]:
        identity = profile_identity(row)
        if not identity:
            raise SkipRow("email, phone_number, external_id: none is usable; Klaviyo attributes events to a profile")
        if row.get("unique_id") in (None, ""):
            raise SkipRow("unique_id: missing; map the conversion id so a retried event is recorded once")
        attributes: dict[str, Any] = {
            "properties": {k: json_safe(row[k]) for k in ("order_id",) if row.get(k) is not None},
            "unique_id": str(row["unique_id"]),
            "backfill": self.settings.backfill,
            "metric": {"data": {"type": "metric", "attributes": {"name": self.settings.metric_name}}},
            "profile": {"data": {"type": "profile", "attributes": identity}},
        }
        if (moment := iso_time(row.get("time"))) is not None:
            attributes["time"] = moment
        if row.get("value") is not None:
            attributes["value"] = json_safe(row["value"])
            if row.get("currency"):
                attributes["value_currency"] = str(row["currency"]).upper()
        return {"data": {"type": "event", "attributes": attributes}}

    def idempotency_key(self, item: dict[str, Any]) -> str | None:
        return item["data"]["attributes"]["unique_id"]

    stream_types = frozenset({"track", "page"})

    def stream_item(self, view: Any) -> dict[str, Any]:
        """An event as a Klaviyo metric of the same name with every property; messageId is the
        unique_id Klaviyo deduplicates on."""
        row = {"unique_id": view.message_id, "email": view.email, "phone_number": view.phone,
               "external_id": view.user_id, "time": view.timestamp, "value": view.revenue,
               "currency": view.currency, "order_id": view.order_id}
        item = self.prepare(row, "upsert")
        attributes = item["data"]["attributes"]
        attributes["metric"]["data"]["attributes"]["name"] = view.name
        attributes["properties"] = {**json_safe(view.properties), **attributes["properties"]}
        return item

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        [item] = batch.items
        return HttpRequest("POST", f"{self.base_url}/api/events", self._headers(), item)

    async def check_credentials(self, client: httpx.AsyncClient) -> str:
        response = await self._check(client, "/api/accounts", "accounts:read")
        if response.status_code >= 300:
            raise CredentialProblem(f"Klaviyo answered {response.status_code}: {self.describe_error(response)[1]}")
        return f"the key belongs to a Klaviyo account (revision {self.settings.revision})"
