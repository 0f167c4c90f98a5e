"""The three cloud-source emulators together, for the demo and `headwater emulators`.

Each emulator serves a synthetic world's vendor records with the vendor's documented
rules; `source_entries` gives the `sources` config entries that point Headwater at them,
with the emulators' own credentials, so the demo pulls exactly as it would from the
real APIs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from headwater.import_target import import_target
from headwater.loopback import LoopbackServer, LoopbackServers, free_port


@dataclass(frozen=True)
class EmulatorSpec:
    vendor: str
    create_app: str          # "module:function(world_dir) -> ASGI app"
    url_suffix: str          # appended to the server URL to form the source's base_url
    credential_key: str      # the source config key holding the credential
    credential: str          # what the emulator accepts
    options: tuple = ()      # keyword arguments for create_app, as (name, value) pairs


EMULATORS = (
    # a Shopify Plus store (1000 points/s, shopify.dev "GraphQL Admin API rate limits"): the
    # demo pulls in seconds, while the emulator still charges and reports query cost
    EmulatorSpec("shopify", "sources.shopify.emulator:create_app", "", "access_token", "shpat_emulator",
                 (("restore_rate", 1000.0), ("bucket_size", 20000.0))),
    EmulatorSpec("stripe", "sources.stripe.emulator:create_app", "", "api_key", "rk_test_headwater_emulator"),
    EmulatorSpec("mailchimp", "sources.mailchimp.emulator:create_app", "/3.0", "api_key",
                 "0123456789abcdef0123456789abcdef-us21"),
)


def emulator_app(spec: EmulatorSpec, world_dir: Path | None):
    return import_target(spec.create_app)(world_dir, **dict(spec.options))


class Emulators(LoopbackServers):
    """The emulators on chosen (or free) loopback ports: `with Emulators(world) as e: e.source_entries()`."""

    def __init__(self, world_dir: Path | None, host: str = "127.0.0.1", ports: dict[str, int] | None = None):
        super().__init__()
        self.world_dir, self.host = world_dir, host
        self.ports = ports or {spec.vendor: free_port(host) for spec in EMULATORS}

    def base_url(self, spec: EmulatorSpec) -> str:
        return f"http://{self.host}:{self.ports[spec.vendor]}{spec.url_suffix}"

    def source_entries(self) -> list[dict]:
        """`sources` entries named after their vendor, pointing at these emulators."""
        return [{"name": spec.vendor, "type": spec.vendor, "base_url": self.base_url(spec),
                 spec.credential_key: spec.credential} for spec in EMULATORS]

    def planned(self) -> Iterator[tuple[str, LoopbackServer]]:
        for spec in EMULATORS:
            app = emulator_app(spec, self.world_dir)
            yield spec.vendor, LoopbackServer(app, host=self.host, port=self.ports[spec.vendor])
