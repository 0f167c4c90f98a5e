"""The Dagster UI's view of the project: a real `dagster-webserver` on a free loopback port,
asked through its GraphQL endpoint for every asset, check, schedule and sensor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from headwater.loopback import free_port
from tests.dagster_kit import write_project
from tests.test_dagster_definitions import SNAPSHOT

LOCATION_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
PROJECT_QUERY = """{
  assetNodes { assetKey { path } groupName description
    assetChecksOrError { ... on AssetChecks { checks { name } } } }
  repositoriesOrError { ... on RepositoryConnection { nodes {
    schedules { name cronSchedule scheduleState { status } }
    sensors { name sensorState { status } } } } }
}"""


def graphql(url: str, query: str) -> dict:
    response = httpx.post(f"{url}/graphql", json={"query": query}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


@pytest.fixture
def webserver(tmp_path, duckdb_warehouse):
    port = free_port()
    env = {**os.environ, "HEADWATER_CONFIG": str(write_project(tmp_path, duckdb_warehouse.url)),
           "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    command = [str(Path(sys.executable).with_name("dagster-webserver")), "-m", "dagster_project.definitions",
               "-h", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "dagster-webserver did not load the project within 90 s"
            try:
                entries = graphql(url, LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
            except (httpx.TransportError, httpx.HTTPStatusError):
                entries = []
            if entries and entries[0]["loadStatus"] == "LOADED":
                assert entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation", entries
                break
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_the_ui_shows_every_asset_check_schedule_and_sensor_of_the_project(webserver):
    expected = json.loads(SNAPSHOT.read_text())
    data = graphql(webserver, PROJECT_QUERY)
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    assert set(nodes) == set(expected["assets"])
    assert {key: n["groupName"] for key, n in nodes.items()} == {k: v["group"] for k, v in expected["assets"].items()}
    assert nodes["cdp/profiles"]["description"]  # the model's documentation reaches the UI
    checks = sorted(f"{key}:{check['name']}" for key, n in nodes.items()
                    for check in (n["assetChecksOrError"].get("checks") or []))
    assert checks == expected["checks"]
    repository = data["repositoriesOrError"]["nodes"][0]
    assert {s["name"]: s["cronSchedule"] for s in repository["schedules"]} == expected["schedules"]
    assert sorted(s["name"] for s in repository["sensors"]) == expected["sensors"]
    # the demo configuration: nothing starts on its own
    assert {s["scheduleState"]["status"] for s in repository["schedules"]} == {"STOPPED"}
    assert {s["sensorState"]["status"] for s in repository["sensors"]} == {"STOPPED"}
