"""Each model is a Dagster asset with the key, deps, group and docs of its SQL file; CLI runs them."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from headwater.cli import cli
from models.catalog import catalog
from tests.identity_world import load_raw, row


def test_definitions_hold_one_asset_per_model_with_deps_from_the_sql():
    from dagster_project.definitions import defs

    specs = {spec.key.to_user_string(): spec for spec in defs().resolve_all_asset_specs()}
    for model in catalog():
        spec = specs[model.key.replace(".", "/")]
        assert spec.group_name == model.layer
        assert {dep.asset_key.to_user_string() for dep in spec.deps} == {d.replace(".", "/") for d in model.depends_on}
        assert spec.description == model.description
        assert [c.name for c in spec.metadata["dagster/column_schema"].columns] == list(model.columns)
        assert {"duckdb", "postgres"} <= set(spec.kinds)
    assert specs["cdp/profile_identities"].deps  # not an empty graph


def write_config(folder: Path, warehouse_url: str) -> Path:
    path = folder / "headwater.yml"
    path.write_text(f"warehouse: {warehouse_url}\nsources:\n  - name: web\n    type: events\n    write_key: k\n")
    return path


def test_build_command_materializes_every_model_and_explain_shows_the_edge(duckdb_warehouse, tmp_path):
    load_raw(duckdb_warehouse, "web", "identifies", [row(1, anonymous_id="dev-1", user_id="u-1", email="A@x.io")])
    cfg = write_config(tmp_path, duckdb_warehouse.url)
    runner = CliRunner()
    built = runner.invoke(cli, ["build", "--config", str(cfg)])
    assert built.exit_code == 0, built.output
    assert "cdp.profile_identities" in built.output and "3 rows" in built.output
    explained = runner.invoke(cli, ["explain", "a@X.io ", "--config", str(cfg)])
    assert explained.exit_code == 0, explained.output
    assert "email a@x.io -> profile p_" in explained.output
    assert "seen together in web.identifies id=" in explained.output and "user_id=u-1" in explained.output


def test_build_rejects_a_bad_as_of_with_one_line(duckdb_warehouse, tmp_path):
    result = CliRunner().invoke(cli, ["build", "--as-of", "last tuesday", "--config",
                                      str(write_config(tmp_path, duckdb_warehouse.url))])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --as-of: 'last tuesday' is not an ISO 8601 time; use e.g. 2026-01-31T00:00:00Z"]


def test_explain_before_any_build_says_what_to_do(duckdb_warehouse, tmp_path):
    result = CliRunner().invoke(cli, ["explain", "x", "--config", str(write_config(tmp_path, duckdb_warehouse.url))])
    assert result.exit_code == 2
    assert result.output.strip() == "error: no identity graph yet; run `headwater build` first"


def test_docs_lists_every_analyst_table_and_column():
    result = CliRunner().invoke(cli, ["docs"])
    assert result.exit_code == 0
    for model in catalog():
        if model.schema == "cdp":
            assert f"## {model.key}" in result.output
            assert all(f"| `{column}` |" in result.output for column in model.columns)
