"""The model catalog: front-matter, dependencies read from SQL, order, precise errors."""

from __future__ import annotations

import pytest

from models.adapter import Engine, transpile
from models.catalog import ModelError, catalog, discover, referenced_tables
from tests.identity_world import IDENTITY_LAYERS, build, config, load_raw, row


def write_model(root, layer, name, body, description="a table"):
    folder = root / layer
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.sql").write_text(f"/* ---\ndescription: {description}\ncolumns:\n  a: a column\n--- */\n{body}\n")


def test_dependencies_are_read_from_the_sql_and_ordered(tmp_path):
    write_model(tmp_path, "profiles", "profiles", "SELECT a FROM cdp.identities JOIN cdp_staging.edges USING (a)")
    write_model(tmp_path, "identity", "identities", "WITH e AS (SELECT a FROM cdp_staging.edges) SELECT a FROM e")
    write_model(tmp_path, "staging", "edges", "SELECT a FROM web.identifies")
    models = discover(tmp_path)
    assert [m.key for m in models] == ["cdp_staging.edges", "cdp.identities", "cdp.profiles"]
    assert models[2].depends_on == ("cdp.identities", "cdp_staging.edges")
    assert models[1].depends_on == ("cdp_staging.edges",)  # the CTE `e` is not a table
    assert models[0].depends_on == ()  # raw source tables are inputs, not models


def test_a_dependency_cycle_names_the_models(tmp_path):
    write_model(tmp_path, "identity", "one", "SELECT a FROM cdp.two")
    write_model(tmp_path, "identity", "two", "SELECT a FROM cdp.one")
    with pytest.raises(ModelError, match=r"cycle: cdp\.(one|two) -> cdp\.(one|two)"):
        discover(tmp_path)


def test_missing_front_matter_is_reported_with_the_file_and_the_fix(tmp_path):
    (tmp_path / "identity").mkdir()
    (tmp_path / "identity" / "bare.sql").write_text("SELECT 1 AS a")
    with pytest.raises(ModelError, match=r"bare\.sql: missing front-matter; start the file with /\* ---"):
        discover(tmp_path)


def test_unknown_front_matter_key_is_rejected(tmp_path):
    (tmp_path / "identity").mkdir()
    (tmp_path / "identity" / "typo.sql").write_text("/* ---\ndescription: x\ncolums:\n  a: b\n--- */\nSELECT 1 AS a")
    with pytest.raises(ModelError, match=r"typo\.sql: front-matter is not valid.*colums"):
        discover(tmp_path)


def test_sql_that_does_not_parse_names_the_file(tmp_path):
    write_model(tmp_path, "identity", "broken", "SELECT a FROM (")
    with pytest.raises(ModelError, match=r"broken\.sql: SQL does not parse"):
        discover(tmp_path)


def test_referenced_tables_ignore_ctes_and_keep_schemas():
    sql = "WITH x AS (SELECT * FROM s.t) SELECT * FROM x JOIN u.v ON TRUE WHERE EXISTS (SELECT 1 FROM s.w)"
    assert referenced_tables(sql) == {"s.t", "u.v", "s.w"}


def test_every_shipped_model_documents_exactly_the_columns_it_creates(duckdb_warehouse):
    load_raw(duckdb_warehouse, "web", "identifies", [row(1, anonymous_id="d", user_id="u", email="e@x.io")])
    build(duckdb_warehouse, config("web"))
    with duckdb_warehouse.connect() as connection:
        engine = Engine(connection, "duckdb")
        tables = {schema: engine.columns(schema) for schema in ("cdp", "cdp_staging")}
    for model in catalog():
        if model.layer not in IDENTITY_LAYERS:
            continue
        assert model.description, model.key
        assert list(model.columns) == tables[model.schema][model.name], model.path.name


def test_shipped_models_transpile_to_postgres_without_duckdb_only_functions():
    for model in catalog():
        if model.sql:
            postgres = transpile(model.sql, "postgres")
            assert "REGEXP_MATCHES" not in postgres.upper(), model.path.name
