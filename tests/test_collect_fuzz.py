"""Property-based fuzzing of the collect door, against the real endpoint on loopback.

What must hold for any input (issue 17): no 5xx and no dropped connection; a 400 names the
field (or path) at fault; and every message answered 200 loads into its table, not into
`_quarantine`, once the loader has run. Seeded (`derandomize=True`) and bounded, so CI
sees the same inputs every run, in well under a minute.

Generated messages keep one rule a client must keep anyway: a property's type does not
change between messages (`num` is always a number, random `r...` keys always hold text),
because a column's type is fixed by its first value and a later clash is the loader's to
quarantine, with a reason (tests/test_load_column_names.py), not something the endpoint
can know. Everything else is free: unicode names, colliding names, empty and blank
values, any offset and any year, wrong types in every scalar field, broken bodies.
"""

from __future__ import annotations

import gzip
import json
import time
from datetime import datetime, timedelta, timezone
from itertools import count

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.config import parse_config
from headwater.loopback import LoopbackServer
from pipelines.segment_layout import TYPE_TABLES
from pipelines.spool_loader import load_spool
from sources.collect.app import create_app
from sources.shopify.webhooks import TOPICS as SHOPIFY_TOPICS
from sources.shopify.webhooks import signature as shopify_signature
from sources.stripe.webhooks import signature_for
from tests.collect_helpers import SHOPIFY_WEBHOOK_SECRET, STRIPE_WEBHOOK_SECRET, WRITE_KEYS, collect_config_dict

pytestmark = pytest.mark.timeout(120)

KEY = WRITE_KEYS["website"]
FUZZ = settings(derandomize=True, deadline=None, database=None, max_examples=60,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
_ids = count()

# --- strategies ------------------------------------------------------------------------

names = st.text(max_size=12)
texts = st.text(max_size=30)
scalars = st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False,
                                                                                 allow_infinity=False) | texts
any_json = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(names, inner, max_size=3), max_leaves=8)
# random keys always hold text (or lists/objects of it), so a column's type never changes
text_leaves = st.recursive(st.none() | texts, lambda inner: st.lists(inner, max_size=2)
                           | st.dictionaries(names.map(lambda name: "r" + name), inner, max_size=3), max_leaves=6)
text_objects = st.dictionaries(names.map(lambda name: "r" + name), text_leaves, max_size=5)


@st.composite
def times(draw) -> str:
    moment = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
    offset = draw(st.none() | st.integers(-14 * 60, 14 * 60))
    if offset is not None:
        moment = moment.replace(tzinfo=timezone(timedelta(minutes=offset)))
    return moment.isoformat()


@st.composite
def typed_payload(draw) -> dict:
    payload = draw(text_objects)
    if draw(st.booleans()):
        payload["num"] = draw(st.integers(-2**53, 2**53) | st.floats(-1e300, 1e300))
    if draw(st.booleans()):
        payload["flag"] = draw(st.booleans())
    return payload


# a few event names, colliding ones among them (each name is a table; keep the table count small)
EVENTS = ["Order Completed", "order_completed", "☃", "é", "Signed Up", "users", "_dlt_loads", "  padded  "]


@st.composite
def good_messages(draw) -> dict:
    kind = draw(st.sampled_from(sorted(TYPE_TABLES)))
    message: dict = {"type": kind, "messageId": f"fuzz-{next(_ids)}"}
    identity = st.text(min_size=1, max_size=20) | st.integers(-2**53, 2**53)
    for field in draw(st.sampled_from([("userId",), ("anonymousId",), ("userId", "anonymousId")])):
        message[field] = draw(identity)
    if kind == "track":
        message["event"] = draw(st.sampled_from(EVENTS) | st.text(min_size=1, max_size=8))
    elif kind == "alias":
        message["previousId"] = draw(identity)
    elif kind == "group":
        message["groupId"] = draw(identity)
    elif kind in ("page", "screen") and draw(st.booleans()):
        message["name"] = draw(texts)
    message["properties" if kind in ("track", "page", "screen") else "traits"] = draw(typed_payload())
    if draw(st.booleans()):
        message["context"] = draw(text_objects)
    for field in ("timestamp", "sentAt"):
        if draw(st.booleans()):
            message[field] = draw(times())
    if draw(st.booleans()):
        message["r" + draw(names)] = draw(texts)  # a top-level extra, like `channel`
    return message


# a value of every JSON type: each scalar field gets each in turn (a string field given an object, ...)
JSON_TYPES = {
    "object": st.dictionaries(names, texts, min_size=1, max_size=2), "empty object": st.just({}),
    "list": st.lists(texts, min_size=1, max_size=2), "empty list": st.just([]), "boolean": st.booleans(),
    "integer": st.integers(-2**63, 2**63 - 1), "float": st.floats(allow_nan=False, allow_infinity=False),
    "text": texts, "null": st.none(), "anything": any_json,
}
SCALAR_FIELDS = ["type", "userId", "anonymousId", "event", "previousId", "groupId", "name", "timestamp",
                 "sentAt", "originalTimestamp", "messageId", "integrations", "writeKey"]
CONTAINER_FIELDS = ["properties", "traits", "context"]
SCALAR_MUTATIONS = [(field, kind) for field in SCALAR_FIELDS for kind in JSON_TYPES]


@st.composite
def mutated_messages(draw) -> dict:
    message = draw(good_messages())
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            field, kind = draw(st.sampled_from(SCALAR_MUTATIONS))
            message[field] = draw(JSON_TYPES[kind])
        else:
            field = draw(st.sampled_from(CONTAINER_FIELDS))
            message[field] = draw(text_objects | scalars | st.lists(texts, max_size=2)
                                  | st.integers(1, 300).map(nested))
    if draw(st.booleans()):
        del message["messageId"]
    return message


def nested(depth: int) -> dict:
    value: dict = {"rleaf": "deep"}
    for _ in range(depth):
        value = {"r": value}
    return value


messages = st.one_of(good_messages(), mutated_messages())


def encode(value) -> bytes:
    """JSON as a client would send it; orjson stops at 254 levels, the json module goes on."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value).encode()


# --- the endpoint and what it answered ---------------------------------------------------

class Door:
    """The collect endpoint on loopback, and every messageId it acknowledged."""

    def __init__(self, tmp_path, warehouse):
        self.config = parse_config(collect_config_dict(tmp_path / "spool", warehouse.url, webhooks=True))
        self.warehouse = warehouse
        self.server = LoopbackServer(create_app(self.config)).start()
        self.client = httpx.Client(base_url=self.server.url, auth=(KEY, ""), timeout=30)
        self.acknowledged: set[str] = set()
        self.answered = 0

    def post(self, path: str, content: bytes, **headers) -> httpx.Response:
        response = self.client.post(path, content=content, headers={"Content-Type": "application/json", **headers})
        self.answered += 1
        assert response.status_code < 500, (path, content[:300], response.text)
        return response

    def send(self, path: str, sent: list, response: httpx.Response) -> None:
        """Check one Tracking API answer and remember the messageIds it acknowledged."""
        status, body = response.status_code, response.json()
        assert status in (200, 400, 413), body
        rejected = {item["index"]: item for item in body.get("rejected", [])}
        for item in rejected.values():
            assert item["field"] and item["field"] in item["reason"], item
        if status == 400 and not rejected:
            assert body.get("field"), body
        if status != 200:
            return
        for index, message in enumerate(sent):
            if index in rejected:
                continue
            message_id = message.get("messageId") if isinstance(message, dict) else None
            if isinstance(message_id, str) and message_id:
                self.acknowledged.add(message_id)

    def load_and_check(self) -> None:
        """Every acknowledged message is in its type table and nothing the loader saw is quarantined."""
        self.client.close()
        self.server.stop()
        load_spool(self.config)
        loaded: set[str] = set()
        for table in TYPE_TABLES.values():
            if self.warehouse.table_exists("website", table):
                loaded |= {row["id"] for row in self.warehouse.query(f'SELECT id FROM website."{table}"')}
        assert self.acknowledged and self.acknowledged <= loaded, sorted(self.acknowledged - loaded)[:5]
        if self.warehouse.table_exists("website", "_quarantine"):
            refused = self.warehouse.query(
                "SELECT reason, payload FROM website._quarantine WHERE rejected_by = 'load'")
            assert refused == [], refused[:3]
            empty = self.warehouse.query("SELECT count(*) AS n FROM website._quarantine WHERE trim(reason) = ''")
            assert empty[0]["n"] == 0


@pytest.fixture
def door(tmp_path, request):
    warehouse = request.getfixturevalue(getattr(request, "param", "duckdb_warehouse"))
    door = Door(tmp_path, warehouse)
    yield door
    door.client.close()
    door.server.stop()


@pytest.mark.parametrize("door", ["duckdb_warehouse", "postgres_warehouse"], indirect=True)
def test_random_and_mutated_calls_and_mixed_batches_either_load_or_name_the_field(door):
    @settings(FUZZ, max_examples=150)
    @given(st.lists(messages, min_size=1, max_size=6), st.booleans(), st.booleans())
    def calls(batch, as_batch, zipped):
        if as_batch:
            path, sent, body = "/v1/batch", batch, encode({"batch": batch})
        else:
            message = batch[0]
            kind = message.get("type") if isinstance(message.get("type"), str) else "track"
            path, sent, body = f"/v1/{kind if kind in TYPE_TABLES else 'track'}", [message], encode(message)
        headers = {"Content-Encoding": "gzip"} if zipped else {}
        door.send(path, sent, door.post(path, gzip.compress(body) if zipped else body, **headers))

    calls()
    door.load_and_check()


# one value of every JSON type, and the texts that are special somewhere (blank, a date, NUL)
EVERY_TYPE = [{"k": "v"}, {}, ["a"], [], True, False, 0, -1.5, 2**63 - 1, "text", "", "   ", "a\x00b", None,
              "2024-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", {"r": {"r": "deep"}}]


@pytest.mark.parametrize("door", ["duckdb_warehouse", "postgres_warehouse"], indirect=True)
def test_every_field_given_every_json_type_loads_or_names_the_field(door):
    for kind in sorted(TYPE_TABLES):
        base = {"type": kind, "userId": "u-1", "anonymousId": "a-1", "event": "Typed", "previousId": "p",
                "groupId": "g", "properties": {"num": 1}, "traits": {"rplan": "pro"}, "context": {"rip": "x"}}
        batch = []
        for field in SCALAR_FIELDS + CONTAINER_FIELDS:
            for value in EVERY_TYPE:
                message_id = f"typed-{next(_ids)}"
                batch.append({**base, "messageId": message_id, field: value})
                if field == "messageId":
                    batch[-1]["messageId"] = value
        for start in range(0, len(batch), 100):
            part = batch[start:start + 100]
            door.send("/v1/batch", part, door.post("/v1/batch", orjson.dumps({"batch": part})))
    door.load_and_check()


def test_bodies_broken_at_every_byte_are_answered_never_dropped(door):
    batch = [{"type": "track", "messageId": "cut-1", "userId": "u", "event": "Cut", "properties": {"num": 1}},
             {"type": "identify", "messageId": "cut-2", "anonymousId": "a", "traits": {"rplan": "pro"}}]
    body = orjson.dumps({"batch": batch, "sentAt": "2026-11-20T10:00:00Z"})
    for cut in range(len(body)):
        door.send("/v1/batch", batch, door.post("/v1/batch", body[:cut]))
        flipped = body[:cut] + bytes([body[cut] ^ 0x20]) + body[cut + 1:]  # one byte changed
        try:
            sent = orjson.loads(flipped).get("batch")
        except (orjson.JSONDecodeError, AttributeError):
            sent = []
        door.send("/v1/batch", sent if isinstance(sent, list) else [], door.post("/v1/batch", flipped))
    zipped = gzip.compress(body)
    for cut in range(0, len(zipped), 3):
        assert door.post("/v1/batch", zipped[:cut], **{"Content-Encoding": "gzip"}).status_code == 400
    door.send("/v1/batch", batch, door.post("/v1/batch", body))  # the whole body still loads
    door.load_and_check()


@pytest.mark.parametrize("bomb", [
    gzip.compress(b'{"batch": [' + b" " * 20_000_000 + b"]}"),
    gzip.compress(b"[" * 10_000_000),
    gzip.compress(gzip.compress(b"0" * 10_000_000)),   # nested: the outer layer is all we inflate
    gzip.compress(b'{"userId":"u","event":"E"}') + gzip.compress(b"\0" * 10_000_000),  # a second member
])
def test_gzip_bombs_are_refused_without_inflating_them(door, bomb):
    response = door.post("/v1/batch", bomb, **{"Content-Encoding": "gzip"})
    assert response.status_code in (400, 413), response.text
    assert len(bomb) < 100_000


# --- webhooks ------------------------------------------------------------------------------

def stripe_event(event_id: str) -> bytes:
    return orjson.dumps({"id": event_id, "object": "event", "type": "charge.succeeded", "created": int(time.time()),
                         "data": {"object": {"id": "ch_1", "amount": 4990, "currency": "eur", "customer": "cus_1",
                                             "billing_details": {"email": "ada@example.com"}}}})


def shopify_order(order_id: int) -> bytes:
    return orjson.dumps({"id": order_id, "email": "ada@example.com", "created_at": "2026-11-20T10:00:00Z",
                         "total_price": "19.00", "currency": "EUR", "customer": {"id": 7},
                         "line_items": [{"id": 1, "product_id": 2, "sku": "T-1", "quantity": 1, "price": "19.00"}]})


# what an HTTP header value may hold (visible ASCII and, sent as UTF-8, any Latin/extended letter)
header_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x24F, blacklist_characters="\x7f"))


def mutate(text: str, draw) -> str:
    """`text` with a few characters replaced, inserted or cut, or replaced whole."""
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(header_text.filter(bool))
    at = draw(st.integers(0, len(text) - 1))
    if choice == 1:
        return text[:at] + draw(header_text.filter(bool)) + text[at + 1:]
    if choice == 2:
        return text[:at] or "t"
    return text + draw(header_text)


def test_every_webhook_route_answers_mutated_signatures_with_4xx_and_loads_the_good_ones(door):
    accepted: list[str] = []

    @FUZZ
    @given(st.data())
    def deliveries(data):
        number = next(_ids)
        stripe_body = stripe_event(f"evt_fuzz_{number}")
        at = int(time.time())
        header = f"t={at},v1={signature_for(STRIPE_WEBHOOK_SECRET, at, stripe_body)}"
        bad = mutate(header, data.draw)
        response = door.post("/webhooks/stripe/stripe", stripe_body,
                             **{"Stripe-Signature": bad.encode("utf-8")})
        assert response.status_code in (200, 400, 401), (bad, response.text)
        if bad == header:
            assert response.status_code == 200, response.text
        if response.status_code == 200:  # only a header still carrying both genuine parts passes
            assert set(header.split(",")) <= {part.strip() for part in bad.split(",")}, bad

        order = shopify_order(number)
        digest = shopify_signature(order, SHOPIFY_WEBHOOK_SECRET)
        forged = mutate(digest, data.draw)
        response = door.post("/webhooks/shopify/shopify", order, **{
            "X-Shopify-Hmac-Sha256": forged.encode("utf-8"), "X-Shopify-Topic": "orders/create",
            "X-Shopify-Webhook-Id": f"wh-{number}"})
        assert response.status_code in (200, 400, 401), response.text
        assert (response.status_code == 200) == (forged.strip() == digest), forged
        if data.draw(st.booleans()):  # a correctly signed one, which must load
            assert door.post("/webhooks/stripe/stripe", stripe_body, **{"Stripe-Signature": header}).status_code == 200
            accepted.append(f"stripe-evt_fuzz_{number}")

    deliveries()
    door.client.close()
    door.server.stop()
    load_spool(door.config)
    assert accepted
    loaded = {row["id"] for row in door.warehouse.query("SELECT id FROM stripe.tracks")}
    assert set(accepted) <= loaded
    assert not door.warehouse.table_exists("stripe", "_quarantine")


STRIPE_TYPES = ["charge.succeeded", "checkout.session.completed", "charge.refunded", "customer.created",
                "customer.updated", "invoice.paid"]
STRIPE_FIELDS = ["amount", "currency", "customer", "billing_details", "metadata", "id", "amount_total",
                 "customer_details", "total_details", "email", "name", "phone", "created"]
SHOPIFY_FIELDS = ["email", "phone", "customer", "line_items", "created_at", "updated_at", "cancelled_at",
                  "total_price", "subtotal_price", "discount_codes", "total_shipping_price_set", "default_address",
                  "email_marketing_consent", "checkout_id", "name", "first_name", "tags"]


def vendor_object(fields: list[str]):
    return st.dictionaries(st.sampled_from(fields), any_json | st.dictionaries(st.sampled_from(fields), any_json),
                           max_size=6)


def test_signed_deliveries_of_any_shape_are_kept_never_a_5xx(door):
    """A delivery the vendor really signed is never lost to a shape we did not foresee."""
    delivered: set[str] = set()

    @settings(FUZZ, max_examples=80)
    @given(st.sampled_from(STRIPE_TYPES) | texts, vendor_object(STRIPE_FIELDS), any_json,
           st.sampled_from(list(SHOPIFY_TOPICS)) | header_text.filter(bool), vendor_object(SHOPIFY_FIELDS), any_json)
    def deliveries(stripe_type, stripe_object, created, topic, order, shopify_id):
        number = next(_ids)
        body = encode({"id": f"evt_shape_{number}", "type": stripe_type, "created": created,
                       "data": {"object": stripe_object}})
        at = int(time.time())
        response = door.post("/webhooks/stripe/stripe", body,
                             **{"Stripe-Signature": f"t={at},v1={signature_for(STRIPE_WEBHOOK_SECRET, at, body)}"})
        assert response.status_code in (200, 400), response.text
        if response.status_code == 200:
            delivered.add(f"evt_shape_{number}")
        body = encode({**order, "id": shopify_id})
        response = door.post("/webhooks/shopify/shopify", body, **{
            "X-Shopify-Hmac-Sha256": shopify_signature(body, SHOPIFY_WEBHOOK_SECRET), "X-Shopify-Topic": topic.encode("utf-8"),
            "X-Shopify-Webhook-Id": f"wh-shape-{number}"})
        assert response.status_code in (200, 400), response.text
        if response.status_code == 200:
            delivered.add(f"wh-shape-{number}")

    deliveries()
    door.client.close()
    door.server.stop()
    load_spool(door.config)  # whatever was delivered, the load does not fail
    kept = set()
    for schema in ("stripe", "shopify"):
        kept |= {row["id"] for row in door.warehouse.query(f"SELECT id FROM {schema}.webhooks")}
        if door.warehouse.table_exists(schema, "_quarantine"):
            reasons = door.warehouse.query(f"SELECT reason FROM {schema}._quarantine")
            assert all(row["reason"].strip() for row in reasons)
    assert delivered and delivered <= kept
