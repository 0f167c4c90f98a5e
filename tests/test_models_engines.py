"""The same DuckDB SQL, transpiled for PostgreSQL, gives identical identity tables on both."""

from __future__ import annotations

from tests.identity_world import build, config, load_raw, row

WORLD = {
    "identifies": [
        row(1, anonymous_id="d1", user_id="u1", email=" Ann@Example.org", phone="(415) 555-0132"),
        row(2, anonymous_id="d2", user_id="u2", email="test@test.com"),
        row(3, anonymous_id="d1", user_id="u2"),                 # shared device: limit
        row(4, anonymous_id="d3", phone="+1 415 555 0132"),
        row(5, anonymous_id="d4", email="bob@example.org", phone="not a phone"),
    ],
    "tracks": [row(6, anonymous_id="d4", context_traits_email="BOB@example.org"), row(7, anonymous_id="d5")],
    "aliases": [row(8, previous_id="d5", user_id="u3")],
}
TABLES = {
    "cdp.profile_identities": "SELECT * FROM cdp.profile_identities ORDER BY id_type, id_value",
    "cdp.identity_rejections": "SELECT * FROM cdp.identity_rejections ORDER BY row_id, id_type, id_value",
}


def snapshot(warehouse) -> dict[str, list[tuple]]:
    return {name: [tuple(r.values()) for r in warehouse.query(sql)] for name, sql in TABLES.items()}


def test_duckdb_and_postgres_build_identical_identity_tables(duckdb_warehouse, postgres_warehouse):
    results = []
    for warehouse in (duckdb_warehouse, postgres_warehouse):
        for table, rows in WORLD.items():
            load_raw(warehouse, "web", table, rows)
        build(warehouse, config("web"), as_of=row(100)["timestamp"])
        results.append(snapshot(warehouse))
    duckdb, postgres = results
    assert duckdb["cdp.profile_identities"] and duckdb["cdp.identity_rejections"]
    assert duckdb == postgres
