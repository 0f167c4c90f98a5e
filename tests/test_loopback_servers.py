"""LoopbackServers: the demo's emulator groups start as one and leave nothing running on failure."""

from __future__ import annotations

import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from dagster_project.demo_destinations import EMULATOR_APPS, DestinationEmulators
from headwater.loopback import LoopbackServer, LoopbackServers


def hello_app() -> Starlette:
    return Starlette(routes=[Route("/", lambda request: PlainTextResponse("hello"))])


class Pair(LoopbackServers):
    def __init__(self, second_port: int | None = None):
        super().__init__()
        self.second_port = second_port

    def planned(self):
        yield "first", LoopbackServer(hello_app())
        yield "second", LoopbackServer(hello_app(), port=self.second_port)


def refuses(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.TransportError:
        return True
    return False


@pytest.mark.parametrize("group", [Pair, lambda: LoopbackServers({"first": hello_app(), "second": hello_app()})],
                         ids=["planned", "apps by name"])
def test_a_group_serves_every_server_and_stops_them_all_on_exit(group):
    with group() as pair:
        urls = [server.url for server in pair.servers.values()]
        assert list(pair.servers) == ["first", "second"]
        assert [httpx.get(url).text for url in urls] == ["hello", "hello"]
    assert pair.servers == {} and all(refuses(url) for url in urls)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the refused bind
def test_when_one_server_cannot_start_those_already_running_are_stopped(monkeypatch):
    started: list[str] = []
    original_start = LoopbackServer.start

    def remembering_start(server, *args, **kwargs):
        started.append(server.url)
        return original_start(server, *args, **kwargs)

    monkeypatch.setattr(LoopbackServer, "start", remembering_start)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        pair = Pair(second_port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match="failed to start"):
            pair.start()
    assert pair.servers == {}
    assert len(started) == 2 and refuses(started[0])


def test_the_destination_emulators_serve_one_server_per_vendor():
    with DestinationEmulators() as emulators:
        sections = emulators.config_sections()
        assert sorted(emulators.servers) == sorted(EMULATOR_APPS)
        assert {d["base_url"].split("/")[2] for d in sections["destinations"]} <= {
            server.url.split("/")[2] for server in emulators.servers.values()}
