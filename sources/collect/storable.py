"""What the spool and the warehouse can keep: checked before a message is acknowledged.

Why its own module: the endpoint must answer 200 only for what will load, and 400 (naming
the path) for what never could, so these limits are checked once, here, before spooling:

- nesting at most MAX_DEPTH levels (the spool's JSON encoder stops at 254; a 300-deep
  `properties` used to fail its whole batch with a 500);
- no NUL character in any key or string (PostgreSQL text cannot hold one);
- no blank key (`""`, `"   "`): it names no column;
- at most MAX_COLUMNS leaf values outside lists (each becomes a column; a warehouse table
  holds 1,600 at most).

It also owns keeping the write key out of everything stored: `without_write_key` for a
parsed body, `scrub_write_keys` for a body that did not parse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sources.collect.messages import InvalidMessage

MAX_DEPTH = 32
MAX_COLUMNS = 1000
NUL = "\x00"
REMOVED = "[removed]"
# `"writeKey": "..."`, also when the body was cut inside the value
_WRITE_KEY_TEXT = re.compile(r'("writeKey"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|\\?$)')


class _Unstorable(Exception):
    """Raised deep in the walk; the path is put together on the way out, only when it fails."""

    def __init__(self, reason: str):
        self.reason, self.keys = reason, []


def _leaves(value: dict, depth: int) -> int:
    """Fields of `value` that become columns, checking depth and keys on the way (the hot path:
    one call per object, strings skipped first, no allocation unless something is wrong)."""
    leaves = len(value)
    for key, item in value.items():
        if not key or key.isspace():
            raise _Unstorable(f"has a blank key {key!r}; give every field a name")
        kind = type(item)
        if kind is str:
            continue
        try:
            if kind is dict:
                if depth >= MAX_DEPTH:
                    raise _Unstorable(f"nests deeper than {MAX_DEPTH} levels; flatten it")
                leaves += _leaves(item, depth + 1) - 1  # an object is its fields, not a column
            elif kind is list:
                if item:
                    _list_depth(item, depth + 1)
            elif item is None:
                leaves -= 1  # a null makes no column
        except _Unstorable as error:
            error.keys.append(key)
            raise
    return leaves


def _list_depth(value: list, depth: int) -> None:
    for index, item in enumerate(value):
        kind = type(item)
        if kind is dict or kind is list:
            if depth >= MAX_DEPTH:
                raise _Unstorable(f"nests deeper than {MAX_DEPTH} levels; flatten it")
            try:
                if kind is dict:
                    _leaves(item, depth + 1)
                else:
                    _list_depth(item, depth + 1)
            except _Unstorable as error:
                error.keys.append(index)
                raise


def _nul_path(value: Any) -> list | None:
    """The keys down to the first NUL in a key or string, or None (a rare, slow path)."""
    if isinstance(value, str):
        return [] if NUL in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and NUL in key:
            return [repr(key)]
        found = _nul_path(item)
        if found is not None:
            return [key, *found]
    return None


def _path(keys: list) -> str:
    path = ""
    for key in keys:
        path = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else str(key)
    return path


def check_storable(message: dict, may_hold_nul: bool = True) -> None:
    """Raise InvalidMessage naming the first path the spool or warehouse could not keep.

    `may_hold_nul=False` skips the NUL checks: the caller saw no `\\u0000` in the raw body
    (JSON cannot carry a NUL any other way), which is the common case and saves work.
    """
    try:
        leaves = _leaves(message, 1)
    except _Unstorable as error:
        # the walk appended keys innermost first; the key of a blank-key object is its parent
        raise InvalidMessage(_path(error.keys[::-1]) or "(message)", error.reason) from None
    if may_hold_nul:
        found = _nul_path(message)
        if found is not None:
            raise InvalidMessage(_path(found), "contains a NUL character (\\u0000), which a warehouse cannot store")
    if leaves > MAX_COLUMNS:
        raise InvalidMessage("(message)", f"has {leaves} fields, more than the {MAX_COLUMNS} that can become "
                                          f"columns; send fewer properties or nest them in a list")


def pruned(value: Any, depth: int = 1) -> Any:
    """`value` with everything nested deeper than MAX_DEPTH replaced by a note, so a refused
    message can still be kept in quarantine (its deep part could not be encoded)."""
    if depth > MAX_DEPTH and isinstance(value, (dict, list)):
        return f"(nested deeper than {MAX_DEPTH} levels: not kept)"
    if isinstance(value, dict):
        return {key: pruned(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [pruned(item, depth + 1) for item in value]
    return value


def without_write_key(message: Any) -> Any:
    """The message with its top-level `writeKey` removed (in place, for a dict)."""
    if isinstance(message, dict):
        message.pop("writeKey", None)
    return message


def scrub_write_keys(text: str, keys: Iterable[str]) -> str:
    """A body that did not parse, with every `writeKey` value and every known key removed."""
    text = _WRITE_KEY_TEXT.sub(lambda match: f'{match.group(1)}"{REMOVED}"', text)
    for key in keys:
        if key:
            text = text.replace(key, REMOVED)
    return text
