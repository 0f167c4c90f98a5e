"""Identifier observations, identifiers and edges are redone only for raw rows that changed (models/staging/row_batches.py).

To see whether a build recomputed a row, a test alters a staging row in place (no model
does): an incremental build that does not touch the row keeps the alteration, a
--full-refresh build removes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.identity_world import at, build, load_raw, row

NOW = datetime.now(timezone.utc)
CHAIN = ("cdp_staging.identifier_observations", "cdp_staging.identifiers", "cdp_staging.identity_edges")
SNAPSHOT = {
    "cdp_staging.identifier_observations": "source, source_table, row_id, seen_at, id_type, raw_value, country_hint",
    "cdp_staging.identifiers": "source, source_table, row_id, id_type, raw_value, id_value, rejected_reason",
    "cdp_staging.identity_edges": "source, source_table, row_id, anchor_type, anchor_value, id_type, id_value, "
                                  "priority, anchor_priority, rejected_reason",
}


def load(warehouse, rows: list[dict], hours_ago: int, table: str = "tracks") -> None:
    load_raw(warehouse, "web", table, [{**r, "uuid_ts": NOW - timedelta(hours=hours_ago)} for r in rows])


def chain(warehouse) -> dict[str, list[dict]]:
    """Every chain table's rows (without the build marker), in a stable order."""
    return {table: warehouse.query(f"SELECT {columns} FROM {table} ORDER BY {columns}")
            for table, columns in SNAPSHOT.items()}


def test_a_build_redoes_only_the_rows_of_new_loads(warehouse):
    first = row(1, anonymous_id="dev-1", user_id="u-1")
    load(warehouse, [first], hours_ago=3)
    build(warehouse, as_of=at(100))
    warehouse.query("UPDATE cdp_staging.identifiers SET raw_value = 'altered' WHERE row_id = %s", [first["id"]])
    second = row(2, anonymous_id="dev-2", user_id="u-2")
    load(warehouse, [second], hours_ago=2)
    build(warehouse, as_of=at(100))
    values = {(r["row_id"], r["raw_value"]) for r in warehouse.query(
        "SELECT row_id, raw_value FROM cdp_staging.identifiers")}
    assert (first["id"], "altered") in values  # not recomputed
    assert {(second["id"], "dev-2"), (second["id"], "u-2")} <= values
    build(warehouse, as_of=at(100), full_refresh=True)
    assert (first["id"], "altered") not in {(r["row_id"], r["raw_value"]) for r in warehouse.query(
        "SELECT row_id, raw_value FROM cdp_staging.identifiers")}


def test_an_alias_is_retyped_when_its_previous_id_is_later_sent_as_a_user_id(warehouse):
    alias = row(1, previous_id="legacy-7", user_id="u-1")
    load(warehouse, [alias], hours_ago=3, table="aliases")
    build(warehouse, as_of=at(100))
    typed = warehouse.query("SELECT id_type FROM cdp_staging.identifier_observations WHERE raw_value = 'legacy-7'")
    assert [r["id_type"] for r in typed] == ["anonymous_id"]
    load(warehouse, [row(5, anonymous_id="dev-9", user_id="legacy-7")], hours_ago=2, table="identifies")
    build(warehouse, as_of=at(100))
    incremental = chain(warehouse)
    retyped = [r["id_type"] for r in incremental["cdp_staging.identifier_observations"]
               if r["raw_value"] == "legacy-7" and r["row_id"] == alias["id"]]
    assert retyped == ["user_id"]
    build(warehouse, as_of=at(100), full_refresh=True)
    assert chain(warehouse) == incremental


def test_a_row_deleted_from_a_re_read_table_leaves_every_chain_table(warehouse):
    kept, gone = row(1, anonymous_id="dev-1", email="keep@x.io"), row(2, anonymous_id="dev-2", email="gone@x.io")
    load_raw(warehouse, "web", "identifies", [kept, gone])  # no uuid_ts: re-read whole each build, like a vendor table
    build(warehouse, as_of=at(100))
    assert all(any(r["row_id"] == gone["id"] for r in rows) for rows in chain(warehouse).values())
    warehouse.query("DELETE FROM web.identifies WHERE id = %s", [gone["id"]])
    build(warehouse, as_of=at(100))
    incremental = chain(warehouse)
    assert not any(r["row_id"] == gone["id"] for rows in incremental.values() for r in rows)
    assert any(r["row_id"] == kept["id"] for r in incremental["cdp_staging.identity_edges"])
    build(warehouse, as_of=at(100), full_refresh=True)
    assert chain(warehouse) == incremental


def test_moving_as_of_back_and_forth_matches_full_rebuilds(warehouse):
    load(warehouse, [row(1, anonymous_id="dev-1", user_id="u-1"), row(50, anonymous_id="dev-2", user_id="u-1",
                                                                        email="late@x.io")], hours_ago=3)
    expected = {}
    for as_of in (at(60), at(10)):
        build(warehouse, as_of=as_of, full_refresh=True)
        expected[as_of] = chain(warehouse)
    assert expected[at(60)] != expected[at(10)]
    for as_of in (at(60), at(10), at(60)):
        build(warehouse, as_of=as_of)
        assert chain(warehouse) == expected[as_of]


def test_a_table_written_before_the_marker_existed_is_rebuilt_whole(warehouse):
    load(warehouse, [row(1, anonymous_id="dev-1", user_id="u-1")], hours_ago=3)
    build(warehouse, as_of=at(100))
    expected = chain(warehouse)
    for table in CHAIN:  # as a warehouse built by an earlier version left them
        warehouse.query(f"ALTER TABLE {table} DROP COLUMN refreshed_at")
    build(warehouse, as_of=at(100))
    assert chain(warehouse) == expected
    assert all(warehouse.query(f"SELECT COUNT(*) AS n FROM {table} WHERE refreshed_at IS NULL")[0]["n"] == 0
               for table in CHAIN)


def test_a_re_read_table_redoes_only_its_changed_rows(warehouse):
    same, edited = row(1, anonymous_id="dev-1", email="same@x.io"), row(2, anonymous_id="dev-2", email="old@x.io")
    load_raw(warehouse, "web", "identifies", [same, edited])  # no uuid_ts: re-read whole each build
    build(warehouse, as_of=at(100))
    warehouse.query("UPDATE cdp_staging.identifiers SET raw_value = 'altered' WHERE row_id = %s AND id_type = 'email'",
                    [same["id"]])
    warehouse.query("UPDATE web.identifies SET email = 'new@x.io' WHERE id = %s", [edited["id"]])
    build(warehouse, as_of=at(100))
    emails = {r["row_id"]: r["raw_value"] for r in warehouse.query(
        "SELECT row_id, raw_value FROM cdp_staging.identifiers WHERE id_type = 'email'")}
    assert emails == {same["id"]: "altered", edited["id"]: "new@x.io"}  # the unchanged row was not redone
    stamped = {r["row_id"]: r["refreshed_at"] for r in warehouse.query(
        "SELECT row_id, MAX(refreshed_at) AS refreshed_at FROM cdp_staging.identifier_rows GROUP BY row_id")}
    assert stamped[edited["id"]] > stamped[same["id"]]  # the edited row's upstream row is newer
    build(warehouse, as_of=at(100), full_refresh=True)
    assert {r["raw_value"] for r in warehouse.query(
        "SELECT raw_value FROM cdp_staging.identifiers WHERE id_type = 'email'")} == {"same@x.io", "new@x.io"}
