"""The durable spool between the collect endpoint and the loader.

Why a spool: the endpoint must answer 200 only once an event is on disk, and must never
open the warehouse. So it appends framed records to a local file, fsyncs, answers, and
the loader moves whole closed files into the warehouse later.

Layout under `spool_dir`:

    open/      files being written; each is held by its writer with an exclusive flock
    closed/    complete files, ready to load
    claimed/   files a loader has taken (renamed in atomically, flock held while loading)
    archive/   loaded files, kept when `collect.archive` is on

Record framing: `b"HWR1" | u32 length | u32 crc32(payload) | payload`, little endian.
A write that was torn by a crash leaves a short or corrupt tail; readers stop at the
first bad frame, and recovery truncates the file there, so garbage is never loaded.

Payload: one JSON object per request, so a 100-event batch costs one frame:
    {"source": "website", "kind": "events", "received_at": "...", "messages": [...]}
    {"source": "website", "kind": "quarantine", "received_at": "...", "items": [{"reason", "raw"}]}
    {"source": "shopify", "kind": "webhook", ...}   (inbound webhooks, see sources/webhooks)

Several writers (processes, replicas) share a spool_dir safely: each writes its own
uniquely named file, and an unlocked file in open/ can only belong to a dead writer.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from headwater.durability import fsync_path

MAGIC = b"HWR1"
HEADER = struct.Struct("<4sII")
SUFFIX = ".hws"
OPEN, CLOSED, CLAIMED, ARCHIVE = "open", "closed", "claimed", "archive"


def frame(payload: bytes) -> bytes:
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def encode(record: dict) -> bytes:
    """Frame one JSON record for appending."""
    return frame(orjson.dumps(record))


@dataclass
class ScanResult:
    payloads: list[bytes]
    good_bytes: int
    torn_bytes: int


def scan(data: bytes) -> ScanResult:
    """Split a spool file's bytes into payloads, stopping at the first damaged frame."""
    payloads: list[bytes] = []
    offset, size = 0, len(data)
    while offset + HEADER.size <= size:
        magic, length, checksum = HEADER.unpack_from(data, offset)
        start, end = offset + HEADER.size, offset + HEADER.size + length
        if magic != MAGIC or end > size:
            break
        payload = data[start:end]
        if zlib.crc32(payload) != checksum:
            break
        payloads.append(payload)
        offset = end
    return ScanResult(payloads, offset, size - offset)


def read_records(path: Path) -> Iterator[dict]:
    """Yield the intact records of a spool file in write order."""
    for payload in scan(path.read_bytes()).payloads:
        yield orjson.loads(payload)


def _dirs(spool_dir: Path) -> dict[str, Path]:
    spool_dir = Path(spool_dir)
    folders = {name: spool_dir / name for name in (OPEN, CLOSED, CLAIMED, ARCHIVE)}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return folders


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def publish(path: Path, folder: Path) -> Path:
    """Move `path` into `folder` under a name no file there has; returns the new path.

    os.rename would silently replace a file of the same name, losing every event in it;
    a hard link fails instead, and the file then gets a fresh name.
    """
    target = folder / path.name
    while True:
        try:
            os.link(path, target)
        except FileExistsError:
            target = folder / f"{path.name[:-len(SUFFIX)]}-{os.urandom(4).hex()}{SUFFIX}"
            continue
        os.unlink(path)
        return target


def writer_name(suffix: str = "") -> str:
    base = f"{socket.gethostname()}-{os.getpid()}"
    return f"{base}-{suffix}" if suffix else base


class SpoolWriter:
    """Appends framed records to this writer's own open file and rotates it.

    Not thread-safe: one caller (the collect endpoint's group-commit task) drives it.
    `write()` is cheap; `sync()` is the fsync that makes everything written durable.
    """

    def __init__(self, spool_dir: Path, name: str | None = None, rotate_bytes: int = 64 << 20,
                 rotate_seconds: float = 60.0):
        self.folders = _dirs(spool_dir)
        self.name = name or writer_name()
        self.rotate_bytes = rotate_bytes
        self.rotate_seconds = rotate_seconds
        self._sequence = 0
        self._fd: int | None = None
        self._path: Path | None = None
        self._opened_at = 0.0
        self._size = 0
        self._dirty = False
        recover_orphans(spool_dir)

    @property
    def current_path(self) -> Path | None:
        return self._path

    def _open(self) -> None:
        self._sequence += 1
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        # the random tail keeps two writers of one name (a restarted app in the same process)
        # from naming two files alike within a second
        self._path = self.folders[OPEN] / f"{stamp}-{self.name}-{self._sequence:06d}-{os.urandom(4).hex()}{SUFFIX}"
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o640)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        fsync_path(self.folders[OPEN])
        self._opened_at = time.monotonic()
        self._size = 0

    def write(self, framed: bytes) -> None:
        if self._fd is None:
            self._open()
        view = memoryview(framed)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError:
            # A half-written group would hide every later record from readers: cut it off.
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                pass
            raise
        self._size += len(framed)
        self._dirty = True

    def sync(self) -> None:
        if self._fd is not None and self._dirty:
            os.fsync(self._fd)
            self._dirty = False

    def should_rotate(self) -> bool:
        if self._fd is None or self._size == 0:
            return False
        return self._size >= self.rotate_bytes or time.monotonic() - self._opened_at >= self.rotate_seconds

    def rotate(self) -> Path | None:
        """Close the open file (durably) and publish it to closed/; returns its new path."""
        if self._fd is None:
            return None
        self.sync()
        path, size = self._path, self._size
        fd, self._fd, self._path = self._fd, None, None
        try:
            if size == 0:
                path.unlink()
                return None
            target = publish(path, self.folders[CLOSED])
            fsync_path(self.folders[CLOSED])
            fsync_path(self.folders[OPEN])
            return target
        finally:
            os.close(fd)  # releases the flock only after the file left open/

    close = rotate


def recover_orphans(spool_dir: Path) -> list[Path]:
    """Close files left in open/ by writers that died: truncate a torn tail, publish.

    A live writer holds a flock on its file, so only orphans can be locked here.
    """
    folders = _dirs(spool_dir)
    recovered: list[Path] = []
    for path in sorted(folders[OPEN].glob(f"*{SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            if not _try_lock(fd):
                continue
            if not path.exists():  # its writer closed it between our glob and open
                continue
            result = scan(path.read_bytes())
            if result.torn_bytes:
                os.ftruncate(fd, result.good_bytes)
                os.fsync(fd)
            if result.good_bytes == 0:
                path.unlink()
                continue
            target = publish(path, folders[CLOSED])
            fsync_path(folders[CLOSED])
            recovered.append(target)
        finally:
            os.close(fd)
    return recovered


class ClaimedFile:
    """A closed spool file a loader owns until `done()`; the flock marks it as in use."""

    def __init__(self, path: Path, fd: int, folders: dict[str, Path]):
        self.path, self._fd, self._folders = path, fd, folders

    def records(self) -> Iterator[dict]:
        return read_records(self.path)

    def done(self, archive: bool = False) -> None:
        """Call only after the load committed: the file leaves claimed/ for good."""
        if archive:
            os.rename(self.path, self._folders[ARCHIVE] / self.path.name)
        else:
            self.path.unlink()
        fsync_path(self._folders[CLAIMED])
        self.release()

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def claim_files(spool_dir: Path, limit: int | None = None) -> list[ClaimedFile]:
    """Atomically take closed files (and claimed files whose loader died) for loading.

    Concurrent loaders never take the same file: the rename out of closed/ succeeds for
    exactly one of them, and a claimed file stays locked while its loader lives.
    """
    folders = _dirs(spool_dir)
    recover_orphans(spool_dir)
    claimed: list[ClaimedFile] = []
    for path in sorted(folders[CLAIMED].glob(f"*{SUFFIX}")):
        fd = os.open(path, os.O_RDONLY)
        if _try_lock(fd) and path.exists():
            claimed.append(ClaimedFile(path, fd, folders))
        else:
            os.close(fd)
    for path in sorted(folders[CLOSED].glob(f"*{SUFFIX}")):
        if limit is not None and len(claimed) >= limit:
            break
        target = folders[CLAIMED] / path.name
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        if not _try_lock(fd):
            os.close(fd)
            continue
        try:
            os.rename(path, target)
        except FileNotFoundError:
            os.close(fd)
            continue
        claimed.append(ClaimedFile(target, fd, folders))
    if claimed:
        fsync_path(folders[CLAIMED])
    return claimed


def backlog(spool_dir: Path) -> dict[str, int]:
    """Files waiting per folder: what `/metrics`, `headwater status` and the sensor show."""
    folders = _dirs(spool_dir)
    return {name: sum(1 for _ in folder.glob(f"*{SUFFIX}")) for name, folder in folders.items()}
