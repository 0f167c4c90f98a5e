"""Every destination type Headwater supports, served by its local emulator, with a demo sync each.

Why one table of entries: the demo promises "at least one sync for every destination", and
a test checks that against `destinations.registry.DESTINATION_TYPES`; a new destination
type is one more row here. The credentials are the emulators' own (they are not secrets),
and every emulator still enforces its vendor's auth, limits and payload rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from headwater.import_target import import_target
from headwater.loopback import LoopbackServer, LoopbackServers

CONVERSIONS = {"model": "cdp.conversions"}


@dataclass(frozen=True)
class DemoDestination:
    type: str
    emulator: str                   # vendor key in EMULATOR_APPS
    source: dict[str, str]          # the sync's source: an audience or a model
    credentials: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    url_suffix: str = ""
    mode: str = "upsert"


# vendor -> "module:create_app" (called with no arguments: the emulators' documented defaults)
EMULATOR_APPS = {vendor: f"destinations.emulators.{vendor}:create_app" for vendor in (
    "meta", "google", "tiktok", "webhook", "slack", "mixpanel", "amplitude", "ga4", "mailchimp", "klaviyo")}

GOOGLE_CREDENTIALS = {"client_id": "client-id", "client_secret": "client-secret", "refresh_token": "refresh-token"}

DEMO_DESTINATIONS: tuple[DemoDestination, ...] = (
    DemoDestination("meta_conversions", "meta", CONVERSIONS, {"access_token": "meta-test-token"}, {"pixel_id": "1234"}),
    DemoDestination("meta_audience", "meta", {"audience": "high_value"}, {"access_token": "meta-test-token"},
                    {"audience_id": "6001"}, mode="mirror"),
    DemoDestination("google_conversions", "google", CONVERSIONS, GOOGLE_CREDENTIALS,
                    {"operating_account_id": "1234567890", "product_destination_id": "555"}),
    DemoDestination("google_customer_match", "google", {"audience": "purchasers"}, GOOGLE_CREDENTIALS,
                    {"operating_account_id": "1234567890", "product_destination_id": "556"}, mode="mirror"),
    DemoDestination("tiktok_events", "tiktok", CONVERSIONS, {"access_token": "tiktok-test-token"},
                    {"pixel_code": "CPIXEL"}),
    DemoDestination("tiktok_audience", "tiktok", {"audience": "cart_abandoners"}, {"access_token": "tiktok-test-token"},
                    {"advertiser_id": "7001", "audience_id": "aud-1"}, mode="mirror"),
    DemoDestination("webhook", "webhook", {"audience": "lapsed_customers"}, {"signing_secret": "webhook-secret"},
                    {"path": "/headwater"}, mode="mirror"),
    DemoDestination("slack", "slack", {"audience": "high_value"},
                    {"webhook_url": "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"}, mode="mirror"),
    DemoDestination("mixpanel_events", "mixpanel", CONVERSIONS, {"api_secret": "mp-api-secret-0123456789"}),
    DemoDestination("mixpanel_profiles", "mixpanel", {"audience": "high_value"},
                    {"project_token": "mp-token-0123456789abcdef"}, mode="mirror"),
    DemoDestination("amplitude_events", "amplitude", CONVERSIONS, {"api_key": "amp-0123456789abcdef0123456789abcdef"}),
    DemoDestination("amplitude_identify", "amplitude", {"audience": "lapsed_customers"},
                    {"api_key": "amp-0123456789abcdef0123456789abcdef"}, mode="mirror"),
    DemoDestination("ga4_events", "ga4", CONVERSIONS, {"api_secret": "ga4-secret-0123456789"},
                    {"measurement_id": "G-HEADWATER1"}),
    DemoDestination("mailchimp_audience", "mailchimp", {"audience": "newsletter_subscribers"},
                    {"api_key": "fedcba9876543210fedcba9876543210-us21"}, {"list_id": "a1b2c3d4e5"},
                    url_suffix="/3.0", mode="mirror"),
    DemoDestination("klaviyo_list", "klaviyo", {"audience": "newsletter_subscribers"},
                    {"api_key": "pk_0123456789abcdef0123456789abcdef01"}, {"list_id": "Y6nRLr"}, mode="mirror"),
    DemoDestination("klaviyo_events", "klaviyo", CONVERSIONS, {"api_key": "pk_0123456789abcdef0123456789abcdef01"}),
)


# event streams and a workflow over the replayed events (destinations by their demo names)
DEMO_STREAMS = (
    {"name": "events_to_mixpanel", "destination": "mixpanel_events", "filter": {"types": ["track", "page", "screen"]}},
    {"name": "tracks_to_amplitude", "destination": "amplitude_events", "filter": {"types": ["track"]},
     "drop_properties": ["coupon"]},
    {"name": "signups_to_slack", "destination": "slack", "filter": {"types": ["track"], "events": ["Newsletter Subscribed"]},
     "settings": {"text": "New newsletter subscriber: {email|user_id}"}},
)
DEMO_WORKFLOWS = (
    {"name": "big_purchase_alert",
     "trigger": {"event": {"types": ["track"], "events": ["Order Completed"],
                           "where": [{"property": "revenue", "op": ">=", "value": 1500}]}},
     "actions": [{"destination": "slack", "settings": {"text": "Big order: {revenue} {currency} by {email|user_id}"}},
                 {"destination": "mailchimp_audience", "settings": {"tag": "vip_buyer"}}]},
)


def sync_name(entry: DemoDestination) -> str:
    what = entry.source.get("audience") or "conversions"
    return f"{what}_to_{entry.type}"


class DestinationEmulators(LoopbackServers):
    """The destination emulators on free loopback ports: `with DestinationEmulators() as d: d.config_sections()`."""

    def planned(self) -> Iterator[tuple[str, LoopbackServer]]:
        for vendor, target in EMULATOR_APPS.items():
            yield vendor, LoopbackServer(import_target(target)())

    def config_sections(self) -> dict[str, list[dict]]:
        return destination_sections({vendor: server.url for vendor, server in self.servers.items()})


def destination_sections(urls: dict[str, str]) -> dict[str, list[dict]]:
    """The `destinations` and `syncs` sections, one destination and one sync per type, for
    emulators at `urls` (vendor -> base URL)."""
    destinations, syncs = [], []
    for entry in DEMO_DESTINATIONS:
        server = urls[entry.emulator]
        settings = {**entry.settings, **({"token_url": server + "/token"} if entry.emulator == "google" else {})}
        destinations.append({"name": entry.type, "type": entry.type, "base_url": server + entry.url_suffix,
                             "credentials": dict(entry.credentials), "settings": settings,
                             # the emulator takes alerts faster than Slack's one a second
                             **({"requests_per_second": 50} if entry.type == "slack" else {})})
        syncs.append({"name": sync_name(entry), "source": dict(entry.source), "destination": entry.type,
                      "mode": entry.mode})
    return {"destinations": destinations, "syncs": syncs, "streams": [dict(s) for s in DEMO_STREAMS],
            "workflows": [dict(w) for w in DEMO_WORKFLOWS]}
