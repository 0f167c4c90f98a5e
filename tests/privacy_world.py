"""One person (Ann) and one bystander (Bob) in every layer: collect, spool, raw tables, graph, syncs.

Events go through the real collect endpoint and loader; Stripe rows are raw tables in dlt's
layout (with a child table and a refund that references a charge); identity is built by the
real models; cdp.profiles and an audience are the sync fixtures' shape, synced to the Meta
and TikTok audience emulators in mirror mode.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from destinations.delivery import VirtualTime
from destinations.emulators.kit import DestinationControl
from destinations.emulators.meta import create_app as meta_app
from destinations.emulators.tiktok import create_app as tiktok_app
from destinations.engine import run_sync
from headwater.config import HeadwaterConfig, parse_config
from headwater.loopback import LoopbackServer
from headwater.warehouse import Warehouse
from pipelines.spool_loader import load_spool
from sources.collect.app import create_app
from tests.identity_world import build, load_raw
from tests.sync_fixtures import create_cdp, profile

WRITE_KEY = "wk-privacy-website"
META_TOKEN = "meta-privacy-token-1"
TIKTOK_TOKEN = "tiktok-privacy-token-1"
ADMIN_TOKEN = "admin-token-privacy-123"

ANN = {"user_id": "u-ann-0001", "anonymous_id": "anon-ann-device-1", "email": " Ann.Lee@Example.org ",
       "phone": "(650) 555-0142", "stripe": "cus_AnnLee0001"}
BOB = {"user_id": "u-bob-0002", "anonymous_id": "anon-bob-device-2", "email": "bob@example.net",
       "stripe": "cus_BobRay0002"}
# values that must be gone from every table and spool file after Ann's deletion
ANN_TRACES = ("u-ann-0001", "anon-ann-device-1", "ann.lee@example.org", "cus_AnnLee0001", "ch_ann_0001",
              "re_ann_0001", "6505550142")


def events_for(person: dict, tag: str) -> list[dict]:
    return [
        {"type": "identify", "userId": person["user_id"], "anonymousId": person["anonymous_id"],
         "traits": {"email": person["email"], **({"phone": person["phone"]} if "phone" in person else {})}},
        {"type": "track", "event": "Order Completed", "userId": person["user_id"],
         "properties": {"revenue": 20, "tag": tag}},
        {"type": "page", "anonymousId": person["anonymous_id"], "name": "Home"},
    ]


@dataclass
class World:
    config: HeadwaterConfig
    raw: dict
    spool_dir: Path
    meta: DestinationControl = field(default_factory=DestinationControl)
    tiktok: DestinationControl = field(default_factory=DestinationControl)
    servers: ExitStack = field(default_factory=ExitStack)

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.config.warehouse)

    def post(self, messages: list[dict]) -> httpx.Response:
        with LoopbackServer(create_app(self.config)) as server:
            return httpx.post(f"{server.url}/v1/batch", json={"batch": messages}, auth=(WRITE_KEY, ""))

    def sync(self, name: str):
        return run_sync(self.config, name, timing=VirtualTime())


def make_world(warehouse: Warehouse, tmp_path: Path, **privacy) -> World:
    world = World(None, {}, tmp_path / "spool")  # type: ignore[arg-type]
    meta = world.servers.enter_context(LoopbackServer(meta_app(access_token=META_TOKEN, control=world.meta)))
    tiktok = world.servers.enter_context(LoopbackServer(tiktok_app(access_token=TIKTOK_TOKEN, control=world.tiktok)))
    world.raw = {
        "warehouse": warehouse.url,
        "collect": {"spool_dir": str(world.spool_dir), "rotate_seconds": 3600, "archive": True},
        "sources": [{"name": "website", "type": "events", "write_key": WRITE_KEY},
                    {"name": "stripe", "type": "stripe"}],
        "privacy": {"suppression_file": str(tmp_path / "suppressed.txt"), "admin_token": ADMIN_TOKEN, **privacy},
        "destinations": [
            {"name": "meta", "type": "meta_audience", "base_url": meta.url,
             "credentials": {"access_token": META_TOKEN}, "settings": {"audience_id": "6001"}},
            {"name": "tiktok", "type": "tiktok_audience", "base_url": tiktok.url,
             "credentials": {"access_token": TIKTOK_TOKEN}, "settings": {"advertiser_id": "7001", "audience_id": "8001"}},
        ],
        "syncs": [
            {"name": "vip_meta", "source": {"audience": "vip"}, "destination": "meta", "mode": "mirror"},
            {"name": "vip_tiktok", "source": {"audience": "vip"}, "destination": "tiktok", "mode": "mirror"},
        ],
    }
    world.config = parse_config(world.raw)
    return world


def populate(world: World) -> dict[str, str]:
    """Everything in place; returns profile ids by person name."""
    assert world.post(events_for(ANN, "a") + events_for(BOB, "b")).status_code == 200
    load_spool(world.config)
    warehouse = world.warehouse
    load_raw(warehouse, "stripe", "customers", [
        {"id": ANN["stripe"], "email": "ann.lee@example.org", "name": "Ann Lee", "_dlt_id": "dlt-ann-c"},
        {"id": BOB["stripe"], "email": BOB["email"], "name": "Bob Ray", "_dlt_id": "dlt-bob-c"}])
    load_raw(warehouse, "stripe", "charges", [
        {"id": "ch_ann_0001", "customer": ANN["stripe"], "amount": "2000", "_dlt_id": "dlt-ann-ch"},
        {"id": "ch_bob_0002", "customer": BOB["stripe"], "amount": "900", "_dlt_id": "dlt-bob-ch"}])
    load_raw(warehouse, "stripe", "charges__refunds", [
        {"_dlt_id": "dlt-ann-ch-r", "_dlt_root_id": "dlt-ann-ch", "_dlt_parent_id": "dlt-ann-ch", "amount": "5"},
        {"_dlt_id": "dlt-bob-ch-r", "_dlt_root_id": "dlt-bob-ch", "_dlt_parent_id": "dlt-bob-ch", "amount": "7"}])
    load_raw(warehouse, "stripe", "refunds", [
        {"id": "re_ann_0001", "charge": "ch_ann_0001", "amount": "5"},
        {"id": "re_bob_0002", "charge": "ch_bob_0002", "amount": "7"}])
    build(warehouse, world.config)
    ids = {name: warehouse.query("SELECT profile_id FROM cdp.profile_identities WHERE id_type = 'user_id' "
                                 "AND id_value = %s", [person["user_id"]])[0]["profile_id"]
           for name, person in (("ann", ANN), ("bob", BOB))}
    create_cdp(warehouse, [profile(1, profile_id=ids["ann"], email=ANN["email"], phone=ANN["phone"]),
                           profile(2, profile_id=ids["bob"], email=BOB["email"])],
               [("vip", ids["ann"]), ("vip", ids["bob"])])
    for name in ("vip_meta", "vip_tiktok"):
        assert world.sync(name).status == "succeeded"
    return ids


def text_of_every_table(warehouse: Warehouse) -> dict[str, str]:
    """Each table's whole content as lowercase text: an independent check, no matching rules."""
    tables = warehouse.query("SELECT table_schema, table_name FROM information_schema.tables "
                             "WHERE table_schema NOT IN ('information_schema', 'pg_catalog') "
                             "AND table_schema NOT LIKE 'pg_%%' AND table_type = 'BASE TABLE'")
    texts = {}
    for table in tables:
        name = f'"{table["table_schema"]}"."{table["table_name"]}"'
        rows = warehouse.query(f"SELECT * FROM {name}")
        texts[f"{table['table_schema']}.{table['table_name']}"] = " ".join(
            str(value) for row in rows for value in row.values()).lower()
    return texts
