"""A small world for the audience tests: four people, their events, and a hand-made cdp.profiles.

cdp.profiles is written by hand with the documented columns (rfm_segment, consent_email,
lifetime_revenue, ...) so these tests check the audience compiler, not the profile models;
the builds here run every model except the profiles layer, which would replace it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from headwater.config import HeadwaterConfig
from headwater.warehouse import Warehouse
from models.adapter import Engine
from models.build import BuildContext, build_models
from models.catalog import catalog
from tests.conversions_world import NOW, config, days_ago, event, load, profile_of, track

PEOPLE = ("ann", "bob", "cy", "dee")
PROFILE_COLUMNS = {"profile_id": "VARCHAR", "email": "VARCHAR", "lifetime_revenue": "DOUBLE",
                   "rfm_segment": "VARCHAR", "consent_email": "BOOLEAN", "country": "VARCHAR"}
TRAITS = {  # email, lifetime_revenue, rfm_segment, consent_email, country
    "ann": ("ann@example.org", 0.0, None, True, "GB"),
    "bob": ("bob@example.org", 640.0, "Champions", False, "US"),
    "cy": ("cy@example.org", 120.0, "Loyal", None, "US"),
    "dee": ("dee@example.org", 80.0, "Hibernating", True, "FR"),
}


def build_except_profiles(warehouse: Warehouse, cfg: HeadwaterConfig, as_of: datetime = NOW, **options) -> None:
    models = [model for model in catalog() if model.layer != "profiles"]
    build_models(BuildContext(warehouse, cfg, as_of=as_of, **options), models)


def write_profiles(warehouse: Warehouse, traits: dict[str, tuple] = TRAITS) -> None:
    with warehouse.connect() as connection:
        engine = Engine(connection, warehouse.dialect)
        engine.ensure_schema("cdp")
        engine.create_table('"cdp"."profiles"', PROFILE_COLUMNS)
        rows = [(profile_of(warehouse, "user_id", f"u-{person}"), *values) for person, values in traits.items()]
        engine.insert_rows('"cdp"."profiles"', list(PROFILE_COLUMNS), rows)
        engine.commit()


def people_world(warehouse: Warehouse) -> None:
    """ann abandons a cart; bob orders within an hour of his checkout; cy's checkout is only
    10 hours old; dee last ordered 200 days ago. Product views carry a category property."""
    load(warehouse, "web", "identifies", [event(days_ago(400), user_id=f"u-{p}", email=f"{p}@example.org")
                                          for p in PEOPLE])
    track(warehouse, "web", "Checkout Started", days_ago(3), user_id="u-ann", checkout_id="c1", value=50.0)
    track(warehouse, "web", "Checkout Started", days_ago(2), user_id="u-bob", checkout_id="c2", value=640.0)
    track(warehouse, "web", "Order Completed", days_ago(2) + timedelta(hours=1), user_id="u-bob", order_id="o-bob",
          total=640.0, currency="USD")
    track(warehouse, "web", "Checkout Started", NOW - timedelta(hours=10), user_id="u-cy", checkout_id="c3")
    track(warehouse, "web", "Order Completed", days_ago(200), user_id="u-dee", order_id="o-dee", total=80.0,
          currency="EUR")
    for when, person, category in ((days_ago(1), "ann", "Ticket"), (days_ago(2), "ann", "Ticket"),
                                   (days_ago(3), "ann", "Merch"), (days_ago(50), "cy", "Ticket"),
                                   (days_ago(1), "dee", "Merch")):
        track(warehouse, "web", "Product Viewed", when, user_id=f"u-{person}", category=category)


def members(warehouse: Warehouse, audience: str) -> set[str]:
    """The people (ann, bob, ...) in an audience."""
    by_profile = {profile_of(warehouse, "user_id", f"u-{p}"): p for p in PEOPLE}
    rows = warehouse.query("SELECT profile_id FROM cdp.audience_members WHERE audience = %s", [audience])
    return {by_profile.get(row["profile_id"], row["profile_id"]) for row in rows}


def built_world(warehouse: Warehouse, audiences: list[dict] | None = None) -> HeadwaterConfig:
    cfg = config(audiences=audiences or [])
    people_world(warehouse)
    build_except_profiles(warehouse, config())   # identities first: cdp.profiles is keyed by their ids
    write_profiles(warehouse)
    build_except_profiles(warehouse, cfg)
    return cfg
