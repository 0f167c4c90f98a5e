"""Issue 17: secrets leave text in every encoding they are sent in, wherever text is stored.

Unit cases for headwater.redaction, then an echo vendor on loopback that answers 401 with the
request it got (headers, query, body) while a sync runs: `cdp.sync_runs` and `cdp.sync_errors`
must hold the canary in no encoding.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import quote, quote_plus

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from destinations.delivery import VirtualTime
from destinations.engine import run_sync
from headwater.loopback import LoopbackServer
from headwater.redaction import MASK, redact
from tests.email_analytics_kit import config, conversion, set_conversions

CANARY = "Cnry/7z+Q9==x:tok&1//secret"


def every_encoding(secret: str) -> list[str]:
    """An independent list of the forms the canary could take (not the redactor's own)."""
    return [secret, quote(secret, safe=""), quote_plus(secret), re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe="")),
            orjson.dumps(secret).decode()[1:-1],
            base64.b64encode(f"{secret}:".encode()).decode(), base64.b64encode(f":{secret}".encode()).decode(),
            base64.b64encode(f"anystring:{secret}".encode()).decode(),
            base64.b64encode(f"svc-user.1:{secret}".encode()).decode(),
            base64.urlsafe_b64encode(f"u:{secret}".encode()).decode().rstrip("=")]


def leaks(text: str) -> list[str]:
    return [form for form in every_encoding(CANARY) if form in text]


@pytest.mark.parametrize("form", every_encoding(CANARY))
def test_each_encoding_of_a_secret_is_masked_inside_surrounding_text(form):
    text = f'error: {{"echo": "Authorization: Basic {form}", "url": "https://v.example/x?key={form}&a=1"}}'
    redacted = redact(text, [CANARY])
    assert leaks(redacted) == [] and MASK in redacted
    assert "https://v.example/x?key=" in redacted and '"url"' in redacted, "the rest of the text stays readable"


def test_text_without_a_secret_is_unchanged_even_when_it_is_base64():
    text = "id=" + base64.b64encode(b"nothing secret here at all").decode() + " Basic dXNlcjpwYXNz"
    assert redact(text, [CANARY]) == text


def echo_vendor() -> Starlette:
    """Answers every request 401, echoing back what it was sent: the worst vendor there is."""
    async def echo(request: Request) -> JSONResponse:
        body = (await request.body()).decode("utf-8", "replace")
        echoed = (f"unauthorized: you sent {request.headers.get('authorization')} ?{request.url.query} "
                  f"{dict(request.headers)} {body}")
        return JSONResponse({"error": echoed, "message": echoed, "detail": echoed}, status_code=401)
    return Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])])


def stored_text(warehouse) -> str:
    rows = warehouse.query("SELECT * FROM cdp.sync_runs") + warehouse.query("SELECT * FROM cdp.sync_errors")
    return " ".join(str(value) for row in rows for value in row.values())


@pytest.mark.parametrize("credentials", [
    {"service_account_username": "svc-user.1", "service_account_secret": CANARY, "project_id": "42"},
    {"api_secret": CANARY},
], ids=["service-account", "api-secret"])
def test_a_vendor_echoing_basic_auth_back_with_401_leaves_no_secret_in_sync_tables(duckdb_warehouse, credentials):
    set_conversions(duckdb_warehouse, [conversion(n) for n in range(1, 4)])
    with LoopbackServer(echo_vendor()) as vendor:
        cfg = config(duckdb_warehouse, {"name": "mixpanel", "type": "mixpanel_events", "base_url": vendor.url,
                                        "credentials": credentials},
                     {"name": "orders_to_mixpanel", "source": {"model": "cdp.conversions"}, "destination": "mixpanel"})
        report = run_sync(cfg, "orders_to_mixpanel", timing=VirtualTime())
    assert report.status == "failed" and "401" in report.message
    text = stored_text(duckdb_warehouse)
    assert "unauthorized" in text, "the vendor's answer is kept, so the check below has something to search"
    assert leaks(text) == [] and leaks(report.message) == []


def test_pull_prints_a_vendor_error_echoing_the_key_without_the_key(tmp_path, monkeypatch, private_dlt_dir):
    import yaml
    from click.testing import CliRunner

    from headwater.cli import cli

    monkeypatch.delenv("HEADWATER_WAREHOUSE", raising=False)
    monkeypatch.setenv("CANARY_STRIPE_KEY", "sk_test_" + CANARY)
    with LoopbackServer(echo_vendor()) as vendor:
        path = tmp_path / "headwater.yml"
        path.write_text(yaml.safe_dump({"warehouse": f"duckdb:///{tmp_path / 'w.duckdb'}", "sources": [
            {"name": "payments", "type": "stripe", "api_key": "${CANARY_STRIPE_KEY}", "base_url": vendor.url}]}))
        result = CliRunner().invoke(cli, ["pull", "--config", str(path)])
    assert result.exit_code == 2 and "payments" in result.output and "401" in result.output, result.output
    assert leaks(result.output) == []
    files = {p: p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*") if p.is_file()}
    assert {str(p): leaks(text) for p, text in files.items() if leaks(text)} == {}


@pytest.mark.parametrize("raw", [
    {"destinations": [{"name": "k", "type": "klaviyo_list", "credentials": {"api_key": CANARY, "bogus": CANARY},
                       "settings": {"list_id": "x"}}]},
    {"destinations": [{"name": "m", "type": "mixpanel_events", "credentials": {"api_secret": [CANARY]}}]},
    {"sources": [{"name": "s", "type": "stripe", "api_key": {"key": CANARY}}]},
    {"sources": [{"name": "w", "type": "events", "write_key": [CANARY]}]},
], ids=["unknown-field-beside-a-key", "key-of-wrong-type", "source-key-as-object", "write-key-as-list"])
def test_config_errors_name_the_field_never_the_secret(raw):
    from headwater.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as error:
        parse_config(raw)
    assert leaks(str(error.value)) == [] and "headwater.yml is not valid" in str(error.value)
