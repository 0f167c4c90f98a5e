"""Reading and writing the world's files: Segment batch files cut at the Tracking API's
limits, JSON Lines, and deterministic gzip.

Why one module: every reader (emulators, replay, tests) must accept `.gz` twins, and
every writer must produce byte-identical output for a seed (gzip with mtime 0).
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import orjson

MAX_BATCH_BYTES = 500 * 1024 - 4096  # headroom: replay rewrites sentAt/timestamp in place
MAX_BATCH_MESSAGES = 2500
MAX_MESSAGE_BYTES = 32 * 1024
_ENVELOPE = len(b'{"batch":[]}')
GZIP_LEVEL = 6


def open_write(path: Path, compress: bool) -> io.BufferedIOBase:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not compress:
        return open(path, "wb")
    raw = open(path.with_name(path.name + ".gz"), "wb")
    return gzip.GzipFile(filename="", mode="wb", fileobj=_ClosingFile(raw), mtime=0, compresslevel=GZIP_LEVEL)


class _ClosingFile(io.RawIOBase):
    """A file object whose close() also closes the underlying file (GzipFile leaves it open)."""

    def __init__(self, raw: io.BufferedWriter):
        self.raw = raw

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()

    def close(self) -> None:
        if not self.raw.closed:
            self.raw.close()
        super().close()


def existing(path: Path) -> Path | None:
    """`path` or its `.gz` twin, whichever exists."""
    if path.exists():
        return path
    twin = path.with_name(path.name + ".gz")
    return twin if twin.exists() else None


def read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def iter_jsonl(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        for line in handle:
            if line.strip():
                yield orjson.loads(line)


class JsonlWriter:
    """JSON Lines, buffered: one gzip/OS write per 64 KB, not per line (bounded by bytes,
    so twenty open files cost a megabyte whatever the line size)."""

    BUFFER_BYTES = 64 * 1024

    def __init__(self, path: Path, compress: bool):
        self._handle = open_write(path, compress)
        self._buffer = bytearray()  # orjson's bytes carry spare capacity; copy them into one buffer
        self.count = 0

    def write(self, record: dict) -> None:
        self._buffer += orjson.dumps(record)
        self._buffer += b"\n"
        self.count += 1
        if len(self._buffer) >= self.BUFFER_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self._handle.write(self._buffer)
            self._buffer = bytearray()

    def close(self) -> None:
        self._flush()
        self._handle.close()


class BatchWriter:
    """Segment batch files `batch-NNNNNN.json` of at most 2500 messages and 500 KB each."""

    def __init__(self, folder: Path, compress: bool):
        self.folder, self.compress = folder, compress
        self._pending = bytearray()
        self._count = 0
        self.files = 0
        self.messages = 0

    def add(self, message: dict) -> None:
        encoded = orjson.dumps(message)
        if len(encoded) > MAX_MESSAGE_BYTES:
            raise ValueError(f"message {message.get('messageId')} is {len(encoded)} bytes, over the 32 KB limit")
        if self._count and (self._count >= MAX_BATCH_MESSAGES
                            or _ENVELOPE + len(self._pending) + 1 + len(encoded) > MAX_BATCH_BYTES):
            self.flush()
        if self._count:
            self._pending += b","
        self._pending += encoded
        self._count += 1
        self.messages += 1

    def flush(self) -> None:
        if not self._count:
            return
        self.files += 1
        with open_write(self.folder / f"batch-{self.files:06d}.json", self.compress) as handle:
            handle.write(b'{"batch":[' + self._pending + b"]}")
        self._pending, self._count = bytearray(), 0

    close = flush


def batch_files(world_dir: Path, source: str) -> list[Path]:
    folder = Path(world_dir) / "events" / source
    return sorted(folder.glob("batch-*.json*"))


def read_batch(path: Path) -> list[dict]:
    return orjson.loads(read_bytes(path))["batch"]


def iter_vendor_records(world_dir: Path | str, vendor: str, kind: str) -> Iterator[dict]:
    """Every record of one vendor file, e.g. `iter_vendor_records(out, "shopify", "orders")`."""
    path = existing(Path(world_dir) / "vendors" / vendor / f"{kind}.jsonl")
    if path is None:
        raise FileNotFoundError(f"{world_dir} has no vendors/{vendor}/{kind}.jsonl(.gz); is it a generated world?")
    yield from iter_jsonl(path)


def iter_events(world_dir: Path | str, source: str) -> Iterator[dict]:
    for path in batch_files(Path(world_dir), source):
        yield from read_batch(path)
