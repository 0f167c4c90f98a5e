"""Google Ads through the Data Manager API: conversions (`events:ingest`) and Customer Match
(`audienceMembers:ingest` / `audienceMembers:remove`).

Why Data Manager: since 2026-04-01 the Google Ads API takes no new Customer Match adopters
and restricts click-conversion attributes for new adopters; Data Manager is Google's
recommended path. JSON over REST, OAuth2 (a refresh token or a service account),
10,000 members or 2,000 events a request, identifiers SHA-256 hex-encoded after Google's
own normalization (destinations.normalize: gmail dots and +tags dropped, E.164 phones).
A 400 names the bad items in `fieldViolations`; the engine fails those and resends the rest.
"""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import timezone
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from destinations.base import (Batch, CredentialProblem, Destination, DestinationAuthError, DestinationSettings,
                               HttpRequest, Outcome, RunContext, SkipRow, json_object, retry_after)
from destinations.event_fields import required_event_time
from destinations.normalize import hashed, normalize

DATA_MANAGER_URL = "https://datamanager.googleapis.com"
TOKEN_URL = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/datamanager"
_ITEM_INDEX = re.compile(r"(?:audience_?[mM]embers|events)\[(\d+)\]")
GRANTED = {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_GRANTED"}


class GoogleCredentials(BaseModel):
    """A refresh token (client_id + client_secret + refresh_token) or a service account key."""

    model_config = ConfigDict(extra="forbid")
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    service_account_json: SecretStr | None = None

    @model_validator(mode="after")
    def _one_flow(self) -> "GoogleCredentials":
        refresh = self.client_id and self.client_secret and self.refresh_token
        if not refresh and not self.service_account_json:
            raise ValueError("give client_id, client_secret and refresh_token, or service_account_json")
        return self


class GoogleSettings(DestinationSettings):
    operating_account_id: str
    operating_account_type: Literal["GOOGLE_ADS", "DISPLAY_VIDEO_ADVERTISER", "DISPLAY_VIDEO_PARTNER",
                                    "DATA_PARTNER"] = "GOOGLE_ADS"
    login_account_id: str | None = None
    login_account_type: str = "GOOGLE_ADS"
    product_destination_id: str   # the user list (Customer Match) or conversion action id
    token_url: str = TOKEN_URL
    event_source: Literal["WEB", "APP", "IN_STORE", "PHONE", "OTHER"] = "WEB"


def _rpc_error(response: httpx.Response) -> tuple[str, str, dict[int, tuple[str, str]]]:
    body = json_object(response)
    if body is None:
        return str(response.status_code), response.text[:300], {}
    error = body.get("error", {})
    rows: dict[int, tuple[str, str]] = {}
    for detail in error.get("details", []) or []:
        for violation in detail.get("fieldViolations", []) or []:
            match = _ITEM_INDEX.search(violation.get("field", ""))
            if match:
                rows[int(match.group(1))] = (violation.get("reason") or error.get("status", "INVALID_ARGUMENT"),
                                             f"{violation.get('field')}: {violation.get('description', '')}")
    return error.get("status") or str(response.status_code), error.get("message", "")[:500], rows


class _DataManager(Destination):
    vendor = "google"
    consent_category = "advertising"
    default_base_url = DATA_MANAGER_URL
    requests_per_second = 5.0   # 300 requests a minute per Cloud project
    concurrency = 4
    Credentials = GoogleCredentials
    Settings = GoogleSettings
    emulator = "destinations.emulators.google:create_app"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._access_token: str | None = None

    # --- OAuth2 ---------------------------------------------------------------------------
    async def authorize(self, client: httpx.AsyncClient) -> None:
        creds = self.credentials
        if creds.refresh_token is not None:
            form = {"grant_type": "refresh_token", "client_id": creds.client_id,
                    "client_secret": creds.client_secret.get_secret_value(),
                    "refresh_token": creds.refresh_token.get_secret_value()}
        else:
            form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": self._service_account_assertion()}
        response = await client.post(self.settings.token_url, data=form)
        if response.status_code != 200:
            body = json_object(response)
            reason = (response.text[:200] if body is None
                      else f"{body.get('error')}: {body.get('error_description', '')}")
            raise DestinationAuthError(self.redact(
                f"Google refused the OAuth credentials ({response.status_code} {reason}); "
                f"create a new refresh token or service-account key with the {SCOPE} scope"))
        self._access_token = response.json()["access_token"]
        self.add_runtime_secret(self._access_token)

    def _service_account_assertion(self) -> str:
        """A signed JWT (RS256) for the jwt-bearer grant, per Google's service-account flow."""
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        info = json.loads(self.credentials.service_account_json.get_secret_value())
        now = int(time.time())
        claims = {"iss": info["client_email"], "scope": SCOPE, "aud": self.settings.token_url,
                  "iat": now, "exp": now + 3600}
        segments = [_b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()), _b64(json.dumps(claims).encode())]
        key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
        signature = key.sign(".".join(segments).encode(), padding.PKCS1v15(), hashes.SHA256())
        return ".".join(segments + [_b64(signature)])

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._access_token or '***'}"}

    def secrets(self) -> list[str]:
        values = super().secrets()
        if self.credentials.service_account_json is not None:
            info = json.loads(self.credentials.service_account_json.get_secret_value())
            values.append(info.get("private_key", ""))
        return [v for v in values if v]

    # --- requests -------------------------------------------------------------------------
    def destination_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "operatingAccount": {"accountType": self.settings.operating_account_type,
                                 "accountId": self.settings.operating_account_id},
            "productDestinationId": self.settings.product_destination_id}
        if self.settings.login_account_id:
            body["loginAccount"] = {"accountType": self.settings.login_account_type,
                                    "accountId": self.settings.login_account_id}
        return body

    def user_data(self, row: dict[str, Any]) -> dict[str, Any] | None:
        country = row.get("country")
        identifiers: list[dict[str, Any]] = []
        if email := hashed("google", "email", row.get("email")):
            identifiers.append({"emailAddress": email})
        if phone := hashed("google", "phone", row.get("phone"), country):
            identifiers.append({"phoneNumber": phone})
        given, family = hashed("google", "first_name", row.get("first_name")), hashed("google", "last_name", row.get("last_name"))
        region, postal = normalize("google", "country", country), normalize("google", "postal_code", row.get("postal_code"))
        if given and family and region and postal:  # an address counts only when complete
            identifiers.append({"address": {"givenName": given, "familyName": family, "regionCode": region,
                                            "postalCode": postal}})
        return {"userIdentifiers": identifiers[:10]} if identifiers else None

    def parse_response(self, response: httpx.Response, batch: Batch) -> Outcome:
        if response.status_code < 300:
            return Outcome("ok")
        status, message, rows = _rpc_error(response)
        if response.status_code == 429 or response.status_code >= 500:
            return Outcome("retry", status, message, retry_after(response))
        if response.status_code in (401, 403):
            return Outcome("fatal", status, f"Data Manager refused the request: {message}")
        if rows:
            return Outcome("rows", status, message, row_errors=rows)
        return Outcome("reject", status, message)

    def describe_error(self, response: httpx.Response) -> tuple[str, str]:
        status, message, _ = _rpc_error(response)
        return status, message

    async def check_credentials(self, client: httpx.AsyncClient) -> str:
        try:
            await self.authorize(client)
        except DestinationAuthError as error:
            raise CredentialProblem(str(error)) from None
        response = await client.get(f"{self.base_url}/v1/requestStatus:retrieve",
                                    params={"requestId": "headwater-credential-check"}, headers=self.auth_headers())
        if response.status_code in (200, 404):
            return "OAuth token issued and accepted by the Data Manager API"
        status, message, _ = _rpc_error(response)
        raise CredentialProblem(self.redact(
            f"Data Manager answered {response.status_code} {status}: {message}; check that the account "
            f"{self.settings.operating_account_id} granted access to these credentials"))


class GoogleCustomerMatch(_DataManager):
    type_name = "google_customer_match"
    replace_on_change = True
    batch_size = 10_000
    supports_remove = True
    default_mapping = {"email": "email", "phone": "phone", "first_name": "first_name", "last_name": "last_name",
                       "country": "country", "postal_code": "postal_code"}

    def prepare(self, row: dict[str, Any], action: str) -> dict[str, Any]:
        user = self.user_data(row)
        if user is None:
            raise SkipRow("no usable email, phone or complete address to match on")
        member: dict[str, Any] = {"userData": user}
        if action == "upsert":
            member["consent"] = dict(GRANTED)  # only consenting profiles reach this point
        return member

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        body: dict[str, Any] = {"destinations": [self.destination_body()], "audienceMembers": batch.items,
                                "encoding": "HEX"}
        if batch.action == "upsert":
            body["termsOfService"] = {"customerMatchTermsOfServiceStatus": "ACCEPTED"}
            return HttpRequest("POST", f"{self.base_url}/v1/audienceMembers:ingest", body=body)
        return HttpRequest("POST", f"{self.base_url}/v1/audienceMembers:remove", body=body)


class GoogleConversions(_DataManager):
    type_name = "google_conversions"
    batch_size = 2_000
    default_mapping = {"transaction_id": "order_id", "event_time": "occurred_at", "value": "value",
                       "currency": "currency", "gclid": "gclid", "gbraid": "gbraid", "wbraid": "wbraid",
                       "email": "email", "phone": "phone"}

    def prepare(self, row: dict[str, Any], action: str) -> dict[str, Any]:
        occurred = required_event_time(row)
        event: dict[str, Any] = {"transactionId": str(row["transaction_id"]),
                                 "eventTimestamp": occurred.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                 "eventSource": self.settings.event_source, "consent": dict(GRANTED)}
        clicks = {k: str(row[f]) for k, f in (("gclid", "gclid"), ("gbraid", "gbraid"), ("wbraid", "wbraid")) if row.get(f)}
        if clicks:
            event["adIdentifiers"] = clicks
        if (user := self.user_data(row)) is not None:
            event["userData"] = user
        if not clicks and "userData" not in event:
            raise SkipRow("no click id (gclid/gbraid/wbraid) and no user identifier to attribute the conversion")
        if row.get("value") is not None:
            event["conversionValue"] = float(row["value"])
        if row.get("currency"):
            event["currency"] = str(row["currency"]).upper()
        return event

    def idempotency_key(self, item: dict[str, Any]) -> str | None:
        return item.get("transactionId")

    stream_types = frozenset({"track"})

    def stream_item(self, view: Any) -> dict[str, Any]:
        """A tracked conversion (filter the stream to its events, e.g. Order Completed): the order id
        (else the messageId) is the transactionId Google deduplicates on; gclid from properties."""
        row = {"transaction_id": view.order_id or view.message_id, "event_time": view.timestamp,
               "value": view.revenue, "currency": view.currency, "email": view.email, "phone": view.phone,
               **{key: view.properties.get(key) for key in ("gclid", "gbraid", "wbraid")}}
        return self.prepare(row, "upsert")

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        return HttpRequest("POST", f"{self.base_url}/v1/events:ingest",
                           body={"destinations": [self.destination_body()], "events": batch.items, "encoding": "HEX"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
