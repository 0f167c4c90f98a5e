"""Run an ASGI app on a free loopback port in a background thread.

The vendor emulators, the demo and the tests all need real HTTP servers that start fast
and stop cleanly; this is the one way they do it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, Self

import uvicorn


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LoopbackServer:
    """`with LoopbackServer(app) as server: httpx.get(server.url + "/health")`."""

    def __init__(self, app, host: str = "127.0.0.1", port: int | None = None, log_level: str = "warning"):
        self.host = host
        self.port = port or free_port(host)
        self._server = uvicorn.Server(
            uvicorn.Config(app, host=self.host, port=self.port, log_level=log_level, lifespan="auto",
                           access_log=False)
        )
        self._thread = threading.Thread(target=self._server.run, name=f"loopback-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> "LoopbackServer":
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"server on {self.url} failed to start")
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on {self.url} did not start within {timeout}s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def __enter__(self) -> "LoopbackServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class LoopbackServers:
    """Named loopback servers that start and stop as one (the demo's emulators, a test's vendors).

    Why a group: if the third server fails to start, the two already running must stop before
    the error propagates, or a failed demo start leaves threads holding ports. Give the apps by
    name (`LoopbackServers({"meta": app, ...})`), or subclass and say what to serve in
    `planned()`; `servers` holds the running ones by name.
    """

    def __init__(self, apps: Mapping[str, Any] | None = None) -> None:
        self.servers: dict[str, LoopbackServer] = {}
        self._apps = dict(apps or {})

    def planned(self) -> Iterator[tuple[str, LoopbackServer]]:
        """(name, server not yet started) for each server of the group, in start order."""
        for name, app in self._apps.items():
            yield name, LoopbackServer(app)

    def start(self) -> Self:
        try:
            for name, server in self.planned():
                self.servers[name] = server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
