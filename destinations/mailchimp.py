"""Mailchimp: an audience as list members, tagged with the audience, archived when they leave.

Marketing API 3.0 (https://mailchimp.com/developer/marketing/api/): Basic auth with the API
key as password; the key's suffix names the data centre (`xxxx-us21` -> us21.api.mailchimp.com).
Upserts use "batch subscribe or update" (`POST /lists/{list_id}`, at most 500 members,
`update_existing: true`, each member's `tags`); Mailchimp answers 200 even when some
members were refused and lists them in `errors`, which become row errors. Removals archive
each member (`DELETE /lists/{list_id}/members/{md5(lowercase email)}`), sent together as
one batch operation (`POST /batches`), since Mailchimp has no bulk archive. A privacy
deletion erases the member for good (`POST /lists/{list_id}/members/{hash}/actions/delete-permanent`,
one call per email, after checking the list exists; 204, or 404 when Mailchimp holds no such
member: nothing left to delete).
Imports httpx, pydantic and destinations.base / normalize / event_fields.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from destinations.base import (Action, Batch, CredentialProblem, Destination, DestinationSettings, HttpRequest,
                               Outcome, RunContext, SkipRow, json_object)
from destinations.normalize import email_basic

API_ROOT = "https://{dc}.api.mailchimp.com/3.0"
MAX_MEMBERS = 500
MERGE_TAGS = {"first_name": "FNAME", "last_name": "LNAME", "phone": "PHONE"}


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 hex of the lowercase address."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


class MailchimpCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_key: SecretStr

    @field_validator("api_key")
    @classmethod
    def _data_centre(cls, value: SecretStr) -> SecretStr:
        _, dash, dc = value.get_secret_value().rpartition("-")
        if not dash or not dc.isalnum():
            raise ValueError("must end in its data centre, like '-us21'; copy the whole key from "
                             "Mailchimp (Account > Extras > API keys)")
        return value


class MailchimpSettings(DestinationSettings):
    list_id: str = Field(description="the audience (list) id: Audience > Settings > Audience name and defaults")
    status: Literal["subscribed", "pending", "transactional"] = "subscribed"
    tag: str | None = Field("{audience}", description="tag added to every member; {audience} is the audience name")


class MailchimpAudience(Destination):
    type_name = "mailchimp_audience"
    vendor = "mailchimp"
    consent_category = "email"
    default_base_url = "https://us1.api.mailchimp.com/3.0"   # replaced by the key's data centre
    batch_size = MAX_MEMBERS
    requests_per_second = 10.0
    concurrency = 4            # Mailchimp allows 10 simultaneous connections per key
    supports_remove = True
    supports_deletion = True
    default_mapping = {"email_address": "email", "first_name": "first_name", "last_name": "last_name",
                       "phone": "phone", "audience": "audience"}
    required_fields = ("email_address",)
    identifier_fields = ("email_address",)
    emulator = "destinations.emulators.mailchimp:create_app"
    Settings = MailchimpSettings
    Credentials = MailchimpCredentials

    def __init__(self, name: str, base_url: str | None, *args: Any, **kwargs: Any):
        super().__init__(name, base_url, *args, **kwargs)
        if not base_url:
            dc = self.credentials.api_key.get_secret_value().rpartition("-")[2]
            self.base_url = API_ROOT.format(dc=dc)

    def auth_headers(self) -> dict[str, str]:
        pair = f"headwater:{self.credentials.api_key.get_secret_value()}"   # any username; the key is the password
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    def prepare(self, row: dict[str, Any], action: Action) -> dict[str, Any]:
        email = email_basic(row.get("email_address"))
        if email is None:
            raise SkipRow("email_address: missing or not an email address; Mailchimp members need one")
        if action == "remove":
            return {"method": "DELETE", "path": f"/lists/{self.settings.list_id}/members/{subscriber_hash(email)}",
                    "operation_id": subscriber_hash(email)}
        member: dict[str, Any] = {"email_address": email, "status": self.settings.status}
        merge = {tag: str(row[f]).strip() for f, tag in MERGE_TAGS.items() if row.get(f) not in (None, "")}
        if merge:
            member["merge_fields"] = merge
        if self.settings.tag and (row.get("audience") or "{audience}" not in self.settings.tag):
            member["tags"] = [self.settings.tag.format(audience=row.get("audience") or "")]
        return member

    stream_types = frozenset({"identify", "track"})

    def stream_item(self, view: Any) -> dict[str, Any]:
        """The event's person as a list member (status and tag from settings): workflows use it
        to subscribe or tag a buyer."""
        return self.prepare({"email_address": view.email, "first_name": view.first_name,
                             "last_name": view.last_name, "phone": view.phone, "audience": None}, "upsert")

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        if batch.action == "remove":
            return HttpRequest("POST", f"{self.base_url}/batches", {}, {"operations": batch.items})
        return HttpRequest("POST", f"{self.base_url}/lists/{self.settings.list_id}", {},
                           {"members": batch.items, "update_existing": True})

    def deletion_subjects(self, people: dict[str, list[str]]) -> list[dict[str, list[str]]]:
        """One permanent delete per email: Mailchimp addresses a member by the hash of one address."""
        return [{"email": [e]} for e in sorted({e for e in map(email_basic, people.get("emails") or []) if e})]

    def deletion_request(self, people: dict[str, list[str]], context: RunContext) -> HttpRequest:
        member = subscriber_hash(people["email"][0])
        return HttpRequest("POST", f"{self.base_url}/lists/{self.settings.list_id}/members/{member}"
                                   f"/actions/delete-permanent", {})

    def deletion_lookup_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        """The list must exist: only then does a 404 from the delete mean the member is gone."""
        return HttpRequest("GET", f"{self.base_url}/lists/{self.settings.list_id}", {}, params={"fields": "id"})

    def parse_deletion_response(self, response: httpx.Response, batch: Batch) -> Outcome:
        if response.status_code == 404 and self.describe_error(response)[0] == "Resource Not Found":
            return Outcome("ok")             # never a member (or already deleted): nothing held
        return super().parse_deletion_response(response, batch)

    def describe_error(self, response: httpx.Response) -> tuple[str, str]:
        body = json_object(response)
        if body is None:
            return str(response.status_code), response.text[:300]
        return str(body.get("title") or response.status_code), str(body.get("detail", ""))[:300]

    def parse_response(self, response: httpx.Response, batch: Batch) -> Outcome:
        if response.status_code == 200 and batch.action == "upsert":
            errors = (response.json() or {}).get("errors") or []
            where = {item["email_address"]: i for i, item in enumerate(batch.items)}
            row_errors = {}
            for error in errors:
                index = where.get(str(error.get("email_address", "")).strip().lower())
                if index is not None:
                    detail = error.get("field_message") or error.get("error") or ""
                    row_errors[index] = (str(error.get("error_code") or "ERROR_GENERIC"), str(detail)[:300])
            return Outcome("ok", row_errors=row_errors)
        return super().parse_response(response, batch)

    async def check_credentials(self, client: httpx.AsyncClient) -> str:
        """`GET /ping`, then the list itself: both read-only."""
        ping = await client.get(f"{self.base_url}/ping", headers=self.auth_headers())
        if ping.status_code in (401, 403):
            raise CredentialProblem(f"Mailchimp refused the API key ({self.describe_error(ping)[1]}); "
                                    "check the key and that its -dc suffix matches your account")
        if ping.status_code >= 300:
            raise CredentialProblem(f"Mailchimp answered {ping.status_code} to /ping")
        found = await client.get(f"{self.base_url}/lists/{self.settings.list_id}", params={"fields": "id,name"},
                                 headers=self.auth_headers())
        if found.status_code == 404:
            raise CredentialProblem(f"settings.list_id: Mailchimp has no audience {self.settings.list_id!r}; copy "
                                    "the id from Audience > Settings > Audience name and defaults")
        if found.status_code >= 300:
            raise CredentialProblem(f"Mailchimp answered {found.status_code} for the list: {self.describe_error(found)[1]}")
        return f"API key works; audience {found.json().get('name')!r} ({self.settings.list_id}) is reachable"
