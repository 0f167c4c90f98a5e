"""Deterministic randomness keyed by what it decides, so any part of the world can be
recomputed on its own.

Why: the world is written as a stream, one person at a time. A person who borrows a
device, an email or a phone from a partner must know the partner's value without the
partner being in memory, and replay must know a device's clock skew from its id alone.
So every decision is a pure function of (seed, purpose, key), never of call order.
"""

from __future__ import annotations

import hashlib
import random
import uuid

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _digest(seed: int, purpose: str, key: object) -> bytes:
    return hashlib.blake2b(f"{seed}|{purpose}|{key}".encode(), digest_size=16).digest()


def unit(seed: int, purpose: str, key: object) -> float:
    """A uniform number in [0, 1) fixed by (seed, purpose, key)."""
    return int.from_bytes(_digest(seed, purpose, key)[:8], "big") / 2**64


def keyed_uuid(seed: int, purpose: str, key: object) -> str:
    return str(uuid.UUID(bytes=_digest(seed, purpose, key), version=4))


def keyed_rng(seed: int, purpose: str, key: object) -> random.Random:
    return random.Random(int.from_bytes(_digest(seed, purpose, key), "big"))


def rng_uuid(rng: random.Random) -> str:
    """A version-4 UUID string from `rng` (same text as uuid.UUID(int=..., version=4), faster)."""
    value = (rng.getrandbits(128) & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def rng_token(rng: random.Random, length: int, alphabet: str = _BASE62) -> str:
    return "".join(rng.choices(alphabet, k=length))


def rng_hex(rng: random.Random, length: int) -> str:
    return f"{rng.getrandbits(4 * length):0{length}x}"
