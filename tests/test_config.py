"""headwater.yml: defaults, ${ENV} secrets, overrides, and errors that name the bad key."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from headwater.cli import cli
from headwater.config import ConfigError, find_named, load_config, parse_config


def test_missing_default_file_means_demo_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HEADWATER_CONFIG", raising=False)
    monkeypatch.delenv("HEADWATER_WAREHOUSE", raising=False)
    config = load_config()
    assert config.warehouse == "duckdb:///data/warehouse.duckdb" and config.sources == []
    assert str(config.collect.spool_dir) == "data/spool"


def test_secrets_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SITE_KEY", "s3cret-value")
    config = parse_config({"sources": [{"name": "website", "type": "events", "write_key": "${SITE_KEY}"},
                                       {"name": "app", "type": "events", "write_key": "${APP_KEY:-fallback}"}]})
    assert config.sources[0].write_key.get_secret_value() == "s3cret-value"
    assert config.sources[1].write_key.get_secret_value() == "fallback"
    assert "s3cret-value" not in repr(config)


def test_unset_environment_variable_names_the_key_and_the_variable(monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ConfigError, match=r"sources\[0\]\.write_key: environment variable NOT_SET_ANYWHERE"):
        parse_config({"sources": [{"name": "website", "type": "events", "write_key": "${NOT_SET_ANYWHERE}"}]})


def test_headwater_warehouse_overrides_the_file(monkeypatch):
    monkeypatch.setenv("HEADWATER_WAREHOUSE", "postgresql://postgres@127.0.0.1:5432/test")
    assert parse_config({"warehouse": "duckdb:///x.duckdb"}).warehouse.startswith("postgresql://")


@pytest.mark.parametrize("raw,message", [
    ({"warehose": "duckdb:///x"}, "warehose: Extra inputs are not permitted"),
    ({"warehouse": "mysql://x"}, "warehouse: Value error, must be a duckdb:///"),
    ({"collect": {"port": "eighty"}}, "collect.port: Input should be a valid integer"),
    ({"sources": [{"name": "Web Site", "type": "events", "write_key": "k"}]},
     "sources[0].name: Value error, must be a lowercase warehouse schema name"),
    ({"sources": [{"name": "website", "type": "events"}]}, "sources[0].write_key: Field required"),
    ({"sources": [{"name": "a", "type": "events", "write_key": "k"}, {"name": "a", "type": "events",
                                                                      "write_key": "j"}]}, "used twice"),
    ({"sources": [{"name": "crm", "type": "salesforce"}]}, "sources[0]"),
])
def test_invalid_config_names_the_key_at_fault(raw, message):
    with pytest.raises(ConfigError) as error:
        parse_config(raw)
    assert message in str(error.value)


HOOK = {"name": "hook", "type": "webhook", "base_url": "http://127.0.0.1:9", "credentials": {"signing_secret": "s"}}
SYNC = {"name": "vip_to_hook", "source": {"audience": "vip"}, "destination": "hook"}
COUNTER = {"name": "orders", "kind": "event_counter", "event": "Order Completed"}


@pytest.mark.parametrize("raw,message", [
    ({"destinations": [HOOK, HOOK]}, "destination name 'hook' is used twice"),
    ({"destinations": [HOOK], "syncs": [SYNC, SYNC]}, "sync name 'vip_to_hook' is used twice"),
    ({"traits": {"computed": [COUNTER, COUNTER]}}, "trait name 'orders' is used twice; each becomes one column"),
    ({"sources": [{"name": "a", "type": "events", "write_key": "k"}] * 2},
     "source name 'a' is used twice; names are schemas and must be unique"),
])
def test_every_named_section_refuses_a_name_used_twice(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_an_unknown_entry_name_is_an_error_listing_the_names_configured():
    config = parse_config({"sources": [{"name": "website", "type": "events", "write_key": "k"}]})
    assert config.source("website").name == "website"
    with pytest.raises(ConfigError, match=r"no source named 'web' in the sources section \(known: website\)"):
        config.source("web")
    with pytest.raises(ConfigError, match=r"no destination named 'x' in the destinations section \(known: none "):
        find_named(config.destinations, "x", "destination")


def test_cli_prints_one_line_error_not_a_traceback(tmp_path):
    bad = tmp_path / "headwater.yml"
    bad.write_text("collect:\n  port: eighty\n")
    result = CliRunner().invoke(cli, ["serve", "--config", str(bad)])
    assert result.exit_code != 0
    assert "collect.port" in result.output and "Traceback" not in result.output


def test_serve_without_an_events_source_explains_how_to_add_one(tmp_path):
    empty = tmp_path / "headwater.yml"
    empty.write_text("warehouse: duckdb:///data/w.duckdb\n")
    result = CliRunner().invoke(cli, ["serve", "--config", str(empty)])
    assert result.exit_code != 0 and "type: events" in result.output
