"""Slack: audience size changes and conversion summaries through an incoming webhook.

One message per action and run, never one per row: "vip: 12 joined, now 340 members" or
"25 conversions worth 1,234.00 USD". The webhook URL is the credential (whoever holds it
can post), so it is redacted like any secret. Slack answers plain text: `ok`, or an error
word such as `invalid_payload`, `no_text`, `invalid_token`, `no_service`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, Field, ConfigDict, SecretStr

from destinations.event_fields import render_template
from destinations.base import (Batch, CredentialProblem, Destination, DestinationSettings, HttpRequest, Outcome,
                               RunContext, retry_after)


class SlackCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    webhook_url: SecretStr


class SlackSettings(DestinationSettings):
    title: str | None = None
    text: str = Field("{name} by {email|user_id|anonymous_id}",
                      description="an event stream's message: {field} of the event, {a|b} the first one set")


class Slack(Destination):
    type_name = "slack"
    vendor = "slack"
    consent_category = "none"   # counts and sums only, no personal data
    default_base_url = "https://hooks.slack.com"
    batch_size = 1_000_000      # a summary covers the whole diff
    requests_per_second = 1.0   # Slack allows about one message a second per webhook
    concurrency = 1
    supports_remove = True
    open_mapping = True
    Credentials = SlackCredentials
    Settings = SlackSettings
    emulator = "destinations.emulators.slack:create_app"

    def url(self) -> str:
        """The webhook URL, re-hosted on base_url when one is configured (emulators, proxies)."""
        parts = urlsplit(self.credentials.webhook_url.get_secret_value())
        return self.base_url + parts.path

    def secrets(self) -> list[str]:
        """The whole URL and its path: the path alone is enough to post to the channel."""
        path = urlsplit(self.credentials.webhook_url.get_secret_value()).path
        return super().secrets() + ([path] if len(path) > len("/services/") else [])

    def prepare(self, row: dict[str, Any], action: str) -> dict[str, Any]:
        return {"value": row.get("value"), "currency": row.get("currency")}

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        title = self.settings.title or context.source
        count = len(batch)
        totals: dict[str, float] = defaultdict(float)
        for item in batch.items:
            if item.get("value") is not None:
                totals[str(item.get("currency") or "").upper()] += float(item["value"])
        if context.source.startswith("audience"):
            verb = "joined or changed" if batch.action == "upsert" else "left"
            text = f"{title}: {count} {verb}, now {context.total_rows} members (sync {context.sync_name})"
        else:
            worth = ", ".join(f"{amount:,.2f} {currency}".strip() for currency, amount in sorted(totals.items()))
            noun = "new or changed rows" if batch.action == "upsert" else "rows removed"
            text = f"{title}: {count} {noun}" + (f" worth {worth}" if worth else "") + f" (sync {context.sync_name})"
        return HttpRequest("POST", self.url(), body={"text": text})

    stream_types = frozenset({"track", "page", "screen", "identify", "group", "alias"})

    def stream_item(self, view: Any) -> dict[str, Any]:
        return {"text": render_template(self.settings.text, view.fields())}

    def stream_batch_size(self) -> int:
        return 1

    def stream_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        """One alert per event: the forwarder sends Slack batches of one."""
        text = "\n".join(item["text"] for item in batch.items)
        return HttpRequest("POST", self.url(), body={"text": text})

    def parse_response(self, response: httpx.Response, batch: Batch) -> Outcome:
        text = response.text.strip()
        if response.status_code == 200 and text == "ok":
            return Outcome("ok")
        if response.status_code == 429 or response.status_code >= 500:
            return Outcome("retry", text or str(response.status_code), "Slack is throttling or unavailable",
                           retry_after(response))
        if response.status_code in (403, 404, 410):
            return Outcome("fatal", text, "the Slack webhook URL is revoked or wrong: create a new incoming webhook")
        return Outcome("reject", text or str(response.status_code), f"Slack refused the message: {text}")

    async def check_credentials(self, client: httpx.AsyncClient) -> str:
        # An empty payload posts nothing: a live webhook answers 400 no_text, a dead one 403/404.
        response = await client.post(self.url(), json={})
        text = response.text.strip()
        if response.status_code == 400 and text in ("no_text", "invalid_payload"):
            return "the incoming webhook exists (Slack answered no_text to an empty message; nothing was posted)"
        raise CredentialProblem(f"Slack answered {response.status_code} {text!r}: the webhook URL is revoked or wrong; "
                                f"create a new incoming webhook and set credentials.webhook_url")
