"""`headwater pull`: runs the configured cloud sources and reports rows; fixable errors are one line."""

from __future__ import annotations

import time

import pytest
import yaml
from click.testing import CliRunner

from headwater.cli import cli
from headwater.loopback import LoopbackServer, free_port
from sources.mailchimp.emulator import DEFAULT_API_KEY as MAILCHIMP_KEY
from sources.mailchimp.emulator import MailchimpEmulator
from sources.mailchimp.emulator import create_app as mailchimp_app
from sources.stripe.emulator import DEFAULT_API_KEY as STRIPE_KEY
from sources.stripe.emulator import StripeEmulator
from sources.stripe.emulator import create_app as stripe_app


@pytest.fixture(autouse=True)
def no_warehouse_override(private_dlt_dir, monkeypatch):
    monkeypatch.delenv("HEADWATER_WAREHOUSE", raising=False)


@pytest.fixture
def servers():
    now = int(time.time())
    stripe = StripeEmulator([{"id": f"cus_{i}", "object": "customer", "created": now - 100 + i, "email": f"{i}@x.io"}
                             for i in range(3)])
    mailchimp = MailchimpEmulator(lists=[{"id": "l1", "name": "News"}],
                                  members=[{"id": "m1", "email_address": "a@x.io", "list_id": "l1",
                                            "status": "subscribed", "last_changed": "2025-01-01T00:00:00+00:00"}])
    with LoopbackServer(stripe_app(stripe)) as s, LoopbackServer(mailchimp_app(mailchimp)) as m:
        yield s.url, f"{m.url}/3.0"


def write_config(tmp_path, sources: list[dict]) -> str:
    path = tmp_path / "headwater.yml"
    path.write_text(yaml.safe_dump({"warehouse": f"duckdb:///{tmp_path / 'w.duckdb'}", "sources": sources}))
    return str(path)


def test_pull_loads_every_cloud_source_and_prints_rows_per_table(tmp_path, servers, monkeypatch):
    stripe_url, mailchimp_url = servers
    monkeypatch.setenv("TEST_STRIPE_KEY", STRIPE_KEY)
    config = write_config(tmp_path, [
        {"name": "payments", "type": "stripe", "api_key": "${TEST_STRIPE_KEY}", "base_url": stripe_url},
        {"name": "email", "type": "mailchimp", "api_key": MAILCHIMP_KEY, "base_url": mailchimp_url},
        {"name": "website", "type": "events", "write_key": "wk"},
    ])
    result = CliRunner().invoke(cli, ["pull", "--config", config])
    assert result.exit_code == 0, result.output
    lines = [line.split("│") for line in result.stdout.splitlines() if "│" in line]
    cells = {(row[1].strip(), row[2].strip()): row[3].strip() for row in lines if len(row) >= 4}
    assert cells[("payments", "customers")] == "3" and cells[("email", "members")] == "1"

    only = CliRunner().invoke(cli, ["pull", "email", "--config", config])
    assert only.exit_code == 0 and "payments" not in only.stdout


def test_missing_api_key_is_one_line_naming_the_key_and_env_var(tmp_path, servers):
    config = write_config(tmp_path, [{"name": "payments", "type": "stripe", "base_url": servers[0]}])
    result = CliRunner().invoke(cli, ["pull", "--config", config])
    assert result.exit_code == 2
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: payments: sources.payments.api_key is not set") and "STRIPE_API_KEY" in line


def test_unreachable_api_is_one_line_without_a_traceback(tmp_path):
    config = write_config(tmp_path, [{"name": "payments", "type": "stripe", "api_key": "rk_test_secret_value",
                                      "base_url": f"http://127.0.0.1:{free_port()}"}])
    result = CliRunner().invoke(cli, ["pull", "--config", config])
    assert result.exit_code == 2
    assert "error: payments:" in result.stderr and "cannot reach" in result.stderr
    assert "Traceback" not in result.output and "secret_value" not in result.output


def test_unknown_source_name_lists_the_configured_ones(tmp_path, servers):
    config = write_config(tmp_path, [{"name": "payments", "type": "stripe", "api_key": STRIPE_KEY,
                                      "base_url": servers[0]}])
    result = CliRunner().invoke(cli, ["pull", "shop", "--config", config])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: no cloud source named 'shop' in headwater.yml; configured: payments"
