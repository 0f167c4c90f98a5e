"""`headwater plan check|codegen|infer`, and what a bad plan file looks like to its author."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import orjson
import pytest
import yaml
from click.testing import CliRunner

from headwater.loopback import LoopbackServer
from pipelines.spool_loader import load_spool
from sources.collect.app import create_app
from sources.tracking_plan.commands import plan
from sources.tracking_plan.plan import load_plan
from tests.collect_helpers import WRITE_KEYS, collect_config_dict, spooled_messages
from tests.load_helpers import events, identify, track, write_spool_file
from tests.tracking_plan_kit import BAD_EVENTS, good_events, plan_config, write_plan

pytestmark = pytest.mark.timeout(120)


def test_check_lists_each_violation_and_exits_1(tmp_path):
    plan_file = write_plan(tmp_path)
    event_file = tmp_path / "events.json"
    event_file.write_bytes(orjson.dumps({"batch": good_events() + list(BAD_EVENTS.values()) + [{"type": "track"}]}))
    result = CliRunner().invoke(plan, ["check", str(event_file), "--plan", str(plan_file)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "message 7 (track 'Order Completed'): type_mismatch currency: expected string, got integer " \
           "[policy: flag]" in lines
    assert "message 6 (identify): missing_required email: is required but missing [policy: flag]" in lines
    assert any(line.startswith("message 5 (track 'Coupon Applied'): unplanned_event") for line in lines)
    assert "message 9: invalid: userId: every message needs a userId or an anonymousId" in lines
    assert not any(line.startswith(("message 0 ", "message 1 ", "message 4 ")) for line in lines)

    event_file.write_bytes(orjson.dumps(good_events()))
    clean = CliRunner().invoke(plan, ["check", str(event_file), "--plan", str(plan_file)])
    assert clean.exit_code == 0 and clean.output.strip().endswith("all keep the plan")


def test_a_bad_plan_file_is_reported_by_field_not_with_a_stack_trace(tmp_path):
    (tmp_path / "plan.yml").write_text(yaml.safe_dump({"track": {"Order Completed": {
        "requried": ["order_id"], "properties": {"revenue": {"type": "money"}, "sku": {"pattern": "("}}}}}))
    (tmp_path / "events.json").write_text("{}")
    result = subprocess.run([sys.executable, "-m", "headwater.cli", "plan", "check", "events.json", "--plan",
                             "plan.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "track.Order Completed.properties.revenue.type: Value error, must be one of string, number" in result.stderr
    assert "track.Order Completed.properties.sku.pattern: Value error, is not a valid regular expression" \
           in result.stderr
    assert "track.Order Completed.requried: Extra inputs are not permitted" in result.stderr


def test_generated_helpers_import_check_values_and_send_events_that_keep_the_plan(tmp_path):
    config = plan_config(tmp_path, None, unplanned_property="flag")
    module_file = tmp_path / "website_plan.py"
    result = CliRunner().invoke(plan, ["codegen", "--python", "--plan", str(tmp_path / "plan.yml"),
                                       "-o", str(module_file)])
    assert result.exit_code == 0, result.output
    spec = importlib.util.spec_from_file_location("website_plan", module_file)
    generated = importlib.util.module_from_spec(spec)
    sys.modules["website_plan"] = generated
    try:
        spec.loader.exec_module(generated)
        with pytest.raises(ValueError, match="currency: must be one of"):
            generated.OrderCompleted(order_id="o-1", revenue=1.0, currency="GBP")
        with pytest.raises(ValueError, match="revenue: expected float, got str"):
            generated.OrderCompleted(order_id="o-1", revenue="ten")
        with pytest.raises(TypeError):
            generated.OrderCompleted(order_id="o-1")  # revenue is required
        assert generated.PLAN_VERSION == load_plan(tmp_path / "plan.yml").version()

        from segment.analytics.client import Client

        errors: list = []
        with LoopbackServer(create_app(config)) as server:
            client = Client(WRITE_KEYS["website"], host=server.url, on_error=lambda e, b: errors.append(e))
            generated.track(client, "user-1", generated.OrderCompleted(order_id="o-9", revenue=20, currency="USD"))
            generated.identify(client, "user-1", generated.IdentifyTraits(email="ada@example.com", age=36))
            generated.page(client, "user-1", "Home", generated.PageProperties(url="https://x.example/"))
            client.flush()
            client.join()
        assert errors == []
    finally:
        sys.modules.pop("website_plan", None)
    sent = spooled_messages(tmp_path / "spool")
    assert [m["type"] for m in sent] == ["track", "identify", "page"]
    assert sent[0]["properties"] == {"order_id": "o-9", "revenue": 20, "currency": "USD"}
    assert not any("protocols" in m.get("context", {}) for m in sent), "no violations recorded"


@pytest.mark.usefixtures("private_dlt_dir")
def test_infer_writes_a_plan_the_loaded_events_keep(tmp_path, warehouse):
    raw = collect_config_dict(tmp_path / "spool", warehouse.url)
    (tmp_path / "headwater.yml").write_text(yaml.safe_dump(raw))
    config = plan_config(tmp_path, warehouse.url)
    sent = [track("o1", order_id="o-1", revenue=5.5, quantity=2, currency="EUR"),
            track("o2", order_id="o-2", revenue=7.0, quantity=1),
            track("v1", event="Product Viewed", product_id="sku-1"),
            identify("i1", "user-1", "2024-05-01T11:00:00.000Z", email="a@example.com", vip=True)]
    write_spool_file(config, [events(sent)])
    load_spool(config)
    output = tmp_path / "inferred.yml"
    result = CliRunner().invoke(plan, ["infer", "--config", str(tmp_path / "headwater.yml"), "--source", "website",
                                       "-o", str(output)])
    assert result.exit_code == 0, result.output
    inferred = load_plan(output)
    order = inferred.track["Order Completed"]
    assert order.required == ["order_id", "quantity", "revenue"]
    assert {name: rule.type for name, rule in order.properties.items()} == {
        "currency": "string", "order_id": "string", "quantity": "number", "revenue": "number"}  # the loader stores every JSON number as a double
    assert set(inferred.track) == {"Order Completed", "Product Viewed"}
    assert {name: rule.type for name, rule in inferred.identify.properties.items()} == {
        "email": "string", "vip": "boolean"}
    again = CliRunner().invoke(plan, ["infer", "--config", str(tmp_path / "headwater.yml"), "--source", "website",
                                      "-o", str(output)])
    assert again.exit_code == 2 and "pass --force" in again.output

    event_file = tmp_path / "events.json"
    event_file.write_bytes(orjson.dumps(sent))
    checked = CliRunner().invoke(plan, ["check", str(event_file), "--plan", str(output)])
    assert checked.exit_code == 0, checked.output
