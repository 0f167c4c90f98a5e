"""Group commit: many requests share one write + fsync, so durability costs little.

Requests hand their framed records to `commit()` and wait. One task drains everything
that arrived, writes it and fsyncs in a single dedicated thread, then wakes all those
requests at once; while that fsync runs, the next group gathers. Every SpoolWriter call
happens on that one thread, so the writer needs no locks, and age-based rotation runs
there too when the endpoint is idle.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from sources.collect.spool import SpoolWriter


class SpoolUnavailable(Exception):
    """The spool could not be written (disk full, permissions): nothing was acknowledged."""


class GroupCommitter:
    def __init__(self, writer: SpoolWriter, observe_fsync: Callable[[float], None] | None = None,
                 idle_check_seconds: float = 1.0):
        self.writer = writer
        self._observe_fsync = observe_fsync or (lambda seconds: None)
        self._idle_check_seconds = idle_check_seconds
        self._pending: list[bytes] = []
        self._waiters: list[asyncio.Future] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool-writer")
        self._closing = False

    def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="group-commit")

    async def commit(self, framed: bytes) -> None:
        """Return once `framed` is on disk; raise SpoolUnavailable if it could not be."""
        if self._closing or self._task is None:
            raise SpoolUnavailable("the collect endpoint is shutting down")
        future = asyncio.get_running_loop().create_future()
        self._pending.append(framed)
        self._waiters.append(future)
        self._wake.set()
        await future

    def _write_group(self, data: bytes) -> float:
        self.writer.write(data)
        started = time.perf_counter()
        self.writer.sync()
        elapsed = time.perf_counter() - started
        if self.writer.should_rotate():
            self.writer.rotate()
        return elapsed

    def _rotate_if_due(self) -> None:
        if self.writer.should_rotate():
            self.writer.rotate()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._idle_check_seconds)
            except asyncio.TimeoutError:
                if self._closing:
                    return
                await loop.run_in_executor(self._thread, self._rotate_if_due)
                continue
            self._wake.clear()
            if not self._pending:
                if self._closing:
                    return
                continue
            data, waiters = b"".join(self._pending), self._waiters
            self._pending, self._waiters = [], []
            try:
                elapsed = await loop.run_in_executor(self._thread, self._write_group, data)
            except Exception as error:  # noqa: BLE001 - every waiter must hear about it
                failure = SpoolUnavailable(f"spool write failed: {type(error).__name__}")
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(failure)
            else:
                self._observe_fsync(elapsed)
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
            if self._closing and not self._pending:
                return

    async def close(self) -> None:
        """Flush what is pending, then close the open spool file for the loader."""
        self._closing = True
        if self._task is not None:
            self._wake.set()
            await self._task
        await asyncio.get_running_loop().run_in_executor(self._thread, self.writer.close)
        self._thread.shutdown(wait=True)
