"""Every destination reads any error body without raising: HTML from a proxy, a JSON list, JSON."""

from __future__ import annotations

import httpx
import pytest

from dagster_project.demo_destinations import EMULATOR_APPS, destination_sections
from destinations.base import json_object
from destinations.engine import make_destination
from headwater.config import parse_config

BODIES = {
    "html": ("text/html", b"<html><body>502 Bad Gateway</body></html>"),
    "json list": ("application/json", b"[1, 2]"),
    "json object": ("application/json", b'{"error": {"message": "nope", "code": 190}, "code": 40001}'),
    "empty": ("application/json", b""),
}


def response(kind: str, status: int = 400) -> httpx.Response:
    content_type, content = BODIES[kind]
    return httpx.Response(status, content=content, headers={"content-type": content_type},
                          request=httpx.Request("POST", "http://127.0.0.1:9/x"))


def test_json_object_is_the_body_only_when_it_is_a_json_object():
    assert json_object(response("json object"))["code"] == 40001
    assert [json_object(response(kind)) for kind in ("html", "json list", "empty")] == [None, None, None]


CONFIG = parse_config({"warehouse": "duckdb:///unused.duckdb",
                       **destination_sections({vendor: "http://127.0.0.1:9" for vendor in EMULATOR_APPS})})


@pytest.mark.parametrize("entry", CONFIG.destinations, ids=lambda entry: entry.type)
@pytest.mark.parametrize("kind", sorted(BODIES))
def test_every_destination_describes_any_error_body_as_code_and_message(entry, kind):
    code, message = make_destination(entry).describe_error(response(kind))
    assert isinstance(code, str) and code and isinstance(message, str)
