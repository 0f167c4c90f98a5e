"""The Shopify emulator enforces the GraphQL Admin API's documented rules over real HTTP."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests import shopify_records as records
from headwater.loopback import LoopbackServer
from sources.shopify.emulator import create_app

TOKEN = "shpat_emulator_token"


class FakeTime:
    """A monotonic clock that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def shop(fake_time):
    app = create_app(records.shop(customers=7, orders=3, items=3), access_token=TOKEN,
                     bucket_clock=fake_time.monotonic, polls_to_complete=2)
    with LoopbackServer(app) as server:
        yield server, app.state.shopify


def ask(server, query: str, variables: dict | None = None, token: str = TOKEN, version: str = "2025-10"):
    return httpx.post(f"{server.url}/admin/api/{version}/graphql.json", json={"query": query, "variables": variables or {}},
                      headers={"X-Shopify-Access-Token": token})


def test_wrong_or_missing_token_gets_401_with_shopifys_error_body(shop):
    server, _ = shop
    for headers in ({"X-Shopify-Access-Token": "shpat_wrong"}, {}):
        response = httpx.post(f"{server.url}/admin/api/2025-10/graphql.json", json={"query": "{ shop { name } }"},
                              headers=headers)
        assert response.status_code == 401
        assert response.json() == {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


def test_invalid_query_gets_graphql_errors_not_a_crash(shop):
    server, _ = shop
    body = ask(server, "{ customers(first: 2) { nodes { favouriteColour } } }").json()
    assert "data" not in body
    assert "favouriteColour" in body["errors"][0]["message"] and body["errors"][0]["locations"]


def test_connections_need_first_or_last_and_at_most_250(shop):
    server, _ = shop
    missing = ask(server, "{ customers { nodes { id } } }").json()
    assert "you must provide one of first or last" in missing["errors"][0]["message"]
    too_many = ask(server, "{ customers(first: 251) { nodes { id } } }").json()
    assert "250" in too_many["errors"][0]["message"]
    assert ask(server, "{ customers(first: 250) { nodes { id } } }").json()["data"]["customers"]["nodes"]


def test_requested_cost_follows_shopifys_rules_and_unused_nodes_are_refunded(shop):
    server, _ = shop
    # connection: 2 + first x (1 per node + 1 per object field); scalars cost 0
    query = "{ customers(first: 10) { nodes { id email defaultAddress { city } } } }"
    cost = ask(server, query).json()["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 10 * (1 + 1)
    assert cost["actualQueryCost"] == 2 + 7 * (1 + 1)  # only 7 customers exist
    nested = "{ orders(first: 5) { nodes { id lineItems(first: 10) { nodes { id variant { id } } } } } }"
    assert ask(server, nested).json()["extensions"]["cost"]["requestedQueryCost"] == 2 + 5 * (1 + 2 + 10 * 2)
    status = ask(server, "{ customersCount { count } }").json()["extensions"]["cost"]["throttleStatus"]
    assert status["maximumAvailable"] == 1000 and status["restoreRate"] == 50


def test_a_query_dearer_than_1000_points_is_refused(shop):
    server, _ = shop
    body = ask(server, "{ orders(first: 100) { nodes { lineItems(first: 10) { nodes { id } } } } }").json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


def test_empty_bucket_throttles_then_refills_at_the_restore_rate(shop, fake_time):
    server, emulator = shop
    query = "{ customers(first: 100) { nodes { id defaultAddress { city } } } }"  # 2 + 100 x 2 = 202
    emulator.bucket.drain()
    throttled = ask(server, query).json()
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0
    fake_time.now += 4.0  # 200 points back: still short of 202
    assert ask(server, query).json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    fake_time.now += 0.1
    assert ask(server, query).json()["data"]["customers"]["nodes"]


def test_cursor_pages_cover_every_record_once_in_updated_at_order(shop):
    server, emulator = shop
    query = ("query($after: String) { customers(first: 3, after: $after, sortKey: UPDATED_AT) "
             "{ nodes { legacyResourceId updatedAt } pageInfo { hasNextPage endCursor } } }")
    seen, after, pages = [], None, 0
    while True:
        page = ask(server, query, {"after": after}).json()["data"]["customers"]
        seen += page["nodes"]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 3
    assert sorted(int(n["legacyResourceId"]) for n in seen) == list(range(1, 8))
    stamps = [n["updatedAt"] for n in seen]
    assert stamps == sorted(stamps)


def test_updated_at_search_filter_returns_only_newer_records(shop):
    server, emulator = shop
    emulator.data.touch("customers", 3, email="changed@example.com")
    body = ask(server, "{ customers(first: 50, query: \"updated_at:>'2025-06-01T00:00:00Z'\") "
                       "{ nodes { legacyResourceId email } } }").json()
    assert body["data"]["customers"]["nodes"] == [{"legacyResourceId": "3", "email": "changed@example.com"}]


def test_injected_500_answers_once_then_serves(shop):
    server, emulator = shop
    emulator.faults.error(503, after=1)
    statuses = [ask(server, "{ customersCount { count } }").status_code for _ in range(3)]
    assert statuses == [200, 503, 200]


def test_bulk_operation_serves_jsonl_with_children_linked_by_parent_id(shop):
    server, _ = shop
    bulk_query = "{ orders { edges { node { id name lineItems { edges { node { id __typename quantity } } } } } } }"
    started = ask(server, "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status } "
                          "userErrors { message code } } }", {"q": bulk_query}).json()["data"]["bulkOperationRunQuery"]
    assert started["userErrors"] == [] and started["bulkOperation"]["status"] == "CREATED"
    second = ask(server, "mutation($q: String!) { bulkOperationRunQuery(query: $q) { userErrors { code } } }",
                 {"q": bulk_query}).json()["data"]["bulkOperationRunQuery"]
    assert second["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"
    poll = "query($id: ID!) { node(id: $id) { ... on BulkOperation { status url objectCount } } }"
    statuses = []
    for _ in range(2):
        operation = ask(server, poll, {"id": started["bulkOperation"]["id"]}).json()["data"]["node"]
        statuses.append(operation["status"])
    assert statuses == ["RUNNING", "COMPLETED"]
    lines = [orjson.loads(line) for line in httpx.get(operation["url"]).text.splitlines()]
    assert operation["objectCount"] == str(len(lines)) == str(3 + 3 * 3)
    orders = [line for line in lines if "__parentId" not in line]
    items = [line for line in lines if "__parentId" in line]
    assert {o["id"] for o in orders} == {f"gid://shopify/Order/{n}" for n in (1, 2, 3)}
    assert all(item["__parentId"] in {o["id"] for o in orders} for item in items) and len(items) == 9


def test_world_files_are_served_as_written(tmp_path):
    folder = tmp_path / "vendors" / "shopify"
    folder.mkdir(parents=True)
    (folder / "customers.jsonl").write_bytes(b"\n".join(orjson.dumps(records.customer(n)) for n in (1, 2)))
    for kind in ("orders", "products", "abandoned_checkouts"):
        (folder / f"{kind}.jsonl").write_bytes(b"")
    with LoopbackServer(create_app(tmp_path, access_token=TOKEN)) as server:
        nodes = ask(server, "{ customers(first: 5) { nodes { email } } }").json()["data"]["customers"]["nodes"]
    assert nodes == [{"email": "person1@example.com"}, {"email": "person2@example.com"}]


def test_reverse_pages_walk_the_same_records_newest_first(shop):
    server, _ = shop
    query = ("query($after: String) { customers(first: 4, after: $after, sortKey: UPDATED_AT, reverse: true) "
             "{ nodes { legacyResourceId updatedAt } pageInfo { hasNextPage endCursor } } }")
    first = ask(server, query).json()["data"]["customers"]
    second = ask(server, query, {"after": first["pageInfo"]["endCursor"]}).json()["data"]["customers"]
    stamps = [n["updatedAt"] for n in first["nodes"] + second["nodes"]]
    assert len(stamps) == 7 and stamps == sorted(stamps, reverse=True)
    assert first["pageInfo"]["hasNextPage"] and not second["pageInfo"]["hasNextPage"]


def test_bulk_query_with_an_unknown_field_is_refused_with_a_user_error(shop):
    server, _ = shop
    payload = ask(server, "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id } "
                          "userErrors { field message } } }",
                  {"q": "{ orders { edges { node { id shoeSize } } } }"}).json()["data"]["bulkOperationRunQuery"]
    assert payload["bulkOperation"] is None
    assert payload["userErrors"][0]["field"] == ["query"] and "shoeSize" in payload["userErrors"][0]["message"]
