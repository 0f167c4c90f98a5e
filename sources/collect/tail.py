"""Reading the spool as a log while the collect endpoint writes it and the loader moves it.

Why: event streams forward events within seconds, so they cannot wait for the loader; they
read every spool file where it is now (open/, closed/, claimed/ or archive/: a file keeps its
name as it moves), from a byte offset the caller persisted, frame by frame. Only whole,
checksummed frames are returned, so a frame being written is read on a later poll, and a
file is `finished` only once it has left open/ and every byte of it was read.
Imports sources.collect.spool only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from sources.collect.spool import ARCHIVE, CLAIMED, CLOSED, HEADER, MAGIC, OPEN, SUFFIX, zlib

FOLDERS = (OPEN, CLOSED, CLAIMED, ARCHIVE)   # where a file may be, in the order it moves


@dataclass
class Frame:
    file: str          # the file's name (stable across folders)
    offset: int        # where the frame starts
    end: int           # where the next frame starts: the cursor after this one
    record: dict


@dataclass
class ReadResult:
    frames: list[Frame]
    offset: int        # the offset after the last frame returned
    finished: bool     # the file is closed and nothing after `offset` is left
    missing: bool = False   # the file is gone (deleted before it was read to the end)


class SpoolTail:
    def __init__(self, spool_dir: Path):
        self.spool_dir = Path(spool_dir)

    def files(self) -> dict[str, str]:
        """name -> folder for every spool file now; a file seen in two folders mid-move counts
        in the earlier one (it is still being handed over)."""
        found: dict[str, str] = {}
        for folder in reversed(FOLDERS):
            try:
                names = os.listdir(self.spool_dir / folder)
            except FileNotFoundError:
                continue
            for name in names:
                if name.endswith(SUFFIX):
                    found[name] = folder
        return found

    def locate(self, name: str) -> tuple[Path, str] | None:
        for folder in FOLDERS:
            path = self.spool_dir / folder / name
            if path.exists():
                return path, folder
        return None

    def read(self, name: str, offset: int, max_bytes: int = 4 << 20) -> ReadResult:
        """Whole frames from `offset`, at most about `max_bytes` of them (always at least one)."""
        for _ in range(3):          # the file may move between locating and opening it
            where = self.locate(name)
            if where is None:
                return ReadResult([], offset, True, missing=True)
            path, folder = where
            try:
                with open(path, "rb") as handle:
                    handle.seek(offset)
                    data = handle.read(max_bytes)
                    if len(data) == max_bytes:          # a frame may run past the window: read it whole
                        data += _rest_of_frame(handle, data)
            except FileNotFoundError:
                continue
            frames, used, damaged = _frames(name, offset, data)
            closed = folder != OPEN
            at_end = used == len(data) and len(data) < max_bytes
            return ReadResult(frames, offset + used, closed and (at_end or damaged))
        return ReadResult([], offset, False)


def _rest_of_frame(handle, data: bytes) -> bytes:
    """The bytes that complete the last frame of a read window, if it was cut."""
    offset = 0
    while offset + HEADER.size <= len(data):
        magic, length, _ = HEADER.unpack_from(data, offset)
        if magic != MAGIC:
            return b""
        end = offset + HEADER.size + length
        if end > len(data):
            return handle.read(end - len(data))
        offset = end
    return handle.read(HEADER.size - (len(data) - offset)) if offset < len(data) else b""


def _frames(name: str, base: int, data: bytes) -> tuple[list[Frame], int, bool]:
    """(frames, bytes used, damaged): damaged means a whole frame failed its checksum."""
    frames: list[Frame] = []
    offset = 0
    while offset + HEADER.size <= len(data):
        magic, length, checksum = HEADER.unpack_from(data, offset)
        if magic != MAGIC:
            return frames, offset, True
        start, end = offset + HEADER.size, offset + HEADER.size + length
        if end > len(data):
            break
        payload = data[start:end]
        if zlib.crc32(payload) != checksum:
            return frames, offset, True
        frames.append(Frame(name, base + offset, base + end, orjson.loads(payload)))
        offset = end
    return frames, offset, False
