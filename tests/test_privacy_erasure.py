"""Issue 18's regression: a person seen through every source and identifier spelling is deleted,
the spool is loaded and the models are built again, and nothing of theirs is anywhere: no column of
any table, no file under the data folder (gz opened), no dlt package. A bystander stays whole.

The search is independent of the erasure's own rules: every table read whole as text, every
file read as bytes.
"""

from __future__ import annotations

import gzip
import time
from pathlib import Path

from headwater.config import parse_config
from headwater.loopback import LoopbackServer
from models.build import BuildContext, build_models
from pipelines.cloud_sources import run_sources
from pipelines.privacy.regulations import submit
from pipelines.spool_loader import load_spool
from sources.stripe.emulator import DEFAULT_API_KEY as STRIPE_KEY
from sources.stripe.emulator import StripeEmulator
from sources.stripe.emulator import create_app as stripe_app
from tests.conversions_world import load
from tests.privacy_world import text_of_every_table
from tests.privacy_world import make_world

ANN_ID, ANN_ANON, ANN_APP, ANN_ALIAS = "u-holdout-77", "anon-holdout-web-1", "anon-holdout-app-2", "anon-holdout-old-3"
ANN_EMAILS = (" Ann.Holdout@Example.ORG ", "ann.holdout@example.org", "ANN.HOLDOUT@EXAMPLE.ORG")
ANN_PHONES = ("(415) 555-0177", "+1 415-555-0177", "415.555.0177")
BOB_ID, BOB_EMAIL = "u-bystander-88", "bob.bystander@example.net"
# what must be gone everywhere (compared lowercased); the order id is shared by Shopify and Stripe
ANN_TRACES = (ANN_ID, ANN_ANON, ANN_APP, ANN_ALIAS, "ann.holdout@example.org", "4155550177", "415) 555-0177",
              "415-555-0177", "415.555.0177", "cus_holdout77", "ch_holdout77", "re_holdout77", "cs_holdout77",
              "sub_holdout77", "in_holdout77", "9077001", "holdout ann")


def ann_events() -> list[dict]:
    identify = [{"type": "identify", "userId": ANN_ID, "anonymousId": ANN_ANON,
                 "traits": {"email": email, "phone": phone, "name": "Holdout Ann"}}
                for email, phone in zip(ANN_EMAILS, ANN_PHONES)]
    return identify + [
        {"type": "alias", "previousId": ANN_ALIAS, "userId": ANN_ID},
        {"type": "page", "anonymousId": ANN_ANON, "name": "Home",
         "context": {"page": {"url": "https://shop.example/?utm_source=news&gclid=G-ann"}}},
        {"type": "track", "event": "Order Completed", "userId": ANN_ID,
         "properties": {"order_id": "9077001", "revenue": 42.5, "currency": "USD", "email": ANN_EMAILS[0]}},
    ]


def app_events() -> list[dict]:
    return [{"type": "identify", "userId": ANN_ID, "anonymousId": ANN_APP, "traits": {"email": ANN_EMAILS[1]}},
            {"type": "screen", "anonymousId": ANN_APP, "name": "Cart"},
            {"type": "identify", "userId": BOB_ID, "anonymousId": "anon-bob-app", "traits": {"email": BOB_EMAIL}}]


def bob_events() -> list[dict]:
    return [{"type": "identify", "userId": BOB_ID, "anonymousId": "anon-bob-web", "traits": {"email": BOB_EMAIL}},
            {"type": "track", "event": "Order Completed", "userId": BOB_ID,
             "properties": {"order_id": "9088002", "revenue": 10, "currency": "USD"}}]


def stripe_records(now: int) -> list[dict]:
    def person(tag: str, email: str, order: str, created: int) -> list[dict]:
        customer = f"cus_{tag}"
        return [
            {"id": customer, "object": "customer", "created": created, "email": email, "name": f"{tag} name",
             "phone": ANN_PHONES[1] if "holdout" in tag else None},
            {"id": f"ch_{tag}", "object": "charge", "created": created + 1, "customer": customer, "amount": 4250,
             "currency": "usd", "paid": True, "status": "succeeded", "metadata": {"order_id": order},
             "billing_details": {"email": email, "name": f"{tag} name"}},
            {"id": f"re_{tag}", "object": "refund", "created": created + 2, "charge": f"ch_{tag}", "amount": 100},
            {"id": f"cs_{tag}", "object": "checkout.session", "created": created + 3, "customer": customer,
             "customer_details": {"email": email}, "amount_total": 4250, "currency": "usd", "status": "complete",
             "payment_status": "paid"},
            {"id": f"sub_{tag}", "object": "subscription", "created": created + 4, "customer": customer,
             "status": "active"},
            {"id": f"in_{tag}", "object": "invoice", "created": created + 5, "customer": customer,
             "customer_email": email, "amount_paid": 900, "currency": "usd"},
        ]
    return person("holdout77", ANN_EMAILS[2], "9077001", now - 500) + person("bystander88", BOB_EMAIL, "9088002", now - 400)


def shopify_rows() -> dict[str, list[dict]]:
    from tests.conversions_world import days_ago
    return {
        "customers": [{"id": 7707, "email": ANN_EMAILS[0].strip(), "phone": "+14155550177", "first_name": "Holdout",
                       "updated_at": days_ago(3)},
                      {"id": 8808, "email": BOB_EMAIL, "first_name": "Bob", "updated_at": days_ago(3)}],
        "orders": [{"id": 9077001, "email": ANN_EMAILS[1], "customer__id": 7707, "total_price": 42.5, "currency": "usd",
                    "processed_at": days_ago(2), "billing_address__phone": ANN_PHONES[2]},
                   {"id": 9088002, "email": BOB_EMAIL, "customer__id": 8808, "total_price": 10.0, "currency": "usd",
                    "processed_at": days_ago(2)}],
    }


def files_holding(root: Path, traces: tuple[str, ...]) -> dict[str, str]:
    """file -> the first trace its bytes (gunzipped when gzip) contain."""
    hits = {}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError):
                pass
        text = data.decode("utf-8", "replace").lower()
        for trace in traces:
            if trace in text:
                hits[str(path.relative_to(root))] = trace
                break
    return hits


def table_leaks(warehouse) -> dict[str, str]:
    return {table: trace for table, text in text_of_every_table(warehouse).items()
            for trace in ANN_TRACES if trace in text and not table.startswith("cdp.privacy")}


def bob_footprint(warehouse) -> dict[str, int]:
    return {table: text.count(BOB_ID) + text.count(BOB_EMAIL) + text.count("bystander88")
            for table, text in text_of_every_table(warehouse).items() if not table.startswith("cdp.privacy")}


def test_a_person_seen_everywhere_is_gone_after_delete_load_and_build(warehouse, tmp_path, private_dlt_dir):
    world = make_world(warehouse, tmp_path)
    stripe = StripeEmulator(stripe_records(int(time.time())))
    with world.servers, LoopbackServer(stripe_app(stripe)) as stripe_server:
        world.raw["destinations"], world.raw["syncs"] = [], []
        world.raw["sources"] = [{"name": "website", "type": "events", "write_key": "wk-privacy-website"},
                                {"name": "app", "type": "events", "write_key": "wk-privacy-app"},
                                {"name": "shop", "type": "shopify"},
                                {"name": "stripe", "type": "stripe", "api_key": STRIPE_KEY,
                                 "base_url": stripe_server.url}]
        world.config = config = parse_config(world.raw)
        assert world.post(ann_events() + bob_events()).status_code == 200
        import httpx
        from sources.collect.app import create_app
        with LoopbackServer(create_app(config)) as collect:
            assert httpx.post(f"{collect.url}/v1/batch", json={"batch": app_events()},
                              auth=("wk-privacy-app", "")).status_code == 200
        load_spool(config)
        for table, rows in shopify_rows().items():
            load(warehouse, "shop", table, rows)
        run_sources(config, ["stripe"])
        build_models(BuildContext(warehouse, config))
        dlt_folder = warehouse.dlt_working_dir()

        before = table_leaks(warehouse)
        assert {"cdp.conversions", "cdp.profile_identities", "cdp_staging.trait_values", "stripe.charges",
                "shop.orders", "app.identifies"} <= set(before), "the person must be everywhere first"
        bob_before = bob_footprint(warehouse)
        orders_before = {str(r["order_id"]) for r in warehouse.query("SELECT order_id FROM cdp.conversions")}
        assert "9077001" in orders_before and "9088002" in orders_before

        report = submit(config, "suppress_with_delete", [ANN_EMAILS[0]], requested_by="dpo")
        assert report.status == "succeeded", report.steps

        load_spool(config)
        build_models(BuildContext(warehouse, config))

        assert table_leaks(warehouse) == {}
        assert files_holding(tmp_path, ANN_TRACES) == {}
        assert files_holding(dlt_folder, ANN_TRACES) == {} if dlt_folder.exists() else True
        bob_after = bob_footprint(warehouse)
        assert {t: bob_after.get(t) for t, n in bob_before.items() if n} == {t: n for t, n in bob_before.items() if n}, \
            "the bystander is untouched in every table that held him"
        orders_after = {str(r["order_id"]) for r in warehouse.query("SELECT order_id FROM cdp.conversions")}
        assert orders_after == orders_before - {"9077001", "cs_holdout77"}, "her orders stay gone; his stay"
        assert all(r["profile_id"] is not None for r in warehouse.query("SELECT profile_id FROM cdp.attribution"))


def test_every_model_keeping_a_raw_row_id_names_its_source_so_erasure_finds_it():
    """The contract a model author keeps (pipelines/privacy/matching.py, rule 6): a model that
    carries a raw row's id carries the row's source beside it, or a deletion cannot follow it."""
    from models.catalog import catalog

    missing = [f"{model.schema}.{model.name}" for model in catalog()
               if "row_id" in model.columns and "source" not in model.columns]
    assert missing == [], f"models with row_id but no source column: {missing}"
    keeping = [f"{model.schema}.{model.name}" for model in catalog() if "row_id" in model.columns]
    assert "cdp_staging.purchase_observations" in keeping and "cdp_staging.page_views" in keeping
