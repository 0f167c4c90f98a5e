"""Per-person tables are redone only for the people whose rows changed, and end as a full rebuild would.

Three people: Ann sent a consent signal and a trait dated after the first build's as_of; Cat's
only activity is two newsletter opens, one of which leaves the 30-day window when as_of moves;
Bob's rows never change. Moving as_of with nothing new loaded must redo Ann (consent history,
latest traits, profile) and Cat (profile: email engagement) and nobody else, by person
(models/by_profile.py), leaving what a --full-refresh build leaves. (Here the as_of cuts are
not what finds them: Ann's rows cross as_of in the identity chain, and email events are redone
each build; a cut matters where a vendor's consent or trait time differs from its row's time.) Then a merge: a device's
profile joins Ann's, and its consent signal moves to her history. On DuckDB and on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import models.by_profile
import models.rejoin
from headwater.config import parse_config
from headwater.warehouse import Warehouse
from models.build import BuildContext, build_models
from models.catalog import ModelError, catalog, discover
from tests.identity_world import START, load_raw, row
from tests.test_models_incremental import table_rows

AS_OF = START + timedelta(days=40)
LOADED = datetime.now(timezone.utc) - timedelta(hours=2)
PER_PERSON = tuple(model.key for model in catalog() if model.by_profile is not None)


def config():
    return parse_config({"sources": [{"name": "web", "type": "events", "write_key": "k"},
                                     {"name": "mailchimp", "type": "mailchimp"}]})


def build(warehouse: Warehouse, as_of, **options) -> None:
    build_models(BuildContext(warehouse, config(), as_of, **options))


def load(warehouse: Warehouse, table: str, rows: list[dict], loaded_at=LOADED) -> None:
    """Segment rows as the loader writes them; `loaded_at` (uuid_ts) is recent, as real loads are."""
    load_raw(warehouse, "web", table, [{**r, "uuid_ts": loaded_at, "received_at": r["timestamp"]} for r in rows])


def minutes(moment) -> int:
    return int((moment - START).total_seconds() // 60)


def changed_people(warehouse: Warehouse, model: str) -> set[str]:
    rows = warehouse.query("SELECT profile_id FROM cdp_staging.profile_changes WHERE producer = %s", [model])
    return {r["profile_id"] for r in rows}


def profile_of(warehouse: Warehouse, id_type: str, value: str) -> str:
    rows = warehouse.query("SELECT profile_id FROM cdp.profile_identities WHERE id_type = %s AND id_value = %s",
                           [id_type, value])
    return rows[0]["profile_id"]


def per_person_tables(warehouse: Warehouse) -> dict[str, list[tuple]]:
    return {key: table_rows(warehouse, key) for key in (*PER_PERSON, "cdp.profiles")}


@pytest.fixture
def redone(monkeypatch) -> list[str]:
    """The per-person tables models.by_profile redid by person (not rebuilt whole), however many
    of this small world's people changed."""
    models_redone: list[str] = []
    original = models.by_profile._redo

    def spy(engine, model):
        done = original(engine, model)
        models_redone.extend([model.key] if done else [])
        return done

    monkeypatch.setattr(models.by_profile, "WHOLE_SHARE", float("inf"))
    monkeypatch.setattr(models.rejoin, "WHOLE_SHARE", float("inf"))
    monkeypatch.setattr(models.by_profile, "_redo", spy)
    return models_redone


def test_moving_as_of_redoes_only_the_people_whose_rows_it_crossed(warehouse, redone):
    later = AS_OF + timedelta(days=10)
    load(warehouse, "identifies", [
        row(1, user_id="ann", email="ann@example.org", plan="free", consent_email="false"),
        row(minutes(AS_OF + timedelta(days=2)), user_id="ann", plan="pro", consent_email="true"),
        row(2, user_id="bob", email="bob@example.org", plan="gold", consent_email="true")])
    # with a load time, as Segment tables have, these vendor tables are read only for new loads
    # (merged ones are re-read each build, which would redo Cat anyway and hide the cut)
    load_raw(warehouse, "mailchimp", "members", [{"id": "m-cat", "email_address": "cat@example.org",
                                                  "status": "transactional", "uuid_ts": LOADED}])
    load_raw(warehouse, "mailchimp", "email_activity", [
        {"activity_id": f"open-{days}", "email_address": "cat@example.org", "email_id": "m-cat", "action": "open",
         "timestamp": AS_OF - timedelta(days=days), "uuid_ts": LOADED} for days in (5, 25)])
    build(warehouse, AS_OF)
    ann, bob = profile_of(warehouse, "user_id", "ann"), profile_of(warehouse, "user_id", "bob")
    cat = profile_of(warehouse, "email", "cat@example.org")
    opens = {r["profile_id"]: r["email_opens_30d"] for r in warehouse.query("SELECT * FROM cdp.profiles")}
    assert (opens[cat], opens[ann]) == (2, 0)

    redone.clear()
    build(warehouse, later)  # nothing new: only as_of moved
    assert sorted(redone) == sorted(PER_PERSON)
    assert changed_people(warehouse, "cdp.consent_history") == {ann}
    assert changed_people(warehouse, "cdp_staging.latest_traits") == {ann}
    assert changed_people(warehouse, "cdp_staging.profile_core") == {ann, cat}
    profiles = {r["profile_id"]: r for r in warehouse.query("SELECT * FROM cdp.profiles")}
    assert (profiles[ann]["plan"], profiles[ann]["consent_email"]) == ("pro", True)
    assert profiles[cat]["email_opens_30d"] == 1  # the 25-day-old open is 35 days old now
    assert (profiles[bob]["plan"], profiles[bob]["consent_email"]) == ("gold", True)
    incremental = per_person_tables(warehouse)

    build(warehouse, later, full_refresh=True)
    assert per_person_tables(warehouse) == incremental


def test_a_merge_moves_a_persons_rows_to_the_surviving_profile_as_a_full_rebuild_does(warehouse, redone):
    load(warehouse, "identifies", [row(1, user_id="ann", email="ann@example.org", plan="free"),
                                   row(2, user_id="bob", email="bob@example.org", plan="gold")])
    load(warehouse, "tracks", [row(3, anonymous_id="dev-1", event="cart_viewed", event_text="Cart Viewed",
                                   context_consent_category_preferences_sms="true")])
    build(warehouse, AS_OF)
    device = profile_of(warehouse, "anonymous_id", "dev-1")
    assert [r["category"] for r in warehouse.query("SELECT * FROM cdp.consent_history WHERE profile_id = %s",
                                                   [device])] == ["sms"]

    load(warehouse, "identifies", [row(4, anonymous_id="dev-1", user_id="ann")], LOADED + timedelta(hours=1))
    redone.clear()
    build(warehouse, AS_OF)
    assert sorted(redone) == sorted(PER_PERSON)
    ann, bob = profile_of(warehouse, "user_id", "ann"), profile_of(warehouse, "user_id", "bob")
    assert profile_of(warehouse, "anonymous_id", "dev-1") == ann
    assert bob not in changed_people(warehouse, "cdp_staging.profile_core")
    history = warehouse.query("SELECT profile_id, category FROM cdp.consent_history")
    assert [(r["profile_id"], r["category"]) for r in history] == [(ann, "sms")]
    sms = {r["profile_id"]: r["consent_sms"] for r in warehouse.query("SELECT * FROM cdp.profiles")}
    assert sms == {ann: True, bob: False}  # the device's profile is gone, its consent is Ann's
    incremental = per_person_tables(warehouse)

    build(warehouse, AS_OF, full_refresh=True)
    assert per_person_tables(warehouse) == incremental


def test_by_profile_needs_a_table_model_with_profile_id_and_cuts_on_inputs_read_by_person(tmp_path):
    def model_file(layer: str, name: str, front: str, sql: str = "") -> None:
        (tmp_path / layer).mkdir(exist_ok=True)
        (tmp_path / layer / f"{name}.sql").write_text(f"/* ---\ndescription: d\n{front}\n--- */\n{sql}")

    model_file("staging", "rows", "columns: {profile_id: p, seen_at: s}", "SELECT 'p' AS profile_id, 1 AS seen_at")
    model_file("staging", "knobs", "columns: {knob: k}", "SELECT 1 AS knob")
    for layer in ("identity", "audiences", "conversions"):
        (tmp_path / layer).mkdir()
    cut = "by_profile: {as_of_cuts: [{table: %s, column: %s}]}\ncolumns: {profile_id: p}"
    sql = "SELECT rows.profile_id FROM cdp_staging.rows AS rows CROSS JOIN cdp_staging.knobs AS knobs"
    for table, column, problem in (("cdp_staging.knobs", "knob", "not a model it reads by profile_id"),
                                   ("cdp_staging.rows", "when", "has no such column")):
        model_file("profiles", "per_person", cut % (table, column), sql)
        with pytest.raises(ModelError, match=problem):
            discover(tmp_path)
    model_file("profiles", "per_person", cut % ("cdp_staging.rows", "seen_at"), sql)
    assert [m.key for m in discover(tmp_path) if m.by_profile] == ["cdp.per_person"]

    model_file("profiles", "per_person", "materialized: runner\nrunner: a:b\nby_profile: {}\ncolumns: {profile_id: p}")
    with pytest.raises(ModelError, match="by_profile is for materialized: table"):
        discover(tmp_path)
    model_file("profiles", "per_person", "by_profile: {}\ncolumns: {id: i}", "SELECT 1 AS id")
    with pytest.raises(ModelError, match="needs a profile_id column"):
        discover(tmp_path)
