"""`headwater sync` and `headwater destination test` as a user runs them."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from destinations.emulators import google as google_emulator
from destinations.emulators import meta as meta_emulator
from destinations.emulators import slack as slack_emulator
from destinations.emulators.kit import DestinationControl
from headwater.cli import cli
from headwater.loopback import LoopbackServers
from tests.sync_fixtures import conversion, create_cdp, profile

META_TOKEN = "EAAB-very-secret-meta-token"


@pytest.fixture
def emulators():
    controls = {"meta": DestinationControl(), "google": DestinationControl(), "slack": DestinationControl()}
    apps = {"meta": meta_emulator.create_app(access_token=META_TOKEN, control=controls["meta"]),
            "google": google_emulator.create_app(control=controls["google"]),
            "slack": slack_emulator.create_app(control=controls["slack"])}
    with LoopbackServers(apps) as group:
        yield group.servers, controls


@pytest.fixture
def project(tmp_path, duckdb_warehouse, emulators, monkeypatch):
    servers, _ = emulators
    monkeypatch.setenv("META_TOKEN", META_TOKEN)
    monkeypatch.setenv("GOOGLE_SECRET", "client-secret")
    monkeypatch.setenv("GOOGLE_REFRESH", "refresh-token")
    create_cdp(duckdb_warehouse, [profile(i) for i in range(3)], [("vip", f"p{i:05d}") for i in range(3)],
               [conversion(i) for i in range(2)])
    config = {
        "warehouse": duckdb_warehouse.url,
        "destinations": [
            {"name": "meta_vip", "type": "meta_audience", "base_url": servers["meta"].url,
             "credentials": {"access_token": "${META_TOKEN}"}, "settings": {"audience_id": "6001"}},
            {"name": "gads", "type": "google_conversions", "base_url": servers["google"].url,
             "credentials": {"client_id": "client-id", "client_secret": "${GOOGLE_SECRET}",
                             "refresh_token": "${GOOGLE_REFRESH}"},
             "settings": {"operating_account_id": "123", "product_destination_id": "9",
                          "token_url": servers["google"].url + "/token"}},
            {"name": "team", "type": "slack", "base_url": servers["slack"].url,
             "credentials": {"webhook_url": "https://hooks.slack.com/services/T000/B000/wrong"}},
        ],
        "syncs": [
            {"name": "vip_to_meta", "source": {"audience": "vip"}, "destination": "meta_vip", "mode": "mirror",
             "schedule": "0 * * * *"},
            {"name": "purchases_to_google", "source": {"model": "cdp.conversions"}, "destination": "gads"},
        ],
    }
    path = tmp_path / "headwater.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_sync_list_prints_one_sync_a_line_name_first(project):
    result = invoke("sync", "--list", "--config", str(project))
    lines = result.output.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["vip_to_meta", "purchases_to_google"]
    assert "audience:vip" in lines[0] and "mirror" in lines[0] and "0 * * * *" in lines[0]


def test_dry_run_plan_writes_the_exact_requests_with_secrets_redacted_and_sends_nothing(project, tmp_path, emulators):
    _, controls = emulators
    plan = tmp_path / "plan.jsonl"
    result = invoke("sync", "vip_to_meta", "--dry-run", "--plan", str(plan), "--config", str(project))
    assert result.exit_code == 0, result.output
    assert controls["meta"].requests == []
    lines = [json.loads(line) for line in plan.read_text().splitlines()]
    assert len(lines) == 1 and set(lines[0]) == {"destination", "method", "url", "headers", "body"}
    assert lines[0]["method"] == "POST" and lines[0]["url"].endswith("/v24.0/6001/users")
    assert lines[0]["body"]["access_token"] == "***" and len(lines[0]["body"]["payload"]["data"]) == 3
    assert META_TOKEN not in plan.read_text()

    google_plan = tmp_path / "google.jsonl"
    invoke("sync", "purchases_to_google", "--dry-run", "--plan", str(google_plan), "--config", str(project))
    google_line = json.loads(google_plan.read_text())
    assert google_line["headers"]["Authorization"] == "***"
    assert controls["google"].requests == []


def test_sync_runs_then_full_resends_everything(project, emulators):
    _, controls = emulators
    assert "succeeded 3" in invoke("sync", "vip_to_meta", "--config", str(project)).output
    assert "planned 0" in invoke("sync", "vip_to_meta", "--config", str(project)).output
    assert "planned 3" in invoke("sync", "vip_to_meta", "--full", "--config", str(project)).output
    assert len(controls["meta"].members["6001"]) == 3


def test_unknown_sync_is_one_error_line(project):
    result = CliRunner().invoke(cli, ["sync", "nope", "--config", str(project)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: no sync named 'nope' in the syncs section (known: vip_to_meta, purchases_to_google)"]


def test_destination_test_says_ok_or_plainly_what_is_wrong(project, monkeypatch):
    ok = invoke("destination", "test", "meta_vip", "--config", str(project))
    assert ok.exit_code == 0 and "meta_vip: ok" in ok.output
    assert "gads: ok" in invoke("destination", "test", "gads", "--config", str(project)).output

    slack = CliRunner().invoke(cli, ["destination", "test", "team", "--config", str(project)])
    assert slack.exit_code == 2 and "webhook URL is revoked or wrong" in slack.output
    assert "/wrong" not in slack.output

    monkeypatch.setenv("META_TOKEN", "expired-token-value")
    bad = CliRunner().invoke(cli, ["destination", "test", "meta_vip", "--config", str(project)])
    assert bad.exit_code == 2 and bad.output.startswith("error: meta_vip: Meta answered 400 (190")
    assert "generate a new system-user token" in bad.output and "expired-token-value" not in bad.output


def test_dry_run_without_a_plan_file_still_sends_nothing_and_remembers_nothing(project, emulators):
    _, controls = emulators
    result = invoke("sync", "vip_to_meta", "--dry-run", "--config", str(project))
    assert "dry_run" in result.output and controls["meta"].requests == []
    assert "planned 3" in invoke("sync", "vip_to_meta", "--config", str(project)).output
