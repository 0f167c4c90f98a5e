"""`headwater destination test` and `headwater sync --dry-run` for the email and analytics destinations."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
import yaml
from click.testing import CliRunner

from destinations.emulators import amplitude, ga4, klaviyo, mailchimp, mixpanel
from headwater.cli import cli
from headwater.loopback import LoopbackServers
from tests.email_analytics_kit import person, plan_lines, set_profiles


@pytest.fixture
def servers():
    apps = {"klaviyo": klaviyo.create_app(), "mailchimp": mailchimp.create_app(), "ga4": ga4.create_app(),
            "mixpanel": mixpanel.create_app(), "amplitude": amplitude.create_app()}
    with LoopbackServers(apps) as group:
        yield {name: server.url for name, server in group.servers.items()}


def write_config(tmp_path, warehouse, urls, klaviyo_key=klaviyo.API_KEY, mailchimp_key=mailchimp.API_KEY):
    document = {
        "warehouse": warehouse.url,
        "destinations": [
            {"name": "klaviyo", "type": "klaviyo_list", "base_url": urls["klaviyo"],
             "credentials": {"api_key": klaviyo_key}, "settings": {"list_id": klaviyo.LIST_ID}},
            {"name": "mailchimp", "type": "mailchimp_audience", "base_url": urls["mailchimp"] + "/3.0",
             "credentials": {"api_key": mailchimp_key}, "settings": {"list_id": mailchimp.LIST_ID}},
            {"name": "ga4", "type": "ga4_events", "base_url": urls["ga4"],
             "credentials": {"api_secret": ga4.API_SECRET}, "settings": {"measurement_id": ga4.MEASUREMENT_ID}},
            {"name": "mixpanel", "type": "mixpanel_events", "base_url": urls["mixpanel"],
             "credentials": {"api_secret": mixpanel.API_SECRET}},
            {"name": "amplitude", "type": "amplitude_identify", "base_url": urls["amplitude"],
             "credentials": {"api_key": amplitude.API_KEY}},
        ],
        "syncs": [{"name": "vips_to_klaviyo", "source": {"audience": "vips"}, "destination": "klaviyo",
                   "mode": "mirror"}],
    }
    path = tmp_path / "headwater.yml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_destination_test_passes_for_each_vendor_with_good_credentials(tmp_path, duckdb_warehouse, servers):
    path = write_config(tmp_path, duckdb_warehouse, servers)
    for name in ("klaviyo", "mailchimp", "ga4", "mixpanel", "amplitude"):
        result = CliRunner().invoke(cli, ["destination", "test", name, "--config", str(path)])
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"{name}: ok: ")


def test_destination_test_says_what_is_wrong_in_one_line_without_the_secret(tmp_path, duckdb_warehouse, servers):
    wrong = "pk_this_is_not_the_right_key"
    path = write_config(tmp_path, duckdb_warehouse, servers, klaviyo_key=wrong,
                        mailchimp_key="ffffffffffffffffffffffffffffffff-us21")
    for name, expected in (("klaviyo", "refused the key"), ("mailchimp", "refused the API key")):
        result = CliRunner().invoke(cli, ["destination", "test", name, "--config", str(path)])
        assert result.exit_code == 2
        [line] = result.output.strip().splitlines()
        assert line.startswith(f"error: {name}: ") and expected in line
        assert wrong not in result.output and "Traceback" not in result.output


def test_a_klaviyo_removal_plan_shows_the_lookup_and_the_delete_and_sends_nothing(tmp_path, duckdb_warehouse,
                                                                                  servers):
    path = write_config(tmp_path, duckdb_warehouse, servers)
    people = [person(n) for n in range(1, 4)]
    set_profiles(duckdb_warehouse, people, {"vips": ["prof-00001", "prof-00002", "prof-00003"]})
    assert CliRunner().invoke(cli, ["sync", "vips_to_klaviyo", "--config", str(path)]).exit_code == 0

    set_profiles(duckdb_warehouse, people, {"vips": ["prof-00001"]})
    plan = tmp_path / "plan.jsonl"
    result = CliRunner().invoke(cli, ["sync", "vips_to_klaviyo", "--dry-run", "--plan", str(plan),
                                      "--config", str(path)])
    assert result.exit_code == 0, result.output
    lookup, delete = plan_lines(plan)
    assert (lookup["method"], delete["method"]) == ("GET", "DELETE")
    assert 'any(external_id,["prof-00002","prof-00003"])' in unquote(lookup["url"]) and delete["url"].endswith(
        f"/api/lists/{klaviyo.LIST_ID}/relationships/profiles")
    assert [d["id"] for d in delete["body"]["data"]] == ["<profile id of external_id prof-00002>",
                                                        "<profile id of external_id prof-00003>"]
    assert klaviyo.API_KEY not in plan.read_text()
