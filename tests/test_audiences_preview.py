"""`headwater audience preview NAME`: size, SQL and sample from the warehouse; one-line errors."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from headwater.cli import cli
from tests.audience_world import built_world

AUDIENCES = [{"name": "us_buyers", "description": "bought, lives in the US",
              "where": {"all": [{"audience": "purchasers"}, {"trait": "country", "value": "US"}]}},
             {"name": "typo", "where": {"trait": "lifetime_revenu", "op": ">", "value": 1}}]


def _config(folder: Path, warehouse_url: str, audiences: list[dict]) -> str:
    path = folder / "headwater.yml"
    path.write_text(yaml.safe_dump({
        "warehouse": warehouse_url, "audiences": audiences,
        "sources": [{"name": "web", "type": "events", "write_key": "k"}, {"name": "shop", "type": "shopify"},
                    {"name": "pay", "type": "stripe"}]}))
    return str(path)


def test_preview_prints_size_sql_and_a_sample(warehouse, tmp_path):
    built_world(warehouse, AUDIENCES[:1])
    result = CliRunner().invoke(cli, ["audience", "preview", "us_buyers", "--config",
                                      _config(tmp_path, warehouse.url, AUDIENCES)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "audience us_buyers: 1 profiles"
    assert f"-- SQL ({warehouse.dialect})" in lines
    assert "'US'" in result.output and "cdp" in result.output
    assert lines[-2:] == ["-- sample (1 of 1)", lines[-1]] and lines[-1].endswith("bob@example.org")


def test_preview_of_an_unknown_audience_or_a_wrong_trait_is_one_error_line(duckdb_warehouse, tmp_path):
    built_world(duckdb_warehouse)
    cfg = _config(tmp_path, duckdb_warehouse.url, AUDIENCES)
    unknown = CliRunner().invoke(cli, ["audience", "preview", "nobody", "--config", cfg])
    assert unknown.exit_code == 2
    assert unknown.output.strip().splitlines() == [
        "error: no audience named 'nobody'; defined: cart_abandoners, high_value, lapsed_customers, "
        "newsletter_subscribers, purchasers, typo, us_buyers (add it under audiences: in headwater.yml)"]
    typo = CliRunner().invoke(cli, ["audience", "preview", "typo", "--config", cfg])
    assert typo.exit_code == 2
    (line,) = typo.output.strip().splitlines()
    assert line.startswith("error: audience 'typo': trait 'lifetime_revenu' is not a column of cdp.profiles")
    assert "lifetime_revenue" in line
