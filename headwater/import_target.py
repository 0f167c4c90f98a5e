"""Resolve a "package.module:attribute" string: how Headwater names code it loads on first use.

CLI commands, destination classes, source factories, model runners and emulator apps are
all registered as such strings, so listing them imports nothing (the CLI starts fast and a
missing optional dependency only matters to the one command that needs it). Imports only
the standard library.
"""

from __future__ import annotations

import importlib
from typing import Any


def import_target(target: str) -> Any:
    """The attribute `target` ("package.module:attribute") names, importing its module now."""
    module_name, colon, attribute = target.partition(":")
    if not colon or not module_name or not attribute:
        raise ValueError(f"{target!r} does not name code as 'package.module:attribute'")
    return getattr(importlib.import_module(module_name), attribute)
