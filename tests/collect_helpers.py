"""Helpers for driving a real collect endpoint and reading what it spooled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from headwater.config import parse_config
from headwater.loopback import LoopbackServer, free_port
from sources.collect.app import create_app
from sources.collect.spool import CLAIMED, CLOSED, OPEN, read_records

WRITE_KEYS = {"website": "wk-website-123", "app": "wk-app-456"}


STRIPE_WEBHOOK_SECRET = "whsec_collect_helpers"
SHOPIFY_WEBHOOK_SECRET = "shpss_collect_helpers"
WEBHOOK_SOURCES = [
    {"name": "stripe", "type": "stripe", "api_key": "rk_test_helpers", "webhook_secrets": [STRIPE_WEBHOOK_SECRET]},
    {"name": "shopify", "type": "shopify", "access_token": "shpat_helpers", "webhook_secret": SHOPIFY_WEBHOOK_SECRET},
]


def collect_config_dict(spool_dir: Path, warehouse: str | None = None, webhooks: bool = False) -> dict:
    """Two events sources (WRITE_KEYS); with `webhooks`, a Stripe and a Shopify source too."""
    raw = {
        "collect": {"spool_dir": str(spool_dir), "rotate_seconds": 3600},
        "sources": [{"name": name, "type": "events", "write_key": key} for name, key in WRITE_KEYS.items()]
        + (WEBHOOK_SOURCES if webhooks else []),
    }
    if warehouse:
        raw["warehouse"] = warehouse
    return raw


def start_collect(spool_dir: Path, webhooks: bool = False) -> LoopbackServer:
    return LoopbackServer(create_app(parse_config(collect_config_dict(spool_dir, webhooks=webhooks)))).start()


# fixtures the Tracking API tests share: import them into the test module by name
@pytest.fixture
def spool_dir(tmp_path):
    return tmp_path / "spool"


@pytest.fixture
def server(spool_dir):
    """A collect endpoint on loopback with the WRITE_KEYS sources, spooling to `spool_dir`."""
    server = start_collect(spool_dir)
    yield server
    server.stop()


@pytest.fixture
def client(server):
    """An httpx client authenticated as the `website` source."""
    with httpx.Client(base_url=server.url, auth=(WRITE_KEYS["website"], ""), timeout=10) as client:
        yield client


def spooled_records(spool_dir: Path) -> list[dict]:
    """Every record in the spool, whatever state its file is in (server stopped or not)."""
    records = []
    for state in (CLOSED, CLAIMED, OPEN):
        for path in sorted((Path(spool_dir) / state).glob("*.hws")):
            records.extend(read_records(path))
    return records


def spooled_messages(spool_dir: Path, kind: str = "events") -> list[dict]:
    key = "messages" if kind == "events" else "items"
    return [item for record in spooled_records(spool_dir) if record["kind"] == kind for item in record[key]]


class ServeProcess:
    """`headwater serve` in a child process: what the crash test kills with SIGKILL."""

    def __init__(self, config_file: Path, port: int | None = None, workers: int = 1):
        self.config_file, self.port, self.workers = config_file, port or free_port(), workers
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "ServeProcess":
        command = [sys.executable, "-m", "headwater.cli", "serve", "--config", str(self.config_file),
                   "--port", str(self.port), "--workers", str(self.workers), "--log-level", "warning"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        start_new_session=True, env={**os.environ})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise TimeoutError("serve did not become healthy")

    def kill9(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


def write_config(path: Path, spool_dir: Path, warehouse: str | None = None) -> Path:
    path.write_text(yaml.safe_dump(collect_config_dict(spool_dir, warehouse)))
    return path
