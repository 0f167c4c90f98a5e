"""Helpers for event-stream tests: emulators on loopback, a config, events written to the spool."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from destinations.emulators import amplitude, mailchimp, mixpanel, slack, webhook
from headwater.config import HeadwaterConfig, parse_config
from headwater.loopback import LoopbackServers
from sources.collect import spool

SLACK_PATH = "/services/T000/B000/streamsecretpath"


class StreamEmulators(LoopbackServers):
    """Mixpanel, Amplitude, Slack, a webhook receiver and Mailchimp, each with its state."""

    def __init__(self) -> None:
        self.mixpanel = mixpanel.MixpanelState()
        self.amplitude = amplitude.AmplitudeState()
        self.mailchimp = mailchimp.MailchimpState()
        self.slack_app = slack.create_app(SLACK_PATH)
        self.webhook_app = webhook.create_app("hook-signing-secret")
        super().__init__({"mixpanel": mixpanel.create_app(self.mixpanel), "amplitude": amplitude.create_app(self.amplitude),
                          "slack": self.slack_app, "webhook": self.webhook_app,
                          "mailchimp": mailchimp.create_app(self.mailchimp)})

    def url(self, name: str) -> str:
        return self.servers[name].url

    @property
    def slack(self):
        return self.slack_app.state.control

    def destinations(self) -> list[dict[str, Any]]:
        return [
            {"name": "mixpanel", "type": "mixpanel_events", "base_url": self.url("mixpanel"),
             "credentials": {"service_account_username": mixpanel.SERVICE_ACCOUNT[0],
                             "service_account_secret": mixpanel.SERVICE_ACCOUNT[1], "project_id": mixpanel.PROJECT_ID}},
            {"name": "amplitude", "type": "amplitude_events", "base_url": self.url("amplitude"),
             "credentials": {"api_key": amplitude.API_KEY}},
            {"name": "alerts", "type": "slack", "base_url": self.url("slack"),
             "credentials": {"webhook_url": f"https://hooks.slack.com{SLACK_PATH}"}},
            {"name": "hook", "type": "webhook", "base_url": self.url("webhook"),
             "credentials": {"signing_secret": "hook-signing-secret"}},
            {"name": "newsletter", "type": "mailchimp_audience", "base_url": self.url("mailchimp") + "/3.0",
             "credentials": {"api_key": mailchimp.API_KEY}, "settings": {"list_id": mailchimp.LIST_ID, "tag": None}},
        ]


def stream_config(tmp_path: Path, emulators: StreamEmulators, streams: list[dict], workflows: list[dict] | None = None,
                  warehouse: str | None = None, **extra: Any) -> HeadwaterConfig:
    raw = {"warehouse": warehouse or f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
           "collect": {"spool_dir": str(tmp_path / "spool")},
           "privacy": {"suppression_file": str(tmp_path / "suppressed.txt")},
           "sources": [{"name": "website", "type": "events", "write_key": "wk-website"},
                       {"name": "app", "type": "events", "write_key": "wk-app"}],
           "destinations": emulators.destinations(), "streams": streams, "workflows": workflows or [], **extra}
    return parse_config(raw)


def now_iso(minutes: float = 0) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).isoformat()


def track(n: int, event: str = "Order Completed", user: str | None = None, consent: bool | None = True,
          **properties: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "track", "event": event, "messageId": f"msg-{n:06d}",
                               "userId": user or f"user-{n % 17:03d}", "anonymousId": f"anon-{n % 17:03d}",
                               "timestamp": now_iso(), "receivedAt": now_iso(),
                               "properties": {"revenue": n, "currency": "USD", **properties}}
    if consent is not None:
        message["context"] = {"consent": {"categoryPreferences": {"analytics": consent, "email": consent,
                                                                   "advertising": consent}}}
    return message


class SpoolFeed:
    """Writes events to the spool as the collect endpoint does: one framed record per request."""

    def __init__(self, spool_dir: Path):
        self.writer = spool.SpoolWriter(spool_dir)

    def send(self, messages: list[dict], source: str = "website") -> None:
        self.writer.write(spool.encode({"source": source, "kind": "events", "received_at": now_iso(),
                                        "messages": messages}))
        self.writer.sync()

    def rotate(self) -> None:
        self.writer.rotate()


async def drain(runner, steps: int = 50) -> None:
    """Step a runner until it has nothing more to read."""
    async with runner:
        for _ in range(steps):
            report = await runner.step()
            await runner.idle()
            if not report.frames:
                return


def run(coroutine):
    return asyncio.run(coroutine)
