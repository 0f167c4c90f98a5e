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


def _child_path(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def check_storable(message: dict, may_hold_nul: bool = True) -> None:
    """Raise InvalidMessage naming the first path the spool or warehouse could not keep.

    `may_hold_nul=False` skips the NUL checks: the caller saw no `\\u0000` in the raw body
    (JSON cannot carry a NUL any other way), which is the common case and saves work.
    """
    leaves = 0
    stack: list[tuple[Any, str, int]] = [(message, "", 1)]
    while stack:
        container, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidMessage(path, f"nests deeper than {MAX_DEPTH} levels; flatten it")
        if type(container) is dict:
            for key, value in container.items():
                if not key or key.isspace():
                    raise InvalidMessage(path or "(message)", f"has a blank key {key!r}; give every field a name")
                if may_hold_nul and NUL in key:
                    raise InvalidMessage(_child_path(path, repr(key)), "the key contains a NUL character (\\u0000)")
                kind = type(value)
                if kind is dict or kind is list:
                    stack.append((value, _child_path(path, key), depth + 1))
                    if kind is list:
                        leaves += 1
                    continue
                if value is not None:
                    leaves += 1
                if may_hold_nul and kind is str and NUL in value:
                    raise InvalidMessage(_child_path(path, key), "contains a NUL character (\\u0000), "
                                                                 "which a warehouse cannot store")
        else:
            for index, value in enumerate(container):
                kind = type(value)
                if kind is dict or kind is list:
                    stack.append((value, f"{path}[{index}]", depth + 1))
                elif may_hold_nul and kind is str and NUL in value:
                    raise InvalidMessage(f"{path}[{index}]", "contains a NUL character (\\u0000), "
                                                             "which a warehouse cannot store")
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
