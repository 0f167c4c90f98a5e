"""The official SDKs, unchanged, pointed at our host: what they send is what we spool."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.collect_helpers import WRITE_KEYS, spooled_messages, start_collect

NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture
def spool_dir(tmp_path):
    return tmp_path / "spool"


def test_segment_analytics_python_delivers_every_call_type(spool_dir):
    from segment.analytics.client import Client

    errors = []
    with_server = start_collect(spool_dir)
    try:
        client = Client(WRITE_KEYS["website"], host=with_server.url, on_error=lambda e, batch: errors.append(e),
                        upload_size=50, max_retries=1)
        for index in range(120):
            client.track(f"user-{index % 7}", "Product Viewed", {"sku": f"SKU-{index}"}, message_id=f"seg-{index}")
        client.identify("user-1", {"email": "Ada@Example.com"}, message_id="seg-identify")
        client.page("user-1", "Docs", "Quickstart", {"url": "https://x.test/docs"}, message_id="seg-page")
        client.screen("user-1", "App", "Home", message_id="seg-screen")
        client.group("user-1", "acme", {"plan": "pro"}, message_id="seg-group")
        client.alias("user-1", "anon-previous", message_id="seg-alias")
        client.flush()
        client.join()
    finally:
        with_server.stop()
    assert errors == []
    messages = {m["messageId"]: m for m in spooled_messages(spool_dir)}
    assert {f"seg-{i}" for i in range(120)} <= messages.keys()
    assert messages["seg-identify"]["traits"] == {"email": "Ada@Example.com"}
    assert messages["seg-alias"]["previousId"] == "user-1" or messages["seg-alias"]["userId"] == "anon-previous"
    assert messages["seg-group"]["groupId"] == "acme"
    assert messages["seg-7"]["context"]["library"]["name"] == "analytics-python"


def test_rudder_sdk_python_gzipped_batches_arrive(spool_dir):
    from rudderstack.analytics.client import Client

    errors = []
    server = start_collect(spool_dir)
    try:
        client = Client(WRITE_KEYS["app"], host=server.url, gzip=True, on_error=lambda e, b: errors.append(e),
                        upload_size=40, max_retries=1)
        for index in range(90):
            client.track(f"device-user-{index}", "Ticket Scanned", {"gate": index % 3}, message_id=f"rs-{index}")
        client.identify("device-user-1", {"phone": "+1 555 0100"}, message_id="rs-identify")
        client.flush()
        client.join()
    finally:
        server.stop()
    assert errors == []
    messages = {m["messageId"]: m for m in spooled_messages(spool_dir)}
    assert {f"rs-{i}" for i in range(90)} | {"rs-identify"} <= messages.keys()
    assert messages["rs-5"]["properties"] == {"gate": 2}


def _node_sdk_ready() -> bool:
    if not shutil.which("node") or not shutil.which("npm"):
        return False
    if not (NODE_DIR / "node_modules" / "@segment" / "analytics-node").exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=NODE_DIR, check=True,
                       timeout=300, capture_output=True)
    return True


def test_segment_analytics_node_delivers_batches(spool_dir):
    if not _node_sdk_ready():
        pytest.skip("Node.js is not installed here; the Python SDK tests cover the protocol")
    server = start_collect(spool_dir)
    try:
        result = subprocess.run(["node", "send.mjs", server.url, WRITE_KEYS["website"], "60"], cwd=NODE_DIR,
                                capture_output=True, text=True, timeout=120)
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["errors"] == []
    messages = {m["messageId"]: m for m in spooled_messages(spool_dir)}
    assert {f"node-{i}" for i in range(60)} <= messages.keys()
    assert messages["node-3"]["context"]["library"]["name"] == "@segment/analytics-node"
